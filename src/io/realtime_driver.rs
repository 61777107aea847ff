//! Runs the sans-IO Realtime engine against a real WebSocket and real timers.
//!
//! Every input (socket event, timer, command) borrows the engine, feeds it, and carries out its
//! outputs; the events it produced are handed to the application only after the borrow ends, so
//! user JavaScript never runs while Rust state is borrowed and may call back in freely.

use super::clock;
use super::socket::{Socket, SocketEvent};
use gloo_timers::callback::Timeout;
use rockon_sync_core::realtime::{Event, Input, Output, Realtime, RealtimeConfig, SocketId};
use rockon_sync_core::Millis;
use std::cell::{RefCell, RefMut};
use std::rc::{Rc, Weak};

/// Receives the engine's events, outside any borrow.
pub type EventSink = Box<dyn Fn(Event)>;

/// The engine plus the socket and timer it asked for.
pub struct RealtimeDriver {
    shared: Rc<Shared>,
}

struct Shared {
    state: RefCell<State>,
    on_event: EventSink,
}

struct State {
    engine: Realtime,
    socket: Option<(SocketId, Socket)>,
    timer: Option<(Millis, Timeout)>,
}

impl RealtimeDriver {
    /// A driver for an engine with `config`; nothing happens until a command is run.
    pub fn new(config: RealtimeConfig, on_event: EventSink) -> Self {
        let engine = Realtime::new(config, clock::seed());
        let state = RefCell::new(State {
            engine,
            socket: None,
            timer: None,
        });
        Self {
            shared: Rc::new(Shared { state, on_event }),
        }
    }

    /// Runs `command` on the engine at the current time, then carries out its outputs.
    pub fn run<R>(&self, command: impl FnOnce(&mut Realtime, Millis) -> R) -> R {
        run(&self.shared, command)
    }

    /// Reads the engine without changing it.
    pub fn inspect<R>(&self, read: impl FnOnce(&Realtime) -> R) -> R {
        read(&self.shared.state.borrow().engine)
    }
}

impl Drop for RealtimeDriver {
    fn drop(&mut self) {
        // Sockets and timers hold only weak references; dropping them here ends everything.
        let mut state = self.shared.state.borrow_mut();
        state.socket = None;
        state.timer = None;
    }
}

fn run<R>(shared: &Rc<Shared>, command: impl FnOnce(&mut Realtime, Millis) -> R) -> R {
    let mut state = shared.state.borrow_mut();
    let now = clock::now();
    let result = command(&mut state.engine, now);
    finish(shared, state, now);
    result
}

/// The part of [`run`] after its command: one copy, where `run` has one per command.
fn finish(shared: &Rc<Shared>, mut state: RefMut<'_, State>, now: Millis) {
    let events = carry_out(shared, &mut state, now);
    // Listeners run after the borrow ends: they may call into the connection.
    drop(state);
    for event in events {
        (shared.on_event)(event);
    }
}

/// Performs the engine's outputs and returns its events for delivery after the borrow.
fn carry_out(shared: &Rc<Shared>, state: &mut State, now: Millis) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(output) = state.engine.poll_output() {
        match output {
            Output::Connect { socket, url } => {
                state.socket = None;
                let (vsn, max) = (
                    state.engine.config().vsn,
                    state.engine.config().max_frame_bytes,
                );
                let sink = socket_sink(Rc::downgrade(shared), socket);
                match Socket::open(&url, vsn, max, sink) {
                    Ok(opened) => state.socket = Some((socket, opened)),
                    Err(reason) => {
                        let input = Input::Closed {
                            socket,
                            code: 1006,
                            reason: &reason,
                        };
                        state.engine.handle_input(now, input);
                    }
                }
            }
            Output::Send { socket, text } => {
                if let Some((id, open)) = &state.socket {
                    if *id == socket {
                        open.send(&text);
                    }
                }
            }
            Output::Close {
                socket,
                code,
                reason,
            } => {
                if state.socket.as_ref().is_some_and(|(id, _)| *id == socket) {
                    if let Some((_, closing)) = state.socket.take() {
                        closing.close(code, &reason);
                    }
                }
            }
            Output::Event(event) => events.push(event),
        }
    }
    schedule(shared, state, now);
    events
}

fn schedule(shared: &Rc<Shared>, state: &mut State, now: Millis) {
    let due = state.engine.poll_timeout();
    if state.timer.as_ref().map(|(at, _)| *at) == due {
        return;
    }
    state.timer = due.map(|at| {
        let weak = Rc::downgrade(shared);
        let delay = at.since(now).min(u64::from(u32::MAX)) as u32;
        let timeout = Timeout::new(delay, move || {
            if let Some(shared) = weak.upgrade() {
                shared.state.borrow_mut().timer = None;
                // Browsers may fire a timer a hair early by the page clock: never pass a time
                // before the deadline, or the engine would find nothing due and spin.
                run(&shared, |engine, now| engine.handle_timeout(now.max(at)));
            }
        });
        (at, timeout)
    });
}

fn socket_sink(shared: Weak<Shared>, socket: SocketId) -> impl Fn(SocketEvent) + 'static {
    move |event| {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        run(&shared, |engine, now| match event {
            SocketEvent::Open => engine.handle_input(now, Input::Opened(socket)),
            SocketEvent::Text(text) => engine.handle_input(
                now,
                Input::Text {
                    socket,
                    text: &text,
                },
            ),
            SocketEvent::Change(frame) => engine.handle_input(now, Input::Change { socket, frame }),
            SocketEvent::Binary(len) => engine.handle_input(now, Input::Binary { socket, len }),
            SocketEvent::Closed { code, reason } => engine.handle_input(
                now,
                Input::Closed {
                    socket,
                    code,
                    reason: &reason,
                },
            ),
        });
    }
}
