//! Coordination of the tabs sharing one database (see [`crate::io::tabs`]): which tab leads,
//! what the others asked it to do, and what it tells them.
//!
//! Messages are plain objects with a `kind`:
//! - `event`: an event of one tab, delivered to the others' listeners;
//! - `outbox`: a tab appended to the outbox or changed conflicts (the leader pushes it);
//! - `marks`: a tab changed unread marks (every tab reloads them);
//! - `info`: the leader's connection, for the others' `connectionInfo`;
//! - `hello`: a tab joined (the leader answers with `info` and presence);
//! - `token`: a fresh access token, for whichever tab leads now or later;
//! - `presence`, `command`: what a follower asks the leader to do;
//! - `signedOut`: the user signed out in another tab (this one closes).

use super::client::{Inner, SyncClient};
use super::events::{object, presence_to_js};
use crate::io::reader::ConnectionInfo;
use crate::io::store::{from_js, to_js};
use crate::io::tabs::Tabs;
use js_sys::{Object, Reflect};
use rockon_sync_core::sorted::{SortedMap, SortedSet};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

/// Events each tab computes for itself, never relayed.
const LOCAL_ONLY: &[&str] = &["unread", "storage", "leader"];

/// Events after which the leader tells the others about its connection (a settled push moves
/// the last-synced time).
const CONNECTION_NEWS: &[&str] = &[
    "connection",
    "latency",
    "bands",
    "channelError",
    "syncStatus",
];

/// This tab's part in the group.
#[derive(Default)]
pub(super) struct Coordinator {
    tabs: RefCell<Option<Tabs>>,
    leader: Cell<bool>,
    wants_connect: Cell<bool>,
    wants_bands: RefCell<SortedSet<String>>,
    remote_info: RefCell<Option<JsValue>>,
    remote_members: RefCell<SortedMap<String, JsValue>>,
    reloading: Cell<bool>,
    reload_again: Cell<bool>,
}

fn message(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    let _ = Reflect::set(&object, &"kind".into(), &kind.into());
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

fn text(value: &JsValue, key: &str) -> Option<String> {
    Reflect::get(value, &key.into()).ok()?.as_string()
}

impl Coordinator {
    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        self.leader.get()
    }

    /// Sends a message to the other tabs.
    pub fn post(&self, kind: &str, fields: &[(&str, JsValue)]) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post(&message(kind, fields));
        }
    }

    /// In a tab that does not lead, asks the leading tab to carry out command `name` (with
    /// `fields`) and returns true; in the leading tab returns false, for the caller to do it.
    pub fn relay(&self, name: &str, fields: &[(&str, JsValue)]) -> bool {
        if self.is_leader() {
            return false;
        }
        let mut message = vec![("name", JsValue::from(name))];
        message.extend(fields.iter().cloned());
        self.post("command", &message);
        true
    }

    /// Leaves the group: the lock goes to the next tab.
    pub fn leave(&self) {
        self.tabs.borrow_mut().take();
        self.leader.set(false);
    }

    /// The leader's connection as a follower last heard of it.
    pub fn remote_info(&self) -> Option<JsValue> {
        self.remote_info.borrow().clone()
    }

    /// A band's members online as a follower last heard of them.
    pub fn remote_members(&self, band: &str) -> Option<JsValue> {
        self.remote_members.borrow().get(band).cloned()
    }

    /// Every band's members online as a follower last heard of them.
    pub fn all_remote_members(&self) -> Vec<JsValue> {
        self.remote_members.borrow().values().cloned().collect()
    }

    /// Remembers that the app wants to be live (done now if this tab leads, else on takeover).
    pub fn want_connect(&self) -> bool {
        self.wants_connect.set(true);
        self.leader.get()
    }

    /// Remembers that the app follows a band.
    pub fn want_band(&self, band: &str) -> bool {
        self.wants_bands.borrow_mut().insert(band.to_owned());
        self.leader.get()
    }
}

/// Joins the group of tabs on the client's database.
pub(super) fn join(inner: &Rc<Inner>, name: &str) {
    let on_leader = {
        let weak = Rc::downgrade(inner);
        move || {
            if let Some(inner) = weak.upgrade() {
                take_lead(inner);
            }
        }
    };
    let on_message = {
        let weak = Rc::downgrade(inner);
        move |message: JsValue| {
            if let Some(inner) = weak.upgrade() {
                receive(&inner, &message);
            }
        }
    };
    let relay = {
        let weak: Weak<Inner> = Rc::downgrade(inner);
        move |event: &JsValue| {
            if let Some(inner) = weak.upgrade() {
                relay(&inner, event);
            }
        }
    };
    inner.listeners.set_relay(Rc::new(relay));
    let tabs = Tabs::join(&format!("{name}#tabs"), on_leader, on_message);
    *inner.tabs.tabs.borrow_mut() = Some(tabs);
    inner.tabs.post("hello", &[]);
}

fn relay(inner: &Inner, event: &JsValue) {
    let kind = text(event, "type").unwrap_or_default();
    if LOCAL_ONLY.contains(&kind.as_str()) {
        return;
    }
    inner.tabs.post("event", &[("event", event.clone())]);
    if inner.tabs.is_leader() && CONNECTION_NEWS.contains(&kind.as_str()) {
        post_info(inner);
    }
}

fn post_info(inner: &Inner) {
    inner
        .tabs
        .post("info", &[("info", to_js(&local_info(inner)))]);
}

/// This tab's connection, with the last time the server confirmed anything: a pull of the
/// reader or a push of the writer.
pub(super) fn local_info(inner: &Inner) -> ConnectionInfo {
    let mut info = inner.reader.info();
    if let Some(pushed) = inner.writer.last_confirmed() {
        info.last_synced_at = Some(
            info.last_synced_at
                .map_or(pushed, |pulled| pulled.max(pushed)),
        );
    }
    info
}

/// This tab leads now: it pushes the outbox and goes live as the app asked.
fn take_lead(inner: Rc<Inner>) {
    inner.tabs.leader.set(true);
    wasm_bindgen_futures::spawn_local(async move {
        inner.writer.set_leader(true);
        let client = SyncClient {
            inner: inner.clone(),
        };
        let bands: Vec<String> = inner.tabs.wants_bands.borrow().iter().cloned().collect();
        for band in bands {
            let _ = client.follow_band(&band);
        }
        if inner.tabs.wants_connect.get() {
            let _ = client.connect();
        }
        let event = object(&[("type", "leader".into()), ("leader", true.into())]);
        inner.listeners.emit(&event);
        post_info(&inner);
    });
}

fn receive(inner: &Rc<Inner>, message: &JsValue) {
    let leader = inner.tabs.is_leader();
    match text(message, "kind").as_deref() {
        Some("event") => {
            let event = Reflect::get(message, &"event".into()).unwrap_or(JsValue::NULL);
            let kind = text(&event, "type").unwrap_or_default();
            if kind == "presence" {
                if let Some(band) = text(&event, "bandId") {
                    let members = Reflect::get(&event, &"members".into()).unwrap_or_default();
                    inner.tabs.remote_members.borrow_mut().insert(band, members);
                }
            }
            if !leader && matches!(kind.as_str(), "syncStatus" | "conflict") {
                // `status()` here reads this tab's copy of the outbox: bring it up to date
                // before listeners ask.
                let inner = inner.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    inner.writer.reload().await;
                    inner.listeners.deliver(&event);
                });
                return;
            }
            inner.listeners.deliver(&event);
        }
        Some("outbox") if leader => reload_outbox(inner),
        Some("marks") => {
            let activity = inner.activity.clone();
            wasm_bindgen_futures::spawn_local(async move { activity.reload().await });
        }
        Some("info") if !leader => {
            let info = Reflect::get(message, &"info".into()).unwrap_or(JsValue::NULL);
            *inner.tabs.remote_info.borrow_mut() = Some(info);
        }
        Some("hello") if leader => {
            post_info(inner);
            for band in inner.reader.info().bands {
                let event = presence_to_js(&band, &inner.reader.members(&band));
                inner.tabs.post("event", &[("event", event)]);
            }
        }
        Some("token") => {
            if let Some(token) = text(message, "token") {
                SyncClient {
                    inner: inner.clone(),
                }
                .use_token(token);
            }
        }
        Some("presence") if leader => {
            let band = text(message, "bandId").unwrap_or_default();
            let meta = Reflect::get(message, &"meta".into()).unwrap_or_default();
            if let Ok(meta @ Value::Object(_)) = from_js::<Value>(&meta) {
                inner.reader.set_presence(&band, meta);
            }
        }
        Some("command") if leader => command(inner, message),
        Some("signedOut") => SyncClient {
            inner: inner.clone(),
        }
        .signed_out_elsewhere(),
        _ => {}
    }
}

fn command(inner: &Rc<Inner>, message: &JsValue) {
    let client = SyncClient {
        inner: inner.clone(),
    };
    let seq = Reflect::get(message, &"seq".into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    match text(message, "name").as_deref() {
        Some("forceSync") => client.force_sync(),
        Some("reconnect") => client.reconnect(),
        Some("pullBand") => client.pull_band(&text(message, "bandId").unwrap_or_default()),
        Some("retry") => drop(client.retry(seq)),
        Some("discard") => drop(client.discard(seq)),
        _ => {}
    }
}

/// Re-reads the outbox from storage, once at a time however many messages ask for it.
fn reload_outbox(inner: &Rc<Inner>) {
    if inner.tabs.reloading.replace(true) {
        inner.tabs.reload_again.set(true);
        return;
    }
    let inner = inner.clone();
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            inner.tabs.reload_again.set(false);
            inner.writer.reload().await;
            if !inner.tabs.reload_again.get() {
                break;
            }
        }
        inner.tabs.reloading.set(false);
    });
}
