//! Performs the core's HTTP requests against the project's REST API with the browser's `fetch`.

use futures::future::Either;
use gloo_timers::future::TimeoutFuture;
use rockon_sync_core::catchup::total_in;
#[cfg(doc)]
use rockon_sync_core::outbox::REQUEST_TIMEOUT_MS;
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::idb::thrown_text;

/// Where requests go and with which credentials. The token never appears in logs or errors.
#[derive(Clone)]
pub struct Endpoint {
    /// The project URL, e.g. `https://<project>.supabase.co`.
    pub base_url: String,
    /// The anon key, sent as `apikey`.
    pub anon_key: String,
    /// The user's access token, sent as `Authorization: Bearer`.
    pub token: String,
    /// Where requests are recorded when the app turned devtools on.
    pub devtools: Option<std::rc::Rc<super::devtools::Devtools>>,
    /// How long a request may go without its whole answer before it is aborted and counts as
    /// a network error ([`REQUEST_TIMEOUT_MS`] unless the app says otherwise).
    pub timeout_ms: u32,
}

/// Sends `request` and reports the answer; a failure to get any answer is a network error.
pub async fn send(endpoint: &Endpoint, request: &HttpRequest) -> HttpResult {
    send_counted(endpoint, request).await.0
}

/// Sends `request` and reports the answer with its `Content-Range` header's total, when the
/// server counted (`Prefer: count=exact`).
pub async fn send_counted(endpoint: &Endpoint, request: &HttpRequest) -> (HttpResult, Option<u64>) {
    let started = js_sys::Date::now();
    // A stalled connection would otherwise hold the request, and whatever waits on it, forever.
    let abort = web_sys::AbortController::new().ok();
    let signal = abort.as_ref().map(web_sys::AbortController::signal);
    let exchange = std::pin::pin!(exchange(endpoint, request, signal.as_ref()));
    let deadline = TimeoutFuture::new(endpoint.timeout_ms);
    let answer = match futures::future::select(exchange, deadline).await {
        Either::Left((answer, _)) => answer,
        Either::Right(_) => {
            if let Some(abort) = &abort {
                abort.abort();
            }
            // Whole milliseconds: formatting a float would bring the float formatter (23 KB)
            // into the module.
            let ms = endpoint.timeout_ms;
            let message = format!("no answer within {ms} ms; the request was aborted");
            (HttpResult::NetworkError(message), None)
        }
    };
    if let Some(devtools) = &endpoint.devtools {
        let (status, bytes) = match &answer.0 {
            HttpResult::Response { status, body } => (*status, body.len()),
            HttpResult::NetworkError(_) => (0, 0),
        };
        devtools.request(super::devtools::RequestRecord {
            method: request.method,
            path: request.path.clone(),
            status,
            duration_ms: js_sys::Date::now() - started,
            bytes,
            at: started,
        });
    }
    answer
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, a window's or a worker's.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(request: &web_sys::Request) -> js_sys::Promise;
}

async fn exchange(
    endpoint: &Endpoint,
    request: &HttpRequest,
    signal: Option<&web_sys::AbortSignal>,
) -> (HttpResult, Option<u64>) {
    match fetch(endpoint, request, signal).await {
        Ok(answer) => answer,
        Err(error) => {
            let reason = thrown_text(&error).unwrap_or_else(|| "the request failed".to_owned());
            (HttpResult::NetworkError(reason), None)
        }
    }
}

/// The request sent with `fetch`, and its whole answer. Anything thrown or rejected on the way
/// (no connection, an abort, an answer cut off in its body) is the error: lost like an answer
/// never received, not an empty answer (which would read as "no rows").
async fn fetch(
    endpoint: &Endpoint,
    request: &HttpRequest,
    signal: Option<&web_sys::AbortSignal>,
) -> Result<(HttpResult, Option<u64>), JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("apikey", &endpoint.anon_key)?;
    headers.set("Authorization", &format!("Bearer {}", endpoint.token))?;
    headers.set("Content-Type", "application/json")?;
    if !request.prefer.is_empty() {
        headers.set("Prefer", request.prefer)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    init.set_headers(&headers);
    init.set_signal(signal);
    if let Some(body) = &request.body {
        init.set_body(&JsValue::from_str(body));
    }
    let base = endpoint.base_url.trim_end_matches('/');
    let url = format!("{base}{}", request.path);
    let prepared = web_sys::Request::new_with_str_and_init(&url, &init)?;
    let response: web_sys::Response = JsFuture::from(fetch_with_request(&prepared))
        .await?
        .dyn_into()?;
    let total = (response.headers().get("content-range")?).and_then(|range| total_in(&range));
    let body = JsFuture::from(response.text()?).await?;
    let body = body.as_string().ok_or("the answer's body is not text")?;
    let status = response.status();
    Ok((HttpResult::Response { status, body }, total))
}
