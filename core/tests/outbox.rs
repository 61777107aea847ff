//! The outbox rules: coalescing, per-row order, failure classes, conflicts.

mod support;

use rockon_sync_core::json_text::json_text;
use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::outbox::{Effect, Entry, HttpResult, Op, Outbox, RowStatus, WriteRefused};
use rockon_sync_core::schema::Schema;
use rockon_sync_core::value::{json, Map, Value};
use rockon_sync_core::Millis;
use support::OneRow;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn ok(rows: Value) -> HttpResult {
    HttpResult::Response {
        status: 200,
        body: rows.to_string(),
    }
}

fn status(code: u16, body: &str) -> HttpResult {
    HttpResult::Response {
        status: code,
        body: body.to_owned(),
    }
}

fn server_row(id: &str, title: &str, version: i64) -> Value {
    json!({"id": id, "band_id": "b1", "title": title, "key": "B", "version": version})
}

fn outbox() -> Outbox {
    Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 7)
}

#[test]
fn an_insert_is_an_idempotent_upsert_and_the_server_row_replaces_the_local_one() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = outbox();
    let fields = object(json!({"id": "s1", "band_id": "b1", "title": "Yellow"}));
    let effects = outbox
        .enqueue("songs", "s1", Op::Insert, fields, None)
        .unwrap();
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::AddEntry(entry) if entry.seq == 1)));
    assert_eq!(outbox.status("songs", "s1"), RowStatus::Pending);
    let (seq, request) = outbox.next_request(Millis(0)).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/rest/v1/songs?on_conflict=id");
    assert!(request.prefer.contains("ignore-duplicates"));
    assert_eq!(outbox.status("songs", "s1"), RowStatus::Syncing);
    assert!(
        outbox.next_request(Millis(0)).is_none(),
        "one request at a time"
    );
    let (effects, follow_up) = outbox.answer(
        Millis(5),
        seq,
        ok(json!([server_row("s1", "Yellow", 1)])),
        songs,
    );
    assert!(follow_up.is_none());
    assert!(effects.contains(&Effect::RemoveEntry(1)));
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::StoreServerRow { row, .. } if row["version"] == 1)));
    assert_eq!(outbox.status("songs", "s1"), RowStatus::Synced);
    assert_eq!(outbox.entries().count(), 0);
}

#[test]
fn a_retried_insert_that_already_landed_is_recognised() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = outbox();
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Insert,
            object(json!({"id": "s1", "band_id": "b1", "title": "Yellow"})),
            None,
        )
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    // The first answer was lost in transit.
    outbox.answer(
        Millis(1),
        seq,
        HttpResult::NetworkError("reset".into()),
        songs,
    );
    let (seq, _) = outbox.next_request(Millis(60_000)).unwrap();
    // ignore-duplicates: nothing inserted, nothing returned.
    let (_, follow_up) = outbox.answer(Millis(60_001), seq, status(201, "[]"), songs);
    let get = follow_up.expect("a GET of the row");
    assert_eq!(
        (get.method, get.path.as_str()),
        ("GET", "/rest/v1/songs?id=eq.s1&select=*")
    );
    let (effects, _) = outbox.answer(
        Millis(60_002),
        seq,
        ok(json!([server_row("s1", "Yellow", 1)])),
        songs,
    );
    assert!(effects.contains(&Effect::RemoveEntry(seq)));
    assert_eq!(outbox.entries().count(), 0, "exactly once");
}

#[test]
fn unsent_edits_of_a_row_coalesce() {
    let mut outbox = outbox();
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Insert,
            object(json!({"id": "s1", "band_id": "b1", "title": "a"})),
            None,
        )
        .unwrap();
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"title": "b"})),
            None,
        )
        .unwrap();
    outbox
        .enqueue("songs", "s1", Op::Update, object(json!({"key": "E"})), None)
        .unwrap();
    let entries: Vec<_> = outbox.entries().cloned().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].op, Op::Insert);
    assert_eq!(
        entries[0].fields,
        object(json!({"id": "s1", "band_id": "b1", "title": "b", "key": "E"}))
    );
    // Created and deleted before the server saw it: nothing to send.
    outbox
        .enqueue("songs", "s1", Op::Delete, Map::new(), None)
        .unwrap();
    assert_eq!(outbox.entries().count(), 0);

    let base = object(server_row("s2", "x", 4));
    outbox
        .enqueue(
            "songs",
            "s2",
            Op::Update,
            object(json!({"title": "y"})),
            Some(base.clone()),
        )
        .unwrap();
    outbox
        .enqueue(
            "songs",
            "s2",
            Op::Update,
            object(json!({"notes": "z"})),
            Some(base),
        )
        .unwrap();
    outbox
        .enqueue("songs", "s2", Op::Delete, Map::new(), None)
        .unwrap();
    let entries: Vec<_> = outbox.entries().cloned().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].op, Op::Delete);
    let (_, request) = outbox.next_request(Millis(0)).unwrap();
    assert_eq!(
        request.path, "/rest/v1/songs?id=eq.s2&version=eq.4",
        "conditional on the base version"
    );
    assert_eq!(
        outbox.enqueue(
            "songs",
            "s2",
            Op::Update,
            object(json!({"title": "w"})),
            None
        ),
        Err(WriteRefused::RowDeleted)
    );
}

#[test]
fn an_edit_during_a_push_waits_for_it_and_builds_on_the_new_version() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = outbox();
    let base = object(server_row("s1", "a", 1));
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"title": "b"})),
            Some(base.clone()),
        )
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"title": "c"})),
            Some(base),
        )
        .unwrap();
    assert_eq!(
        outbox.entries().count(),
        2,
        "the in-flight entry is not touched"
    );
    assert!(outbox.next_request(Millis(0)).is_none());
    outbox.answer(Millis(1), seq, ok(json!([server_row("s1", "b", 2)])), songs);
    let (_, request) = outbox.next_request(Millis(1)).unwrap();
    assert_eq!(request.path, "/rest/v1/songs?id=eq.s1&version=eq.2");
    assert_eq!(request.body.as_deref(), Some(r#"{"title":"c"}"#));
}

#[test]
fn failures_are_classified() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = outbox();
    let insert = |id: &str| object(json!({"id": id, "band_id": "b1", "title": id}));
    outbox
        .enqueue("songs", "a", Op::Insert, insert("a"), None)
        .unwrap();
    outbox
        .enqueue("songs", "b", Op::Insert, insert("b"), None)
        .unwrap();

    // Retryable: network, 5xx, 429 — on a timer, with jittered backoff, and the whole outbox
    // waits (an unreachable server fails every request alike). The two new rows go as one
    // array upsert.
    for (n, result) in [
        HttpResult::NetworkError("offline".into()),
        status(503, r#"{"message":"unavailable"}"#),
        status(429, "slow down"),
    ]
    .into_iter()
    .enumerate()
    {
        let now = Millis(1_000_000 * n as u64);
        let wave = outbox.next_wave(now);
        assert_eq!(wave.len(), 1);
        assert_eq!(wave[0].seqs, [1, 2]);
        outbox.complete(now, &wave[0].seqs, result, songs);
        let due = outbox.poll_timeout().expect("a retry is scheduled");
        let step = 1_000u64 << n;
        assert!(
            (now.0 + step / 2..=now.0 + step).contains(&due.0),
            "attempt {} due {due:?}",
            n + 1
        );
        assert!(
            outbox.next_wave(now).is_empty(),
            "nothing goes out before the retry time"
        );
    }
    assert_eq!(
        outbox.entry(1).unwrap().last_error.as_ref().unwrap().status,
        429
    );
    assert_eq!(outbox.status("songs", "a"), RowStatus::Pending);

    // 401: everything holds until a new token, and the app is asked for one.
    let wave = outbox.next_wave(Millis(10_000_000));
    let (effects, _) = outbox.complete(
        Millis(10_000_000),
        &wave[0].seqs,
        status(401, r#"{"code":"PGRST301"}"#),
        songs,
    );
    assert!(effects.contains(&Effect::NeedToken));
    assert!(outbox.next_wave(Millis(20_000_000)).is_empty());
    outbox.resume();

    // Other 4xx: a batch refused as a whole tells nothing of each row, so each goes alone
    // next; the one at fault is parked with the server's message, later entries of its row
    // wait, other rows go on.
    let wave = outbox.next_wave(Millis(20_000_000));
    assert_eq!(wave[0].seqs, [1, 2]);
    outbox
        .enqueue(
            "songs",
            "a",
            Op::Update,
            object(json!({"title": "later"})),
            None,
        )
        .unwrap();
    let refused = || {
        status(
            400,
            r#"{"code":"23502","message":"null value in column \"title\""}"#,
        )
    };
    outbox.complete(Millis(20_000_000), &[1, 2], refused(), songs);
    assert!(outbox.entry(1).unwrap().failed.is_none(), "not parked yet");
    assert_eq!(outbox.status("songs", "a"), RowStatus::Pending);
    let (seq, _) = outbox.next_request(Millis(20_000_000)).unwrap();
    assert_eq!(seq, 1, "alone");
    outbox.answer(
        Millis(20_000_000),
        seq,
        status(
            400,
            r#"{"code":"23502","message":"null value in column \"title\""}"#,
        ),
        songs,
    );
    assert_eq!(outbox.status("songs", "a"), RowStatus::Error);
    let failed = outbox.entry(seq).unwrap().failed.clone().unwrap();
    assert_eq!(
        (failed.status, failed.code.as_deref()),
        (400, Some("23502"))
    );
    assert!(failed.message.contains("null value"));
    let (other, _) = outbox.next_request(Millis(30_000_000)).unwrap();
    assert_eq!(
        outbox.entry(other).unwrap().row_id,
        "b",
        "other rows are not blocked"
    );
    outbox.answer(
        Millis(30_000_000),
        other,
        ok(json!([server_row("b", "b", 1)])),
        songs,
    );
    assert!(
        outbox.next_request(Millis(30_000_000)).is_none(),
        "the row's later entry waits"
    );
    // Retry makes it pending again; discard removes it.
    outbox.retry(seq);
    assert_eq!(
        outbox.next_request(Millis(30_000_000)).map(|(s, _)| s),
        Some(seq)
    );
    outbox.answer(
        Millis(30_000_000),
        seq,
        status(403, r#"{"code":"42501","message":"denied"}"#),
        songs,
    );
    let (discarded, _) = outbox.discard(seq).unwrap();
    assert_eq!(discarded.op, Op::Insert);
    assert_eq!(
        outbox.entries().count(),
        1,
        "the later update is still there, nothing dropped silently"
    );
}

#[test]
fn a_conditional_update_that_matches_nothing_merges_with_the_server_row() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = outbox();
    let base = object(server_row("s1", "Yellow", 1));
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"key": "C"})),
            Some(base),
        )
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    let (_, get) = outbox.answer(Millis(1), seq, ok(json!([])), songs);
    assert_eq!(get.unwrap().method, "GET");
    // Someone retitled it meanwhile: no overlap, the key change is pushed again on version 2.
    let remote =
        json!([{"id": "s1", "band_id": "b1", "title": "Yellow (live)", "key": "B", "version": 2}]);
    let (effects, _) = outbox.answer(Millis(2), seq, ok(remote), songs);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Conflict(_))));
    assert!(effects.iter().any(|e| matches!(e, Effect::StoreMergedRow { row, .. } if row["title"] == "Yellow (live)" && row["key"] == "C")));
    let (_, request) = outbox.next_request(Millis(2)).unwrap();
    assert_eq!(request.path, "/rest/v1/songs?id=eq.s1&version=eq.2");
    assert_eq!(request.body.as_deref(), Some(r#"{"key":"C"}"#));
}

#[test]
fn overlapping_edits_follow_the_policy_and_remote_deletes_are_conflicts() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = outbox();
    let base = object(server_row("s1", "Yellow", 1));
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"title": "Mine"})),
            Some(base.clone()),
        )
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    outbox.answer(Millis(1), seq, ok(json!([])), songs);
    let (effects, _) = outbox.answer(
        Millis(2),
        seq,
        ok(json!([server_row("s1", "Theirs", 2)])),
        songs,
    );
    let conflict = effects
        .iter()
        .find_map(|e| match e {
            Effect::Conflict(record) => Some(record.clone()),
            _ => None,
        })
        .expect("a conflict");
    assert_eq!(conflict.fields[0].field, "title");
    assert_eq!(conflict.fields[0].local, "Mine", "the losing value is kept");
    assert_eq!(conflict.fields[0].kept, "Theirs");
    assert_eq!(
        outbox.entries().count(),
        0,
        "server wins: nothing left to push"
    );

    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"notes": "n"})),
            Some(base),
        )
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(3)).unwrap();
    outbox.answer(Millis(4), seq, ok(json!([])), songs);
    let (effects, _) = outbox.answer(Millis(5), seq, ok(json!([])), songs);
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Conflict(record) if record.deleted_remotely)));
    assert_eq!(outbox.entries().count(), 0);
}

#[test]
fn persisted_entries_survive_a_reload_in_order() {
    let mut outbox = outbox();
    for id in ["a", "b", "c"] {
        outbox
            .enqueue(
                "songs",
                id,
                Op::Insert,
                object(json!({"id": id, "band_id": "b1", "title": id})),
                None,
            )
            .unwrap();
    }
    let saved: Vec<_> = outbox.entries().cloned().collect();
    let json = serde_json::from_str::<rockon_sync_core::value::Value>(&json_text(&saved)).unwrap();
    let stored = json.as_array().unwrap().iter();
    let mut reloaded = Outbox::new(
        stored.map(|e| Entry::from_json(e).unwrap()).collect(),
        ConflictPolicy::ServerWins,
        1,
    );
    // One array upsert, in the order the rows were made.
    let wave = reloaded.next_wave(Millis(0));
    assert_eq!(wave.len(), 1);
    let body: Value = serde_json::from_str(wave[0].request.body.as_deref().unwrap()).unwrap();
    let order: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a", "b", "c"]);
    let rows: Vec<Value> = order.iter().map(|id| server_row(id, id, 1)).collect();
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let (effects, follow_up) = reloaded.complete(Millis(0), &wave[0].seqs, ok(json!(rows)), songs);
    assert!(follow_up.is_none());
    let removed = effects
        .iter()
        .filter(|e| matches!(e, Effect::RemoveEntry(_)));
    assert_eq!(removed.count(), 3);
    let (seq, _) = {
        reloaded
            .enqueue(
                "songs",
                "d",
                Op::Insert,
                object(json!({"id": "d", "band_id": "b1", "title": "d"})),
                None,
            )
            .unwrap();
        reloaded.next_request(Millis(0)).unwrap()
    };
    assert_eq!(seq, 4, "sequence numbers continue after a reload");
}

#[test]
fn tabs_sharing_one_outbox_append_without_collisions_and_the_leader_adopts_their_entries() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut leader = outbox();
    let mut follower = outbox();
    follower.set_append_only(true);
    let mut storage: std::collections::BTreeMap<u64, rockon_sync_core::outbox::Entry> =
        Default::default();
    let persist = |effects: Vec<Effect>, storage: &mut std::collections::BTreeMap<_, _>| {
        for effect in effects {
            match effect {
                Effect::AddEntry(entry) => {
                    assert!(
                        !storage.contains_key(&entry.seq),
                        "a new entry never replaces one"
                    );
                    storage.insert(entry.seq, entry);
                }
                Effect::PutEntry(entry) => {
                    storage.insert(entry.seq, entry);
                }
                Effect::RemoveEntry(seq) => {
                    storage.remove(&seq);
                }
                _ => {}
            }
        }
    };
    // Each tab raises its floor from the clock with its own salt before writing.
    leader.raise_seq_floor(1_000 * 2048 + 1);
    let insert = object(json!({"id": "s1", "band_id": "b1", "title": "Yellow"}));
    let effects = leader
        .enqueue("songs", "s1", Op::Insert, insert, None)
        .unwrap();
    persist(effects, &mut storage);
    let (seq, _) = leader.next_request(Millis(0)).unwrap();

    // The follower sees the entry in storage and edits the row while the push is in flight:
    // a new entry, not a change to the leader's.
    follower.reload(storage.values().cloned().collect());
    follower.raise_seq_floor(1_000 * 2048 + 7);
    let edit = object(json!({"key": "E"}));
    let effects = follower
        .enqueue("songs", "s1", Op::Update, edit.clone(), None)
        .unwrap();
    persist(effects, &mut storage);
    assert_eq!(storage.len(), 2, "{storage:?}");
    assert!(
        storage.keys().all(|s| *s > 1_000 * 2048),
        "seqs from the floors"
    );
    assert_eq!(
        storage[&seq].fields.get("key"),
        None,
        "the leader's entry is untouched"
    );

    // The leader adopts the follower's entry; its own stays in flight and settles.
    assert_eq!(leader.adopt(storage.values().cloned().collect()), 1);
    assert_eq!(leader.entries().count(), 2);
    assert!(
        leader.next_request(Millis(1)).is_none(),
        "still one in flight"
    );
    let (effects, _) = leader.answer(
        Millis(5),
        seq,
        ok(json!([server_row("s1", "Yellow", 1)])),
        songs,
    );
    persist(effects, &mut storage);
    let (next, request) = leader.next_request(Millis(6)).unwrap();
    assert_ne!(next, seq);
    assert_eq!(request.method, "PATCH");
    assert!(
        request.path.contains("version=eq.1"),
        "rebased on the settled row: {}",
        request.path
    );
    // A follower that reloads sees what is left.
    follower.reload(storage.values().cloned().collect());
    assert_eq!(follower.entries().count(), 1);
}

#[test]
fn a_stored_conflict_record_reads_back_as_it_was_written() {
    use rockon_sync_core::merge::FieldConflict;
    use rockon_sync_core::outbox::ConflictRecord;
    let record = ConflictRecord {
        table: "songs".into(),
        row_id: "s1".into(),
        local: rockon_sync_core::json!({"title": "Mine"})
            .as_object()
            .unwrap()
            .clone(),
        remote: None,
        fields: vec![FieldConflict {
            field: "title".into(),
            base: rockon_sync_core::value::Value::Null,
            local: "Mine".into(),
            remote: "Theirs".into(),
            kept: "Theirs".into(),
        }],
        deleted_remotely: true,
        seq: 12,
        field_seqs: vec![("title".into(), 11)],
    };
    let stored =
        serde_json::from_str::<rockon_sync_core::value::Value>(&json_text(&record)).unwrap();
    assert_eq!(ConflictRecord::from_json(&stored), Some(record));
    assert_eq!(
        ConflictRecord::from_json(&rockon_sync_core::json!({"table": "songs"})),
        None
    );
}
