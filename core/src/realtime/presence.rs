//! Phoenix presence: who is on a channel, as a map from presence key to metas.
//!
//! The server sends a full `presence_state` after join and `presence_diff`s afterwards. Each
//! meta carries a `phx_ref` that identifies one tracked session; a key with no metas left has
//! gone. A diff that arrives before the first state is applied to an empty state.

use super::messages::PayloadError;
use crate::sorted::SortedMap;
use crate::value::{Map, Value};
use crate::Millis;

/// The presences of one channel: key → the metas tracked under it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PresenceState {
    entries: SortedMap<String, Vec<Map<String, Value>>>,
}

/// Who joined and who left in one update.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PresenceDiff {
    /// Metas that appeared, by key.
    pub joins: SortedMap<String, Vec<Map<String, Value>>>,
    /// Metas that went away, by key.
    pub leaves: SortedMap<String, Vec<Map<String, Value>>>,
}

impl PresenceState {
    /// The current presences.
    pub fn entries(&self) -> &SortedMap<String, Vec<Map<String, Value>>> {
        &self.entries
    }

    /// The state as JSON `{key: [meta, …]}`.
    pub fn to_json(&self) -> Value {
        let mut state = Map::new();
        for (key, metas) in &self.entries {
            let mut list = Vec::with_capacity(metas.len());
            for meta in metas {
                list.push(Value::Object(meta.clone()));
            }
            state.insert(key.clone(), Value::Array(list));
        }
        Value::Object(state)
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
            let current = self.entries.get_or_insert_with(key.clone(), Vec::new);
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

/// Keeps this client's presence updates under Supabase's limit (5 per 30 s per client by
/// default): the wanted meta per channel is remembered, updates beyond the budget wait, and
/// of several waiting updates to one channel only the newest is sent. Sends are also spaced
/// by a minimum gap, so a burst of view changes costs two updates (the first and the newest),
/// not the whole budget.
#[derive(Debug, Clone)]
pub struct TrackThrottle {
    limit: usize,
    period_ms: u64,
    min_gap_ms: u64,
    sent: std::collections::VecDeque<Millis>,
    /// What each channel should show (re-sent after a rejoin).
    wanted: SortedMap<String, Value>,
    /// Channels whose wanted meta has not been sent since it changed.
    waiting: crate::sorted::SortedSet<String>,
}

impl Default for TrackThrottle {
    fn default() -> Self {
        Self::new(5, 30_000, 1_000)
    }
}

impl TrackThrottle {
    /// At most `limit` updates per `period_ms`, at least `min_gap_ms` apart.
    pub fn new(limit: usize, period_ms: u64, min_gap_ms: u64) -> Self {
        Self {
            limit: limit.max(1),
            period_ms,
            min_gap_ms,
            sent: Default::default(),
            wanted: SortedMap::new(),
            waiting: Default::default(),
        }
    }

    /// The client wants `meta` shown on `topic`; a repeat of what is shown costs nothing.
    pub fn set(&mut self, topic: &str, meta: Value) {
        if self.wanted.get(topic) == Some(&meta) {
            return;
        }
        self.wanted.insert(topic.to_owned(), meta);
        self.waiting.insert(topic.to_owned());
    }

    /// The channel was (re)joined: what it should show must be sent again.
    pub fn rejoined(&mut self, topic: &str) {
        if self.wanted.contains_key(topic) {
            self.waiting.insert(topic.to_owned());
        }
    }

    /// The channel was left.
    pub fn forget(&mut self, topic: &str) {
        self.wanted.remove(topic);
        self.waiting.remove(topic);
    }

    /// The next update to send now, if the budget allows; call until `None`.
    pub fn poll_send(&mut self, now: Millis) -> Option<(String, Value)> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.since(*t) >= self.period_ms)
        {
            self.sent.pop_front();
        }
        if self.next_allowed().is_some_and(|t| t > now) {
            return None;
        }
        let topic = self.waiting.pop_first()?;
        self.sent.push_back(now);
        let meta = self.wanted.get(&topic).cloned().unwrap_or(Value::Null);
        Some((topic, meta))
    }

    /// A send the channel refused (not joined yet): it waits for [`rejoined`](Self::rejoined).
    pub fn refused(&mut self) {
        self.sent.pop_back();
    }

    /// When an update that waits for budget can go (`None`: nothing waits, or it can go now).
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.waiting.is_empty() {
            return None;
        }
        self.next_allowed()
    }

    /// The earliest time the next send keeps both the gap and the budget.
    fn next_allowed(&self) -> Option<Millis> {
        let gap = self.sent.back().map(|t| *t + self.min_gap_ms);
        let budget = (self.sent.len() >= self.limit)
            .then(|| self.sent.front().map(|t| *t + self.period_ms))
            .flatten();
        match (gap, budget) {
            (Some(gap), Some(budget)) => Some(gap.max(budget)),
            (gap, budget) => gap.or(budget),
        }
    }
}

fn phx_ref(meta: &Map<String, Value>) -> Option<&str> {
    meta.get("phx_ref").and_then(Value::as_str)
}

fn parse_entries(
    value: &Value,
    event: &'static str,
) -> Result<SortedMap<String, Vec<Map<String, Value>>>, PayloadError> {
    let bad = |detail| PayloadError { event, detail };
    let map = match value {
        Value::Null => return Ok(SortedMap::new()),
        Value::Object(map) => map,
        _ => return Err(bad("expected an object of presences")),
    };
    let mut entries = SortedMap::new();
    for (key, entry) in map {
        let metas = entry
            .get("metas")
            .and_then(Value::as_array)
            .ok_or(bad("each presence needs a metas array"))?;
        let mut objects = Vec::with_capacity(metas.len());
        for meta in metas {
            objects.push(
                meta.as_object()
                    .cloned()
                    .ok_or(bad("metas must be objects"))?,
            );
        }
        entries.insert(key.clone(), objects);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

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
    fn the_throttle_keeps_under_the_limit_and_sends_only_the_newest() {
        let mut throttle = TrackThrottle::new(2, 30_000, 1);
        throttle.set("a", json!({"view": "songs"}));
        throttle.set("a", json!({"view": "songs"}));
        assert_eq!(
            throttle.poll_send(Millis(0)),
            Some(("a".into(), json!({"view": "songs"})))
        );
        assert_eq!(
            throttle.poll_send(Millis(0)),
            None,
            "a repeat costs nothing"
        );
        throttle.set("a", json!({"view": "shows"}));
        assert_eq!(throttle.poll_send(Millis(0)), None, "the gap");
        assert_eq!(throttle.poll_timeout(), Some(Millis(1)));
        assert!(throttle.poll_send(Millis(1)).is_some());
        for view in ["x", "y", "z"] {
            throttle.set("a", json!({ "view": view }));
        }
        assert_eq!(throttle.poll_send(Millis(2)), None, "over budget");
        assert_eq!(throttle.poll_timeout(), Some(Millis(30_000)));
        assert_eq!(
            throttle.poll_send(Millis(30_000)),
            Some(("a".into(), json!({"view": "z"}))),
            "only the newest"
        );
        assert_eq!(throttle.poll_send(Millis(30_001)), None);
        throttle.rejoined("a");
        assert_eq!(throttle.poll_timeout(), Some(Millis(30_001)));
        assert_eq!(throttle.poll_send(Millis(30_001)).unwrap().1["view"], "z");
        throttle.forget("a");
        throttle.rejoined("a");
        assert_eq!(throttle.poll_send(Millis(90_000)), None);

        // The default: a burst of ten view changes costs the first and the newest.
        let mut spaced = TrackThrottle::default();
        let mut sent = Vec::new();
        for (i, t) in (0..10).map(|i| (i, i * 50)) {
            spaced.set("b", json!({ "view": i }));
            sent.extend(spaced.poll_send(Millis(t)));
        }
        let due = spaced.poll_timeout().unwrap();
        assert_eq!(due, Millis(1_000));
        sent.extend(spaced.poll_send(due));
        let views: Vec<Value> = sent.into_iter().map(|(_, m)| m["view"].clone()).collect();
        assert_eq!(views, [json!(0), json!(9)]);
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
