//! rockon-devserver: a local stand-in for Supabase on a real PostgreSQL, so tests, benchmarks and
//! the demo exercise the real protocols end to end: PostgREST-compatible REST, Supabase
//! Realtime (Phoenix channels with postgres_changes from a wal2json slot, presence, broadcast),
//! GoTrue-compatible password auth with HS256 JWTs, row-level security, and fault switches.

mod admin;
mod auth;
mod bench;
mod cluster;
mod db;
mod faults;
mod gotrue;
mod realtime;
mod rest;
mod schema;
mod state;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use clap::{Parser, Subcommand};
use std::sync::Arc;

/// The seeded demo users (sql/seed.sql), password "rockon".
const SEEDED_USERS: &[(&str, &str)] = &[
    ("alice", "e1be9b0b-e57b-5640-8ce5-b95c26077d0d"),
    ("bob", "a992f178-aa00-5f5d-bf95-e7d219c43e16"),
    ("carol", "6401d1c2-93ce-522f-b581-7e35232ea80a"),
];

const DEFAULT_SECRET: &str = "rockon-devserver-secret-at-least-32-characters-long";

#[derive(Parser)]
#[command(
    name = "rockon-devserver",
    version,
    about = "A local Supabase stand-in on PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves REST, Realtime and auth.
    Serve(ServeArgs),
    /// Prints an access token for a seeded user (alice, bob or carol).
    Token {
        /// The user.
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// The JWT secret.
        #[arg(long, env = "ROCKON_JWT_SECRET", default_value = DEFAULT_SECRET)]
        jwt_secret: String,
    },
    /// Starts a throwaway PostgreSQL (logical decoding on) and keeps it until terminated; prints
    /// its URL. Lets tests restart the server on the same data.
    Postgres,
    /// Measures commit → frame latency and sustained changes/s on loopback.
    Bench(bench::BenchArgs),
    /// Prints the anon key for a JWT secret.
    AnonKey {
        /// The JWT secret.
        #[arg(long, env = "ROCKON_JWT_SECRET", default_value = DEFAULT_SECRET)]
        jwt_secret: String,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 54321)]
    port: u16,
    /// Use this database instead of starting a throwaway cluster. It needs wal_level=logical
    /// and wal2json; pass --bootstrap unless it already has Supabase's roles and auth schema.
    #[arg(long, env = "ROCKON_DATABASE_URL")]
    database_url: Option<String>,
    /// Create the roles, auth schema and publication a hosted project provides.
    #[arg(long)]
    bootstrap: bool,
    /// Skip the demo data.
    #[arg(long)]
    no_seed: bool,
    /// The JWT secret.
    #[arg(long, env = "ROCKON_JWT_SECRET", default_value = DEFAULT_SECRET)]
    jwt_secret: String,
    /// Lifetime of access tokens in seconds (short values test expiry).
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Bytes of frames queued for one socket at most; a client that reads slower is dropped.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_queued_bytes: usize,
    /// Realtime sockets held at most; more are refused (503).
    #[arg(long, default_value_t = 1_000)]
    max_sockets: usize,
    /// Seconds a client may take to send a request's headers (slow clients hold a socket).
    #[arg(long, default_value_t = 10)]
    header_read_timeout: u64,
    /// Lifetime of refresh tokens in seconds (30 days by default).
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    refresh_ttl: u64,
    /// Changes whose JSON exceeds this many bytes are sent without their record (Error 413).
    #[arg(long, default_value_t = 1024 * 1024)]
    max_change_bytes: usize,
    /// Seconds between deletions of broadcast messages older than three days.
    #[arg(long, default_value_t = 600)]
    janitor_interval: u64,
    /// Record statement statistics (pg_stat_statements) in the throwaway cluster, for the
    /// benchmark's database work per change.
    #[arg(long)]
    track_statements: bool,
    /// Enable the fault switches at POST /admin/faults.
    #[arg(long)]
    faults: bool,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Token {
            user,
            ttl,
            jwt_secret,
        } => {
            let Some((_, id)) = SEEDED_USERS.iter().find(|(name, _)| *name == user) else {
                eprintln!("unknown user {user:?}: seeded users are alice, bob and carol");
                std::process::exit(2);
            };
            let keys = auth::Keys::new(&jwt_secret, ttl);
            println!(
                "{}",
                keys.user_token(id, &format!("{user}@rockon.test"), ttl)
            );
        }
        Command::Postgres => {
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            runtime.block_on(async {
                match tokio::task::spawn_blocking(|| cluster::Cluster::start(false)).await {
                    Ok(Ok(cluster)) => {
                        println!("rockon-devserver postgres {}", cluster.url());
                        shutdown_signal().await;
                        drop(cluster);
                    }
                    Ok(Err(error)) => {
                        eprintln!("rockon-devserver postgres: {error}");
                        std::process::exit(1);
                    }
                    Err(error) => {
                        eprintln!("rockon-devserver postgres: {error}");
                        std::process::exit(1);
                    }
                }
            });
        }
        Command::Bench(args) => {
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            let keys = auth::Keys::new(DEFAULT_SECRET, 3600);
            if let Err(error) = runtime.block_on(bench::run(args, keys)) {
                eprintln!("rockon-devserver bench: {error}");
                std::process::exit(1);
            }
        }
        Command::AnonKey { jwt_secret } => {
            println!("{}", auth::Keys::new(&jwt_secret, 0).anon_key())
        }
        Command::Serve(args) => {
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            if let Err(error) = runtime.block_on(serve(args)) {
                eprintln!("rockon-devserver: {error}");
                std::process::exit(1);
            }
        }
    }
}

/// Whether `host` names only this machine.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    // The default secret is published in this repository: anyone could sign a service_role
    // token with it. Fault switches let any caller break the server. Both stay on loopback.
    if !is_loopback(&args.host) {
        if args.jwt_secret == DEFAULT_SECRET {
            return Err(format!(
                "refusing to listen on {} with the published default JWT secret: set --jwt-secret (or ROCKON_JWT_SECRET)",
                args.host
            ));
        }
        if args.faults {
            return Err(format!(
                "refusing --faults on {}: fault switches are for loopback only",
                args.host
            ));
        }
    }
    let faults_token = if args.faults {
        auth::random_secret().map_err(|e| format!("reading /dev/urandom: {e}"))?
    } else {
        String::new()
    };
    // The cluster lives as long as this function: dropping it stops PostgreSQL.
    let (cluster, database_url, bootstrap) = match &args.database_url {
        Some(url) => (None, url.clone(), args.bootstrap),
        None => {
            let track = args.track_statements;
            let cluster = tokio::task::spawn_blocking(move || cluster::Cluster::start(track))
                .await
                .map_err(|e| e.to_string())??;
            let url = cluster.url();
            (Some(cluster), url, true)
        }
    };
    // Auth and Realtime authorization use the database URL's own user (a superuser, as
    // Supabase's GoTrue and Realtime use admin roles); REST requests connect as the
    // authenticator, which can only become the caller's API role.
    let system_pool = db::pool(&database_url, 8, None)?;
    db::prepare(&system_pool, bootstrap, !args.no_seed).await?;
    let password = auth::random_secret().map_err(|e| format!("reading /dev/urandom: {e}"))?;
    db::create_authenticator(&system_pool, &password).await?;
    let pool = db::pool(&database_url, 16, Some((db::AUTHENTICATOR, &password)))?;
    let client = system_pool.get().await.map_err(|e| e.to_string())?;
    let schema = schema::Schema::load(&client)
        .await
        .map_err(|e| db::describe(&e))?;
    drop(client);
    let keys = auth::Keys::new(&args.jwt_secret, args.token_ttl);
    let state = Arc::new(state::AppState {
        pool,
        system_pool,
        anon_key: keys.anon_key(),
        keys,
        schema,
        faults: Arc::new(faults::Faults::new(args.faults, faults_token)),
        hub: Arc::new(realtime::hub::Hub::default()),
        refresh_ttl: args.refresh_ttl,
        max_sockets: args.max_sockets,
        max_queued_bytes: args.max_queued_bytes,
        max_change_bytes: args.max_change_bytes,
    });
    tokio::spawn(realtime::changes::run(state.clone(), database_url.clone()));
    tokio::spawn(realtime::janitor::run(
        state.clone(),
        std::time::Duration::from_secs(args.janitor_interval.max(1)),
    ));
    if !state
        .hub
        .wait_for_stream(std::time::Duration::from_secs(30))
        .await
    {
        return Err("the change stream did not start (is wal2json installed?)".into());
    }

    let app = Router::new()
        .route("/rest/v1/{table}", any(rest::handle))
        .route("/rest/v1/rpc/{function}", post(rest::rpc::handle))
        .route("/realtime/v1/websocket", get(realtime::socket::upgrade))
        .route("/socket/websocket", get(realtime::socket::upgrade))
        .route("/auth/v1/token", post(gotrue::token))
        .route("/auth/v1/signup", post(gotrue::signup))
        .route("/auth/v1/user", get(gotrue::user))
        .route("/auth/v1/logout", post(gotrue::logout))
        .route("/admin/faults", post(admin::faults))
        .route("/health", get(|| async { "ok" }))
        .layer(middleware::from_fn(cors))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("binding {}:{}: {e}", args.host, args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let ready = serde_json::json!({
        "url": format!("http://{address}"),
        "anonKey": state.anon_key,
        "database": database_url,
        "faults": args.faults,
    });
    let mut ready = ready;
    if args.faults {
        ready["faultsToken"] = serde_json::Value::String(state.faults.token().to_owned());
    }
    println!("rockon-devserver ready {ready}");
    if let Some(cluster) = &cluster {
        eprintln!("throwaway PostgreSQL in {}", cluster.dir().display());
    }
    let header_read_timeout = std::time::Duration::from_secs(args.header_read_timeout.max(1));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok((tcp, _)) = accepted else {
            // Out of file descriptors and the like: wait instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(serve_connection(tcp, app.clone(), header_read_timeout));
    }
    drop(cluster);
    Ok(())
}

/// Serves one HTTP/1.1 connection (and the WebSocket it may upgrade to). A client that takes
/// longer than `header_read_timeout` to send a request's headers is dropped, so slow clients
/// cannot hold sockets open for nothing.
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    app: Router,
    header_read_timeout: std::time::Duration,
) {
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold small frames back ~40 ms.
    let _ = tcp.set_nodelay(true);
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let _ = builder
        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
        .with_upgrades()
        .await;
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Lets browser pages on other origins (the demo, the tests) call the API, as Supabase does.
async fn cors(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD"),
    );
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("authorization, apikey, content-type, prefer, accept, range, x-client-info, x-supabase-api-version, accept-profile, content-profile"),
    );
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("content-range"),
    );
    response
}
