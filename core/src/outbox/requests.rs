//! What goes to the server next, and what its answers mean for the entries they carried.
//!
//! Pushes go in waves: the wave's requests go out together, and the next wave is chosen once
//! every answer of this one is in. A phone back from a rehearsal room with fifty new songs
//! sends one request, not fifty.

use super::*;
use crate::json_text::json_text;

/// At most this many new rows go in one array upsert: the read that follows an answer
/// missing some of them names each in its URL, which proxies cap at a few kilobytes.
pub const MAX_BATCH_ROWS: usize = 100;
/// At most this many edits of different rows are pushed side by side: a browser opens six
/// connections to one host, and more requests would only queue in it.
pub const MAX_SIDE_BY_SIDE: usize = 6;

/// PostgreSQL's code for a reference to a row that does not exist.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// Tries of a write refused for a reference to a missing row before it is parked.
const AWAIT_REFERENCE_ATTEMPTS: u32 = 5;

/// One request of a wave and the entries it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The entries, in outbox order: several inserts of one table, or one entry.
    pub seqs: Vec<u64>,
    /// The request.
    pub request: HttpRequest,
}

impl Outbox {
    /// The next wave of requests due at `now`; none while a wave is out. A wave is either
    /// - new rows of one table that have the same columns, as one array upsert (of at most
    ///   [`MAX_BATCH_ROWS`]); or
    /// - edits (updates, deletes) of up to [`MAX_SIDE_BY_SIDE`] different rows, side by side.
    ///
    /// Walking each row's next entry in outbox order, an edit never passes a new row made
    /// before it (it may refer to it), so a wave of edits ends at the first insert. A new
    /// row may pass earlier edits of other rows: it depends on none of them. New rows of one
    /// table in one statement may refer to each other: the database checks references at the
    /// statement's end. A batch never passes a new row of another table; it passes new rows
    /// of its own table with other columns (a missing column would be sent as null, not as
    /// its default), which go in the next wave: should one of its rows refer to one of those,
    /// the server's foreign-key refusal is retried (see `complete`). An insert the server
    /// refused in a batch goes alone (see `solo`).
    ///
    /// On an entry's first send (`attempts` becomes 1) the driver must persist the entry
    /// ([`entry`](Self::entry)) before sending: from then on the write may be on the server,
    /// and a reloaded outbox must know it (a later edit must not coalesce into it, a later
    /// delete must not cancel it).
    pub fn next_wave(&mut self, now: Millis) -> Vec<Push> {
        if self.held || !self.in_flight.is_empty() || self.paused_until.is_some_and(|t| t > now) {
            return Vec::new();
        }
        let mut due: Vec<&Entry> = Vec::new();
        for entry in self.candidates() {
            if self.retry_at.get(&entry.seq).is_none_or(|t| *t <= now) {
                due.push(entry);
            }
        }
        let Some(first) = due.first() else {
            return Vec::new();
        };
        let mut chosen: Vec<Vec<u64>> = Vec::new();
        if first.op != Op::Insert {
            for entry in &due {
                if entry.op == Op::Insert || chosen.len() == MAX_SIDE_BY_SIDE {
                    break;
                }
                chosen.push(vec![entry.seq]);
            }
        } else if self.solo.contains(&first.seq) {
            chosen.push(vec![first.seq]);
        } else {
            // The same columns, in whatever order they were set.
            let same_columns = |entry: &Entry| {
                entry.fields.len() == first.fields.len()
                    && entry
                        .fields
                        .keys()
                        .all(|key| first.fields.contains_key(key))
            };
            let mut batch = Vec::new();
            for entry in &due {
                if entry.op != Op::Insert {
                    continue;
                }
                if entry.table != first.table || batch.len() == MAX_BATCH_ROWS {
                    break;
                }
                if same_columns(entry) && !self.solo.contains(&entry.seq) {
                    batch.push(entry.seq);
                }
            }
            chosen.push(batch);
        }
        let mut pushes = Vec::with_capacity(chosen.len());
        for seqs in chosen {
            let mut entries = Vec::with_capacity(seqs.len());
            for seq in &seqs {
                self.retry_at.remove(seq);
                self.in_flight.insert(*seq, Flight::Push);
                if let Some(entry) = self.entries.get_mut(seq) {
                    entry.attempts += 1;
                }
            }
            for seq in &seqs {
                entries.extend(self.entry(*seq));
            }
            let request = push_request(&entries);
            pushes.push(Push { seqs, request });
        }
        pushes
    }

    /// Gives back the requests just taken for `seqs` unsent (the driver could not record that
    /// they are being sent): they are due again after the usual backoff, and still count as
    /// never sent.
    pub fn abandon(&mut self, now: Millis, seqs: &[u64]) {
        let delay = self.backoff.delay(1, &mut self.rng);
        for seq in seqs {
            if self.in_flight.get(seq) != Some(&Flight::Push) {
                continue;
            }
            self.in_flight.remove(seq);
            if let Some(entry) = self.entries.get_mut(seq) {
                entry.attempts = entry.attempts.saturating_sub(1);
                self.retry_at.insert(*seq, now + delay);
                self.paused_until = Some(now + delay);
            }
        }
    }

    /// Reports the answer to the request that carried `seqs`; returns the effects and, when
    /// the answer left some entries' rows out (an insert that already existed, an update that
    /// matched nothing), the GET of those rows to send next.
    pub fn complete(
        &mut self,
        now: Millis,
        seqs: &[u64],
        result: HttpResult,
        table: &TableSchema,
    ) -> (Vec<Effect>, Option<Push>) {
        let mut kind = Flight::Push;
        let mut entries = Vec::new();
        for seq in seqs {
            let (Some(flight), Some(entry)) = (self.in_flight.remove(seq), self.entries.get(seq))
            else {
                continue;
            };
            kind = flight;
            entries.push(entry.clone());
        }
        if entries.is_empty() {
            return (Vec::new(), None);
        }
        let (status, body) = match result {
            HttpResult::NetworkError(message) => {
                return (self.retry_all(now, &entries, 0, &message), None);
            }
            HttpResult::Response { status, body } => (status, body),
        };
        if !(200..=299).contains(&status) {
            return (self.refused(now, kind, &entries, status, &body), None);
        }
        // An answer that cannot be read says nothing of the rows: ask again later.
        match server_rows(&body) {
            Some(rows) => self.answered(now, kind, &entries, rows, table),
            None => {
                let message = "the server's answer could not be read";
                (self.retry_all(now, &entries, status, message), None)
            }
        }
    }

    /// What an answer other than 2xx does to the entries its request carried.
    fn refused(
        &mut self,
        now: Millis,
        kind: Flight,
        entries: &[Entry],
        status: u16,
        body: &str,
    ) -> Vec<Effect> {
        match status {
            401 => {
                self.held = true;
                let mut effects = vec![Effect::NeedToken];
                for entry in entries {
                    effects.extend(self.status_effect(entry));
                }
                effects
            }
            408 | 429 | 500..=599 => self.retry_all(now, entries, status, &message_of(body)),
            // A row it refers to is not on the server yet (it may be on its way, from this
            // outbox or another device's): a few tries before it is parked.
            409 if entries.len() == 1
                && code_of(body).as_deref() == Some(FOREIGN_KEY_VIOLATION)
                && entries[0].attempts < AWAIT_REFERENCE_ATTEMPTS =>
            {
                self.retry_all(now, entries, status, &message_of(body))
            }
            // The statement failed as a whole: one row may be at fault. Each goes alone next.
            _ if kind == Flight::Push && entries.len() > 1 => {
                for entry in entries {
                    self.solo.insert(entry.seq);
                }
                let mut effects = Vec::new();
                for entry in entries {
                    effects.extend(self.status_effect(entry));
                }
                effects
            }
            _ => {
                let mut effects = Vec::new();
                for entry in entries {
                    effects.extend(self.park(entry, status, body));
                }
                effects
            }
        }
    }

    /// The rows of a 2xx answer settle the entries they belong to (matched by id when the
    /// request carried several); the rest are read next, or, for a read, resolved as absent.
    fn answered(
        &mut self,
        now: Millis,
        kind: Flight,
        entries: &[Entry],
        mut rows: Vec<Map<String, Value>>,
        table: &TableSchema,
    ) -> (Vec<Effect>, Option<Push>) {
        let single = entries.len() == 1;
        let mut effects = Vec::new();
        let mut missing = Vec::new();
        for entry in entries {
            let at = rows.iter().position(|row| {
                single || row.get("id").and_then(Value::as_str) == Some(entry.row_id.as_str())
            });
            let row = at.map(|at| rows.swap_remove(at));
            match (kind, row) {
                (Flight::Push, Some(server_row)) => effects.extend(self.settle(entry, server_row)),
                // Nothing matched: an insert that already existed, or someone else's change.
                (Flight::Push, None) => missing.push(entry),
                (Flight::Fetch, remote) => effects.extend(self.resolve(now, entry, remote, table)),
            }
        }
        if missing.is_empty() {
            return (effects, None);
        }
        for entry in &missing {
            self.in_flight.insert(entry.seq, Flight::Fetch);
            effects.extend(self.status_effect(entry));
        }
        let mut seqs = Vec::with_capacity(missing.len());
        for entry in &missing {
            seqs.push(entry.seq);
        }
        let fetch = Push {
            seqs,
            request: HttpRequest::get(fetch_path(&missing)),
        };
        (effects, Some(fetch))
    }

    /// Schedules the entries of one request to go again, together: one delay for all (drawn
    /// for the most tried), so a batch that failed is sent again as one batch.
    pub(super) fn retry_all(
        &mut self,
        now: Millis,
        entries: &[Entry],
        status: u16,
        message: &str,
    ) -> Vec<Effect> {
        let attempts = entries
            .iter()
            .map(|entry| entry.attempts)
            .max()
            .unwrap_or(0);
        let due = now + self.backoff.delay(attempts.max(1), &mut self.rng);
        self.paused_until = Some(due);
        let mut effects = Vec::new();
        for entry in entries {
            self.retry_at.insert(entry.seq, due);
            if let Some(stored) = self.entries.get_mut(&entry.seq) {
                stored.last_error = Some(PushError {
                    status,
                    code: None,
                    message: message.to_owned(),
                });
                effects.push(Effect::PutEntry(stored.clone()));
            }
            effects.extend(self.status_effect(entry));
        }
        effects
    }

    pub(super) fn park(&mut self, entry: &Entry, status: u16, body: &str) -> Vec<Effect> {
        let error = PushError {
            status,
            code: code_of(body),
            message: message_of(body),
        };
        let stored = self.entries.get_mut(&entry.seq).expect("entry in outbox");
        stored.failed = Some(error);
        let stored = stored.clone();
        let mut effects = vec![Effect::PutEntry(stored)];
        effects.extend(self.status_effect(entry));
        effects
    }

    pub(super) fn status_effect(&self, entry: &Entry) -> Option<Effect> {
        Some(Effect::Status {
            table: entry.table.clone(),
            row_id: entry.row_id.clone(),
            status: self.status(&entry.table, &entry.row_id),
        })
    }
}

/// The rows of a 2xx answer: a JSON array of objects, or nothing readable.
fn server_rows(body: &str) -> Option<Vec<Map<String, Value>>> {
    crate::fields::objects(body).ok()
}

/// The request that pushes `entries`: one entry, or several inserts of one table.
fn push_request(entries: &[&Entry]) -> HttpRequest {
    let Some(entry) = entries.first() else {
        return HttpRequest::get(String::new());
    };
    let id = percent_encode(&entry.row_id);
    let table = &entry.table;
    let conditional = |version: Option<i64>| match version {
        Some(v) => format!("/rest/v1/{table}?id=eq.{id}&version=eq.{v}"),
        None => format!("/rest/v1/{table}?id=eq.{id}"),
    };
    let fields = |entry: &&Entry| Value::Object(entry.fields.clone());
    match entry.op {
        // ignore-duplicates: a retry of an insert that did land changes nothing (no version
        // bump); a row missing from the answer leads to a GET of it.
        Op::Insert => {
            let body = match entries {
                [one] => fields(one),
                many => {
                    let mut rows = Vec::with_capacity(many.len());
                    for entry in many {
                        rows.push(fields(entry));
                    }
                    Value::Array(rows)
                }
            };
            HttpRequest {
                method: "POST",
                path: format!("/rest/v1/{table}?on_conflict=id"),
                prefer: "return=representation,resolution=ignore-duplicates",
                body: Some(json_text(&body)),
            }
        }
        Op::Update => HttpRequest {
            method: "PATCH",
            path: conditional(entry.base_version()),
            prefer: "return=representation",
            body: Some(json_text(&fields(entry))),
        },
        // The server's trigger replaces the device time with its own clock.
        Op::Delete => HttpRequest {
            method: "PATCH",
            path: conditional(entry.base_version()),
            prefer: "return=representation",
            body: Some(r#"{"deleted_at":"1970-01-01T00:00:00Z"}"#.to_owned()),
        },
    }
}

/// The GET of the rows of `entries` (of one table): `id=eq.` for one, `id=in.(…)` for more,
/// each id quoted so a comma in one cannot split it.
fn fetch_path(entries: &[&Entry]) -> String {
    let table = entries.first().map_or("", |entry| entry.table.as_str());
    let filter = match entries {
        [one] => format!("eq.{}", percent_encode(&one.row_id)),
        many => {
            let mut quoted = String::new();
            for entry in many {
                if !quoted.is_empty() {
                    quoted.push(',');
                }
                let id = entry.row_id.replace('\\', "\\\\").replace('"', "\\\"");
                quoted.push_str(&percent_encode(&format!("\"{id}\"")));
            }
            format!("in.({quoted})")
        }
    };
    format!("/rest/v1/{table}?id={filter}&select=*")
}

/// PostgREST's or PostgreSQL's error code in an error body.
fn code_of(body: &str) -> Option<String> {
    let parsed = crate::json_read::parse(body).ok()?;
    parsed.get("code")?.as_str().map(str::to_owned)
}

fn message_of(body: &str) -> String {
    crate::json_read::parse(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
