//! Faults the deterministic simulation found in the outbox, each pinned by the smallest
//! sequence that shows it (the simulation's seed is in each test's comment).

mod support;

use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::outbox::{Effect, HttpResult, Op, Outbox, RowStatus};
use rockon_sync_core::schema::Schema;
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

fn song(version: i64, title: &str, notes: Value) -> Map<String, Value> {
    object(
        json!({"id": "s1", "band_id": "b1", "title": title, "notes": notes,
                  "version": version, "deleted_at": null}),
    )
}

fn bodies(outbox: &mut Outbox, now: u64) -> Option<(u64, String)> {
    let (seq, request) = outbox.next_request(Millis(now))?;
    Some((seq, request.body.unwrap_or_default()))
}

/// Seed 13: an edit made while an earlier edit of the row was in flight was merged into that
/// earlier edit's conflict resolution and then sent again by its own entry.
#[test]
fn a_merge_pushes_only_its_own_entrys_fields() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let base = song(1, "A", Value::Null);
    let title = object(json!({"title": "mine"}));
    outbox
        .enqueue("songs", "s1", Op::Update, title, Some(base.clone()))
        .unwrap();
    let (first, _) = bodies(&mut outbox, 0).unwrap();
    // A second edit while the first is in flight: a new entry.
    let notes = object(json!({"notes": "later"}));
    outbox
        .enqueue("songs", "s1", Op::Update, notes, Some(base))
        .unwrap();
    let (_, follow_up) = outbox.answer(Millis(1), first, answered(json!([])), songs);
    assert!(follow_up.is_some());
    let theirs = song(2, "theirs", Value::Null);
    let (effects, _) = outbox.answer(Millis(2), first, answered(json!([theirs])), songs);
    assert!(effects.iter().any(|e| matches!(e, Effect::Conflict(_))));
    // The shown row keeps the later edit on top of the merge.
    let shown = effects.iter().rev().find_map(|e| match e {
        Effect::StoreMergedRow { row, .. } | Effect::StoreServerRow { row, .. } => Some(row),
        _ => None,
    });
    assert_eq!(shown.unwrap()["notes"], "later");
    // The later entry alone carries its field, once.
    let (_, body) = bodies(&mut outbox, 10).unwrap();
    assert_eq!(body, r#"{"notes":"later"}"#);
}

/// Seed 822: a tab pushed a later edit of a row before the leader that took over pushed the
/// earlier one; settling the earlier one moved the later (sent) edit onto the new version, and
/// its retry applied it a second time.
#[test]
fn settling_an_entry_leaves_a_sent_later_entry_on_its_own_base() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let base = song(1, "A", Value::Null);
    let sent_later = rockon_sync_core::outbox::Entry {
        seq: 20,
        table: "songs".into(),
        row_id: "s1".into(),
        op: Op::Update,
        fields: object(json!({"title": "theirs"})),
        base: Some(base.clone()),
        attempts: 1,
        failed: None,
        last_error: None,
        edited: 0,
        field_edits: Vec::new(),
    };
    let earlier = rockon_sync_core::outbox::Entry {
        seq: 10,
        fields: object(json!({"title": "mine"})),
        attempts: 0,
        ..sent_later.clone()
    };
    outbox.adopt(vec![earlier, sent_later]);
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    assert_eq!(seq, 10);
    // The later entry committed first (version 2); the earlier one meets it and settles.
    let (_, follow_up) = outbox.answer(Millis(1), seq, answered(json!([])), songs);
    assert!(follow_up.is_some());
    let server = song(2, "theirs", Value::Null);
    outbox.answer(Millis(2), seq, answered(json!([server])), songs);
    let (_, request) = outbox.next_request(Millis(10)).unwrap();
    assert!(
        request.path.ends_with("version=eq.1"),
        "the sent entry is retried exactly as sent: {}",
        request.path
    );
}

/// Seed 2291: an edit of a row whose creation another tab had not handed over yet found no
/// row and was taken for a remote delete; then the creation's entry sat behind it.
#[test]
fn an_edit_of_a_row_not_created_yet_waits_for_the_creation() {
    let schema = Schema::rockon();
    let songs = schema.table("songs").unwrap();
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let created = song(0, "A", Value::Null);
    let edit = object(json!({"notes": "n"}));
    outbox
        .enqueue("songs", "s1", Op::Update, edit, Some(created.clone()))
        .unwrap();
    let (seq, _) = outbox.next_request(Millis(0)).unwrap();
    outbox.answer(Millis(1), seq, answered(json!([])), songs);
    let (effects, _) = outbox.answer(Millis(2), seq, answered(json!([])), songs);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Conflict(_))),
        "not a remote delete: {effects:?}"
    );
    assert_eq!(outbox.status("songs", "s1"), RowStatus::Pending);
    // The creation arrives (from another tab) with a later number: it goes first.
    let mut insert = created;
    insert.remove("version");
    insert.remove("deleted_at");
    let entry = rockon_sync_core::outbox::Entry {
        seq: seq + 100,
        table: "songs".into(),
        row_id: "s1".into(),
        op: Op::Insert,
        fields: insert,
        base: None,
        attempts: 0,
        failed: None,
        last_error: None,
        edited: 0,
        field_edits: Vec::new(),
    };
    outbox.adopt(vec![entry]);
    let (next, request) = outbox.next_request(Millis(600_000)).unwrap();
    assert_eq!((next, request.method), (seq + 100, "POST"));
}

/// Seed 683: a leader re-adopted an entry it had just removed (a create withdrawn by a delete)
/// from a read of the stored outbox taken before the removal was stored.
#[test]
fn a_removed_entry_is_not_adopted_back_from_an_older_read() {
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    let created = object(json!({"id": "s1", "band_id": "b1", "title": "A"}));
    outbox
        .enqueue("songs", "s1", Op::Insert, created, None)
        .unwrap();
    let stale_read: Vec<_> = outbox.entries().cloned().collect();
    let deleted_at = object(json!({"deleted_at": "2026-12-01T00:00:00Z"}));
    outbox
        .enqueue("songs", "s1", Op::Delete, deleted_at, None)
        .unwrap();
    assert_eq!(outbox.entries().count(), 0, "create and delete cancel out");
    assert_eq!(outbox.adopt(stale_read.clone()), 0);
    outbox.reload(stale_read);
    assert_eq!(outbox.entries().count(), 0);
    // Once storage shows the removal, the number is forgotten.
    outbox.reload(Vec::new());
    assert_eq!(outbox.entries().count(), 0);
}

/// Seed 2928 (of the joined engine's simulation): two tabs of one profile retitle a song
/// another member deletes. The first tab's entry was made with one title and later took a
/// note; the second tab's entry, made in between, holds the newer title. Joining the two
/// conflict records kept the first entry's title, because the entry as a whole was edited
/// last; each field's own last edit decides now.
#[test]
fn joined_conflict_records_keep_each_fields_later_edit() {
    use rockon_sync_core::outbox::ConflictRecord;
    let record = |local: Value, seq: u64, field_seqs: &[(&str, u64)]| ConflictRecord {
        table: "songs".into(),
        row_id: "s4".into(),
        local: object(local),
        remote: None,
        fields: Vec::new(),
        deleted_remotely: true,
        seq,
        field_seqs: field_seqs
            .iter()
            .map(|(f, at)| (f.to_string(), *at))
            .collect(),
    };
    let first = record(
        json!({"title": "t0-26", "notes": "t0-49"}),
        2996,
        &[("title", 1374), ("notes", 2996)],
    );
    let mut second = record(json!({"title": "t1-39"}), 2162, &[("title", 2162)]);
    second.absorb(first.clone(), &["title".into()]);
    assert_eq!(
        second.local["title"], "t1-39",
        "the later title is the user's"
    );
    assert_eq!(
        second.local["notes"], "t0-49",
        "the other tab's note is kept too"
    );

    // The sibling: when the second tab's title is the older one, the first record's stays.
    let mut older = record(json!({"title": "t1-1"}), 1000, &[("title", 1000)]);
    older.absorb(first, &["title".into()]);
    assert_eq!(older.local["title"], "t0-26");

    // Seed 153: a field the first record's edit did not write holds the row's base value,
    // which never wins over an edit, however late the first record's own edit was.
    let retitled = record(
        json!({"title": "t0-46", "notes": "t1-9"}),
        2882,
        &[("title", 2882)],
    );
    let mut noted = record(json!({"notes": "t1-36"}), 2049, &[("notes", 2049)]);
    noted.absorb(retitled, &["notes".into()]);
    assert_eq!(
        noted.local["notes"], "t1-36",
        "the edit wins over a base value"
    );
    assert_eq!(noted.local["title"], "t0-46");
}

/// Simulation (with discards): a tab that did not lead queued two edits of a row, the second
/// made on the row showing the first. Discarding the first, then the second, put back the
/// second's base, which held the first's discarded value, at the server's version: no pull
/// would ever replace it.
#[test]
fn discarding_an_edit_takes_its_values_out_of_later_edits_bases() {
    let mut outbox = Outbox::new(Vec::new(), ConflictPolicy::ServerWins, 1);
    outbox.set_append_only(true);
    let server = song(1, "A", Value::Null);
    let first = object(json!({"title": "mine"}));
    outbox
        .enqueue("songs", "s1", Op::Update, first, Some(server.clone()))
        .unwrap();
    let shown = song(1, "mine", Value::Null);
    let second = object(json!({"notes": "later"}));
    outbox
        .enqueue("songs", "s1", Op::Update, second, Some(shown))
        .unwrap();
    let seqs: Vec<u64> = outbox.entries().map(|e| e.seq).collect();
    let (first, effects) = outbox.discard(seqs[0]).unwrap();
    let rebased = effects.iter().find_map(|e| match e {
        Effect::PutEntry(entry) => Some(entry.clone()),
        _ => None,
    });
    let base = rebased
        .expect("the later edit is stored again")
        .base
        .unwrap();
    assert_eq!(base["title"], "A", "the discarded value is out of its base");
    assert_eq!(
        outbox.with_later_edits(&first, server.clone())["notes"],
        "later",
        "the later edit still shows"
    );
    let (second, _) = outbox.discard(seqs[1]).unwrap();
    assert_eq!(second.base.unwrap(), server);
}
