//! The push loop of the leading tab: one request at a time, each answer's effects stored
//! before the next request goes.

use super::*;

/// The push in progress.
#[derive(Debug)]
pub(super) enum Flight {
    Idle,
    /// Persisting that the entry is being sent for the first time: from then on the write may
    /// be on the server, and a reload, or the next leading tab, must know it.
    Recording {
        op: OpId,
        seq: u64,
    },
    /// The push, or the GET that follows an empty answer, is out.
    Sending {
        op: OpId,
        seq: u64,
    },
    /// Reading the row's conflict record: a new conflict joins the one the user has not
    /// settled yet, whose values would otherwise be replaced.
    ReadingConflict {
        op: OpId,
        /// The fields the settled entry wrote.
        written: Vec<String>,
        effects: Vec<Effect>,
        follow_up: Option<(u64, HttpRequest)>,
    },
    /// Storing the effects of an answer; then the follow-up request, if any.
    Applying {
        op: OpId,
        follow_up: Option<(u64, HttpRequest)>,
        events: Vec<WriteEvent>,
        removing: Vec<u64>,
    },
}

impl WriteEngine {
    /// Starts the next due push unless one is under way.
    pub(super) fn push_next(&mut self, now: Millis) {
        if !self.pushing() || !matches!(self.flight, Flight::Idle) {
            return;
        }
        let Some((seq, request)) = self.outbox.next_request(now) else {
            return;
        };
        let first_send = self.outbox.entry(seq).filter(|e| e.attempts == 1).cloned();
        match first_send {
            Some(entry) => {
                let op = self.write(vec![StoreOp::PutEntry(entry)]);
                self.flight = Flight::Recording { op, seq };
                self.pending_request = Some(request);
            }
            None => self.send(seq, request),
        }
    }

    fn send(&mut self, seq: u64, request: HttpRequest) {
        let op = self.op_id();
        self.outputs.push_back(WriteOutput::Http { op, request });
        self.flight = Flight::Sending { op, seq };
    }

    pub(super) fn on_http(&mut self, op: OpId, answer: HttpResult, now: Millis) {
        let Flight::Sending { op: sent, seq, .. } = self.flight else {
            return;
        };
        if sent != op {
            return;
        }
        self.settle(seq, answer, now);
    }

    /// The answer to a push (or to its follow-up GET) settles the entry.
    fn settle(&mut self, seq: u64, answer: HttpResult, now: Millis) {
        let table = self
            .outbox
            .entry(seq)
            .map(|e| e.table.clone())
            .unwrap_or_default();
        let Ok(spec) = self.schema.table(&table).cloned() else {
            self.outbox.abandon(now, seq);
            self.flight = Flight::Idle;
            return;
        };
        let written: Vec<String> = self
            .outbox
            .entry(seq)
            .map(|e| e.fields.keys().cloned().collect())
            .unwrap_or_default();
        let (effects, follow_up) = self.outbox.complete(now, seq, answer, &spec);
        if effects
            .iter()
            .any(|e| matches!(e, Effect::StoreServerRow { .. }))
        {
            // The server answered with its row: this write is confirmed.
            self.last_confirmed = Some(now);
        }
        let follow_up = follow_up.map(|request| (seq, request));
        let conflict = effects.iter().find_map(|effect| match effect {
            Effect::Conflict(record) => Some((record.table.clone(), record.row_id.clone())),
            _ => None,
        });
        match conflict {
            Some((table, id)) => {
                let read = StoreRead::Row {
                    table,
                    id,
                    with_conflict: true,
                };
                let op = self.read(read);
                self.flight = Flight::ReadingConflict {
                    op,
                    written,
                    effects,
                    follow_up,
                };
            }
            None => self.store_effects(effects, follow_up),
        }
    }

    /// A conflict met the row's earlier record (or none): it joins it, then the effects are
    /// stored.
    pub(super) fn push_read(&mut self, op: OpId, result: Result<ReadResult, StoreError>) {
        if !matches!(self.flight, Flight::ReadingConflict { op: o, .. } if o == op) {
            return;
        }
        let Flight::ReadingConflict {
            written,
            mut effects,
            follow_up,
            ..
        } = std::mem::replace(&mut self.flight, Flight::Idle)
        else {
            return;
        };
        if let Ok(ReadResult::Row {
            conflict: Some(earlier),
            ..
        }) = result
        {
            for effect in &mut effects {
                if let Effect::Conflict(record) = effect {
                    record.absorb(earlier.clone(), &written);
                }
            }
        }
        self.store_effects(effects, follow_up);
    }

    fn store_effects(&mut self, effects: Vec<Effect>, follow_up: Option<(u64, HttpRequest)>) {
        let (ops, events) = self.effects_to_batch(effects);
        if ops.is_empty() {
            return self.applied(follow_up, events, Vec::new(), Ok(()));
        }
        let removing = removed_entries(&ops);
        let op = self.write(ops);
        self.flight = Flight::Applying {
            op,
            follow_up,
            events,
            removing,
        };
    }

    /// The effects of an answer are stored (or not): tell the app, send the follow-up.
    fn applied(
        &mut self,
        follow_up: Option<(u64, HttpRequest)>,
        events: Vec<WriteEvent>,
        removing: Vec<u64>,
        result: Result<(), StoreError>,
    ) {
        self.flight = Flight::Idle;
        match result {
            Ok(()) => {
                for event in events {
                    self.emit(event);
                }
            }
            Err(error) => {
                // The outbox in memory is ahead of storage: take back what is stored (a
                // conflict record not stored must be found again). The outbox waits for the
                // follow-up's answer, so it still goes.
                self.outbox.unforget(&removing);
                self.start_reload(None, true);
                self.emit(WriteEvent::Error {
                    code: error.code(),
                    message: error.to_string(),
                });
            }
        }
        if let Some((seq, request)) = follow_up {
            self.send(seq, request);
        }
    }

    pub(super) fn push_written(&mut self, op: OpId, result: Result<(), StoreError>, now: Millis) {
        match &self.flight {
            Flight::Recording { op: expected, seq } if *expected == op => {
                let seq = *seq;
                let request = self.pending_request.take();
                match (result, request) {
                    (Ok(()), Some(request)) => self.send(seq, request),
                    _ => {
                        // Not recorded: sending anyway would risk a coalesced retry later.
                        self.outbox.abandon(now, seq);
                        self.flight = Flight::Idle;
                    }
                }
            }
            Flight::Applying { op: expected, .. } if *expected == op => {
                let Flight::Applying {
                    follow_up,
                    events,
                    removing,
                    ..
                } = std::mem::replace(&mut self.flight, Flight::Idle)
                else {
                    return;
                };
                self.applied(follow_up, events, removing, result);
            }
            _ => {}
        }
    }
}

/// The entries a batch removes.
pub(super) fn removed_entries(ops: &[StoreOp]) -> Vec<u64> {
    ops.iter()
        .filter_map(|op| match op {
            StoreOp::RemoveEntry(seq) => Some(*seq),
            _ => None,
        })
        .collect()
}
