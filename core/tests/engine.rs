//! The joined engine natively, against the simulation's server model and the in-memory store:
//! what one part of the sync engine tells another.

#[allow(dead_code)]
#[path = "../sim/mod.rs"]
mod sim;

use rockon_sync_core::catchup::format_micros;
use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::notify::NotifyConfig;
use rockon_sync_core::outbox::RowStatus;
use rockon_sync_core::realtime::Input as SocketInput;
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{
    ActivityEngine, ChangeSource, CommandId, Engine, Event, Input, MemoryStore, Output,
    ReadCommand, ReadEngine, ReadEvent, SocketAction, Stored, TabNews, WriteCommand, WriteEngine,
    WriteEvent, WriteInput,
};
use rockon_sync_core::value::{json, Map, Value};
use rockon_sync_core::Millis;
use sim::server::Server;
use std::collections::BTreeMap;

const START_MICROS: i64 = 1_790_000_000_000_000;

struct Harness {
    engine: Engine,
    store: MemoryStore,
    server: Server,
    now: u64,
    events: Vec<Event>,
    told: Vec<TabNews>,
    replies: Vec<CommandId>,
}

fn song(id: &str, band: &str, title: &str, version: i64, by: &str) -> Map<String, Value> {
    let at = format_micros(START_MICROS + version * 1_000_000);
    let row = json!({ "id": id, "band_id": band, "title": title, "version": version,
        "created_at": at, "updated_at": at, "deleted_at": null, "last_modified_by": by });
    row.as_object().cloned().unwrap_or_default()
}

impl Harness {
    fn new() -> Self {
        let schema = Schema::rockon();
        let scopes = schema.tables.iter();
        let scopes = scopes.map(|t| (t.name.clone(), t.scope.clone())).collect();
        let members = BTreeMap::from([
            ("b1".to_owned(), vec!["alice".to_owned(), "bob".to_owned()]),
            ("b2".to_owned(), vec!["alice".to_owned()]),
        ]);
        let config = sim::outputs::read_config();
        let policy = ConflictPolicy::default();
        let writes = WriteEngine::new(schema.clone(), Vec::new(), Vec::new(), policy, None, 1);
        let reads = ReadEngine::new(config, schema, 2);
        let activity = ActivityEngine::new("alice", NotifyConfig::default(), &[], &[], vec![]);
        Self {
            engine: Engine::new(writes, reads, activity),
            store: MemoryStore::new(scopes),
            server: Server::new(members, START_MICROS + 100_000_000),
            now: 0,
            events: Vec::new(),
            told: Vec::new(),
            replies: Vec::new(),
        }
    }

    fn put(&mut self, row: Map<String, Value>) {
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        self.server
            .rows
            .entry("songs".into())
            .or_default()
            .insert(id, row);
    }

    fn input(&mut self, input: Input<'_>) {
        let wall = self.now as f64;
        self.engine
            .handle(Millis(self.now), wall, input)
            .expect("taken");
        self.run();
    }

    fn read(&mut self, command: ReadCommand) {
        self.input(Input::Read(command));
    }

    fn write(&mut self, id: u64, command: WriteCommand) {
        let input = WriteInput::Command {
            id: CommandId(id),
            command,
            wall_ms: 1_790_000_000_000,
        };
        self.input(Input::Write(input));
    }

    fn run(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            let input = match output {
                Output::Read { op, read } => Input::Stored {
                    op,
                    result: Stored::Read(Ok(self.store.read(&read))),
                },
                Output::Write { op, ops } => Input::Stored {
                    op,
                    result: Stored::Written(self.store.write(&ops)),
                },
                Output::Apply { op, batch } => Input::Stored {
                    op,
                    result: Stored::Applied(self.store.apply(&batch)),
                },
                Output::Persist { op, .. } => Input::Stored {
                    op,
                    result: Stored::Written(Ok(())),
                },
                Output::Http { op, request } => {
                    let (result, total) = self.server.serve_counted("alice", &request);
                    Input::Http { op, result, total }
                }
                Output::Socket(SocketAction::Connect { socket, .. }) => {
                    let closed = SocketInput::Closed {
                        socket,
                        code: 1006,
                        reason: "",
                    };
                    let wall = self.now as f64;
                    let _ = self
                        .engine
                        .handle(Millis(self.now), wall, Input::Socket(closed));
                    continue;
                }
                Output::Event(event) => {
                    self.events.push(event);
                    continue;
                }
                Output::Reply { command, .. } => {
                    self.replies.push(command);
                    continue;
                }
                Output::Tell(news) => {
                    self.told.push(news);
                    continue;
                }
                Output::Socket(_) => continue,
            };
            self.input(input);
        }
    }

    fn next_timeout(&mut self) {
        let at = self.engine.poll_timeout().expect("a deadline");
        self.now = self.now.max(at.0);
        self.engine
            .handle_timeout(Millis(self.now), self.now as f64);
        self.run();
    }

    fn title(&self, id: &str) -> Option<String> {
        let row = self.store.row("songs", id)?;
        row.get("title")?.as_str().map(str::to_owned)
    }

    fn unread(&self) -> usize {
        self.engine.activity().counts().total
    }
}

#[test]
fn a_band_the_user_left_is_purged_with_its_marks_and_told() {
    let mut h = Harness::new();
    h.put(song("s1", "b1", "one", 1, "bob"));
    h.put(song("s2", "b2", "two", 1, "alice"));
    h.read(ReadCommand::FollowUser("alice".into()));
    h.next_timeout();
    for band in ["b1", "b2"] {
        h.read(ReadCommand::Pull(band.into()));
    }
    assert_eq!(h.title("s2").as_deref(), Some("two"));
    h.server.members.remove("b2");
    h.events.clear();
    h.next_timeout();
    assert_eq!(h.title("s2"), None, "the band's rows go");
    assert_eq!(
        h.title("s1").as_deref(),
        Some("one"),
        "the other band's stay"
    );
    let purged = h.events.iter().any(|e| matches!(e, Event::Write(WriteEvent::Change(c)) if c.source == ChangeSource::Purge && c.ids == ["s2"]));
    assert!(purged, "the removal is told: {:?}", h.events);
    let left = h
        .events
        .iter()
        .any(|e| matches!(e, Event::Read(ReadEvent::Bands { left, .. }) if left == &["b2"]));
    assert!(left);
}

#[test]
fn an_edit_reads_its_row_and_the_read_path_leaves_it_alone_until_pushed() {
    let mut h = Harness::new();
    h.put(song("s1", "b1", "one", 1, "bob"));
    h.read(ReadCommand::Pull("b1".into()));
    assert_eq!(h.unread(), 0, "a first download is not unread");
    h.put(song("s1", "b1", "bob's", 2, "bob"));
    h.read(ReadCommand::Pull("b1".into()));
    assert_eq!(h.unread(), 1, "another member's change is unread");
    assert_eq!(h.title("s1").as_deref(), Some("bob's"));

    let mut patch = Map::new();
    patch.insert("title".into(), json!("alice's"));
    h.write(
        1,
        WriteCommand::Update {
            table: "songs".into(),
            id: "s1".into(),
            patch,
        },
    );
    assert_eq!(h.replies, [CommandId(1)]);
    assert_eq!(h.unread(), 0, "editing a row reads it");
    let outbox = h.told.iter().filter(|n| **n == TabNews::Outbox).count();
    assert_eq!(outbox, 1, "a tab that does not lead tells the leader");
    assert!(
        h.told.contains(&TabNews::Marks),
        "other tabs reload the marks"
    );
    assert_eq!(h.engine.writes().status("songs", "s1"), RowStatus::Pending);

    // Bob changes it again: the pending edit is not overwritten by the pull.
    h.put(song("s1", "b1", "bob's again", 3, "bob"));
    h.read(ReadCommand::Pull("b1".into()));
    assert_eq!(h.title("s1").as_deref(), Some("alice's"));
}

#[test]
fn an_emptied_cache_keeps_rows_with_pending_writes_tells_the_rest_and_downloads_again() {
    let mut h = Harness::new();
    h.put(song("s1", "b1", "one", 1, "bob"));
    h.put(song("s2", "b1", "two", 1, "bob"));
    h.read(ReadCommand::FollowUser("alice".into()));
    h.next_timeout();
    h.read(ReadCommand::Pull("b1".into()));
    h.put(song("s1", "b1", "bob's", 2, "bob"));
    h.read(ReadCommand::Pull("b1".into()));
    assert_eq!(h.unread(), 1);
    let mut patch = Map::new();
    patch.insert("title".into(), json!("alice's"));
    let edit = WriteCommand::Update {
        table: "songs".into(),
        id: "s2".into(),
        patch,
    };
    h.write(1, edit);

    let keeps = h.engine.cache_keeps();
    assert!(keeps.contains("songs:s2"), "a pending write keeps its row");
    assert!(!keeps.contains("songs:s1"), "{keeps:?}");

    // The store emptied as the driver does it, then told.
    h.events.clear();
    let removed = vec![("songs".to_owned(), "b1".to_owned(), vec!["s1".to_owned()])];
    h.engine.cache_purged(removed);
    h.run();
    let told = h.events.iter().any(|e| {
        matches!(e, Event::Write(WriteEvent::Change(c))
            if c.source == ChangeSource::Purge && c.ids == ["s1"] && c.scope == "b1")
    });
    assert!(told, "the removal is told: {:?}", h.events);
    assert_eq!(h.unread(), 0, "nothing stays unread");
    let pulled = (h.events.iter())
        .any(|e| matches!(e, Event::Read(ReadEvent::Synced { band }) if band == "b1"));
    assert!(pulled, "the band is downloaded again: {:?}", h.events);
}

/// Answers the write engine's storage reads and writes from `store` until it has no more
/// outputs; returns the others (replies, requests, events) in order.
fn answer_storage(
    writes: &mut WriteEngine,
    store: &mut MemoryStore,
    now: Millis,
) -> Vec<rockon_sync_core::sync::WriteOutput> {
    use rockon_sync_core::sync::WriteOutput;
    let mut others = Vec::new();
    while let Some(output) = writes.poll_output() {
        let input = match output {
            WriteOutput::Read { op, read } => WriteInput::Read {
                op,
                result: Ok(store.read(&read)),
            },
            WriteOutput::Write { op, ops } => WriteInput::Written {
                op,
                result: store.write(&ops),
            },
            other => {
                others.push(other);
                continue;
            }
        };
        writes.handle(input, now);
    }
    others
}

/// A write made while the tab's read of the stored outbox that makes it the leader is under
/// way: that read cannot show the new entry, and the row must not read as synced meanwhile.
#[test]
fn a_write_made_while_leadership_settles_is_not_shown_as_synced() {
    use rockon_sync_core::sync::{ReadResult, WriteOutput};
    let schema = Schema::rockon();
    let scopes = schema.tables.iter();
    let mut store = MemoryStore::new(scopes.map(|t| (t.name.clone(), t.scope.clone())).collect());
    let policy = ConflictPolicy::default();
    let mut writes = WriteEngine::new(schema, Vec::new(), Vec::new(), policy, None, 1);
    writes.handle(WriteInput::Online(true), Millis(0));
    writes.handle(WriteInput::Leader(true), Millis(0));
    let Some(WriteOutput::Read { op: reload, .. }) = writes.poll_output() else {
        panic!("becoming the leader reads the stored outbox first");
    };
    let values = json!({"bandId": "b1", "title": "Yellow"});
    let create = WriteCommand::Create {
        table: "songs".into(),
        values: values.as_object().cloned().unwrap_or_default(),
        new_id: "s1".into(),
    };
    let command = WriteInput::Command {
        id: CommandId(1),
        command: create,
        wall_ms: 1_790_000_000_000,
    };
    writes.handle(command, Millis(1));
    // The command's own reads and writes are answered; the reload's read is still out.
    let replied = answer_storage(&mut writes, &mut store, Millis(2))
        .iter()
        .any(|output| {
            matches!(output, WriteOutput::Reply { command, result }
                if *command == CommandId(1) && result.is_ok())
        });
    assert!(replied, "the write is acknowledged");
    assert_eq!(writes.status("songs", "s1"), RowStatus::Pending);
    // The read, issued before the write, answers without it.
    let before = ReadResult::Outbox {
        entries: Vec::new(),
        conflicts: Vec::new(),
    };
    writes.handle(
        WriteInput::Read {
            op: reload,
            result: Ok(before),
        },
        Millis(3),
    );
    assert!(writes.is_leader());
    assert_ne!(
        writes.status("songs", "s1"),
        RowStatus::Synced,
        "still to be pushed"
    );
    // The leader reads the stored outbox once more (other tabs may have appended), counts the
    // attempt, and pushes.
    let pushed = answer_storage(&mut writes, &mut store, Millis(4))
        .iter()
        .any(|output| matches!(output, WriteOutput::Http { .. }));
    assert!(pushed, "and pushed");
    assert_eq!(writes.status("songs", "s1"), RowStatus::Syncing);
}

/// Simulation seed 27653: a push's conflict read came back while a later edit's batch was
/// being stored, and settling wrote the row with that edit on top; storage then refused the
/// edit, and the row kept a value no outbox entry or conflict record held, forever.
#[test]
fn settling_waits_for_an_edit_being_stored_that_may_be_refused() {
    use rockon_sync_core::outbox::HttpResult;
    use rockon_sync_core::sync::{ReadResult, StoreError, StoreOp, StoreRead, WriteOutput};
    let schema = Schema::rockon();
    let scopes = schema.tables.iter();
    let mut store = MemoryStore::new(scopes.map(|t| (t.name.clone(), t.scope.clone())).collect());
    let ours = song("s7", "b2", "ours", 1, "carol");
    let _ = store.write(&[StoreOp::PutRow {
        table: "songs".into(),
        row: ours,
    }]);
    let mut theirs = song("s7", "b2", "theirs", 5, "carol");
    theirs.insert("notes".into(), json!("their notes"));
    let policy = ConflictPolicy::default();
    let mut writes = WriteEngine::new(schema, Vec::new(), Vec::new(), policy, None, 1);
    writes.handle(WriteInput::Online(true), Millis(0));
    writes.handle(WriteInput::Leader(true), Millis(0));
    let update = |id, title: &str| WriteInput::Command {
        id: CommandId(id),
        command: WriteCommand::Update {
            table: "songs".into(),
            id: "s7".into(),
            patch: json!({ "title": title })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        },
        wall_ms: 1_790_000_000_000 + id,
    };
    writes.handle(update(1, "mine"), Millis(1));
    // The PATCH finds the row moved on (no row matched); the follow-up GET returns theirs.
    let mut now = 2;
    let mut conflict_read = None;
    let mut outputs = answer_storage(&mut writes, &mut store, Millis(now));
    while conflict_read.is_none() {
        now += 1;
        for output in std::mem::take(&mut outputs) {
            let WriteOutput::Http { op, request } = output else {
                continue;
            };
            let body = match request.method {
                "GET" => json!([theirs]).to_string(),
                _ => "[]".to_owned(),
            };
            let answer = HttpResult::Response { status: 200, body };
            writes.handle(WriteInput::Http { op, result: answer }, Millis(now));
        }
        while let Some(output) = writes.poll_output() {
            match output {
                WriteOutput::Read { op, read } => conflict_read = Some((op, read)),
                other => outputs.push(other),
            }
        }
        assert!(
            now < 20,
            "the fetched row is checked against its conflict record"
        );
    }
    // A later edit: its read is answered, its batch is not yet.
    writes.handle(update(2, "later"), Millis(now));
    let mut batch = None;
    while batch.is_none() {
        match writes.poll_output() {
            Some(WriteOutput::Read { op, read }) => {
                let result = Ok(store.read(&read));
                writes.handle(WriteInput::Read { op, result }, Millis(now));
            }
            Some(WriteOutput::Write { op, .. }) => batch = Some(op),
            Some(_) => {}
            None => panic!("the edit is written"),
        }
    }
    let (read_op, read) = conflict_read.unwrap();
    let result = Ok(store.read(&read));
    writes.handle(
        WriteInput::Read {
            op: read_op,
            result,
        },
        Millis(now),
    );
    // Storage refuses the edit; whatever settling writes comes after.
    let refused = Err(StoreError::QuotaExceeded("full".into()));
    let op = batch.unwrap();
    writes.handle(
        WriteInput::Written {
            op,
            result: refused,
        },
        Millis(now),
    );
    let _ = answer_storage(&mut writes, &mut store, Millis(now + 1));
    let row = store.read(&StoreRead::Row {
        table: "songs".into(),
        id: "s7".into(),
        with_conflict: true,
    });
    let ReadResult::Row { row, conflict } = row else {
        panic!("a row read answers a row");
    };
    assert_eq!(
        row.unwrap()["title"],
        "theirs",
        "the refused edit is not shown"
    );
    assert_eq!(
        conflict.unwrap().local["title"],
        "mine",
        "the user's value is kept"
    );
}

/// A discarded write's row goes back to the server's version: the one the server has now,
/// not the one it had when the write was made. Pulls skip a row with a pending write and move
/// their cursor past it, so a change made meanwhile would otherwise never come again.
#[test]
fn a_discarded_write_leaves_the_row_as_the_server_has_it_now() {
    let mut h = Harness::new();
    h.put(song("s1", "b1", "one", 1, "bob"));
    h.read(ReadCommand::Pull("b1".into()));
    let mut patch = Map::new();
    patch.insert("title".into(), json!("alice's"));
    let edit = WriteCommand::Update {
        table: "songs".into(),
        id: "s1".into(),
        patch,
    };
    h.write(1, edit);
    h.put(song("s1", "b1", "bob's", 2, "bob"));
    // A change elsewhere in the band a minute later: the pull's cursor moves past s1, beyond
    // the few seconds a pull reads again before its cursor.
    h.put(song("s2", "b1", "two", 60, "bob"));
    h.read(ReadCommand::Pull("b1".into()));
    assert_eq!(
        h.title("s1").as_deref(),
        Some("alice's"),
        "the pull skips it"
    );
    let seq = h.engine.writes().entries().next().map(|e| e.seq).unwrap();
    h.write(2, WriteCommand::Discard { seq });
    assert_eq!(h.replies, [CommandId(1), CommandId(2)]);
    assert_eq!(h.engine.writes().status("songs", "s1"), RowStatus::Synced);
    assert_eq!(
        h.title("s1").as_deref(),
        Some("bob's"),
        "read again at once"
    );
    // And durably: a reload before that read answers still reads the band's songs from the
    // start on its next pull.
    let key = rockon_sync_core::sync::cursor_key("songs", "b1");
    assert!(
        h.store.cursors.get(&key).is_none(),
        "the cursor is forgotten"
    );
    h.read(ReadCommand::Pull("b1".into()));
    assert_eq!(h.title("s1").as_deref(), Some("bob's"));
}

/// A device's store holding song `s1`.
fn store_with_a_song() -> MemoryStore {
    use rockon_sync_core::sync::StoreOp;
    let schema = Schema::rockon();
    let scopes = schema.tables.iter();
    let mut store = MemoryStore::new(scopes.map(|t| (t.name.clone(), t.scope.clone())).collect());
    let _ = store.write(&[StoreOp::PutRow {
        table: "songs".into(),
        row: song("s1", "b1", "one", 1, "bob"),
    }]);
    store
}

/// Two write engines of one device over one store: the leading tab and another.
fn leader_and_follower(store: &mut MemoryStore) -> (WriteEngine, WriteEngine) {
    let schema = Schema::rockon();
    let policy = ConflictPolicy::default();
    let mut leader = WriteEngine::new(schema.clone(), Vec::new(), Vec::new(), policy, None, 1);
    leader.handle(WriteInput::Leader(true), Millis(0));
    let _ = answer_storage(&mut leader, store, Millis(0));
    let follower = WriteEngine::new(schema, Vec::new(), Vec::new(), policy, None, 2);
    (leader, follower)
}

/// Carries out a command, answering its storage; returns the other outputs.
fn command(
    engine: &mut WriteEngine,
    store: &mut MemoryStore,
    id: u64,
    command: WriteCommand,
    now: u64,
) -> Vec<rockon_sync_core::sync::WriteOutput> {
    let input = WriteInput::Command {
        id: CommandId(id),
        command,
        wall_ms: 1_790_000_000_000 + now,
    };
    engine.handle(input, Millis(now));
    answer_storage(engine, store, Millis(now))
}

/// Another tab changed the stored outbox: the engine reads it; returns the other outputs.
fn told(
    engine: &mut WriteEngine,
    store: &mut MemoryStore,
    now: u64,
) -> Vec<rockon_sync_core::sync::WriteOutput> {
    engine.handle(WriteInput::OutboxChanged, Millis(now));
    answer_storage(engine, store, Millis(now))
}

/// The first entry the engine holds.
fn first_entry(engine: &WriteEngine) -> u64 {
    engine.entries().next().map(|e| e.seq).expect("an entry")
}

fn retitle(title: &str) -> WriteCommand {
    WriteCommand::Update {
        table: "songs".into(),
        id: "s1".into(),
        patch: json!({ "title": title })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

/// Simulation (with discards): a write discarded in a tab that does not lead stayed in the
/// leading tab's memory, which took in only entries it did not know. It went on showing the
/// row as pending and holding its later edits back, or folded a later edit into the entry and
/// stored it again, where no tab would ever push it.
#[test]
fn the_leader_takes_in_a_discard_made_in_another_tab() {
    let mut store = store_with_a_song();
    let (mut leader, mut follower) = leader_and_follower(&mut store);
    // Offline: the write waits in the outbox.
    leader.handle(WriteInput::Online(false), Millis(0));
    command(&mut leader, &mut store, 1, retitle("mine"), 1);
    told(&mut follower, &mut store, 2);
    let seq = first_entry(&follower);
    command(
        &mut follower,
        &mut store,
        2,
        WriteCommand::Discard { seq },
        3,
    );
    assert_eq!(store.outbox.len(), 0, "discarded in storage");
    told(&mut leader, &mut store, 4);
    assert_eq!(leader.entries().count(), 0, "and in the leader");
    assert_eq!(leader.status("songs", "s1"), RowStatus::Synced);
    // The leader's next edit of the row is an entry of its own, stored and kept.
    command(&mut leader, &mut store, 3, retitle("later"), 5);
    let stored: Vec<_> = store.outbox.values().map(|e| e.fields.clone()).collect();
    assert_eq!(
        stored,
        [json!({"title": "later"}).as_object().cloned().unwrap()]
    );
}

/// The twin: a failed write retried in a tab that does not lead is pushed by the leader.
#[test]
fn the_leader_pushes_a_write_retried_in_another_tab() {
    use rockon_sync_core::outbox::HttpResult;
    use rockon_sync_core::sync::WriteOutput;
    let mut store = store_with_a_song();
    let (mut leader, mut follower) = leader_and_follower(&mut store);
    leader.handle(WriteInput::Online(true), Millis(0));
    let pushed = |outputs: Vec<WriteOutput>| {
        outputs.into_iter().find_map(|o| match o {
            WriteOutput::Http { op, .. } => Some(op),
            _ => None,
        })
    };
    let outputs = command(&mut leader, &mut store, 1, retitle("mine"), 1);
    let op = pushed(outputs).expect("pushed");
    let refused = HttpResult::Response {
        status: 403,
        body: r#"{"code":"42501","message":"new row violates row-level security policy"}"#.into(),
    };
    leader.handle(
        WriteInput::Http {
            op,
            result: refused,
        },
        Millis(2),
    );
    let _ = answer_storage(&mut leader, &mut store, Millis(2));
    assert_eq!(leader.status("songs", "s1"), RowStatus::Error);
    told(&mut follower, &mut store, 3);
    let seq = first_entry(&follower);
    command(&mut follower, &mut store, 2, WriteCommand::Retry { seq }, 4);
    let outputs = told(&mut leader, &mut store, 5);
    assert!(pushed(outputs).is_some(), "the leader pushes it again");
    assert_eq!(leader.status("songs", "s1"), RowStatus::Syncing);
}
