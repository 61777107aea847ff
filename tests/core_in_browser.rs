//! The core's transcripts replayed inside WebAssembly in a real browser: the same session must
//! produce the same outputs as natively (`core/tests/transcripts.rs` checks that every
//! transcript is listed here).
#![cfg(target_arch = "wasm32")]

use rockon_sync_core::transcript;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! replay {
    ($($test:ident => $file:literal,)*) => {$(
        #[wasm_bindgen_test]
        fn $test() {
            let script = include_str!(concat!("../core/tests/transcripts/", $file));
            if let Err(error) = transcript::run(script) {
                panic!("{}: {error}", $file);
            }
        }
    )*};
}

replay! {
    session => "01-session.txt",
    heartbeat_loss => "02-heartbeat-loss.txt",
    reconnect_backoff => "03-reconnect-backoff.txt",
    token_refresh => "04-token-refresh.txt",
    token_expired => "05-token-expired.txt",
    join_errors => "06-join-errors.txt",
    channel_lifecycle => "07-channel-lifecycle.txt",
    malformed_input => "08-malformed-input.txt",
    offline_visibility => "09-offline-visibility.txt",
    vsn1 => "10-vsn1.txt",
    presence_broadcast => "11-presence-broadcast.txt",
    limits_disconnect => "12-limits-disconnect.txt",
    database_broadcasts => "13-database-broadcasts.txt",
}

#[wasm_bindgen_test]
fn a_wrong_transcript_fails_in_the_browser_too() {
    assert!(transcript::run("connect\nexpect state connected\n").is_err());
}
