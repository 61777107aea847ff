//! Tabs of one user in one browser share the IndexedDB database; one of them leads. The leader
//! holds a Web Lock for as long as it lives (the browser releases it when the tab closes or
//! crashes, and the next waiting tab gets it) and alone holds the socket and pushes the
//! outbox. Tabs talk over a BroadcastChannel: the leader relays what the network brought, the
//! others say when they wrote something it must push.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function tabs_join(name, onLeader, onMessage) {
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
  if (channel) channel.onmessage = (event) => onMessage(event.data);
  let release = () => {};
  const held = new Promise((resolve) => { release = resolve; });
  const abort = typeof AbortController === 'function' ? new AbortController() : null;
  const locks = globalThis.navigator && navigator.locks;
  if (locks) {
    const options = abort ? { signal: abort.signal } : {};
    locks.request(`${name}:leader`, options, () => { onLeader(); return held; }).catch(() => {});
  } else {
    // No Web Locks: every tab is on its own.
    queueMicrotask(onLeader);
  }
  return {
    post(message) { if (channel) channel.postMessage(message); },
    close() {
      if (abort) abort.abort();
      release();
      if (channel) { channel.onmessage = null; channel.close(); }
    },
  };
}
"#)]
extern "C" {
    type TabsHandle;

    fn tabs_join(
        name: &str,
        on_leader: &Closure<dyn FnMut()>,
        on_message: &Closure<dyn FnMut(JsValue)>,
    ) -> TabsHandle;

    #[wasm_bindgen(method, catch)]
    fn post(this: &TabsHandle, message: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(method)]
    fn close(this: &TabsHandle);
}

/// This tab's membership in the group of tabs sharing one database.
pub struct Tabs {
    handle: TabsHandle,
    _on_leader: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(JsValue)>,
}

impl Tabs {
    /// Joins the group `name`: `on_leader` runs once this tab leads (at once when it is the
    /// first), `on_message` for every message another tab posts.
    pub fn join(
        name: &str,
        on_leader: impl FnMut() + 'static,
        on_message: impl FnMut(JsValue) + 'static,
    ) -> Tabs {
        let on_leader = Closure::<dyn FnMut()>::new(on_leader);
        let on_message = Closure::<dyn FnMut(JsValue)>::new(on_message);
        let handle = tabs_join(name, &on_leader, &on_message);
        Tabs {
            handle,
            _on_leader: on_leader,
            _on_message: on_message,
        }
    }

    /// Sends `message` (a structured-cloneable value) to every other tab of the group.
    pub fn post(&self, message: &JsValue) {
        if let Err(error) = self.handle.post(message) {
            web_sys::console::warn_2(
                &"rockon-sync: a message to other tabs failed".into(),
                &error,
            );
        }
    }
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.handle.close();
    }
}
