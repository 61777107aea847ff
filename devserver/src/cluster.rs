//! A throwaway PostgreSQL 15 cluster with logical decoding, in a temporary directory, on a free
//! loopback port. Tests run in parallel, each with its own; dropping the handle stops it and
//! deletes its files.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running throwaway cluster.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    /// The `postgres` superuser's password: the cluster asks for one (scram-sha-256) even on
    /// loopback, so other local users cannot connect as the superuser.
    password: String,
}

impl Cluster {
    /// Creates and starts a cluster (about 2 s). initdb and postgres refuse to run as root, so
    /// as root they run as the `postgres` user in a directory it owns. With `track_statements`
    /// every statement, nested ones included, is counted in `pg_stat_statements`.
    pub fn start(track_statements: bool) -> Result<Cluster, String> {
        // The port was free when chosen, but another process may take it before PostgreSQL
        // listens (test suites start many servers at once): a failed start tries a new port.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::start_on_a_free_port(track_statements) {
                Ok(cluster) => return Ok(cluster),
                Err(error) => failures.push(error),
            }
        }
        Err(failures.join("; then "))
    }

    fn start_on_a_free_port(track_statements: bool) -> Result<Cluster, String> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("rockon-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let as_root = is_root();
        if as_root {
            run(
                Command::new("chown").arg("postgres:postgres").arg(&dir),
                "chown",
            )?;
        }
        let password =
            crate::auth::random_secret().map_err(|e| format!("reading /dev/urandom: {e}"))?;
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, &password)
            .map_err(|e| format!("writing the password file: {e}"))?;
        if as_root {
            run(
                Command::new("chown").arg("postgres:postgres").arg(&pwfile),
                "chown",
            )?;
        }
        let cluster = Cluster {
            dir,
            port,
            password,
        };
        let data = cluster.dir.join("data");
        cluster.pg(as_root, "initdb", |c| {
            c.arg("-D")
                .arg(&data)
                .arg(format!("--pwfile={}", pwfile.display()))
                .args([
                    "-A",
                    "scram-sha-256",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ])
        })?;
        let _ = std::fs::remove_file(&pwfile);
        // fsync=off keeps commits cheap, but synchronous_commit stays on: logical decoding only
        // sees flushed WAL, and asynchronous commits would wait for the WAL writer (200 ms).
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -c wal_level=logical -c max_replication_slots=16 \
             -c max_wal_senders=4 -c unix_socket_directories={dir} -c fsync=off \
             -c full_page_writes=off -c max_connections=200",
            dir = cluster.dir.display()
        );
        if track_statements {
            options.push_str(
                " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all",
            );
        }
        let log = cluster.dir.join("postgres.log");
        cluster.pg(as_root, "pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "start", "-o", &options])
        })?;
        cluster.watch_over(as_root, &data)?;
        Ok(cluster)
    }

    /// The connection URL of the `postgres` superuser, with its password.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// The directory holding the data and the server log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn pg(
        &self,
        as_root: bool,
        tool: &str,
        configure: impl FnOnce(&mut Command) -> &mut Command,
    ) -> Result<(), String> {
        let program = format!("{BIN}/{tool}");
        let mut command = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        command.current_dir(&self.dir);
        run(configure(&mut command), tool)
    }
}

impl Cluster {
    /// Starts a watchdog in its own session that stops the cluster and deletes its files once
    /// this process is gone, however it went: a crash or `kill -9` skips `Drop`, and would
    /// otherwise leave PostgreSQL running as an orphan. (`pg_recvlogical` then ends by itself:
    /// its server is gone, and so is the pipe it writes to.)
    fn watch_over(&self, as_root: bool, data: &Path) -> Result<(), String> {
        let pg_ctl = format!("{BIN}/pg_ctl");
        let stop = if as_root {
            format!("runuser -u postgres -- {pg_ctl}")
        } else {
            pg_ctl
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = data.display(),
            dir = self.dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| format!("starting the cluster's watchdog: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.pg(is_root(), "pg_ctl", |c| {
            c.arg("-D").arg(&data).args(["-m", "immediate", "stop"])
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e} (is PostgreSQL 15 installed?)"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// A port that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
