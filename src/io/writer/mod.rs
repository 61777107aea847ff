//! The write path's shell: the app's writes go to the core's [`WriteEngine`], which decides
//! everything; this module carries out its storage batches, requests and timer (`execute`)
//! and hands each command its reply.

use super::clock;
use super::http::Endpoint;
use super::store::{Store, StoreError};
use futures::channel::oneshot;
use rockon_sync_core::backoff::BackoffPolicy;
use rockon_sync_core::merge::{ConflictPolicy, Resolution};
use rockon_sync_core::outbox::{Entry, RowStatus};
use rockon_sync_core::schema::to_app;
use rockon_sync_core::sorted::SortedMap;
use rockon_sync_core::sync::{
    CommandId, ReadResult, StoreRead, WriteCommand, WriteEngine, WriteInput, WriteReply,
};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

pub use rockon_sync_core::sync::{ChangeAction, ChangeSource, RowsChanged, WriteError, WriteEvent};

mod execute;

/// The write path of one client (a handle: clones share it).
#[derive(Clone)]
pub struct Writer {
    inner: Rc<Inner>,
}

struct Inner {
    store: Rc<Store>,
    engine: RefCell<WriteEngine>,
    endpoint: RefCell<Endpoint>,
    replies: RefCell<SortedMap<u64, oneshot::Sender<Result<WriteReply, WriteError>>>>,
    next_command: Cell<u64>,
    jobs: RefCell<VecDeque<execute::Job>>,
    storing: Cell<bool>,
    timer: RefCell<Option<gloo_timers::callback::Timeout>>,
    on_event: Box<dyn Fn(WriteEvent)>,
}

impl Writer {
    /// A writer on `store`, resuming the persisted outbox; it follows until told it leads.
    pub async fn new(
        store: Rc<Store>,
        endpoint: Endpoint,
        policy: ConflictPolicy,
        backoff: Option<BackoffPolicy>,
        on_event: Box<dyn Fn(WriteEvent)>,
    ) -> Result<Writer, StoreError> {
        let mut sync_store = super::sync_store::SyncStore(store.clone());
        let stored =
            rockon_sync_core::sync::conformance::Store::read(&mut sync_store, &StoreRead::Outbox)
                .await;
        let (entries, conflicts) = match stored {
            Ok(ReadResult::Outbox { entries, conflicts }) => (entries, conflicts),
            Ok(_) => (Vec::new(), Vec::new()),
            Err(error) => return Err(StoreError(error)),
        };
        let schema = store.schema().clone();
        let engine = WriteEngine::new(schema, entries, conflicts, policy, backoff, clock::seed());
        Ok(Writer {
            inner: Rc::new(Inner {
                store,
                engine: RefCell::new(engine),
                endpoint: RefCell::new(endpoint),
                replies: RefCell::new(SortedMap::new()),
                next_command: Cell::new(1),
                jobs: RefCell::new(VecDeque::new()),
                storing: Cell::new(false),
                timer: RefCell::new(None),
                on_event,
            }),
        })
    }

    /// Runs a command and waits for its reply.
    async fn command(&self, command: WriteCommand) -> Result<WriteReply, WriteError> {
        let id = self.inner.next_command.get();
        self.inner.next_command.set(id + 1);
        let (sender, receiver) = oneshot::channel();
        self.inner.replies.borrow_mut().insert(id, sender);
        let input = WriteInput::Command {
            id: CommandId(id),
            command,
            wall_ms: js_sys::Date::now() as u64,
        };
        execute::handle(&self.inner, input);
        receiver
            .await
            .unwrap_or_else(|_| Err(WriteError::Store(closed())))
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

    /// Forgets a band the user left or was removed from: its rows go, its pending writes are
    /// parked as failed (`not_a_member`) with their rows. Returns the removed row ids per
    /// table.
    pub async fn purge_band(&self, band: &str) -> Result<Vec<(String, Vec<String>)>, WriteError> {
        let command = WriteCommand::PurgeBand {
            band: band.to_owned(),
        };
        match self.command(command).await? {
            WriteReply::Purged(purged) => Ok(purged),
            _ => Ok(Vec::new()),
        }
    }

    /// The outbox entries, in push order.
    pub fn entries(&self) -> Vec<Entry> {
        self.inner.engine.borrow().entries().cloned().collect()
    }

    /// The outbox as stored now (other tabs may have appended since this tab looked).
    pub async fn stored_entries(&self) -> Result<Vec<Entry>, StoreError> {
        self.inner.store.outbox().await
    }

    /// Writes waiting for the server, and writes it refused (parked until retried or
    /// discarded).
    pub fn counts(&self) -> (usize, usize) {
        self.inner.engine.borrow().counts()
    }

    /// When a push of this tab last settled (epoch ms).
    pub fn last_confirmed(&self) -> Option<f64> {
        let at = self.inner.engine.borrow().last_confirmed()?;
        // The engine's clock is the page's monotonic one: shift it onto the wall clock.
        Some(js_sys::Date::now() - clock::now().since(at) as f64)
    }

    /// A row's sync status.
    pub fn status(&self, table: &str, id: &str) -> RowStatus {
        self.inner.engine.borrow().status(table, id)
    }

    /// Whether the row has a conflict the user has not acknowledged.
    pub fn has_conflict(&self, table: &str, id: &str) -> bool {
        self.inner.engine.borrow().has_conflict(table, id)
    }

    /// The network came or went: pushes wait while it is gone (writes still commit locally).
    pub fn set_online(&self, online: bool) {
        execute::handle(&self.inner, WriteInput::Online(online));
    }

    /// Uses a new access token and resumes pushes held by a 401.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token;
        execute::handle(&self.inner, WriteInput::TokenRefreshed);
    }

    /// This tab leads (it pushes) or follows (another tab pushes what it appends).
    pub fn set_leader(&self, leader: bool) {
        execute::handle(&self.inner, WriteInput::Leader(leader));
    }

    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        self.inner.engine.borrow().is_leader()
    }

    /// Another tab changed the stored outbox or conflict records: take them in. Resolves once
    /// they are (so [`status`](Self::status) answers from them).
    pub async fn reload(&self) {
        execute::handle(&self.inner, WriteInput::OutboxChanged);
        let (done, flushed) = oneshot::channel();
        execute::queue(&self.inner, execute::Job::Flush(done));
        let _ = flushed.await;
    }

    /// Stops pushing (the client is closing); entries stay in storage for the next open.
    pub fn stop(&self) {
        execute::handle(&self.inner, WriteInput::Stop);
        self.inner.timer.borrow_mut().take();
    }
}

fn closed() -> rockon_sync_core::sync::StoreError {
    rockon_sync_core::sync::StoreError::Closed("the client was closed".into())
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
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
