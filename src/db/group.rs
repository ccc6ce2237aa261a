//! Group commit on SQLite. SQLite takes one writer at a time, and each
//! durable commit costs a write of the log and an `fsync`. Under load, the
//! writes that queue for their turn are committed together: the first
//! writer to get the turn runs every queued piece of work, each in a
//! savepoint of one transaction, commits once, and tells each writer how
//! its work ended. A writer is told "stored" only once that commit is
//! durable; a piece of work that fails is rolled back to its savepoint
//! without touching the others; a commit that fails fails them all.

use std::sync::{Arc, Mutex};

use diesel::{
    connection::TransactionManager,
    result::{DatabaseErrorKind, Error as DieselError},
};

use super::{begin_write, commit, CommitFailed, Db, DbConnection, DbError, Tx};

/// How the transaction holding a piece of work ended.
#[derive(Debug, Clone)]
enum Ending {
    Committed,
    /// Nothing of it was stored, for this reason.
    Refused(String),
    /// The commit failed in a way that may have stored it.
    Unknown,
}

/// How one piece of work ended inside the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Done, its savepoint released.
    Stored,
    /// Failed, and rolled back to its savepoint: the batch is intact.
    Failed,
    /// Its savepoint could not be released or rolled back: what it did may
    /// be mixed with the batch, which must not be kept.
    Broken,
}

type Work = Box<dyn FnOnce(&mut DbConnection) -> Step + Send>;

struct Job {
    /// Runs the work in a savepoint.
    run: Work,
    ending: Arc<Mutex<Option<Ending>>>,
}

/// The writes waiting for their turn.
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Vec<Job>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Db {
    /// [`Db::try_write`], committed together with the writes queued at the
    /// same time on SQLite; as [`Db::try_write`] on PostgreSQL, whose
    /// server groups concurrent commits itself.
    pub fn try_write_grouped<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DieselError> + From<DbError> + std::fmt::Debug + Send + 'static,
    {
        let (Some(group), Some(turn)) = (&self.group, &self.sqlite_writes) else {
            return self.try_write(work);
        };
        let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::default();
        let ending: Arc<Mutex<Option<Ending>>> = Arc::default();
        let mine = slot.clone();
        lock(&group.queue).push(Job {
            run: Box::new(move |conn| {
                if let Err(e) = Tx::begin_transaction(conn) {
                    *lock(&mine) = Some(Err(e.into()));
                    return Step::Broken;
                }
                let result = work(conn);
                let step = match &result {
                    Ok(_) => match Tx::commit_transaction(conn) {
                        Ok(()) => Step::Stored,
                        Err(_) => Step::Broken,
                    },
                    Err(_) => match Tx::rollback_transaction(conn) {
                        Ok(()) => Step::Failed,
                        Err(_) => Step::Broken,
                    },
                };
                *lock(&mine) = Some(result);
                step
            }),
            ending: ending.clone(),
        });
        {
            let _turn = lock(turn);
            // A writer before this one may have run this work already.
            if lock(&ending).is_none() {
                let mut conn = match self.conn() {
                    Ok(conn) => conn,
                    Err(e) => {
                        lock(&group.queue).retain(|j| !Arc::ptr_eq(&j.ending, &ending));
                        return Err(e.into());
                    }
                };
                let jobs = std::mem::take(&mut *lock(&group.queue));
                run_batch(&mut conn, jobs);
            }
        }
        let ended = lock(&ending).take();
        let result = lock(&slot).take();
        match (result, ended) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Some(Ending::Committed)) => Ok(value),
            (_, Some(Ending::Refused(why))) => {
                Err(DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(why)).into())
            }
            // The commit's outcome is unknown, or the work was lost with a
            // writer that failed before it could say.
            _ => Err(DbError::OutcomeUnknown.into()),
        }
    }
}

/// Whether the connection is still in the batch's own transaction, one
/// level deep, as diesel tracks it (a failed rollback to a savepoint marks
/// it broken).
fn in_the_batch(conn: &mut DbConnection) -> bool {
    matches!(
        Tx::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(depth)) if depth.get() == 1
    )
}

/// Rolls back every level of transaction still open. If that fails, the
/// pool discards the connection when it comes back (`has_broken`), and
/// closing it rolls back what SQLite still holds.
fn abandon(conn: &mut DbConnection) {
    for _ in 0..8 {
        match Tx::transaction_manager_status_mut(conn).transaction_depth() {
            Ok(Some(_)) => {
                if Tx::rollback_transaction(conn).is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// Runs `jobs` in one transaction and tells each how it ended.
fn run_batch(conn: &mut DbConnection, jobs: Vec<Job>) {
    let endings: Vec<_> = jobs.iter().map(|j| j.ending.clone()).collect();
    let ending = (|| {
        if let Err(e) = begin_write(conn, true) {
            return Ending::Refused(e.to_string());
        }
        let mut stored_any = false;
        for job in jobs {
            let run = job.run;
            let ran = {
                let conn = &mut *conn;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || run(conn)))
            };
            match ran {
                Ok(Step::Stored) => stored_any = true,
                // Rolled back to its savepoint, the batch's transaction
                // intact: the others go on. If SQLite gave up the whole
                // transaction instead (a full disk can), nothing more runs
                // in it, and nothing of it is kept.
                Ok(Step::Failed) if in_the_batch(conn) => {}
                Ok(_) => {
                    abandon(conn);
                    return Ending::Refused("the batch's transaction was lost".into());
                }
                Err(_) => {
                    // A savepoint may be left open: none of it is kept.
                    abandon(conn);
                    return Ending::Refused("a write of the batch failed".into());
                }
            }
        }
        if !stored_any {
            // Every piece of work failed and was rolled back: each writer
            // gets its own error.
            abandon(conn);
            return Ending::Committed;
        }
        match commit(conn, true) {
            Ok(()) => Ending::Committed,
            Err(CommitFailed::Refused(e)) => Ending::Refused(e.to_string()),
            Err(CommitFailed::Unknown) => Ending::Unknown,
        }
    })();
    for slot in endings {
        *lock(&slot) = Some(ending.clone());
    }
}
