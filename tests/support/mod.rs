//! Helpers for browser tests against the dev server the test command starts
//! (`ROCKON_DEVSERVER_URL`, `ROCKON_DEVSERVER_ANON`, `ROCKON_DEVSERVER_FAULTS_TOKEN` at build
//! time).
#![allow(dead_code)]

use gloo_net::http::Request;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Array, Function, Reflect};
use rockon_sync::api::SyncClient;
use rockon_sync_core::value::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub const URL: &str = match option_env!("ROCKON_DEVSERVER_URL") {
    Some(url) => url,
    None => "http://127.0.0.1:54321",
};
pub const ANON: &str = match option_env!("ROCKON_DEVSERVER_ANON") {
    Some(key) => key,
    None => "",
};
/// The fault switches' admin token, from the dev server's ready line.
pub const FAULTS_TOKEN: &str = match option_env!("ROCKON_DEVSERVER_FAULTS_TOKEN") {
    Some(token) => token,
    None => "",
};
/// How changes arrive in the clients these tests open (`ROCKON_CHANGES` at build time): the
/// test command runs the suite once per mode.
pub const CHANGES: &str = match option_env!("ROCKON_CHANGES") {
    Some(mode) => mode,
    None => "broadcast",
};
pub const ROCKERS: &str = "641657c9-9f8e-5c07-b44e-4ececddac108";
pub const TRIO: &str = "5a224131-abbb-51ab-b2b1-3f08f02e2c99";

/// A signed-in user.
pub struct User {
    pub id: String,
    pub token: String,
}

pub async fn sign_in(name: &str) -> User {
    let body = json!({"email": format!("{name}@rockon.test"), "password": "rockon"});
    let response = Request::post(&format!("{URL}/auth/v1/token?grant_type=password"))
        .header("apikey", ANON)
        .json(&body)
        .unwrap()
        .send()
        .await
        .expect("dev server reachable");
    let session: Value = response.json().await.unwrap();
    User {
        id: session["user"]["id"].as_str().unwrap().to_owned(),
        token: session["access_token"].as_str().unwrap().to_owned(),
    }
}

/// REST as a user, straight to the server (to check what it holds).
pub async fn rest(method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{URL}/rest/v1/{path}");
    let builder = match method {
        "POST" => Request::post(&url),
        "PATCH" => Request::patch(&url),
        "DELETE" => Request::delete(&url),
        _ => Request::get(&url),
    }
    .header("apikey", ANON)
    .header("Authorization", &format!("Bearer {token}"))
    .header("Prefer", "return=representation");
    let response = match body {
        Some(body) => builder.json(&body).unwrap().send().await,
        None => builder.send().await,
    }
    .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn fault(body: Value) {
    let response = Request::post(&format!("{URL}/admin/faults"))
        .header("authorization", &format!("Bearer {FAULTS_TOKEN}"))
        .json(&body)
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "fault switch {body}");
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}

pub async fn open(user: &User, database: &str, url: &str, extra: Value) -> SyncClient {
    let mut options = json!({
        "supabaseUrl": url, "anonKey": ANON, "accessToken": user.token, "userId": user.id,
        "databaseName": database, "retryInitialMs": 50, "changes": CHANGES,
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut options, extra) {
        o.extend(e);
    }
    SyncClient::open_async(js(options))
        .await
        .expect("client opens")
}

pub async fn call(promise: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

pub fn js(value: Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap()
}

pub fn to_json(value: &JsValue) -> Value {
    serde_wasm_bindgen::from_value(value.clone()).unwrap_or(Value::Null)
}

/// Records every event of a client.
pub fn record(client: &SyncClient) -> Array {
    let events = Array::new();
    // Each event is also kept with the time it came, for the report of a timed-out wait.
    let timed = Array::new();
    let listener = Function::new_with_args(
        "list, timed, event",
        "list.push(event); timed.push([performance.now(), event])",
    )
    .bind2(&JsValue::NULL, &events, &timed)
    .unchecked_into::<Function>();
    client.on("*", listener);
    RECORDED.with(|recorded| {
        let mut recorded = recorded.borrow_mut();
        recorded.push(timed);
        let excess = recorded.len().saturating_sub(RECORDED_CLIENTS);
        recorded.drain(..excess);
    });
    events
}

/// How many of the latest recorded clients a timed-out wait reports on.
const RECORDED_CLIENTS: usize = 4;
/// How many of each client's latest events it shows.
const REPORTED_EVENTS: u32 = 30;
/// Events a report shows whenever they came, not only among the latest: what says whether a
/// client was connected, subscribed and following when it missed something, which a burst
/// of row changes would push out of the latest.
const CONTROL_EVENTS: [&str; 10] = [
    "connection",
    "channel",
    "channelError",
    "catchUp",
    "bands",
    "error",
    "auth",
    "leader",
    "pushFailed",
    "protocolError",
];
/// At most this many earlier control events a client.
const REPORTED_CONTROL_EVENTS: usize = 60;

thread_local! {
    static RECORDED: std::cell::RefCell<Vec<Array>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The latest events of the latest recorded clients, and their earlier connection, channel
/// and membership events, each with the time it came: what a timed-out wait prints, so a
/// failure seen once in CI says what the clients saw.
fn recorded_report() -> String {
    let now = web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now());
    RECORDED.with(|recorded| {
        let mut report = String::new();
        for (n, timed) in recorded.borrow().iter().enumerate() {
            report.push_str(&format!("client {n} (newest last):\n"));
            let start = timed.length().saturating_sub(REPORTED_EVENTS);
            let control = |i: u32| {
                let event = timed.get(i).unchecked_into::<Array>().get(1);
                let kind = Reflect::get(&event, &"type".into()).ok();
                let kind = kind.and_then(|kind| kind.as_string()).unwrap_or_default();
                CONTROL_EVENTS.contains(&kind.as_str())
            };
            let mut shown: Vec<u32> = (0..start).filter(|&i| control(i)).collect();
            let earlier = shown.len().saturating_sub(REPORTED_CONTROL_EVENTS);
            shown.drain(..earlier);
            shown.extend(start..timed.length());
            for i in shown {
                let pair: Array = timed.get(i).unchecked_into();
                let ago = now - pair.get(0).as_f64().unwrap_or(now);
                let text: String = js_sys::JSON::stringify(&pair.get(1))
                    .map(String::from)
                    .unwrap_or_default()
                    .chars()
                    .take(240)
                    .collect();
                report.push_str(&format!("  {ago:>7.0} ms ago  {text}\n"));
            }
        }
        report
    })
}

pub fn events_of(events: &Array, kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| Reflect::get(e, &"type".into()).unwrap() == JsValue::from_str(kind))
        .map(|e| to_json(&e))
        .collect()
}

/// Polls `check` every 20 ms for up to `ms`.
pub async fn eventually<F, Fut>(ms: u32, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..ms / 20 {
        if check().await {
            return;
        }
        TimeoutFuture::new(20).await;
    }
    panic!("timed out: {what}\n{}", recorded_report());
}

/// Inserts a song as `user` straight over REST; returns its id.
pub async fn insert_song(user: &User, band: &str, title: &str) -> String {
    let id = rockon_sync::io::writer::new_uuid();
    let row = json!({"id": id, "band_id": band, "title": title});
    let (status, body) = rest("POST", "songs", &user.token, Some(row)).await;
    assert_eq!(status, 201, "{body}");
    id
}

/// Waits for the first catch-up pull's change event.
pub async fn initial_pull_done(events: &Array) {
    eventually(10_000, "initial pull", || async {
        events_of(events, "change")
            .iter()
            .any(|e| e["source"] == "pull")
    })
    .await;
}

/// The client's local copy of song `id` (`null` if it has none).
pub async fn local(client: &SyncClient, id: &str) -> Value {
    to_json(&call(client.get("songs".into(), id.into())).await.unwrap())
}

/// The `code` of a `SyncError` the client rejected with.
pub fn code(error: &JsValue) -> String {
    Reflect::get(error, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default()
}
