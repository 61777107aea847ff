//! Performs the core's HTTP requests against the project's REST API with gloo-net.

use futures::future::Either;
use gloo_net::http::{Method, RequestBuilder};
use gloo_timers::future::TimeoutFuture;
use rockon_sync_core::catchup::total_in;
#[cfg(doc)]
use rockon_sync_core::outbox::REQUEST_TIMEOUT_MS;
use rockon_sync_core::outbox::{HttpRequest, HttpResult};

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

async fn exchange(
    endpoint: &Endpoint,
    request: &HttpRequest,
    signal: Option<&web_sys::AbortSignal>,
) -> (HttpResult, Option<u64>) {
    let method = match request.method {
        "POST" => Method::POST,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => Method::GET,
    };
    let url = format!(
        "{}{}",
        endpoint.base_url.trim_end_matches('/'),
        request.path
    );
    let mut builder = RequestBuilder::new(&url)
        .method(method)
        .header("apikey", &endpoint.anon_key)
        .header("Authorization", &format!("Bearer {}", endpoint.token))
        .header("Content-Type", "application/json")
        .abort_signal(signal);
    if !request.prefer.is_empty() {
        builder = builder.header("Prefer", request.prefer);
    }
    let prepared = match &request.body {
        Some(body) => builder.body(body.as_str()),
        None => builder.build(),
    };
    let response = match prepared {
        Ok(prepared) => prepared.send().await,
        Err(error) => return (HttpResult::NetworkError(error.to_string()), None),
    };
    match response {
        Ok(response) => {
            let total = response
                .headers()
                .get("content-range")
                .and_then(|range| total_in(&range));
            // An answer cut off in its body is lost like one never received, not an empty
            // answer (which would read as "no rows").
            match response.text().await {
                Ok(body) => {
                    let status = response.status();
                    (HttpResult::Response { status, body }, total)
                }
                Err(error) => (HttpResult::NetworkError(error.to_string()), None),
            }
        }
        Err(error) => (HttpResult::NetworkError(error.to_string()), None),
    }
}
