//! A real WebSocket to a loopback Phoenix peer (tests/support/phoenix-server.mjs, started by the
//! test command), driven by the sans-IO core inside the browser.
#![cfg(target_arch = "wasm32")]

use futures::channel::mpsc;
use futures::StreamExt;
use gloo_timers::future::TimeoutFuture;
use rockon_sync::api::RealtimeConnection;
use rockon_sync::io::realtime_driver::RealtimeDriver;
use rockon_sync::io::socket::{Socket, SocketEvent};
use rockon_sync_core::realtime::{
    ChannelConfig, ChannelState, ConnectionState, Event, PostgresBinding, RealtimeConfig, Vsn,
};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("ROCKON_TEST_SERVER") {
    Some(url) => url,
    None => "ws://127.0.0.1:47210",
};

/// Waits until `done` holds for the collected events, polling every 10 ms, for up to 5 s.
async fn wait_for<T>(events: &Rc<RefCell<Vec<T>>>, done: impl Fn(&[T]) -> bool) {
    for _ in 0..500 {
        if done(&events.borrow()) {
            return;
        }
        TimeoutFuture::new(10).await;
    }
    panic!("condition not met within 5 s");
}

#[wasm_bindgen_test]
fn a_socket_the_browser_refuses_says_why_and_a_ws_url_opens() {
    // An `ftp:` URL: the constructor throws a `SyntaxError`; its message is the reason.
    let refused = Socket::open("ftp://127.0.0.1/", Vsn::V2, 1 << 20, |_| {});
    let Err(reason) = refused else {
        panic!("the browser opened an ftp: socket");
    };
    assert!(!reason.is_empty());
    assert!(
        !reason.contains('\n'),
        "the message alone, no stack: {reason}"
    );
    // The same call with the server's `ws:` URL opens.
    assert!(Socket::open(&format!("{SERVER}/echo"), Vsn::V2, 1 << 20, |_| {}).is_ok());
}

#[wasm_bindgen_test]
async fn a_raw_socket_echoes_text_and_reads_row_changes_in_javascript() {
    let (sender, mut received) = mpsc::unbounded();
    let url = format!("{SERVER}/echo");
    let socket = Socket::open(&url, Vsn::V2, 1 << 20, move |event| {
        let _ = sender.unbounded_send(event);
    })
    .expect("socket opens");
    assert_eq!(received.next().await, Some(SocketEvent::Open));
    socket.send("hello rockon");
    assert_eq!(
        received.next().await,
        Some(SocketEvent::Text("hello rockon".into()))
    );
    // A row change arrives routed, its row held as the object JSON.parse built.
    let change = r#"[null,null,"realtime:band:b1","postgres_changes",{"ids":[3],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.000Z","type":"INSERT","record":{"id":"s1","title":"Wonderwall","version":1},"old_record":null,"errors":null}}]"#;
    socket.send(change);
    let Some(SocketEvent::Change(frame)) = received.next().await else {
        panic!("a routed change");
    };
    let record = frame.change.record.expect("a row");
    assert!(record.as_held().is_some(), "held, not copied");
    let [id, title] = record.fields(["id", "title"]);
    assert_eq!((id, title), (Some("s1".into()), Some("Wonderwall".into())));
    assert_eq!(*frame.change.binding_ids, [3]);
    // A frame the JavaScript reader cannot route (an integer ref) is handed over as text.
    let unusual = r#"[1,2,"realtime:band:b1","postgres_changes",{}]"#;
    socket.send(unusual);
    assert_eq!(
        received.next().await,
        Some(SocketEvent::Text(unusual.into()))
    );
}

#[wasm_bindgen_test]
async fn the_core_joins_subscribes_and_receives_a_change() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let config = RealtimeConfig::new(format!("{SERVER}/realtime/v1"), "anon-key");
    let driver = RealtimeDriver::new(config, Box::new(move |e| sink.borrow_mut().push(e)));
    let topic = driver
        .run(|engine, now| {
            engine.set_token(now, "user-jwt");
            let channel = ChannelConfig {
                postgres_changes: vec![PostgresBinding::table_eq("songs", "band_id", "b1")],
                ..ChannelConfig::default()
            };
            let topic = engine.join(now, "band:b1", channel);
            engine.connect(now);
            topic
        })
        .expect("join accepted");

    wait_for(&events, |e| {
        e.iter()
            .any(|e| matches!(e, Event::Change(c) if &*c.table == "songs"))
    })
    .await;
    {
        let seen = events.borrow();
        assert!(seen.contains(&Event::Connection(ConnectionState::Connected)));
        assert!(seen.contains(&Event::Channel {
            topic: topic.clone(),
            state: ChannelState::Subscribed
        }));
        let change = seen
            .iter()
            .find_map(|e| match e {
                Event::Change(change) => Some(change.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            change.record.unwrap().get("title").unwrap(),
            "Hello from songs"
        );
    }

    driver.run(|engine, now| engine.leave(now, &topic));
    wait_for(&events, |e| {
        e.contains(&Event::Channel {
            topic: topic.clone(),
            state: ChannelState::Closed,
        })
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_refused_socket_backs_off_and_reports_reconnecting() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    // Nothing listens on port 9 of the loopback: the browser reports a 1006 close.
    let config = RealtimeConfig::new("ws://127.0.0.1:9/realtime/v1", "anon-key");
    let driver = RealtimeDriver::new(config, Box::new(move |e| sink.borrow_mut().push(e)));
    driver.run(|engine, now| engine.connect(now));
    wait_for(&events, |e| {
        e.iter().any(|e| {
            matches!(
                e,
                Event::Connection(ConnectionState::Reconnecting { attempt: 1, delay_ms })
                    if (500..=1000).contains(delay_ms)
            )
        })
    })
    .await;
    driver.run(|engine, now| engine.disconnect(now));
}

#[wasm_bindgen_test]
async fn the_js_api_delivers_plain_event_objects() {
    let options = js_sys::JSON::parse(&format!(
        r#"{{"url":"{}/realtime/v1","apiKey":"anon-key","vsn":"1.0.0"}}"#,
        SERVER.replace("ws://", "http://")
    ))
    .unwrap();
    let connection = RealtimeConnection::new(options).expect("valid options");
    let received = js_sys::Array::new();
    let listener = js_sys::Function::new_with_args("list, event", "list.push(event)")
        .bind1(&JsValue::NULL, &received)
        .unchecked_into::<js_sys::Function>();
    let throwing = js_sys::Function::new_no_args("throw new Error('listener bug')");
    connection.on("*", throwing);
    let connections = js_sys::Array::new();
    let count = js_sys::Function::new_with_args("list, event", "list.push(event)")
        .bind1(&JsValue::NULL, &connections)
        .unchecked_into::<js_sys::Function>();
    let stop_counting = connection.on("connection", count);
    let unsubscribe = connection.on("*", listener);
    connection.set_auth("user-jwt".into());
    let config = js_sys::JSON::parse(
        r#"{"postgresChanges":[{"event":"*","schema":"public","table":"setlists","filter":"band_id=eq.b1"}]}"#,
    )
    .unwrap();
    connection.join("band:b1", config).unwrap();
    connection.connect();

    let mut change = None;
    for _ in 0..500 {
        change = received.iter().find(|e| {
            js_sys::Reflect::get(e, &"type".into()).unwrap() == JsValue::from_str("change")
        });
        if change.is_some() {
            break;
        }
        TimeoutFuture::new(10).await;
    }
    let change = change.expect("a change event despite the throwing listener");
    let record = js_sys::Reflect::get(&change, &"record".into()).unwrap();
    let title = js_sys::Reflect::get(&record, &"title".into()).unwrap();
    assert_eq!(title.as_string().as_deref(), Some("Hello from setlists"));
    assert_eq!(connection.state(), "connected");
    assert!(connections.length() > 0, "a listener for one event name");
    assert!(connections.iter().all(|e| {
        js_sys::Reflect::get(&e, &"type".into()).unwrap() == JsValue::from_str("connection")
    }));
    let before = received.length();
    stop_counting.call0(&JsValue::NULL).unwrap();
    unsubscribe.call0(&JsValue::NULL).unwrap();
    unsubscribe
        .call0(&JsValue::NULL)
        .expect("unsubscribing twice is harmless");

    let bad = RealtimeConnection::new(js_sys::Object::new().into());
    let error: js_sys::Error = bad
        .err()
        .expect("missing url is refused")
        .dyn_into()
        .unwrap();
    let code = js_sys::Reflect::get(&error, &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("invalid_options"));
    connection.disconnect();
    TimeoutFuture::new(50).await;
    assert_eq!(received.length(), before, "no events after unsubscribing");
}

/// A change read by `JSON.parse` (rows left as its objects) makes the same event object as the
/// same frame read from its text inside the module.
#[wasm_bindgen_test]
fn a_change_read_in_javascript_is_the_event_the_module_reads_from_text() {
    use rockon_sync_core::sync::decoded_frame_json;
    let data = |kind: &str, rows: &str| {
        format!(
            r#"{{"ids":[3,4],"data":{{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.000Z","type":"{kind}",{rows},"errors":null}}}}"#
        )
    };
    let insert = data(
        "INSERT",
        r#""record":{"id":"s1","title":"Wonder\"wall é","tempo":120,"tags":[1,{"a":null}]}"#,
    );
    let delete = data("DELETE", r#""old_record":{"id":"s1"}"#);
    let update = data(
        "UPDATE",
        r#""record":{"id":"s1","version":2},"old_record":{"id":"s1"}"#,
    );
    let frames = [
        (
            format!(r#"[null,null,"realtime:band:b1","postgres_changes",{insert}]"#),
            Vsn::V2,
        ),
        (
            format!(r#"["1",null,"realtime:band:b1","postgres_changes",{delete}]"#),
            Vsn::V2,
        ),
        (
            format!(
                r#"{{"event":"postgres_changes","payload":{update},"ref":null,"topic":"realtime:band:b1"}}"#
            ),
            Vsn::V1,
        ),
    ];
    for (text, vsn) in frames {
        let name = if vsn == Vsn::V1 { "1.0.0" } else { "2.0.0" };
        let routed = rockon_sync::io::frames::route(&JsValue::from_str(&text), vsn, 1 << 20);
        assert!(routed.is_some(), "read in JavaScript: {text}");
        let event = rockon_sync::api::decode_realtime_frame(text.clone().into(), name.into());
        let from_text = js_sys::JSON::parse(&decoded_frame_json(&text, vsn).unwrap()).unwrap();
        let json = |value: &JsValue| js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
        assert_eq!(json(&event), json(&from_text), "{text}");
        // Without a version, a frame is read as 2.0.0.
        let unnamed =
            rockon_sync::api::decode_realtime_frame(text.clone().into(), JsValue::UNDEFINED);
        let unnamed = json(&unnamed);
        match vsn {
            Vsn::V2 => assert_eq!(unnamed, json(&event), "{text}"),
            Vsn::V1 => assert!(
                unnamed.starts_with(r#"{"type":"protocolError""#),
                "{unnamed}"
            ),
        }
    }
}

/// Whatever a change frame is mangled into, a frame the JavaScript reader accepts means what the
/// module reads from its text (a seeded walk: the same frames every run).
#[wasm_bindgen_test]
fn a_mangled_frame_read_in_javascript_means_what_its_text_means() {
    use rockon_sync_core::rng::SplitMix64;
    use rockon_sync_core::sync::decoded_frame_json;
    let originals = [
        r#"[null,null,"realtime:band:b1","postgres_changes",{"ids":[3,4],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.000Z","type":"UPDATE","columns":[],"record":{"id":"s1","title":"Yellow","version":2},"old_record":{"id":"s1"},"errors":null}}]"#,
        r#"{"event":"postgres_changes","join_ref":"1","payload":{"ids":[7],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.000Z","type":"INSERT","record":{"id":"s2","tempo":120}}},"ref":null,"topic":"realtime:band:b1"}"#,
    ];
    let mut rng = SplitMix64::new(19);
    let json = |value: &JsValue| js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
    let (mut routed, mut compared) = (0, 0);
    for round in 0..600 {
        let original = originals[round % 2];
        let vsn = if original.starts_with('{') {
            Vsn::V1
        } else {
            Vsn::V2
        };
        let mut bytes = original.as_bytes().to_vec();
        for _ in 0..=rng.up_to(2) {
            let at = rng.up_to(bytes.len() as u64 - 1) as usize;
            let byte = b"{}[]\",:0123456789a -"[rng.up_to(19) as usize];
            match rng.up_to(2) {
                0 => bytes[at] = byte,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        compared += 1;
        if rockon_sync::io::frames::route(&JsValue::from_str(&text), vsn, 1 << 20).is_none() {
            continue;
        }
        routed += 1;
        let name = if vsn == Vsn::V1 { "1.0.0" } else { "2.0.0" };
        let event = rockon_sync::api::decode_realtime_frame(text.clone().into(), name.into());
        let from_text = decoded_frame_json(&text, vsn);
        let from_text = from_text.unwrap_or_else(|e| panic!("{text}: the module refuses: {e}"));
        let from_text = js_sys::JSON::parse(&from_text).unwrap();
        assert_eq!(json(&event), json(&from_text), "{text}");
    }
    assert!(
        routed > 50 && routed < compared,
        "{routed} of {compared} frames read in JavaScript"
    );
}

/// A database broadcast read in JavaScript is the frame the module's native reader makes of its
/// text, its row's `updated_at` standing in for the commit time (from `old_record` when there
/// is no `record`, and none when it is not a string).
#[wasm_bindgen_test]
fn a_database_broadcast_read_in_javascript_carries_its_rows_updated_at() {
    use rockon_sync_core::realtime::RoutedFrame;
    let frame = |rows: &str| {
        format!(
            r#"[null,null,"band:b1","broadcast",{{"type":"broadcast","event":"UPDATE","payload":{{"schema":"public","table":"songs","operation":"UPDATE",{rows}}}}}]"#
        )
    };
    let cases = [
        (
            r#""record":{"id":"s1","updated_at":"2026-11-23T10:00:00.5Z"},"old_record":null"#,
            "2026-11-23T10:00:00.5Z",
        ),
        (
            r#""record":null,"old_record":{"id":"s1","updated_at":"2026-11-23T09:00:00Z"}"#,
            "2026-11-23T09:00:00Z",
        ),
        (
            r#""record":{"id":"s1"},"old_record":{"id":"s1","updated_at":"2026-11-23T09:00:00Z"}"#,
            "",
        ),
        (r#""record":{"id":"s1","updated_at":17}"#, ""),
    ];
    for (rows, commit) in cases {
        let text = frame(rows);
        let js = rockon_sync::io::frames::route(&JsValue::from_str(&text), Vsn::V2, 1 << 20);
        let native = RoutedFrame::route(&text, Vsn::V2);
        let js = js.unwrap_or_else(|| panic!("read in JavaScript: {text}"));
        assert_eq!(js.change.commit_timestamp, commit, "{text}");
        assert_eq!(Some(js), native, "{text}");
    }
}

/// A change read in JavaScript leaves its commit time in the page; its event carries that time,
/// or the one the engine set in its place (text, or another frame's).
#[wasm_bindgen_test]
fn a_change_event_carries_the_commit_time_the_change_has() {
    use rockon_sync::io::frames::{change_object, route};
    use rockon_sync_core::realtime::CommitTime;
    let frame = |at: &str| {
        format!(
            r#"[null,null,"realtime:band:b1","postgres_changes",{{"ids":[3],"data":{{"schema":"public","table":"songs","commit_timestamp":"{at}","type":"INSERT","record":{{"id":"s1"}},"old_record":null,"errors":null}}}}]"#
        )
    };
    let read = |at: &str| route(&JsValue::from_str(&frame(at)), Vsn::V2, 1 << 20).unwrap();
    fn event_time(change: &rockon_sync_core::realtime::PostgresChange) -> String {
        let event = change_object(change);
        let at = js_sys::Reflect::get(&event, &"commitTimestamp".into()).unwrap();
        at.as_string().expect("a commit time")
    }
    let mut routed = read("2026-11-23T10:00:00.000Z");
    assert!(routed.change.commit_timestamp.as_held().is_some());
    assert_eq!(event_time(&routed.change), "2026-11-23T10:00:00.000Z");
    routed.change.commit_timestamp = CommitTime::from("2026-11-23T11:00:00.000Z");
    assert_eq!(event_time(&routed.change), "2026-11-23T11:00:00.000Z");
    routed.change.commit_timestamp = read("2026-11-23T12:00:00.000Z").change.commit_timestamp;
    assert_eq!(event_time(&routed.change), "2026-11-23T12:00:00.000Z");
}

/// A stream whose changes name the same topics, binding ids, tables and broadcast events in a
/// shifting mix (the reader in JavaScript remembers the last frame's names): each change read in
/// JavaScript is the one the module's native reader makes of its text.
#[wasm_bindgen_test]
fn a_stream_of_changes_naming_shifting_names_reads_as_its_text_does() {
    use rockon_sync_core::realtime::RoutedFrame;
    use rockon_sync_core::rng::SplitMix64;
    let topics = ["realtime:band:a", "realtime:band:b"];
    let bindings = ["[1]", "[1,2]", "[2,1]", "[12]", "[1,2,3]"];
    let tables = [
        ("public", "songs"),
        ("public", "setlists"),
        ("app", "songs"),
    ];
    // "1,2" is also the name of the binding ids [1,2].
    let events = ["INSERT", "1,2", "songs"];
    let kinds = ["INSERT", "UPDATE", "DELETE"];
    let mut rng = SplitMix64::new(7);
    let mut pick = |len: usize| rng.up_to(len as u64 - 1) as usize;
    let mut broadcasts = 0;
    for n in 0..400 {
        let topic = topics[pick(topics.len())];
        let (schema, table) = tables[pick(tables.len())];
        let kind = kinds[pick(kinds.len())];
        let rows = format!(
            r#""record":{{"id":"s{n}","updated_at":"2026-11-23T10:00:{:02}Z"}},"old_record":{{"id":"s{n}"}}"#,
            n % 60
        );
        let text = if pick(3) == 0 {
            broadcasts += 1;
            let event = events[pick(events.len())];
            format!(
                r#"[null,null,"{topic}","broadcast",{{"type":"broadcast","event":"{event}","payload":{{"schema":"{schema}","table":"{table}","operation":"{kind}",{rows}}}}}]"#
            )
        } else {
            let ids = bindings[pick(bindings.len())];
            format!(
                r#"["{n}",null,"{topic}","postgres_changes",{{"ids":{ids},"data":{{"schema":"{schema}","table":"{table}","commit_timestamp":"2026-11-23T10:00:00.000Z","type":"{kind}",{rows},"errors":null}}}}]"#
            )
        };
        let js = rockon_sync::io::frames::route(&JsValue::from_str(&text), Vsn::V2, 1 << 20);
        let js = js.unwrap_or_else(|| panic!("read in JavaScript: {text}"));
        assert_eq!(Some(js), RoutedFrame::route(&text, Vsn::V2), "{text}");
    }
    assert!((50..350).contains(&broadcasts), "{broadcasts} broadcasts");
}
