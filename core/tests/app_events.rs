//! The objects the app's listeners receive: each event's JSON shape, and which events the app
//! never sees.

use rockon_sync_core::catchup::PullProgress;
use rockon_sync_core::notify::{Toast, ToastKind};
use rockon_sync_core::outbox::{ConflictRecord, RowStatus};
use rockon_sync_core::realtime::{self, ConnectionState, ProtocolError, Vsn};
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{
    app_events_json, decoded_frame_json, realtime_event_json, ActivityEvent, ChangeAction,
    ChangeSource, Event, ReadEvent, RowsChanged, StoreError, WriteEvent,
};
use rockon_sync_core::value::{json, Value};

fn objects(event: Event) -> Vec<Value> {
    (app_events_json(&event, &Schema::rockon()).iter())
        .map(|text| serde_json::from_str(text).expect("one JSON object"))
        .collect()
}

fn one(event: Event) -> Value {
    let mut all = objects(event);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn changed_rows_carry_the_tables_alias_and_band() {
    let rows = RowsChanged {
        table: "songs".into(),
        scope: "band-1".into(),
        ids: vec!["s1".into(), "s2".into()],
        action: ChangeAction::Update,
        source: ChangeSource::Remote,
    };
    let expected = json!({
        "type": "change", "table": "songs", "alias": "songs", "bandId": "band-1",
        "ids": ["s1", "s2"], "action": "update", "source": "remote",
    });
    assert_eq!(one(Event::Read(ReadEvent::Change(rows.clone()))), expected);
    assert_eq!(one(Event::Write(WriteEvent::Change(rows))), expected);
}

#[test]
fn a_conflict_shows_both_sides_and_a_status_shows_its_name() {
    let record = ConflictRecord {
        table: "songs".into(),
        row_id: "s1".into(),
        local: json!({ "title": "Mine" }).as_object().cloned().unwrap(),
        remote: None,
        fields: Vec::new(),
        deleted_remotely: true,
        seq: 4,
        field_seqs: Vec::new(),
    };
    assert_eq!(
        one(Event::Write(WriteEvent::Conflict(record))),
        json!({
            "type": "conflict", "table": "songs", "id": "s1", "local": { "title": "Mine" },
            "remote": null, "fields": [], "deletedRemotely": true,
        })
    );
    let status = WriteEvent::Status {
        table: "songs".into(),
        id: "s1".into(),
        status: RowStatus::Syncing,
    };
    assert_eq!(
        one(Event::Write(status)),
        json!({ "type": "syncStatus", "table": "songs", "id": "s1", "status": "syncing" })
    );
}

#[test]
fn both_paths_ask_for_a_token_with_one_event() {
    let expected = json!({ "type": "auth", "reason": "tokenExpired" });
    assert_eq!(one(Event::Write(WriteEvent::NeedToken)), expected);
    let realtime = ReadEvent::Realtime(realtime::Event::NeedToken);
    assert_eq!(one(Event::Read(realtime)), expected);
}

#[test]
fn connection_states_say_only_what_they_have() {
    let reconnecting = ConnectionState::Reconnecting {
        attempt: 3,
        delay_ms: 4000,
    };
    let text = realtime_event_json(&realtime::Event::Connection(reconnecting));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "type": "connection", "state": "reconnecting", "attempt": 3, "delayMs": 4000 })
    );
    let connected = realtime_event_json(&realtime::Event::Connection(ConnectionState::Connected));
    assert_eq!(
        serde_json::from_str::<Value>(&connected).unwrap(),
        json!({ "type": "connection", "state": "connected" })
    );
}

#[test]
fn toasts_progress_and_errors_have_their_fields() {
    let toast = Toast {
        id: 7,
        kind: ToastKind::Changes,
        author: None,
        count: 3,
        text: "3 changes".into(),
    };
    assert_eq!(
        one(Event::Activity(ActivityEvent::Toast(toast))),
        json!({ "type": "notification", "id": 7, "kind": "changes", "text": "3 changes",
                "author": null, "count": 3 })
    );
    let progress = ReadEvent::Progress {
        band: "b".into(),
        progress: PullProgress { done: 5, total: 9 },
        finished: false,
    };
    assert_eq!(
        one(Event::Read(progress)),
        json!({ "type": "progress", "bandId": "b", "done": 5, "total": 9, "finished": false })
    );
    let failed = ActivityEvent::Error(StoreError::QuotaExceeded("full".into()));
    let error = one(Event::Activity(failed));
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "quota_exceeded");
}

#[test]
fn a_feed_change_is_one_event_per_band_and_internal_news_is_none() {
    let feed = ActivityEvent::Feed(vec![("b1".into(), 2), ("b2".into(), 0)]);
    assert_eq!(
        objects(Event::Activity(feed)),
        vec![
            json!({ "type": "activity", "bandId": "b1", "unread": 2 }),
            json!({ "type": "activity", "bandId": "b2", "unread": 0 }),
        ]
    );
    for internal in [
        Event::Activity(ActivityEvent::Persisted),
        Event::Read(ReadEvent::Synced { band: "b".into() }),
        Event::Read(ReadEvent::Arrived { commit_micros: 1 }),
    ] {
        assert_eq!(objects(internal), Vec::<Value>::new());
    }
}

#[test]
fn a_decoded_frame_is_a_plain_object_and_garbage_a_coded_error() {
    let reply = r#"[null,"1","realtime:band","phx_reply",{"status":"ok","response":{}}]"#;
    let text = decoded_frame_json(reply, Vsn::V2).expect("a frame");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "topic": "realtime:band", "event": "phx_reply",
                "payload": { "status": "ok", "response": {} } })
    );
    let error = decoded_frame_json("[1,", Vsn::V2).expect_err("not a frame");
    assert!(matches!(error, ProtocolError::Frame(_)), "{error:?}");
    let change =
        r#"[null,null,"realtime:band","postgres_changes",{"ids":[1],"data":{"type":"UPDATE"}}]"#;
    let error = decoded_frame_json(change, Vsn::V2).expect_err("not a change");
    assert!(
        matches!(&error, ProtocolError::Payload { topic, .. } if topic == "realtime:band"),
        "{error:?}"
    );
}
