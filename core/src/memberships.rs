//! The user's bands, read from the memberships the server returns.
//!
//! An answer that cannot be read is an error to retry, never "member of no band": reading it
//! as empty once made a tab stop following every band for good and purge their rows.

use crate::sorted::SortedSet;
use crate::value::Value;

/// Why a memberships answer was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipsError {
    /// Not a JSON array of objects.
    Unreadable(String),
    /// A row without a text `band_id`.
    MissingBand,
}

impl std::fmt::Display for MembershipsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MembershipsError::Unreadable(why) => write!(f, "unreadable memberships answer: {why}"),
            MembershipsError::MissingBand => f.write_str("a membership without a band_id"),
        }
    }
}

/// The bands of a `band_memberships?select=band_id&…` answer (a 200's body).
pub fn bands_of(body: &str) -> Result<SortedSet<String>, MembershipsError> {
    let rows = crate::fields::array(body).map_err(MembershipsError::Unreadable)?;
    let mut bands = SortedSet::new();
    for row in &rows {
        let band = row.get("band_id").and_then(Value::as_str);
        bands.insert(band.ok_or(MembershipsError::MissingBand)?.to_owned());
    }
    Ok(bands)
}

/// What to do about the bands followed now, given the bands the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BandChanges {
    /// Bands to start following.
    pub joined: Vec<String>,
    /// Bands to leave (the server says the user is no longer a member).
    pub left: Vec<String>,
}

/// Compares the bands followed with the bands the server lists.
pub fn reconcile(following: &SortedSet<String>, member_of: &SortedSet<String>) -> BandChanges {
    let missing = |set: &SortedSet<String>, other: &SortedSet<String>| {
        let mut missing = Vec::new();
        for band in set {
            if !other.contains(band.as_str()) {
                missing.push(band.clone());
            }
        }
        missing
    };
    BandChanges {
        joined: missing(member_of, following),
        left: missing(following, member_of),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> SortedSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_answer_listing_bands_is_read_exactly() {
        let body = r#"[{"band_id":"b1"},{"band_id":"b2"}]"#;
        assert_eq!(bands_of(body), Ok(set(&["b1", "b2"])));
        assert_eq!(
            bands_of("[]"),
            Ok(set(&[])),
            "a real empty answer: no bands"
        );
    }

    #[test]
    fn an_unreadable_answer_is_an_error_never_no_bands() {
        for body in [
            "",
            "<html>502 Bad Gateway</html>",
            "{\"message\":\"x\"}",
            "[{\"band_id\":",
        ] {
            assert!(
                matches!(bands_of(body), Err(MembershipsError::Unreadable(_))),
                "{body:?}"
            );
        }
        assert_eq!(
            bands_of(r#"[{"band_id":"b1"},{"role":"member"}]"#),
            Err(MembershipsError::MissingBand)
        );
    }

    #[test]
    fn reconciling_names_bands_joined_and_left() {
        let changes = reconcile(&set(&["b1", "b2"]), &set(&["b2", "b3"]));
        assert_eq!(changes.joined, ["b3"]);
        assert_eq!(changes.left, ["b1"]);
        assert_eq!(
            reconcile(&set(&["b1"]), &set(&["b1"])),
            BandChanges::default()
        );
    }
}
