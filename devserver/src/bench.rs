//! `rockon-devserver bench`: the two ways changes reach subscribers, side by side in one run —
//! `postgres_changes` (each change checked against each subscriber's row-level security) and
//! Broadcast from Database (migration 0004's triggers write to `realtime.messages`; members were
//! admitted once, at join). For 1, 10, 100 and 1,000 subscribed sockets (up to 100 bands of 10
//! members): commit → frame latency at a steady write rate, sustained changes per second, and
//! the database's work per change from `pg_stat_statements`. Loopback only; it starts its own
//! server (and PostgreSQL) as a child process.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Bands of the fixture, and members in each.
const BANDS: usize = 100;
const MEMBERS: usize = 10;

/// What to measure.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Writes per second in the latency runs.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds per latency run.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// Rows in each throughput run.
    #[arg(long, default_value_t = 2_000)]
    burst: u32,
    /// Subscribed sockets per run (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    sockets: Vec<usize>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// How changes reach the subscribers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    PostgresChanges,
    Broadcast,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::PostgresChanges => "postgres_changes",
            Mode::Broadcast => "broadcast",
        }
    }
}

struct Ready {
    url: String,
    anon_key: String,
    database: String,
}

/// Runs the benchmark and prints a table.
pub async fn run(args: BenchArgs, keys: crate::auth::Keys) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["serve", "--port", "0", "--no-seed", "--track-statements"])
        .args(["--max-sockets", "2000"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let ready: Value = serde_json::from_str(line.trim_start_matches("rockon-devserver ready "))
        .map_err(|_| format!("server did not start: {line}"))?;
    let ready = Ready {
        url: ready["url"].as_str().unwrap_or_default().to_owned(),
        anon_key: ready["anonKey"].as_str().unwrap_or_default().to_owned(),
        database: ready["database"].as_str().unwrap_or_default().to_owned(),
    };
    let result = measure(&args, &keys, &ready).await;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    result
}

fn band_id(band: usize) -> String {
    format!("00000000-0000-4000-a000-{band:012x}")
}

fn user_id(band: usize, member: usize) -> String {
    format!("00000000-0000-4000-b000-{:012x}", band * MEMBERS + member)
}

/// 100 bands of 10 members; member 0 founds the band (and so owns it).
async fn seed(db: &tokio_postgres::Client) -> Result<(), String> {
    let mut sql = String::from("insert into auth.users (id, email) values ");
    let users: Vec<String> = (0..BANDS)
        .flat_map(|b| (0..MEMBERS).map(move |m| (b, m)))
        .map(|(b, m)| format!("('{}', 'b{b}m{m}@rockon.test')", user_id(b, m)))
        .collect();
    sql.push_str(&users.join(", "));
    sql.push_str(";\ninsert into public.bands (id, name, created_by) values ");
    let bands: Vec<String> = (0..BANDS)
        .map(|b| format!("('{}', 'Band {b}', '{}')", band_id(b), user_id(b, 0)))
        .collect();
    sql.push_str(&bands.join(", "));
    sql.push_str(";\ninsert into public.band_memberships (band_id, user_id, role) values ");
    let members: Vec<String> = (0..BANDS)
        .flat_map(|b| (1..MEMBERS).map(move |m| (b, m)))
        .map(|(b, m)| format!("('{}', '{}', 'member')", band_id(b), user_id(b, m)))
        .collect();
    sql.push_str(&members.join(", "));
    sql.push_str(";\ncreate extension if not exists pg_stat_statements;");
    db.batch_execute(&sql)
        .await
        .map_err(|e| crate::db::describe(&e))
}

/// One run's figures.
struct Figures {
    latency: Vec<f64>,
    expected: usize,
    per_second: f64,
    work: Work,
}

async fn measure(args: &BenchArgs, keys: &crate::auth::Keys, ready: &Ready) -> Result<(), String> {
    let (db, connection) = crate::db::connect(&ready.database).await?;
    tokio::spawn(connection);
    seed(&db).await?;
    let db = Arc::new(db);
    // Warm the server's and the database's caches before anything is measured.
    write_burst(&db, BANDS, 400).await?;
    println!(
        "Changes to subscribers on loopback, both ways side by side: latency at {} writes/s for {} s, \
         sustained rate over {} rows from 4 writers, database work per change (pg_stat_statements)\n",
        args.rate, args.seconds, args.burst
    );
    println!("| mode | sockets | frames | p50 ms | p99 ms | max ms | changes/s | statements/change | RLS checks/change | buffers/change |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut report = Vec::new();
    for &sockets in &args.sockets {
        for mode in [Mode::PostgresChanges, Mode::Broadcast] {
            let figures = run_mode(args, keys, ready, &db, mode, sockets).await?;
            let p = |q: f64| percentile(&figures.latency, q);
            let work = &figures.work;
            println!(
                "| {} | {sockets} | {}/{} | {:.2} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} | {:.0} |",
                mode.as_str(),
                figures.latency.len(),
                figures.expected,
                p(0.50),
                p(0.99),
                p(1.0),
                figures.per_second,
                work.statements,
                work.rls_checks,
                work.buffers,
            );
            report.push(json!({"mode": mode.as_str(), "sockets": sockets,
                "frames": figures.latency.len(), "expected": figures.expected,
                "p50_ms": p(0.50), "p99_ms": p(0.99), "max_ms": p(1.0),
                "changes_per_second": figures.per_second,
                "statements_per_change": work.statements,
                "realtime_statements_per_change": work.rls_checks,
                "buffers_per_change": work.buffers}));
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, json!({ "runs": report }).to_string()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn run_mode(
    args: &BenchArgs,
    keys: &crate::auth::Keys,
    ready: &Ready,
    db: &Arc<tokio_postgres::Client>,
    mode: Mode,
    sockets: usize,
) -> Result<Figures, String> {
    // One project uses one way: the triggers of the other stay off, so each mode pays only
    // for itself.
    let toggle = if mode == Mode::Broadcast {
        "enable"
    } else {
        "disable"
    };
    db.batch_execute(&format!(
        "alter table public.songs {toggle} trigger broadcast_change"
    ))
    .await
    .map_err(|e| crate::db::describe(&e))?;
    let bands = sockets.div_ceil(MEMBERS).clamp(1, BANDS);
    let per_band = sockets.min(MEMBERS);
    let (arrivals, subscribers) = subscribe(ready, keys, mode, sockets).await?;
    reset_statements(db).await?;
    let sent = write_steadily(db, bands, args.rate, args.seconds).await?;
    let expected = sent.len() * per_band;
    let latency = collect(arrivals, &sent, expected).await.0;
    let work = read_work(db, sent.len()).await?;
    drop(subscribers);

    let (arrivals, subscribers) = subscribe(ready, keys, mode, sockets).await?;
    let started = Instant::now();
    let sent = write_burst(db, bands, args.burst).await?;
    let (delivered, last) = collect(arrivals, &sent, sent.len() * per_band).await;
    drop(subscribers);
    let elapsed = last.unwrap_or_else(Instant::now).duration_since(started);
    let changes = delivered.len() as f64 / per_band as f64;
    Ok(Figures {
        latency,
        expected,
        per_second: changes / elapsed.as_secs_f64(),
        work,
    })
}

/// The database's work per change.
struct Work {
    /// Statements run, nested ones (triggers, functions) included.
    statements: f64,
    /// Row-level security checks Realtime ran to decide who may see each change (one per
    /// distinct subscriber of the row's band).
    rls_checks: f64,
    /// Shared buffers hit or read by top-level statements (which include their nested work).
    buffers: f64,
}

async fn reset_statements(db: &tokio_postgres::Client) -> Result<(), String> {
    db.batch_execute("select pg_stat_statements_reset()")
        .await
        .map_err(|e| crate::db::describe(&e))
}

async fn read_work(db: &tokio_postgres::Client, changes: usize) -> Result<Work, String> {
    // The fan-out runs one visibility check per subscriber's claims (rockon_devserver.fan_out).
    let row = db
        .query_one(
            "select coalesce(sum(calls), 0)::float8,
                    coalesce(sum(calls) filter (where query like 'select exists (select % from json_populate_record%'), 0)::float8,
                    coalesce(sum(shared_blks_hit + shared_blks_read) filter (where toplevel), 0)::float8
             from pg_stat_statements
             where query not like '%pg_stat_statements%' and query not like 'alter table%'",
            &[],
        )
        .await
        .map_err(|e| crate::db::describe(&e))?;
    if std::env::var_os("BENCH_STATEMENTS").is_some() {
        let top = db
            .query(
                "select calls, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 120) from pg_stat_statements order by calls desc limit 12",
                &[],
            )
            .await
            .map_err(|e| crate::db::describe(&e))?;
        for row in top {
            eprintln!("{:>8} {}", row.get::<_, i64>(0), row.get::<_, String>(1));
        }
    }
    let per = |total: f64| total / changes.max(1) as f64;
    Ok(Work {
        statements: per(row.get(0)),
        rls_checks: per(row.get(1)),
        buffers: per(row.get(2)),
    })
}

type Arrivals = mpsc::UnboundedReceiver<(String, Instant)>;

/// The subscriber tasks of one run; dropping it closes their sockets so they do not load the
/// server during the next run.
struct Subscribers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Subscribers {
    fn drop(&mut self) {
        self.0.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

/// Opens `count` sockets, member by member and band by band, each listening to its band the
/// way `mode` says; every change frame's row id and arrival time go to the returned channel.
async fn subscribe(
    ready: &Ready,
    keys: &crate::auth::Keys,
    mode: Mode,
    count: usize,
) -> Result<(Arrivals, Subscribers), String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let url = format!(
        "{}/realtime/v1/websocket?apikey={}&vsn=2.0.0",
        ready.url.replace("http://", "ws://"),
        ready.anon_key
    );
    for n in 0..count {
        let (band, member) = (n / MEMBERS, n % MEMBERS);
        let token = keys.user_token(&user_id(band, member), "bench@rockon.test", 3600);
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(&url, None, true)
            .await
            .map_err(|e| e.to_string())?;
        let band = band_id(band);
        let config = match mode {
            Mode::PostgresChanges => json!({"postgres_changes": [{"event": "*", "schema": "public",
                "table": "songs", "filter": format!("band_id=eq.{band}")}], "private": false}),
            Mode::Broadcast => json!({"postgres_changes": [], "private": true}),
        };
        let topic = format!("realtime:band:{band}");
        let join = json!(["1", "1", topic, "phx_join", {"config": config, "access_token": token}]);
        socket
            .send(Message::Text(join.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        // Changes flow after "Subscribed to PostgreSQL", or for a broadcast topic once the
        // join is accepted.
        let ready_when = match mode {
            Mode::PostgresChanges => "Subscribed to PostgreSQL",
            Mode::Broadcast => "\"status\":\"ok\"",
        };
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains(ready_when) => break,
                Some(Ok(Message::Text(text))) if text.contains("\"error\"") => {
                    return Err(format!("join refused: {text}"))
                }
                Some(Ok(_)) => continue,
                _ => return Err("subscriber closed before subscribing".into()),
            }
        }
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = socket.next().await {
                let arrived = Instant::now();
                if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                    let record = match mode {
                        Mode::PostgresChanges => &frame[4]["data"]["record"],
                        Mode::Broadcast => &frame[4]["payload"]["record"],
                    };
                    if let Some(id) = record["id"].as_str() {
                        let _ = sender.send((id.to_owned(), arrived));
                    }
                }
            }
        }));
    }
    Ok((receiver, Subscribers(tasks)))
}

type Sent = Arc<Mutex<HashMap<String, Instant>>>;

async fn insert(db: &tokio_postgres::Client, id: &str, band: usize) -> Result<(), String> {
    db.execute(
        "insert into public.songs (id, band_id, title) values ($1::text::uuid, $2::text::uuid, 'bench')",
        &[&id, &band_id(band)],
    )
    .await
    .map(|_| ())
    .map_err(|e| crate::db::describe(&e))
}

fn bench_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh row id, stamped as sent now.
fn stamp(sent: &Sent) -> String {
    let id = bench_id(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    sent.lock()
        .expect("not poisoned")
        .insert(id.clone(), Instant::now());
    id
}

fn into_map(sent: Sent) -> HashMap<String, Instant> {
    Arc::try_unwrap(sent)
        .expect("writers done")
        .into_inner()
        .expect("not poisoned")
}

/// Inserts at `rate` per second for `seconds`, into the first `bands` bands in turn; each id is
/// stamped just before its INSERT (autocommit) is sent, so the figures include the statement
/// and the commit.
async fn write_steadily(
    db: &Arc<tokio_postgres::Client>,
    bands: usize,
    rate: u32,
    seconds: u32,
) -> Result<HashMap<String, Instant>, String> {
    let sent: Sent = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    for n in 0..(rate * seconds) as usize {
        ticker.tick().await;
        let id = stamp(&sent);
        insert(db, &id, n % bands).await?;
    }
    Ok(into_map(sent))
}

/// Inserts `count` rows into the first `bands` bands as fast as four concurrent writers can.
async fn write_burst(
    db: &Arc<tokio_postgres::Client>,
    bands: usize,
    count: u32,
) -> Result<HashMap<String, Instant>, String> {
    let sent: Sent = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (db, sent) = (db.clone(), sent.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..(count / 4) as usize {
                let id = stamp(&sent);
                insert(&db, &id, (n * 4 + writer) % bands).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for writer in writers {
        writer.await.map_err(|e| e.to_string())??;
    }
    Ok(into_map(sent))
}

/// Latencies in ms of the frames for `sent` (sorted), and when the last one arrived, waiting
/// up to 10 s for each next frame.
async fn collect(
    mut arrivals: Arrivals,
    sent: &HashMap<String, Instant>,
    expected: usize,
) -> (Vec<f64>, Option<Instant>) {
    let mut latencies = Vec::with_capacity(expected);
    let mut last = None;
    while latencies.len() < expected {
        match tokio::time::timeout(Duration::from_secs(10), arrivals.recv()).await {
            Ok(Some((id, arrived))) => {
                if let Some(at) = sent.get(&id) {
                    latencies.push(arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0);
                    last = Some(arrived);
                }
            }
            _ => break,
        }
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, last)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
