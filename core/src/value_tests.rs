//! The engine's JSON values against serde_json's, whose shape and meaning they keep.

use super::{Map, Number, Value};
use crate::json_read::parse;
use crate::json_text::json_text;

/// Reading then writing gives serde_json's reading written by serde_json: the same members,
/// in the same order, the last of a key given twice at its first place.
#[test]
fn read_and_written_as_serde_json_reads_and_writes() {
    let mut texts = vec![
        r#"{"b":1,"a":[true,null,-2,2.5,"x"],"c":{"d":{}}}"#.to_owned(),
        r#"{"k":1,"j":2,"k":3}"#.to_owned(),
        r#"[{"a":1,"a":{"b":2},"c":3,"a":4}]"#.to_owned(),
    ];
    // Objects past the size where duplicates are found by sorting, keys repeating in turn.
    for count in [9, 40, 300] {
        let members: Vec<String> = (0..count)
            .map(|n| format!(r#""k{}":{n}"#, (n * 7) % (count / 3 + 1)))
            .collect();
        texts.push(format!("{{{}}}", members.join(",")));
    }
    for text in texts {
        let ours = parse(&text).expect("valid JSON");
        let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json_text(&ours),
            serde_json::to_string(&theirs).unwrap(),
            "{text}"
        );
        assert_eq!(Value::from(theirs.clone()), ours, "{text}");
        assert_eq!(serde_json::Value::from(ours), theirs, "{text}");
    }
}

/// An object of many keys is read in time linear-ish in them, not by a scan per key: 100,000
/// distinct keys would take seconds at a scan each.
#[test]
fn an_object_of_many_keys_is_read_whole() {
    let members: Vec<String> = (0..100_000).map(|n| format!(r#""key{n}":{n}"#)).collect();
    let text = format!("{{{},\"key5\":\"last\"}}", members.join(","));
    let value = parse(&text).unwrap();
    let map = value.as_object().unwrap();
    assert_eq!(map.len(), 100_000);
    assert_eq!(map.keys().nth(5).map(String::as_str), Some("key5"));
    assert_eq!(value["key5"], "last");
    assert_eq!(value["key99999"], 99_999u64);
}

#[test]
fn objects_are_equal_in_any_order_and_keep_theirs() {
    let mut a = Map::new();
    a.insert("x".into(), 1u64.into());
    a.insert("y".into(), "two".into());
    let mut b = Map::new();
    b.insert("y".into(), "two".into());
    b.insert("x".into(), 1u64.into());
    assert_eq!(a, b);
    assert_eq!(json_text(&a), r#"{"x":1,"y":"two"}"#);
    assert_eq!(a.insert("x".into(), 3u64.into()), Some(Value::from(1u64)));
    assert_eq!(json_text(&a), r#"{"x":3,"y":"two"}"#, "replaced in place");
    assert_ne!(a, b);
    a.insert("z".into(), Value::Null);
    assert_eq!(a.remove("x"), Some(Value::from(3u64)));
    assert_eq!(
        json_text(&a),
        r#"{"y":"two","z":null}"#,
        "the rest in order"
    );
    assert_eq!(a.remove("x"), None);
    *a.entry("w").or_insert(Value::Bool(true)) = Value::Bool(false);
    a.entry("y").or_insert(Value::Null);
    assert_eq!(json_text(&a), r#"{"y":"two","z":null,"w":false}"#);
}

#[test]
fn numbers_keep_serde_jsons_kinds() {
    assert_eq!(Value::from(-3i64).as_i64(), Some(-3));
    assert_eq!(Value::from(-3i64).as_u64(), None);
    assert_eq!(
        Value::from(3i64),
        Value::from(3u64),
        "a non-negative i64 is a u64"
    );
    assert_ne!(
        Value::from(3.0),
        Value::from(3u64),
        "a float is not an integer"
    );
    assert_eq!(Value::from(f64::NAN), Value::Null);
    assert_eq!(Number::from_f64(f64::INFINITY), None);
    assert_eq!(Value::from(u64::MAX).as_i64(), None);
    assert_eq!(Value::from(u64::MAX).as_f64(), Some(u64::MAX as f64));
    for text in ["0", "-0", "12.5", "-7", "18446744073709551615", "1e300"] {
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        let ours = parse(text).unwrap();
        assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        assert_eq!(Value::from(theirs), ours, "{text}");
    }
}

#[test]
fn indexing_reads_null_for_what_is_missing_and_sets_members() {
    let mut value = crate::json!({"a": [1, {"b": "c"}]});
    assert_eq!(value["a"][1]["b"], "c");
    assert!(value["missing"]["deeper"][3].is_null());
    value["d"] = Value::from("e");
    assert_eq!(value.get("d").and_then(Value::as_str), Some("e"));
    let mut empty = Value::Null;
    empty["made"] = Value::Bool(true);
    assert_eq!(empty, crate::json!({"made": true}));
}
