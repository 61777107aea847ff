//! Properties that must hold for any input: no panics, bounded backoff, timers that advance.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use rockon_sync_core::backoff::BackoffPolicy;
use rockon_sync_core::realtime::{
    ChannelConfig, ConnectionState, Event, Input, Output, PostgresBinding, Realtime,
    RealtimeConfig, RoutedFrame, SocketId, Vsn,
};
use rockon_sync_core::rng::SplitMix64;
use rockon_sync_core::Millis;

/// Valid server frames to mutate.
const FRAMES: &[&str] = &[
    r#"["1","1","realtime:band:b1","phx_reply",{"status":"ok","response":{"postgres_changes":[{"id":11,"event":"*","schema":"public","table":"songs","filter":"band_id=eq.b1"}]}}]"#,
    r#"[null,null,"realtime:band:b1","system",{"extension":"postgres_changes","status":"ok","message":"Subscribed to PostgreSQL","channel":"band:b1"}]"#,
    r#"[null,null,"realtime:band:b1","postgres_changes",{"ids":[11],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.123Z","type":"UPDATE","columns":[],"record":{"id":"s1","version":2},"old_record":{"id":"s1"},"errors":null}}]"#,
    r#"[null,null,"realtime:band:b1","presence_diff",{"joins":{"a":{"metas":[{"phx_ref":"x"}]}},"leaves":{}}]"#,
    r#"[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
    r#"["1",null,"realtime:band:b1","system",{"extension":"system","status":"error","message":"Token has expired 3 seconds ago"}]"#,
    r#"["1","1","realtime:band:b1","phx_close",{}]"#,
    r#"{"topic":"realtime:band:b1","event":"phx_error","payload":{},"ref":"1"}"#,
];

fn joined_engine(vsn: Vsn) -> Realtime {
    let mut config = RealtimeConfig::new("ws://127.0.0.1:1/realtime/v1", "anon");
    config.vsn = vsn;
    let mut engine = Realtime::new(config, 99);
    engine.connect(Millis(0));
    engine.handle_input(Millis(1), Input::Opened(SocketId(1)));
    let channel = ChannelConfig {
        postgres_changes: vec![PostgresBinding::table_eq("songs", "band_id", "b1")],
        presence: Some("me".into()),
        ..ChannelConfig::default()
    };
    engine.join(Millis(2), "band:b1", channel).unwrap();
    while engine.poll_output().is_some() {}
    engine
}

/// Row changes in every shape a driver may route: `postgres_changes` in both serialisations,
/// and a database broadcast on a channel that takes them (`b2`) and on one that does not (`b1`,
/// where it is the application's own message).
const CHANGE_FRAMES: &[&str] = &[
    r#"[null,null,"realtime:band:b1","postgres_changes",{"ids":[11],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.123Z","type":"UPDATE","columns":[],"record":{"id":"s1","version":2},"old_record":{"id":"s1"},"errors":null}}]"#,
    r#"{"event":"postgres_changes","join_ref":null,"payload":{"ids":[11,12],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.123Z","type":"DELETE","old_record":{"id":"s1"}}},"ref":null,"topic":"realtime:band:b1"}"#,
    r#"[null,null,"realtime:band:b2","broadcast",{"type":"broadcast","event":"INSERT","payload":{"schema":"public","table":"songs","operation":"INSERT","record":{"id":"s2","updated_at":"2026-11-23T10:00:00Z"},"old_record":null}}]"#,
    r#"[null,null,"realtime:band:b1","broadcast",{"type":"broadcast","event":"UPDATE","payload":{"schema":"public","table":"songs","operation":"UPDATE","record":{"id":"s2"},"extra":[1]}}]"#,
];

/// An engine with channel `b1` (postgres_changes, its join accepted) and `b2` (database
/// broadcasts).
fn engine_with_both_channels(vsn: Vsn) -> Realtime {
    let mut engine = joined_engine(vsn);
    let database = ChannelConfig {
        database_broadcasts: true,
        private: true,
        ..ChannelConfig::default()
    };
    engine.join(Millis(2), "band:b2", database).unwrap();
    let reply = match vsn {
        Vsn::V2 => FRAMES[0].to_owned(),
        Vsn::V1 => {
            let [join_ref, msg_ref, topic, event, payload]: [rockon_sync_core::value::Value; 5] =
                serde_json::from_str(FRAMES[0]).unwrap();
            let reply = rockon_sync_core::json!({"join_ref": join_ref, "ref": msg_ref,
                "topic": topic, "event": event, "payload": payload});
            reply.to_string()
        }
    };
    let socket = SocketId(1);
    engine.handle_input(
        Millis(3),
        Input::Text {
            socket,
            text: &reply,
        },
    );
    while engine.poll_output().is_some() {}
    engine
}

fn events_of(engine: &mut Realtime, input: Input<'_>) -> Vec<Event> {
    engine.handle_input(Millis(4), input);
    std::iter::from_fn(|| engine.poll_output())
        .filter_map(|output| match output {
            Output::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn mutate(frame: &str, edits: &[(usize, u8)]) -> String {
    let mut bytes = frame.as_bytes().to_vec();
    for &(position, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = position % bytes.len();
        match byte % 3 {
            0 => bytes[at] = byte,
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, byte),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #[test]
    fn timestamps_from_anywhere_never_panic(
        prefix in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}",
        rest in ".{0,12}",
        ms in any::<u64>(),
    ) {
        let text = format!("{prefix}{rest}");
        let _ = rockon_sync_core::catchup::parse_micros(&text);
        let _ = rockon_sync_core::catchup::shift_timestamp(&text, ms);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}", v1 in any::<bool>()) {
        let mut engine = joined_engine(if v1 { Vsn::V1 } else { Vsn::V2 });
        engine.handle_input(Millis(3), Input::Text { socket: SocketId(1), text: &text });
        while engine.poll_output().is_some() {}
        prop_assert_eq!(engine.state(), &ConnectionState::Connected);
    }

    #[test]
    fn mutated_frames_never_panic(
        which in 0..FRAMES.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        let text = mutate(FRAMES[which], &edits);
        let vsn = if text.starts_with('{') { Vsn::V1 } else { Vsn::V2 };
        let mut engine = joined_engine(vsn);
        engine.handle_input(Millis(3), Input::Text { socket: SocketId(1), text: &text });
        while engine.poll_output().is_some() {}
        prop_assert_eq!(engine.state(), &ConnectionState::Connected);
    }

    #[test]
    fn backoff_stays_within_its_bounds(
        initial in 1u64..60_000,
        extra in 0u64..600_000,
        attempt in 1u32..200,
        seed in any::<u64>(),
    ) {
        let policy = BackoffPolicy { initial_ms: initial, max_ms: initial + extra };
        let step = policy.step(attempt);
        let delay = policy.delay(attempt, &mut SplitMix64::new(seed));
        prop_assert!(step <= policy.max_ms);
        prop_assert!(step >= policy.initial_ms);
        prop_assert!(delay >= step / 2 && delay <= step, "{delay} outside [{}, {step}]", step / 2);
    }

    /// A frame a driver routes itself means to the engine what its text means.
    #[test]
    fn routed_frames_mean_what_their_text_means(
        which in 0..CHANGE_FRAMES.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let text = mutate(CHANGE_FRAMES[which], &edits);
        let vsn = if text.starts_with('{') { Vsn::V1 } else { Vsn::V2 };
        if let Some(frame) = RoutedFrame::route(&text, vsn) {
            let socket = SocketId(1);
            let from_text = events_of(&mut engine_with_both_channels(vsn), Input::Text { socket, text: &text });
            let routed = events_of(&mut engine_with_both_channels(vsn), Input::Change { socket, frame: Box::new(frame) });
            prop_assert_eq!(routed, from_text, "{}", text);
        }
    }

    /// Whatever happens, handling a timeout moves the next timeout into the future (no busy
    /// loop), and nothing panics.
    #[test]
    fn random_sessions_keep_timers_moving(
        steps in proptest::collection::vec((0u8..12, 0u64..40_000, 0..FRAMES.len()), 1..60),
    ) {
        let mut engine = Realtime::new(RealtimeConfig::new("ws://h/realtime/v1", "k"), 7);
        let mut now = Millis(0);
        let mut socket = SocketId(0);
        for (action, wait, frame) in steps {
            now = now + wait;
            while let Some(due) = engine.poll_timeout() {
                if due > now { break; }
                engine.handle_timeout(due);
                if let Some(next) = engine.poll_timeout() {
                    prop_assert!(next > due, "timeout {due:?} was not consumed");
                }
            }
            match action {
                0 => engine.connect(now),
                1 => engine.disconnect(now),
                2 => engine.handle_input(now, Input::Opened(socket)),
                3 => engine.handle_input(now, Input::Closed { socket, code: 1006, reason: "" }),
                4..=6 => engine.handle_input(now, Input::Text { socket, text: FRAMES[frame] }),
                7 => engine.handle_input(now, Input::Offline),
                8 => engine.handle_input(now, Input::Online),
                9 => engine.handle_input(now, Input::Visible),
                10 => engine.set_token(now, format!("token-{wait}")),
                _ => {
                    let _ = engine.join(now, "band:b1", ChannelConfig::default());
                }
            }
            while let Some(output) = engine.poll_output() {
                if let Output::Connect { socket: id, .. } = output {
                    socket = id;
                }
            }
        }
    }
}

proptest! {
    /// Batching and rate caps merge toasts but never lose a change: the counts of the toasts as
    /// last shown (a toast that grows replaces the one with its id) add up.
    #[test]
    fn every_notified_change_is_counted_once(
        steps in proptest::collection::vec((0usize..4, 0u64..3_000), 1..80),
    ) {
        use rockon_sync_core::notify::{Action, Change, Notifier, NotifyConfig};
        let authors = ["me", "alice", "bob", "carol"];
        let mut notifier = Notifier::new(NotifyConfig::default(), "me");
        let mut now = Millis(0);
        let mut expected = 0;
        let mut shown = std::collections::BTreeMap::new();
        for (author, wait) in steps {
            now = now + wait;
            while let Some(due) = notifier.poll_timeout().filter(|t| *t <= now) {
                notifier.handle_timeout(due);
            }
            if author != 0 {
                expected += 1;
            }
            notifier.push(now, Change {
                author: authors[author].into(),
                table: "songs".into(),
                label: Some("x".into()),
                action: Action::Updated,
            });
            while let Some(toast) = notifier.poll_toast() {
                shown.insert(toast.id, toast.count);
            }
        }
        while let Some(due) = notifier.poll_timeout() {
            notifier.handle_timeout(due);
        }
        while let Some(toast) = notifier.poll_toast() {
            shown.insert(toast.id, toast.count);
        }
        prop_assert_eq!(shown.values().sum::<usize>(), expected);
    }
}

/// The frames above route, and each means something (the property is not vacuous): a change,
/// or on `b1` the application's message kept whole.
#[test]
fn every_change_frame_routes_to_an_event() {
    for text in CHANGE_FRAMES {
        let vsn = if text.starts_with('{') {
            Vsn::V1
        } else {
            Vsn::V2
        };
        let frame = RoutedFrame::route(text, vsn).expect("routes");
        let events = events_of(
            &mut engine_with_both_channels(vsn),
            Input::Change {
                socket: SocketId(1),
                frame: Box::new(frame),
            },
        );
        match events.as_slice() {
            [Event::Change(change)] => {
                assert!(change.record.is_some() || change.old_record.is_some())
            }
            [Event::Broadcast { message, .. }] => {
                assert_eq!(message.payload["extra"], rockon_sync_core::json!([1]))
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}
