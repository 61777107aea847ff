//! What the app's listeners receive: each [`Event`] as the JSON text of one plain object with a
//! `type` (a discriminated union in TypeScript terms, declared in the package's `.d.ts`).
//!
//! The shapes live here, beside the events, so they are tested natively and the browser shell
//! only parses the text (one `JSON.parse` per event, thousands of ids included) and hands the
//! object over. Events only the engine's own parts consume produce nothing.

use super::{ActivityEvent, Event, ReadEvent, RowsChanged, WriteEvent};
use crate::json_text::{json_text, ObjectWriter, WriteJson};
use crate::merge::FieldConflict;
use crate::outbox::RowStatus;
use crate::realtime::{
    self, CommitTime, ConnectionState, PostgresChange, ProtocolError, Received, Record, Vsn,
};
use crate::schema::Schema;
use crate::sorted::SortedMap;
use crate::sync::Member;
use crate::value::{Map, Value};
use std::borrow::Cow;

/// One event object as the app sees it.
enum AppEvent<'a> {
    Change(Change<'a>),
    Rows(Rows<'a>),
    Connection {
        state: &'static str,
        attempt: Option<u32>,
        delay_ms: Option<u64>,
        reason: Option<&'a str>,
    },
    Latency {
        ms: u64,
    },
    Channel {
        topic: &'a str,
        state: &'static str,
    },
    CatchUp {
        topic: &'a str,
        reason: &'static str,
    },
    ChannelError {
        topic: &'a str,
        code: &'static str,
        message: String,
        recovery: &'static str,
    },
    NeedToken,
    ChannelPresence {
        topic: &'a str,
        state: Value,
    },
    Broadcast {
        topic: &'a str,
        event: &'a str,
        payload: &'a Value,
    },
    PushFailed {
        topic: &'a str,
        push: &'static str,
        reason: &'a str,
    },
    ProtocolError {
        message: String,
    },
    SyncStatus {
        table: &'a str,
        id: &'a str,
        status: RowStatus,
    },
    Conflict {
        table: &'a str,
        id: &'a str,
        local: &'a Map<String, Value>,
        remote: &'a Option<Map<String, Value>>,
        fields: &'a [FieldConflict],
        deleted_remotely: bool,
    },
    Auth {
        reason: &'static str,
    },
    Error {
        code: &'a str,
        message: Cow<'a, str>,
    },
    Bands {
        joined: &'a [String],
        left: &'a [String],
        bands: &'a [String],
    },
    Progress {
        band_id: &'a str,
        done: u64,
        total: u64,
        finished: bool,
    },
    Presence {
        band_id: &'a str,
        members: &'a [Member],
    },
    Unread {
        total: usize,
        by_band: &'a SortedMap<String, SortedMap<String, usize>>,
    },
    Notification {
        id: u64,
        kind: &'static str,
        text: &'a str,
        author: Option<&'a str>,
        count: usize,
    },
    Activity {
        band_id: &'a str,
        unread: usize,
    },
}

/// A Realtime row change as received (the standalone Realtime connection's `change`).
struct Change<'a> {
    topic: &'a str,
    schema: &'a str,
    table: &'a str,
    kind: &'static str,
    commit_timestamp: &'a CommitTime,
    record: &'a Option<Record>,
    old_record: &'a Option<Record>,
    needs_fetch: bool,
}

/// Rows that changed in the local store (the client's `change`).
struct Rows<'a> {
    table: &'a str,
    alias: Option<&'a str>,
    band_id: &'a str,
    ids: &'a [String],
    action: &'static str,
    source: &'static str,
}

impl WriteJson for AppEvent<'_> {
    fn write_json(&self, out: &mut String) {
        let mut object = ObjectWriter::new(out);
        let event = &mut object;
        match self {
            AppEvent::Change(change) => change.write_fields(event.field("type", &"change")),
            AppEvent::Rows(rows) => rows.write_fields(event.field("type", &"change")),
            AppEvent::Connection {
                state,
                attempt,
                delay_ms,
                reason,
            } => event
                .field("type", &"connection")
                .field("state", state)
                .field_if_some("attempt", attempt.as_ref().map(|a| a as &dyn WriteJson))
                .field_if_some("delayMs", delay_ms.as_ref().map(|d| d as &dyn WriteJson))
                .field_if_some("reason", reason.as_ref().map(|r| r as &dyn WriteJson)),
            AppEvent::Latency { ms } => event.field("type", &"latency").field("ms", ms),
            AppEvent::Channel { topic, state } => event
                .field("type", &"channel")
                .field("topic", topic)
                .field("state", state),
            AppEvent::CatchUp { topic, reason } => event
                .field("type", &"catchUp")
                .field("topic", topic)
                .field("reason", reason),
            AppEvent::ChannelError {
                topic,
                code,
                message,
                recovery,
            } => event
                .field("type", &"channelError")
                .field("topic", topic)
                .field("code", code)
                .field("message", message)
                .field("recovery", recovery),
            AppEvent::NeedToken => event.field("type", &"needToken"),
            AppEvent::ChannelPresence { topic, state } => event
                .field("type", &"presence")
                .field("topic", topic)
                .field("state", state),
            AppEvent::Broadcast {
                topic,
                event: name,
                payload,
            } => event
                .field("type", &"broadcast")
                .field("topic", topic)
                .field("event", name)
                .field("payload", payload),
            AppEvent::PushFailed {
                topic,
                push,
                reason,
            } => event
                .field("type", &"pushFailed")
                .field("topic", topic)
                .field("push", push)
                .field("reason", reason),
            AppEvent::ProtocolError { message } => event
                .field("type", &"protocolError")
                .field("message", message),
            AppEvent::SyncStatus { table, id, status } => event
                .field("type", &"syncStatus")
                .field("table", table)
                .field("id", id)
                .field("status", status),
            AppEvent::Conflict {
                table,
                id,
                local,
                remote,
                fields,
                deleted_remotely,
            } => event
                .field("type", &"conflict")
                .field("table", table)
                .field("id", id)
                .field("local", local)
                .field("remote", remote)
                .field("fields", fields)
                .field("deletedRemotely", deleted_remotely),
            AppEvent::Auth { reason } => event.field("type", &"auth").field("reason", reason),
            AppEvent::Error { code, message } => event
                .field("type", &"error")
                .field("code", code)
                .field("message", message),
            AppEvent::Bands {
                joined,
                left,
                bands,
            } => event
                .field("type", &"bands")
                .field("joined", joined)
                .field("left", left)
                .field("bands", bands),
            AppEvent::Progress {
                band_id,
                done,
                total,
                finished,
            } => event
                .field("type", &"progress")
                .field("bandId", band_id)
                .field("done", done)
                .field("total", total)
                .field("finished", finished),
            AppEvent::Presence { band_id, members } => event
                .field("type", &"presence")
                .field("bandId", band_id)
                .field("members", members),
            AppEvent::Unread { total, by_band } => event
                .field("type", &"unread")
                .field("total", total)
                .field("byBand", by_band),
            AppEvent::Notification {
                id,
                kind,
                text,
                author,
                count,
            } => event
                .field("type", &"notification")
                .field("id", id)
                .field("kind", kind)
                .field("text", text)
                .field("author", author)
                .field("count", count),
            AppEvent::Activity { band_id, unread } => event
                .field("type", &"activity")
                .field("bandId", band_id)
                .field("unread", unread),
        };
        object.end();
    }
}

impl Change<'_> {
    fn write_fields<'w, 'o>(&self, event: &'w mut ObjectWriter<'o>) -> &'w mut ObjectWriter<'o> {
        event
            .field("topic", &self.topic)
            .field("schema", &self.schema)
            .field("table", &self.table)
            .field("kind", &self.kind)
            .field("commitTimestamp", self.commit_timestamp)
            .field("record", self.record)
            .field("oldRecord", self.old_record)
            .field("needsFetch", &self.needs_fetch)
    }
}

impl Rows<'_> {
    fn write_fields<'w, 'o>(&self, event: &'w mut ObjectWriter<'o>) -> &'w mut ObjectWriter<'o> {
        event
            .field("table", &self.table)
            .field_if_some("alias", self.alias.as_ref().map(|a| a as &dyn WriteJson))
            .field("bandId", &self.band_id)
            .field("ids", &self.ids)
            .field("action", &self.action)
            .field("source", &self.source)
    }
}

fn text(event: &AppEvent<'_>) -> String {
    json_text(event)
}

/// A Realtime event as the app sees it.
pub fn realtime_event_json(event: &realtime::Event) -> String {
    text(&realtime_event(event))
}

fn realtime_event(event: &realtime::Event) -> AppEvent<'_> {
    use realtime::Event as E;
    match event {
        E::Connection(state) => connection(state),
        E::Latency { ms } => AppEvent::Latency { ms: *ms },
        E::Channel { topic, state } => AppEvent::Channel {
            topic,
            state: state.as_str(),
        },
        E::CatchUp { topic, reason } => AppEvent::CatchUp {
            topic,
            reason: reason.as_str(),
        },
        E::ChannelError {
            topic,
            cause,
            recovery,
        } => AppEvent::ChannelError {
            topic,
            code: cause.code(),
            message: cause.to_string(),
            recovery: recovery.as_str(),
        },
        E::NeedToken => AppEvent::NeedToken,
        E::Change(change) => AppEvent::Change(received_change(change)),
        E::Presence { topic, state, .. } => AppEvent::ChannelPresence {
            topic,
            state: state.to_json(),
        },
        E::Broadcast { topic, message } => AppEvent::Broadcast {
            topic,
            event: &message.event,
            payload: &message.payload,
        },
        E::PushFailed {
            topic,
            kind,
            reason,
        } => AppEvent::PushFailed {
            topic,
            push: kind.as_str(),
            reason,
        },
        E::ProtocolError(error) => AppEvent::ProtocolError {
            message: error.to_string(),
        },
    }
}

fn connection(state: &ConnectionState) -> AppEvent<'_> {
    let (attempt, delay_ms, reason) = match state {
        ConnectionState::Reconnecting { attempt, delay_ms } => {
            (Some(*attempt), Some(*delay_ms), None)
        }
        ConnectionState::Error { reason } => (None, None, Some(reason.as_str())),
        _ => (None, None, None),
    };
    AppEvent::Connection {
        state: state.as_str(),
        attempt,
        delay_ms,
        reason,
    }
}

fn received_change(change: &PostgresChange) -> Change<'_> {
    Change {
        topic: &change.topic,
        schema: &change.schema,
        table: &change.table,
        kind: change.kind.as_str(),
        commit_timestamp: &change.commit_timestamp,
        record: &change.record,
        old_record: &change.old_record,
        needs_fetch: change.needs_fetch(),
    }
}

/// A change's event as [`realtime_event_json`] writes it.
pub fn change_json(change: &PostgresChange) -> String {
    text(&AppEvent::Change(received_change(change)))
}

/// One Realtime frame decoded as the client decodes it on its socket: a `postgres_changes`
/// push as the `change` event a standalone connection delivers, any other frame as `{ topic,
/// event, payload }`. What the connection would report as a `protocolError` instead is the
/// error.
pub fn decoded_frame_json(frame: &str, vsn: Vsn) -> Result<String, ProtocolError> {
    let max = realtime::RealtimeConfig::new("ws://x", "").max_frame_bytes;
    match Received::decode(frame, vsn, max).map_err(ProtocolError::Frame)? {
        Received::Change { change, topic, .. } => {
            let change = change.map_err(|error| ProtocolError::Payload { topic, error })?;
            Ok(text(&AppEvent::Change(received_change(&change))))
        }
        Received::Frame(frame) => {
            let mut plain = String::new();
            ObjectWriter::new(&mut plain)
                .field("topic", &frame.topic)
                .field("event", &frame.event)
                .field("payload", &frame.payload)
                .end();
            Ok(plain)
        }
    }
}

fn rows_changed<'a>(rows: &'a RowsChanged, schema: &'a Schema) -> Rows<'a> {
    Rows {
        table: &rows.table,
        alias: schema
            .table(&rows.table)
            .ok()
            .map(|spec| spec.alias.as_str()),
        band_id: &rows.scope,
        ids: &rows.ids,
        action: rows.action.as_str(),
        source: rows.source.as_str(),
    }
}

/// `{ type: 'presence', bandId, members }`.
pub fn presence_json(band: &str, members: &[Member]) -> String {
    text(&AppEvent::Presence {
        band_id: band,
        members,
    })
}

/// The objects the app's listeners receive for `event`, in order: none for what only the
/// engine's parts consume, several for a feed change that touched several bands.
pub fn app_events_json(event: &Event, schema: &Schema) -> Vec<String> {
    match event {
        Event::Write(event) => vec![text(&write_event(event, schema))],
        Event::Read(event) => read_event(event, schema).map_or_else(Vec::new, |e| vec![text(&e)]),
        Event::Activity(ActivityEvent::Feed(bands)) => {
            let mut events = Vec::with_capacity(bands.len());
            for (band, unread) in bands {
                events.push(text(&AppEvent::Activity {
                    band_id: band,
                    unread: *unread,
                }));
            }
            events
        }
        Event::Activity(event) => activity_event(event).map_or_else(Vec::new, |e| vec![text(&e)]),
    }
}

fn write_event<'a>(event: &'a WriteEvent, schema: &'a Schema) -> AppEvent<'a> {
    match event {
        WriteEvent::Change(rows) => AppEvent::Rows(rows_changed(rows, schema)),
        WriteEvent::Status { table, id, status } => AppEvent::SyncStatus {
            table,
            id,
            status: *status,
        },
        WriteEvent::Conflict(record) => AppEvent::Conflict {
            table: &record.table,
            id: &record.row_id,
            local: &record.local,
            remote: &record.remote,
            fields: &record.fields,
            deleted_remotely: record.deleted_remotely,
        },
        WriteEvent::NeedToken => AppEvent::Auth {
            reason: "tokenExpired",
        },
        WriteEvent::Error { code, message } => AppEvent::Error {
            code,
            message: Cow::Borrowed(message),
        },
    }
}

fn read_event<'a>(event: &'a ReadEvent, schema: &'a Schema) -> Option<AppEvent<'a>> {
    Some(match event {
        ReadEvent::Bands {
            joined,
            left,
            current,
        } => AppEvent::Bands {
            joined,
            left,
            bands: current,
        },
        ReadEvent::Change(rows) => AppEvent::Rows(rows_changed(rows, schema)),
        // The same event as the write path's: the app renews one token for both.
        ReadEvent::Realtime(realtime::Event::NeedToken) => AppEvent::Auth {
            reason: "tokenExpired",
        },
        ReadEvent::Realtime(other) => realtime_event(other),
        ReadEvent::Error { code, message } => AppEvent::Error {
            code,
            message: Cow::Borrowed(message),
        },
        ReadEvent::Progress {
            band,
            progress,
            finished,
        } => AppEvent::Progress {
            band_id: band,
            done: progress.done,
            total: progress.total,
            finished: *finished,
        },
        ReadEvent::Presence { band, members } => AppEvent::Presence {
            band_id: band,
            members,
        },
        ReadEvent::Observed { .. } | ReadEvent::Synced { .. } | ReadEvent::Arrived { .. } => {
            return None
        }
    })
}

fn activity_event(event: &ActivityEvent) -> Option<AppEvent<'_>> {
    Some(match event {
        ActivityEvent::Unread(counts) => AppEvent::Unread {
            total: counts.total,
            by_band: &counts.by_band,
        },
        ActivityEvent::Toast(toast) => AppEvent::Notification {
            id: toast.id,
            kind: toast.kind.as_str(),
            text: &toast.text,
            author: toast.author.as_deref(),
            count: toast.count,
        },
        ActivityEvent::Error(error) => AppEvent::Error {
            code: error.code(),
            message: Cow::Owned(error.to_string()),
        },
        ActivityEvent::Persisted | ActivityEvent::Feed(_) => return None,
    })
}
