//! The group of tabs sharing one database: joining it, taking the lead, relaying events and
//! the leader's connection to the others, and acting on what they tell this tab (the messages
//! are [`TabMessage`]s).

use super::client::{local_info, Inner, SyncClient};
use super::coordinator::{TabCommand, TabMessage};
use super::events::{object, parse, text};
use crate::io::store::{from_js, to_js};
use crate::io::tabs::Tabs;
use js_sys::Reflect;
use rockon_sync_core::sync::presence_json;
use rockon_sync_core::sync::TabAction;
use rockon_sync_core::value::Value;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

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

fn relay(inner: &Rc<Inner>, event: &JsValue) {
    let kind = text(event, "type").unwrap_or_default();
    let actions = inner.tabs.group.borrow().emitted(&kind);
    for action in actions {
        act(inner, action, Some(&TabMessage::Event(event.clone())));
    }
}

fn post_info(inner: &Inner) {
    inner.tabs.post(TabMessage::Info(to_js(&local_info(inner))));
}

/// This tab leads now: it pushes the outbox and goes live as the app asked.
fn take_lead(inner: Rc<Inner>) {
    let actions = inner.tabs.group.borrow_mut().take_lead();
    crate::io::task::spawn(async move {
        for action in actions {
            act(&inner, action, None);
        }
    });
}

fn receive(inner: &Rc<Inner>, message: &JsValue) {
    let Some(message) = TabMessage::from_js(message) else {
        return;
    };
    let event_kind = match &message {
        TabMessage::Event(event) => text(event, "type"),
        _ => None,
    };
    let actions = (inner.tabs.group.borrow_mut()).received(message.kind(), event_kind.as_deref());
    for action in actions {
        act(inner, action, Some(&message));
    }
}

/// Carries out what the core's [`TabGroup`](rockon_sync_core::sync::TabGroup) decided, with
/// the message's payload.
fn act(inner: &Rc<Inner>, action: TabAction, message: Option<&TabMessage>) {
    let client = || SyncClient {
        inner: inner.clone(),
    };
    match (action, message) {
        (TabAction::Relay, Some(message)) => inner.tabs.post(message.clone()),
        (TabAction::PostInfo, _) => post_info(inner),
        (TabAction::PostPresence, _) => {
            for band in inner.reader.info().bands {
                let event = parse(&presence_json(&band, &inner.reader.members(&band)));
                inner.tabs.post(TabMessage::Event(event));
            }
        }
        (TabAction::Deliver, Some(TabMessage::Event(event))) => inner.listeners.deliver(event),
        (TabAction::ReloadThenDeliver, Some(TabMessage::Event(event))) => {
            let (inner, event) = (inner.clone(), event.clone());
            crate::io::task::spawn(async move {
                inner.writer.reload().await;
                inner.listeners.deliver(&event);
            });
        }
        (TabAction::RememberPresence, Some(TabMessage::Event(event))) => {
            if let Some(band) = text(event, "bandId") {
                let members = Reflect::get(event, &"members".into()).unwrap_or_default();
                inner.tabs.remote_members.borrow_mut().insert(band, members);
            }
        }
        (TabAction::ReloadOutbox, _) => reload_outbox(inner.clone()),
        (TabAction::ReloadMarks, _) => {
            let activity = inner.activity.clone();
            crate::io::task::spawn(async move { activity.reload().await });
        }
        (TabAction::RememberInfo, Some(TabMessage::Info(info))) => {
            *inner.tabs.remote_info.borrow_mut() = Some(info.clone())
        }
        (TabAction::UseToken, Some(TabMessage::Token(token))) => client().use_token(token.clone()),
        (TabAction::ShowPresence, Some(TabMessage::Presence { band, meta })) => {
            if let Ok(meta @ Value::Object(_)) = from_js(meta) {
                inner.reader.set_presence(band, meta);
            }
        }
        (TabAction::RunCommand, Some(TabMessage::Command(command))) => match command {
            TabCommand::ForceSync => client().force_sync(),
            TabCommand::Reconnect => client().reconnect(),
            TabCommand::PullBand(band) => client().pull_band(band),
            TabCommand::Retry(seq) => drop(client().retry(*seq)),
            TabCommand::Discard(seq) => drop(client().discard(*seq)),
        },
        (TabAction::SignOut, _) => client().signed_out_elsewhere(),
        (TabAction::Push, _) => inner.writer.set_leader(true),
        (TabAction::FollowBand(band), _) => drop(client().follow_band(&band)),
        (TabAction::Connect, _) => drop(client().connect()),
        (TabAction::AnnounceLead, _) => {
            let event = object(&[("type", "leader".into()), ("leader", true.into())]);
            inner.listeners.emit(&event);
        }
        _ => {}
    }
}

/// Re-reads the outbox from storage, then whatever the group asks next.
fn reload_outbox(inner: Rc<Inner>) {
    crate::io::task::spawn(async move {
        inner.writer.reload().await;
        let next = inner.tabs.group.borrow_mut().outbox_reloaded();
        for action in next {
            act(&inner, action, None);
        }
    });
}
