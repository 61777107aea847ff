//! Futures handed to the browser's event loop through one boxed type each, so the module holds
//! one copy of the promise and task glue rather than one per `async` block (measured below in
//! the CHANGELOG's size entry).

use js_sys::Promise;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::JsValue;

type Answer = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;
type Chore = Pin<Box<dyn Future<Output = ()>>>;

/// A promise settled by `future`.
pub fn promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    settle(Box::pin(future))
}

fn settle(future: Answer) -> Promise {
    wasm_bindgen_futures::future_to_promise(future)
}

/// Runs `future` to completion on the event loop.
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    run(Box::pin(future))
}

fn run(future: Chore) {
    wasm_bindgen_futures::spawn_local(future)
}
