//! Row changes the driver read from their frames itself.
//!
//! In a browser the fastest way through a frame is the page's own `JSON.parse`, and the rows it
//! builds are what storage and listeners want. So the driver parses each frame once, keeps the
//! rows as they are ([`HeldRow`]), and hands the engine only what routes the change: a short
//! summary of the envelope. The engine never sees the rows' bytes unless it asks for a field.
//!
//! The summary is a JSON array, one of
//! - `["postgres_changes", join_ref, topic, [binding ids], schema, table, type, commit_timestamp]`
//! - `["broadcast", join_ref, topic, event, schema, table, operation]` (Broadcast from Database)
//!
//! A driver that cannot summarise a frame (any unusual shape) hands over its text instead, and
//! so does one whose summary [`RoutedFrame::from_summary`] refuses: the text path then reads it
//! or says precisely what is wrong.

use super::frame::Vsn;
use super::messages::{ChangeKind, PostgresChange};
use super::record::{HeldRow, Record};
use serde_json::{Map, Value};
use std::any::Any;
use std::rc::Rc;

/// A row change routed by its envelope, its rows held by the driver.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedFrame {
    /// The join the frame names, if any.
    pub join_ref: Option<String>,
    /// The change; for a broadcast its commit time is empty until the engine sets it.
    pub change: PostgresChange,
    /// For a broadcast: its event name and whole payload, which is the application's own
    /// message on a channel that does not take database broadcasts.
    pub broadcast: Option<(String, Record)>,
}

impl RoutedFrame {
    /// Reads a driver's summary (see the module docs), with the rows it holds: `None` when the
    /// summary does not have one of the two shapes, or when a row the change needs is missing.
    pub fn from_summary(
        summary: &str,
        record: Option<Record>,
        old_record: Option<Record>,
        message: Option<Record>,
    ) -> Option<RoutedFrame> {
        let fields: Vec<Value> = serde_json::from_str(summary).ok()?;
        let text = |at: usize| fields.get(at)?.as_str().map(str::to_owned);
        let join_ref = match fields.get(1)? {
            Value::Null => None,
            Value::String(join_ref) => Some(join_ref.clone()),
            _ => return None,
        };
        let (topic, schema, table) = (text(2)?, text(4)?, text(5)?);
        let kind = match fields.get(6)?.as_str()? {
            "INSERT" => ChangeKind::Insert,
            "UPDATE" => ChangeKind::Update,
            "DELETE" => ChangeKind::Delete,
            _ => return None,
        };
        let (binding_ids, commit_timestamp, broadcast) = match (text(0)?.as_str(), fields.len()) {
            ("postgres_changes", 8) => {
                let ids = fields[3].as_array()?;
                let ids = ids.iter().map(Value::as_u64).collect::<Option<Vec<_>>>()?;
                (ids, text(7)?, None)
            }
            ("broadcast", 7) => (Vec::new(), String::new(), Some((text(3)?, message?))),
            _ => return None,
        };
        let change = PostgresChange {
            topic,
            binding_ids,
            schema,
            table,
            kind,
            commit_timestamp,
            record,
            old_record,
            errors: Vec::new(),
        };
        Some(RoutedFrame {
            join_ref,
            change,
            broadcast,
        })
    }

    /// What a driver holding rows in maps makes of a frame's text: the same summary a
    /// browser's driver writes, read from a JSON tree. For the simulation and native tests,
    /// which so run the engine's routed path as a browser does.
    pub fn route(text: &str, vsn: Vsn) -> Option<RoutedFrame> {
        let frame: Value = serde_json::from_str(text).ok()?;
        let [join_ref, _msg_ref, topic, event, payload] = match (vsn, frame) {
            (Vsn::V2, Value::Array(items)) => <[Value; 5]>::try_from(items).ok()?,
            (Vsn::V1, Value::Object(mut map)) => ["join_ref", "ref", "topic", "event", "payload"]
                .map(|key| map.remove(key).unwrap_or(Value::Null)),
            _ => return None,
        };
        let held = |row: Option<&Value>| match row {
            Some(Value::Object(map)) => Some(Some(Record::held(Rc::new(HeldMap(map.clone()))))),
            None | Some(Value::Null) => Some(None),
            Some(_) => None,
        };
        let head = [join_ref, topic];
        let summary = match event.as_str()? {
            "postgres_changes" => {
                let data = payload.get("data")?;
                if !data.get("errors").is_none_or(Value::is_null) {
                    return None;
                }
                let [schema, table, kind, at] =
                    ["schema", "table", "type", "commit_timestamp"].map(|k| data.get(k).cloned());
                let ids = payload.get("ids").cloned();
                let summary = serde_json::json!([
                    "postgres_changes",
                    head[0],
                    head[1],
                    ids,
                    schema,
                    table,
                    kind,
                    at
                ]);
                let (record, old) = (held(data.get("record"))?, held(data.get("old_record"))?);
                return Self::from_summary(&summary.to_string(), record, old, None);
            }
            "broadcast" => {
                let change = payload.get("payload")?;
                let [schema, table, operation] =
                    ["schema", "table", "operation"].map(|k| change.get(k).cloned());
                let name = payload.get("event").cloned();
                serde_json::json!([
                    "broadcast",
                    head[0],
                    head[1],
                    name,
                    schema,
                    table,
                    operation
                ])
            }
            _ => return None,
        };
        let change = payload.get("payload")?;
        let (record, old) = (held(change.get("record"))?, held(change.get("old_record"))?);
        let message = held(Some(change))?;
        Self::from_summary(&summary.to_string(), record, old, message)
    }
}

/// A row held in a JSON map: what a driver without a JavaScript heap holds (the simulation's).
#[derive(Debug, Clone, PartialEq)]
pub struct HeldMap(pub Map<String, Value>);

impl HeldRow for HeldMap {
    fn fields(&self, names: &[&str]) -> Vec<Option<Value>> {
        names
            .iter()
            .map(|name| self.0.get(*name).cloned())
            .collect()
    }

    fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::Received;
    use serde_json::json;

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
        assert_eq!(routed.change.commit_timestamp, "", "the engine sets it");
    }

    #[test]
    fn summaries_out_of_shape_are_refused() {
        let row = || Some(Record::held(Rc::new(HeldMap(Map::new()))));
        let refused = [
            r#"["postgres_changes",null,"t",[1],"public","songs","UPSERT","x"]"#,
            r#"["postgres_changes",null,"t",[-1],"public","songs","INSERT","x"]"#,
            r#"["postgres_changes",7,"t",[1],"public","songs","INSERT","x"]"#,
            r#"["postgres_changes",null,"t",[1],"public","songs","INSERT"]"#,
            r#"["presence_diff",null,"t","e","public","songs","INSERT"]"#,
            r#"{"topic":"t"}"#,
            "not json",
        ];
        for summary in refused {
            assert_eq!(
                RoutedFrame::from_summary(summary, row(), None, row()),
                None,
                "{summary}"
            );
        }
        let broadcast = r#"["broadcast",null,"t","INSERT","public","songs","INSERT"]"#;
        assert_eq!(
            RoutedFrame::from_summary(broadcast, row(), None, None),
            None,
            "no message"
        );
        assert!(RoutedFrame::from_summary(broadcast, row(), None, row()).is_some());
        let change = r#"["postgres_changes",null,"t",[1],"public","songs","INSERT","x"]"#;
        assert!(RoutedFrame::from_summary(change, row(), None, None).is_some());
    }
}
