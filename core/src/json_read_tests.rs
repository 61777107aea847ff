use super::*;
use crate::value::json;

/// Texts serde_json reads, each read here to the same value.
const READ: &[&str] = &[
    "null",
    " true ",
    "false",
    "0",
    "-1",
    "7",
    "18446744073709551615",
    "-9223372036854775808",
    "18446744073709551616",
    "-9223372036854775809",
    "-0",
    "0.30000000000000004",
    "1.7976931348623157e300",
    "1.7976931348623157e308",
    "5e-324",
    "1e-400",
    "1.5",
    "-0.25",
    "1e3",
    "1E+3",
    "2.5e-3",
    "123456789.125",
    r#""""#,
    r#""plain""#,
    r#""quote \" backslash \\ slash \/ controls \b\f\n\r\t""#,
    r#""\u0041\u00e9\u2603\ud83d\ude00 é ☃ 😀""#,
    // Characters of two, three and four bytes right against escapes and quotes.
    r#""é\n☃\"😀\\é""#,
    r#"{"é":"☃","😀":["é","\u00e9é"]}"#,
    "[]",
    " [ 1 , [ 2 , [ ] ] , { } ] ",
    r#"{"a":1,"b":[true,null],"c":{"d":"e"}}"#,
    "{\n\t\"key\" :\r\n \"value\" }",
    r#"{"twice":1,"other":2,"twice":3}"#,
    r#"{"t\u0069tle":"escaped key"}"#,
];

/// Texts serde_json refuses, each refused here too.
const REFUSED: &[&str] = &[
    "",
    "   ",
    "nul",
    "nulll",
    "True",
    "01",
    "-",
    "1.",
    ".5",
    "1e",
    "1e+",
    "+1",
    "0x10",
    "NaN",
    "1e400",
    r#"""#,
    r#""unterminated"#,
    "\"raw\ncontrol\"",
    r#""\x""#,
    r#""\u12""#,
    r#""\ud83d""#,
    r#""\ude00""#,
    r#""\ud83d\u0041""#,
    "[",
    "[1,]",
    "[1 2]",
    "[,1]",
    "{",
    "{}}",
    r#"{"a"}"#,
    r#"{"a":}"#,
    r#"{"a":1,}"#,
    r#"{a:1}"#,
    r#"{"a" 1}"#,
    "1 2",
    "[] x",
];

#[test]
fn reads_what_serde_json_reads_to_the_same_value() {
    for text in READ {
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text).as_ref(), Ok(&expected), "{text}");
        assert!(is_json(text), "{text}");
    }
    let twice = parse(r#"{"twice":1,"other":2,"twice":3}"#).unwrap();
    assert_eq!(twice, json!({"twice": 3, "other": 2}));
    assert_eq!(
        serde_json::to_string(&twice).unwrap(),
        r#"{"twice":3,"other":2}"#,
        "the key keeps its first place"
    );
}

#[test]
fn refuses_what_serde_json_refuses() {
    for text in REFUSED {
        assert!(
            serde_json::from_str::<Value>(text).is_err(),
            "serde: {text}"
        );
        assert!(parse(text).is_err(), "{text}");
        assert!(!is_json(text), "{text}");
    }
}

#[test]
fn integers_stay_integers_and_the_rest_are_floats() {
    assert!(parse("7").unwrap().is_u64());
    assert!(parse("-7").unwrap().is_i64());
    assert!(parse("7.0").unwrap().is_f64());
    assert!(parse("18446744073709551616").unwrap().is_f64());
    assert_eq!(parse("0.1").unwrap().as_f64(), Some(0.1));
}

#[test]
fn nesting_is_refused_past_the_limit_without_exhausting_the_stack() {
    let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
    assert!(parse(&nested(MAX_DEPTH)).is_ok());
    assert!(is_json(&nested(MAX_DEPTH)));
    let deep = nested(MAX_DEPTH + 1);
    assert_eq!(parse(&deep).unwrap_err().what, "nested too deep");
    assert!(!is_json(&deep));
    let hostile = "{\"a\":".repeat(100_000);
    assert!(parse(&hostile).is_err());
    assert!(!is_json(&hostile));
}

#[test]
fn errors_say_what_was_expected_and_where() {
    let error = parse(r#"{"a":1,}"#).unwrap_err();
    assert_eq!(error.to_string(), "expected a key at byte 7");
    assert_eq!(parse("[1] [2]").unwrap_err().what, "trailing characters");
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let mut reader = Reader::new(r#""plain" "esc\"aped""#);
    assert!(matches!(reader.string(), Ok(Cow::Borrowed("plain"))));
    assert!(matches!(reader.string(), Ok(Cow::Owned(text)) if text == "esc\"aped"));
}

#[test]
fn an_object_is_walked_field_by_field() {
    let mut reader = Reader::new(r#"{"id":"s1","meta":{"id":"nested"},"n":[1,{"x":2}]}"#);
    let mut kept = Vec::new();
    reader
        .object(|reader, key| {
            if key == "meta" {
                reader.skip()
            } else {
                kept.push((key.into_owned(), reader.value()?));
                Ok(())
            }
        })
        .unwrap();
    reader.end().unwrap();
    assert_eq!(
        kept,
        [
            ("id".to_owned(), json!("s1")),
            ("n".to_owned(), json!([1, {"x": 2}]))
        ]
    );
}

#[test]
fn array_items_are_each_value_as_its_text() {
    let text = r#" [ {"id":"s1","t":"a,b]}\"{"} , 2,null,[1,[2]],"x\\"] "#;
    assert_eq!(
        array_items(text).unwrap(),
        [
            r#"{"id":"s1","t":"a,b]}\"{"}"#,
            "2",
            "null",
            "[1,[2]]",
            r#""x\\""#
        ]
    );
    assert_eq!(
        array_items(r#"["é","☃\n",{"😀":"é"}]"#).unwrap(),
        [r#""é""#, r#""☃\n""#, r#"{"😀":"é"}"#]
    );
    assert_eq!(array_items("[]").unwrap(), Vec::<&str>::new());
    assert_eq!(array_items(" [ ] ").unwrap(), Vec::<&str>::new());
    for not_an_array in [r#"{"id":"s1"}"#, "[1,", "[1] [2]", "", "null", "[1,]"] {
        assert_eq!(array_items(not_an_array), None, "{not_an_array}");
    }
}

#[test]
fn decimals_read_exactly_and_other_floats_as_serde_json_read_them() {
    // Decimals as rows hold them (a tempo, a duration, a price): up to 15 significant
    // digits, exactly the nearest f64.
    for whole in [0u64, 1, 7, 42, 120, 999_999, 123_456_789] {
        for fraction in ["0", "5", "25", "1", "75", "333", "0001", "999999"] {
            for exponent in ["", "e3", "e-3", "E+12", "e-12"] {
                let text = format!("{whole}.{fraction}{exponent}");
                let exact: f64 = text.parse().unwrap();
                assert_eq!(parse(&text).unwrap().as_f64(), Some(exact), "{text}");
            }
        }
    }
    // Every float written as its shortest text (as JavaScript and this crate write them),
    // over the whole range: read as serde_json's reader read it, a third of them a unit or
    // two from the nearest (exactness there would take the standard library's reader).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let float = f64::from_bits(state >> 2);
        if !float.is_finite() {
            continue;
        }
        let text = crate::json_text::json_text(&float);
        let serde: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parse(&text).unwrap(), serde, "{text}");
        let read = serde.as_f64().unwrap();
        assert!(
            read.to_bits().abs_diff(float.to_bits()) <= 2,
            "{text}: read {read:e}"
        );
    }
    assert!(parse("1e308").is_ok());
    assert_eq!(parse("1e309").unwrap_err().what, "number out of range");
}
