//! This tab's part in the group of tabs sharing one database, and the messages they exchange
//! (carried by [`crate::io::tabs`] over a BroadcastChannel, leadership by a Web Lock).

use super::events::{field, object, text};
use crate::io::tabs::Tabs;
use rockon_sync_core::sorted::SortedMap;
use rockon_sync_core::sync::{TabGroup, TabMessageKind};
use std::cell::RefCell;
use wasm_bindgen::JsValue;

/// What one tab tells the others.
#[derive(Debug, Clone)]
pub(super) enum TabMessage {
    /// An event of one tab, delivered to the others' listeners.
    Event(JsValue),
    /// A tab appended to the outbox or changed conflicts (the leader takes them in).
    Outbox,
    /// A tab changed unread marks (every tab reloads them).
    Marks,
    /// The leader's connection, for the others' `connectionInfo`.
    Info(JsValue),
    /// A tab joined (the leader answers with its connection and presence).
    Hello,
    /// A fresh access token, for whichever tab leads now or later.
    Token(String),
    /// What a follower wants shown to the band's members online.
    Presence {
        /// The band.
        band: String,
        /// What the user is viewing.
        meta: JsValue,
    },
    /// What a follower asks the leader to do.
    Command(TabCommand),
    /// The user signed out in another tab (this one closes).
    SignedOut,
}

/// What a follower asks the leading tab to carry out.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TabCommand {
    /// Push and pull now.
    ForceSync,
    /// Reconnect the socket now.
    Reconnect,
    /// Pull a band now.
    PullBand(String),
    /// Retry a failed write.
    Retry(f64),
    /// Discard a write.
    Discard(f64),
}

impl TabMessage {
    /// The message as posted: a plain object with a `kind`.
    pub(super) fn to_js(&self) -> JsValue {
        let kind = |kind: &str| ("kind", JsValue::from(kind));
        match self {
            TabMessage::Event(event) => object(&[kind("event"), ("event", event.clone())]),
            TabMessage::Outbox => object(&[kind("outbox")]),
            TabMessage::Marks => object(&[kind("marks")]),
            TabMessage::Info(info) => object(&[kind("info"), ("info", info.clone())]),
            TabMessage::Hello => object(&[kind("hello")]),
            TabMessage::Token(token) => object(&[kind("token"), ("token", token.into())]),
            TabMessage::Presence { band, meta } => object(&[
                kind("presence"),
                ("bandId", band.into()),
                ("meta", meta.clone()),
            ]),
            TabMessage::Command(command) => command.to_js(),
            TabMessage::SignedOut => object(&[kind("signedOut")]),
        }
    }

    /// What kind of message it is, for the core's [`TabGroup`].
    pub(super) fn kind(&self) -> TabMessageKind {
        match self {
            TabMessage::Event(_) => TabMessageKind::Event,
            TabMessage::Outbox => TabMessageKind::Outbox,
            TabMessage::Marks => TabMessageKind::Marks,
            TabMessage::Info(_) => TabMessageKind::Info,
            TabMessage::Hello => TabMessageKind::Hello,
            TabMessage::Token(_) => TabMessageKind::Token,
            TabMessage::Presence { .. } => TabMessageKind::Presence,
            TabMessage::Command(_) => TabMessageKind::Command,
            TabMessage::SignedOut => TabMessageKind::SignedOut,
        }
    }

    /// A posted message; `None` for anything else (another version of the module, say).
    pub(super) fn from_js(value: &JsValue) -> Option<TabMessage> {
        Some(match text(value, "kind")?.as_str() {
            "event" => TabMessage::Event(field(value, "event")),
            "outbox" => TabMessage::Outbox,
            "marks" => TabMessage::Marks,
            "info" => TabMessage::Info(field(value, "info")),
            "hello" => TabMessage::Hello,
            "token" => TabMessage::Token(text(value, "token")?),
            "presence" => TabMessage::Presence {
                band: text(value, "bandId")?,
                meta: field(value, "meta"),
            },
            "command" => TabMessage::Command(TabCommand::from_js(value)?),
            "signedOut" => TabMessage::SignedOut,
            _ => return None,
        })
    }
}

impl TabCommand {
    fn to_js(&self) -> JsValue {
        let kind = ("kind", JsValue::from("command"));
        let name = |name: &str| ("name", JsValue::from(name));
        match self {
            TabCommand::ForceSync => object(&[kind, name("forceSync")]),
            TabCommand::Reconnect => object(&[kind, name("reconnect")]),
            TabCommand::PullBand(band) => {
                object(&[kind, name("pullBand"), ("bandId", band.into())])
            }
            TabCommand::Retry(seq) => object(&[kind, name("retry"), ("seq", (*seq).into())]),
            TabCommand::Discard(seq) => object(&[kind, name("discard"), ("seq", (*seq).into())]),
        }
    }

    fn from_js(value: &JsValue) -> Option<TabCommand> {
        let seq = || field(value, "seq").as_f64();
        Some(match text(value, "name")?.as_str() {
            "forceSync" => TabCommand::ForceSync,
            "reconnect" => TabCommand::Reconnect,
            "pullBand" => TabCommand::PullBand(text(value, "bandId")?),
            "retry" => TabCommand::Retry(seq()?),
            "discard" => TabCommand::Discard(seq()?),
            _ => return None,
        })
    }
}

/// This tab's part in the group: the core's [`TabGroup`] decides, this carries it out.
#[derive(Default)]
pub(super) struct Coordinator {
    pub(super) tabs: RefCell<Option<Tabs>>,
    pub(super) group: RefCell<TabGroup>,
    pub(super) remote_info: RefCell<Option<JsValue>>,
    pub(super) remote_members: RefCell<SortedMap<String, JsValue>>,
}

impl Coordinator {
    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        self.group.borrow().is_leader()
    }

    /// Sends a message to the other tabs.
    pub fn post(&self, message: TabMessage) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post(&message.to_js());
        }
    }

    /// In a tab that does not lead, asks the leading tab to carry out `command` and returns
    /// true; in the leading tab returns false, for the caller to do it.
    pub fn relay(&self, command: TabCommand) -> bool {
        let ask = self.group.borrow().ask_leader();
        if ask {
            self.post(TabMessage::Command(command));
        }
        ask
    }

    /// Leaves the group: the lock goes to the next tab.
    pub fn leave(&self) {
        self.tabs.borrow_mut().take();
        self.group.borrow_mut().leave();
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
        let mut all = Vec::new();
        for members in self.remote_members.borrow().values() {
            all.push(members.clone());
        }
        all
    }

    /// Remembers that the app wants to be live: true if this tab goes live now.
    pub fn want_connect(&self) -> bool {
        self.group.borrow_mut().want_connect()
    }

    /// Remembers that the app follows a band: true if this tab follows it now.
    pub fn want_band(&self, band: &str) -> bool {
        self.group.borrow_mut().want_band(band)
    }
}
