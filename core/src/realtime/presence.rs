//! Phoenix presence: who is on a channel, as a map from presence key to metas.
//!
//! The server sends a full `presence_state` after join and `presence_diff`s afterwards. Each
//! meta carries a `phx_ref` that identifies one tracked session; a key with no metas left has
//! gone. A diff that arrives before the first state is applied to an empty state.

use super::messages::PayloadError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The presences of one channel: key → the metas tracked under it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PresenceState {
    entries: BTreeMap<String, Vec<Map<String, Value>>>,
}

/// Who joined and who left in one update.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PresenceDiff {
    /// Metas that appeared, by key.
    pub joins: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Metas that went away, by key.
    pub leaves: BTreeMap<String, Vec<Map<String, Value>>>,
}

impl PresenceState {
    /// The current presences.
    pub fn entries(&self) -> &BTreeMap<String, Vec<Map<String, Value>>> {
        &self.entries
    }

    /// The state as JSON `{key: [meta, …]}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.entries
                .iter()
                .map(|(key, metas)| {
                    let metas = metas.iter().cloned().map(Value::Object).collect();
                    (key.clone(), Value::Array(metas))
                })
                .collect(),
        )
    }

    /// Replaces the state with a `presence_state` payload.
    pub fn apply_state(&mut self, payload: &Value) -> Result<(), PayloadError> {
        self.entries = parse_entries(payload, "presence_state")?;
        Ok(())
    }

    /// Applies a `presence_diff` payload and returns what it changed.
    pub fn apply_diff(&mut self, payload: &Value) -> Result<PresenceDiff, PayloadError> {
        let field = |key| payload.get(key).unwrap_or(&Value::Null);
        let diff = PresenceDiff {
            joins: parse_entries(field("joins"), "presence_diff")?,
            leaves: parse_entries(field("leaves"), "presence_diff")?,
        };
        for (key, metas) in &diff.joins {
            let current = self.entries.entry(key.clone()).or_default();
            for meta in metas {
                current.retain(|m| phx_ref(m).is_none() || phx_ref(m) != phx_ref(meta));
                current.push(meta.clone());
            }
        }
        for (key, metas) in &diff.leaves {
            if let Some(current) = self.entries.get_mut(key) {
                current.retain(|m| !metas.iter().any(|gone| phx_ref(gone) == phx_ref(m)));
                if current.is_empty() {
                    self.entries.remove(key);
                }
            }
        }
        Ok(diff)
    }
}

fn phx_ref(meta: &Map<String, Value>) -> Option<&str> {
    meta.get("phx_ref").and_then(Value::as_str)
}

fn parse_entries(
    value: &Value,
    event: &'static str,
) -> Result<BTreeMap<String, Vec<Map<String, Value>>>, PayloadError> {
    let bad = |detail| PayloadError { event, detail };
    let map = match value {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(map) => map,
        _ => return Err(bad("expected an object of presences")),
    };
    map.iter()
        .map(|(key, entry)| {
            let metas = entry
                .get("metas")
                .and_then(Value::as_array)
                .ok_or(bad("each presence needs a metas array"))?;
            let metas = metas
                .iter()
                .map(|m| m.as_object().cloned().ok_or(bad("metas must be objects")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((key.clone(), metas))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_add_and_remove_sessions_by_ref() {
        let mut state = PresenceState::default();
        state
            .apply_state(&json!({"alice": {"metas": [{"phx_ref": "a1", "page": "songs"}]}}))
            .unwrap();
        state
            .apply_diff(&json!({
                "joins": {"alice": {"metas": [{"phx_ref": "a2", "page": "shows"}]},
                          "bob": {"metas": [{"phx_ref": "b1"}]}},
                "leaves": {}
            }))
            .unwrap();
        assert_eq!(state.entries()["alice"].len(), 2);
        state
            .apply_diff(&json!({
                "joins": {},
                "leaves": {"alice": {"metas": [{"phx_ref": "a1"}, {"phx_ref": "a2"}]}}
            }))
            .unwrap();
        assert_eq!(state.to_json(), json!({"bob": [{"phx_ref": "b1"}]}));
    }

    #[test]
    fn malformed_presence_is_an_error() {
        let mut state = PresenceState::default();
        assert!(state.apply_state(&json!([1, 2])).is_err());
        assert!(state
            .apply_diff(&json!({"joins": {"x": {"metas": 3}}}))
            .is_err());
    }
}
