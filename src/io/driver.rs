//! Carries out the core's sync engine ([`Engine`]) in the browser: storage jobs on IndexedDB
//! one after another in the order given (so a read sees every write before it, and rows a
//! pull stores never land after an edit made later), HTTP requests as they come, the Realtime
//! socket, and one timer. Events and replies go out once the engine is no longer borrowed, so
//! app code may call back in freely (even to close the client).

use super::clock;
use super::http::{self, Endpoint};
use super::socket::{Socket, SocketEvent};
use super::store::{to_js, Store, ACTIVITY, PROFILES, READ_MARKS};
use super::sync_store::SyncStore;
use futures::channel::oneshot;
use gloo_timers::callback::Timeout;
use rockon_sync_core::fields::object;
use rockon_sync_core::realtime::{Input as SocketInput, SocketId, Vsn};
use rockon_sync_core::sorted::SortedMap;
use rockon_sync_core::sync::conformance::Store as _;
use rockon_sync_core::sync::{
    ActivityWrite, ApplyBatch, CommandId, Engine, Event, Input, Op, Output, SocketAction, StoreOp,
    StoreRead, Stored, TabNews, WriteCommand, WriteError, WriteInput, WriteReply,
};
use rockon_sync_core::Millis;
use std::cell::{Cell, Ref, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;

/// A storage job, in order.
enum Job {
    Read(Op, StoreRead),
    Write(Op, Vec<StoreOp>),
    Apply(Op, ApplyBatch),
    /// Every job before this one is done.
    Flush(oneshot::Sender<()>),
}

/// Where the engine's news goes: events for the app, news for the other tabs.
pub struct Sinks {
    /// App events.
    pub event: Box<dyn Fn(Event)>,
    /// News for other tabs.
    pub tell: Box<dyn Fn(TabNews)>,
}

/// The engine and what carries it out (a handle: clones share it).
#[derive(Clone)]
pub struct Driver {
    inner: Rc<Inner>,
}

struct Inner {
    engine: RefCell<Engine>,
    store: SyncStore,
    endpoint: RefCell<Endpoint>,
    socket: RefCell<Option<(SocketId, Socket)>>,
    /// The socket's serialiser and longest frame, for reading row changes in JavaScript.
    frame_format: (Vsn, usize),
    timer: RefCell<Option<(Millis, Timeout)>>,
    jobs: RefCell<VecDeque<Job>>,
    storing: Cell<bool>,
    replies: RefCell<SortedMap<u64, oneshot::Sender<Result<WriteReply, WriteError>>>>,
    next_command: Cell<u64>,
    last_synced_at: Cell<Option<f64>>,
    sinks: RefCell<Option<Sinks>>,
    stopped: Cell<bool>,
}

type Reply = Result<WriteReply, WriteError>;

impl Driver {
    /// A driver for `engine` on `store`; nothing is told until [`set_sinks`](Self::set_sinks).
    pub fn new(engine: Engine, store: Rc<Store>, endpoint: Endpoint) -> Driver {
        let realtime = engine.reads().realtime_config();
        let frame_format = (realtime.vsn, realtime.max_frame_bytes);
        Driver {
            inner: Rc::new(Inner {
                frame_format,
                engine: RefCell::new(engine),
                store: SyncStore(store),
                endpoint: RefCell::new(endpoint),
                socket: RefCell::new(None),
                timer: RefCell::new(None),
                jobs: RefCell::new(VecDeque::new()),
                storing: Cell::new(false),
                replies: RefCell::new(SortedMap::new()),
                next_command: Cell::new(1),
                last_synced_at: Cell::new(None),
                sinks: RefCell::new(None),
                stopped: Cell::new(false),
            }),
        }
    }

    /// Where events and tab news go from now on; what the engine said before is told now.
    pub fn set_sinks(&self, sinks: Sinks) {
        *self.inner.sinks.borrow_mut() = Some(sinks);
        carry_out(&self.inner);
    }

    /// Feeds `input` to the engine and carries out what follows.
    pub fn handle(&self, input: Input<'_>) -> Result<(), String> {
        feed(&self.inner, input)
    }

    /// Runs a write command and waits for its reply.
    pub async fn command(&self, command: WriteCommand) -> Reply {
        let id = self.inner.next_command.get();
        self.inner.next_command.set(id + 1);
        let (sender, receiver) = oneshot::channel();
        self.inner.replies.borrow_mut().insert(id, sender);
        let input = WriteInput::Command {
            id: CommandId(id),
            command,
            wall_ms: js_sys::Date::now() as u64,
        };
        let _ = self.handle(Input::Write(input));
        let closed = || {
            let closed = rockon_sync_core::sync::StoreError::Closed("the client was closed".into());
            Err(WriteError::Store(closed))
        };
        receiver.await.unwrap_or_else(|_| closed())
    }

    /// Runs `command` on the engine (activity's commands, settings), then carries out what
    /// follows.
    pub fn run<R>(&self, command: impl FnOnce(&mut Engine) -> R) -> R {
        let result = command(&mut self.inner.engine.borrow_mut());
        carry_out(&self.inner);
        result
    }

    /// The engine, to read from.
    pub fn engine(&self) -> Ref<'_, Engine> {
        self.inner.engine.borrow()
    }

    /// Resolves once every storage job asked for so far is done.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        queue(&self.inner, Job::Flush(done));
        let _ = flushed.await;
    }

    /// Where requests go, with the current token.
    pub fn endpoint(&self) -> Endpoint {
        self.inner.endpoint.borrow().clone()
    }

    /// Uses a new access token for requests.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token;
    }

    /// When a band's pull last completed (epoch ms).
    pub fn last_synced_at(&self) -> Option<f64> {
        self.inner.last_synced_at.get()
    }

    /// The IndexedDB store.
    pub fn store(&self) -> &Rc<Store> {
        &self.inner.store.0
    }

    /// Stops the timer and closes the socket for good.
    pub fn stop(&self) {
        self.inner.stopped.set(true);
        self.inner.timer.borrow_mut().take();
        self.inner.socket.borrow_mut().take();
    }
}

fn feed(inner: &Rc<Inner>, input: Input<'_>) -> Result<(), String> {
    let result = {
        let mut engine = inner.engine.borrow_mut();
        engine.handle(clock::now(), js_sys::Date::now(), input)
    };
    carry_out(inner);
    result
}

/// Carries out the engine's outputs until there are none, then sets the timer.
fn carry_out(inner: &Rc<Inner>) {
    if inner.sinks.borrow().is_none() {
        // Still opening: the outputs wait in the engine.
        return;
    }
    loop {
        // Taken one at a time: an event may call back into the client, which may feed the
        // engine again.
        let output = inner.engine.borrow_mut().poll_output();
        let Some(output) = output else { break };
        match output {
            Output::Socket(action) => socket_action(inner, action),
            Output::Read { op, read } => queue(inner, Job::Read(op, read)),
            Output::Write { op, ops } => queue(inner, Job::Write(op, ops)),
            Output::Apply { op, batch } => queue(inner, Job::Apply(op, batch)),
            // Activity's own stores: no job of the queue touches them, and IndexedDB keeps
            // their writes in the order begun. Begun at once, so a mark read just before the
            // client closes is still stored.
            Output::Persist { op, write } => {
                let weak = Rc::downgrade(inner);
                let store = inner.store.clone();
                crate::io::task::spawn(async move {
                    let result = Stored::Written(persist(&store, write).await);
                    if let Some(inner) = weak.upgrade() {
                        let _ = feed(&inner, Input::Stored { op, result });
                    }
                });
            }
            Output::Http { op, request } => {
                let weak = Rc::downgrade(inner);
                let endpoint = inner.endpoint.borrow().clone();
                crate::io::task::spawn(async move {
                    let (result, total) = http::send_counted(&endpoint, &request).await;
                    if let Some(inner) = weak.upgrade() {
                        let _ = feed(&inner, Input::Http { op, result, total });
                    }
                });
            }
            Output::Event(event) => tell(inner, event),
            Output::Reply { command, result } => {
                let waiting = inner.replies.borrow_mut().remove(&command.0);
                if let Some(reply) = waiting {
                    let _ = reply.send(result);
                }
            }
            Output::Tell(news) => {
                if let Some(sinks) = &*inner.sinks.borrow() {
                    (sinks.tell)(news);
                }
            }
        }
    }
    schedule(inner);
}

/// Opens, writes to or closes the socket.
fn socket_action(inner: &Rc<Inner>, action: SocketAction) {
    match action {
        SocketAction::Connect { socket, url } => open_socket(inner, socket, &url),
        SocketAction::Send { socket, text } => {
            if let Some((id, open)) = &*inner.socket.borrow() {
                if *id == socket {
                    open.send(&text);
                }
            }
        }
        SocketAction::Close {
            socket,
            code,
            reason,
        } => {
            let closing = inner.socket.borrow_mut().take_if(|(id, _)| *id == socket);
            if let Some((_, closing)) = closing {
                closing.close(code, &reason);
            }
        }
    }
}

fn tell(inner: &Rc<Inner>, event: Event) {
    use rockon_sync_core::sync::ReadEvent;
    match &event {
        Event::Read(ReadEvent::Synced { .. }) => {
            return inner.last_synced_at.set(Some(js_sys::Date::now()));
        }
        Event::Read(ReadEvent::Arrived { commit_micros }) => {
            if let Some(devtools) = &inner.endpoint.borrow().devtools {
                devtools.latency(js_sys::Date::now() - *commit_micros as f64 / 1000.0);
            }
            return;
        }
        _ => {}
    }
    if let Some(sinks) = &*inner.sinks.borrow() {
        (sinks.event)(event);
    }
}

/// Sets the one timer to the engine's next deadline.
fn schedule(inner: &Rc<Inner>) {
    if inner.stopped.get() {
        return;
    }
    let due = inner.engine.borrow().poll_timeout();
    if inner.timer.borrow().as_ref().map(|(at, _)| *at) == due {
        return;
    }
    let timer = due.map(|at| {
        let weak: Weak<Inner> = Rc::downgrade(inner);
        let delay = at.since(clock::now()).min(u64::from(u32::MAX)) as u32;
        let timeout = Timeout::new(delay, move || {
            let Some(inner) = weak.upgrade() else { return };
            inner.timer.borrow_mut().take();
            // Browsers may fire a timer a hair early by the page clock: never pass a time
            // before the deadline, or the engine would find nothing due and spin.
            let now = clock::now().max(at);
            (inner.engine.borrow_mut()).handle_timeout(now, js_sys::Date::now());
            carry_out(&inner);
        });
        (at, timeout)
    });
    *inner.timer.borrow_mut() = timer;
}

fn queue(inner: &Rc<Inner>, job: Job) {
    inner.jobs.borrow_mut().push_back(job);
    if inner.storing.replace(true) {
        return;
    }
    let weak = Rc::downgrade(inner);
    let mut store = inner.store.clone();
    crate::io::task::spawn(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let job = inner.jobs.borrow_mut().pop_front();
            let Some(job) = job else {
                inner.storing.set(false);
                return;
            };
            // Not held across the await: the client may go meanwhile.
            drop(inner);
            let (op, result) = match job {
                Job::Read(op, read) => (op, Stored::Read(store.read(&read).await)),
                Job::Write(op, ops) => (op, Stored::Written(store.write(&ops).await)),
                Job::Apply(op, batch) => {
                    let applied = store.apply(&batch).await.map_err(|e| e.0);
                    (op, Stored::Applied(applied))
                }
                Job::Flush(done) => {
                    let _ = done.send(());
                    continue;
                }
            };
            let Some(inner) = weak.upgrade() else { return };
            let _ = feed(&inner, Input::Stored { op, result });
        }
    });
}

/// Puts activity records into their object store and deletes keys, in one transaction.
async fn persist(
    store: &SyncStore,
    write: ActivityWrite,
) -> Result<(), rockon_sync_core::sync::StoreError> {
    let (name, puts, deletes) = match write {
        ActivityWrite::Marks { put, delete } => (READ_MARKS, to_js(&put), delete),
        ActivityWrite::Feed { put, delete } => (ACTIVITY, to_js(&put), delete),
        ActivityWrite::Profiles(names) => {
            let mut records = Vec::with_capacity(names.len());
            for (id, name) in &names {
                records.push(object(vec![
                    ("id", id.clone().into()),
                    ("displayName", name.clone().into()),
                ]));
            }
            (PROFILES, to_js(&records), Vec::new())
        }
    };
    // Serialising these records cannot fail; were it to, nothing is put (not a throw).
    let puts = puts.dyn_into().unwrap_or_else(|_| js_sys::Array::new());
    let result = store.0.put_and_delete(name, &puts, &deletes).await;
    result.map_err(|error| error.0)
}

fn open_socket(inner: &Rc<Inner>, socket: SocketId, url: &str) {
    inner.socket.borrow_mut().take();
    let weak = Rc::downgrade(inner);
    let sink = move |event: SocketEvent| {
        let Some(inner) = weak.upgrade() else { return };
        let input = match event {
            SocketEvent::Open => SocketInput::Opened(socket),
            SocketEvent::Text(ref text) => SocketInput::Text { socket, text },
            SocketEvent::Change(frame) => SocketInput::Change { socket, frame },
            SocketEvent::Binary(len) => SocketInput::Binary { socket, len },
            SocketEvent::Closed { code, ref reason } => SocketInput::Closed {
                socket,
                code,
                reason,
            },
        };
        let _ = feed(&inner, Input::Socket(input));
    };
    let (vsn, max_frame_bytes) = inner.frame_format;
    match Socket::open(url, vsn, max_frame_bytes, sink) {
        Ok(opened) => *inner.socket.borrow_mut() = Some((socket, opened)),
        Err(reason) => {
            // Told once the engine is free: its outputs are being carried out.
            let weak = Rc::downgrade(inner);
            crate::io::task::spawn(async move {
                if let Some(inner) = weak.upgrade() {
                    let closed = SocketInput::Closed {
                        socket,
                        code: 1006,
                        reason: &reason,
                    };
                    let _ = feed(&inner, Input::Socket(closed));
                }
            });
        }
    }
}
