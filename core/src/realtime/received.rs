//! A received text frame, read as the engine reads it.
//!
//! Row changes are most of what a client receives; a browser driver reads them with the page's
//! own `JSON.parse` and hands the engine their routing fields only (`routed`). What reaches the
//! engine as text (any other frame, a change in an unusual shape, a native driver's frames) is
//! read here, from a JSON tree of the frame.

use super::frame::{Frame, FrameError, Vsn};
use super::messages::{PayloadError, PostgresChange};

/// A received text frame, decoded as the engine decodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A `postgres_changes` push.
    Change {
        /// As [`Frame::join_ref`].
        join_ref: Option<String>,
        /// As [`Frame::topic`].
        topic: String,
        /// The change, or what is wrong with its payload.
        change: Result<PostgresChange, PayloadError>,
    },
    /// Any other frame.
    Frame(Frame),
}

impl Received {
    /// Decodes a text frame received from the server: accepts what it can, and otherwise says
    /// precisely what is wrong.
    pub fn decode(text: &str, vsn: Vsn, max_len: usize) -> Result<Received, FrameError> {
        Frame::decode(text, vsn, max_len).map(Received::from)
    }
}

impl From<Frame> for Received {
    /// A frame decoded: a change's payload read from its JSON tree.
    fn from(frame: Frame) -> Received {
        if frame.event != "postgres_changes" {
            return Received::Frame(frame);
        }
        Received::Change {
            change: PostgresChange::parse(&frame.topic, &frame.payload),
            join_ref: frame.join_ref,
            topic: frame.topic,
        }
    }
}
