//! A request whose answer was lost may have committed. The outbox must recognise its own
//! commit, and never fold a later edit into a request the server may already hold, nor cancel
//! a create the server may hold by a delete.

mod support;

use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::outbox::{Effect, Entry, HttpResult, Op, Outbox, RowStatus};
use rockon_sync_core::schema::{Schema, TableSchema};
use rockon_sync_core::value::{json, Map, Value};
use rockon_sync_core::Millis;
use support::OneRow;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn answered(rows: Value) -> HttpResult {
    HttpResult::Response {
        status: 200,
        body: rows.to_string(),
    }
}

fn lost() -> HttpResult {
    HttpResult::NetworkError("connection reset after the request was sent".into())
}

fn song(version: i64, tempo: Value, key: Value) -> Value {
    json!({"id": "s1", "band_id": "b1", "title": "Yellow", "tempo": tempo, "key": key,
           "version": version, "deleted_at": null})
}

/// Pushes the next due request, answers it, and follows an empty answer's GET with `then`.
fn push(
    outbox: &mut Outbox,
    songs: &TableSchema,
    now: u64,
    answer: HttpResult,
    then: Option<Value>,
) -> (String, Vec<Effect>) {
    let (seq, request) = outbox.next_request(Millis(now)).expect("a request is due");
    let sent = format!(
        "{} {} {}",
        request.method,
        request.path,
        request.body.unwrap_or_default()
    );
    let (mut effects, follow_up) = outbox.answer(Millis(now + 1), seq, answer, songs);
    if let (Some(_), Some(row)) = (follow_up, then) {
        let (more, _) = outbox.answer(Millis(now + 2), seq, answered(json!([row])), songs);
        effects.extend(more);
    }
    (sent, effects)
}

fn stored_row(effects: &[Effect]) -> Option<&Map<String, Value>> {
    effects.iter().find_map(|e| match e {
        Effect::StoreServerRow { row, .. } | Effect::StoreMergedRow { row, .. } => Some(row),
        _ => None,
    })
}

#[test]
fn an_edit_after_an_insert_whose_answer_was_lost_is_not_swallowed() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let row = object(json!({"id": "s1", "band_id": "b1", "title": "Yellow"}));
    outbox
        .enqueue("songs", "s1", Op::Insert, row, None)
        .unwrap();
    // The POST committed; the browser saw a reset.
    push(&mut outbox, songs, 0, lost(), None);

    let edit = object(json!({"key": "E"}));
    outbox
        .enqueue("songs", "s1", Op::Update, edit, None)
        .unwrap();
    assert_eq!(
        outbox.entries().count(),
        2,
        "the edit is a write of its own"
    );

    // The insert's retry is ignored as a duplicate; the GET finds the row the first one made.
    let committed = song(1, Value::Null, Value::Null);
    let (sent, effects) = push(
        &mut outbox,
        songs,
        60_000,
        answered(json!([])),
        Some(committed),
    );
    assert!(
        sent.starts_with("POST /rest/v1/songs?on_conflict=id"),
        "{sent}"
    );
    assert!(
        !sent.contains("\"key\""),
        "the retry sends what the first send sent: {sent}"
    );
    assert_eq!(
        stored_row(&effects).unwrap()["key"],
        "E",
        "the local row keeps the edit"
    );

    let (sent, _) = push(
        &mut outbox,
        songs,
        60_010,
        answered(json!([song(2, Value::Null, json!("E"))])),
        None,
    );
    assert_eq!(
        sent,
        "PATCH /rest/v1/songs?id=eq.s1&version=eq.1 {\"key\":\"E\"}"
    );
    assert_eq!(outbox.entries().count(), 0);
    assert_eq!(outbox.status("songs", "s1"), RowStatus::Synced);
}

#[test]
fn a_delete_cancels_only_a_create_that_was_never_sent() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let row = object(json!({"id": "s1", "band_id": "b1", "title": "Yellow"}));

    // Never sent: both vanish, nothing goes to the server.
    let mut unsent = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    unsent
        .enqueue("songs", "s1", Op::Insert, row.clone(), None)
        .unwrap();
    let tombstone = object(json!({"deleted_at": "2026-12-01T10:00:00Z"}));
    unsent
        .enqueue("songs", "s1", Op::Delete, tombstone.clone(), None)
        .unwrap();
    assert_eq!(unsent.entries().count(), 0);

    // Sent, answer lost (it committed): the delete must reach the server.
    let mut sent_once = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    sent_once
        .enqueue("songs", "s1", Op::Insert, row, None)
        .unwrap();
    push(&mut sent_once, songs, 0, lost(), None);
    sent_once
        .enqueue("songs", "s1", Op::Delete, tombstone, None)
        .unwrap();
    assert_eq!(sent_once.entries().count(), 2);
    let committed = song(1, Value::Null, Value::Null);
    let (_, effects) = push(
        &mut sent_once,
        songs,
        60_000,
        answered(json!([])),
        Some(committed),
    );
    assert!(
        !stored_row(&effects).unwrap()["deleted_at"].is_null(),
        "still deleted locally"
    );
    let (sent, _) = push(
        &mut sent_once,
        songs,
        60_010,
        answered(json!([song(2, Value::Null, Value::Null)])),
        None,
    );
    assert!(
        sent.starts_with("PATCH /rest/v1/songs?id=eq.s1&version=eq.1 {\"deleted_at\""),
        "{sent}"
    );
}

#[test]
fn an_outbox_reloaded_from_storage_knows_an_entry_was_sent() {
    // What the driver persisted before the first send (attempts 1), read back by a new tab.
    let sent = Entry::from_json(&json!({
        "seq": 4, "table": "songs", "rowId": "s1", "op": "insert",
        "fields": {"id": "s1", "band_id": "b1", "title": "Yellow"},
        "base": null, "attempts": 1, "failed": null
    }))
    .unwrap();
    let mut outbox = Outbox::new(vec![sent], ConflictPolicy::ServerWins, 1);
    let tombstone = object(json!({"deleted_at": "2026-12-01T10:00:00Z"}));
    outbox
        .enqueue("songs", "s1", Op::Delete, tombstone, None)
        .unwrap();
    assert_eq!(
        outbox.entries().count(),
        2,
        "the create may be on the server: no cancelling"
    );
    outbox
        .enqueue("songs", "s1", Op::Delete, Map::new(), None)
        .unwrap_err();
}

/// An outbox whose update `tempo = 177` (on version 1) was sent and its answer lost.
fn update_sent_answer_lost(songs: &TableSchema) -> (Outbox, Map<String, Value>) {
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let base = object(song(1, json!(100), json!("B")));
    let edit = object(json!({"tempo": 177}));
    outbox
        .enqueue("songs", "s1", Op::Update, edit, Some(base.clone()))
        .unwrap();
    push(&mut outbox, songs, 0, lost(), None);
    (outbox, base)
}

#[test]
fn an_update_whose_answer_was_lost_is_recognised_as_our_own_commit() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let (mut outbox, base) = update_sent_answer_lost(songs);
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"tempo": 183})),
            Some(base),
        )
        .unwrap();
    assert_eq!(
        outbox.entries().count(),
        2,
        "not folded into a request that may have landed"
    );

    // The retry's condition (version 1) no longer matches: the server is at 2, with 177.
    let ours = song(2, json!(177), json!("B"));
    let (_, effects) = push(&mut outbox, songs, 60_000, answered(json!([])), Some(ours));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Conflict(_))),
        "no conflict with ourselves"
    );
    assert_eq!(
        stored_row(&effects).unwrap()["tempo"],
        183,
        "the newer local value stays"
    );

    let (sent, _) = push(
        &mut outbox,
        songs,
        60_010,
        answered(json!([song(3, json!(183), json!("B"))])),
        None,
    );
    assert_eq!(
        sent,
        "PATCH /rest/v1/songs?id=eq.s1&version=eq.2 {\"tempo\":183}"
    );
    assert_eq!(outbox.entries().count(), 0);
}

#[test]
fn someone_elses_change_in_the_meantime_is_still_a_conflict() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let (mut outbox, _) = update_sent_answer_lost(songs);
    // Version 2 holds another member's tempo: not our commit.
    let theirs = song(2, json!(150), json!("B"));
    let (_, effects) = push(
        &mut outbox,
        songs,
        60_000,
        answered(json!([])),
        Some(theirs),
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Conflict(_))),
        "{effects:?}"
    );
}

#[test]
fn a_merge_keeps_the_entrys_values_whatever_the_stored_row_holds() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let base = object(song(1, json!(100), json!("B")));
    outbox
        .enqueue(
            "songs",
            "s1",
            Op::Update,
            object(json!({"notes": "n20"})),
            Some(base),
        )
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    // Someone else moved the row to version 2 (the key); the condition fails.
    let (_, follow_up) = outbox.answer(Millis(1), seq, answered(json!([])), songs);
    assert!(follow_up.is_some());
    let mut theirs = object(song(2, json!(100), json!("E")));
    theirs.insert("notes".into(), Value::Null);
    // The merge works from the entry's base and fields, never from the stored row (which
    // another tab's push or a pull may have overwritten with that server row).
    let (effects, _) = outbox.answer(Millis(2), seq, answered(json!([theirs])), songs);
    assert_eq!(stored_row(&effects).unwrap()["notes"], "n20");
    let (_, request) = outbox.next_request(Millis(3)).expect("the edit goes again");
    assert_eq!(request.body.as_deref(), Some("{\"notes\":\"n20\"}"));
    assert!(request.path.ends_with("version=eq.2"), "{}", request.path);
}
