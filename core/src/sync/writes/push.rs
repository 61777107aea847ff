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
    /// The push, or the GET that follows an empty answer (`fetching`), is out.
    Sending {
        op: OpId,
        seq: u64,
        fetching: bool,
    },
    /// The GET's answer may be a conflict: the row's conflict record is read first, so the
    /// answer is settled and its effects stored with nothing in between (a command coming in
    /// between would change the entries the effects put).
    ReadingConflict {
        op: OpId,
        seq: u64,
        answer: HttpResult,
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
            None => self.send(seq, request, false),
        }
    }

    fn send(&mut self, seq: u64, request: HttpRequest, fetching: bool) {
        let op = self.op_id();
        self.outputs.push_back(WriteOutput::Http { op, request });
        self.flight = Flight::Sending { op, seq, fetching };
    }

    pub(super) fn on_http(&mut self, op: OpId, answer: HttpResult, now: Millis) {
        if self.adding.is_some() {
            self.held_answer = Some((op, answer));
            return;
        }
        let Flight::Sending {
            op: sent,
            seq,
            fetching,
        } = self.flight
        else {
            return;
        };
        if sent != op {
            return;
        }
        let row = self
            .outbox
            .entry(seq)
            .map(|e| (e.table.clone(), e.row_id.clone()));
        match row {
            Some((table, id)) if fetching => {
                let read = StoreRead::Row {
                    table,
                    id,
                    with_conflict: true,
                };
                let op = self.read(read);
                self.flight = Flight::ReadingConflict { op, seq, answer };
            }
            _ => self.settle(seq, answer, None, now),
        }
    }

    /// The answer to a push (or to its follow-up GET, with the row's earlier conflict record)
    /// settles the entry; its effects are stored at once.
    fn settle(
        &mut self,
        seq: u64,
        answer: HttpResult,
        earlier: Option<ConflictRecord>,
        now: Millis,
    ) {
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
        // The fields this entry wrote, needed only to join an earlier conflict record (read
        // before the entry settles and goes).
        let written: Vec<String> = match (&earlier, self.outbox.entry(seq)) {
            (Some(_), Some(entry)) => entry.fields.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let (mut effects, follow_up) = self.outbox.complete(now, seq, answer, &spec);
        if effects
            .iter()
            .any(|e| matches!(e, Effect::StoreServerRow { .. }))
        {
            // The server answered with its row: this write is confirmed.
            self.last_confirmed = Some(now);
        }
        if let Some(earlier) = earlier {
            for effect in &mut effects {
                if let Effect::Conflict(record) = effect {
                    record.absorb(earlier.clone(), &written);
                }
            }
        }
        self.store_effects(effects, follow_up.map(|request| (seq, request)));
    }

    /// The row's conflict record is read: the fetched answer settles the entry.
    pub(super) fn push_read(
        &mut self,
        op: OpId,
        result: Result<ReadResult, StoreError>,
        now: Millis,
    ) {
        if !matches!(self.flight, Flight::ReadingConflict { op: o, .. } if o == op) {
            return;
        }
        let Flight::ReadingConflict { seq, answer, .. } =
            std::mem::replace(&mut self.flight, Flight::Idle)
        else {
            return;
        };
        match result {
            Ok(ReadResult::Row { conflict, .. }) => {
                self.settle(seq, answer, conflict.map(|c| *c), now)
            }
            // Unknown whether a record would be replaced: ask the server again later.
            _ => {
                let unread =
                    HttpResult::NetworkError("the conflict record could not be read".into());
                self.settle(seq, unread, None, now);
            }
        }
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
            self.send(seq, request, true);
        }
    }

    pub(super) fn push_written(&mut self, op: OpId, result: Result<(), StoreError>, now: Millis) {
        match &self.flight {
            Flight::Recording { op: expected, seq } if *expected == op => {
                let seq = *seq;
                let request = self.pending_request.take();
                match (result, request) {
                    (Ok(()), Some(request)) => self.send(seq, request, false),
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
