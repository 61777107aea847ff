//! What a developer dashboard shows, collected only when the app turns devtools on: the
//! requests the layer made, the sync log persisted across reloads, and how long other members'
//! changes took to arrive.

use super::store::{Store, SYNC_LOG};
use rockon_sync_core::json_text::{ObjectWriter, WriteJson};
use std::cell::{Cell, Ref, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Requests kept.
const REQUESTS: usize = 200;
/// Latency samples kept (minutes of changes at a band's usual pace).
const LATENCIES: usize = 600;
/// Sync log entries kept in IndexedDB.
pub const LOG_ENTRIES: u32 = 1_000;

/// One request the layer made.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// `GET`, `POST`, `PATCH`.
    pub method: &'static str,
    /// Path and query (never a credential: those travel in headers).
    pub path: String,
    /// The status, 0 when no answer came.
    pub status: u16,
    /// From sending to the whole answer, in milliseconds.
    pub duration_ms: f64,
    /// Bytes of the answer's body.
    pub bytes: usize,
    /// When it was sent, epoch milliseconds.
    pub at: f64,
}

/// A change's trip from commit to this client.
#[derive(Debug, Clone, Copy)]
pub struct LatencySample {
    /// When it arrived, epoch milliseconds.
    pub at: f64,
    /// Milliseconds since the server committed it (by the two clocks: skew shows).
    pub ms: f64,
}

impl WriteJson for RequestRecord {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("durationMs", &self.duration_ms)
            .field("bytes", &self.bytes)
            .field("at", &self.at)
            .end();
    }
}

impl WriteJson for LatencySample {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("at", &self.at)
            .field("ms", &self.ms)
            .end();
    }
}

/// The collected figures of one client.
pub struct Devtools {
    store: Rc<Store>,
    requests: RefCell<VecDeque<RequestRecord>>,
    latencies: RefCell<VecDeque<LatencySample>>,
    log_queue: RefCell<Vec<JsValue>>,
    flushing: Cell<bool>,
}

impl Devtools {
    /// Collects for the client whose database is `store`.
    pub fn new(store: Rc<Store>) -> Rc<Devtools> {
        Rc::new(Devtools {
            store,
            requests: RefCell::default(),
            latencies: RefCell::default(),
            log_queue: RefCell::default(),
            flushing: Cell::new(false),
        })
    }

    /// Records a request.
    pub fn request(&self, record: RequestRecord) {
        let mut requests = self.requests.borrow_mut();
        if requests.len() == REQUESTS {
            requests.pop_front();
        }
        requests.push_back(record);
    }

    /// The last requests, oldest first.
    pub fn requests(&self) -> Ref<'_, VecDeque<RequestRecord>> {
        self.requests.borrow()
    }

    /// Records a change that arrived `ms` after its commit.
    pub fn latency(&self, ms: f64) {
        let mut latencies = self.latencies.borrow_mut();
        if latencies.len() == LATENCIES {
            latencies.pop_front();
        }
        latencies.push_back(LatencySample {
            at: js_sys::Date::now(),
            ms,
        });
    }

    /// The latency samples, oldest first.
    pub fn latencies(&self) -> Ref<'_, VecDeque<LatencySample>> {
        self.latencies.borrow()
    }

    /// Persists a sync log entry; a burst is written in one transaction.
    pub fn log(self: &Rc<Self>, entry: JsValue) {
        self.log_queue.borrow_mut().push(entry);
        if self.flushing.replace(true) {
            return;
        }
        let this = self.clone();
        crate::io::task::spawn(async move {
            loop {
                let batch = std::mem::take(&mut *this.log_queue.borrow_mut());
                if batch.is_empty() {
                    break;
                }
                // A log that cannot be written is only a dashboard missing lines.
                let _ = this
                    .store
                    .append_bounded(SYNC_LOG, &batch, LOG_ENTRIES)
                    .await;
            }
            this.flushing.set(false);
        });
    }

    /// The persisted sync log, oldest first.
    pub async fn log_entries(&self) -> js_sys::Array {
        (self.store.all(SYNC_LOG).await).unwrap_or_default()
    }
}
