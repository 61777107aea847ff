//! Catch-up pulls: Realtime is a hint, not a log, so after every subscribe, reconnect, return to
//! the page, network recovery and token refresh each band's tables are read over REST from a
//! cursor. The cursor comes from the server's clock (`updated_at`, then `id` to break ties),
//! never the device's; each pull starts an overlap window before it, because `now()` is fixed
//! at transaction start and a late-committing row can land behind a cursor already saved.
//! Applying is idempotent by version, so re-reading the overlap is harmless.

use crate::fields::text;
use crate::json_text::{ascii_bounded, ObjectWriter, WriteJson};
use crate::outbox::HttpRequest;
use crate::percent_encode;
use crate::value::{Map, Value};
#[cfg(test)]
use serde::Deserialize;

/// Where the last pull of one table of one scope ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Deserialize), serde(rename_all = "camelCase"))]
pub struct Cursor {
    /// The server's `updated_at` of the last row read.
    pub updated_at: String,
    /// Its id.
    pub id: String,
}

impl WriteJson for Cursor {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("updatedAt", &self.updated_at)
            .field("id", &self.id)
            .end();
    }
}

impl Cursor {
    /// A cursor as stored; `None` if it is not one.
    pub fn from_json(stored: &Value) -> Option<Cursor> {
        Some(Cursor {
            updated_at: text(stored, "updatedAt")?,
            id: text(stored, "id")?,
        })
    }
}

/// What to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullPlan {
    /// Wire table name.
    pub table: String,
    /// Scope column, e.g. `band_id`.
    pub scope_column: String,
    /// The scope value (the band's id).
    pub scope: String,
    /// Rows per page.
    pub page_size: usize,
    /// How far before the cursor each pull starts, in milliseconds.
    pub overlap_ms: u64,
}

impl PullPlan {
    /// The first page: everything since the cursor minus the overlap (all rows without one).
    /// It asks for the count of every row to read (`Content-Range: 0-999/<total>`, see
    /// [`total_in`]), so a long pull can report its progress.
    pub fn first_page(&self, cursor: Option<&Cursor>) -> HttpRequest {
        let since = cursor.and_then(|c| shift_timestamp(&c.updated_at, self.overlap_ms));
        let filter = since.map(|ts| format!("&updated_at=gte.{}", percent_encode(&ts)));
        let mut request = self.request(filter.as_deref().unwrap_or(""), self.page_size);
        request.prefer = "count=exact";
        request
    }

    /// Only the count of all the table's rows of the scope, no rows: a band's first pull asks
    /// every table first, so its progress has the whole total from the start.
    pub fn count_request(&self) -> HttpRequest {
        let mut request = self.request("", 0);
        request.prefer = "count=exact";
        request
    }

    /// The page after one that ended at `last` (keyset pagination: rows sharing a timestamp
    /// are never skipped or read forever).
    pub fn next_page(&self, last: &Cursor) -> HttpRequest {
        let ts = percent_encode(&last.updated_at);
        let id = percent_encode(&last.id);
        self.request(
            &format!("&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{id}))"),
            self.page_size,
        )
    }

    fn request(&self, extra: &str, limit: usize) -> HttpRequest {
        HttpRequest {
            method: "GET",
            path: format!(
                "/rest/v1/{}?select=*&{}=eq.{}{extra}&order=updated_at.asc,id.asc&limit={}",
                self.table,
                self.scope_column,
                percent_encode(&self.scope),
                limit
            ),
            prefer: "",
            body: None,
        }
    }

    /// Whether a page of `rows` rows was the last.
    pub fn is_last_page(&self, rows: usize) -> bool {
        rows < self.page_size
    }
}

/// The total of a counted answer's `Content-Range` (`0-999/5000`, `*/0`); `None` when the
/// server did not count (`*`) or the header is malformed.
pub fn total_in(content_range: &str) -> Option<u64> {
    crate::decimal(content_range.rsplit_once('/')?.1.trim_ascii())
}

/// How far a band's pull has come: rows read of the rows expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PullProgress {
    /// Rows read so far.
    pub done: u64,
    /// Rows expected in all, as the server counted them.
    pub total: u64,
}

impl WriteJson for PullProgress {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("done", &self.done)
            .field("total", &self.total)
            .end();
    }
}

impl PullProgress {
    /// `rows` more are expected (a table's count).
    pub fn expect(&mut self, rows: u64) {
        self.total += rows;
    }

    /// A page of `rows` was read. Rows written during the pull may make it more than counted:
    /// the total follows, never falling behind what was done.
    pub fn read(&mut self, rows: u64) {
        self.done += rows;
        self.total = self.total.max(self.done);
    }

    /// The pull ended with every table read: it ends at its total.
    pub fn finish(&mut self) {
        self.done = self.total.max(self.done);
        self.total = self.done;
    }
}

/// The cursor after a page: its last row.
pub fn cursor_after(rows: &[Map<String, Value>]) -> Option<Cursor> {
    let last = rows.last()?;
    Some(Cursor {
        updated_at: last.get("updated_at")?.as_str()?.to_owned(),
        id: last.get("id")?.as_str()?.to_owned(),
    })
}

/// `timestamp` minus `ms`, as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; `None` if it does not parse.
pub fn shift_timestamp(timestamp: &str, ms: u64) -> Option<String> {
    let shift = i64::try_from(ms).ok()?.checked_mul(1000)?;
    let micros = parse_micros(timestamp)?.checked_sub(shift)?;
    Some(format_micros(micros))
}

/// Microseconds since the Unix epoch of an RFC 3339 timestamp as PostgreSQL writes them
/// (`2026-11-23T11:47:31.590241+00:00`, `… 11:47:31Z`, a space instead of `T`, `+00`).
pub fn parse_micros(text: &str) -> Option<i64> {
    // Each field is digits alone: a sign or a space in a date is no date.
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let field = text.get(range)?;
        field
            .bytes()
            .all(|byte| byte.is_ascii_digit())
            .then_some(())?;
        i64::try_from(crate::decimal(field)?).ok()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = text.get(19..)?;
    let mut fraction = 0i64;
    if let Some(digits) = rest.strip_prefix('.') {
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        // Microseconds: the first six digits, as many zeros after them as are missing.
        for at in 0..6 {
            let digit = digits.as_bytes().get(at).filter(|_| at < end);
            fraction = fraction * 10 + digit.map_or(0, |digit| i64::from(digit - b'0'));
        }
        rest = ascii_bounded(digits, end..);
    }
    let offset_seconds = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            // The digits after the sign. Read by bytes: a sign of more than one byte (the text
            // comes from outside) leaves only bytes of 0x80 and up, which are no digits.
            let mut digits = String::new();
            for byte in rest.bytes().skip(1) {
                if byte.is_ascii_digit() {
                    digits.push(char::from(byte));
                }
            }
            let hours = crate::decimal(digits.get(0..2)?)? as i64;
            let minutes = digits.get(2..4).map_or(Some(0), crate::decimal)? as i64;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1_000_000 + fraction)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_micros(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::variants;
    use crate::value::json;

    #[test]
    fn a_stored_cursor_reads_as_the_derived_reader_read_it() {
        let cursor = Cursor {
            updated_at: "2026-12-03T01:00:00.123456Z".into(),
            id: "s1".into(),
        };
        let stored = crate::json_text::json_value(&cursor);
        for (shape, value) in variants(&stored) {
            let derived = serde_json::from_value::<Cursor>(value.clone().into()).ok();
            assert_eq!(Cursor::from_json(&value), derived, "{shape}: {value}");
        }
        assert_eq!(Cursor::from_json(&stored), Some(cursor));
    }

    fn plan() -> PullPlan {
        PullPlan {
            table: "songs".into(),
            scope_column: "band_id".into(),
            scope: "b1".into(),
            page_size: 500,
            overlap_ms: 5_000,
        }
    }

    #[test]
    fn timestamps_parse_in_every_form_postgres_writes() {
        let base = parse_micros("2026-11-23T11:47:31.590241+00:00").unwrap();
        assert_eq!(parse_micros("2026-11-23 11:47:31.590241+00").unwrap(), base);
        assert_eq!(
            parse_micros("2026-11-23T12:47:31.590241+01:00").unwrap(),
            base
        );
        assert_eq!(parse_micros("2026-11-23T11:47:31.590241Z").unwrap(), base);
        assert_eq!(
            parse_micros("2026-11-23T10:17:31.590241-01:30").unwrap(),
            base
        );
        assert_eq!(parse_micros("2026-11-23T11:47:31.59Z").unwrap(), base - 241);
        assert_eq!(format_micros(base), "2026-11-23T11:47:31.590241Z");
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_micros("2024-02-29T00:00:00Z")
                .map(format_micros)
                .unwrap(),
            "2024-02-29T00:00:00.000000Z"
        );
        assert_eq!(parse_micros("garbage"), None);
        // A sign or a space inside a date's field is no number of it.
        assert_eq!(parse_micros("2026-+1-23T11:47:31Z"), None);
        assert_eq!(parse_micros("2026-11-23T 1:47:31Z"), None);
        assert_eq!(
            parse_micros("2026-11-23T11:47:31.123456789Z"),
            Some(base + 123_456 - 590_241)
        );
    }

    #[test]
    fn text_from_outside_never_panics_the_timestamp_parser() {
        // Multi-byte characters where an offset or fraction would be.
        for text in [
            "2026-11-23T11:47:31é",
            "2026-11-23T11:47:31.5é",
            "2026-11-23T11:47:31+é1",
            "2026-11-23T11:47:3",
            "2026-11-23T11:47:3é",
            "ü026-11-23T11:47:31Z",
            "",
        ] {
            let _ = parse_micros(text);
            let _ = shift_timestamp(text, 2_000);
        }
        assert_eq!(parse_micros("2026-11-23T11:47:31é"), None);
    }

    #[test]
    fn pulls_start_an_overlap_before_the_cursor_and_page_by_keyset() {
        let cursor = Cursor {
            updated_at: "2026-01-01T00:00:03.000000+00:00".into(),
            id: "s9".into(),
        };
        let first = plan().first_page(Some(&cursor));
        assert_eq!(
            first.path,
            "/rest/v1/songs?select=*&band_id=eq.b1&updated_at=gte.2025-12-31T23%3A59%3A58.000000Z&order=updated_at.asc,id.asc&limit=500"
        );
        assert!(!plan().first_page(None).path.contains("updated_at=gte"));
        assert_eq!(
            first.prefer, "count=exact",
            "the first page counts what is to come"
        );
        let count = plan().count_request();
        assert!(count.path.ends_with("&limit=0") && count.prefer == "count=exact");
        let next = plan().next_page(&cursor);
        assert_eq!(next.prefer, "", "later pages do not count again");
        assert!(next.path.contains("&or=(updated_at.gt.2026-01-01T00%3A00%3A03.000000%2B00%3A00,and(updated_at.eq.2026-01-01T00%3A00%3A03.000000%2B00%3A00,id.gt.s9))"), "{}", next.path);
        let rows = vec![
            json!({"id": "a", "updated_at": "t1"})
                .as_object()
                .unwrap()
                .clone(),
            json!({"id": "b", "updated_at": "t2"})
                .as_object()
                .unwrap()
                .clone(),
        ];
        assert_eq!(
            cursor_after(&rows),
            Some(Cursor {
                updated_at: "t2".into(),
                id: "b".into()
            })
        );
        assert!(plan().is_last_page(499));
        assert!(!plan().is_last_page(500));
    }

    #[test]
    fn progress_reads_the_servers_count_and_ends_at_its_total() {
        assert_eq!(total_in("0-999/5000"), Some(5000));
        assert_eq!(total_in("*/0"), Some(0));
        assert_eq!(total_in("0-9/*"), None);
        assert_eq!(total_in("garbage"), None);
        let mut progress = PullProgress::default();
        progress.expect(2_500);
        progress.expect(10);
        progress.read(1_000);
        assert_eq!(
            progress,
            PullProgress {
                done: 1_000,
                total: 2_510
            }
        );
        progress.read(1_000);
        progress.read(520);
        assert_eq!(
            progress.total, 2_520,
            "rows written meanwhile raise the total"
        );
        progress.finish();
        assert_eq!(
            progress,
            PullProgress {
                done: 2_520,
                total: 2_520
            }
        );
        let mut short = PullProgress {
            done: 90,
            total: 100,
        };
        short.finish();
        assert_eq!(
            short,
            PullProgress {
                done: 100,
                total: 100
            }
        );
    }
}
