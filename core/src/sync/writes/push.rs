//! The push loop of the leading tab: a wave of requests at a time (see
//! [`Outbox::next_wave`]), the effects of all its answers stored before the next wave goes.

use super::*;
use crate::outbox::Push;

/// One request of the wave out, and its answer once in.
#[derive(Debug)]
pub(super) struct Sent {
    op: OpId,
    push: Push,
    answer: Option<HttpResult>,
}

/// A conflict record read before the answer that may replace it is settled.
type Earlier = (u64, Option<ConflictRecord>);

/// The push in progress.
#[derive(Debug)]
pub(super) enum Flight {
    Idle,
    /// Persisting that entries are being sent for the first time: from then on the writes may
    /// be on the server, and a reload, or the next leading tab, must know it.
    Recording {
        op: OpId,
        wave: Vec<Push>,
    },
    /// The wave's requests are out: the pushes, or the GETs that follow answers missing rows
    /// (`fetching`).
    Sending {
        sent: Vec<Sent>,
        fetching: bool,
    },
    /// The GETs' answers may be conflicts: the rows' conflict records are read first, so the
    /// answers are settled and their effects stored with nothing in between (a command coming
    /// in between would change the entries the effects put).
    ReadingConflicts {
        reads: Vec<(OpId, u64)>,
        earlier: Vec<Earlier>,
        answers: Vec<(Push, HttpResult)>,
    },
    /// Storing the effects of the wave's answers; then the follow-up GETs, if any.
    Applying {
        op: OpId,
        follow_ups: Vec<Push>,
        events: Vec<WriteEvent>,
        removing: Vec<u64>,
    },
}

impl WriteEngine {
    /// Starts the next due wave unless one is under way.
    pub(super) fn push_next(&mut self, now: Millis) {
        if !self.pushing() || !matches!(self.flight, Flight::Idle) {
            return;
        }
        let wave = self.outbox.next_wave(now);
        let mut first_sends = Vec::new();
        for push in &wave {
            for seq in &push.seqs {
                match self.outbox.entry(*seq) {
                    Some(entry) if entry.attempts == 1 => {
                        first_sends.push(StoreOp::PutEntry(entry.clone()));
                    }
                    _ => {}
                }
            }
        }
        if first_sends.is_empty() {
            self.send(wave, false);
        } else {
            let op = self.write(first_sends);
            self.flight = Flight::Recording { op, wave };
        }
    }

    fn send(&mut self, pushes: Vec<Push>, fetching: bool) {
        if pushes.is_empty() {
            return;
        }
        let mut sent = Vec::with_capacity(pushes.len());
        for push in pushes {
            let op = self.op_id();
            let request = push.request.clone();
            self.outputs.push_back(WriteOutput::Http { op, request });
            sent.push(Sent {
                op,
                push,
                answer: None,
            });
        }
        self.flight = Flight::Sending { sent, fetching };
    }

    pub(super) fn on_http(&mut self, op: OpId, answer: HttpResult, now: Millis) {
        if self.adding.is_some() {
            self.held_answers.push(HeldAnswer::Http(op, answer));
            return;
        }
        let Flight::Sending { sent, fetching } = &mut self.flight else {
            return;
        };
        let Some(slot) = sent.iter_mut().find(|s| s.op == op && s.answer.is_none()) else {
            return;
        };
        slot.answer = Some(answer);
        if sent.iter().any(|s| s.answer.is_none()) {
            return;
        }
        let fetching = *fetching;
        let Flight::Sending { sent, .. } = std::mem::replace(&mut self.flight, Flight::Idle) else {
            return;
        };
        let mut answers: Vec<(Push, HttpResult)> = Vec::with_capacity(sent.len());
        for Sent { push, answer, .. } in sent {
            if let Some(answer) = answer {
                answers.push((push, answer));
            }
        }
        // Only an update's fetched row can make a conflict record.
        let mut updates: Vec<(String, String, u64)> = Vec::new();
        for (push, _) in &answers {
            for seq in &push.seqs {
                match self.outbox.entry(*seq) {
                    Some(entry) if fetching && entry.op == Op::Update => {
                        updates.push((entry.table.clone(), entry.row_id.clone(), entry.seq));
                    }
                    _ => {}
                }
            }
        }
        if updates.is_empty() {
            return self.settle_wave(answers, Vec::new(), now);
        }
        let mut reads = Vec::with_capacity(updates.len());
        for (table, id, seq) in updates {
            let with_conflict = true;
            let read = StoreRead::Row {
                table,
                id,
                with_conflict,
            };
            reads.push((self.read(read), seq));
        }
        self.flight = Flight::ReadingConflicts {
            reads,
            earlier: Vec::new(),
            answers,
        };
    }

    /// A row's conflict record is read: once all are, the fetched answers settle the entries.
    pub(super) fn push_read(
        &mut self,
        op: OpId,
        result: Result<ReadResult, StoreError>,
        now: Millis,
    ) {
        let Flight::ReadingConflicts {
            reads,
            earlier,
            answers,
        } = &mut self.flight
        else {
            return;
        };
        let Some(at) = reads.iter().position(|(read, _)| *read == op) else {
            return;
        };
        let (_, seq) = reads.swap_remove(at);
        match result {
            Ok(ReadResult::Row { conflict, .. }) => earlier.push((seq, conflict.map(|c| *c))),
            // Unknown whether a record would be replaced: ask the server again later.
            _ => {
                let unread =
                    HttpResult::NetworkError("the conflict record could not be read".into());
                for (push, answer) in answers.iter_mut() {
                    if push.seqs.contains(&seq) {
                        *answer = unread.clone();
                    }
                }
            }
        }
        if !reads.is_empty() {
            return;
        }
        let Flight::ReadingConflicts {
            earlier, answers, ..
        } = std::mem::replace(&mut self.flight, Flight::Idle)
        else {
            return;
        };
        self.settle_wave(answers, earlier, now);
    }

    /// The wave's answers (or its follow-up GETs', with the rows' earlier conflict records)
    /// settle its entries; their effects are stored at once, in one batch.
    fn settle_wave(
        &mut self,
        answers: Vec<(Push, HttpResult)>,
        earlier: Vec<Earlier>,
        now: Millis,
    ) {
        let mut effects = Vec::new();
        let mut follow_ups = Vec::new();
        for (push, answer) in answers {
            let (more, follow_up) = self.settle(push, answer, &earlier, now);
            effects.extend(more);
            follow_ups.extend(follow_up);
        }
        self.store_effects(effects, follow_ups);
    }

    fn settle(
        &mut self,
        push: Push,
        answer: HttpResult,
        earlier: &[Earlier],
        now: Millis,
    ) -> (Vec<Effect>, Option<Push>) {
        let first = push.seqs.first().and_then(|seq| self.outbox.entry(*seq));
        let table = first.map(|e| e.table.clone()).unwrap_or_default();
        let Ok(spec) = self.schema.table(&table).cloned() else {
            self.outbox.abandon(now, &push.seqs);
            return (Vec::new(), None);
        };
        // Each earlier conflict record with the row and the fields its entry wrote, needed to
        // join the record (read before the entry settles and goes).
        let mut joins: Vec<(String, ConflictRecord, Vec<String>)> = Vec::new();
        for (seq, record) in earlier {
            if !push.seqs.contains(seq) {
                continue;
            }
            let (Some(entry), Some(record)) = (self.outbox.entry(*seq), record) else {
                continue;
            };
            let mut written = Vec::with_capacity(entry.fields.len());
            for field in entry.fields.keys() {
                written.push(field.clone());
            }
            joins.push((entry.row_id.clone(), record.clone(), written));
        }
        let (mut effects, follow_up) = self.outbox.complete(now, &push.seqs, answer, &spec);
        if effects
            .iter()
            .any(|e| matches!(e, Effect::StoreServerRow { .. }))
        {
            // The server answered with its row: this write is confirmed.
            self.last_confirmed = Some(now);
        }
        for effect in &mut effects {
            let Effect::Conflict(record) = effect else {
                continue;
            };
            let join = joins.iter().find(|(row, ..)| *row == record.row_id);
            if let Some((_, earlier, written)) = join {
                record.absorb(earlier.clone(), written);
            }
        }
        (effects, follow_up)
    }

    fn store_effects(&mut self, effects: Vec<Effect>, follow_ups: Vec<Push>) {
        let (ops, events) = self.effects_to_batch(effects);
        if ops.is_empty() {
            return self.applied(follow_ups, events, Vec::new(), Ok(()));
        }
        let removing = removed_entries(&ops);
        let op = self.write(ops);
        self.flight = Flight::Applying {
            op,
            follow_ups,
            events,
            removing,
        };
    }

    /// The effects of the answers are stored (or not): tell the app, send the follow-ups.
    fn applied(
        &mut self,
        follow_ups: Vec<Push>,
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
                // follow-ups' answers, so they still go.
                self.outbox.unforget(&removing);
                self.start_reload(None, true);
                self.emit(WriteEvent::Error {
                    code: error.code(),
                    message: error.to_string(),
                });
                // Pushes are held in memory, not in storage: the app is asked for a token all
                // the same (another answer of the wave is what failed to be stored).
                let asks = events.into_iter().filter(|e| *e == WriteEvent::NeedToken);
                for event in asks {
                    self.emit(event);
                }
            }
        }
        self.send(follow_ups, true);
    }

    pub(super) fn push_written(&mut self, op: OpId, result: Result<(), StoreError>, now: Millis) {
        match &self.flight {
            Flight::Recording { op: expected, .. } if *expected == op => {
                let Flight::Recording { wave, .. } =
                    std::mem::replace(&mut self.flight, Flight::Idle)
                else {
                    return;
                };
                match result {
                    Ok(()) => self.send(wave, false),
                    Err(_) => {
                        // Not recorded: sending anyway would risk a coalesced retry later.
                        let mut seqs = Vec::new();
                        for push in wave {
                            seqs.extend_from_slice(&push.seqs);
                        }
                        self.outbox.abandon(now, &seqs);
                    }
                }
            }
            Flight::Applying { op: expected, .. } if *expected == op => {
                let Flight::Applying {
                    follow_ups,
                    events,
                    removing,
                    ..
                } = std::mem::replace(&mut self.flight, Flight::Idle)
                else {
                    return;
                };
                self.applied(follow_ups, events, removing, result);
            }
            _ => {}
        }
    }
}

/// The entries a batch removes.
pub(super) fn removed_entries(ops: &[StoreOp]) -> Vec<u64> {
    let mut seqs = Vec::new();
    for op in ops {
        if let StoreOp::RemoveEntry(seq) = op {
            seqs.push(*seq);
        }
    }
    seqs
}
