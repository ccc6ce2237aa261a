//! Storage: one diesel code path over SQLite (embedded default) and
//! PostgreSQL (`--features postgres`). Models own their queries; handlers
//! never write diesel DSL. Backend-specific SQL lives in this file and, for
//! the daily rewrite of the physical layout, in `layout.rs`.

mod attachments;
mod group;
mod layout;
mod models;
mod outbox;
mod retention;
pub mod schema;
mod submissions;
mod types;
mod workspace;

/// The workflow's rules moved to `service::workflow`; these names stay for
/// callers not yet moved there.
pub use attachments::{Attachment, ClaimError, ClaimErrorOr, CHUNK_BYTES, MAX_PER_CLAIM};
pub use layout::Layout;
pub use models::{Case, EntryKind, EntryRow, NewCase, NewEntry};
pub use outbox::{Backlog, DeadlineCounts, Outbox, OutboxKind, OutboxRow};
pub use retention::{PurgedFigure, Retention};
pub use submissions::{Submission, SUBMISSION_DAYS};
pub use types::UnknownStoredValue;
pub use workspace::{
    Challenge, InboxPage, Journal, JournalAction, LoginProof, LoginSeed, SessionRow,
};

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use diesel::{
    connection::{SimpleConnection, TransactionManager},
    Connection, RunQueryDsl,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use secrecy::ExposeSecret;

use crate::config::DatabaseSetting;

#[cfg(not(feature = "postgres"))]
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
}

#[cfg(feature = "postgres")]
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Durable commits (a report is on disk before its receipt is shown),
/// foreign keys, deleted content overwritten rather than left in free pages,
/// and temporary data in memory: the copies of pages that let a grouped
/// write's savepoint roll back, sorts, and VACUUM's copy never go to a file
/// under the system's temporary folder, deleted but not overwritten (and
/// written a page at a time, which cost more than the commits themselves).
/// The journal mode is not here: it is a property of the file, set once by
/// [`connect`] before the pool opens its connections ([`SQLITE_WAL`]).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA secure_delete = ON;
PRAGMA temp_store = MEMORY;";

/// Switches a database file to write-ahead logging. Switching takes the
/// file's exclusive lock without waiting in the busy handler: run by several
/// new connections at once, as a pool opens them, some would fail with
/// "database is locked". [`connect`] runs it on one connection first.
const SQLITE_WAL: &str = "PRAGMA journal_mode = WAL;";

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migrations failed: {0}")]
    Migration(String),
    #[error("{}", pool_cause(.0))]
    Pool(#[from] r2d2::Error),
    #[error("cannot create the database folder: {0}")]
    Folder(#[from] std::io::Error),
    #[error("the blocking thread pool is gone")]
    Blocking,
    /// The work was done and the commit sent, but its answer never came
    /// (the connection broke): the transaction may or may not be durable.
    #[error("the outcome of the commit is unknown")]
    OutcomeUnknown,
    /// A grouped write found no connection (the pool's reason): nothing of
    /// it was stored.
    #[error("{0}")]
    NoConnection(String),
}

/// Runs one insert in a savepoint: `false` when it hit a unique key (the
/// row was there already), without aborting the caller's transaction, as
/// PostgreSQL would otherwise.
pub(crate) fn insert_once(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<usize>,
) -> diesel::QueryResult<bool> {
    match conn.transaction(insert) {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What a pool time-out means: the database could not be reached (with the
/// last connection error), or every connection stayed in use.
fn pool_cause(e: &r2d2::Error) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((_, cause)) => format!(
            "the database cannot be reached within {} s: {cause}",
            POOL_WAIT.as_secs()
        ),
        None => format!(
            "no database connection came free within {} s: all were in use",
            POOL_WAIT.as_secs()
        ),
    }
}

/// Logs why the pool could not open a connection, with its cause, instead
/// of r2d2's default line: once per cause and minute, since the pool keeps
/// trying while the database is down.
#[derive(Debug)]
struct ConnectionErrors {
    /// Failures since the pool was built, shared with [`Db`].
    count: Arc<std::sync::atomic::AtomicU64>,
    last: Mutex<Option<(String, std::time::Instant)>>,
}

impl r2d2::HandleError<DbError> for ConnectionErrors {
    fn handle_error(&self, error: DbError) {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cause = error.to_string();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let repeat = last
            .as_ref()
            .is_some_and(|(seen, at)| *seen == cause && at.elapsed() < Duration::from_secs(60));
        if !repeat {
            tracing::warn!(%cause, "a database connection failed");
            *last = Some((cause, std::time::Instant::now()));
        }
    }
}

/// How long a request waits for a database connection before it is told
/// the service is unavailable: short, so that an outage answers fast.
pub const POOL_WAIT: Duration = Duration::from_secs(2);

/// Opens connections of the configured backend. Unlike `establish` on the
/// multi-connection, it never guesses the backend from the URL.
#[derive(Debug, Clone)]
pub struct Manager {
    setting: DatabaseSetting,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        match &self.setting {
            DatabaseSetting::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConnection::Sqlite(conn))
            }
            #[cfg(feature = "postgres")]
            DatabaseSetting::Postgres(url) => {
                let conn = diesel::PgConnection::establish(url.expose_secret())?;
                Ok(DbConnection::Pg(conn))
            }
            #[cfg(not(feature = "postgres"))]
            DatabaseSetting::Postgres(url) => {
                let _ = url.expose_secret();
                Err(DbError::Connect(diesel::ConnectionError::BadConnection(
                    "this build has no PostgreSQL support".into(),
                )))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    /// A connection that comes back inside a transaction, or whose
    /// transaction state diesel lost, or from a thread that panicked, is
    /// closed rather than reused: reused, its open transaction would hold
    /// SQLite's write lock and swallow the next writes into savepoints that
    /// are never committed.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || Tx::is_broken_transaction_manager(conn)
    }
}

/// The connection pool and how writes are made.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// On SQLite, writers queue here rather than in SQLite's busy handler,
    /// whose sleeps would add tens of milliseconds to the slowest requests.
    /// SQLite allows one writer at a time anyway.
    sqlite_writes: Option<Arc<Mutex<()>>>,
    /// On SQLite, the writes waiting to be committed together.
    group: Option<Arc<group::Group>>,
    /// Connections the pool could not open since it was built.
    failures: Arc<std::sync::atomic::AtomicU64>,
}

impl Db {
    /// How many connections the pool could not open since it was built
    /// (its own attempts in the background included).
    pub fn connection_failures(&self) -> u64 {
        self.failures.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn conn(&self) -> Result<PooledConnection, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `work` with a connection on the blocking thread pool, off the
    /// async threads: the one way handlers reach the database.
    pub async fn run<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        crate::blocking::run(move || {
            let mut conn = db.conn()?;
            work(&mut conn)
        })
        .await
        .unwrap_or_else(|_| Err(DbError::Blocking.into()))
    }

    /// Runs `work` in one transaction; when this returns `Ok`, the commit is
    /// durable.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T>,
    ) -> Result<T, DbError> {
        self.try_write(|conn| work(conn).map_err(DbError::Query))
    }
}

impl Db {
    /// On SQLite, this process's turn to write, held until dropped.
    fn sqlite_turn(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.sqlite_writes
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Like [`Db::write`], for work with its own error type.
    pub fn try_write<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<DbError> + std::fmt::Debug,
    {
        let _turn = self.sqlite_turn();
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        let sqlite = self.sqlite_writes.is_some();
        // `Connection::transaction`, spelt out so that a failed commit can be
        // told apart from a failed piece of work, and read.
        begin_write(conn, sqlite)?;
        match work(conn) {
            Ok(value) => match commit(conn, sqlite) {
                Ok(()) => Ok(value),
                Err(CommitFailed::Refused(e)) => Err(e.into()),
                Err(CommitFailed::Unknown) => Err(DbError::OutcomeUnknown.into()),
            },
            Err(work_error) => match Tx::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(work_error),
                Err(rollback_error) => Err(rollback_error.into()),
            },
        }
    }
}

/// The transaction manager of a connection, driven by hand where a failed
/// commit must be told apart from failed work.
type Tx = <DbConnection as Connection>::TransactionManager;

/// Begins a write transaction; on SQLite it takes the write lock first.
fn begin_write(conn: &mut DbConnection, sqlite: bool) -> diesel::QueryResult<()> {
    Tx::begin_transaction(conn)?;
    if sqlite {
        if let Err(e) = take_write_lock(conn) {
            let _ = Tx::rollback_transaction(conn);
            return Err(e);
        }
    }
    Ok(())
}

/// Why a commit failed.
enum CommitFailed {
    /// Nothing of the transaction was kept.
    Refused(diesel::result::Error),
    /// It may have been kept: the answer was lost (logged here).
    Unknown,
}

/// Commits the open transaction and says how a failure ended. On SQLite a
/// full disk (or a lock) refuses the commit before anything is durable; an
/// I/O error may come after the commit record was written, and on
/// PostgreSQL any failure may come after the server committed, the answer
/// being lost.
fn commit(conn: &mut DbConnection, sqlite: bool) -> Result<(), CommitFailed> {
    let Err(e) = Tx::commit_transaction(conn) else {
        return Ok(());
    };
    let refused = match &e {
        diesel::result::Error::DatabaseError(_, info) if sqlite => {
            let message = info.message();
            message.contains("database or disk is full") || message.contains("database is locked")
        }
        _ => false,
    };
    if refused {
        Err(CommitFailed::Refused(e))
    } else {
        tracing::error!(error = %e, "the commit failed: its outcome is unknown");
        Err(CommitFailed::Unknown)
    }
}

/// On SQLite, takes the write lock as the transaction's first step, as
/// `BEGIN IMMEDIATE` would. A transaction that read first and wrote later
/// would fail at once ("database is locked") if another process (`vigie
/// purge`, a second server) wrote in between, since SQLite cannot wait for
/// a lock on a snapshot that is already stale; taken first, the lock waits
/// in the busy handler like any other.
fn take_write_lock(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("UPDATE __diesel_schema_migrations SET version = version WHERE 0")
        .execute(conn)?;
    Ok(())
}

/// Builds the pool, creating the SQLite folder when needed, and runs the
/// embedded migrations.
pub fn connect(setting: &DatabaseSetting, size: u32) -> Result<Db, DbError> {
    if let DatabaseSetting::Sqlite(path) = setting {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                crate::private_fs::create_dir(parent)?;
            }
        }
        // An empty file is a valid new database; SQLite then gives its WAL
        // and shared-memory files the database file's mode. An existing
        // database is never opened here, only narrowed by path: closing a
        // descriptor of a database file drops every POSIX lock this process
        // holds on it, which would let another process write under the feet
        // of this one's SQLite connections.
        crate::private_fs::create_or_restrict(path)?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            crate::private_fs::restrict_if_present(std::path::Path::new(&side))?;
        }
    }
    let manager = Manager {
        setting: setting.clone(),
    };
    // One connection first: it makes the file a WAL database and runs the
    // migrations before the pool opens its own connections side by side.
    {
        use r2d2::ManageConnection;
        let mut first = manager.connect()?;
        if matches!(setting, DatabaseSetting::Sqlite(_)) {
            first.batch_execute(SQLITE_WAL)?;
        }
        run_migrations(&mut first)?;
    }
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pool = r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(POOL_WAIT)
        .error_handler(Box::new(ConnectionErrors {
            count: failures.clone(),
            last: Mutex::default(),
        }))
        .build(manager)?;
    let sqlite_writes =
        matches!(setting, DatabaseSetting::Sqlite(_)).then(|| Arc::new(Mutex::new(())));
    let group = sqlite_writes.as_ref().map(|_| Arc::default());
    Ok(Db {
        pool,
        sqlite_writes,
        group,
        failures,
    })
}

/// Applies pending migrations. On PostgreSQL an advisory lock keeps several
/// instances starting together from running them twice.
pub fn run_migrations(conn: &mut DbConnection) -> Result<(), DbError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(err)?;
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => {
            c.batch_execute("SELECT pg_advisory_lock(5647291)")?;
            let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            c.batch_execute("SELECT pg_advisory_unlock(5647291)")?;
            result.map_err(err)?;
        }
    }
    Ok(())
}

/// Reverts every applied migration, newest first, with their `down.sql`:
/// for the test that runs them down and up again. Returns how many ran.
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let n = match conn {
        DbConnection::Sqlite(c) => c
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map_err(err)?
            .len(),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => c
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map_err(err)?
            .len(),
    };
    Ok(n)
}

/// Migrations embedded in this binary that the database has not applied yet.
pub fn pending_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let n = match conn {
        DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map_err(err)?.len(),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => c
            .pending_migrations(POSTGRES_MIGRATIONS)
            .map_err(err)?
            .len(),
    };
    Ok(n)
}

/// Commits a write that changes nothing, for readiness: the database does
/// not only answer, it stores.
pub fn probe_write(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::prelude::*;
    use schema::notify_state;
    diesel::update(notify_state::table.find("reminder_day"))
        .set(notify_state::value.eq(notify_state::value))
        .execute(conn)?;
    Ok(())
}

/// Answers when the database does.
pub fn ping(conn: &mut DbConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// Opens a pool without running migrations (for `vigie check`).
pub fn connect_without_migrations(setting: &DatabaseSetting) -> Result<Pool, DbError> {
    if let DatabaseSetting::Sqlite(path) = setting {
        if !path.exists() {
            return Err(DbError::Migration(format!(
                "{} does not exist yet; `vigie serve` creates it",
                path.display()
            )));
        }
    }
    Ok(r2d2::Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_secs(5))
        .build(Manager {
            setting: setting.clone(),
        })?)
}
