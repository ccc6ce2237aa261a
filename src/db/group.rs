//! Group commit on SQLite. SQLite takes one writer at a time, and each
//! durable commit costs a write of the log and an `fsync`. Under load, the
//! writes that queue meanwhile are committed together: a committer on the
//! blocking threads runs every queued piece of work, each in a savepoint of
//! one transaction, commits once, and tells each writer how its work ended.
//! A writer is told "stored" only once that commit is durable; a piece of
//! work that fails is rolled back to its savepoint without touching the
//! others; a commit that fails fails them all.
//!
//! The writers wait without holding a thread: a request queues its work and
//! awaits the answer. The first write queued while no committer runs starts
//! one; it commits group after group while work keeps coming, and stops
//! when the queue is empty.

use std::sync::{Arc, Mutex};

use diesel::{
    connection::TransactionManager,
    result::{DatabaseErrorKind, Error as DieselError},
};
use tokio::sync::oneshot;

use super::{begin_write, commit, CommitFailed, Db, DbConnection, DbError, Tx};

/// How the transaction holding a piece of work ended.
#[derive(Debug, Clone)]
enum Ending {
    Committed,
    /// Nothing of it was stored, for this reason.
    Refused(String),
    /// No connection came free: nothing of it was stored.
    NoConnection(String),
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
    /// Where its writer hears how it ended. Dropped unanswered (a panic
    /// outside the work), the writer hears the outcome is unknown.
    answer: oneshot::Sender<Ending>,
}

impl Job {
    fn answer(self, ending: Ending) {
        // The writer may be gone (its client left): the work stands.
        let _ = self.answer.send(ending);
    }
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A committer runs, or was started: the work it will find waits.
    committing: bool,
}

/// The writes waiting for their turn.
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Queue>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The committer's watch: when it stops for any reason other than an empty
/// queue (a panic, a runtime shutting down before it ran), the work still
/// queued was not run, and its writers are told so.
struct Committing {
    group: Arc<Group>,
    /// It found the queue empty and stopped.
    done: bool,
}

impl Drop for Committing {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let left = {
            let mut queue = lock(&self.group.queue);
            queue.committing = false;
            std::mem::take(&mut queue.jobs)
        };
        for job in left {
            job.answer(Ending::Refused("the committer stopped".into()));
        }
    }
}

impl Db {
    /// A durable transaction off the async threads, as [`Db::try_write`]:
    /// on SQLite committed together with the writes queued at the same
    /// time; on PostgreSQL on a blocking thread, the server grouping
    /// concurrent commits itself.
    pub async fn run_write<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DieselError> + From<DbError> + std::fmt::Debug + Send + 'static,
    {
        let Some(group) = &self.group else {
            let db = self.clone();
            return crate::blocking::run(move || db.try_write(work))
                .await
                .unwrap_or_else(|_| Err(DbError::Blocking.into()));
        };
        let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::default();
        let mine = slot.clone();
        let (answer, told) = oneshot::channel();
        let job = Job {
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
            answer,
        };
        let starts = {
            let mut queue = lock(&group.queue);
            queue.jobs.push(job);
            !std::mem::replace(&mut queue.committing, true)
        };
        if starts {
            let watch = Committing {
                group: group.clone(),
                done: false,
            };
            let db = self.clone();
            // Not awaited: the committer outlives this writer if it must.
            crate::blocking::spawn(move || db.commit_groups(watch));
        }
        let ended = told.await.unwrap_or(Ending::Unknown);
        let result = lock(&slot).take();
        match (result, ended) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ending::Committed) => Ok(value),
            (_, Ending::Refused(why)) => {
                Err(DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(why)).into())
            }
            (_, Ending::NoConnection(why)) => Err(DbError::NoConnection(why).into()),
            // The commit's outcome is unknown, or the work was lost with a
            // committer that failed before it could say.
            _ => Err(DbError::OutcomeUnknown.into()),
        }
    }

    /// The committer: commits the queued work, group after group, until
    /// none is left.
    fn commit_groups(&self, mut watch: Committing) {
        let group = watch.group.clone();
        loop {
            // Other writers of this process (the daily rewrite) go between
            // two groups.
            let _turn = self.sqlite_turn();
            let jobs = {
                let mut queue = lock(&group.queue);
                if queue.jobs.is_empty() {
                    queue.committing = false;
                    watch.done = true;
                    return;
                }
                std::mem::take(&mut queue.jobs)
            };
            match self.conn() {
                Ok(mut conn) => run_batch(&mut conn, jobs),
                Err(e) => {
                    let why = e.to_string();
                    for job in jobs {
                        job.answer(Ending::NoConnection(why.clone()));
                    }
                }
            }
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
    let (runs, answers): (Vec<Work>, Vec<oneshot::Sender<Ending>>) =
        jobs.into_iter().map(|j| (j.run, j.answer)).unzip();
    let ending = (|| {
        if let Err(e) = begin_write(conn, true) {
            return Ending::Refused(e.to_string());
        }
        let mut stored_any = false;
        for run in runs {
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
    for answer in answers {
        let _ = answer.send(ending.clone());
    }
}
