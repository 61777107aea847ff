//! `rockon-devserver bench`: commit → frame-on-socket latency for 1, 10 and 100 subscribers at
//! a steady write rate, and sustained changes per second, on loopback. It starts its own server
//! (and PostgreSQL) as a child process.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const ROCKERS: &str = "641657c9-9f8e-5c07-b44e-4ececddac108";
const USERS: [(&str, &str); 2] = [
    ("alice", "e1be9b0b-e57b-5640-8ce5-b95c26077d0d"),
    ("bob", "a992f178-aa00-5f5d-bf95-e7d219c43e16"),
];

/// What to measure.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Writes per second in the latency runs.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds per latency run.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Rows in the throughput run.
    #[arg(long, default_value_t = 5_000)]
    burst: u32,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
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
        .args(["serve", "--port", "0", "--no-seed"])
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

async fn measure(args: &BenchArgs, keys: &crate::auth::Keys, ready: &Ready) -> Result<(), String> {
    let (db, connection) = crate::db::connect(&ready.database).await?;
    tokio::spawn(connection);
    db.batch_execute(&format!(
        "insert into auth.users (id, email) values ('{a}', 'alice@rockon.test'), ('{b}', 'bob@rockon.test');
         insert into public.bands (id, name, created_by) values ('{ROCKERS}', 'Bench band', '{a}');
         insert into public.band_memberships (band_id, user_id, role) values ('{ROCKERS}', '{b}', 'member');",
        a = USERS[0].1,
        b = USERS[1].1
    ))
    .await
    .map_err(|e| crate::db::describe(&e))?;
    let db = Arc::new(db);
    println!(
        "commit → frame latency on loopback, {} writes/s for {} s (ms)",
        args.rate, args.seconds
    );
    println!("| subscribers | frames | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    let mut report = Vec::new();
    for subscribers in [1usize, 10, 100] {
        let (arrivals, sockets) = subscribe(ready, keys, subscribers).await?;
        let sent = write_steadily(&db, args.rate, args.seconds).await?;
        let expected = sent.len() * subscribers;
        let latencies = collect(arrivals, &sent, expected).await;
        drop(sockets);
        let p = |q: f64| percentile(&latencies, q);
        println!(
            "| {subscribers} | {}/{expected} | {:.2} | {:.2} | {:.2} | {:.2} |",
            latencies.len(),
            p(0.50),
            p(0.95),
            p(0.99),
            p(1.0)
        );
        report.push(
            json!({"subscribers": subscribers, "frames": latencies.len(), "expected": expected,
            "p50_ms": p(0.50), "p95_ms": p(0.95), "p99_ms": p(0.99), "max_ms": p(1.0)}),
        );
    }
    let (arrivals, sockets) = subscribe(ready, keys, 1).await?;
    let started = Instant::now();
    let sent = write_burst(&db, args.burst).await?;
    let latencies = collect(arrivals, &sent, sent.len()).await;
    let elapsed = started.elapsed().as_secs_f64();
    drop(sockets);
    let per_second = latencies.len() as f64 / elapsed;
    println!(
        "\nsustained: {} changes from 4 concurrent writers delivered to 1 subscriber in {:.2} s = {:.0} changes/s",
        latencies.len(),
        elapsed,
        per_second
    );
    if let Some(path) = &args.json {
        let body = json!({"latency": report, "sustained_changes_per_second": per_second});
        std::fs::write(path, body.to_string()).map_err(|e| e.to_string())?;
    }
    Ok(())
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

/// Opens `count` subscribed sockets (alternately alice and bob); every change frame's row id and
/// arrival time go to the returned channel.
async fn subscribe(
    ready: &Ready,
    keys: &crate::auth::Keys,
    count: usize,
) -> Result<(Arrivals, Subscribers), String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for n in 0..count {
        let (user, id) = USERS[n % 2];
        let token = keys.user_token(id, &format!("{user}@rockon.test"), 3600);
        let url = format!(
            "{}/realtime/v1/websocket?apikey={}&vsn=2.0.0",
            ready.url.replace("http://", "ws://"),
            ready.anon_key
        );
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .map_err(|e| e.to_string())?;
        let join = json!(["1", "1", "realtime:band", "phx_join", {
            "config": {"postgres_changes": [{"event": "*", "schema": "public", "table": "songs",
                                             "filter": format!("band_id=eq.{ROCKERS}")}]},
            "access_token": token}]);
        socket
            .send(Message::Text(join.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        // Wait for "Subscribed to PostgreSQL" before writing.
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("Subscribed to PostgreSQL") => break,
                Some(Ok(_)) => continue,
                _ => return Err("subscriber closed before subscribing".into()),
            }
        }
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = socket.next().await {
                let arrived = Instant::now();
                if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                    if let Some(id) = frame[4]["data"]["record"]["id"].as_str() {
                        let _ = sender.send((id.to_owned(), arrived));
                    }
                }
            }
        }));
    }
    Ok((receiver, Subscribers(tasks)))
}

type Sent = Arc<Mutex<HashMap<String, Instant>>>;

async fn insert(db: &tokio_postgres::Client, id: &str) -> Result<(), String> {
    db.execute(
        "insert into public.songs (id, band_id, title) values ($1::text::uuid, $2::text::uuid, 'bench')",
        &[&id, &ROCKERS],
    )
    .await
    .map(|_| ())
    .map_err(|e| crate::db::describe(&e))
}

fn bench_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Inserts at `rate` per second for `seconds`; each id is stamped just before its INSERT
/// (autocommit) is sent, so the figures include the statement and the commit.
async fn write_steadily(
    db: &Arc<tokio_postgres::Client>,
    rate: u32,
    seconds: u32,
) -> Result<HashMap<String, Instant>, String> {
    let sent: Sent = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    for _ in 0..rate * seconds {
        ticker.tick().await;
        let id = bench_id(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        sent.lock()
            .expect("not poisoned")
            .insert(id.clone(), Instant::now());
        insert(db, &id).await?;
    }
    Ok(Arc::try_unwrap(sent)
        .expect("writers done")
        .into_inner()
        .expect("not poisoned"))
}

/// Inserts `count` rows as fast as four concurrent writers can.
async fn write_burst(
    db: &Arc<tokio_postgres::Client>,
    count: u32,
) -> Result<HashMap<String, Instant>, String> {
    let sent: Sent = Arc::default();
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (db, sent) = (db.clone(), sent.clone());
        writers.push(tokio::spawn(async move {
            for _ in 0..count / 4 {
                let id = bench_id(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                sent.lock()
                    .expect("not poisoned")
                    .insert(id.clone(), Instant::now());
                insert(&db, &id).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for writer in writers {
        writer.await.map_err(|e| e.to_string())??;
    }
    Ok(Arc::try_unwrap(sent)
        .expect("writers done")
        .into_inner()
        .expect("not poisoned"))
}

/// Latencies in ms of the frames for `sent`, waiting up to 10 s after the last write.
async fn collect(
    mut arrivals: Arrivals,
    sent: &HashMap<String, Instant>,
    expected: usize,
) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(expected);
    while latencies.len() < expected {
        match tokio::time::timeout(Duration::from_secs(10), arrivals.recv()).await {
            Ok(Some((id, arrived))) => {
                if let Some(at) = sent.get(&id) {
                    latencies.push(arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0);
                }
            }
            _ => break,
        }
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
