//! Typed payloads of the Supabase Realtime messages: join configuration, replies, system
//! messages, postgres changes, presence and broadcast.

use super::commit_time::CommitTime;
use super::record::Record;
use crate::fields::{object, Fields};
use crate::json_text::json_text;
use crate::value::{Map, Value};
use std::fmt;
use std::rc::Rc;

/// Which row events a postgres_changes binding listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChangeFilterEvent {
    /// Every event.
    #[default]
    All,
    /// Only inserts.
    Insert,
    /// Only updates.
    Update,
    /// Only deletes.
    Delete,
}

impl ChangeFilterEvent {
    /// Every filter, by its name on the wire.
    pub const NAMED: [(&'static str, ChangeFilterEvent); 4] = [
        ("*", ChangeFilterEvent::All),
        ("INSERT", ChangeFilterEvent::Insert),
        ("UPDATE", ChangeFilterEvent::Update),
        ("DELETE", ChangeFilterEvent::Delete),
    ];

    fn matches(self, kind: ChangeKind) -> bool {
        matches!(
            (self, kind),
            (ChangeFilterEvent::All, _)
                | (ChangeFilterEvent::Insert, ChangeKind::Insert)
                | (ChangeFilterEvent::Update, ChangeKind::Update)
                | (ChangeFilterEvent::Delete, ChangeKind::Delete)
        )
    }
}

/// One `postgres_changes` entry of a join: a table, and optionally one filter
/// (`column=op.value`, op in eq, neq, lt, lte, gt, gte, in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresBinding {
    /// Which events to receive.
    pub event: ChangeFilterEvent,
    /// Database schema, usually `public`.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Row filter such as `band_id=eq.<uuid>`.
    pub filter: Option<String>,
}

impl PostgresBinding {
    /// The binding as a join sends it: `{ event, schema, table, filter? }`.
    pub fn to_json(&self) -> Value {
        let named = ChangeFilterEvent::NAMED.iter();
        let event = named.clone().find(|(_, event)| *event == self.event);
        let mut binding = Map::new();
        binding.insert("event".into(), event.map_or("*", |(name, _)| name).into());
        binding.insert("schema".into(), self.schema.clone().into());
        binding.insert("table".into(), self.table.clone().into());
        if let Some(filter) = &self.filter {
            binding.insert("filter".into(), filter.clone().into());
        }
        Value::Object(binding)
    }

    /// All events of `public.<table>` whose `column` equals `value`.
    pub fn table_eq(table: &str, column: &str, value: &str) -> Self {
        Self {
            event: ChangeFilterEvent::All,
            schema: "public".into(),
            table: table.into(),
            filter: Some(format!("{column}=eq.{value}")),
        }
    }

    /// Reads a binding from its JSON shape, `{ event, schema, table, filter? }` (as the
    /// client sends it in a join); `what` names it in errors.
    pub fn from_json(value: &Value, what: &str) -> Result<Self, String> {
        let binding = Fields::of(value, what)?;
        Ok(Self {
            event: binding
                .opt_choice("event", &ChangeFilterEvent::NAMED)?
                .ok_or_else(|| format!("{what}.event is required"))?,
            schema: binding.string("schema")?,
            table: binding.string("table")?,
            filter: binding.opt_string("filter")?,
        })
    }
}

/// What a channel asks of the server when it joins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelConfig {
    /// Row changes to receive.
    pub postgres_changes: Vec<PostgresBinding>,
    /// Whether presence is enabled, and the key this client tracks under (empty: server picks).
    pub presence: Option<String>,
    /// Receive this client's own broadcasts.
    pub broadcast_self: bool,
    /// Ask the server to acknowledge broadcasts.
    pub broadcast_ack: bool,
    /// A private channel (authorized by RLS on `realtime.messages`).
    pub private: bool,
    /// Row changes arrive as Broadcast from Database messages (`realtime.broadcast_changes`)
    /// rather than through `postgres_changes` bindings: such broadcasts become
    /// [`Event::Change`](super::Event::Change), and a channel without bindings counts as
    /// subscribed (and catches up) once its join is accepted, since the server delivers the
    /// topic's messages from then on.
    pub database_broadcasts: bool,
}

impl ChannelConfig {
    /// Reads a configuration from its JSON shape: `{ postgresChanges?: [{ event, schema,
    /// table, filter? }], presence?, broadcastSelf?, broadcastAck?, private?,
    /// databaseBroadcasts? }`. The error names the first field that is wrong.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let config = Fields::of(value, "config")?;
        let postgres_changes = match config.opt_array("postgresChanges")? {
            None => Vec::new(),
            Some(bindings) => {
                let mut parsed = Vec::with_capacity(bindings.len());
                for (at, binding) in bindings.iter().enumerate() {
                    let what = format!("config.postgresChanges[{at}]");
                    parsed.push(PostgresBinding::from_json(binding, &what)?);
                }
                parsed
            }
        };
        Ok(Self {
            postgres_changes,
            presence: config.opt_string("presence")?,
            broadcast_self: config.flag("broadcastSelf")?,
            broadcast_ack: config.flag("broadcastAck")?,
            private: config.flag("private")?,
            database_broadcasts: config.flag("databaseBroadcasts")?,
        })
    }

    /// The `phx_join` payload carrying `access_token`.
    pub fn join_payload(&self, access_token: &str) -> Value {
        let mut bindings = Vec::with_capacity(self.postgres_changes.len());
        for binding in &self.postgres_changes {
            bindings.push(binding.to_json());
        }
        let broadcast = vec![
            ("ack", self.broadcast_ack.into()),
            ("self", self.broadcast_self.into()),
        ];
        let presence = vec![
            ("key", self.presence.clone().unwrap_or_default().into()),
            ("enabled", self.presence.is_some().into()),
        ];
        let config = vec![
            ("broadcast", object(broadcast)),
            ("presence", object(presence)),
            ("postgres_changes", Value::Array(bindings)),
            ("private", self.private.into()),
        ];
        object(vec![
            ("config", object(config)),
            ("access_token", access_token.into()),
        ])
    }
}

/// The status of a `phx_reply`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `{"status":"ok","response":…}`.
    Ok(Value),
    /// `{"status":"error","response":…}`; the reason is `response.reason` when present.
    Error(String),
}

impl Reply {
    /// Reads a `phx_reply` payload.
    pub fn parse(payload: &Value) -> Result<Reply, PayloadError> {
        let status = payload
            .get("status")
            .and_then(Value::as_str)
            .ok_or(PayloadError::new("phx_reply", "missing status"))?;
        let response = payload.get("response").cloned().unwrap_or(Value::Null);
        match status {
            "ok" => Ok(Reply::Ok(response)),
            _ => {
                let reason = response
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{status}: {}", json_text(&response)));
                Ok(Reply::Error(reason))
            }
        }
    }
}

/// Reads the binding ids from a successful join reply, checking that the server echoed the
/// client's bindings in the same order (realtime-js fails the channel on any difference).
pub fn binding_ids(
    response: &Value,
    requested: &[PostgresBinding],
) -> Result<Vec<u64>, ChannelErrorCause> {
    let echoed = match response.get("postgres_changes") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(ChannelErrorCause::BindingMismatch),
    };
    if echoed.len() != requested.len() {
        return Err(ChannelErrorCause::BindingMismatch);
    }
    let mut ids = Vec::with_capacity(echoed.len());
    for (want, got) in requested.iter().zip(echoed) {
        let id = got.get("id").and_then(Value::as_u64);
        let same = got.get("event").and_then(Value::as_str) == Some(event_name(want.event))
            && got.get("schema").and_then(Value::as_str) == Some(want.schema.as_str())
            && got.get("table").and_then(Value::as_str) == Some(want.table.as_str())
            && got.get("filter").and_then(Value::as_str) == want.filter.as_deref();
        match (same, id) {
            (true, Some(id)) => ids.push(id),
            _ => return Err(ChannelErrorCause::BindingMismatch),
        }
    }
    Ok(ids)
}

fn event_name(event: ChangeFilterEvent) -> &'static str {
    match event {
        ChangeFilterEvent::All => "*",
        ChangeFilterEvent::Insert => "INSERT",
        ChangeFilterEvent::Update => "UPDATE",
        ChangeFilterEvent::Delete => "DELETE",
    }
}

/// Why a channel is not (or no longer) receiving changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelErrorCause {
    /// The access token has expired: set a new one; the channel rejoins by itself.
    TokenExpired(String),
    /// The token is malformed, badly signed or lacks claims: set a valid one.
    InvalidToken(String),
    /// The user may not read this topic. The channel stops; retrying will not help.
    Unauthorized(String),
    /// Too many channels, joins or connections: the channel retries with backoff.
    RateLimited(String),
    /// The server is restarting: the channel retries with backoff.
    ServerRestarting(String),
    /// The server could not start the database subscription (bad filter, table not published,
    /// database unreachable): the channel is open but dead, and retries with backoff.
    PostgresChanges(String),
    /// The server's bindings differ from the requested ones. The channel stops.
    BindingMismatch,
    /// No reply within the push timeout: the channel retries with backoff.
    Timeout,
    /// The server no longer knows the topic ("unmatched topic"): the channel rejoins.
    UnmatchedTopic,
    /// The server crashed the channel (`phx_error`) or sent an unknown error: retried with backoff.
    Server(String),
}

/// What the engine does about a [`ChannelErrorCause`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Waits for [`set_token`](super::Realtime::set_token), then rejoins.
    NeedToken,
    /// Rejoins after a backoff delay.
    Backoff,
    /// Gives up on the channel.
    Stop,
}

impl Recovery {
    /// The name the app sees.
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::NeedToken => "needToken",
            Recovery::Backoff => "backoff",
            Recovery::Stop => "stop",
        }
    }
}

impl ChannelErrorCause {
    /// Classifies a join error reason (`"<Code>: <message>"`) as the real server words it.
    pub fn from_reason(reason: &str) -> Self {
        let owned = reason.to_owned();
        let code = reason.split(':').next().unwrap_or("").trim_ascii();
        if crate::mentions(reason, "Token has expired") {
            return ChannelErrorCause::TokenExpired(owned);
        }
        match code {
            "InvalidJWTToken" | "MalformedJWT" | "JwtSignatureError" => {
                ChannelErrorCause::InvalidToken(owned)
            }
            "Unauthorized" => ChannelErrorCause::Unauthorized(owned),
            "ChannelRateLimitReached"
            | "ClientJoinRateLimitReached"
            | "ConnectionRateLimitReached"
            | "TooManyJoins"
            | "TooManyChannels" => ChannelErrorCause::RateLimited(owned),
            "RealtimeRestarting" => ChannelErrorCause::ServerRestarting(owned),
            _ if reason == "unmatched topic" => ChannelErrorCause::UnmatchedTopic,
            _ => ChannelErrorCause::Server(owned),
        }
    }

    /// What the engine does next.
    pub fn recovery(&self) -> Recovery {
        match self {
            ChannelErrorCause::TokenExpired(_) | ChannelErrorCause::InvalidToken(_) => {
                Recovery::NeedToken
            }
            ChannelErrorCause::Unauthorized(_) | ChannelErrorCause::BindingMismatch => {
                Recovery::Stop
            }
            ChannelErrorCause::RateLimited(_)
            | ChannelErrorCause::ServerRestarting(_)
            | ChannelErrorCause::PostgresChanges(_)
            | ChannelErrorCause::Timeout
            | ChannelErrorCause::UnmatchedTopic
            | ChannelErrorCause::Server(_) => Recovery::Backoff,
        }
    }

    /// A stable machine-readable name, e.g. for the `code` of a JS error.
    pub fn code(&self) -> &'static str {
        match self {
            ChannelErrorCause::TokenExpired(_) => "token_expired",
            ChannelErrorCause::InvalidToken(_) => "invalid_token",
            ChannelErrorCause::Unauthorized(_) => "unauthorized",
            ChannelErrorCause::RateLimited(_) => "rate_limited",
            ChannelErrorCause::ServerRestarting(_) => "server_restarting",
            ChannelErrorCause::PostgresChanges(_) => "postgres_changes_failed",
            ChannelErrorCause::BindingMismatch => "binding_mismatch",
            ChannelErrorCause::Timeout => "timeout",
            ChannelErrorCause::UnmatchedTopic => "unmatched_topic",
            ChannelErrorCause::Server(_) => "server_error",
        }
    }
}

impl fmt::Display for ChannelErrorCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelErrorCause::TokenExpired(m)
            | ChannelErrorCause::InvalidToken(m)
            | ChannelErrorCause::Unauthorized(m)
            | ChannelErrorCause::RateLimited(m)
            | ChannelErrorCause::ServerRestarting(m)
            | ChannelErrorCause::PostgresChanges(m)
            | ChannelErrorCause::Server(m) => write!(f, "{}: {m}", self.code()),
            _ => f.write_str(self.code()),
        }
    }
}

/// A `system` message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemMessage {
    /// `postgres_changes` or `system`.
    pub extension: String,
    /// `ok` or `error`.
    pub ok: bool,
    /// Human-readable text, e.g. "Subscribed to PostgreSQL".
    pub message: String,
}

impl SystemMessage {
    /// Reads a `system` payload.
    pub fn parse(payload: &Value) -> Result<Self, PayloadError> {
        let text = |key: &str| payload.get(key).and_then(Value::as_str).unwrap_or("");
        if !payload.is_object() {
            return Err(PayloadError::new("system", "payload is not an object"));
        }
        Ok(SystemMessage {
            extension: text("extension").to_owned(),
            ok: text("status") == "ok",
            message: text("message").to_owned(),
        })
    }
}

/// The kind of row change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new row.
    Insert,
    /// A changed row.
    Update,
    /// A deleted row.
    Delete,
}

impl ChangeKind {
    /// The kind a change's `type` (or a broadcast's `operation`) names, if any.
    pub fn from_name(name: &str) -> Option<ChangeKind> {
        match name {
            "INSERT" => Some(ChangeKind::Insert),
            "UPDATE" => Some(ChangeKind::Update),
            "DELETE" => Some(ChangeKind::Delete),
            _ => None,
        }
    }

    /// `INSERT`, `UPDATE` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Update => "UPDATE",
            ChangeKind::Delete => "DELETE",
        }
    }
}

/// A row change delivered by `postgres_changes`.
///
/// Its names and binding ids are shared (`Rc`): a driver that routes frames itself hands every
/// change of a table the same ones, without a copy per change.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresChange {
    /// The channel topic it arrived on.
    pub topic: Rc<str>,
    /// The binding ids the server matched.
    pub binding_ids: Rc<[u64]>,
    /// Database schema.
    pub schema: Rc<str>,
    /// Table name.
    pub table: Rc<str>,
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// Server commit time, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub commit_timestamp: CommitTime,
    /// The new row (inserts and updates), absent when the payload was too large.
    pub record: Option<Record>,
    /// The old row (updates and deletes); with RLS on, only the primary key.
    pub old_record: Option<Record>,
    /// Errors the server attached, e.g. `Error 413: Payload Too Large`.
    pub errors: Vec<String>,
}

impl PostgresChange {
    /// Reads a `postgres_changes` payload `{"ids":[…],"data":{…}}`.
    pub fn parse(topic: &str, payload: &Value) -> Result<Self, PayloadError> {
        let bad = |what| PayloadError::new("postgres_changes", what);
        let ids = payload
            .get("ids")
            .and_then(Value::as_array)
            .ok_or(bad("missing ids"))?;
        let mut binding_ids = Vec::with_capacity(ids.len());
        for id in ids {
            binding_ids.push(id.as_u64().ok_or(bad("ids must be integers"))?);
        }
        let data = payload.get("data").ok_or(bad("missing data"))?;
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        let kind = match data.get("type").and_then(Value::as_str) {
            Some("INSERT") => ChangeKind::Insert,
            Some("UPDATE") => ChangeKind::Update,
            Some("DELETE") => ChangeKind::Delete,
            _ => return Err(bad("type must be INSERT, UPDATE or DELETE")),
        };
        let object = |key: &str| match data.get(key) {
            Some(Value::Object(map)) => Ok(Some(Record::from_map(map))),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(bad("record and old_record must be objects")),
        };
        let errors = match data.get("errors") {
            Some(Value::Array(list)) => {
                let mut errors = Vec::with_capacity(list.len());
                for error in list {
                    errors.push(
                        error
                            .as_str()
                            .map_or_else(|| json_text(error), str::to_owned),
                    );
                }
                errors
            }
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(PostgresChange {
            topic: topic.into(),
            binding_ids: binding_ids.into(),
            schema: text("schema").ok_or(bad("missing schema"))?.into(),
            table: text("table").ok_or(bad("missing table"))?.into(),
            kind,
            commit_timestamp: text("commit_timestamp").unwrap_or_default().into(),
            record: object("record")?,
            old_record: object("old_record")?,
            errors,
        })
    }

    /// Reads a Broadcast from Database message, whose payload is compatible with Postgres
    /// Changes: `{schema, table, operation, record, old_record}`. `None` when the message is
    /// not a row change (an application's own broadcast on the same topic). Such messages carry
    /// no commit time: the row's `updated_at` stands in when it has one.
    pub fn from_database_broadcast(
        topic: &str,
        message: &Broadcast,
    ) -> Option<Result<Self, PayloadError>> {
        let change = message.payload.as_object()?;
        let operation = change.get("operation")?;
        let bad = |what| Some(Err(PayloadError::new("broadcast", what)));
        let kind = match operation.as_str() {
            Some("INSERT") => ChangeKind::Insert,
            Some("UPDATE") => ChangeKind::Update,
            Some("DELETE") => ChangeKind::Delete,
            _ => return bad("operation must be INSERT, UPDATE or DELETE"),
        };
        let text = |key: &str| change.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(schema), Some(table)) = (text("schema"), text("table")) else {
            return bad("missing schema or table");
        };
        let row = |key: &str| match change.get(key) {
            Some(Value::Object(map)) => Ok(Some(Record::from_map(map))),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(PayloadError::new(
                "broadcast",
                "record and old_record must be objects",
            )),
        };
        let (record, old_record) = match (row("record"), row("old_record")) {
            (Ok(record), Ok(old)) => (record, old),
            (Err(error), _) | (_, Err(error)) => return Some(Err(error)),
        };
        let mut change = PostgresChange {
            topic: topic.into(),
            binding_ids: Rc::new([]),
            schema: schema.into(),
            table: table.into(),
            kind,
            commit_timestamp: CommitTime::default(),
            record,
            old_record,
            errors: Vec::new(),
        };
        change.commit_timestamp = change.database_commit_time().into();
        Some(Ok(change))
    }

    /// A database broadcast carries no commit time: the row's `updated_at` stands in when it
    /// has one.
    pub(super) fn database_commit_time(&self) -> String {
        (self.record.as_ref().or(self.old_record.as_ref()))
            .and_then(|row| row.str_field("updated_at"))
            .unwrap_or_default()
    }

    /// True when the server could not include the row (`Error 413`) or left it out: the row
    /// must be fetched over REST.
    pub fn needs_fetch(&self) -> bool {
        let too_large = self.errors.iter().any(|e| crate::mentions(e, "413"));
        too_large || (self.kind != ChangeKind::Delete && self.record.is_none())
    }

    /// True when binding `binding` with id `id` should see this change.
    pub fn matches(&self, binding: &PostgresBinding, id: u64) -> bool {
        self.binding_ids.contains(&id) && binding.event.matches(self.kind)
    }
}

/// A payload that does not have the shape its event requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// The event whose payload was malformed.
    pub event: &'static str,
    /// What was wrong.
    pub detail: &'static str,
}

impl PayloadError {
    fn new(event: &'static str, detail: &'static str) -> Self {
        Self { event, detail }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} payload: {}", self.event, self.detail)
    }
}

impl std::error::Error for PayloadError {}

/// A broadcast message `{"type":"broadcast","event":…,"payload":…}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The application-defined event name.
    pub event: String,
    /// The application payload.
    pub payload: Value,
}

impl Broadcast {
    /// Reads a `broadcast` payload.
    pub fn parse(payload: &Value) -> Result<Self, PayloadError> {
        let event = payload
            .get("event")
            .and_then(Value::as_str)
            .ok_or(PayloadError::new("broadcast", "missing event"))?;
        Ok(Broadcast {
            event: event.to_owned(),
            payload: payload.get("payload").cloned().unwrap_or(Value::Null),
        })
    }

    /// The payload of an outgoing `broadcast` push.
    pub fn to_payload(&self) -> Value {
        object(vec![
            ("type", "broadcast".into()),
            ("event", self.event.clone().into()),
            ("payload", self.payload.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    #[test]
    fn a_channel_config_is_read_by_its_names() {
        let config = ChannelConfig::from_json(&json!({
            "postgresChanges": [
                { "event": "*", "schema": "public", "table": "songs", "filter": "band_id=eq.b1" },
                { "event": "DELETE", "schema": "public", "table": "shows" },
            ],
            "presence": "u1", "broadcastSelf": true, "broadcastAck": true, "private": true,
            "databaseBroadcasts": true,
        }))
        .unwrap();
        let mut songs = PostgresBinding::table_eq("songs", "band_id", "b1");
        songs.event = ChangeFilterEvent::All;
        let shows = PostgresBinding {
            event: ChangeFilterEvent::Delete,
            schema: "public".into(),
            table: "shows".into(),
            filter: None,
        };
        let expected = ChannelConfig {
            postgres_changes: vec![songs, shows],
            presence: Some("u1".into()),
            broadcast_self: true,
            broadcast_ack: true,
            private: true,
            database_broadcasts: true,
        };
        assert_eq!(config, expected);
        // What is left out is off; the bindings are written back as they were read.
        assert_eq!(
            ChannelConfig::from_json(&json!({})).unwrap(),
            ChannelConfig::default()
        );
        let written: Vec<Value> = (expected.postgres_changes.iter())
            .map(PostgresBinding::to_json)
            .collect();
        let read = ChannelConfig::from_json(&json!({ "postgresChanges": written })).unwrap();
        assert_eq!(read.postgres_changes, expected.postgres_changes);
        let wrong = json!({ "postgresChanges": [{ "event": "TRUNCATE", "schema": "public", "table": "t" }] });
        assert_eq!(
            ChannelConfig::from_json(&wrong).unwrap_err(),
            "config.postgresChanges[0].event must be one of '*', 'INSERT', 'UPDATE', 'DELETE', not 'TRUNCATE'"
        );
        let missing = json!({ "postgresChanges": [{ "event": "*", "schema": "public" }] });
        assert_eq!(
            ChannelConfig::from_json(&missing).unwrap_err(),
            "config.postgresChanges[0].table is required"
        );
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        let cases = [
            (json!({"data": {}}), "missing ids"),
            (json!({"ids": ["x"], "data": {}}), "ids must be integers"),
            (
                json!({"ids": [1], "data": {"schema": "public", "table": "t", "type": "UPSERT"}}),
                "type must be INSERT, UPDATE or DELETE",
            ),
            (
                json!({"ids": [1], "data": {"schema": "public", "table": "t", "type": "INSERT",
                    "record": [1]}}),
                "record and old_record must be objects",
            ),
        ];
        for (payload, detail) in cases {
            let error = PostgresChange::parse("t", &payload).unwrap_err();
            assert_eq!(error.detail, detail, "{payload}");
        }
    }
}
