//! Carrying out what the write engine asks: storage batches one after another in the order
//! given (so a read sees every write before it), HTTP requests as they come, events and
//! replies once the engine is no longer borrowed, and one timer.

use super::Inner;
use crate::io::clock;
use crate::io::http;
use crate::io::sync_store::SyncStore;
use futures::channel::oneshot;
use gloo_timers::callback::Timeout;
use rockon_sync_core::sync::conformance::Store as _;
use rockon_sync_core::sync::{OpId, StoreOp, StoreRead, WriteInput, WriteOutput};
use std::rc::{Rc, Weak};

/// A storage job of the engine, in order.
pub(super) enum Job {
    Read(OpId, StoreRead),
    Write(OpId, Vec<StoreOp>),
    /// Every job before this one is done.
    Flush(oneshot::Sender<()>),
}

/// Feeds `input` to the engine and carries out what follows.
pub(super) fn handle(inner: &Rc<Inner>, input: WriteInput) {
    inner.engine.borrow_mut().handle(input, clock::now());
    drive(inner);
}

/// Carries out the engine's outputs until there are none, then sets the timer.
pub(super) fn drive(inner: &Rc<Inner>) {
    loop {
        // Taken one at a time: an event may call back into the client, which may feed the
        // engine again.
        let output = inner.engine.borrow_mut().poll_output();
        let Some(output) = output else { break };
        match output {
            WriteOutput::Read { op, read } => queue(inner, Job::Read(op, read)),
            WriteOutput::Write { op, ops } => queue(inner, Job::Write(op, ops)),
            WriteOutput::Http { op, request } => {
                let weak = Rc::downgrade(inner);
                let endpoint = inner.endpoint.borrow().clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let result = http::send(&endpoint, &request).await;
                    if let Some(inner) = weak.upgrade() {
                        handle(&inner, WriteInput::Http { op, result });
                    }
                });
            }
            WriteOutput::Event(event) => (inner.on_event)(event),
            WriteOutput::Reply { command, result } => {
                let waiting = inner.replies.borrow_mut().remove(&command.0);
                if let Some(reply) = waiting {
                    let _ = reply.send(result);
                }
            }
        }
    }
    schedule(inner);
}

fn schedule(inner: &Rc<Inner>) {
    let due = inner.engine.borrow().poll_timeout();
    let timer = due.map(|at| {
        let weak: Weak<Inner> = Rc::downgrade(inner);
        let delay = at.since(clock::now()).min(u64::from(u32::MAX)) as u32;
        Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                inner.engine.borrow_mut().handle_timeout(clock::now());
                drive(&inner);
            }
        })
    });
    *inner.timer.borrow_mut() = timer;
}

pub(super) fn queue(inner: &Rc<Inner>, job: Job) {
    inner.jobs.borrow_mut().push_back(job);
    if inner.storing.replace(true) {
        return;
    }
    let weak = Rc::downgrade(inner);
    let mut store = SyncStore(inner.store.clone());
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let job = inner.jobs.borrow_mut().pop_front();
            let Some(job) = job else {
                inner.storing.set(false);
                return;
            };
            // Not held across the await: the client may go meanwhile.
            drop(inner);
            let input = match job {
                Job::Read(op, read) => WriteInput::Read {
                    op,
                    result: store.read(&read).await,
                },
                Job::Write(op, ops) => WriteInput::Written {
                    op,
                    result: store.write(&ops).await,
                },
                Job::Flush(done) => {
                    let _ = done.send(());
                    continue;
                }
            };
            let Some(inner) = weak.upgrade() else { return };
            handle(&inner, input);
        }
    });
}
