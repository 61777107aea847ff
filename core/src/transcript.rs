//! Replays a recorded Realtime session against the engine and checks every output.
//!
//! A transcript is plain text, one step per line, so the same file runs natively under
//! `cargo test` and inside WebAssembly in a browser. Time is simulated: `at 25000` jumps the clock
//! to 25 s, firing every timer due on the way, so a session of minutes replays in microseconds.
//!
//! ```text
//! # comment
//! config heartbeat=25000 seed=7      settings, before the first step (see `apply_setting`)
//! connect | disconnect | retry | online | offline | visible | hidden
//! token <jwt>
//! join <name> <channel config JSON>   leave <topic>
//! track <topic> <meta JSON>   untrack <topic>   broadcast <topic> <event> <payload JSON>
//! opened <socket>   closed <socket> <code> [reason]
//! recv <socket> <frame text>   recv-binary <socket> <len>
//! at <ms>                             advance the clock, running due timers
//! expect <output>                     the next output, rendered by `describe`
//! next-timeout <ms>|none              what poll_timeout says
//! ```
//!
//! Every output must be expected, in order: an output no `expect` consumed before the next step
//! fails the transcript. `expect send` lines compare JSON by value; everything else compares the
//! rendered text, with JSON rendered canonically (sorted keys, no spaces).

use crate::realtime::{
    Broadcast, ChannelConfig, ConnectionState, Event, Input, Output, Realtime, RealtimeConfig,
    Recovery, SocketId, Vsn,
};
use crate::value::Value;
use crate::Millis;
use std::collections::VecDeque;
use std::fmt;

/// A transcript step that did not go as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptError {
    /// 1-based line number in the transcript.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for TranscriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TranscriptError {}

/// What a successful replay checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Steps executed.
    pub steps: usize,
    /// Outputs compared.
    pub outputs: usize,
    /// Simulated time at the end, in milliseconds.
    pub elapsed_ms: u64,
}

/// Replays `script`, returning what it checked or the first mismatch.
pub fn run(script: &str) -> Result<Summary, TranscriptError> {
    let mut replay = Replay {
        config: RealtimeConfig::new("ws://127.0.0.1:54321/realtime/v1", "anon"),
        seed: 1,
        engine: None,
        now: Millis(0),
        queue: VecDeque::new(),
        summary: Summary {
            steps: 0,
            outputs: 0,
            elapsed_ms: 0,
        },
    };
    let mut last_line = 0;
    for (index, raw) in script.lines().enumerate() {
        last_line = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        replay.step(line).map_err(|message| TranscriptError {
            line: index + 1,
            message,
        })?;
    }
    replay.check_drained().map_err(|message| TranscriptError {
        line: last_line,
        message,
    })?;
    replay.summary.elapsed_ms = replay.now.0;
    Ok(replay.summary)
}

struct Replay {
    config: RealtimeConfig,
    seed: u64,
    engine: Option<Realtime>,
    now: Millis,
    queue: VecDeque<Seen>,
    summary: Summary,
}

impl Replay {
    fn step(&mut self, line: &str) -> Result<(), String> {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match verb {
            "expect" => return self.expect(rest),
            "next-timeout" => return self.expect_timeout(rest),
            "config" => return self.configure(rest),
            _ => {}
        }
        self.check_drained()?;
        self.summary.steps += 1;
        let now = self.now;
        match verb {
            "connect" => self.engine().connect(now),
            "disconnect" => self.engine().disconnect(now),
            "retry" => self.engine().retry(now),
            "online" => self.engine().handle_input(now, Input::Online),
            "offline" => self.engine().handle_input(now, Input::Offline),
            "visible" => self.engine().handle_input(now, Input::Visible),
            "hidden" => self.engine().handle_input(now, Input::Hidden),
            "token" => self.engine().set_token(now, rest),
            "join" | "leave" | "track" | "untrack" | "broadcast" => {
                if let Some(refused) = self.channel_step(verb, rest)? {
                    self.queue.push_back(Seen::Refused(refused));
                }
            }
            "opened" | "closed" | "recv" | "recv-binary" => self.socket_step(verb, rest)?,
            "at" => {
                let target: u64 = rest.parse().map_err(|_| format!("bad time {rest:?}"))?;
                if target < now.0 {
                    return Err(format!("time goes backwards: {target} < {}", now.0));
                }
                self.advance(Millis(target))?;
            }
            _ => return Err(format!("unknown step {verb:?}")),
        }
        self.drain();
        Ok(())
    }

    /// A channel command; the engine's refusal, if it refuses (an expected output).
    fn channel_step(&mut self, verb: &str, rest: &str) -> Result<Option<String>, String> {
        let now = self.now;
        let engine = self.engine();
        let refused = |result: Result<(), String>| result.err();
        Ok(match verb {
            "join" => {
                let (name, json) = split_word(rest)?;
                let config = crate::json_read::parse(json)
                    .map_err(|e| e.to_string())
                    .and_then(|config| ChannelConfig::from_json(&config))
                    .map_err(|e| format!("bad channel config: {e}"))?;
                refused(
                    engine
                        .join(now, name, config)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                )
            }
            "leave" => {
                engine.leave(now, rest);
                None
            }
            "track" => {
                let (topic, json) = split_word(rest)?;
                refused(
                    engine
                        .track(now, topic, parse_json(json)?)
                        .map_err(|e| e.to_string()),
                )
            }
            "untrack" => refused(engine.untrack(now, rest).map_err(|e| e.to_string())),
            _ => {
                let (topic, rest) = split_word(rest)?;
                let (event, json) = split_word(rest)?;
                let message = Broadcast {
                    event: event.to_owned(),
                    payload: parse_json(json)?,
                };
                refused(
                    engine
                        .broadcast(now, topic, &message)
                        .map_err(|e| e.to_string()),
                )
            }
        })
    }

    /// What the socket did.
    fn socket_step(&mut self, verb: &str, rest: &str) -> Result<(), String> {
        let now = self.now;
        let engine = self.engine();
        match verb {
            "opened" => engine.handle_input(now, Input::Opened(parse_socket(rest)?)),
            "closed" => {
                let (socket, rest) = split_word(rest)?;
                let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                let code = code
                    .parse()
                    .map_err(|_| format!("bad close code {code:?}"))?;
                let socket = parse_socket(socket)?;
                engine.handle_input(
                    now,
                    Input::Closed {
                        socket,
                        code,
                        reason,
                    },
                );
            }
            "recv" => {
                let (socket, text) = split_word(rest)?;
                let socket = parse_socket(socket)?;
                engine.handle_input(now, Input::Text { socket, text });
            }
            _ => {
                let (socket, len) = split_word(rest)?;
                let socket = parse_socket(socket)?;
                let len = len.parse().map_err(|_| format!("bad length {len:?}"))?;
                engine.handle_input(now, Input::Binary { socket, len });
            }
        }
        Ok(())
    }

    fn engine(&mut self) -> &mut Realtime {
        let (config, seed) = (&self.config, self.seed);
        self.engine
            .get_or_insert_with(|| Realtime::new(config.clone(), seed))
    }

    fn advance(&mut self, target: Millis) -> Result<(), String> {
        for _ in 0..100_000 {
            let engine = self.engine.as_mut().expect("created by step");
            match engine.poll_timeout() {
                Some(due) if due <= target => {
                    self.now = due.max(self.now);
                    engine.handle_timeout(self.now);
                    while let Some(output) = engine.poll_output() {
                        self.queue.push_back(Seen::Output(output));
                    }
                }
                _ => {
                    self.now = target;
                    return Ok(());
                }
            }
        }
        Err("timers do not advance: handle_timeout left a due timeout in place".into())
    }

    fn drain(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            while let Some(output) = engine.poll_output() {
                self.queue.push_back(Seen::Output(output));
            }
        }
    }

    fn check_drained(&self) -> Result<(), String> {
        match self.queue.front() {
            None => Ok(()),
            Some(seen) => Err(format!("unexpected output: {}", seen.describe())),
        }
    }

    fn expect(&mut self, expected: &str) -> Result<(), String> {
        let Some(actual) = self.queue.pop_front() else {
            return Err(format!("expected `{expected}` but there was no output"));
        };
        self.summary.outputs += 1;
        let rendered = actual.describe();
        let matches = match (&actual, expected.strip_prefix("send ")) {
            (Seen::Output(Output::Send { socket, text }), Some(rest)) => {
                let (want_socket, want_json) = split_word(rest)?;
                let want: Value = parse_json(want_json)?;
                let got = crate::json_read::parse(text).map_err(|e| e.to_string())?;
                want_socket == socket.0.to_string() && want == got
            }
            _ => rendered == expected,
        };
        if matches {
            Ok(())
        } else {
            Err(format!(
                "expected `{expected}`\n           got `{rendered}`"
            ))
        }
    }

    fn expect_timeout(&mut self, expected: &str) -> Result<(), String> {
        let actual = self
            .engine
            .as_ref()
            .and_then(Realtime::poll_timeout)
            .map_or("none".to_owned(), |t| t.0.to_string());
        if actual == expected {
            Ok(())
        } else {
            Err(format!("expected next timeout {expected}, got {actual}"))
        }
    }

    fn configure(&mut self, settings: &str) -> Result<(), String> {
        if self.engine.is_some() {
            return Err("config must come before the first step".into());
        }
        for setting in settings.split_whitespace() {
            let (key, value) = setting
                .split_once('=')
                .ok_or(format!("setting {setting:?} is not key=value"))?;
            apply_setting(&mut self.config, &mut self.seed, key, value)?;
        }
        Ok(())
    }
}

/// Settings a transcript's `config` line may change.
fn apply_setting(
    config: &mut RealtimeConfig,
    seed: &mut u64,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let number = || {
        value
            .parse::<u64>()
            .map_err(|_| format!("{key} needs a number"))
    };
    match key {
        "endpoint" => config.endpoint = value.to_owned(),
        "apikey" => config.api_key = value.to_owned(),
        "vsn" => {
            config.vsn = match value {
                "1" | "1.0.0" => Vsn::V1,
                "2" | "2.0.0" => Vsn::V2,
                _ => return Err(format!("unknown vsn {value}")),
            }
        }
        "seed" => *seed = number()?,
        "heartbeat" => config.heartbeat_interval_ms = number()?,
        "push_timeout" => config.push_timeout_ms = number()?,
        "connect_timeout" => config.connect_timeout_ms = number()?,
        "max_attempts" => config.max_reconnect_attempts = number()? as u32,
        "reconnect_initial" => config.reconnect_backoff.initial_ms = number()?,
        "reconnect_max" => config.reconnect_backoff.max_ms = number()?,
        "rejoin_initial" => config.rejoin_backoff.initial_ms = number()?,
        "rejoin_max" => config.rejoin_backoff.max_ms = number()?,
        "max_channels" => config.max_channels = number()? as usize,
        "max_frame" => config.max_frame_bytes = number()? as usize,
        _ => return Err(format!("unknown setting {key}")),
    }
    Ok(())
}

/// What the replay saw: an engine output, or a command the engine refused (`refused: …`).
enum Seen {
    Output(Output),
    Refused(String),
}

impl Seen {
    fn describe(&self) -> String {
        match self {
            Seen::Output(output) => describe(output),
            Seen::Refused(why) => format!("refused: {why}"),
        }
    }
}

fn split_word(text: &str) -> Result<(&str, &str), String> {
    text.split_once(' ')
        .map(|(a, b)| (a, b.trim()))
        .ok_or(format!("expected two parts in {text:?}"))
}

fn parse_json(text: &str) -> Result<Value, String> {
    crate::json_read::parse(text).map_err(|e| format!("bad JSON {text:?}: {e}"))
}

fn parse_socket(text: &str) -> Result<SocketId, String> {
    text.parse()
        .map(SocketId)
        .map_err(|_| format!("bad socket id {text:?}"))
}

/// Renders an output as one transcript line (without the `expect ` prefix).
pub fn describe(output: &Output) -> String {
    match output {
        Output::Connect { socket, url } => format!("connect {} {url}", socket.0),
        Output::Send { socket, text } => format!("send {} {text}", socket.0),
        Output::Close {
            socket,
            code,
            reason,
        } => format!("close {} {code} {reason}", socket.0),
        Output::Event(event) => describe_event(event),
    }
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Connection(state) => match state {
            ConnectionState::Disconnected => "state disconnected".into(),
            ConnectionState::Connecting => "state connecting".into(),
            ConnectionState::Connected => "state connected".into(),
            ConnectionState::Offline => "state offline".into(),
            ConnectionState::Reconnecting { attempt, delay_ms } => {
                format!("state reconnecting attempt={attempt} delay={delay_ms}")
            }
            ConnectionState::Error { reason } => format!("state error {reason}"),
        },
        Event::Latency { ms } => format!("latency {ms}"),
        Event::Channel { topic, state } => format!("channel {topic} {}", state.as_str()),
        Event::CatchUp { topic, reason } => format!("catch-up {topic} {}", reason.as_str()),
        Event::ChannelError {
            topic,
            cause,
            recovery,
        } => {
            let recovery = match recovery {
                Recovery::NeedToken => "need-token",
                Recovery::Backoff => "backoff",
                Recovery::Stop => "stop",
            };
            format!("channel-error {topic} {cause} -> {recovery}")
        }
        Event::NeedToken => "need-token".into(),
        Event::Change(change) => {
            let object = |m: &Option<crate::realtime::Record>| {
                m.as_ref()
                    .map_or(Value::Null, |r| Value::Object(r.to_map()))
            };
            format!(
                "change {} {} {}.{} ids={:?} record={} old={} fetch={}",
                change.topic,
                change.kind.as_str(),
                change.schema,
                change.table,
                change.binding_ids,
                canonical(&object(&change.record)),
                canonical(&object(&change.old_record)),
                change.needs_fetch(),
            )
        }
        Event::Presence { topic, state, diff } => {
            let kind = if diff.is_some() { "diff" } else { "state" };
            format!("presence {topic} {kind} {}", canonical(&state.to_json()))
        }
        Event::Broadcast { topic, message } => format!(
            "broadcast {topic} {} {}",
            message.event,
            canonical(&message.payload)
        ),
        Event::PushFailed {
            topic,
            kind,
            reason,
        } => format!("push-failed {topic} {kind:?} {reason}"),
        Event::ProtocolError(error) => format!("protocol-error {error}"),
    }
}

/// JSON with object keys sorted at every level, whatever map type serde_json was built with.
pub fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}
