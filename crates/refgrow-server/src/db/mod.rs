//! Storage: one diesel code path over SQLite and PostgreSQL.
//!
//! [`DbConn`] is a diesel `MultiConnection` over both backends. [`Db`] holds the pools: on
//! SQLite a single writer connection (one writer beats a pool of writers that only wait on
//! each other's locks) and a few readers, in WAL mode; on PostgreSQL one pool serves both.
//! Queries are plain functions taking `&mut DbConn`, one module per table, so they compose
//! inside `conn.transaction(|c| …)`. Blocking calls run on actix's blocking thread pool.

pub mod checkpoint;
pub mod health;
pub mod sale_batch;
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

/// Inserts a slice of rows (insertable tuples or structs) into a table, answering how many
/// were inserted: on SQLite one single-row `INSERT` per row, whose prepared statement diesel
/// keeps (a multi-row `INSERT`'s SQL varies with its length, so SQLite parsed and planned it
/// again on every call: 7% of the writer thread's time under sales, perf); on PostgreSQL one
/// multi-row `INSERT`, one round trip.
macro_rules! insert_all {
    ($c:expr, $table:expr, $rows:expr) => {
        match $c {
            $crate::db::DbConn::Sqlite(c) => $rows.iter().try_fold(0usize, |n, row| {
                diesel::insert_into($table)
                    .values(row.clone())
                    .execute(c)
                    .map(|k| n + k)
            }),
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
}
pub(crate) use insert_all;

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

/// libpq settings added to a PostgreSQL URL that does not set them: a connection attempt
/// gives up after 5 s, and TCP keepalives notice a server that vanished without closing
/// its connections (a network partition) in about half a minute instead of never.
const PG_DEFAULTS: [(&str, &str); 4] = [
    ("connect_timeout", "5"),
    ("keepalives_idle", "15"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "3"),
];

/// The URL with `PG_DEFAULTS` for the parameters it leaves out.
pub fn with_pg_defaults(conninfo: &str) -> String {
    let Ok(mut url) = url::Url::parse(conninfo) else {
        return conninfo.to_string();
    };
    let given: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let missing: Vec<(&str, &str)> = PG_DEFAULTS
        .iter()
        .filter(|(k, _)| !given.iter().any(|g| g == k))
        .copied()
        .collect();
    if missing.is_empty() {
        return conninfo.to_string();
    }
    url.query_pairs_mut().extend_pairs(missing);
    url.to_string()
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

    /// Opens one connection outside any pool (the prober and the first connection).
    pub fn open(&self) -> Result<DbConn, DbSetupError> {
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
                let c = PgConnection::establish(&with_pg_defaults(&self.target.conninfo)).map_err(
                    |e| DbSetupError::Connect {
                        backend: "PostgreSQL",
                        reason: e.to_string().trim().to_string(),
                    },
                )?;
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

    /// A connection is never reused when a panic unwinds through its holder, when it was
    /// left inside a transaction (a panic unwound through `transaction`, so neither COMMIT
    /// nor ROLLBACK ran), or when diesel's transaction manager is in its error state (a
    /// rollback that failed, typically on a connection that died mid-transaction): r2d2
    /// drops it, and PostgreSQL rolls the transaction back when the connection closes. A
    /// connection whose server went away is caught by `is_valid` at the next checkout.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking()
            || mid_transaction(conn)
            || match conn {
                DbConn::Pg(c) => c.is_broken(),
                DbConn::Sqlite(c) => c.is_broken(),
            }
    }
}

/// Whether a connection is inside a transaction or in a broken transaction state.
pub fn mid_transaction(conn: &mut DbConn) -> bool {
    use diesel::connection::TransactionManager;
    type Tm = <DbConn as Connection>::TransactionManager;
    !matches!(
        Tm::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(None)
    )
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
    /// PostgreSQL's sale writers (None on SQLite).
    sales: Option<sale_batch::SaleBatcher>,
    /// The circuit breaker (see [`health`]).
    pub health: health::Health,
    manager: ConnectionManager,
    /// SQLite's checkpoint thread, while any clone lives (None on PostgreSQL and for an
    /// in-memory database).
    _checkpointer: Option<checkpoint::Checkpointer>,
}

/// How long a call waits for a pooled connection by default before its 503.
pub const DEFAULT_POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// Settings of [`Db::connect_with`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// How long a call waits for a pooled connection before its 503.
    pub pool_timeout: Duration,
    /// PostgreSQL: threads writing sales in batches ([`sale_batch`]).
    pub sale_writers: usize,
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        DbOptions {
            pool_timeout: DEFAULT_POOL_TIMEOUT,
            sale_writers: sale_batch::WRITERS,
        }
    }
}

impl Db {
    /// Connects, prepares SQLite (WAL) and runs pending migrations.
    pub fn connect(url: &str) -> Result<Db, DbSetupError> {
        Db::connect_with(url, &DbOptions::default())
    }

    /// [`Db::connect`] with settings other than the defaults.
    pub fn connect_with(url: &str, options: &DbOptions) -> Result<Db, DbSetupError> {
        let pool_timeout = options.pool_timeout;
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
        let build_with = |size: u32, writer: bool| {
            let builder = r2d2::Pool::builder();
            let builder = if writer {
                builder.connection_customizer(Box::new(checkpoint::WriterPragmas))
            } else {
                builder
            };
            builder
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(pool_timeout.max(Duration::from_millis(100)))
                .test_on_check_out(false)
                .build(manager.clone())
                .map_err(|e| DbSetupError::Connect {
                    backend: match target.backend {
                        Backend::Sqlite => "SQLite",
                        Backend::Postgres => "PostgreSQL",
                    },
                    reason: e.to_string(),
                })
        };
        let build = |size: u32| build_with(size, false);
        let (read, write) = match target.backend {
            Backend::Sqlite => (build(4)?, build_with(1, true)?),
            Backend::Postgres => {
                let p = build(12)?;
                (p.clone(), p)
            }
        };
        let on_file = !target.conninfo.starts_with(':') && !target.conninfo.contains("memory");
        let _checkpointer = match target.backend {
            Backend::Sqlite if on_file => Some(checkpoint::start(manager.clone()).map_err(
                |e| DbSetupError::Connect {
                    backend: "SQLite",
                    reason: format!("cannot start the checkpoint thread: {e}"),
                },
            )?),
            _ => None,
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
        let sales = match target.backend {
            Backend::Postgres => Some(
                sale_batch::SaleBatcher::start(write.clone(), options.sale_writers).map_err(
                    |e| DbSetupError::Connect {
                        backend: "PostgreSQL",
                        reason: format!("cannot start the sale writers: {e}"),
                    },
                )?,
            ),
            Backend::Sqlite => None,
        };
        Ok(Db {
            backend: target.backend,
            read,
            write,
            writer,
            sales,
            health: health::Health::default(),
            manager,
            _checkpointer,
        })
    }

    /// Starts the prober that closes the breaker when the database is back (call once,
    /// inside the runtime).
    pub fn spawn_prober(&self) {
        health::spawn_prober(self.health.clone(), self.manager.clone());
    }

    /// Whether the breaker is open (the database is known to be down).
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    /// Fails at once while the breaker is open; opens it on errors that say the database
    /// is unreachable.
    async fn guard<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        if self.health.is_down() {
            let mut e = ApiError::new(
                refgrow_types::ErrorCode::ServiceUnavailable,
                "The database is not reachable right now; retry shortly",
            );
            e.retry_after = Some(health::RETRY_AFTER_SECS);
            return Err(e);
        }
        let result = call.await;
        if let Err(e) = &result {
            if e.is_db_down() {
                self.health.trip(&e.message);
            }
        }
        result
    }

    /// Runs `f` on a reading connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.read.clone();
        self.guard(run_blocking(pool, f)).await
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
            Some(w) => self.guard(w.write(f)).await,
            // Rollup rows are written last and in one order (no deadlocks between money
            // writes of two replicas): see [`rollups::deferred`].
            None => {
                self.guard(run_blocking(self.write.clone(), move |c| {
                    c.transaction(|c| rollups::deferred(c, f))
                }))
                .await
            }
        }
    }

    /// Whether sales can be written by [`Db::write_sale`] (PostgreSQL).
    pub fn batches_sales(&self) -> bool {
        self.sales.is_some()
    }

    /// Queues a sale to be planned and written with others in one statement (see
    /// [`sale_batch`]); answers once it is committed, or once its plan failed or answered
    /// that it needs a transaction. `affiliate`: (program id, affiliate id) whose sale
    /// context the writer reads for the plan with the batch. PostgreSQL only: on SQLite
    /// ([`Db::batches_sales`] false) sales go through [`Db::write`].
    pub async fn write_sale(
        &self,
        affiliate: Option<(String, String)>,
        plan: sale_batch::Plan,
    ) -> Result<sale_batch::Outcome, ApiError> {
        match &self.sales {
            Some(b) => self.guard(b.write(affiliate, plan)).await,
            None => Err(ApiError::internal("sale batches are for PostgreSQL")),
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
        let mut conn = pool.get().map_err(pool_error)?;
        // A panic inside `f` (a bug) must not hand the connection back mid-transaction:
        // catch it, and drop the connection from the pool unless it is cleanly outside any
        // transaction ([`ConnectionManager::has_broken`] checks the same on return).
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn)));
        match outcome {
            Ok(r) => r,
            Err(_) => {
                if mid_transaction(&mut conn) {
                    let _ = conn.batch_execute("ROLLBACK");
                }
                Err(ApiError::internal(
                    "the request failed inside the database layer",
                ))
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
}

/// A pool checkout that timed out: the database is down when the pool's last attempt to
/// connect failed (r2d2 adds that error to its message); otherwise every connection was
/// busy, which is load, not an outage.
fn pool_error(e: r2d2::Error) -> ApiError {
    if e.to_string().trim() == "timed out waiting for connection" {
        ApiError::busy("every database connection is in use")
    } else {
        ApiError::unavailable(e)
    }
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

/// Runs an insert [`guarded`], and answers whether it inserted: false when a unique
/// constraint says the row is there already (the caller's transaction stays usable).
pub fn insert_unless_taken(
    c: &mut DbConn,
    insert: impl FnOnce(&mut DbConn) -> QueryResult<usize>,
) -> QueryResult<bool> {
    match guarded(c, insert) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
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

    /// A connection left inside a transaction (or with diesel's transaction manager in its
    /// error state) is never handed out again.
    #[test]
    fn connections_left_in_a_transaction_are_never_reused() {
        use diesel::connection::TransactionManager;
        use r2d2::ManageConnection;
        let mut urls = vec!["sqlite://:memory:".to_string()];
        if let Ok(pg) = std::env::var("REFGROW_TEST_DATABASE_URL") {
            if !pg.trim().is_empty() {
                urls.push(pg);
            }
        }
        for url in urls {
            let m = ConnectionManager::new(parse_database_url(&url).unwrap());
            let mut c = m.open().unwrap();
            assert!(!m.has_broken(&mut c), "{url}");
            <DbConn as Connection>::TransactionManager::begin_transaction(&mut c).unwrap();
            assert!(m.has_broken(&mut c), "{url}: left in a transaction");
            <DbConn as Connection>::TransactionManager::rollback_transaction(&mut c).unwrap();
            assert!(!m.has_broken(&mut c), "{url}");
            // A failed transaction leaves nothing open.
            let r: QueryResult<()> = c.transaction(|c| {
                c.batch_execute("SELECT no_such_column FROM no_such_table")?;
                Ok(())
            });
            assert!(r.is_err());
            assert!(!m.has_broken(&mut c), "{url}");
        }
    }

    #[test]
    fn postgres_urls_get_timeouts_unless_they_set_them() {
        let u = with_pg_defaults("postgres://u@h:5432/db");
        assert!(
            u.contains("connect_timeout=5") && u.contains("keepalives_idle=15"),
            "{u}"
        );
        let u = with_pg_defaults("postgres://u@h/db?connect_timeout=30");
        assert!(
            u.contains("connect_timeout=30") && !u.contains("connect_timeout=5"),
            "{u}"
        );
        assert!(u.contains("keepalives_count=3"), "{u}");
    }
}

pub mod affiliates;
pub mod api_keys;
pub mod audit;
pub mod clicks;
pub mod commissions;
pub mod conversions;
pub mod customers;
pub mod embed;
pub mod events;
pub mod idempotency;
pub mod invitations;
pub mod mail;
pub mod payouts;
pub mod programs;
pub mod refunds;
pub mod rollups;
pub mod sales;
pub mod stats;
pub mod stats_deltas;
pub mod stripe;
pub mod webhooks;
