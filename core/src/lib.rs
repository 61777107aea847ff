//! The sans-IO core of rockon-sync.
//!
//! This crate holds the rules of the sync layer and none of its I/O: it never opens a socket,
//! reads a clock, draws a random number or touches storage. Everything the outside world does
//! comes in as an input, and everything the core wants done comes out as a value. The same code
//! therefore runs natively under `cargo test` (in simulated time, faster than real time) and in
//! the browser inside the WebAssembly module.
//!
//! # Driving contract
//!
//! The [`realtime::Realtime`] engine is driven like this:
//!
//! 1. Call a command ([`connect`](realtime::Realtime::connect),
//!    [`join`](realtime::Realtime::join), [`set_token`](realtime::Realtime::set_token), …) or
//!    feed an [`Input`](realtime::Input) with [`handle_input`](realtime::Realtime::handle_input),
//!    always passing the current time as a [`Millis`].
//! 2. Drain [`poll_output`](realtime::Realtime::poll_output) until it returns `None`, carrying
//!    out each [`Output`](realtime::Output): open a socket, send a frame, close a socket, or
//!    deliver an [`Event`](realtime::Event) to the application.
//! 3. Ask [`poll_timeout`](realtime::Realtime::poll_timeout) when the core next needs to run,
//!    sleep until then or until the next input, and call
//!    [`handle_timeout`](realtime::Realtime::handle_timeout) when the time has come.
//!
//! ```
//! use rockon_sync_core::realtime::{Output, Realtime, RealtimeConfig};
//! use rockon_sync_core::Millis;
//!
//! let config = RealtimeConfig::new("wss://example.supabase.co/realtime/v1", "anon-key");
//! let mut realtime = Realtime::new(config, 42);
//! realtime.connect(Millis(0));
//! while let Some(output) = realtime.poll_output() {
//!     if let Output::Connect { url, .. } = output {
//!         assert!(url.starts_with("wss://example.supabase.co/realtime/v1/websocket?"));
//!     }
//! }
//! assert_eq!(realtime.poll_timeout(), Some(Millis(10_000))); // the connect timeout
//! ```
//!
//! [`transcript`] replays recorded sessions against the engine; the browser tests run the same
//! transcripts inside WebAssembly to prove both builds behave identically.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod catchup;
pub mod feed;
pub mod fields;
pub mod hashed;
pub mod json_read;
pub mod json_text;
pub mod jwt;
pub mod memberships;
pub mod merge;
pub mod notify;
pub mod outbox;
pub mod realtime;
pub mod rng;
pub mod schema;
pub mod sorted;
pub mod sync;
mod time;
pub mod transcript;
pub mod unread;
pub mod value;

pub use time::Millis;

/// Percent-encodes everything but RFC 3986's unreserved characters (for query values).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether `text` contains `words`, for recognising the messages servers and browsers word
/// (`Token has expired`, `VersionError`). A byte comparison at each position: `str::contains`
/// brings the standard library's two-way searcher into the module (2 KB) for these few calls
/// on short messages.
pub fn mentions(text: &str, words: &str) -> bool {
    let words = words.as_bytes();
    words.is_empty() || text.as_bytes().windows(words.len()).any(|at| at == words)
}

/// The unsigned integer `text` writes in decimal, as `str::parse::<u64>` reads it (digits, an
/// optional leading `+`; `None` when empty, for anything else, or past `u64::MAX`): the
/// standard library's generic integer parsers are half a kilobyte each in the module.
pub fn decimal(text: &str) -> Option<u64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for byte in digits.bytes() {
        let digit = byte.checked_sub(b'0').filter(|digit| *digit < 10)?;
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

#[cfg(test)]
mod mentions_tests {
    use super::{decimal, mentions};

    #[test]
    fn decimal_reads_what_str_parse_reads() {
        let texts = [
            "0",
            "7",
            "+7",
            "007",
            "42",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "",
            "+",
            "-1",
            "-0",
            "1 ",
            " 1",
            "1a",
            "++1",
            "1+",
            "٣",
            "1.5",
            "0x10",
        ];
        for text in texts {
            assert_eq!(decimal(text), text.parse::<u64>().ok(), "{text:?}");
        }
    }

    #[test]
    fn finds_the_words_anywhere_in_the_text() {
        assert!(mentions("Error 413: Payload Too Large", "413"));
        assert!(mentions("413", "413"));
        assert!(mentions(
            "PostgREST: Token has expired 5s ago",
            "Token has expired"
        ));
        assert!(!mentions("Token has expire", "Token has expired"));
        assert!(!mentions("Error 41 3", "413"));
        assert!(!mentions("", "413"));
        assert!(mentions("anything", ""));
    }
}
