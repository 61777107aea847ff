//! The read engine driven natively against the simulation's server model and the in-memory
//! store: catch-up pulls, paging and cursors, failed and unreadable answers, local edits,
//! memberships, and changes from the socket.

#[allow(dead_code)]
#[path = "../sim/mod.rs"]
mod sim;

use rockon_sync_core::catchup::{format_micros, Cursor};
use rockon_sync_core::outbox::HttpResult;
use rockon_sync_core::realtime::{Input, SocketId};
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{
    cursor_key, ChangeDelivery, ChangeSource, MemoryStore, ReadCommand, ReadConfig, ReadEngine,
    ReadEvent, ReadInput, ReadOutput, ReadResult, SocketAction, StoreError, BATCH_CHANGES,
};
use rockon_sync_core::value::{json, Map, Value};
use rockon_sync_core::Millis;
use sim::server::Server;
use std::collections::BTreeMap;

const START_MICROS: i64 = 1_790_000_000_000_000;

/// A faulty answer the harness gives instead of the server's.
#[derive(Clone)]
enum Fault {
    Status(u16),
    Body(&'static str),
    NetworkError,
}

struct Harness {
    engine: ReadEngine,
    store: MemoryStore,
    server: Server,
    user: String,
    now: u64,
    events: Vec<ReadEvent>,
    requests: Vec<String>,
    sent: Vec<String>,
    socket: Option<SocketId>,
    local: Vec<(String, String)>,
    /// Requests whose path contains the key are answered with the fault.
    faults: Vec<(&'static str, Fault)>,
    failing_reads: bool,
}

fn song(id: &str, band: &str, title: &str, version: i64, at: i64) -> Map<String, Value> {
    let at = format_micros(START_MICROS + at);
    let row = json!({ "id": id, "band_id": band, "title": title, "version": version,
        "created_at": at, "updated_at": at, "deleted_at": null, "last_modified_by": "bob" });
    row.as_object().cloned().unwrap_or_default()
}

impl Harness {
    fn new(delivery: ChangeDelivery) -> Self {
        let schema = Schema::rockon();
        let scopes = schema.tables.iter();
        let scopes = scopes.map(|t| (t.name.clone(), t.scope.clone())).collect();
        let members = BTreeMap::from([
            ("b1".to_owned(), vec!["alice".to_owned(), "bob".to_owned()]),
            ("b2".to_owned(), vec!["bob".to_owned()]),
        ]);
        let config = ReadConfig {
            delivery,
            ..sim::outputs::read_config()
        };
        Self {
            engine: ReadEngine::new(config, schema, 7),
            store: MemoryStore::new(scopes),
            server: Server::new(members, START_MICROS + 10_000_000),
            user: "alice".into(),
            now: 0,
            events: Vec::new(),
            requests: Vec::new(),
            sent: Vec::new(),
            socket: None,
            local: Vec::new(),
            faults: Vec::new(),
            failing_reads: false,
        }
    }

    fn put(&mut self, row: Map<String, Value>) {
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        let songs = self.server.rows.entry("songs".into()).or_default();
        songs.insert(id, row);
    }

    fn input(&mut self, input: ReadInput<'_>) {
        let local = self.local.clone();
        let local = move |table: &str, id: &str| local.iter().any(|(t, i)| t == table && i == id);
        self.engine
            .handle(Millis(self.now), input, &local)
            .expect("the input is taken");
        self.run();
    }

    fn command(&mut self, command: ReadCommand) {
        self.input(ReadInput::Command(command));
    }

    /// Carries out every output, answering storage and HTTP at once, until none is left.
    fn run(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            let input = match output {
                ReadOutput::Read { op, read } => {
                    let result = match self.failing_reads {
                        true => Err(StoreError::Failed("refused".into())),
                        false => Ok(self.store.read(&read)),
                    };
                    ReadInput::Read { op, result }
                }
                ReadOutput::Apply { op, batch } => ReadInput::Applied {
                    op,
                    result: self.store.apply(&batch),
                },
                ReadOutput::Http { op, request } => {
                    self.requests.push(request.path.clone());
                    let fault = self
                        .faults
                        .iter()
                        .find(|(key, _)| request.path.contains(key));
                    let (result, total) = match fault.map(|(_, f)| f.clone()) {
                        Some(Fault::Status(status)) => (answer(status, "{}"), None),
                        Some(Fault::Body(body)) => (answer(200, body), None),
                        Some(Fault::NetworkError) => {
                            (HttpResult::NetworkError("offline".into()), None)
                        }
                        None => self.server.serve_counted(&self.user, &request),
                    };
                    ReadInput::Http { op, result, total }
                }
                ReadOutput::Socket(SocketAction::Connect { socket, .. }) => {
                    self.socket = Some(socket);
                    continue;
                }
                ReadOutput::Socket(SocketAction::Send { text, .. }) => {
                    self.sent.push(text);
                    continue;
                }
                ReadOutput::Socket(SocketAction::Close { .. }) => continue,
                ReadOutput::Event(event) => {
                    self.events.push(event);
                    continue;
                }
            };
            self.input(input);
        }
    }

    /// Moves time to the engine's next deadline and fires it.
    fn next_timeout(&mut self) {
        let at = self.engine.poll_timeout().expect("a deadline");
        self.now = self.now.max(at.0);
        let local = |_: &str, _: &str| false;
        self.engine.handle_timeout(Millis(self.now), &local);
        self.run();
    }

    fn stored_title(&self, id: &str) -> Option<String> {
        let row = self.store.row("songs", id)?;
        row.get("title")?.as_str().map(str::to_owned)
    }

    fn cursor(&self, band: &str) -> Option<Cursor> {
        self.store.cursors.get(&cursor_key("songs", band)).cloned()
    }

    fn synced(&self, band: &str) -> usize {
        let synced = |e: &&ReadEvent| matches!(e, ReadEvent::Synced { band: b } if b == band);
        self.events.iter().filter(synced).count()
    }

    fn errors(&self) -> Vec<&'static str> {
        let code = |e: &ReadEvent| match e {
            ReadEvent::Error { code, .. } => Some(*code),
            _ => None,
        };
        self.events.iter().filter_map(code).collect()
    }
}

fn answer(status: u16, body: &str) -> HttpResult {
    HttpResult::Response {
        status,
        body: body.into(),
    }
}

#[test]
fn a_first_download_counts_every_table_pages_and_saves_the_cursor_with_the_rows() {
    let mut h = Harness::new(ChangeDelivery::Broadcast);
    for i in 0..1500 {
        h.put(song(&format!("s{i:04}"), "b1", "tune", 1, i));
    }
    h.command(ReadCommand::Pull("b1".into()));
    let counts = h.requests.iter().filter(|p| p.contains("limit=0")).count();
    assert_eq!(counts, 4, "each table is counted first: {:?}", h.requests);
    let pages = h
        .requests
        .iter()
        .filter(|p| p.starts_with("/rest/v1/songs") && !p.contains("limit=0"));
    assert_eq!(pages.count(), 2, "1,500 rows come in two pages of 1,000");
    assert_eq!(h.store.rows["songs"].len(), 1500);
    assert_eq!(h.cursor("b1").map(|c| c.id), Some("s1499".to_owned()));
    let finished = h.events.iter().find_map(|e| match e {
        ReadEvent::Progress {
            progress,
            finished: true,
            ..
        } => Some(*progress),
        _ => None,
    });
    assert_eq!(finished.map(|p| (p.done, p.total)), Some((1500, 1500)));
    assert!(
        h.events
            .iter()
            .all(|e| !matches!(e, ReadEvent::Observed { quiet: false, .. })),
        "a first download is not news"
    );
    assert_eq!(h.synced("b1"), 1);

    // The next pull starts from the cursor (minus the overlap) and counts nothing first.
    h.requests.clear();
    h.events.clear();
    h.put(song("s0005", "b1", "renamed", 2, 5_000_000));
    h.command(ReadCommand::Pull("b1".into()));
    assert!(
        h.requests.iter().all(|p| !p.contains("limit=0")),
        "{:?}",
        h.requests
    );
    assert!(
        h.requests[0].contains("updated_at=gte."),
        "{}",
        h.requests[0]
    );
    assert_eq!(h.stored_title("s0005").as_deref(), Some("renamed"));
    let news = h
        .events
        .iter()
        .any(|e| matches!(e, ReadEvent::Observed { quiet: false, rows } if rows.len() == 1));
    assert!(news, "a later pull's change is news: {:?}", h.events);
    let change = h.events.iter().any(|e| matches!(e, ReadEvent::Change(c) if c.source == ChangeSource::Pull && c.ids == ["s0005"]));
    assert!(change);
}

#[test]
fn a_failed_or_unreadable_page_moves_no_cursor_and_is_never_an_empty_result() {
    for fault in [
        Fault::Status(503),
        Fault::NetworkError,
        Fault::Body("<html>oops</html>"),
        Fault::Body(r#"[{"title":"no id"}]"#),
    ] {
        let mut h = Harness::new(ChangeDelivery::Broadcast);
        h.put(song("s1", "b1", "one", 1, 0));
        h.faults
            .push(("songs?select=*&band_id=eq.b1&order", fault.clone()));
        h.command(ReadCommand::Pull("b1".into()));
        assert_eq!(h.cursor("b1"), None, "no cursor moves");
        assert_eq!(h.synced("b1"), 0, "the band is not synced");
        assert!(h.store.rows.get("songs").is_none_or(|r| r.is_empty()));
        if let Fault::Body(_) = fault {
            assert_eq!(h.errors(), ["unreadable_answer"]);
        }
        // The same pull once the server answers: the rows and the cursor arrive.
        h.faults.clear();
        h.command(ReadCommand::Pull("b1".into()));
        assert_eq!(h.stored_title("s1").as_deref(), Some("one"));
        assert_eq!(h.cursor("b1").map(|c| c.id), Some("s1".into()));
        assert_eq!(h.synced("b1"), 1);
    }
}

#[test]
fn a_storage_failure_ends_the_pull_with_an_error() {
    let mut h = Harness::new(ChangeDelivery::Broadcast);
    h.put(song("s1", "b1", "one", 1, 0));
    h.failing_reads = true;
    h.command(ReadCommand::Pull("b1".into()));
    assert_eq!(h.errors(), ["storage_failed"]);
    assert!(
        h.requests.is_empty(),
        "nothing is pulled without the cursors"
    );
    h.failing_reads = false;
    h.command(ReadCommand::Pull("b1".into()));
    assert_eq!(h.synced("b1"), 1, "the next pull runs");
}

#[test]
fn rows_with_local_edits_are_not_overwritten_by_a_pull() {
    let mut h = Harness::new(ChangeDelivery::Broadcast);
    h.put(song("s1", "b1", "theirs", 3, 0));
    h.put(song("s2", "b1", "other", 1, 1));
    h.local.push(("songs".into(), "s1".into()));
    h.command(ReadCommand::Pull("b1".into()));
    assert_eq!(h.stored_title("s1"), None, "the edited row is left alone");
    assert_eq!(h.stored_title("s2").as_deref(), Some("other"));
    assert_eq!(
        h.cursor("b1").map(|c| c.id),
        Some("s2".into()),
        "the cursor still moves"
    );
}

#[test]
fn a_pull_asked_for_during_a_pull_runs_once_after_it() {
    let mut h = Harness::new(ChangeDelivery::Broadcast);
    h.put(song("s1", "b1", "one", 1, 0));
    let local = |_: &str, _: &str| false;
    let pull = || ReadInput::Command(ReadCommand::Pull("b1".into()));
    h.engine.handle(Millis(0), pull(), &local).unwrap();
    h.engine.handle(Millis(0), pull(), &local).unwrap();
    h.engine.handle(Millis(0), pull(), &local).unwrap();
    h.run();
    assert_eq!(h.synced("b1"), 2, "one pull, and one more after it");
}

#[test]
fn memberships_decide_the_bands_and_a_failed_read_leaves_nothing() {
    let mut h = Harness::new(ChangeDelivery::Broadcast);
    h.command(ReadCommand::FollowUser("alice".into()));
    h.command(ReadCommand::FollowBand("b1".into()));
    h.command(ReadCommand::FollowBand("b2".into()));
    // The anti-entropy timer reads the memberships; the server is failing.
    h.faults.push(("band_memberships", Fault::Status(500)));
    h.next_timeout();
    assert_eq!(h.errors(), ["memberships_unavailable"]);
    assert!(
        h.events
            .iter()
            .all(|e| !matches!(e, ReadEvent::Bands { .. })),
        "nothing is left"
    );
    assert_eq!(h.engine.info().bands, ["b1", "b2"]);
    // An unreadable answer is no answer either.
    h.faults[0].1 = Fault::Body("not json");
    h.next_timeout();
    assert_eq!(h.engine.info().bands, ["b1", "b2"]);
    // The retry reads the server's answer: alice is in b1 only.
    h.faults.clear();
    h.next_timeout();
    let left = h.events.iter().find_map(|e| match e {
        ReadEvent::Bands { left, current, .. } => Some((left.clone(), current.clone())),
        _ => None,
    });
    assert_eq!(left, Some((vec!["b2".into()], vec!["b1".into()])));
    assert_eq!(h.engine.info().bands, ["b1"]);
}

#[test]
fn a_user_added_to_a_band_follows_it() {
    let mut h = Harness::new(ChangeDelivery::Broadcast);
    h.user = "bob".into();
    h.command(ReadCommand::FollowUser("bob".into()));
    h.next_timeout();
    assert_eq!(h.engine.info().bands, ["b1", "b2"]);
    let joined = h
        .events
        .iter()
        .any(|e| matches!(e, ReadEvent::Bands { joined, .. } if joined.len() == 2));
    assert!(joined);
}

/// Joins `band:b1` over a connected socket with `postgres_changes` bindings for every table.
fn subscribed(h: &mut Harness) -> SocketId {
    h.command(ReadCommand::SetToken("jwt".into()));
    h.command(ReadCommand::FollowBand("b1".into()));
    h.command(ReadCommand::Connect);
    let socket = h.socket.expect("a socket");
    h.input(ReadInput::Socket(Input::Opened(socket)));
    let join: Value = h
        .sent
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .find(|f: &Value| f[3] == "phx_join" && f[2] == "realtime:band:b1")
        .expect("a join");
    let bindings = join[4]["config"]["postgres_changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let with_ids: Vec<Value> = bindings
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut b = b.clone();
            b["id"] = json!(100 + i);
            b
        })
        .collect();
    let reply = json!([join[0], join[1], "realtime:band:b1", "phx_reply",
        { "status": "ok", "response": { "postgres_changes": with_ids } }]);
    h.input(ReadInput::Socket(Input::Text {
        socket,
        text: &reply.to_string(),
    }));
    let ok = json!([null, null, "realtime:band:b1", "system",
        { "extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL",
          "channel": "band:b1" }]);
    h.input(ReadInput::Socket(Input::Text {
        socket,
        text: &ok.to_string(),
    }));
    socket
}

fn change_frame(kind: &str, row: &Map<String, Value>) -> String {
    json!([null, null, "realtime:band:b1", "postgres_changes", { "ids": [100], "data": {
        "schema": "public", "table": "songs", "commit_timestamp": "2026-12-01T10:00:00.000Z",
        "type": kind, "columns": [], "record": row, "old_record": { "id": row["id"] },
        "errors": null } }])
    .to_string()
}

#[test]
fn changes_from_the_socket_are_stored_newest_version_first_and_told_once() {
    let mut h = Harness::new(ChangeDelivery::PostgresChanges);
    h.put(song("s1", "b1", "one", 1, 0));
    let socket = subscribed(&mut h);
    assert_eq!(h.synced("b1"), 1, "subscribing pulls");
    h.events.clear();
    let newer = song("s1", "b1", "two", 2, 10);
    let echo = song("s1", "b1", "stale", 1, 0);
    for row in [&newer, &echo] {
        let frame = change_frame("UPDATE", row);
        h.input(ReadInput::Socket(Input::Text {
            socket,
            text: &frame,
        }));
    }
    assert_eq!(
        h.stored_title("s1").as_deref(),
        Some("two"),
        "an older version loses"
    );
    let remote: Vec<_> = h
        .events
        .iter()
        .filter(|e| matches!(e, ReadEvent::Change(c) if c.source == ChangeSource::Remote))
        .collect();
    assert_eq!(
        remote.len(),
        1,
        "only the newer version is a change: {:?}",
        h.events
    );

    // A change to a row with local edits is skipped; a delete removes the row.
    h.events.clear();
    h.local.push(("songs".into(), "s1".into()));
    let frame = change_frame("UPDATE", &song("s1", "b1", "three", 3, 20));
    h.input(ReadInput::Socket(Input::Text {
        socket,
        text: &frame,
    }));
    assert_eq!(h.stored_title("s1").as_deref(), Some("two"));
    assert!(h.events.iter().all(|e| !matches!(e, ReadEvent::Change(_))));
    h.local.clear();
    let frame = change_frame("DELETE", &song("s1", "b1", "", 4, 30));
    h.input(ReadInput::Socket(Input::Text {
        socket,
        text: &frame,
    }));
    assert_eq!(h.stored_title("s1"), None);
}

#[test]
fn changes_arriving_while_a_batch_is_stored_go_into_the_next_batch() {
    let mut h = Harness::new(ChangeDelivery::PostgresChanges);
    let socket = subscribed(&mut h);
    let local = |_: &str, _: &str| false;
    let mut applies = Vec::new();
    for i in 0..5 {
        let frame = change_frame("INSERT", &song(&format!("n{i}"), "b1", "new", 1, i));
        let input = ReadInput::Socket(Input::Text {
            socket,
            text: &frame,
        });
        h.engine.handle(Millis(0), input, &local).unwrap();
        while let Some(output) = h.engine.poll_output() {
            if let ReadOutput::Apply { op, batch } = output {
                applies.push((op, batch));
            }
        }
    }
    assert_eq!(applies.len(), 1, "one batch in flight at a time");
    let (op, batch) = applies.remove(0);
    let result = h.store.apply(&batch);
    h.input(ReadInput::Applied { op, result });
    assert_eq!(
        h.store.rows["songs"].len(),
        5,
        "the other four went in one more batch"
    );
    let _ = ReadResult::Cursors(Vec::new());
}

#[test]
fn a_burst_is_stored_in_batches_no_larger_than_the_limit() {
    let mut h = Harness::new(ChangeDelivery::PostgresChanges);
    let socket = subscribed(&mut h);
    let local = |_: &str, _: &str| false;
    let burst = 2 * BATCH_CHANGES + 90;
    let mut applies = std::collections::VecDeque::new();
    let drain = |engine: &mut ReadEngine, applies: &mut std::collections::VecDeque<_>| {
        while let Some(output) = engine.poll_output() {
            if let ReadOutput::Apply { op, batch } = output {
                applies.push_back((op, batch));
            }
        }
    };
    for i in 0..burst {
        let frame = change_frame(
            "INSERT",
            &song(&format!("n{i:04}"), "b1", "new", 1, i as i64),
        );
        let input = ReadInput::Socket(Input::Text {
            socket,
            text: &frame,
        });
        h.engine.handle(Millis(0), input, &local).unwrap();
        drain(&mut h.engine, &mut applies);
    }
    let mut sizes = Vec::new();
    while let Some((op, batch)) = applies.pop_front() {
        let result = h.store.apply(&batch);
        sizes.push(result.as_ref().map_or(0, Vec::len));
        h.engine
            .handle(Millis(0), ReadInput::Applied { op, result }, &local)
            .unwrap();
        drain(&mut h.engine, &mut applies);
    }
    assert_eq!(
        sizes,
        vec![1, BATCH_CHANGES, BATCH_CHANGES, 89],
        "batches in order"
    );
    assert_eq!(h.store.rows["songs"].len(), burst, "every change stored");
}

/// Realtime is a hint, for a band followed on its own too: a change the socket never tells
/// arrives through the periodic pull, with the socket connected and quiet throughout.
#[test]
fn a_band_followed_alone_is_pulled_periodically() {
    let mut h = Harness::new(ChangeDelivery::PostgresChanges);
    let socket = subscribed(&mut h);
    assert_eq!(h.synced("b1"), 1, "the catch-up pull on subscribing");
    h.put(song("s9", "b1", "never told", 1, 5_000_000));
    while h.stored_title("s9").is_none() && h.now < 60_000 {
        h.next_timeout();
    }
    assert_eq!(h.stored_title("s9").as_deref(), Some("never told"));
    // Within the anti-entropy period and its jitter (15 s ± 25 %), on the same socket.
    assert!(h.now <= 18_750, "pulled at {} ms", h.now);
    assert_eq!(h.socket, Some(socket), "no reconnect brought it");
}

/// A row read again after its local edits were given up is asked for until the server
/// answers: a failed read is retried with the pulls' backoff, not left to a pull whose cursor
/// has moved past the row.
#[test]
fn a_row_read_again_is_asked_for_until_the_server_answers() {
    let mut h = Harness::new(ChangeDelivery::PostgresChanges);
    h.put(song("s1", "b1", "the server's", 2, 5_000_000));
    h.faults.push(("id=eq.s1", Fault::NetworkError));
    h.engine.refetch("songs".into(), "s1".into(), "b1".into());
    h.run();
    assert_eq!(h.stored_title("s1"), None, "no answer");
    h.faults.clear();
    h.next_timeout();
    assert!(h.now <= 1_000, "asked again within a second: {} ms", h.now);
    assert_eq!(h.stored_title("s1").as_deref(), Some("the server's"));
    let asked = h.requests.iter().filter(|p| p.contains("id=eq.s1")).count();
    assert_eq!(asked, 2);
    assert_eq!(
        h.engine.poll_timeout(),
        None,
        "answered: nothing more to ask"
    );
}
