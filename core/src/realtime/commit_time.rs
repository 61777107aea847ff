//! [`CommitTime`]: when a change committed, as the server wrote it.
//!
//! The engine reads a change's commit time only now and then (to report when a change arrived,
//! or to write a change event as text); most changes go to storage and listeners without it.
//! A driver that parses frames itself keeps the time where its parser put it and hands over a
//! [`HeldCommitTime`]: copying a short string into the engine for every change costs more than
//! the rest of routing it.

use crate::json_text::{write_str, WriteJson};
use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

/// A commit time a driver holds in its own memory, read when asked.
pub trait HeldCommitTime: fmt::Debug {
    /// The time's text (`YYYY-MM-DDTHH:MM:SS.mmmZ`; empty when the frame had none).
    fn text(&self) -> String;
}

/// A change's commit time, `YYYY-MM-DDTHH:MM:SS.mmmZ` (empty when the frame had none): its
/// text, or read from the driver that holds it. Two are equal when their texts are.
#[derive(Clone, Default)]
pub struct CommitTime(Repr);

#[derive(Clone)]
enum Repr {
    Text(Box<str>),
    Held(Rc<dyn HeldCommitTime>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Text(Box::from(""))
    }
}

impl CommitTime {
    /// A time the driver holds, read when asked.
    pub fn held(time: Rc<dyn HeldCommitTime>) -> CommitTime {
        CommitTime(Repr::Held(time))
    }

    /// The time's text (a held time is read from its driver on each call).
    pub fn text(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Text(text) => Cow::Borrowed(text),
            Repr::Held(time) => Cow::Owned(time.text()),
        }
    }

    /// The driver's time, when a driver holds it.
    pub fn as_held(&self) -> Option<&Rc<dyn HeldCommitTime>> {
        match &self.0 {
            Repr::Held(time) => Some(time),
            Repr::Text(_) => None,
        }
    }
}

impl From<String> for CommitTime {
    fn from(text: String) -> Self {
        CommitTime(Repr::Text(text.into()))
    }
}

impl From<&str> for CommitTime {
    fn from(text: &str) -> Self {
        CommitTime(Repr::Text(text.into()))
    }
}

impl PartialEq for CommitTime {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for CommitTime {}

impl PartialEq<&str> for CommitTime {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

impl fmt::Debug for CommitTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text(), f)
    }
}

impl WriteJson for CommitTime {
    fn write_json(&self, out: &mut String) {
        write_str(out, &self.text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug, Default)]
    struct Counted(Cell<usize>);

    impl HeldCommitTime for Counted {
        fn text(&self) -> String {
            self.0.set(self.0.get() + 1);
            "2026-11-23T10:00:00.000Z".to_owned()
        }
    }

    #[test]
    fn a_held_time_is_read_only_when_asked_and_equals_its_text() {
        let driver = Rc::new(Counted::default());
        let held = CommitTime::held(driver.clone());
        let copy = held.clone();
        assert_eq!(driver.0.get(), 0, "made and copied without reading");
        assert!(held.as_held().is_some() && CommitTime::from("x").as_held().is_none());
        assert_eq!(copy, CommitTime::from("2026-11-23T10:00:00.000Z"));
        assert_eq!(held, "2026-11-23T10:00:00.000Z");
        assert_ne!(held, CommitTime::default());
        assert_eq!(
            crate::json_text::json_text(&held),
            r#""2026-11-23T10:00:00.000Z""#
        );
        assert_eq!(driver.0.get(), 4);
    }
}
