//! Group commit on SQLite. SQLite takes one writer at a time, and each
//! durable commit costs a write of the log and an `fsync`. Under load, the
//! writes that queue meanwhile are committed together: one writer, the
//! leader, runs every queued piece of work, each in a savepoint of one
//! transaction, commits once, and tells each writer how its work ended. A
//! writer is told "stored" only once that commit is durable; a piece of
//! work that fails is rolled back to its savepoint without touching the
//! others; a commit that fails fails them all.
//!
//! The leader runs one batch, then hands the lead to the oldest writer still
//! queued, if any, and goes back with its own answer. The others sleep until
//! they are told theirs (or are handed the lead): each is woken once, by
//! the leader, rather than all passing through one lock in turn.

use std::sync::{Arc, Condvar, Mutex};

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

/// What a waiting writer is told.
#[derive(Debug, Clone)]
enum Word {
    /// How the transaction holding its work ended.
    Ended(Ending),
    /// Its work is the oldest queued: it leads the next batch.
    Lead,
}

/// Where a waiting writer is told what became of its work.
#[derive(Default)]
struct Signal {
    word: Mutex<Option<Word>>,
    told: Condvar,
}

impl Signal {
    /// Tells the writer, unless it was told its ending already.
    fn tell(&self, word: Word) {
        let mut slot = lock(&self.word);
        if !matches!(*slot, Some(Word::Ended(_))) {
            *slot = Some(word);
            self.told.notify_one();
        }
    }

    /// Waits to be told, and takes the word.
    fn wait(&self) -> Word {
        let mut slot = lock(&self.word);
        loop {
            if let Some(word) = slot.take() {
                return word;
            }
            slot = self
                .told
                .wait(slot)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

struct Job {
    /// Runs the work in a savepoint.
    run: Work,
    signal: Arc<Signal>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A writer leads a batch, or was handed the lead: the others wait.
    led: bool,
}

/// The writes waiting for their turn.
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Queue>,
}

impl Group {
    /// Hands the lead to the oldest queued writer, or leaves it free.
    fn hand_on(&self) {
        let mut queue = lock(&self.queue);
        match queue.jobs.first() {
            Some(next) => next.signal.tell(Word::Lead),
            None => queue.led = false,
        }
    }
}

/// Hands the lead on when the leader is done, even if it panicked.
struct Leading<'a>(&'a Group);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.0.hand_on();
    }
}

/// The writers of a batch. Dropped before they were told how it ended (a
/// panic outside their work), they are told its outcome is unknown.
struct Batch {
    signals: Vec<Arc<Signal>>,
    told: bool,
}

impl Batch {
    fn tell(mut self, ending: Ending) {
        for signal in &self.signals {
            signal.tell(Word::Ended(ending.clone()));
        }
        self.told = true;
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if !self.told {
            for signal in &self.signals {
                signal.tell(Word::Ended(Ending::Unknown));
            }
        }
    }
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
        let signal: Arc<Signal> = Arc::default();
        let mine = slot.clone();
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
            signal: signal.clone(),
        };
        let mut leads = {
            let mut queue = lock(&group.queue);
            queue.jobs.push(job);
            !std::mem::replace(&mut queue.led, true)
        };
        let ended = loop {
            if leads {
                let _leading = Leading(group);
                let _turn = lock(turn);
                let mut conn = match self.conn() {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Only this writer's work fails; the next leader
                        // tries for a connection itself.
                        lock(&group.queue)
                            .jobs
                            .retain(|j| !Arc::ptr_eq(&j.signal, &signal));
                        return Err(e.into());
                    }
                };
                let jobs = std::mem::take(&mut lock(&group.queue).jobs);
                run_batch(&mut conn, jobs);
                // The connection and the turn go back before the lead is
                // handed on.
            }
            match signal.wait() {
                Word::Ended(ending) => break ending,
                Word::Lead => leads = true,
            }
        };
        let result = lock(&slot).take();
        match (result, ended) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ending::Committed) => Ok(value),
            (_, Ending::Refused(why)) => {
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
    let batch = Batch {
        signals: jobs.iter().map(|j| j.signal.clone()).collect(),
        told: false,
    };
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
    batch.tell(ending);
}
