//! Pushes in waves: new rows of a table as one array upsert, edits of different rows side by
//! side, and the order a row's writes and the rows they may refer to keep.

use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::outbox::{
    Effect, HttpResult, Op, Outbox, Push, RowStatus, MAX_BATCH_ROWS, MAX_SIDE_BY_SIDE,
};
use rockon_sync_core::schema::Schema;
use rockon_sync_core::value::{json, Map, Value};
use rockon_sync_core::Millis;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn answered(status: u16, body: Value) -> HttpResult {
    HttpResult::Response {
        status,
        body: body.to_string(),
    }
}

fn song(id: &str, version: i64) -> Value {
    json!({"id": id, "band_id": "b1", "title": id, "version": version, "deleted_at": null})
}

fn create(outbox: &mut Outbox, table: &str, id: &str) {
    let fields = object(json!({"id": id, "band_id": "b1", "title": id, "name": id}));
    outbox.enqueue(table, id, Op::Insert, fields, None).unwrap();
}

fn edit(outbox: &mut Outbox, id: &str, version: i64) {
    let base = Some(object(song(id, version)));
    let fields = object(json!({"title": format!("{id}!")}));
    outbox
        .enqueue("songs", id, Op::Update, fields, base)
        .unwrap();
}

/// The entries each request of `wave` carries.
fn carried(wave: &[Push]) -> Vec<Vec<u64>> {
    wave.iter().map(|push| push.seqs.clone()).collect()
}

fn removed(effects: &[Effect]) -> usize {
    let removals = effects
        .iter()
        .filter(|e| matches!(e, Effect::RemoveEntry(_)));
    removals.count()
}

#[test]
fn fifty_new_rows_go_in_one_request_and_settle_with_its_answer() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let ids: Vec<String> = (0..50).map(|n| format!("s{n:02}")).collect();
    for id in &ids {
        create(&mut outbox, "songs", id);
    }
    let wave = outbox.next_wave(Millis(0));
    assert_eq!(wave.len(), 1, "one request");
    let push = &wave[0];
    assert_eq!(push.seqs.len(), 50);
    assert_eq!(push.request.method, "POST");
    assert_eq!(push.request.path, "/rest/v1/songs?on_conflict=id");
    let body: Value = serde_json::from_str(push.request.body.as_deref().unwrap()).unwrap();
    let sent: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ids, "in the order the rows were made");
    assert_eq!(outbox.status("songs", "s07"), RowStatus::Syncing);
    assert!(outbox.next_wave(Millis(0)).is_empty(), "one wave at a time");
    let rows: Vec<Value> = ids.iter().map(|id| song(id, 1)).collect();
    let (effects, follow_up) =
        outbox.complete(Millis(150), &push.seqs, answered(201, json!(rows)), songs);
    assert!(follow_up.is_none());
    assert_eq!(removed(&effects), 50);
    assert_eq!(outbox.entries().count(), 0);
}

#[test]
fn rows_missing_from_a_batch_answer_are_read_in_one_request_and_settled_once() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 2);
    for id in ["a", "b", "c"] {
        create(&mut outbox, "songs", id);
    }
    // The first answer is lost: the batch may have committed.
    let wave = outbox.next_wave(Millis(0));
    let lost = HttpResult::NetworkError("connection reset".into());
    let (_, follow_up) = outbox.complete(Millis(1), &wave[0].seqs, lost, songs);
    assert!(follow_up.is_none());
    assert!(
        outbox.next_wave(Millis(1)).is_empty(),
        "it waits for the backoff"
    );
    // The retry sends the same rows; "a" and "c" landed the first time, so only "b" is new.
    let wave = outbox.next_wave(Millis(120_000));
    assert_eq!(wave.len(), 1);
    assert_eq!(wave[0].seqs, [1, 2, 3]);
    let (effects, follow_up) = outbox.complete(
        Millis(120_001),
        &wave[0].seqs,
        answered(201, json!([song("b", 1)])),
        songs,
    );
    assert_eq!(removed(&effects), 1);
    let fetch = follow_up.expect("a GET of the rows left out");
    assert_eq!(fetch.seqs, [1, 3]);
    assert_eq!(fetch.request.method, "GET");
    assert_eq!(
        fetch.request.path,
        "/rest/v1/songs?id=in.(%22a%22,%22c%22)&select=*"
    );
    // "a" is there (ours); "c" is not visible to this user: parked, never dropped.
    let (effects, follow_up) = outbox.complete(
        Millis(120_002),
        &fetch.seqs,
        answered(200, json!([song("a", 1)])),
        songs,
    );
    assert!(follow_up.is_none());
    assert_eq!(removed(&effects), 1);
    assert_eq!(outbox.status("songs", "a"), RowStatus::Synced);
    assert_eq!(outbox.status("songs", "c"), RowStatus::Error);
    assert_eq!(outbox.entries().count(), 1);
}

#[test]
fn a_batch_that_failed_goes_again_as_one_batch() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 9);
    for n in 0..20 {
        create(&mut outbox, "songs", &format!("s{n:02}"));
    }
    let wave = outbox.next_wave(Millis(0));
    let unavailable = answered(503, json!({"message": "unavailable"}));
    outbox.complete(Millis(1), &wave[0].seqs, unavailable, songs);
    // At the retry time every row is due at once: the jitter is drawn once per request.
    let due = outbox.poll_timeout().expect("a retry is scheduled");
    let again = outbox.next_wave(due);
    assert_eq!(carried(&again), carried(&wave));
}

#[test]
fn an_unreadable_answer_is_retried_not_read_as_no_rows() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 3);
    create(&mut outbox, "songs", "a");
    create(&mut outbox, "songs", "b");
    let wave = outbox.next_wave(Millis(0));
    let garbled = HttpResult::Response {
        status: 200,
        body: "<html>bad gateway</html>".into(),
    };
    let (effects, follow_up) = outbox.complete(Millis(1), &wave[0].seqs, garbled, songs);
    assert!(follow_up.is_none(), "no read of rows it said nothing about");
    assert_eq!(removed(&effects), 0);
    assert_eq!(outbox.status("songs", "a"), RowStatus::Pending);
    assert!(outbox.poll_timeout().is_some(), "a retry is scheduled");
}

#[test]
fn edits_of_different_rows_go_side_by_side() {
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 4);
    for n in 0..8 {
        edit(&mut outbox, &format!("e{n}"), 1);
    }
    let wave = outbox.next_wave(Millis(0));
    assert_eq!(wave.len(), MAX_SIDE_BY_SIDE);
    for (n, push) in wave.iter().enumerate() {
        assert_eq!(push.seqs.len(), 1);
        assert_eq!(push.request.method, "PATCH");
        assert_eq!(
            push.request.path,
            format!("/rest/v1/songs?id=eq.e{n}&version=eq.1")
        );
    }
}

#[test]
fn a_row_keeps_its_order_and_an_edit_never_passes_a_new_row_made_before_it() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 5);
    edit(&mut outbox, "old", 1); // 1
    create(&mut outbox, "songs", "new"); // 2
    edit(&mut outbox, "other", 3); // 3: may refer to "new"

    // The edit of "old" goes; the edit of "other" waits for the new row before it.
    assert_eq!(carried(&outbox.next_wave(Millis(0))), [vec![1]]);
    // A second edit of "old" while the first is out is a new entry that waits for it.
    edit(&mut outbox, "old", 1); // 4
    outbox.complete(
        Millis(1),
        &[1],
        answered(200, json!([song("old", 2)])),
        songs,
    );
    // Now the new row goes; it may pass the earlier edits of other rows (it refers to none).
    assert_eq!(carried(&outbox.next_wave(Millis(2))), [vec![2]]);
    outbox.complete(
        Millis(3),
        &[2],
        answered(201, json!([song("new", 1)])),
        songs,
    );
    let wave = outbox.next_wave(Millis(4));
    assert_eq!(
        carried(&wave),
        [vec![3], vec![4]],
        "then both edits, side by side"
    );
    let second_edit = &wave[1].request;
    assert_eq!(
        second_edit.path, "/rest/v1/songs?id=eq.old&version=eq.2",
        "on the version the first edit made"
    );
}

#[test]
fn a_batch_holds_rows_of_one_table_with_the_same_columns() {
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 6);
    create(&mut outbox, "songs", "a"); // 1
    create(&mut outbox, "songs", "b"); // 2
    let fields = object(json!({"id": "c", "band_id": "b1", "title": "c", "key": "E"}));
    outbox
        .enqueue("songs", "c", Op::Insert, fields, None)
        .unwrap(); // 3: another column
    create(&mut outbox, "shows", "d"); // 4: a new row of another table
    create(&mut outbox, "songs", "e"); // 5: may refer to "d"
    let wave = outbox.next_wave(Millis(0));
    assert_eq!(wave.len(), 1);
    assert_eq!(
        wave[0].seqs,
        [1, 2],
        "a missing column would be sent as null, not as its default; nothing passes the show"
    );
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let rows = json!([song("a", 1), song("b", 1)]);
    outbox.complete(Millis(1), &[1, 2], answered(201, rows), songs);
    let wave = outbox.next_wave(Millis(2));
    assert_eq!(wave[0].seqs, [3], "then the other columns");
}

#[test]
fn a_write_refused_for_a_reference_to_a_missing_row_is_retried_then_parked() {
    let schema = Schema::rockon();
    let setlists = schema.table("setlists").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 8);
    create(&mut outbox, "setlists", "l");
    let missing = || {
        let body = json!({"code": "23503", "message": "insert or update on table \"setlists\" violates foreign key constraint"});
        answered(409, body)
    };
    let mut now = 0;
    for attempt in 1..=5 {
        let wave = outbox.next_wave(Millis(now));
        assert_eq!(wave.len(), 1, "attempt {attempt} goes");
        outbox.complete(Millis(now), &wave[0].seqs, missing(), setlists);
        let parked = outbox.status("setlists", "l") == RowStatus::Error;
        assert_eq!(parked, attempt == 5, "attempt {attempt}");
        now = outbox.poll_timeout().map_or(now, |due| due.0);
    }
    let failed = outbox.entry(1).unwrap().failed.clone().unwrap();
    assert_eq!(
        (failed.status, failed.code.as_deref()),
        (409, Some("23503"))
    );
}

#[test]
fn at_most_a_bounded_number_of_rows_go_in_one_request() {
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 7);
    for n in 0..MAX_BATCH_ROWS + 5 {
        create(&mut outbox, "songs", &format!("s{n:03}"));
    }
    let wave = outbox.next_wave(Millis(0));
    assert_eq!(wave.len(), 1);
    assert_eq!(wave[0].seqs.len(), MAX_BATCH_ROWS);
}
