//! The channel half of the engine: what each received frame means.

use super::engine::Realtime;
use super::event::{CatchUpReason, ChannelState, Event, ProtocolError, PushKind};
use super::frame::Frame;
use super::messages::{
    binding_ids, Broadcast, ChannelErrorCause, PayloadError, PostgresChange, Reply, SystemMessage,
};
use super::received::Received;
use super::routed::RoutedFrame;
use crate::Millis;

impl Realtime {
    pub(super) fn on_text(&mut self, now: Millis, text: &str) {
        let frame = match Received::decode(text, self.config.vsn, self.config.max_frame_bytes) {
            Ok(Received::Change {
                join_ref,
                topic,
                change,
            }) => {
                if self.is_current(&topic, join_ref.as_deref()) {
                    let result = change.map(|change| self.on_change(change));
                    self.report(topic, result);
                }
                return;
            }
            Ok(Received::Frame(frame)) => frame,
            Err(error) => return self.emit(Event::ProtocolError(ProtocolError::Frame(error))),
        };
        if frame.topic == "phoenix" {
            if frame.event == "phx_reply" {
                self.on_heartbeat_reply(now, frame.msg_ref.as_deref());
            }
            return;
        }
        if !self.is_current(&frame.topic, frame.join_ref.as_deref()) {
            return;
        }
        let result = match frame.event.as_str() {
            "phx_reply" => self.on_reply(now, &frame),
            "phx_close" => {
                self.on_close(&frame.topic);
                Ok(())
            }
            "phx_error" => {
                self.on_channel_error(now, &frame.topic);
                Ok(())
            }
            "system" => self.on_system(now, &frame),
            "presence_state" | "presence_diff" => self.on_presence(&frame),
            "broadcast" => Broadcast::parse(&frame.payload)
                .and_then(|message| self.on_broadcast(&frame.topic, message)),
            // Unknown events (newer servers add some) are not errors.
            _ => Ok(()),
        };
        self.report(frame.topic, result);
    }

    /// A row change the driver read itself: routed as the same change read from text.
    pub(super) fn on_routed(&mut self, frame: RoutedFrame) {
        let RoutedFrame {
            join_ref,
            change,
            broadcast,
        } = frame;
        let topic = change.topic.clone();
        if !self.is_current(&topic, join_ref.as_deref()) {
            return;
        }
        let Some((event, message)) = broadcast else {
            return self.on_change(change);
        };
        // The driver read the row's `updated_at` into the commit time.
        if self.channels[&*topic].config.database_broadcasts {
            return self.emit(Event::Change(change));
        }
        // The application's own message, in a change's shape: handed over whole.
        let payload = crate::json_read::parse(&message.json()).unwrap_or(crate::value::Value::Null);
        self.emit(Event::Broadcast {
            topic: topic.to_string(),
            message: Broadcast { event, payload },
        });
    }

    /// Whether a frame for `topic` belongs to the channel's current join. Frames for channels
    /// already left or never joined, and replies, closes and errors of an earlier join of the
    /// topic, are stale.
    fn is_current(&self, topic: &str, join_ref: Option<&str>) -> bool {
        let Some(channel) = self.channels.get(topic) else {
            return false;
        };
        join_ref.is_none() || join_ref == channel.join_ref.as_deref()
    }

    fn report(&mut self, topic: String, result: Result<(), PayloadError>) {
        if let Err(error) = result {
            self.emit(Event::ProtocolError(ProtocolError::Payload {
                topic,
                error,
            }));
        }
    }

    fn on_reply(&mut self, now: Millis, frame: &Frame) -> Result<(), PayloadError> {
        let reply = Reply::parse(&frame.payload)?;
        let Some(msg_ref) = frame.msg_ref.as_deref() else {
            return Ok(());
        };
        let Some(push) = self.pending.remove(msg_ref) else {
            // A reply after its push timed out, or to an untracked push.
            if let Reply::Error(reason) = reply {
                if reason == "unmatched topic" {
                    self.channel_failed(now, &frame.topic, ChannelErrorCause::UnmatchedTopic);
                }
            }
            return Ok(());
        };
        let topic = &frame.topic;
        match (push.kind, reply) {
            (PushKind::Join, Reply::Ok(response)) => {
                let channel = self
                    .channels
                    .get(topic)
                    .expect("pending pushes have channels");
                match binding_ids(&response, &channel.config.postgres_changes) {
                    Ok(ids) => {
                        let channel = self.channels.get_mut(topic).expect("checked above");
                        channel.binding_ids = ids;
                        channel.rejoin_attempt = 0;
                        // Database broadcasts flow from the accepted join on: nothing else
                        // will say so, and what was written before must be pulled.
                        let flowing = channel.config.database_broadcasts
                            && channel.config.postgres_changes.is_empty();
                        self.set_channel_state(topic, ChannelState::Joined);
                        if flowing {
                            self.set_channel_state(topic, ChannelState::Subscribed);
                            self.catch_up(topic, CatchUpReason::Subscribed);
                        }
                    }
                    Err(cause) => self.channel_failed(now, topic, cause),
                }
            }
            (PushKind::Join, Reply::Error(reason)) => {
                self.channel_failed(now, topic, ChannelErrorCause::from_reason(&reason))
            }
            (PushKind::Leave, _) => self.remove_channel(topic),
            (_, Reply::Error(reason)) if reason == "unmatched topic" => {
                self.channel_failed(now, topic, ChannelErrorCause::UnmatchedTopic)
            }
            (kind, Reply::Error(reason)) => self.emit(Event::PushFailed {
                topic: topic.clone(),
                kind,
                reason,
            }),
            (_, Reply::Ok(_)) => {}
        }
        Ok(())
    }

    fn on_close(&mut self, topic: &str) {
        match self.channels.get(topic).map(|c| c.state) {
            // Already handled by the system error that announced this close.
            Some(ChannelState::AwaitingToken | ChannelState::Errored | ChannelState::Failed) => {}
            _ => self.remove_channel(topic),
        }
    }

    fn on_channel_error(&mut self, now: Millis, topic: &str) {
        let cause = ChannelErrorCause::Server("channel crashed (phx_error)".into());
        self.channel_failed(now, topic, cause);
    }

    fn on_system(&mut self, now: Millis, frame: &Frame) -> Result<(), PayloadError> {
        let system = SystemMessage::parse(&frame.payload)?;
        let topic = &frame.topic;
        match (system.extension.as_str(), system.ok) {
            // Only this message means changes flow; writes before it were not delivered.
            ("postgres_changes", true)
                if self.channel_state(topic) == Some(ChannelState::Joined) =>
            {
                self.set_channel_state(topic, ChannelState::Subscribed);
                self.catch_up(topic, CatchUpReason::Subscribed);
            }
            ("postgres_changes", false) => {
                let cause = ChannelErrorCause::PostgresChanges(system.message);
                self.channel_failed(now, topic, cause);
            }
            ("system", false) => {
                // `from_reason` knows an expired token by its words too.
                let cause = match ChannelErrorCause::from_reason(&system.message) {
                    ChannelErrorCause::UnmatchedTopic => ChannelErrorCause::Server(system.message),
                    cause => cause,
                };
                self.channel_failed(now, topic, cause);
            }
            _ => {}
        }
        Ok(())
    }

    fn on_change(&mut self, change: PostgresChange) {
        let channel = &self.channels[&*change.topic];
        let wanted = channel
            .config
            .postgres_changes
            .iter()
            .zip(&channel.binding_ids)
            .any(|(binding, &id)| change.matches(binding, id));
        if wanted {
            self.emit(Event::Change(change));
        }
    }

    /// A broadcast is a row change when the channel receives database broadcasts and the
    /// message has a change's shape; anything else is the application's own message.
    fn on_broadcast(&mut self, topic: &str, message: Broadcast) -> Result<(), PayloadError> {
        let database = self.channels[topic].config.database_broadcasts;
        match database
            .then(|| PostgresChange::from_database_broadcast(topic, &message))
            .flatten()
        {
            Some(change) => self.emit(Event::Change(change?)),
            None => self.emit(Event::Broadcast {
                topic: topic.to_owned(),
                message,
            }),
        }
        Ok(())
    }

    fn on_presence(&mut self, frame: &Frame) -> Result<(), PayloadError> {
        let channel = self
            .channels
            .get_mut(&frame.topic)
            .expect("caller checked the channel exists");
        let diff = if frame.event == "presence_state" {
            channel.presence.apply_state(&frame.payload)?;
            None
        } else {
            Some(channel.presence.apply_diff(&frame.payload)?)
        };
        let state = channel.presence.clone();
        self.emit(Event::Presence {
            topic: frame.topic.clone(),
            state,
            diff,
        });
        Ok(())
    }
}
