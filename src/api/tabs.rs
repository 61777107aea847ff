//! The group of tabs sharing one database: joining it, taking the lead, relaying events and
//! the leader's connection to the others, and acting on what they tell this tab (the messages
//! are [`TabMessage`]s).

use super::client::{local_info, Inner, SyncClient};
use super::coordinator::{TabCommand, TabMessage};
use super::events::{object, presence_to_js};
use crate::io::store::{from_js, to_js};
use crate::io::tabs::Tabs;
use js_sys::Reflect;
use serde_json::Value;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

fn text(value: &JsValue, key: &str) -> Option<String> {
    Reflect::get(value, &key.into()).ok()?.as_string()
}

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
    inner.tabs.post(TabMessage::Hello);
}

fn relay(inner: &Inner, event: &JsValue) {
    let kind = text(event, "type").unwrap_or_default();
    if LOCAL_ONLY.contains(&kind.as_str()) {
        return;
    }
    inner.tabs.post(TabMessage::Event(event.clone()));
    if inner.tabs.is_leader() && CONNECTION_NEWS.contains(&kind.as_str()) {
        post_info(inner);
    }
}

fn post_info(inner: &Inner) {
    inner.tabs.post(TabMessage::Info(to_js(&local_info(inner))));
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
    let Some(message) = TabMessage::from_js(message) else {
        return;
    };
    let leader = inner.tabs.is_leader();
    let client = || SyncClient {
        inner: inner.clone(),
    };
    match message {
        TabMessage::Event(event) => deliver(inner, event),
        TabMessage::Outbox if leader => reload_outbox(inner),
        TabMessage::Marks => {
            let activity = inner.activity.clone();
            wasm_bindgen_futures::spawn_local(async move { activity.reload().await });
        }
        TabMessage::Info(info) if !leader => *inner.tabs.remote_info.borrow_mut() = Some(info),
        TabMessage::Hello if leader => {
            post_info(inner);
            for band in inner.reader.info().bands {
                let event = presence_to_js(&band, &inner.reader.members(&band));
                inner.tabs.post(TabMessage::Event(event));
            }
        }
        TabMessage::Token(token) => client().use_token(token),
        TabMessage::Presence { band, meta } if leader => {
            if let Ok(meta @ Value::Object(_)) = from_js::<Value>(&meta) {
                inner.reader.set_presence(&band, meta);
            }
        }
        TabMessage::Command(command) if leader => match command {
            TabCommand::ForceSync => client().force_sync(),
            TabCommand::Reconnect => client().reconnect(),
            TabCommand::PullBand(band) => client().pull_band(&band),
            TabCommand::Retry(seq) => drop(client().retry(seq)),
            TabCommand::Discard(seq) => drop(client().discard(seq)),
        },
        TabMessage::SignedOut => client().signed_out_elsewhere(),
        _ => {}
    }
}

/// Another tab's event, for this tab's listeners.
fn deliver(inner: &Rc<Inner>, event: JsValue) {
    let kind = text(&event, "type").unwrap_or_default();
    if kind == "presence" {
        if let Some(band) = text(&event, "bandId") {
            let members = Reflect::get(&event, &"members".into()).unwrap_or_default();
            inner.tabs.remote_members.borrow_mut().insert(band, members);
        }
    }
    if !inner.tabs.is_leader() && matches!(kind.as_str(), "syncStatus" | "conflict") {
        // `status()` here reads this tab's copy of the outbox: bring it up to date before
        // listeners ask.
        let inner = inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            inner.writer.reload().await;
            inner.listeners.deliver(&event);
        });
        return;
    }
    inner.listeners.deliver(&event);
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
