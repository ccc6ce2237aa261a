//! The periodic jobs, run by their own background task: the daily deadline
//! reminder (queued in the outbox for the mail worker), the sweep of
//! uploads nothing claimed in time, the daily purge of closed cases past
//! their retention, and the daily rewrite of the storage in key order.
//!
//! Each job is isolated: one that fails is logged and the others still run;
//! only a database out of reach ends the pass. The "once a day" jobs claim
//! their day in the database, so several instances run each one once.

use std::{sync::Arc, time::Duration};

use crate::{
    db::{Attachment, Db, DbError, Layout, Outbox, Retention},
    domain::Clock,
};

/// Why a pass stopped early: the database could not be reached at all.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct JobsError(#[from] DbError);

/// What one pass of the jobs did (for tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobsPass {
    /// Closed cases purged after their retention period.
    pub purged: usize,
    /// Whether the storage was rewritten in key order.
    pub rewritten: bool,
}

/// Runs one job. A failure of the job itself is logged and the pass goes
/// on, so that one broken job never stops the others; a database that
/// cannot be reached at all ends the pass.
fn job<T>(
    name: &'static str,
    work: impl FnOnce() -> Result<T, DbError>,
) -> Result<Option<T>, JobsError> {
    match work() {
        Ok(done) => Ok(Some(done)),
        Err(e @ (DbError::Pool(_) | DbError::Connect(_))) => Err(e.into()),
        Err(e) => {
            tracing::error!(job = name, error = %e, "a background job failed; the others go on");
            Ok(None)
        }
    }
}

/// One pass: queue today's reminder if due, sweep, purge, then (once a day)
/// rewrite the storage in key order, after the purge so that what it
/// removed leaves the database files.
pub fn run_pass(db: &Db, clock: &dyn Clock, retention_days: u32) -> Result<JobsPass, JobsError> {
    let now = clock.now();
    let today = clock.today();
    let mut pass = JobsPass::default();
    job("reminder", || {
        db.write(|conn| Outbox::remind_once_a_day(conn, today, now))
    })?;
    // Uploads that no report or message claimed in time.
    job("sweep", || db.write(|conn| Attachment::sweep(conn, now)))?;
    // Closed cases past their retention, once a day.
    let purged = job("purge", || {
        db.write(|conn| Retention::purge_once_a_day(conn, today, retention_days, now))
    })?;
    if let Some(purged @ 1..) = purged {
        pass.purged = purged;
        tracing::info!(
            count = purged,
            "closed cases purged after their retention period"
        );
    }
    let rewritten = job("storage rewrite", || Layout::rewrite_once_a_day(db, today))?;
    if let Some(Some(took)) = rewritten {
        pass.rewritten = true;
        tracing::info!(
            millis = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            "storage rewritten in key order"
        );
    }
    Ok(pass)
}

/// Runs the jobs in the background, every `every`, for as long as the
/// runtime runs.
pub fn spawn(db: Db, clock: Arc<dyn Clock>, every: Duration, retention_days: u32) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (db, clock) = (db.clone(), clock.clone());
            let done =
                crate::blocking::run(move || run_pass(&db, clock.as_ref(), retention_days)).await;
            if let Ok(Err(e)) = done {
                tracing::error!(error = %e, "the periodic jobs failed a pass");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_job_is_logged_and_the_pass_goes_on_but_a_database_out_of_reach_ends_it() {
        let broken = job("storage rewrite", || {
            Err::<(), _>(DbError::Query(diesel::result::Error::NotFound))
        });
        assert!(matches!(broken, Ok(None)));
        let unreachable = job("storage rewrite", || {
            Err::<(), _>(DbError::Connect(diesel::ConnectionError::BadConnection(
                "down".into(),
            )))
        });
        assert!(matches!(unreachable, Err(JobsError(DbError::Connect(_)))));
        assert!(matches!(job("sweep", || Ok(3)), Ok(Some(3))));
    }
}
