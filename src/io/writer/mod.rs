//! The write path's commands and queries over the [`Driver`]: the core's write engine
//! decides everything; each command gets its reply.

use super::driver::Driver;
use super::store::{Store, StoreError};
use rockon_sync_core::backoff::BackoffPolicy;
use rockon_sync_core::merge::{ConflictPolicy, Resolution};
use rockon_sync_core::outbox::Entry;
use rockon_sync_core::schema::to_app;
use rockon_sync_core::sync::{
    Input, ReadResult, StoreRead, WriteCommand, WriteEngine, WriteInput, WriteReply,
};
use rockon_sync_core::value::{Map, Value};
use std::rc::Rc;

pub use rockon_sync_core::sync::{ChangeAction, ChangeSource, RowsChanged, WriteError, WriteEvent};

/// The write path of one client (a handle: clones share it).
#[derive(Clone)]
pub struct Writer {
    driver: Driver,
}

/// A write engine resuming the outbox persisted in `store`; it follows until told it leads.
pub async fn load(
    store: &Rc<Store>,
    policy: ConflictPolicy,
    backoff: Option<BackoffPolicy>,
) -> Result<WriteEngine, StoreError> {
    let mut sync_store = super::sync_store::SyncStore(store.clone());
    let stored =
        rockon_sync_core::sync::conformance::Store::read(&mut sync_store, &StoreRead::Outbox).await;
    let (entries, conflicts) = match stored {
        Ok(ReadResult::Outbox { entries, conflicts }) => (entries, conflicts),
        Ok(_) => (Vec::new(), Vec::new()),
        Err(error) => return Err(StoreError(error)),
    };
    let schema = store.schema().clone();
    let seed = super::clock::seed();
    Ok(WriteEngine::new(
        schema, entries, conflicts, policy, backoff, seed,
    ))
}

impl Writer {
    /// The write path of the client `driver` carries out.
    pub fn new(driver: Driver) -> Writer {
        Writer { driver }
    }

    /// The driver it runs on (for commands of the whole engine).
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Runs a command and waits for its reply.
    async fn command(&self, command: WriteCommand) -> Result<WriteReply, WriteError> {
        self.driver.command(command).await
    }

    fn handle(&self, input: WriteInput) {
        let _ = self.driver.handle(Input::Write(input));
    }

    async fn row_command(&self, command: WriteCommand) -> Result<Map<String, Value>, WriteError> {
        match self.command(command).await? {
            WriteReply::Row(row) => Ok(to_app(&row)),
            _ => Ok(Map::new()),
        }
    }

    /// Creates a row: checked by the schema, written with its outbox entry in one transaction.
    /// Returns the stored row in the app's shape.
    pub async fn create(
        &self,
        table: &str,
        values: Map<String, Value>,
    ) -> Result<Map<String, Value>, WriteError> {
        let command = WriteCommand::Create {
            table: table.to_owned(),
            values,
            new_id: new_uuid(),
        };
        self.row_command(command).await
    }

    /// Changes fields of a row.
    pub async fn update(
        &self,
        table: &str,
        id: &str,
        patch: Map<String, Value>,
    ) -> Result<Map<String, Value>, WriteError> {
        let command = WriteCommand::Update {
            table: table.to_owned(),
            id: id.to_owned(),
            patch,
        };
        self.row_command(command).await
    }

    /// Deletes a row: a tombstone locally at once, on the server when pushed.
    pub async fn remove(&self, table: &str, id: &str) -> Result<(), WriteError> {
        let command = WriteCommand::Remove {
            table: table.to_owned(),
            id: id.to_owned(),
        };
        self.command(command).await.map(|_| ())
    }

    /// Settles a row's conflict as the user chose.
    pub async fn resolve_conflict(
        &self,
        table: &str,
        id: &str,
        resolution: Resolution,
    ) -> Result<(), WriteError> {
        let command = WriteCommand::Resolve {
            table: table.to_owned(),
            id: id.to_owned(),
            resolution,
        };
        self.command(command).await.map(|_| ())
    }

    /// Acknowledges a row's conflict: the record is removed.
    pub async fn acknowledge(&self, table: &str, id: &str) -> Result<(), WriteError> {
        let command = WriteCommand::Acknowledge {
            table: table.to_owned(),
            id: id.to_owned(),
        };
        self.command(command).await.map(|_| ())
    }

    /// Retries a failed entry.
    pub async fn retry(&self, seq: u64) -> Result<(), WriteError> {
        self.command(WriteCommand::Retry { seq }).await.map(|_| ())
    }

    /// Discards an entry; the local row goes back to the server's version (or away, for an
    /// insert the server never took). Whether there was such an entry.
    pub async fn discard(&self, seq: u64) -> Result<bool, WriteError> {
        match self.command(WriteCommand::Discard { seq }).await? {
            WriteReply::Discarded(done) => Ok(done),
            _ => Ok(false),
        }
    }

    /// The outbox entries, in push order.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for entry in self.driver.engine().writes().entries() {
            entries.push(entry.clone());
        }
        entries
    }

    /// The outbox as stored now (other tabs may have appended since this tab looked).
    pub async fn stored_entries(&self) -> Result<Vec<Entry>, StoreError> {
        self.driver.store().outbox().await
    }

    /// Writes waiting for the server, and writes it refused (parked until retried or
    /// discarded).
    pub fn counts(&self) -> (usize, usize) {
        self.driver.engine().writes().counts()
    }

    /// When a push of this tab last settled (epoch ms).
    pub fn last_confirmed(&self) -> Option<f64> {
        let at = self.driver.engine().writes().last_confirmed()?;
        // The engine's clock is the page's monotonic one: shift it onto the wall clock.
        Some(js_sys::Date::now() - super::clock::now().since(at) as f64)
    }

    /// A row's sync status as the app shows it (`conflict` included).
    pub fn shown_status(&self, table: &str, id: &str) -> &'static str {
        self.driver.engine().writes().shown_status(table, id)
    }

    /// The network came or went: pushes wait while it is gone (writes still commit locally).
    pub fn set_online(&self, online: bool) {
        self.handle(WriteInput::Online(online));
    }

    /// Uses a new access token and resumes pushes held by a 401.
    pub fn set_token(&self, token: String) {
        self.driver.set_token(token);
        self.handle(WriteInput::TokenRefreshed);
    }

    /// This tab leads (it pushes) or follows (another tab pushes what it appends).
    pub fn set_leader(&self, leader: bool) {
        self.handle(WriteInput::Leader(leader));
    }

    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        self.driver.engine().writes().is_leader()
    }

    /// Another tab changed the stored outbox or conflict records: take them in. Resolves once
    /// they are (so [`shown_status`](Self::shown_status) answers from them).
    pub async fn reload(&self) {
        self.handle(WriteInput::OutboxChanged);
        self.driver.flush().await;
    }

    /// Stops pushing (the client is closing); entries stay in storage for the next open.
    pub fn stop(&self) {
        self.handle(WriteInput::Stop);
    }
}

/// A random (version 4) UUID from the browser's CSPRNG.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| wasm_bindgen::JsCast::dyn_into::<web_sys::Crypto>(c).ok());
    match crypto {
        Some(crypto) => {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        }
        None => bytes
            .iter_mut()
            .for_each(|b| *b = (js_sys::Math::random() * 256.0) as u8),
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut uuid = String::with_capacity(36);
    for (at, byte) in bytes.into_iter().enumerate() {
        // 8-4-4-4-12 hex digits: a hyphen before bytes 4, 6, 8 and 10.
        if matches!(at, 4 | 6 | 8 | 10) {
            uuid.push('-');
        }
        uuid.push(DIGITS[usize::from(byte >> 4)] as char);
        uuid.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    uuid
}
