//! The database: connection pool, migrations, seed data.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// SQL that stands in for what a hosted Supabase project provides.
const BOOTSTRAP: &str = include_str!("../sql/bootstrap.sql");
/// The schema, in order; valid unchanged on a hosted Supabase project.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_rockon_schema",
        include_str!("../sql/migrations/0001_rockon_schema.sql"),
    ),
    (
        "0002_band_channels",
        include_str!("../sql/migrations/0002_band_channels.sql"),
    ),
    (
        "0003_harden_policies",
        include_str!("../sql/migrations/0003_harden_policies.sql"),
    ),
    (
        "0004_broadcast_changes",
        include_str!("../sql/migrations/0004_broadcast_changes.sql"),
    ),
];
/// The dev server's own objects: refresh tokens and the RLS fan-out.
const DEVSERVER: &str = include_str!("../sql/devserver.sql");
/// Demo users, bands and their songs, setlists, shows and practices.
const SEED: &str = include_str!("../sql/seed.sql");

/// The login role REST requests connect as, like Supabase's `authenticator`: no privileges of
/// its own, only the right to become `anon`, `authenticated` or `service_role`.
pub const AUTHENTICATOR: &str = "rockon_authenticator";

/// A pool of connections to `url`, as its user or (with `login`) as another user and
/// password. REST requests switch to the caller's role inside their own transaction
/// (`set local role`), so RLS decides what they see.
pub fn pool(url: &str, size: usize, login: Option<(&str, &str)>) -> Result<Pool, String> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| format!("bad database URL: {e}"))?;
    if let Some((user, password)) = login {
        config.user(user).password(password);
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // A bounded wait: with every connection busy (a flood of private joins, say) a caller gets
    // an error after 5 s instead of queueing forever.
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()
        .map_err(|e| e.to_string())
}

/// Creates (or updates) the authenticator role with `password` and lets it become the API
/// roles. Needs a superuser (or a role with CREATEROLE).
pub async fn create_authenticator(pool: &Pool, password: &str) -> Result<(), String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let sql = format!(
        "do $$ begin
           if not exists (select from pg_roles where rolname = '{AUTHENTICATOR}') then
             create role {AUTHENTICATOR} login noinherit;
           end if;
         end $$;
         alter role {AUTHENTICATOR} password '{password}';
         grant anon, authenticated, service_role to {AUTHENTICATOR};"
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| format!("creating {AUTHENTICATOR}: {}", describe(&e)))
}

/// One dedicated connection (for the change stream, whose notifications need the connection's
/// message stream).
pub async fn connect(
    url: &str,
) -> Result<
    (
        tokio_postgres::Client,
        tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
    ),
    String,
> {
    tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))
}

/// Applies the bootstrap (when asked), every migration not yet applied, and the seed data when
/// the database has no users yet.
pub async fn prepare(pool: &Pool, bootstrap: bool, seed: bool) -> Result<(), String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let fail = |what: &str, e: tokio_postgres::Error| format!("{what}: {}", describe(&e));
    if bootstrap {
        client
            .batch_execute(BOOTSTRAP)
            .await
            .map_err(|e| fail("bootstrap", e))?;
    }
    client
        .batch_execute(
            "create schema if not exists rockon_devserver;
             create table if not exists rockon_devserver.migrations (
               name text primary key, applied_at timestamptz not null default now());",
        )
        .await
        .map_err(|e| fail("migration table", e))?;
    for (name, sql) in MIGRATIONS {
        let applied = client
            .query_opt(
                "select 1 from rockon_devserver.migrations where name = $1",
                &[name],
            )
            .await
            .map_err(|e| fail(name, e))?
            .is_some();
        if !applied {
            let script = format!(
                "begin;\n{sql}\ninsert into rockon_devserver.migrations (name) values ('{name}');\ncommit;"
            );
            client
                .batch_execute(&script)
                .await
                .map_err(|e| fail(name, e))?;
        }
    }
    client
        .batch_execute(DEVSERVER)
        .await
        .map_err(|e| fail("dev server objects", e))?;
    if seed {
        let users: i64 = client
            .query_one("select count(*) from auth.users", &[])
            .await
            .map_err(|e| fail("seed", e))?
            .get(0);
        if users == 0 {
            client
                .batch_execute(&format!("begin;\n{SEED}\ncommit;"))
                .await
                .map_err(|e| fail("seed", e))?;
        }
    }
    Ok(())
}

/// An error's database message, with detail when there is one.
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => error.to_string(),
    }
}
