//! Storage: one diesel code path over SQLite and PostgreSQL.
//!
//! [`DbConn`] is a diesel `MultiConnection` over both backends. [`Db`] holds the pools: on
//! SQLite a single writer connection (one writer beats a pool of writers that only wait on
//! each other's locks) and a few readers, in WAL mode; on PostgreSQL one pool serves both.
//! Queries are plain functions taking `&mut DbConn`, one module per table, so they compose
//! inside `conn.transaction(|c| …)`. Blocking calls run on actix's blocking thread pool.

pub mod schema;
pub mod sqlite_setup;
pub mod writer;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::result::QueryResult;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;

mod conn {
    // The derive generates undocumented helper items beside the enum.
    #![allow(missing_docs)]
    use diesel::pg::PgConnection;
    use diesel::sqlite::SqliteConnection;

    /// A connection to either backend; every query in the crate is written against it.
    #[derive(diesel::MultiConnection)]
    pub enum DbConn {
        /// PostgreSQL.
        Pg(PgConnection),
        /// SQLite.
        Sqlite(SqliteConnection),
    }
}
pub use conn::DbConn;

/// Runs one diesel query on the concrete connection inside a [`DbConn`]: the body is
/// compiled once per backend, with `$conn` a `&mut SqliteConnection` or `&mut PgConnection`.
///
/// A query sent through the `MultiConnection` enum is written out as SQL text on every call
/// (that text is how its prepared statement is found again); the same query on a concrete
/// connection is found by its Rust type, with no SQL built at all. On SQLite's single writer
/// that difference was about a fifth of the time of a conversion (perf, `bench-tracking`),
/// so the statements of the write path use this; the rest go through [`DbConn`] as usual.
macro_rules! direct {
    ($c:expr, |$conn:ident| $body:expr) => {
        match $c {
            $crate::db::DbConn::Sqlite($conn) => $body,
            $crate::db::DbConn::Pg($conn) => $body,
        }
    };
}
pub(crate) use direct;

/// An `UPDATE table SET … WHERE …` whose prepared statement diesel keeps.
///
/// diesel never reuses the prepared statement of its own `UPDATE` (a changeset may leave out
/// `None` fields, so the text of one Rust type may vary between calls), which made every
/// update on the write path parse and plan its SQL again: the largest single cost of a
/// conversion on SQLite's writer once statements were no longer re-prepared (perf,
/// `bench-tracking`). This statement is made of the same parts (the table, a changeset, a
/// filter), so its SQL is the same, but it lets diesel cache it under its SQL text: the
/// text is still written out per call (a microsecond), the statement is prepared once.
#[derive(Debug, Clone, Copy)]
pub struct FixedUpdate<F, V, W> {
    from: F,
    values: V,
    filter: W,
}

/// `UPDATE table SET values WHERE filter`, cached (see [`FixedUpdate`]).
pub fn fixed_update<T, C, W>(
    table: T,
    filter: W,
    values: C,
) -> FixedUpdate<T::FromClause, C::Changeset, W>
where
    T: diesel::Table,
    C: diesel::AsChangeset<Target = T>,
{
    FixedUpdate {
        from: diesel::QuerySource::from_clause(&table),
        values: values.as_changeset(),
        filter,
    }
}

impl<F, V, W, DB> diesel::query_builder::QueryFragment<DB> for FixedUpdate<F, V, W>
where
    DB: diesel::backend::Backend,
    F: diesel::query_builder::QueryFragment<DB>,
    V: diesel::query_builder::QueryFragment<DB>,
    W: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.values.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

/// No static id (its parts have none): diesel keys the cached statement by its SQL text,
/// which is always right, whatever the changeset leaves out.
impl<F, V, W> diesel::query_builder::QueryId for FixedUpdate<F, V, W> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<F, V, W, Conn> diesel::query_dsl::RunQueryDsl<Conn> for FixedUpdate<F, V, W> {}

/// Which database a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// The PostgreSQL migrations, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A database URL that was understood: the backend and what to hand its driver.
#[derive(Debug, Clone)]
pub struct DbTarget {
    /// The backend.
    pub backend: Backend,
    /// For SQLite a file path (or `:memory:`), for PostgreSQL the URL as given.
    pub conninfo: String,
}

/// Why the database could not be used. Each message names the URL's part at fault.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    /// The URL is not one we understand.
    #[error("DATABASE_URL {0}")]
    BadUrl(String),
    /// The backend refused or could not be reached.
    #[error("cannot connect to the {backend} database: {reason}")]
    Connect {
        /// "SQLite" or "PostgreSQL".
        backend: &'static str,
        /// The driver's message.
        reason: String,
    },
    /// A migration failed.
    #[error("migrating the database failed: {0}")]
    Migrate(String),
}

/// Parses `DATABASE_URL`: `sqlite://FILE`, `sqlite:FILE`, a bare `*.db` path, or
/// `postgres://…`/`postgresql://…`.
pub fn parse_database_url(url: &str) -> Result<DbTarget, DbSetupError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(DbSetupError::BadUrl("is empty".into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let lower = url.to_ascii_lowercase();
        for mode in [
            "sslmode=require",
            "sslmode=verify-ca",
            "sslmode=verify-full",
        ] {
            if lower.contains(mode) {
                return Err(DbSetupError::BadUrl(format!(
                    "asks for {mode}, but this build's libpq has no TLS (pq-sys \
                     bundled_without_openssl). Reach PostgreSQL over a trusted network or a \
                     local TLS tunnel (stunnel, pgbouncer, a cloud SQL proxy) and drop sslmode; \
                     see README.md, 'PostgreSQL and TLS'"
                )));
            }
        }
        return Ok(DbTarget {
            backend: Backend::Postgres,
            conninfo: url.to_string(),
        });
    }
    let path = if let Some(p) = url.strip_prefix("sqlite://") {
        p
    } else if let Some(p) = url.strip_prefix("sqlite:") {
        p
    } else if url.contains("://") {
        let scheme = url.split("://").next().unwrap_or_default();
        return Err(DbSetupError::BadUrl(format!(
            "has the scheme '{scheme}', which is not supported: use sqlite://FILE or \
             postgres://USER@HOST/DB"
        )));
    } else {
        url
    };
    if path.is_empty() {
        return Err(DbSetupError::BadUrl(
            "names no SQLite file: use sqlite://refgrow.db".into(),
        ));
    }
    Ok(DbTarget {
        backend: Backend::Sqlite,
        conninfo: path.to_string(),
    })
}

/// Opens connections for r2d2, backend chosen once from the URL, with clear errors.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DbTarget,
}

/// Per-connection SQLite settings: wait for locks instead of failing, then the rest.
const SQLITE_CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -20000; \
     PRAGMA temp_store = MEMORY;";

impl ConnectionManager {
    /// A manager for the target.
    pub fn new(target: DbTarget) -> Self {
        ConnectionManager { target }
    }

    fn open(&self) -> Result<DbConn, DbSetupError> {
        match self.target.backend {
            Backend::Sqlite => {
                sqlite_setup::install();
                let mut c = SqliteConnection::establish(&self.target.conninfo).map_err(|e| {
                    DbSetupError::Connect {
                        backend: "SQLite",
                        reason: format!("{} ({})", e, self.target.conninfo),
                    }
                })?;
                c.batch_execute(SQLITE_CONNECTION_PRAGMAS)
                    .map_err(|e| DbSetupError::Connect {
                        backend: "SQLite",
                        reason: e.to_string(),
                    })?;
                Ok(DbConn::Sqlite(c))
            }
            Backend::Postgres => {
                let c = PgConnection::establish(&self.target.conninfo).map_err(|e| {
                    DbSetupError::Connect {
                        backend: "PostgreSQL",
                        reason: e.to_string().trim().to_string(),
                    }
                })?;
                Ok(DbConn::Pg(c))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = DbSetupError;

    fn connect(&self) -> Result<DbConn, DbSetupError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbSetupError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| DbSetupError::Connect {
                backend: "database",
                reason: e.to_string(),
            })
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// An r2d2 pool of [`DbConn`].
pub type Pool = r2d2::Pool<ConnectionManager>;

/// The pools, and which backend is behind them.
#[derive(Clone)]
pub struct Db {
    /// The backend.
    pub backend: Backend,
    read: Pool,
    write: Pool,
    /// SQLite's group-commit writer (None on PostgreSQL).
    writer: Option<writer::Writer>,
}

impl Db {
    /// Connects, prepares SQLite (WAL) and runs pending migrations.
    pub fn connect(url: &str) -> Result<Db, DbSetupError> {
        let target = parse_database_url(url)?;
        let manager = ConnectionManager::new(target.clone());
        // Fail fast with the driver's own message (wrong password, no such host, ...).
        let mut first = manager.open()?;
        if let DbConn::Sqlite(c) = &mut first {
            // WAL is a property of the file: set it once, after busy_timeout.
            c.batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(|e| DbSetupError::Connect {
                    backend: "SQLite",
                    reason: e.to_string(),
                })?;
        }
        run_migrations(&mut first)?;
        drop(first);
        let build = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(10))
                .build(manager.clone())
                .map_err(|e| DbSetupError::Connect {
                    backend: match target.backend {
                        Backend::Sqlite => "SQLite",
                        Backend::Postgres => "PostgreSQL",
                    },
                    reason: e.to_string(),
                })
        };
        let (read, write) = match target.backend {
            Backend::Sqlite => (build(4)?, build(1)?),
            Backend::Postgres => {
                let p = build(12)?;
                (p.clone(), p)
            }
        };
        let writer =
            match target.backend {
                Backend::Sqlite => Some(writer::Writer::start(write.clone()).map_err(|e| {
                    DbSetupError::Connect {
                        backend: "SQLite",
                        reason: format!("cannot start the writer thread: {e}"),
                    }
                })?),
                Backend::Postgres => None,
            };
        Ok(Db {
            backend: target.backend,
            read,
            write,
            writer,
        })
    }

    /// Runs `f` on a reading connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.read.clone();
        run_blocking(pool, f).await
    }

    /// Runs `f` in a transaction of its own, off the async threads, and answers once it is
    /// committed. On SQLite it is a savepoint of a group commit (see [`writer`]); on
    /// PostgreSQL a pooled connection.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(w) => w.write(f).await,
            None => run_blocking(self.write.clone(), move |c| c.transaction(f)).await,
        }
    }

    /// A writing connection for synchronous callers (the CLI, jobs already off the runtime).
    pub fn write_conn(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, ApiError> {
        self.write.get().map_err(ApiError::unavailable)
    }

    /// Pool figures for `/metrics`: (connections, idle) of the reading and writing pools.
    pub fn pool_state(&self) -> [(u32, u32); 2] {
        let r = self.read.state();
        let w = self.write.state();
        [
            (r.connections, r.idle_connections),
            (w.connections, w.idle_connections),
        ]
    }
}

async fn run_blocking<T, F>(pool: Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(ApiError::unavailable)?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
}

/// Runs the pending migrations of the connection's backend. On PostgreSQL an advisory lock
/// keeps replicas that start together from migrating at the same time.
pub fn run_migrations(conn: &mut DbConn) -> Result<(), DbSetupError> {
    match conn {
        DbConn::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| DbSetupError::Migrate(e.to_string())),
        DbConn::Pg(c) => {
            c.batch_execute("SELECT pg_advisory_lock(727100)")
                .map_err(|e| DbSetupError::Migrate(e.to_string()))?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| DbSetupError::Migrate(e.to_string()));
            let _ = c.batch_execute("SELECT pg_advisory_unlock(727100)");
            result
        }
    }
}

/// Runs a statement that may fail on a constraint (a duplicate) so that the failure leaves
/// the enclosing transaction usable: on PostgreSQL inside a savepoint (a failed statement
/// aborts the whole transaction there); on SQLite as it is, since SQLite rolls back only the
/// failed statement, and a savepoint per insert is measurable on the write path.
pub fn guarded<T>(c: &mut DbConn, f: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> QueryResult<T> {
    match c {
        DbConn::Sqlite(_) => f(c),
        DbConn::Pg(_) => c.transaction(f),
    }
}

/// Whether a diesel error is a unique-constraint violation (a duplicate).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many statements a connection prepared for its cache while `f` ran.
    fn statements_cached(f: impl FnOnce(&mut DbConn)) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let mut sqlite = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .expect("migrations");
        let cached = Arc::new(AtomicUsize::new(0));
        let seen = cached.clone();
        sqlite.set_instrumentation(move |e: diesel::connection::InstrumentationEvent<'_>| {
            if let diesel::connection::InstrumentationEvent::CacheQuery { .. } = e {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        });
        let mut c = DbConn::Sqlite(sqlite);
        f(&mut c);
        cached.load(Ordering::Relaxed)
    }

    #[test]
    fn fixed_updates_are_prepared_once() {
        // Three runs of each of the write path's updates: one statement each in the cache.
        let n = statements_cached(|c| {
            for _ in 0..3 {
                affiliates::bump_counters(c, "aff_x", 1, 0, 0).expect("bump");
                rollups::add(c, "prg_x", "aff_x", 0, "USD", rollups::Delta::default())
                    .expect("rollup");
            }
        });
        // bump; rollup update; rollup insert (the row is new: twice, affiliate's and the
        // program's); later runs find both rows and only update.
        assert_eq!(n, 3);
        // diesel's own UPDATE is never cached: this is why [`FixedUpdate`] exists.
        let plain = statements_cached(|c| {
            use diesel::prelude::*;
            use schema::affiliates as a;
            for _ in 0..3 {
                direct!(c, |c| diesel::update(a::table.find("aff_x"))
                    .set(a::click_count.eq(a::click_count + 1))
                    .execute(c))
                .expect("update");
            }
        });
        assert_eq!(plain, 0);
    }

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            parse_database_url("sqlite://refgrow.db").unwrap().backend,
            Backend::Sqlite
        );
        assert_eq!(
            parse_database_url("sqlite://refgrow.db").unwrap().conninfo,
            "refgrow.db"
        );
        assert_eq!(
            parse_database_url("data/x.db").unwrap().backend,
            Backend::Sqlite
        );
        assert_eq!(
            parse_database_url("postgres://u@localhost/db")
                .unwrap()
                .backend,
            Backend::Postgres
        );
        let e = parse_database_url("mysql://x").unwrap_err().to_string();
        assert!(e.contains("'mysql'"), "{e}");
        let e = parse_database_url("postgres://h/db?sslmode=require")
            .unwrap_err()
            .to_string();
        assert!(e.contains("TLS"), "{e}");
        assert!(parse_database_url("").is_err());
    }
}

pub mod affiliates;
pub mod api_keys;
pub mod commissions;
pub mod conversions;
pub mod customers;
pub mod embed;
pub mod events;
pub mod idempotency;
pub mod invitations;
pub mod payouts;
pub mod programs;
pub mod rollups;
pub mod stats;
pub mod webhooks;
