//! `POST /admin/faults`: the fault switches, for tests (only with `--faults`, which only a
//! loopback server accepts, and only with `Authorization: Bearer <faults token>`, the token
//! printed in the ready line: a web page the developer happens to visit cannot flip them).

use crate::faults::{FrameFaults, SocketAction};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// One switch.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultRequest {
    /// Drop every socket now, without a close frame.
    DropSockets,
    /// Refuse new sockets for `seconds` (at most 300).
    RefuseSockets {
        /// How long.
        seconds: u64,
    },
    /// Delay, duplicate or reorder outgoing frames from now on.
    Frames(FrameFaults),
    /// Send one malformed frame on every socket.
    MalformedFrame,
    /// Fail the next `count` REST calls with `status`.
    FailRest {
        /// How many calls (at most 1,000).
        count: u32,
        /// 500, 503, 429, …
        status: u16,
        /// Only writes (not GET or HEAD) take the failures: a test can fail a push while a
        /// read in flight from an earlier step passes.
        #[serde(default)]
        writes_only: bool,
    },
    /// Treat every token issued until now as expired.
    ExpireTokens,
    /// Commit the next `count` REST writes (at most 1,000), then drop the connection before the
    /// answer: the client cannot tell whether they committed.
    LoseAnswers {
        /// How many writes.
        count: u32,
        /// How long after the commit the connection drops (at most 30 s): the request stays
        /// in flight meanwhile.
        #[serde(default)]
        after_ms: u64,
    },
    /// Hold the answers to the next `count` REST reads (`GET`, at most 1,000) for `seconds` (at
    /// most 60), as a stalled connection would, then answer.
    StallReads {
        /// How many reads.
        count: u32,
        /// How long each answer is held.
        seconds: u64,
    },
    /// Lose the next `count` changes that have subscribers (at most 1,000), telling nobody.
    DropChanges {
        /// How many changes.
        count: u32,
    },
    /// Restart the change stream (changes committed meanwhile are lost, as on the real server);
    /// answered once the new stream decodes.
    RestartStream,
    /// Turn every switch off.
    Reset,
}

/// Applies a switch.
pub async fn faults(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(request): Json<FaultRequest>,
) -> Response {
    let faults = &state.faults;
    if !faults.enabled() {
        return (
            StatusCode::NOT_FOUND,
            "fault injection is off (start with --faults)",
        )
            .into_response();
    }
    let presented = crate::state::bearer(&headers).unwrap_or("");
    if !faults.admits(presented) {
        return (
            StatusCode::UNAUTHORIZED,
            "the faults token from the ready line is required",
        )
            .into_response();
    }
    match request {
        FaultRequest::DropSockets => faults.act_on_sockets(SocketAction::Drop),
        FaultRequest::RefuseSockets { seconds } => faults.refuse_sockets(seconds),
        FaultRequest::Frames(frames) => faults.set_frames(frames),
        FaultRequest::MalformedFrame => faults.act_on_sockets(SocketAction::Malformed),
        FaultRequest::FailRest {
            count,
            status,
            writes_only,
        } => faults.fail_rest(count, status, writes_only),
        FaultRequest::ExpireTokens => faults.expire_tokens(),
        FaultRequest::LoseAnswers { count, after_ms } => faults.lose_answers(count, after_ms),
        FaultRequest::StallReads { count, seconds } => faults.stall_reads(count, seconds),
        FaultRequest::DropChanges { count } => faults.drop_changes(count),
        FaultRequest::RestartStream => {
            // Answered once the new stream decodes: it starts from a fresh slot, so a change
            // committed before that is lost, and a caller writing right after the answer must
            // not race it. A permit, not a wake-up: the stream may be busy delivering.
            let mut ready = state.hub.stream_ready();
            faults.restart_stream.notify_one();
            let restarted = async {
                ready.wait_for(|ready| !*ready).await.ok()?;
                ready.wait_for(|ready| *ready).await.ok()
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), restarted).await;
        }
        FaultRequest::Reset => faults.reset(),
    }
    Json(json!({"ok": true})).into_response()
}
