//! The activity engine natively: what a burst of other members' changes persists, looks up
//! and tells, and how failures are handled.

use rockon_sync_core::json_text::json_text;
use rockon_sync_core::notify::{Action, NotifyConfig};
use rockon_sync_core::outbox::HttpResult;
use rockon_sync_core::sync::{
    ActivityEngine, ActivityEvent, ActivityOutput, ActivityWrite, OpId, StoreError,
};
use rockon_sync_core::unread::ObservedRow;
use rockon_sync_core::value::json;
use rockon_sync_core::Millis;

fn row(id: &str, author: &str) -> ObservedRow {
    ObservedRow {
        table: "songs".into(),
        scope: "b1".into(),
        id: id.into(),
        author: Some(author.into()),
        label: Some(format!("Song {id}")),
        action: Action::Added,
    }
}

fn engine() -> ActivityEngine {
    ActivityEngine::new("alice", NotifyConfig::default(), &[], &[], Vec::new())
}

fn outputs(engine: &mut ActivityEngine) -> Vec<ActivityOutput> {
    std::iter::from_fn(|| engine.poll_output()).collect()
}

fn name_lookup(outputs: &[ActivityOutput]) -> Option<OpId> {
    outputs.iter().find_map(|o| match o {
        ActivityOutput::Http { op, request } if request.path.contains("profiles") => Some(*op),
        _ => None,
    })
}

#[test]
fn a_burst_persists_marks_and_feed_tells_the_counts_and_looks_up_the_author_once() {
    let mut engine = engine();
    engine.observe(Millis(0), 1.0, &[row("s1", "bob"), row("s2", "bob")], false);
    let out = outputs(&mut engine);
    let marks = out.iter().any(|o| matches!(o, ActivityOutput::Write { write: ActivityWrite::Marks { put, .. }, .. } if put.iter().map(|s| s.ids.len()).sum::<usize>() == 2));
    assert!(marks, "both rows are marked unread: {out:?}");
    let feed = out.iter().any(|o| matches!(o, ActivityOutput::Write { write: ActivityWrite::Feed { put, .. }, .. } if put.len() == 1 && put[0].entries.len() == 2));
    assert!(feed, "both changes enter the band's feed record: {out:?}");
    let counts = out
        .iter()
        .any(|o| matches!(o, ActivityOutput::Event(ActivityEvent::Unread(c)) if c.total == 2));
    assert!(counts);
    let lookup = name_lookup(&out).expect("bob's name is looked up");
    engine.observe(Millis(10), 2.0, &[row("s3", "bob")], false);
    assert_eq!(
        name_lookup(&outputs(&mut engine)),
        None,
        "once, while it is in flight"
    );

    let body = json!([{ "id": "bob", "display_name": "Bob" }]).to_string();
    engine.answered(lookup, HttpResult::Response { status: 200, body });
    engine.handle_timeout(Millis(10_000));
    let out = outputs(&mut engine);
    let cached = out.iter().any(|o| matches!(o, ActivityOutput::Write { write: ActivityWrite::Profiles(names), .. } if names == &[("bob".to_owned(), "Bob".to_owned())]));
    assert!(cached, "the name is cached: {out:?}");
    assert_eq!(engine.name_of("bob").as_deref(), Some("Bob"));
    let toast = out.iter().any(
        |o| matches!(o, ActivityOutput::Event(ActivityEvent::Toast(t)) if t.text.contains("Bob")),
    );
    assert!(toast, "the toast names the author: {out:?}");
}

#[test]
fn a_failed_lookup_is_asked_again_with_the_next_change() {
    let mut engine = engine();
    engine.observe(Millis(0), 1.0, &[row("s1", "bob")], false);
    let lookup = name_lookup(&outputs(&mut engine)).expect("a lookup");
    engine.answered(lookup, HttpResult::NetworkError("offline".into()));
    engine.observe(Millis(10), 2.0, &[row("s2", "bob")], false);
    assert!(name_lookup(&outputs(&mut engine)).is_some(), "asked again");
}

#[test]
fn a_first_download_is_neither_unread_nor_news() {
    let mut engine = engine();
    engine.observe(Millis(0), 1.0, &[row("s1", "bob")], true);
    assert!(outputs(&mut engine).is_empty());
    assert_eq!(engine.counts().total, 0);
    // The sibling: the same rows, not quiet, are unread.
    engine.observe(Millis(0), 1.0, &[row("s1", "bob")], false);
    assert_eq!(engine.counts().total, 1);
}

#[test]
fn reading_a_row_reads_its_feed_entry_and_a_failed_write_is_told() {
    let mut engine = engine();
    engine.observe(Millis(0), 1.0, &[row("s1", "bob")], false);
    let out = outputs(&mut engine);
    assert_eq!(engine.feed_unread("b1"), 1);
    engine.mark_read("songs", "s1");
    assert_eq!(
        engine.feed_unread("b1"),
        0,
        "the feed agrees with the marks"
    );
    assert_eq!(engine.counts().total, 0);
    let _ = outputs(&mut engine);
    let writes: Vec<OpId> = out
        .iter()
        .filter_map(|o| match o {
            ActivityOutput::Write { op, .. } => Some(*op),
            _ => None,
        })
        .collect();
    engine.written(writes[0], Err(StoreError::QuotaExceeded("full".into())));
    let error = ActivityOutput::Event(ActivityEvent::Error(StoreError::QuotaExceeded(
        "full".into(),
    )));
    assert_eq!(outputs(&mut engine), [error], "a failed write is told");
    engine.observe(Millis(0), 1.0, &[row("s9", "bob")], false);
    let feed_write = outputs(&mut engine).into_iter().find_map(|o| match o {
        ActivityOutput::Write {
            op,
            write: ActivityWrite::Feed { .. },
        } => Some(op),
        _ => None,
    });
    engine.written(feed_write.expect("a feed write"), Ok(()));
    let told = outputs(&mut engine);
    assert_eq!(
        told,
        [ActivityOutput::Event(ActivityEvent::Persisted)],
        "other tabs reload"
    );
}

#[test]
fn marks_stored_one_per_row_are_rewritten_per_band_and_table() {
    let legacy = [json!({ "key": "songs:s1", "table": "songs", "bandId": "b1", "id": "s1" })];
    let mut engine =
        ActivityEngine::new("alice", NotifyConfig::default(), &legacy, &[], Vec::new());
    assert_eq!(engine.counts().total, 1);
    let out = outputs(&mut engine);
    let rewritten = out.iter().any(|o| matches!(o, ActivityOutput::Write { write: ActivityWrite::Marks { put, delete }, .. } if put.len() == 1 && delete == &["songs:s1"]));
    assert!(rewritten, "{out:?}");
}

#[test]
fn feed_entries_stored_one_per_record_are_rewritten_per_band() {
    let entry = |id: &str, band: &str| {
        json!({ "id": id, "bandId": band, "author": "bob", "action": "added", "table": "songs",
            "rowId": "s1", "label": null, "at": 1.0, "read": false })
    };
    let stored = [
        entry("0000000000001-00000000", "b1"),
        entry("0000000000001-00000001", "b2"),
    ];
    let mut engine =
        ActivityEngine::new("alice", NotifyConfig::default(), &[], &stored, Vec::new());
    assert_eq!((engine.feed_unread("b1"), engine.feed_unread("b2")), (1, 1));
    let out = outputs(&mut engine);
    let rewrites: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            ActivityOutput::Write {
                write: ActivityWrite::Feed { put, delete },
                ..
            } => Some((
                put.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                delete,
            )),
            _ => None,
        })
        .collect();
    let legacy_keys = ["0000000000001-00000000", "0000000000001-00000001"];
    assert_eq!(
        rewrites,
        [(vec!["#b1", "#b2"], &legacy_keys.map(String::from).to_vec())]
    );
    // The sibling: records as this version writes them are read as they are.
    let records: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            ActivityOutput::Write {
                write: ActivityWrite::Feed { put, .. },
                ..
            } => Some(put.iter().map(|r| {
                serde_json::from_str::<rockon_sync_core::value::Value>(&json_text(r)).unwrap()
            })),
            _ => None,
        })
        .flatten()
        .collect();
    let mut reloaded =
        ActivityEngine::new("alice", NotifyConfig::default(), &[], &records, Vec::new());
    assert_eq!(reloaded.feed_unread("b2"), 1);
    assert!(outputs(&mut reloaded).is_empty(), "nothing to rewrite");
}
