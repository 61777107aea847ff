//! Watches for `versionchange`: another tab upgrading or deleting the database (a purge, or
//! the browser evicting storage). rexie does not expose the event, so a second, idle
//! connection listens for it; the store then closes its own connection so the other side is
//! not blocked, and reopens.

use futures::channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, IdbDatabase, IdbFactory, IdbOpenDbRequest};

/// An idle connection whose `versionchange` handler is owned and removed on drop.
pub struct VersionWatch {
    db: IdbDatabase,
    _on_change: Closure<dyn FnMut(Event)>,
}

fn factory() -> Result<IdbFactory, JsValue> {
    js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())?
        .dyn_into::<IdbFactory>()
        .map_err(|_| JsValue::from_str("IndexedDB is not available"))
}

impl VersionWatch {
    /// Opens database `name` at `version` and calls `on_change` once another connection wants
    /// to change it.
    pub async fn open(
        name: &str,
        version: u32,
        on_change: impl FnOnce() + 'static,
    ) -> Result<VersionWatch, JsValue> {
        let request: IdbOpenDbRequest = factory()?.open_with_u32(name, version)?;
        let (done, opened) = oneshot::channel::<Result<(), JsValue>>();
        let done = std::rc::Rc::new(std::cell::Cell::new(Some(done)));
        let on_success = {
            let done = done.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| {
                if let Some(done) = done.take() {
                    let _ = done.send(Ok(()));
                }
            })
        };
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(done) = done.take() {
                let _ = done.send(Err(JsValue::from_str(
                    "opening the watch connection failed",
                )));
            }
        });
        request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let outcome = opened.await;
        request.set_onsuccess(None);
        request.set_onerror(None);
        outcome.map_err(|_| JsValue::from_str("open request dropped"))??;
        let db: IdbDatabase = request.result()?.dyn_into()?;
        let mut on_change = Some(on_change);
        let handler = Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(callback) = on_change.take() {
                callback();
            }
        });
        db.set_onversionchange(Some(handler.as_ref().unchecked_ref()));
        Ok(VersionWatch {
            db,
            _on_change: handler,
        })
    }
}

impl Drop for VersionWatch {
    fn drop(&mut self) {
        self.db.set_onversionchange(None);
        self.db.close();
    }
}
