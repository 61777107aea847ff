//! Fault injection for tests: bounded, reversible switches, enabled only with `--faults`, on
//! loopback, for callers holding the token printed at start.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// A one-off action for every live socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketAction {
    /// Drop the connection without a close frame.
    Drop,
    /// Send a frame that is not valid JSON.
    Malformed,
}

/// How outgoing frames are disturbed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct FrameFaults {
    /// Hold every frame this long.
    #[serde(default)]
    pub delay_ms: u64,
    /// Send every change twice.
    #[serde(default)]
    pub duplicate: bool,
    /// Swap every two consecutive changes.
    #[serde(default)]
    pub reorder: bool,
}

/// The switches.
pub struct Faults {
    enabled: bool,
    /// The secret a caller of `/admin/faults` must present, printed at start.
    token: String,
    lose_answers: AtomicU32,
    drop_changes: AtomicU32,
    lost_answer_delay_ms: AtomicU64,
    stall_reads: AtomicU32,
    stalled_read_seconds: AtomicU64,
    rest_failures: AtomicU32,
    rest_status: AtomicU32,
    rest_writes_only: AtomicBool,
    refuse_until: Mutex<Option<Instant>>,
    expired_before: AtomicU64,
    frames: Mutex<FrameFaults>,
    sockets: broadcast::Sender<SocketAction>,
    /// Restart requests for the change stream.
    pub restart_stream: tokio::sync::Notify,
}

impl Faults {
    /// Switches that start off; `enabled` allows turning them on, by callers holding `token`.
    pub fn new(enabled: bool, token: String) -> Self {
        Self {
            enabled,
            token,
            lose_answers: AtomicU32::new(0),
            drop_changes: AtomicU32::new(0),
            lost_answer_delay_ms: AtomicU64::new(0),
            stall_reads: AtomicU32::new(0),
            stalled_read_seconds: AtomicU64::new(0),
            rest_failures: AtomicU32::new(0),
            rest_status: AtomicU32::new(500),
            rest_writes_only: AtomicBool::new(false),
            refuse_until: Mutex::new(None),
            expired_before: AtomicU64::new(0),
            frames: Mutex::new(FrameFaults::default()),
            sockets: broadcast::channel(16).0,
            restart_stream: tokio::sync::Notify::new(),
        }
    }

    /// Whether the admin endpoint accepts switches.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The admin token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `presented` is the admin token (compared in constant time).
    pub fn admits(&self, presented: &str) -> bool {
        let (a, b) = (presented.as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Makes the next `count` REST writes commit and then lose their answer: the connection
    /// drops before the response, `after_ms` (at most 30 s) after the commit, as when a phone
    /// loses its network mid-request.
    pub fn lose_answers(&self, count: u32, after_ms: u64) {
        self.lost_answer_delay_ms
            .store(after_ms.min(30_000), Ordering::SeqCst);
        self.lose_answers.store(count.min(1_000), Ordering::SeqCst);
    }

    /// How long to hold this write's connection before dropping it, if its answer is to be
    /// lost.
    pub fn take_lost_answer(&self) -> Option<Duration> {
        take_one(&self.lose_answers)
            .then(|| Duration::from_millis(self.lost_answer_delay_ms.load(Ordering::SeqCst)))
    }

    /// Holds the answers to the next `count` REST reads (capped at 1,000) for `seconds`
    /// (capped at 60).
    pub fn stall_reads(&self, count: u32, seconds: u64) {
        self.stalled_read_seconds
            .store(seconds.min(60), Ordering::SeqCst);
        self.stall_reads.store(count.min(1_000), Ordering::SeqCst);
    }

    /// How long to hold this read's answer, if it is to stall.
    pub fn take_stalled_read(&self) -> Option<Duration> {
        take_one(&self.stall_reads)
            .then(|| Duration::from_secs(self.stalled_read_seconds.load(Ordering::SeqCst)))
    }

    /// Makes the next `count` REST calls (only writes, with `writes_only`) fail with
    /// `status` (capped at 1,000).
    pub fn fail_rest(&self, count: u32, status: u16, writes_only: bool) {
        self.rest_status.store(u32::from(status), Ordering::SeqCst);
        self.rest_writes_only.store(writes_only, Ordering::SeqCst);
        self.rest_failures.store(count.min(1_000), Ordering::SeqCst);
    }

    /// The status to fail this REST call with, if one is pending for it.
    pub fn take_rest_failure(&self, write: bool) -> Option<u16> {
        if !write && self.rest_writes_only.load(Ordering::SeqCst) {
            return None;
        }
        take_one(&self.rest_failures).then(|| self.rest_status.load(Ordering::SeqCst) as u16)
    }

    /// Loses the next `count` changes (at most 1,000) that have subscribers: no socket gets
    /// them, and nothing says so.
    pub fn drop_changes(&self, count: u32) {
        self.drop_changes.store(count.min(1_000), Ordering::SeqCst);
    }

    /// Whether this change is to be lost.
    pub fn take_dropped_change(&self) -> bool {
        take_one(&self.drop_changes)
    }

    /// Refuses new sockets for `seconds` (capped at 300).
    pub fn refuse_sockets(&self, seconds: u64) {
        let until = Instant::now() + Duration::from_secs(seconds.min(300));
        *self.refuse_until.lock().expect("not poisoned") = Some(until);
    }

    /// Whether new sockets are refused now.
    pub fn refusing_sockets(&self) -> bool {
        self.refuse_until
            .lock()
            .expect("not poisoned")
            .is_some_and(|until| Instant::now() < until)
    }

    /// Treats every token issued before now as expired.
    pub fn expire_tokens(&self) {
        self.expired_before
            .store(crate::auth::now_secs() + 1, Ordering::SeqCst);
    }

    /// Tokens issued before this (seconds since the epoch) count as expired.
    pub fn expired_before(&self) -> u64 {
        self.expired_before.load(Ordering::SeqCst)
    }

    /// Sets how outgoing frames are disturbed (delay capped at 10 s).
    pub fn set_frames(&self, mut frames: FrameFaults) {
        frames.delay_ms = frames.delay_ms.min(10_000);
        *self.frames.lock().expect("not poisoned") = frames;
    }

    /// How outgoing frames are disturbed now.
    pub fn frames(&self) -> FrameFaults {
        *self.frames.lock().expect("not poisoned")
    }

    /// Sends `action` to every live socket.
    pub fn act_on_sockets(&self, action: SocketAction) {
        let _ = self.sockets.send(action);
    }

    /// Subscribes a socket to actions.
    pub fn socket_actions(&self) -> broadcast::Receiver<SocketAction> {
        self.sockets.subscribe()
    }

    /// Turns every switch off.
    pub fn reset(&self) {
        self.rest_failures.store(0, Ordering::SeqCst);
        self.rest_writes_only.store(false, Ordering::SeqCst);
        self.lose_answers.store(0, Ordering::SeqCst);
        self.stall_reads.store(0, Ordering::SeqCst);
        self.drop_changes.store(0, Ordering::SeqCst);
        *self.refuse_until.lock().expect("not poisoned") = None;
        self.expired_before.store(0, Ordering::SeqCst);
        self.set_frames(FrameFaults::default());
    }
}

/// Takes one from a count of pending faults; whether there was one.
fn take_one(count: &AtomicU32) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}
