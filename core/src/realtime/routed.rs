//! Row changes the driver read from their frames itself.
//!
//! In a browser the fastest way through a frame is the page's own `JSON.parse`, and the rows it
//! builds are what storage and listeners want. So the driver parses each frame once, keeps the
//! rows as they are ([`HeldRows`]), and hands the engine only what routes the change: the
//! envelope's fields ([`RouteParts`]), or a short summary of them. The engine never sees the
//! rows' bytes unless it asks for a field.
//!
//! The summary is one string of fields separated by [`SEPARATOR`] (no field may contain it):
//! - `postgres_changes␟join_ref␟topic␟ids␟schema␟table␟type␟commit_timestamp␟flags`, the
//!   binding ids written in decimal, separated by commas;
//! - `broadcast␟join_ref␟topic␟event␟schema␟table␟operation␟updated_at␟flags` (Broadcast from
//!   Database), `updated_at` being that of the row (`record`, else `old_record`) when it is a
//!   string, else empty: a database broadcast carries no commit time, and the row's stands in.
//!
//! `flags` is three characters `0` or `1`: whether the frame has a `record`, an `old_record`,
//! and a `join_ref` (an empty field otherwise). Splitting it costs next to nothing, where even
//! a JSON array of strings would cost a parse with an allocation per field.
//!
//! A driver that cannot summarise a frame (any unusual shape) hands over its text instead, and
//! so does one whose summary [`RoutedFrame::from_summary`] refuses: the text path then reads it
//! or says precisely what is wrong.

use super::commit_time::CommitTime;
use super::frame::Vsn;
use super::messages::{ChangeKind, PostgresChange};
use super::record::{HeldRows, Record, RowSlot};
use crate::json_text::json_text;
use crate::value::{Map, Value};
use std::any::Any;
use std::rc::Rc;

/// A row change routed by its envelope, its rows held by the driver.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedFrame {
    /// The join the frame names, if any.
    pub join_ref: Option<String>,
    /// The change; a broadcast's commit time is its row's `updated_at` (see the module docs).
    pub change: PostgresChange,
    /// For a broadcast: its event name and whole payload, which is the application's own
    /// message on a channel that does not take database broadcasts.
    pub broadcast: Option<(String, Record)>,
}

/// Separates a summary's fields (the ASCII unit separator).
pub const SEPARATOR: char = '\u{1f}';

/// The binding ids a name lists, written in decimal and separated by commas (`3,4`): `None`
/// when it is not such a list.
pub fn listed_binding_ids(name: &str) -> Option<Rc<[u64]>> {
    let mut ids = Vec::new();
    for id in name.split(',') {
        ids.push(crate::decimal(id)?);
    }
    Some(ids.into())
}

/// What carried a change, with what routes it on its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier<'a> {
    /// A `postgres_changes` push, for the bindings with these ids.
    PostgresChanges(Rc<[u64]>),
    /// A broadcast (Broadcast from Database), with its event name.
    Broadcast(&'a str),
}

/// A change's routing fields as a driver read them from its frame: a summary's fields, parsed,
/// or a driver's own (the page hands the module names it interned, not text to parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteParts<'a> {
    /// The message that carried the change.
    pub carrier: Carrier<'a>,
    /// The join the frame names, if any.
    pub join_ref: Option<&'a str>,
    /// The channel's topic.
    pub topic: Rc<str>,
    /// The row's schema.
    pub schema: Rc<str>,
    /// The row's table.
    pub table: Rc<str>,
    /// What happened to the row.
    pub kind: ChangeKind,
    /// The commit time (a broadcast's: its row's `updated_at`, see the module docs).
    pub commit_timestamp: CommitTime,
    /// Whether the frame has a `record`.
    pub has_record: bool,
    /// Whether the frame has an `old_record`.
    pub has_old_record: bool,
}

impl RoutedFrame {
    /// The change `parts` route, asking `held` for each row the frame has.
    pub fn from_parts(parts: RouteParts<'_>, held: impl Fn(RowSlot) -> Record) -> RoutedFrame {
        let row = |present: bool, slot| present.then(|| held(slot));
        let (binding_ids, broadcast) = match parts.carrier {
            Carrier::PostgresChanges(ids) => (ids, None),
            Carrier::Broadcast(event) => (
                Rc::from([]),
                Some((event.to_owned(), held(RowSlot::Message))),
            ),
        };
        let change = PostgresChange {
            topic: parts.topic,
            binding_ids,
            schema: parts.schema,
            table: parts.table,
            kind: parts.kind,
            commit_timestamp: parts.commit_timestamp,
            record: row(parts.has_record, RowSlot::Record),
            old_record: row(parts.has_old_record, RowSlot::OldRecord),
            errors: Vec::new(),
        };
        RoutedFrame {
            join_ref: parts.join_ref.map(str::to_owned),
            change,
            broadcast,
        }
    }

    /// Reads a driver's summary (see the module docs), asking `held` for each row the frame
    /// has: `None` when the summary does not have one of the two shapes.
    pub fn from_summary(summary: &str, held: impl Fn(RowSlot) -> Record) -> Option<RoutedFrame> {
        let mut fields = summary.split(SEPARATOR);
        let mut next = || fields.next();
        let (carrier, join_ref, topic) = (next()?, next()?, next()?);
        let (ids_or_event, schema, table, kind) = (next()?, next()?, next()?, next()?);
        let kind = ChangeKind::from_name(kind)?;
        let commit_timestamp = next()?.into();
        let flags = next()?.as_bytes();
        if next().is_some() || flags.len() != 3 || flags.iter().any(|f| !b"01".contains(f)) {
            return None;
        }
        let carrier = match carrier {
            "postgres_changes" => Carrier::PostgresChanges(listed_binding_ids(ids_or_event)?),
            "broadcast" => Carrier::Broadcast(ids_or_event),
            _ => return None,
        };
        let parts = RouteParts {
            carrier,
            join_ref: (flags[2] == b'1').then_some(join_ref),
            topic: topic.into(),
            schema: schema.into(),
            table: table.into(),
            kind,
            commit_timestamp,
            has_record: flags[0] == b'1',
            has_old_record: flags[1] == b'1',
        };
        Some(Self::from_parts(parts, held))
    }

    /// What a driver holding rows in maps makes of a frame's text: the same summary a
    /// browser's driver writes, read from a JSON tree. For the simulation and native tests,
    /// which so run the engine's routed path as a browser does.
    pub fn route(text: &str, vsn: Vsn) -> Option<RoutedFrame> {
        let frame = crate::json_read::parse(text).ok()?;
        let [join_ref, _msg_ref, topic, event, payload] = match (vsn, frame) {
            (Vsn::V2, Value::Array(items)) => <[Value; 5]>::try_from(items).ok()?,
            (Vsn::V1, Value::Object(mut map)) => ["join_ref", "ref", "topic", "event", "payload"]
                .map(|key| map.remove(key).unwrap_or(Value::Null)),
            _ => return None,
        };
        let event = event.as_str()?;
        let (data, routing) = match event {
            "postgres_changes" => {
                let data = payload.get("data")?;
                if !data.get("errors").is_none_or(Value::is_null) {
                    return None;
                }
                let ids = payload.get("ids")?.as_array()?;
                let ids = ids.iter().map(|id| id.as_u64().map(|id| id.to_string()));
                let ids = ids.collect::<Option<Vec<_>>>()?.join(",");
                let text = |key| data.get(key)?.as_str().map(str::to_owned);
                let at = text("commit_timestamp")?;
                (
                    data,
                    vec![ids, text("schema")?, text("table")?, text("type")?, at],
                )
            }
            "broadcast" => {
                let data = payload.get("payload")?;
                data.get("operation")?;
                let text = |value: Option<&Value>| value?.as_str().map(str::to_owned);
                let name = text(payload.get("event"))?;
                let [schema, table, operation] =
                    ["schema", "table", "operation"].map(|k| text(data.get(k)));
                (data, vec![name, schema?, table?, operation?])
            }
            _ => return None,
        };
        let row = |key| match data.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Object(map)) => Some(Some(map.clone())),
            Some(_) => None,
        };
        let (record, old_record) = (row("record")?, row("old_record")?);
        let mut routing = routing;
        if event == "broadcast" {
            // The row's `updated_at` stands in for the commit time a broadcast lacks.
            let row = record.as_ref().or(old_record.as_ref());
            let updated_at = row.and_then(|row| row.get("updated_at")?.as_str());
            routing.push(updated_at.unwrap_or_default().to_owned());
        }
        let flag = |present: bool| if present { '1' } else { '0' };
        let join_ref = match join_ref {
            Value::Null => None,
            Value::String(join_ref) => Some(join_ref),
            _ => return None,
        };
        let flags: String = [record.is_some(), old_record.is_some(), join_ref.is_some()]
            .map(flag)
            .iter()
            .collect();
        let mut fields = vec![
            event.to_owned(),
            join_ref.unwrap_or_default(),
            topic.as_str()?.to_owned(),
        ];
        fields.extend(routing);
        fields.push(flags);
        if fields.iter().any(|field| field.contains(SEPARATOR)) {
            return None;
        }
        let summary = fields.join(&SEPARATOR.to_string());
        let message = data.as_object().cloned().unwrap_or_default();
        Self::from_summary(&summary, |slot| {
            let map = match slot {
                RowSlot::Record => record.clone(),
                RowSlot::OldRecord => old_record.clone(),
                RowSlot::Message => Some(message.clone()),
            };
            Record::held(Rc::new(HeldMap(map.unwrap_or_default())), slot)
        })
    }
}

/// A row held in a JSON map: what a driver without a JavaScript heap holds (the simulation's).
/// It holds one row, whichever slot it is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldMap(pub Map<String, Value>);

impl HeldRows for HeldMap {
    fn fields(&self, _: RowSlot, names: &[&str]) -> Vec<Option<Value>> {
        names.iter().map(|name| self.0.get(name).cloned()).collect()
    }

    fn to_json(&self, _: RowSlot) -> String {
        json_text(&self.0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::Received;
    use crate::value::json;

    fn change_payload() -> Value {
        json!({"ids": [7, 9], "data": {"schema": "public", "table": "songs", "type": "UPDATE",
            "commit_timestamp": "2026-11-23T10:00:00.000Z", "columns": [],
            "record": {"id": "s1", "title": "Yellow", "version": 2}, "old_record": {"id": "s1"},
            "errors": null}})
    }

    #[test]
    fn a_routed_change_equals_the_one_read_from_text() {
        let frames = [
            (
                json!([
                    null,
                    null,
                    "realtime:b",
                    "postgres_changes",
                    change_payload()
                ]),
                Vsn::V2,
            ),
            (
                json!({"event": "postgres_changes", "join_ref": "1", "payload": change_payload(),
                "ref": null, "topic": "realtime:b"}),
                Vsn::V1,
            ),
        ];
        for (frame, vsn) in frames {
            let text = frame.to_string();
            let routed = RoutedFrame::route(&text, vsn).expect("a change");
            let Ok(Received::Change {
                join_ref, change, ..
            }) = Received::decode(&text, vsn, 1 << 20)
            else {
                panic!("the text path reads a change");
            };
            assert_eq!(routed.join_ref, join_ref);
            assert_eq!(routed.change, change.unwrap(), "{text}");
            assert!(routed.change.record.as_ref().unwrap().as_held().is_some());
        }
    }

    #[test]
    fn a_database_broadcast_keeps_its_whole_message() {
        let payload = json!({"type": "broadcast", "event": "UPDATE", "payload": {
            "schema": "public", "table": "songs", "operation": "UPDATE",
            "record": {"id": "s1", "updated_at": "2026-11-23T10:00:00Z"}, "old_record": null,
            "extra": 1}});
        let text = json!([null, null, "band:b", "broadcast", payload]).to_string();
        let routed = RoutedFrame::route(&text, Vsn::V2).expect("a change");
        let (event, message) = routed.broadcast.expect("a broadcast");
        assert_eq!(event, "UPDATE");
        assert_eq!(Value::Object(message.to_map()), payload["payload"]);
        assert_eq!(routed.change.old_record, None);
        assert_eq!(
            routed.change.commit_timestamp, "2026-11-23T10:00:00Z",
            "the row's"
        );
    }

    #[test]
    fn summaries_out_of_shape_are_refused() {
        let row = |slot| Record::held(Rc::new(HeldMap(Map::new())), slot);
        let summary = |fields: &[&str]| fields.join("\u{1f}");
        let change = [
            "postgres_changes",
            "",
            "t",
            "1,2",
            "public",
            "songs",
            "INSERT",
            "x",
            "100",
        ];
        let refused = [
            summary(&[&change[..6], &["UPSERT", "x", "100"]].concat()),
            summary(&[&change[..3], &["-1"], &change[4..]].concat()),
            summary(&[&change[..3], &[""], &change[4..]].concat()),
            summary(&change[..8]),
            summary(&[&change[..], &["more"]].concat()),
            summary(&[&change[..8], &["10"]].concat()),
            summary(&[&change[..8], &["1x0"]].concat()),
            summary(&[&["presence_diff"], &change[1..]].concat()),
            "not a summary".to_owned(),
        ];
        for text in refused {
            assert_eq!(RoutedFrame::from_summary(&text, row), None, "{text}");
        }
        let routed = RoutedFrame::from_summary(&summary(&change), row).expect("routes");
        assert_eq!(*routed.change.binding_ids, [1, 2]);
        assert_eq!((routed.join_ref, routed.change.old_record), (None, None));
        let with_join = summary(&[&change[..1], &["7"], &change[2..8], &["011"]].concat());
        let routed = RoutedFrame::from_summary(&with_join, row).expect("routes");
        assert_eq!(routed.join_ref.as_deref(), Some("7"));
        assert!(routed.change.record.is_none() && routed.change.old_record.is_some());
        let broadcast = [
            "broadcast",
            "",
            "t",
            "INSERT",
            "public",
            "songs",
            "INSERT",
            "",
            "100",
        ];
        let routed = RoutedFrame::from_summary(&summary(&broadcast), row).expect("routes");
        assert_eq!(
            routed.broadcast.map(|(event, _)| event).as_deref(),
            Some("INSERT")
        );
    }
}
