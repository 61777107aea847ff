//! Stored JS listeners, each for one event name or for all (`*`), called outside any Rust
//! borrow.

use js_sys::Reflect;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// Subscribes to every event.
pub const ALL: &str = "*";

struct Entry {
    id: u32,
    /// An event `type`, `<alias>:changed`, or [`ALL`].
    name: String,
    listener: js_sys::Function,
}

/// How many recent events the sync log keeps.
const LOG_SIZE: usize = 200;

/// The events worth a line in the sync log (not latency probes or channel chatter).
const LOGGED: &[&str] = &[
    "change",
    "connection",
    "conflict",
    "error",
    "auth",
    "bands",
    "storage",
    "channelError",
];

/// Hands an event to the other tabs.
pub type Relay = Rc<dyn Fn(&JsValue)>;

#[derive(Default)]
struct Registry {
    last_id: u32,
    entries: Vec<Entry>,
    /// Recent events with the time they happened, oldest first.
    log: std::collections::VecDeque<JsValue>,
    /// Hands this tab's events to the other tabs.
    relay: Option<Relay>,
    /// Also keeps each logged entry (devtools' persisted log).
    keep: Option<Relay>,
}

/// The listeners of one object.
#[derive(Default, Clone)]
pub struct Listeners {
    inner: Rc<RefCell<Registry>>,
}

impl Listeners {
    /// Adds a listener for events named `name`; returns its id.
    pub fn add(&self, name: &str, listener: js_sys::Function) -> u32 {
        let mut registry = self.inner.borrow_mut();
        registry.last_id += 1;
        let id = registry.last_id;
        registry.entries.push(Entry {
            id,
            name: name.to_owned(),
            listener,
        });
        id
    }

    /// Adds a listener and returns the function that removes it. Calling that function again,
    /// or after the object is gone, does nothing.
    pub fn subscribe(&self, name: &str, listener: js_sys::Function) -> js_sys::Function {
        let id = self.add(name, listener);
        let registry: Weak<RefCell<Registry>> = Rc::downgrade(&self.inner);
        let unsubscribe = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = registry.upgrade() {
                Listeners { inner }.remove(id);
            }
        });
        unsubscribe.into_js_value().unchecked_into()
    }

    /// Removes a listener; false if it was not there (removing twice is harmless).
    pub fn remove(&self, id: u32) -> bool {
        let mut registry = self.inner.borrow_mut();
        let before = registry.entries.len();
        registry.entries.retain(|entry| entry.id != id);
        registry.entries.len() != before
    }

    /// Removes every listener.
    pub fn clear(&self) {
        self.inner.borrow_mut().entries.clear();
    }

    /// The sync log: recent events, oldest first, each with `at` (epoch milliseconds).
    pub fn log(&self) -> js_sys::Array {
        let log = js_sys::Array::new();
        for event in &self.inner.borrow().log {
            log.push(event);
        }
        log
    }

    fn record(&self, kind: &str, event: &JsValue) {
        if !LOGGED.contains(&kind) {
            return;
        }
        let entry = js_sys::Object::assign(&js_sys::Object::new(), event.unchecked_ref());
        let _ = Reflect::set(&entry, &"at".into(), &js_sys::Date::now().into());
        let keep = {
            let mut registry = self.inner.borrow_mut();
            if registry.log.len() == LOG_SIZE {
                registry.log.pop_front();
            }
            registry.log.push_back(entry.clone().into());
            registry.keep.clone()
        };
        if let Some(keep) = keep {
            keep(&entry.into());
        }
    }

    /// Hands every sync log entry from now on to `keep` as well.
    pub fn set_keep(&self, keep: Relay) {
        self.inner.borrow_mut().keep = Some(keep);
    }

    /// Hands every event emitted from now on (except those another tab sent) to `relay`.
    pub fn set_relay(&self, relay: Relay) {
        self.inner.borrow_mut().relay = Some(relay);
    }

    /// Emits an event of this tab: to the listeners, then to the other tabs.
    pub fn emit(&self, event: &JsValue) {
        self.deliver(event);
        let relay = self.inner.borrow().relay.clone();
        if let Some(relay) = relay {
            relay(event);
        }
    }

    /// Calls the listeners of `event` (by its `type`, and for a `change` also by
    /// `<alias>:changed`). A snapshot is taken first, so listeners may add or remove
    /// listeners; one that throws is reported on the console and the others still run.
    pub fn deliver(&self, event: &JsValue) {
        let text = |key: &str| Reflect::get(event, &key.into()).ok()?.as_string();
        let kind = text("type").unwrap_or_default();
        self.record(&kind, event);
        let convenience = (kind == "change")
            .then(|| text("alias"))
            .flatten()
            .map(|alias| format!("{alias}:changed"));
        // A snapshot: a listener may add or remove listeners while it runs.
        let mut snapshot: Vec<js_sys::Function> = Vec::new();
        for entry in &self.inner.borrow().entries {
            let wanted = entry.name == ALL
                || entry.name == kind
                || convenience.as_deref() == Some(entry.name.as_str());
            if wanted {
                snapshot.push(entry.listener.clone());
            }
        }
        for listener in snapshot {
            if let Err(error) = listener.call1(&JsValue::NULL, event) {
                web_sys::console::error_2(&"rockon-sync: a listener threw".into(), &error);
            }
        }
    }
}
