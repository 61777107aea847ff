//! Shared helpers for the dev server's integration tests: a server process with its own
//! throwaway PostgreSQL, a raw Phoenix client, and a REST client.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use rockon_sync_core::realtime::{Frame as CoreFrame, Vsn};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A frame the server sent, its payload as serde_json's value.
pub struct Frame {
    pub join_ref: Option<String>,
    pub msg_ref: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

pub const ROCKERS: &str = "641657c9-9f8e-5c07-b44e-4ececddac108";
pub const TRIO: &str = "5a224131-abbb-51ab-b2b1-3f08f02e2c99";
pub const BIN: &str = env!("CARGO_BIN_EXE_rockon-devserver");

/// A running dev server; stopped (with its cluster) on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub anon_key: String,
    /// The admin token of the fault switches (empty without `--faults`).
    pub faults_token: String,
    /// The database URL (the superuser's, with its password).
    pub database: String,
}

/// A suffix that differs between servers started by one test process.
fn next_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        // What the server says on stderr goes to a file, read only if it fails to start: a
        // pipe nobody drains could fill and stall it.
        let log = std::env::temp_dir().join(format!(
            "rockon-devserver-test-{}-{:x}.log",
            std::process::id(),
            next_suffix()
        ));
        let stderr = std::fs::File::create(&log).expect("a log file");
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("dev server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        let ready: Value = serde_json::from_str(
            line.strip_prefix("rockon-devserver ready ")
                .unwrap_or_else(|| {
                    let _ = child.wait();
                    let said = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!("unexpected first line {line:?}; the server said: {said}")
                }),
        )
        .expect("ready JSON");
        let _ = std::fs::remove_file(&log);
        Server {
            child,
            url: ready["url"].as_str().unwrap().to_owned(),
            anon_key: ready["anonKey"].as_str().unwrap().to_owned(),
            faults_token: ready["faultsToken"].as_str().unwrap_or("").to_owned(),
            database: ready["database"].as_str().unwrap_or("").to_owned(),
        }
    }

    pub fn ws_url(&self, vsn: &str) -> String {
        format!(
            "{}/realtime/v1/websocket?apikey={}&vsn={vsn}",
            self.url.replace("http://", "ws://"),
            self.anon_key
        )
    }

    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = client
            .request(method, format!("{}/rest/v1/{path}", self.url))
            .header("apikey", &self.anon_key)
            .header("authorization", format!("Bearer {token}"))
            .header("prefer", "return=representation");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn fault(&self, body: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/faults", self.url))
            .bearer_auth(&self.faults_token)
            .json(&body)
            .send()
            .await
            .expect("fault request");
        assert_eq!(response.status().as_u16(), 200, "fault switch {body}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, so the server stops its PostgreSQL cluster and deletes it.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A token for a seeded user, signed with the default secret.
pub fn token(user: &str, ttl: u64) -> String {
    let output = Command::new(BIN)
        .args(["token", user, "--ttl", &ttl.to_string()])
        .output()
        .expect("token command");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A raw Phoenix client.
pub struct Phoenix {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    vsn: Vsn,
    next_ref: u64,
}

impl Phoenix {
    pub async fn connect(server: &Server, vsn: &str) -> Phoenix {
        let (socket, _) = tokio_tungstenite::connect_async(server.ws_url(vsn))
            .await
            .expect("socket opens");
        let vsn = if vsn == "1.0.0" { Vsn::V1 } else { Vsn::V2 };
        Phoenix {
            socket,
            vsn,
            next_ref: 0,
        }
    }

    pub async fn send(
        &mut self,
        join_ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> String {
        self.next_ref += 1;
        let msg_ref = self.next_ref.to_string();
        let frame = CoreFrame {
            join_ref: join_ref.map(str::to_owned),
            msg_ref: Some(msg_ref.clone()),
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload: payload.into(),
        };
        self.socket
            .send(Message::Text(frame.encode(self.vsn).into()))
            .await
            .expect("frame sent");
        msg_ref
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("sent");
    }

    /// The next text frame, as raw text, within `ms`.
    pub async fn next_text(&mut self, ms: u64) -> Option<String> {
        loop {
            match tokio::time::timeout(Duration::from_millis(ms), self.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => return Some(text.to_string()),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                    return None
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame within `ms`.
    pub async fn next(&mut self, ms: u64) -> Option<Frame> {
        let text = self.next_text(ms).await?;
        let frame = CoreFrame::decode(&text, self.vsn, usize::MAX).expect("server frames decode");
        Some(Frame {
            join_ref: frame.join_ref,
            msg_ref: frame.msg_ref,
            topic: frame.topic,
            event: frame.event,
            payload: frame.payload.into(),
        })
    }

    /// The next frame with `event`, skipping others, within `ms` overall.
    pub async fn next_event(&mut self, event: &str, ms: u64) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next(left.as_millis() as u64).await?;
            if frame.event == event {
                return Some(frame);
            }
        }
    }

    /// Joins `topic` with postgres_changes bindings; returns the reply payload.
    pub async fn join(&mut self, topic: &str, bindings: Value, token: &str) -> (String, Value) {
        let payload = json!({
            "config": {"broadcast": {"ack": false, "self": false}, "presence": {"key": "", "enabled": false},
                       "postgres_changes": bindings, "private": false},
            "access_token": token,
        });
        let join_ref = self.send(None, topic, "phx_join", payload).await;
        let reply = self
            .next_event("phx_reply", 5_000)
            .await
            .expect("join reply");
        assert_eq!(reply.msg_ref.as_deref(), Some(join_ref.as_str()));
        (join_ref, reply.payload)
    }

    /// Joins and waits for "Subscribed to PostgreSQL".
    pub async fn subscribe(&mut self, topic: &str, bindings: Value, token: &str) -> String {
        let (join_ref, reply) = self.join(topic, bindings, token).await;
        assert_eq!(reply["status"], "ok", "{reply}");
        let system = self
            .next_event("system", 5_000)
            .await
            .expect("system message");
        assert_eq!(
            system.payload["message"], "Subscribed to PostgreSQL",
            "{}",
            system.payload
        );
        join_ref
    }
}

pub fn songs_of(band: &str) -> Value {
    json!([{"event": "*", "schema": "public", "table": "songs", "filter": format!("band_id=eq.{band}")}])
}

/// A fresh uuid (unique within a test run; each server has its own database).
pub fn new_id() -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id())
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Signs up a new user through `/auth/v1/signup`; returns its id and access token.
pub async fn signup(server: &Server, email: &str) -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/v1/signup", server.url))
        .header("apikey", &server.anon_key)
        .json(&json!({"email": email, "password": "rockon-test", "data": {"display_name": email}}))
        .send()
        .await
        .expect("signup request");
    assert_eq!(response.status().as_u16(), 200, "signup of {email}");
    let session: Value = response.json().await.expect("session JSON");
    (
        session["user"]["id"].as_str().expect("user id").to_owned(),
        session["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
    )
}
