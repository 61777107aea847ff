//! The app's commands: each reads what it needs, then writes one batch, then answers.

use super::*;

impl WriteEngine {
    /// Starts the next command unless one runs.
    pub(super) fn next_command(&mut self) {
        while self.running.is_none() && self.deferred.is_none() && !self.resyncing() {
            let Some((command, body, wall_ms)) = self.commands.pop_front() else {
                return;
            };
            if self.stopped {
                self.reply(command, Err(closed()));
                continue;
            }
            self.start_command(command, body, wall_ms);
        }
    }

    fn start_command(&mut self, command: CommandId, body: WriteCommand, wall_ms: u64) {
        let read = match &body {
            WriteCommand::Update { table, id, .. } | WriteCommand::Remove { table, id } => {
                StoreRead::Row {
                    table: table.clone(),
                    id: id.clone(),
                    with_conflict: false,
                }
            }
            WriteCommand::Resolve { table, id, .. } => StoreRead::Row {
                table: table.clone(),
                id: id.clone(),
                with_conflict: true,
            },
            WriteCommand::PurgeBand { band } => StoreRead::BandRows { band: band.clone() },
            WriteCommand::Create { .. }
            | WriteCommand::Acknowledge { .. }
            | WriteCommand::Retry { .. }
            | WriteCommand::Discard { .. } => {
                let planned = self.plan_unread(body, wall_ms);
                return self.carry_out(command, planned);
            }
        };
        if let Err(error) = self.check_table(&body) {
            return self.reply(command, Err(error));
        }
        let op = self.read(read);
        self.running = Some(Running::Reading {
            op,
            command,
            body,
            wall_ms,
        });
    }

    fn check_table(&self, body: &WriteCommand) -> Result<(), WriteError> {
        match body {
            WriteCommand::Update { table, .. }
            | WriteCommand::Remove { table, .. }
            | WriteCommand::Resolve { table, .. } => self.schema.table(table).map(|_| ()),
            _ => Ok(()),
        }
        .map_err(WriteError::from)
    }

    /// Plans a command that reads nothing.
    fn plan_unread(&mut self, body: WriteCommand, wall_ms: u64) -> Result<Planned, WriteError> {
        match body {
            WriteCommand::Create {
                table,
                values,
                new_id,
            } => self.plan_create(table, values, new_id, wall_ms),
            WriteCommand::Acknowledge { table, id } => Ok(self.plan_acknowledge(table, id)),
            WriteCommand::Retry { seq } => Ok(self.plan_retry(seq)),
            WriteCommand::Discard { seq } => Ok(self.plan_discard(seq)),
            body => Err(out_of_order(&body)),
        }
    }

    /// Runs a command with what it read.
    pub(super) fn continue_command(
        &mut self,
        command: CommandId,
        body: WriteCommand,
        wall_ms: u64,
        read: Result<ReadResult, StoreError>,
    ) {
        let read = match read {
            Ok(read) => read,
            Err(error) => return self.carry_out(command, Err(error.into())),
        };
        let planned = match body {
            WriteCommand::Update { table, id, patch } => {
                self.plan_update(table, id, patch, read, wall_ms)
            }
            WriteCommand::Remove { table, id } => self.plan_remove(table, id, read, wall_ms),
            WriteCommand::Resolve {
                table,
                id,
                resolution,
            } => self.plan_resolve(table, id, resolution, read, wall_ms),
            WriteCommand::PurgeBand { band } => Ok(self.plan_purge(&band, read)),
            body => self.plan_unread(body, wall_ms),
        };
        self.carry_out(command, planned);
    }

    /// Writes a planned batch, or answers at once.
    fn carry_out(&mut self, command: CommandId, planned: Result<Planned, WriteError>) {
        match planned {
            Ok(Planned::Write(ops, mut done)) => {
                done.removing = push::removed_entries(&ops);
                self.adding = done.added;
                let op = self.write(ops);
                self.running = Some(Running::Writing { op, command, done });
            }
            Ok(Planned::Answer(reply)) => self.reply(command, Ok(reply)),
            Err(error) => self.reply(command, Err(error)),
        }
        self.next_command();
    }

    /// The batch of a command committed (or not): tell the app, answer, start the next.
    pub(super) fn command_written(
        &mut self,
        command: CommandId,
        done: Done,
        result: Result<(), StoreError>,
    ) {
        self.adding = None;
        let reput = std::mem::take(&mut self.reput);
        match result {
            Ok(()) => {
                if let Some(key) = &done.settles_conflict {
                    self.conflicted.remove(key);
                }
                let changed = done.added.and_then(|seq| self.outbox.entry(seq).cloned());
                if let Some(entry) = changed.filter(|_| reput) {
                    self.write(vec![StoreOp::PutEntry(entry)]);
                }
                for event in done.events {
                    self.emit(event);
                }
                if let Some((table, id, scope)) = done.refetch {
                    self.outputs
                        .push_back(WriteOutput::Refetch { table, id, scope });
                }
                self.reply(command, Ok(done.reply));
            }
            Err(StoreError::KeyTaken(_))
                if done
                    .retry
                    .as_ref()
                    .is_some_and(|(_, n)| *n < KEY_TAKEN_RETRIES) =>
            {
                // Another tab took the sequence number in the same millisecond: nothing was
                // written; queue the write again under a fresh salt.
                self.outbox.undo(done.undo);
                let (queued, attempt) = done.retry.expect("checked above");
                self.salt = self.rng.up_to(SEQ_SALTS - 1);
                let planned = self.write_through(queued, attempt + 1);
                return self.carry_out(command, planned);
            }
            Err(error) => {
                // A pull may have skipped the row while the refused edit was in memory.
                let added = done.added.and_then(|seq| self.outbox.entry(seq));
                if let Some(entry) = added {
                    let (table, id) = (entry.table.clone(), entry.row_id.clone());
                    let scope = entry_scope(&self.schema, entry);
                    self.outputs
                        .push_back(WriteOutput::Refetch { table, id, scope });
                }
                if done.undo.is_empty() {
                    // The outbox in memory is ahead of storage: take back what was committed,
                    // keeping its conflict policy, backoff and follower mode.
                    self.outbox.unforget(&done.removing);
                    self.start_reload(None, true);
                } else {
                    // Exactly what this write changed goes back.
                    self.outbox.undo(done.undo);
                }
                self.emit(WriteEvent::Error {
                    code: error.code(),
                    message: error.to_string(),
                });
                self.reply(command, Err(WriteError::Store(error)));
            }
        }
        self.next_command();
    }
}

/// A reading command planned without its read: a bug, reported rather than panicking.
fn out_of_order(body: &WriteCommand) -> WriteError {
    let name = match body {
        WriteCommand::Create { .. } => "create",
        WriteCommand::Update { .. } => "update",
        WriteCommand::Remove { .. } => "remove",
        WriteCommand::Resolve { .. } => "resolve",
        WriteCommand::Acknowledge { .. } => "acknowledge",
        WriteCommand::Retry { .. } => "retry",
        WriteCommand::Discard { .. } => "discard",
        WriteCommand::PurgeBand { .. } => "purge",
    };
    WriteError::Store(StoreError::Failed(format!(
        "{name} planned without its read"
    )))
}
