//! Carries out the core's read engine ([`ReadEngine`]): the Realtime socket, storage reads
//! and server-row batches on IndexedDB, REST reads, and one timer. Every decision (which
//! channels, what to pull when, which rows to store, what to tell the app) is the engine's.
//!
//! Every input borrows the engine, feeds it and collects its outputs; the events are handed to
//! the app only after the borrow ends, so app code never runs while Rust state is borrowed and
//! may call back in freely (even to close the client).

use super::clock;
use super::http::{self, Endpoint};
use super::socket::{Socket, SocketEvent};
use super::store::Store;
use super::sync_store::SyncStore;
use gloo_timers::callback::Timeout;
use rockon_sync_core::realtime::{Input, RealtimeConfig, SocketId};
use rockon_sync_core::sync::{
    ReadCommand, ReadConfig, ReadEngine, ReadInput, ReadOutput, ScheduleConfig,
};
use rockon_sync_core::Millis;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

pub use rockon_sync_core::sync::{ChangeDelivery, ConnectionInfo, Member, ReadEvent};

/// When the socket cannot connect, how the reader falls back to pulling over REST.
#[derive(Debug, Clone, Copy)]
pub struct Fallback {
    /// Failed connects before polling starts.
    pub after_attempts: u32,
    /// Milliseconds between polls.
    pub interval_ms: u32,
    /// Milliseconds between anti-entropy pulls while the page is visible, even with the
    /// socket up (jittered by ±25 %): Realtime is a hint, and a change its stream lost (say,
    /// across a restart of the server's change stream) is repaired by the next one.
    pub anti_entropy_ms: u32,
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            after_attempts: 3,
            interval_ms: 30_000,
            anti_entropy_ms: 60_000,
        }
    }
}

/// Whether a row has local edits waiting in the outbox (those are never overwritten).
pub type LocalEdits = Box<dyn Fn(&str, &str) -> bool>;

/// The read path of one client.
pub struct Reader {
    inner: Rc<Inner>,
}

struct Inner {
    engine: RefCell<ReadEngine>,
    store: SyncStore,
    endpoint: RefCell<Endpoint>,
    socket: RefCell<Option<(SocketId, Socket)>>,
    timer: RefCell<Option<(Millis, Timeout)>>,
    last_synced_at: Cell<Option<f64>>,
    has_local_edits: LocalEdits,
    on_event: Box<dyn Fn(ReadEvent)>,
}

impl Reader {
    /// A reader; the socket opens on [`connect`](Self::connect).
    pub fn new(
        store: Rc<Store>,
        endpoint: Endpoint,
        fallback: Fallback,
        changes: ChangeDelivery,
        has_local_edits: LocalEdits,
        on_event: Box<dyn Fn(ReadEvent)>,
    ) -> Reader {
        let config = ReadConfig {
            realtime: RealtimeConfig::new(
                format!("{}/realtime/v1", endpoint.base_url.trim_end_matches('/')),
                endpoint.anon_key.clone(),
            ),
            schedule: ScheduleConfig {
                anti_entropy_ms: u64::from(fallback.anti_entropy_ms),
                poll_after_attempts: fallback.after_attempts,
                poll_interval_ms: u64::from(fallback.interval_ms),
            },
            delivery: changes,
            report_arrivals: endpoint.devtools.is_some(),
        };
        let engine = ReadEngine::new(config, store.schema().clone(), clock::seed());
        let inner = Rc::new(Inner {
            engine: RefCell::new(engine),
            store: SyncStore(store),
            endpoint: RefCell::new(endpoint),
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            last_synced_at: Cell::new(None),
            has_local_edits,
            on_event,
        });
        Reader { inner }
    }

    fn command(&self, command: ReadCommand) -> Result<(), String> {
        feed(&self.inner, ReadInput::Command(command))
    }

    /// Opens the socket with the current token.
    pub fn connect(&self) {
        let token = self.inner.endpoint.borrow().token.clone();
        let _ = self.command(ReadCommand::SetToken(token));
        let _ = self.command(ReadCommand::Connect);
    }

    /// Follows a band: joins its channel (changes to its songs, setlists, shows and practice
    /// sessions) and pulls what changed since the saved cursor once subscribed.
    pub fn follow_band(&self, band_id: &str) -> Result<(), String> {
        self.command(ReadCommand::FollowBand(band_id.to_owned()))
    }

    /// Follows the user's memberships: every band they belong to now, or join or create later,
    /// is followed; a band they leave or are removed from is left and purged.
    pub fn follow_user(&self, user_id: &str) -> Result<(), String> {
        self.command(ReadCommand::FollowUser(user_id.to_owned()))
    }

    /// Uses a new token for the socket and for pulls.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token.clone();
        let _ = self.command(ReadCommand::SetToken(token));
    }

    /// Tells the engine the network or the page's visibility changed.
    pub fn input(&self, input: Input<'static>) {
        let _ = feed(&self.inner, ReadInput::Socket(input));
    }

    /// Where pulls go, with the current token.
    pub fn endpoint(&self) -> Endpoint {
        self.inner.endpoint.borrow().clone()
    }

    /// The connection as the app shows it.
    pub fn info(&self) -> ConnectionInfo {
        let mut info = self.inner.engine.borrow().info();
        info.last_synced_at = self.inner.last_synced_at.get();
        info
    }

    /// Tracks under `key` (the user id) on band channels joined from now on.
    pub fn set_presence_key(&self, key: &str) {
        self.inner.engine.borrow_mut().set_presence_key(key);
    }

    /// Shows `meta` (what the user is viewing) to the band's members online.
    pub fn set_presence(&self, band: &str, meta: Value) {
        let band = band.to_owned();
        let _ = self.command(ReadCommand::SetPresence { band, meta });
    }

    /// The band's members online now.
    pub fn members(&self, band: &str) -> Vec<Member> {
        self.inner.engine.borrow().members(band)
    }

    /// The members other than `me` editing row `id` of `table` now.
    pub fn editors(&self, table: &str, id: &str, me: &str) -> Vec<Member> {
        self.inner.engine.borrow().editors(table, id, me)
    }

    /// Reconnects now (after a failure or during a backoff).
    pub fn retry(&self) {
        let _ = self.command(ReadCommand::Retry);
    }

    /// Closes the socket and stops for good.
    pub fn close(&self) {
        let _ = self.command(ReadCommand::Close);
        self.inner.timer.borrow_mut().take();
        self.inner.socket.borrow_mut().take();
    }

    /// Pulls a band's tables now.
    pub fn pull(&self, band_id: &str) {
        let _ = self.command(ReadCommand::Pull(band_id.to_owned()));
    }
}

/// Feeds `input` to the engine, carries out what it asks, then tells the app.
fn feed(inner: &Rc<Inner>, input: ReadInput<'_>) -> Result<(), String> {
    let now = clock::now();
    let result = inner
        .engine
        .borrow_mut()
        .handle(now, input, &inner.has_local_edits);
    carry_out(inner, now);
    result
}

/// Carries out the engine's outputs; events go to the app once the engine is free again.
fn carry_out(inner: &Rc<Inner>, now: Millis) {
    let mut events = Vec::new();
    loop {
        let output = inner.engine.borrow_mut().poll_output();
        let Some(output) = output else { break };
        match output {
            ReadOutput::Connect { socket, url } => open_socket(inner, socket, &url),
            ReadOutput::Send { socket, text } => {
                if let Some((id, open)) = &*inner.socket.borrow() {
                    if *id == socket {
                        open.send(&text);
                    }
                }
            }
            ReadOutput::Close {
                socket,
                code,
                reason,
            } => {
                let mut current = inner.socket.borrow_mut();
                if current.as_ref().is_some_and(|(id, _)| *id == socket) {
                    if let Some((_, closing)) = current.take() {
                        closing.close(code, &reason);
                    }
                }
            }
            ReadOutput::Read { op, read } => spawn(inner, move |store, _| async move {
                let result = store.read_once(&read).await;
                ReadInput::Read { op, result }
            }),
            ReadOutput::Apply { op, batch } => spawn(inner, move |store, _| async move {
                let result = store.apply(&batch).await.map_err(|e| e.0);
                ReadInput::Applied { op, result }
            }),
            ReadOutput::Http { op, request } => spawn(inner, move |_, endpoint| async move {
                let (result, total) = http::send_counted(&endpoint, &request).await;
                ReadInput::Http { op, result, total }
            }),
            ReadOutput::Event(event) => events.push(event),
        }
    }
    schedule(inner, now);
    for event in events {
        match event {
            ReadEvent::Synced { .. } => inner.last_synced_at.set(Some(js_sys::Date::now())),
            ReadEvent::Arrived { commit_micros } => {
                if let Some(devtools) = &inner.endpoint.borrow().devtools {
                    devtools.latency(js_sys::Date::now() - commit_micros as f64 / 1000.0);
                }
            }
            event => (inner.on_event)(event),
        }
    }
}

/// Runs one storage or HTTP job and feeds its answer back, unless the reader is gone.
fn spawn<F, J>(inner: &Rc<Inner>, job: J)
where
    J: FnOnce(SyncStore, Endpoint) -> F + 'static,
    F: std::future::Future<Output = ReadInput<'static>> + 'static,
{
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let store = inner.store.clone();
    let endpoint = inner.endpoint.borrow().clone();
    wasm_bindgen_futures::spawn_local(async move {
        let input = job(store, endpoint).await;
        if let Some(inner) = weak.upgrade() {
            let _ = feed(&inner, input);
        }
    });
}

fn open_socket(inner: &Rc<Inner>, socket: SocketId, url: &str) {
    inner.socket.borrow_mut().take();
    let weak = Rc::downgrade(inner);
    let sink = move |event: SocketEvent| {
        let Some(inner) = weak.upgrade() else { return };
        let input = match &event {
            SocketEvent::Open => Input::Opened(socket),
            SocketEvent::Text(text) => Input::Text { socket, text },
            SocketEvent::Binary(len) => Input::Binary { socket, len: *len },
            SocketEvent::Closed { code, reason } => Input::Closed {
                socket,
                code: *code,
                reason,
            },
        };
        let _ = feed(&inner, ReadInput::Socket(input));
    };
    match Socket::open(url, sink) {
        Ok(opened) => *inner.socket.borrow_mut() = Some((socket, opened)),
        Err(error) => {
            // Reported once the engine is free: it is borrowed while its outputs run.
            let reason = error.as_string().unwrap_or_else(|| format!("{error:?}"));
            let weak = Rc::downgrade(inner);
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    let closed = Input::Closed {
                        socket,
                        code: 1006,
                        reason: &reason,
                    };
                    let _ = feed(&inner, ReadInput::Socket(closed));
                }
            });
        }
    }
}

/// Sets the one timer to the engine's next deadline.
fn schedule(inner: &Rc<Inner>, now: Millis) {
    let due = inner.engine.borrow().poll_timeout();
    if inner.timer.borrow().as_ref().map(|(at, _)| *at) == due {
        return;
    }
    let timer = due.map(|at| {
        let weak = Rc::downgrade(inner);
        let delay = at.since(now).min(u64::from(u32::MAX)) as u32;
        let timeout = Timeout::new(delay, move || {
            let Some(inner) = weak.upgrade() else { return };
            inner.timer.borrow_mut().take();
            // Browsers may fire a timer a hair early by the page clock: never pass a time
            // before the deadline, or the engine would find nothing due and spin.
            let now = clock::now().max(at);
            (inner.engine.borrow_mut()).handle_timeout(now, &inner.has_local_edits);
            carry_out(&inner, now);
        });
        (at, timeout)
    });
    *inner.timer.borrow_mut() = timer;
}
