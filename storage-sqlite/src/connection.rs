//! Connections: opening a file with the store's pragmas, the schema migrations, and the one
//! writer connection every transaction runs on, on the blocking pool.
//!
//! SQLite allows one writer at a time, so the store keeps exactly one write connection behind
//! an async mutex: a transaction holds it from `BEGIN IMMEDIATE` to `COMMIT`. What can wait —
//! taking the write lock (another process may hold it up to the busy timeout), the `fsync` of
//! a commit, bulk reads and writes — runs on the blocking pool; the statements in between run
//! on the calling task, since with the lock held they only touch the page cache (a hand-off to
//! another thread per statement cost more than the statement: `place_order` went from 1.57 ms
//! to 0.81 ms). Global
//! lookups read through separate connections (WAL lets readers see the last commit while a
//! writer works), so a lookup never waits for a transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use selfcare_storage::{StoreError, StoreResult};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{OpenError, sql};

/// `PRAGMA application_id` of a selfcare store ("SCSQ"): a file without it is not ours.
pub(crate) const APPLICATION_ID: i64 = 0x5343_5351;

/// The schema versions this code knows, oldest first; `PRAGMA user_version` is the number of
/// migrations applied. A migration is applied whole or not at all (one transaction).
const MIGRATIONS: &[&str] = &[concat!(
    include_str!("../migrations/v1/accounts.sql"),
    include_str!("../migrations/v1/auth.sql"),
    include_str!("../migrations/v1/addresses.sql"),
    include_str!("../migrations/v1/payments.sql"),
    include_str!("../migrations/v1/orders.sql"),
    include_str!("../migrations/v1/sims.sql"),
    include_str!("../migrations/v1/usage.sql"),
    include_str!("../migrations/v1/tickets.sql"),
    include_str!("../migrations/v1/outbox.sql"),
    include_str!("../migrations/v1/audit.sql"),
)];

/// How long a statement waits for another process's lock before the store answers
/// `Retryable` (the sdk then re-runs the use case).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens `path` with the store's pragmas: WAL, `synchronous=FULL` (a commit survives a power
/// cut), foreign keys on, the busy timeout.
pub(crate) fn open_connection(path: &Path, create: bool) -> Result<Connection, OpenError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| OpenError::io(path, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| OpenError::io(path, &e))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(|e| OpenError::classify(path, &e))?;
    Ok(conn)
}

/// Checks that `conn` is a selfcare store (or an empty file) and brings its schema up to date.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let application_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| OpenError::classify(path, &e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| OpenError::classify(path, &e))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(|e| OpenError::classify(path, &e))?;
    if application_id != APPLICATION_ID && (tables > 0 || application_id != 0) {
        return Err(OpenError::NotASelfcareStore {
            path: path.to_path_buf(),
        });
    }
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(OpenError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    let start = usize::try_from(version).unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(start) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| OpenError::classify(path, &e))?;
        tx.execute_batch(migration)
            .map_err(|e| OpenError::classify(path, &e))?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
            index + 1
        ))
        .map_err(|e| OpenError::classify(path, &e))?;
        tx.commit().map_err(|e| OpenError::classify(path, &e))?;
    }
    Ok(())
}

/// The store's connections.
pub(crate) struct Connections {
    pub(crate) path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: std::sync::Mutex<Vec<Connection>>,
}

impl Connections {
    pub(crate) fn new(path: PathBuf, writer: Connection) -> Self {
        Connections {
            path,
            writer: Arc::new(Mutex::new(writer)),
            readers: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`) on the writer connection.
    pub(crate) async fn begin(&self) -> StoreResult<Conn> {
        let guard = Arc::clone(&self.writer).lock_owned().await;
        let mut conn = Conn {
            guard: Some(guard),
            finished: false,
        };
        conn.call_blocking(|c| {
            // A transaction whose future was dropped in the middle of a statement may have
            // left the connection inside its transaction: end it first.
            if !c.is_autocommit() {
                c.execute_batch("ROLLBACK").map_err(sql)?;
            }
            c.execute_batch("BEGIN IMMEDIATE").map_err(sql)
        })
        .await?;
        Ok(conn)
    }

    /// Runs `f` on a reader connection on the blocking pool: it sees the last commit.
    pub(crate) async fn read<R, F>(self: &Arc<Self>, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = match this.readers.lock().ok().and_then(|mut pool| pool.pop()) {
                Some(conn) => conn,
                None => {
                    open_connection(&this.path, false).map_err(|e| StoreError::Unavailable {
                        reason: e.to_string(),
                    })?
                }
            };
            let out = f(&conn);
            if let Ok(mut pool) = this.readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|_| StoreError::Internal {
            reason: "a store read was cancelled or panicked".into(),
        })?
    }
}

/// The writer connection held by one transaction.
pub(crate) struct Conn {
    guard: Option<OwnedMutexGuard<Connection>>,
    finished: bool,
}

impl Conn {
    /// Runs `f` on the connection, on the calling task.
    ///
    /// Inside a transaction that holds the write lock (`BEGIN IMMEDIATE` waited for it), a
    /// statement waits for no other connection: it works on the page cache and costs
    /// microseconds, less than a hand-off to another thread. What can wait — taking the lock,
    /// the `fsync` of a commit, bulk work — goes through [`Conn::call_blocking`].
    pub(crate) async fn call<R, F>(&mut self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let guard = self.guard.as_ref().ok_or_else(|| StoreError::Internal {
            reason: "the transaction's connection was lost".into(),
        })?;
        f(guard)
    }

    /// Runs `f` on the connection where it may block: for what may wait on the disk or
    /// another process (taking the write lock, committing, bulk reads and writes).
    ///
    /// On a multi-threaded runtime `f` runs on the calling thread inside
    /// [`tokio::task::block_in_place`], which hands the worker's other tasks to another
    /// thread: no hand-off of `f` itself and no wake-up to wait for, which on a commit costs
    /// more than the statement. On a current-thread runtime (where that is not allowed) it
    /// goes to the blocking pool; if the caller's future is dropped while `f` runs there, the
    /// connection goes back when `f` ends, inside the unfinished transaction, and the next
    /// `begin` rolls it back.
    pub(crate) async fn call_blocking<R, F>(&mut self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let guard = self.guard.take().ok_or_else(|| StoreError::Internal {
            reason: "the transaction's connection was lost".into(),
        })?;
        if matches!(
            tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread)
        ) {
            let out = tokio::task::block_in_place(|| f(&guard));
            self.guard = Some(guard);
            return out;
        }
        let (guard, out) = tokio::task::spawn_blocking(move || {
            let out = f(&guard);
            (guard, out)
        })
        .await
        .map_err(|_| StoreError::Internal {
            reason: "a store statement panicked".into(),
        })?;
        self.guard = Some(guard);
        out
    }

    /// Commits; after it the transaction is finished whatever the outcome.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        let out = self
            .call_blocking(|c| c.execute_batch("COMMIT").map_err(sql))
            .await;
        self.finished = out.is_ok();
        out
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(guard) = self.guard.take()
            && !guard.is_autocommit()
        {
            // A dropped transaction rolls back: a short statement, run where we are.
            if guard.execute_batch("ROLLBACK").is_err() {
                tracing::warn!("selfcare-sqlite: a dropped transaction could not be rolled back");
            }
        }
    }
}

/// The steps of SQLite's plan for `statement`, joined by `; ` (for tests of index use).
#[cfg(test)]
pub(crate) fn query_plan(c: &Connection, statement: &str) -> String {
    let mut stmt = c
        .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))
        .unwrap();
    let mut rows = stmt.raw_query();
    let mut plan = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        plan.push(r.get::<_, String>(3).unwrap());
    }
    plan.join("; ")
}
