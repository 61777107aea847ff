//! Stored JS listeners with ids, called outside any Rust borrow.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;

#[derive(Default)]
struct Registry {
    last_id: u32,
    entries: Vec<(u32, js_sys::Function)>,
}

/// The listeners of one object.
#[derive(Default, Clone)]
pub struct Listeners {
    inner: Rc<RefCell<Registry>>,
}

impl Listeners {
    /// Adds a listener; returns its id.
    pub fn add(&self, listener: js_sys::Function) -> u32 {
        let mut registry = self.inner.borrow_mut();
        registry.last_id += 1;
        let id = registry.last_id;
        registry.entries.push((id, listener));
        id
    }

    /// Removes a listener; false if it was not there (removing twice is harmless).
    pub fn remove(&self, id: u32) -> bool {
        let mut registry = self.inner.borrow_mut();
        let before = registry.entries.len();
        registry.entries.retain(|(other, _)| *other != id);
        registry.entries.len() != before
    }

    /// Calls every listener with `event`. A snapshot is taken first, so listeners may add or
    /// remove listeners; one that throws is reported and the others still run.
    pub fn emit(&self, event: &JsValue) {
        let snapshot: Vec<js_sys::Function> = self
            .inner
            .borrow()
            .entries
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        for listener in snapshot {
            if let Err(error) = listener.call1(&JsValue::NULL, event) {
                web_sys::console::error_2(&"rockon-sync: a listener threw".into(), &error);
            }
        }
    }
}
