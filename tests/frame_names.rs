//! The names a change is routed by (topic, binding ids, schema, table) cross into the module as
//! numbers from a list the page keeps. A test file of its own: it fills that list, which every
//! reader in the page shares.
#![cfg(target_arch = "wasm32")]

use rockon_sync::api::decode_realtime_frame;
use rockon_sync::io::frames::route;
use rockon_sync_core::realtime::Vsn;
use rockon_sync_core::sync::decoded_frame_json;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn frame(topic: &str) -> String {
    let payload = r#"{"ids":[3,4],"data":{"schema":"public","table":"songs","commit_timestamp":"2026-11-23T10:00:00.000Z","type":"UPDATE","record":{"id":"s1","version":2},"old_record":{"id":"s1"},"errors":null}}"#;
    let topic = JsValue::from_str(topic);
    let topic = js_sys::JSON::stringify(&topic)
        .unwrap()
        .as_string()
        .unwrap();
    format!(r#"["9",null,{topic},"postgres_changes",{payload}]"#)
}

/// The event `decodeRealtimeFrame` makes of `text`, and the one the module reads from it as text.
fn both_readings(text: &str) -> (String, String) {
    let json = |value: &JsValue| js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
    let event = decode_realtime_frame(text.into(), "2.0.0".into());
    let from_text = decoded_frame_json(text, Vsn::V2).expect("the module reads it");
    (
        json(&event),
        json(&js_sys::JSON::parse(&from_text).unwrap()),
    )
}

#[wasm_bindgen_test]
fn a_change_naming_a_name_past_the_lists_2048_goes_the_text_path_and_means_the_same() {
    // One change names four names; each frame here brings one new topic.
    let routed_topics: Vec<bool> = (0..2100)
        .map(|n| {
            route(
                &JsValue::from_str(&frame(&format!("t{n}"))),
                Vsn::V2,
                1 << 20,
            )
            .is_some()
        })
        .collect();
    let routed = routed_topics.iter().filter(|&&routed| routed).count();
    assert_eq!(
        routed,
        2048 - 3,
        "the topics that fit beside the first frame's three names"
    );
    assert!(
        routed_topics[..routed].iter().all(|&routed| routed),
        "the first ones"
    );
    for n in [0, 1000, 2044, 2045, 2099] {
        let (event, from_text) = both_readings(&frame(&format!("t{n}")));
        assert_eq!(event, from_text, "topic t{n}");
    }
    // Names already on the list still route, and mean what their frames say.
    let known = route(&JsValue::from_str(&frame("t17")), Vsn::V2, 1 << 20).expect("routes");
    assert_eq!(
        (&*known.change.topic, known.join_ref.as_deref()),
        ("t17", Some("9"))
    );
    assert_eq!(*known.change.binding_ids, [3, 4]);
    assert_eq!(
        (&*known.change.schema, &*known.change.table),
        ("public", "songs")
    );
}

#[wasm_bindgen_test]
fn a_name_holding_the_separator_goes_the_text_path_and_means_the_same() {
    let text = frame("realtime:a\u{1f}b");
    assert!(route(&JsValue::from_str(&text), Vsn::V2, 1 << 20).is_none());
    let (event, from_text) = both_readings(&text);
    assert_eq!(event, from_text);
    assert!(event.contains(r#""topic":"realtime:a\u001fb""#), "{event}");
}

#[wasm_bindgen_test]
fn a_change_of_an_unknown_kind_goes_the_text_path() {
    // Only names the test of the list's capacity uses too, which counts them.
    let text = frame("t0");
    assert!(route(&JsValue::from_str(&text), Vsn::V2, 1 << 20).is_some());
    for kind in ["constructor", "toString", "__proto__", "insert", "UPSERT"] {
        let text = text.replace(r#""type":"UPDATE""#, &format!(r#""type":"{kind}""#));
        assert!(
            route(&JsValue::from_str(&text), Vsn::V2, 1 << 20).is_none(),
            "{kind}"
        );
        let read = decode_realtime_frame(text.as_str().into(), "2.0.0".into());
        let kind_of = js_sys::Reflect::get(&read, &"type".into())
            .unwrap()
            .as_string();
        let expected = match decoded_frame_json(&text, Vsn::V2) {
            Ok(_) => "change",
            Err(_) => "protocolError",
        };
        assert_eq!(kind_of.as_deref(), Some(expected), "{kind}");
    }
}

/// A frame the module cannot read comes back as the `protocolError` event the connection
/// would report for it, never thrown; a readable one, with the same topic, as its change.
#[wasm_bindgen_test]
fn an_unreadable_frame_decodes_to_the_protocol_error_the_connection_reports() {
    let json = |value: &JsValue| js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
    let unreadable = [
        ("[1,", "1.0.0"),
        ("not json", "2.0.0"),
        (
            r#"[null,null,"t0","postgres_changes",{"ids":[1],"data":{"type":"UPDATE"}}]"#,
            "2.0.0",
        ),
    ];
    for (text, vsn) in unreadable {
        let event = json(&decode_realtime_frame(text.into(), vsn.into()));
        assert!(
            event.starts_with(r#"{"type":"protocolError","message":""#),
            "{text}: {event}"
        );
        assert!(
            event.len() > r#"{"type":"protocolError","message":""}"#.len(),
            "{event}"
        );
    }
    let payload = json(&decode_realtime_frame(
        unreadable[2].0.into(),
        "2.0.0".into(),
    ));
    assert!(payload.ends_with(r#" on t0"}"#), "{payload}");
    let (event, _) = both_readings(&frame("t0"));
    assert!(
        event.starts_with(r#"{"type":"change","topic":"t0""#),
        "{event}"
    );
}
