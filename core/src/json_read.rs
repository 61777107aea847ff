//! JSON text read by hand: the rows, answers, frames and options the engine takes in.
//!
//! serde_json's reader is generic over what it reads into, so every reader the engine used (a
//! `Value`, a check that keeps nothing, each typed scan of a row) brought its own copy of the
//! parser into the WebAssembly module. [`Reader`] is one parser: it reads a value into a
//! [`Value`], or checks it and keeps nothing, or walks an object's fields and an array's items
//! and lets its caller decide, field by field, which to keep.
//!
//! It accepts what serde_json accepted: RFC 8259 JSON with nothing but whitespace around it,
//! nesting at most [`MAX_DEPTH`] deep (a hostile text must not exhaust the stack), a key given
//! twice keeping its last value, and integers as integers (`u64`, else `i64`), every other
//! number as an `f64`.

use crate::json_text::ascii_bounded;
use crate::value::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// How deep arrays and objects may nest: serde_json's limit.
pub const MAX_DEPTH: usize = 128;

/// Why a text is not JSON: what the reader expected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What was expected or found wrong, as in `expected a value`.
    pub what: &'static str,
    /// The byte offset it was found at.
    pub at: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for JsonError {}

/// `text` as a JSON value.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut reader = Reader::new(text);
    let value = reader.value()?;
    reader.end()?;
    Ok(value)
}

/// Whether `text` is one JSON value (checked without building it).
pub fn is_json(text: &str) -> bool {
    let mut reader = Reader::new(text);
    reader.skip().and_then(|()| reader.end()).is_ok()
}

/// The items of a JSON array, each as its text; `None` if `text` is not a JSON array.
pub fn array_items(text: &str) -> Option<Vec<&str>> {
    let mut reader = Reader::new(text);
    let mut items = Vec::new();
    reader
        .array(|reader| {
            reader.next_token();
            let start = reader.at;
            reader.skip()?;
            items.push(ascii_bounded(text, start..reader.at));
            Ok(())
        })
        .ok()?;
    reader.end().ok()?;
    Some(items)
}

/// A reader of one JSON text, front to back.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader {
            text,
            at: 0,
            depth: 0,
        }
    }

    fn error<T>(&self, what: &'static str) -> Result<T, JsonError> {
        Err(JsonError { what, at: self.at })
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// The next byte that is not whitespace, not taken.
    fn next_token(&mut self) -> Option<u8> {
        while let Some(byte) = self.peek() {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// Takes `byte` as the next token.
    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), JsonError> {
        if self.next_token() != Some(byte) {
            return self.error(what);
        }
        self.at += 1;
        Ok(())
    }

    /// Checks that nothing but whitespace is left.
    pub fn end(&mut self) -> Result<(), JsonError> {
        match self.next_token() {
            None => Ok(()),
            Some(_) => self.error("trailing characters"),
        }
    }

    /// Reads the next value.
    pub fn value(&mut self) -> Result<Value, JsonError> {
        Ok(match self.next_token() {
            Some(b'{') => {
                // Collected, then made an object at once: a key given twice keeps its last
                // value, found by sorting rather than by a scan per key.
                let mut entries = Vec::new();
                self.object(|reader, key| {
                    let value = reader.value()?;
                    entries.push((key.into_owned(), value));
                    Ok(())
                })?;
                Value::Object(Map::from_entries(entries))
            }
            Some(b'[') => {
                let mut items = Vec::new();
                self.array(|reader| {
                    items.push(reader.value()?);
                    Ok(())
                })?;
                Value::Array(items)
            }
            Some(b'"') => Value::String(self.string()?.into_owned()),
            Some(_) => match self.scalar()? {
                Scalar::Null => Value::Null,
                Scalar::Bool(value) => Value::Bool(value),
                Scalar::Number(text) => Value::Number(self.number(text)?),
            },
            None => return self.error("expected a value"),
        })
    }

    /// Checks the next value and keeps nothing of it.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        match self.next_token() {
            Some(b'{') => self.object(|reader, _| reader.skip()),
            Some(b'[') => self.array(Reader::skip),
            Some(b'"') => self.string().map(drop),
            Some(_) => match self.scalar()? {
                // Out of range is refused, as reading it would refuse it.
                Scalar::Number(text) => self.number(text).map(drop),
                Scalar::Null | Scalar::Bool(_) => Ok(()),
            },
            None => self.error("expected a value"),
        }
    }

    /// Reads an object, handing each key to `field` with the reader at its value, which
    /// `field` must read or skip.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if self.open(b'{', b'}', "expected an object")? {
            return Ok(());
        }
        loop {
            if self.next_token() != Some(b'"') {
                return self.error("expected a key");
            }
            let key = self.string()?;
            self.expect(b':', "expected `:`")?;
            field(self, key)?;
            if !self.next_item(b'}', "expected `,` or `}`")? {
                return Ok(());
            }
        }
    }

    /// Reads an array, calling `item` with the reader at each item, which `item` must read
    /// or skip.
    pub fn array(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if self.open(b'[', b']', "expected an array")? {
            return Ok(());
        }
        loop {
            item(self)?;
            if !self.next_item(b']', "expected `,` or `]`")? {
                return Ok(());
            }
        }
    }

    /// Takes a container's `open`ing bracket; `true` if it is empty (its `close` taken too).
    fn open(&mut self, open: u8, close: u8, what: &'static str) -> Result<bool, JsonError> {
        self.expect(open, what)?;
        self.nest()?;
        let empty = self.next_token() == Some(close);
        if empty {
            self.at += 1;
            self.depth -= 1;
        }
        Ok(empty)
    }

    /// After an item: `true` if another follows (its comma taken), `false` at the `close`ing
    /// bracket (taken).
    fn next_item(&mut self, close: u8, what: &'static str) -> Result<bool, JsonError> {
        match self.next_token() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => self.error(what),
        }
    }

    fn nest(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error("nested too deep");
        }
        Ok(())
    }

    /// Reads a string (at its opening quote): borrowed from the text unless it has escapes.
    pub fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.expect(b'"', "expected a string")?;
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut owned: Option<String> = None;
        let mut plain_from = start;
        loop {
            // Plain characters in one tight scan: most strings have no escapes at all.
            let plain = bytes[self.at..]
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20);
            let Some(plain) = plain else {
                self.at = bytes.len();
                return self.error("unterminated string");
            };
            self.at += plain;
            match bytes[self.at] {
                b'"' => {
                    let rest = ascii_bounded(self.text, plain_from..self.at);
                    self.at += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(rest),
                        Some(mut text) => {
                            text.push_str(rest);
                            Cow::Owned(text)
                        }
                    });
                }
                b'\\' => {
                    let text = owned.get_or_insert_with(String::new);
                    text.push_str(ascii_bounded(self.text, plain_from..self.at));
                    self.at += 1;
                    let unescaped = self.escape()?;
                    text.push(unescaped);
                    plain_from = self.at;
                }
                _ => return self.error("control character in a string"),
            }
        }
    }

    /// Reads the escape after a backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(byte) = self.peek() else {
            return self.error("unterminated string");
        };
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xd800..=0xdbff => {
                        if !self.text.as_bytes()[self.at..].starts_with(b"\\u") {
                            return self.error("lone surrogate in a string");
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return self.error("lone surrogate in a string");
                        }
                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..=0xdfff => return self.error("lone surrogate in a string"),
                    _ => unit,
                };
                match char::from_u32(code) {
                    Some(unescaped) => unescaped,
                    None => return self.error("invalid escape"),
                }
            }
            _ => {
                self.at -= 1;
                return self.error("invalid escape");
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(byte @ b'0'..=b'9') => byte - b'0',
                Some(byte @ b'a'..=b'f') => byte - b'a' + 10,
                Some(byte @ b'A'..=b'F') => byte - b'A' + 10,
                _ => return self.error("invalid escape"),
            };
            unit = unit * 16 + u32::from(digit);
            self.at += 1;
        }
        Ok(unit)
    }

    /// Reads `null`, `true`, `false` or a number (whose text is checked, not yet converted).
    fn scalar(&mut self) -> Result<Scalar<'a>, JsonError> {
        let rest = &self.text.as_bytes()[self.at..];
        for (word, scalar) in [
            ("null", Scalar::Null),
            ("true", Scalar::Bool(true)),
            ("false", Scalar::Bool(false)),
        ] {
            if rest.starts_with(word.as_bytes()) {
                self.at += word.len();
                return Ok(scalar);
            }
        }
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.error("expected a value"),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.required_digits()?;
        }
        Ok(Scalar::Number(ascii_bounded(self.text, start..self.at)))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        self.digits();
        if self.at == start {
            return self.error("expected a digit");
        }
        Ok(())
    }

    /// A number's checked text as a number: an integer as `u64` or `i64` when it fits, any
    /// other as an `f64`.
    fn number(&self, text: &str) -> Result<Number, JsonError> {
        let bytes = text.as_bytes();
        let negative = bytes.first() == Some(&b'-');
        let mut at = usize::from(negative);
        // The digits as one integer times a power of ten. Digits past what a u64 holds only
        // move the exponent (for an integer part) or are dropped (for a fraction): an f64
        // keeps 17 significant digits, a u64 19.
        let mut decimal = Decimal {
            significand: 0,
            exponent: 0,
            fits: true,
        };
        decimal.digits(bytes, &mut at, false);
        let Decimal {
            significand, fits, ..
        } = decimal;
        if fits && at == bytes.len() {
            if !negative {
                return Ok(significand.into());
            }
            // `-0` is the float -0.0, as serde_json reads it.
            if significand != 0 && significand <= i64::MIN.unsigned_abs() {
                return Ok((significand as i64).wrapping_neg().into());
            }
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            decimal.digits(bytes, &mut at, true);
        }
        let Decimal {
            significand,
            mut exponent,
            ..
        } = decimal;
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            let sign = match bytes.get(at) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            at += usize::from(sign != 0);
            let mut written: i64 = 0;
            for digit in &bytes[at..] {
                // Past any exponent an f64 has, more digits change nothing.
                written = (written * 10 + i64::from(digit - b'0')).min(100_000);
            }
            exponent += if sign < 0 { -written } else { written };
        }
        let magnitude = scaled(significand as f64, exponent);
        let value = if negative { -magnitude } else { magnitude };
        match Number::from_f64(value) {
            Some(number) if value.is_finite() => Ok(number),
            _ => self.error("number out of range"),
        }
    }
}

/// A number's digits as one integer times a power of ten.
struct Decimal {
    significand: u64,
    exponent: i64,
    /// Whether every digit went into the significand.
    fits: bool,
}

impl Decimal {
    /// Takes the digits at `at`, of the integer part or of the fraction.
    fn digits(&mut self, bytes: &[u8], at: &mut usize, fraction: bool) {
        while let Some(digit @ b'0'..=b'9') = bytes.get(*at).copied() {
            let more = self.significand.checked_mul(10);
            match more.and_then(|s| s.checked_add(u64::from(digit - b'0'))) {
                Some(more) => {
                    self.significand = more;
                    self.exponent -= i64::from(fraction);
                }
                None => {
                    self.fits = false;
                    self.exponent += i64::from(!fraction);
                }
            }
            *at += 1;
        }
    }
}

/// `value × 10^exponent`, with the power of ten as the nearest f64 (from [`POWERS_OF_TEN`]):
/// exact when `value` is an integer below 2^53 and the exponent within ±22 (the decimals apps
/// store), otherwise within two units in the last place, the same value serde_json's reader
/// (without its `float_roundtrip`) reads, as the tests check over the whole range. The
/// standard library's exact reader would bring 17 KB of code and tables into the module.
fn scaled(value: f64, exponent: i64) -> f64 {
    let power = |exponent: i64| POWERS_OF_TEN[exponent.min(308) as usize];
    if value == 0.0 || exponent == 0 {
        value
    } else if exponent > 308 {
        f64::INFINITY
    } else if exponent > 0 {
        value * power(exponent)
    } else if exponent >= -308 {
        value / power(-exponent)
    } else {
        value / 1e308 / power(-exponent - 308)
    }
}

/// 10^0 to 10^308, each the nearest f64 (as the compiler reads the literal).
#[rustfmt::skip]
const POWERS_OF_TEN: [f64; 309] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46,
    1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61,
    1e62, 1e63, 1e64, 1e65, 1e66, 1e67, 1e68, 1e69, 1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76,
    1e77, 1e78, 1e79, 1e80, 1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89, 1e90, 1e91,
    1e92, 1e93, 1e94, 1e95, 1e96, 1e97, 1e98, 1e99, 1e100, 1e101, 1e102, 1e103, 1e104, 1e105,
    1e106, 1e107, 1e108, 1e109, 1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118,
    1e119, 1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129, 1e130, 1e131,
    1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139, 1e140, 1e141, 1e142, 1e143, 1e144,
    1e145, 1e146, 1e147, 1e148, 1e149, 1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157,
    1e158, 1e159, 1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169, 1e170,
    1e171, 1e172, 1e173, 1e174, 1e175, 1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183,
    1e184, 1e185, 1e186, 1e187, 1e188, 1e189, 1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196,
    1e197, 1e198, 1e199, 1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209,
    1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219, 1e220, 1e221, 1e222,
    1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229, 1e230, 1e231, 1e232, 1e233, 1e234, 1e235,
    1e236, 1e237, 1e238, 1e239, 1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248,
    1e249, 1e250, 1e251, 1e252, 1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259, 1e260, 1e261,
    1e262, 1e263, 1e264, 1e265, 1e266, 1e267, 1e268, 1e269, 1e270, 1e271, 1e272, 1e273, 1e274,
    1e275, 1e276, 1e277, 1e278, 1e279, 1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287,
    1e288, 1e289, 1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, 1e300,
    1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

/// A value that is neither an object, an array nor a string.
enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
}

#[cfg(test)]
#[path = "json_read_tests.rs"]
mod tests;
