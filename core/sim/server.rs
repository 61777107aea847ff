//! A model of the server with the semantics the write path depends on: PostgREST upserts with
//! ignore-duplicates, updates conditional on the version, the trigger that stamps `version`,
//! `updated_at` and `last_modified_by` (and the server's own `deleted_at`), tombstones, and
//! row security by band membership. Every committed change is recorded, so the checks can
//! tell a write that landed twice from one that never did.

use rockon_sync_core::catchup::{format_micros, parse_micros};
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::value::{json, Map, Value};
use std::collections::BTreeMap;

/// Where a row sorts in a pull: `(updated_at µs, id)`.
type PageKey = (i64, String);

/// One committed field assignment: `(table, row, field, value)`.
pub type Assignment = (String, String, String, Value);

/// The server.
#[derive(Debug, Default)]
pub struct Server {
    /// Table → id → row.
    pub rows: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
    /// Band → members.
    pub members: BTreeMap<String, Vec<String>>,
    /// Every field value a committed insert or update set, in commit order.
    pub history: Vec<Assignment>,
    /// Row changes committed and not yet handed to Realtime: `(table, operation, row)`.
    pub committed: Vec<(String, &'static str, Map<String, Value>)>,
    /// The server's clock (µs since the epoch); every commit advances it.
    clock: i64,
    /// A planted bug: updates ignore the version condition.
    pub unconditional_updates: bool,
}

fn answer(status: u16, body: Value) -> HttpResult {
    HttpResult::Response {
        status,
        body: body.to_string(),
    }
}

/// A column and the values it may have.
type Filter = (String, Vec<String>);

/// `?a=eq.x&b=in.("y","z")` → `[(a, [x]), (b, [y, z])]`.
fn filters(query: &str) -> Vec<Filter> {
    query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let value = percent_decode(value);
            let values = if let Some(one) = value.strip_prefix("eq.") {
                vec![one.to_owned()]
            } else {
                let list = value.strip_prefix("in.(")?.strip_suffix(')')?;
                let items = list
                    .split(',')
                    .map(|item| item.trim_matches('"').to_owned());
                items.collect()
            };
            Some((key.to_owned(), values))
        })
        .collect()
}

impl Server {
    /// A server where `members` are in their bands, starting at `clock` µs.
    pub fn new(members: BTreeMap<String, Vec<String>>, clock: i64) -> Self {
        Self {
            members,
            clock,
            ..Self::default()
        }
    }

    fn is_member(&self, user: &str, band: Option<&str>) -> bool {
        band.and_then(|b| self.members.get(b))
            .is_some_and(|members| members.iter().any(|m| m == user))
    }

    fn visible(&self, user: &str, row: &Map<String, Value>) -> bool {
        self.is_member(user, row.get("band_id").and_then(Value::as_str))
    }

    fn tick(&mut self) -> String {
        self.clock += 1_000;
        format_micros(self.clock)
    }

    /// Serves `request` for `user`; the request commits (or not) when this is called.
    pub fn serve(&mut self, user: &str, request: &HttpRequest) -> HttpResult {
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let Some(table) = path.strip_prefix("/rest/v1/") else {
            return answer(404, json!({ "message": "no such path" }));
        };
        let body: Option<Value> = request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok());
        match (request.method, body) {
            ("POST", Some(Value::Object(row))) => self.insert(user, table, vec![row]),
            ("POST", Some(Value::Array(rows))) => {
                let rows = rows.into_iter().map(|row| match row {
                    Value::Object(row) => Some(row),
                    _ => None,
                });
                match rows.collect() {
                    Some(rows) => self.insert(user, table, rows),
                    None => answer(400, json!({ "message": "not an array of objects" })),
                }
            }
            ("PATCH", Some(Value::Object(patch))) => {
                self.update(user, table, &filters(query), patch)
            }
            ("GET", None) => self.select(user, table, &filters(query)),
            _ => answer(400, json!({ "message": "unsupported request" })),
        }
    }

    /// An upsert with ignore-duplicates of one row or several in one statement: a row the
    /// user may not write refuses them all; those already there are left and not returned;
    /// the rest commit together, with one commit time.
    fn insert(&mut self, user: &str, table: &str, rows: Vec<Map<String, Value>>) -> HttpResult {
        if !rows.iter().all(|row| self.visible(user, row)) {
            return answer(
                403,
                json!({ "code": "42501", "message": "new row violates row-level security policy" }),
            );
        }
        let now = self.tick();
        let mut inserted = Vec::new();
        for mut row in rows {
            let id = row
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if self
                .rows
                .get(table)
                .is_some_and(|rows| rows.contains_key(&id))
            {
                continue;
            }
            for (field, value) in &row {
                self.history
                    .push((table.into(), id.clone(), field.clone(), value.clone()));
            }
            row.insert("version".into(), json!(1));
            row.insert("updated_at".into(), json!(now));
            row.insert("created_at".into(), json!(now));
            row.insert("last_modified_by".into(), json!(user));
            row.entry("deleted_at").or_insert(Value::Null);
            self.rows
                .entry(table.into())
                .or_default()
                .insert(id, row.clone());
            self.committed.push((table.into(), "INSERT", row.clone()));
            inserted.push(Value::Object(row));
        }
        answer(201, Value::Array(inserted))
    }

    fn update(
        &mut self,
        user: &str,
        table: &str,
        filters: &[Filter],
        patch: Map<String, Value>,
    ) -> HttpResult {
        let now = self.tick();
        let unconditional = self.unconditional_updates;
        let visible: Vec<String> = self
            .matching(user, table, filters, unconditional)
            .into_iter()
            .collect();
        let mut changed = Vec::new();
        for id in visible {
            let Some(row) = self.rows.get_mut(table).and_then(|rows| rows.get_mut(&id)) else {
                continue;
            };
            for (field, value) in &patch {
                if field == "deleted_at" {
                    continue;
                }
                self.history
                    .push((table.into(), id.clone(), field.clone(), value.clone()));
                row.insert(field.clone(), value.clone());
            }
            if patch.contains_key("deleted_at") && row.get("deleted_at").is_none_or(Value::is_null)
            {
                // The trigger stamps the server's time on a delete, whatever the device sent.
                row.insert("deleted_at".into(), json!(now));
            }
            let version = row.get("version").and_then(Value::as_i64).unwrap_or(0);
            row.insert("version".into(), json!(version + 1));
            row.insert("updated_at".into(), json!(now));
            row.insert("last_modified_by".into(), json!(user));
            self.committed.push((table.into(), "UPDATE", row.clone()));
            changed.push(Value::Object(row.clone()));
        }
        answer(200, Value::Array(changed))
    }

    /// The ids of the user's visible rows matching every filter (but `version` when
    /// `ignore_version`).
    fn matching(
        &self,
        user: &str,
        table: &str,
        filters: &[Filter],
        ignore_version: bool,
    ) -> Vec<String> {
        let Some(rows) = self.rows.get(table) else {
            return Vec::new();
        };
        rows.iter()
            .filter(|(_, row)| self.visible(user, row))
            .filter(|(_, row)| {
                filters.iter().all(|(key, wanted)| {
                    if ignore_version && key == "version" {
                        return true;
                    }
                    let value = match row.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => return false,
                    };
                    wanted.contains(&value)
                })
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn select(&self, user: &str, table: &str, filters: &[Filter]) -> HttpResult {
        let rows: Vec<Value> = self
            .matching(user, table, filters, false)
            .iter()
            .filter_map(|id| self.rows.get(table)?.get(id).cloned())
            .map(Value::Object)
            .collect();
        answer(200, Value::Array(rows))
    }

    /// Serves `request` like [`serve`](Self::serve), with the reads of the read path too: a
    /// band's rows in pages (keyset after a cursor, `limit`, the count when asked for) and the
    /// user's memberships. The total is the `Content-Range` header's.
    pub fn serve_counted(
        &mut self,
        user: &str,
        request: &HttpRequest,
    ) -> (HttpResult, Option<u64>) {
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let table = path.strip_prefix("/rest/v1/").unwrap_or_default();
        match request.method {
            "GET" if table == "band_memberships" => (self.memberships_of(user), None),
            "GET" if query.contains("order=updated_at.asc") => {
                let (rows, total) = self.page(user, table, query);
                let total = (request.prefer == "count=exact").then_some(total);
                (answer(200, Value::Array(rows)), total)
            }
            _ => (self.serve(user, request), None),
        }
    }

    fn memberships_of(&self, user: &str) -> HttpResult {
        let bands = self
            .members
            .iter()
            .filter(|(_, members)| members.iter().any(|m| m == user));
        let rows = bands.map(|(band, _)| json!({ "band_id": band })).collect();
        answer(200, Value::Array(rows))
    }

    /// A page of a band's rows ordered by `(updated_at, id)`, from `updated_at=gte.` or after
    /// the keyset `or=(updated_at.gt.T,and(updated_at.eq.T,id.gt.I))`, and how many rows match
    /// before the limit.
    fn page(&self, user: &str, table: &str, query: &str) -> (Vec<Value>, u64) {
        let mut limit = usize::MAX;
        let mut since = None;
        let mut after = None;
        for (key, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            let value = percent_decode(value);
            match key {
                "limit" => limit = value.parse().unwrap_or(usize::MAX),
                "updated_at" => since = value.strip_prefix("gte.").and_then(parse_micros),
                "or" => after = keyset(&value),
                _ => {}
            }
        }
        let key = |row: &Map<String, Value>| {
            let text = |field| row.get(field).and_then(Value::as_str).unwrap_or_default();
            (
                parse_micros(text("updated_at")).unwrap_or(0),
                text("id").to_owned(),
            )
        };
        let wanted = filters(query);
        let mut rows: Vec<(PageKey, &Map<String, Value>)> = self
            .matching(user, table, &wanted, false)
            .iter()
            .filter_map(|id| self.rows.get(table)?.get(id))
            .map(|row| (key(row), row))
            .filter(|((at, _), _)| since.is_none_or(|since| *at >= since))
            .filter(|(row_key, _)| after.as_ref().is_none_or(|after| row_key > after))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let total = rows.len() as u64;
        let page = rows.into_iter().take(limit);
        (
            page.map(|(_, row)| Value::Object(row.clone())).collect(),
            total,
        )
    }

    /// The rows `user` may see, per table (a full pull).
    pub fn visible_rows(&self, user: &str) -> Vec<(String, Map<String, Value>)> {
        self.rows
            .iter()
            .flat_map(|(table, rows)| {
                rows.values()
                    .filter(|row| self.visible(user, row))
                    .map(move |row| (table.clone(), row.clone()))
            })
            .collect()
    }
}

/// Undoes `percent_encode`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(updated_at.gt.T,and(updated_at.eq.T,id.gt.I))` → `(T, I)`.
fn keyset(or: &str) -> Option<PageKey> {
    let at = or.split_once("updated_at.gt.")?.1.split(',').next()?;
    let id = or.split_once("id.gt.")?.1.trim_end_matches(')');
    Some((parse_micros(at)?, id.to_owned()))
}
