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
    ChannelConfig, ChannelState, ConnectionState, Event, PostgresBinding, RealtimeConfig,
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
async fn a_raw_socket_echoes_text() {
    let (sender, mut received) = mpsc::unbounded();
    let socket = Socket::open(&format!("{SERVER}/echo"), move |event| {
        let _ = sender.unbounded_send(event);
    })
    .expect("socket opens");
    assert_eq!(received.next().await, Some(SocketEvent::Open));
    socket.send("hello rockon");
    assert_eq!(
        received.next().await,
        Some(SocketEvent::Text("hello rockon".into()))
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
            .any(|e| matches!(e, Event::Change(c) if c.table == "songs"))
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
