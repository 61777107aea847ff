//! The browser's `online`, `offline` and `visibilitychange` events, as inputs for the sync
//! engine. The listeners are owned and removed when this is dropped.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// What the page reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    /// The network came back.
    Online,
    /// The network went away.
    Offline,
    /// The page became visible.
    Visible,
    /// The page was hidden.
    Hidden,
}

struct Registration {
    target: EventTarget,
    name: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

/// Registered listeners; removed on drop.
pub struct PageEvents {
    registered: Vec<Registration>,
}

impl PageEvents {
    /// Listens on `window` and `document` (when there is one: workers have neither).
    pub fn attach(on_event: impl Fn(PageEvent) + 'static) -> PageEvents {
        let on_event = std::rc::Rc::new(on_event);
        let mut registered = Vec::new();
        let Some(window) = web_sys::window() else {
            return PageEvents { registered };
        };
        let mut listen =
            |target: EventTarget, name: &'static str, map: fn() -> Option<PageEvent>| {
                let on_event = on_event.clone();
                let closure = Closure::<dyn FnMut(Event)>::new(move |_| {
                    if let Some(event) = map() {
                        on_event(event);
                    }
                });
                if target
                    .add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())
                    .is_ok()
                {
                    registered.push(Registration {
                        target,
                        name,
                        closure,
                    });
                }
            };
        listen(window.clone().into(), "online", || Some(PageEvent::Online));
        listen(window.clone().into(), "offline", || {
            Some(PageEvent::Offline)
        });
        if let Some(document) = window.document() {
            listen(document.into(), "visibilitychange", || {
                let hidden = web_sys::window()?.document()?.hidden();
                Some(if hidden {
                    PageEvent::Hidden
                } else {
                    PageEvent::Visible
                })
            });
        }
        PageEvents { registered }
    }
}

impl Drop for PageEvents {
    fn drop(&mut self) {
        for r in &self.registered {
            let callback = r.closure.as_ref().unchecked_ref();
            let _ = r
                .target
                .remove_event_listener_with_callback(r.name, callback);
        }
    }
}
