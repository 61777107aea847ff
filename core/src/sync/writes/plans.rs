//! What each command writes: the local row, the outbox entry, the events that follow.

use super::*;
use crate::outbox::WriteRefused;

impl WriteEngine {
    pub(super) fn plan_create(
        &mut self,
        table: String,
        mut values: Map<String, Value>,
        new_id: String,
        wall_ms: u64,
    ) -> Result<Planned, WriteError> {
        let spec = self.schema.table(&table)?;
        if !values.contains_key("id") {
            values.insert("id".into(), Value::String(new_id));
        }
        let wire = spec.to_wire_write(&values, true)?;
        let id = wire
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut row = wire.clone();
        row.insert("version".into(), Value::from(0));
        row.insert("deleted_at".into(), Value::Null);
        let queued = Queued {
            table,
            id,
            op: Op::Insert,
            fields: wire,
            base: None,
            row,
            wall_ms,
        };
        self.write_through(queued, 0)
    }

    pub(super) fn plan_update(
        &mut self,
        table: String,
        id: String,
        patch: Map<String, Value>,
        read: ReadResult,
        wall_ms: u64,
    ) -> Result<Planned, WriteError> {
        let wire_patch = self.schema.table(&table)?.to_wire_write(&patch, false)?;
        let current = existing(&table, &id, read)?.0;
        if is_deleted(&current) {
            return Err(WriteError::Deleted);
        }
        self.write_through(edit(table, id, Op::Update, wire_patch, current, wall_ms), 0)
    }

    pub(super) fn plan_remove(
        &mut self,
        table: String,
        id: String,
        read: ReadResult,
        wall_ms: u64,
    ) -> Result<Planned, WriteError> {
        let current = existing(&table, &id, read)?.0;
        if is_deleted(&current) {
            return Ok(Planned::Answer(WriteReply::Done));
        }
        let fields = Map::from_iter([("deleted_at".to_owned(), Value::String(iso_time(wall_ms)))]);
        self.write_through(edit(table, id, Op::Delete, fields, current, wall_ms), 0)
    }

    /// What the row does not hold of the user's choice is pushed as an ordinary conditional
    /// update (a row the server deleted comes back if the user keeps theirs); the conflict
    /// record goes in the same batch.
    pub(super) fn plan_resolve(
        &mut self,
        table: String,
        id: String,
        resolution: Resolution,
        read: ReadResult,
        wall_ms: u64,
    ) -> Result<Planned, WriteError> {
        let spec = self.schema.table(&table)?;
        let editable = spec.field_names();
        let (current, record) = existing(&table, &id, read)?;
        let record = record.ok_or(WriteError::NoConflict)?;
        let patch = crate::merge::resolve(
            &record.fields,
            record.deleted_remotely,
            &record.local,
            &current,
            &editable,
            &resolution,
        )
        .map_err(|e| WriteError::NotInConflict(e.0))?;
        if patch.is_empty() {
            return Ok(self.plan_acknowledge(table, id));
        }
        let queued = edit(
            table.clone(),
            id.clone(),
            Op::Update,
            patch,
            current,
            wall_ms,
        );
        let Planned::Write(mut ops, mut done) = self.write_through(queued, 0)? else {
            return Ok(self.plan_acknowledge(table, id));
        };
        // Acknowledged after the edit is queued, so the status it tells is the row's new one.
        if let Planned::Write(more_ops, more) = self.plan_acknowledge(table, id) {
            ops.extend(more_ops);
            done.events.extend(more.events);
            done.settles_conflict = more.settles_conflict;
        }
        // A taken sequence number fails the resolution rather than being queued again without
        // its acknowledgement: rare enough that the user choosing again is the simpler answer.
        done.retry = None;
        Ok(Planned::Write(ops, done))
    }

    pub(super) fn plan_acknowledge(&mut self, table: String, id: String) -> Planned {
        let status = self.status(&table, &id);
        let key = conflict_key(&table, &id);
        let ops = vec![StoreOp::RemoveConflict {
            table: table.clone(),
            id: id.clone(),
        }];
        let done = Done {
            reply: WriteReply::Done,
            events: vec![WriteEvent::Status { table, id, status }],
            retry: None,
            added: None,
            removing: Vec::new(),
            undo: Vec::new(),
            settles_conflict: Some(key),
            refetch: None,
        };
        Planned::Write(ops, Box::new(done))
    }

    pub(super) fn plan_retry(&mut self, seq: u64) -> Planned {
        let effects = self.outbox.retry(seq);
        let (ops, events) = self.effects_to_batch(effects);
        Planned::Write(ops, Box::new(done(WriteReply::Done, events)))
    }

    pub(super) fn plan_discard(&mut self, seq: u64) -> Planned {
        let Some((entry, effects)) = self.outbox.discard(seq) else {
            return Planned::Answer(WriteReply::Discarded(false));
        };
        let (mut ops, mut events) = self.effects_to_batch(effects);
        let (table, id) = (entry.table.clone(), entry.row_id.clone());
        let scope = entry_scope(&self.schema, &entry);
        // A base of version 0 is a row created here that the server had not confirmed: while
        // its creation is still queued it stays, else it goes (the server's copy, if the
        // creation did commit, is read back below).
        let created_here = |base: &Map<String, Value>| base.get("version") == Some(&Value::from(0));
        let creation_queued = (self.outbox.entries())
            .any(|e| e.table == table && e.row_id == id && e.op == Op::Insert);
        match (&entry.op, &entry.base) {
            (Op::Insert, _) => ops.push(StoreOp::DeleteRow {
                table: table.clone(),
                id: id.clone(),
            }),
            (_, Some(base)) if created_here(base) && !creation_queued => {
                ops.push(StoreOp::DeleteRow {
                    table: table.clone(),
                    id: id.clone(),
                })
            }
            (_, Some(base)) => ops.push(StoreOp::PutRow {
                table: table.clone(),
                // The row's other writes still show.
                row: self.outbox.with_later_edits(&entry, base.clone()),
            }),
            _ => {}
        }
        // The base is the server's row as it was when the write was made: pulls skipped the
        // row since and moved on. Its table's next pull for the band reads from the start (the
        // row is read again at once too, but only the stored cursor outlives a reload).
        if !scope.is_empty() {
            ops.push(StoreOp::ForgetCursor {
                table: table.clone(),
                band: scope.clone(),
            });
        }
        events.push(changed(
            &table,
            scope.clone(),
            &id,
            ChangeAction::Update,
            ChangeSource::Local,
        ));
        let mut done = done(WriteReply::Discarded(true), events);
        done.refetch = Some((table, id, scope));
        Planned::Write(ops, Box::new(done))
    }

    /// The band's pending writes are parked, with their rows; its other rows go.
    pub(super) fn plan_purge(&mut self, band: &str, read: ReadResult) -> Planned {
        let schema = &self.schema;
        let in_band = |entry: &Entry| {
            let Ok(spec) = schema.table(&entry.table) else {
                return false;
            };
            let scope_is_band = |row: Option<&Map<String, Value>>| {
                row.and_then(|r| r.get(&spec.scope)).and_then(Value::as_str) == Some(band)
            };
            scope_is_band(Some(&entry.fields)) || scope_is_band(entry.base.as_ref())
        };
        let effects = self.outbox.fail_where(in_band, &not_a_member(band));
        let mut kept: SortedSet<(String, String)> = SortedSet::new();
        for entry in self.outbox.entries() {
            if in_band(entry) {
                kept.insert((entry.table.clone(), entry.row_id.clone()));
            }
        }
        let (mut ops, events) = self.effects_to_batch(effects);
        let ReadResult::BandRows(tables) = read else {
            return Planned::Write(ops, Box::new(done(WriteReply::Purged(Vec::new()), events)));
        };
        let mut purged = Vec::new();
        for (table, ids) in tables {
            let mut deleted = Vec::new();
            for id in ids {
                if kept.contains(&(table.clone(), id.clone())) {
                    continue;
                }
                ops.push(StoreOp::DeleteRow {
                    table: table.clone(),
                    id: id.clone(),
                });
                deleted.push(id);
            }
            let ids = deleted;
            if !ids.is_empty() {
                purged.push((table, ids));
            }
        }
        Planned::Write(ops, Box::new(done(WriteReply::Purged(purged), events)))
    }

    /// Queues a write and plans its commit with the local row in one batch. The new entry's
    /// sequence number comes from the wall clock, salted per tab, above every number this tab
    /// has seen; another tab's entry under the same number fails the batch (entries are added,
    /// never put over another), and the write is queued again under a fresh salt.
    pub(super) fn write_through(
        &mut self,
        queued: Queued,
        attempt: u32,
    ) -> Result<Planned, WriteError> {
        self.outbox
            .raise_seq_floor(queued.wall_ms * SEQ_SALTS + self.salt);
        let mut before: Vec<Entry> = Vec::new();
        for entry in self.outbox.entries() {
            if entry.table == queued.table && entry.row_id == queued.id {
                before.push(entry.clone());
            }
        }
        let effects = self
            .outbox
            .enqueue(
                &queued.table,
                &queued.id,
                queued.op,
                queued.fields.clone(),
                queued.base.clone(),
            )
            .map_err(|WriteRefused::RowDeleted| WriteError::Deleted)?;
        let added = effects.iter().find_map(|effect| match effect {
            Effect::AddEntry(entry) => Some(entry.seq),
            _ => None,
        });
        // How to take the change back if storage refuses it.
        let mut undo = Vec::new();
        for effect in &effects {
            let seq = match effect {
                Effect::AddEntry(entry) | Effect::PutEntry(entry) => entry.seq,
                Effect::RemoveEntry(seq) => *seq,
                _ => continue,
            };
            undo.push((seq, before.iter().find(|e| e.seq == seq).cloned()));
        }
        let withdrawn = queued.op == Op::Delete
            && effects.iter().any(|e| matches!(e, Effect::RemoveEntry(_)))
            && !effects
                .iter()
                .any(|e| matches!(e, Effect::AddEntry(_) | Effect::PutEntry(_)));
        // A row created and deleted before the server saw it goes without a trace.
        let mut ops = vec![if withdrawn {
            StoreOp::DeleteRow {
                table: queued.table.clone(),
                id: queued.id.clone(),
            }
        } else {
            StoreOp::PutRow {
                table: queued.table.clone(),
                row: queued.row.clone(),
            }
        }];
        let (entry_ops, mut events) = self.effects_to_batch(effects);
        ops.extend(entry_ops);
        let action = match queued.op {
            Op::Insert => ChangeAction::Insert,
            Op::Update => ChangeAction::Update,
            Op::Delete => ChangeAction::Delete,
        };
        let scope = scope_of(&self.schema, &queued.table, &queued.row);
        events.push(changed(
            &queued.table,
            scope,
            &queued.id,
            action,
            ChangeSource::Local,
        ));
        let done = Done {
            reply: WriteReply::Row(queued.row.clone()),
            events,
            retry: Some((queued, attempt)),
            added,
            removing: Vec::new(),
            undo,
            settles_conflict: None,
            refetch: None,
        };
        Ok(Planned::Write(ops, Box::new(done)))
    }

    /// The storage changes and app events of outbox effects.
    pub(super) fn effects_to_batch(
        &mut self,
        effects: Vec<Effect>,
    ) -> (Vec<StoreOp>, Vec<WriteEvent>) {
        let mut ops = Vec::new();
        let mut events = Vec::new();
        for effect in effects {
            match effect {
                Effect::AddEntry(entry) => ops.push(StoreOp::AddEntry(entry)),
                // An entry whose creation is still being stored is put again once it is: put
                // now, it would be stored even if its creation is refused.
                Effect::PutEntry(entry) if self.adding == Some(entry.seq) => self.reput = true,
                Effect::PutEntry(entry) => ops.push(StoreOp::PutEntry(entry)),
                Effect::RemoveEntry(seq) => ops.push(StoreOp::RemoveEntry(seq)),
                Effect::StoreServerRow { table, row } | Effect::StoreMergedRow { table, row } => {
                    let scope = scope_of(&self.schema, &table, &row);
                    let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
                    let action = if is_deleted(&row) {
                        ChangeAction::Delete
                    } else {
                        ChangeAction::Update
                    };
                    events.push(changed(&table, scope, id, action, ChangeSource::Server));
                    ops.push(StoreOp::PutRow { table, row });
                }
                Effect::Conflict(record) => {
                    self.conflicted
                        .insert(conflict_key(&record.table, &record.row_id));
                    ops.push(StoreOp::PutConflict(record.clone()));
                    events.push(WriteEvent::Conflict(record));
                }
                Effect::Status {
                    table,
                    row_id,
                    status,
                } => events.push(WriteEvent::Status {
                    table,
                    id: row_id,
                    status,
                }),
                Effect::NeedToken => events.push(WriteEvent::NeedToken),
            }
        }
        (ops, events)
    }
}

/// An edit of the stored row `current`: the local row becomes it with `fields` on top.
fn edit(
    table: String,
    id: String,
    op: Op,
    fields: Map<String, Value>,
    current: Map<String, Value>,
    wall_ms: u64,
) -> Queued {
    let mut row = current.clone();
    row.extend(fields.clone());
    Queued {
        table,
        id,
        op,
        fields,
        base: Some(current),
        row,
        wall_ms,
    }
}

fn done(reply: WriteReply, events: Vec<WriteEvent>) -> Done {
    Done {
        reply,
        events,
        retry: None,
        added: None,
        removing: Vec::new(),
        undo: Vec::new(),
        settles_conflict: None,
        refetch: None,
    }
}

/// The stored row (and its conflict record) a command works on.
fn existing(
    table: &str,
    id: &str,
    read: ReadResult,
) -> Result<(Map<String, Value>, Option<crate::outbox::ConflictRecord>), WriteError> {
    match read {
        ReadResult::Row {
            row: Some(row),
            conflict,
        } => Ok((row, conflict.map(|record| *record))),
        _ => Err(WriteError::NotFound {
            table: table.to_owned(),
            id: id.to_owned(),
        }),
    }
}
