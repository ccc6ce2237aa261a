//! Retention: closed cases are purged after the configured period unless the
//! Secretary placed them on hold. A purge deletes the case, its thread and
//! its attachments (cascade), journals it without content, and keeps only
//! what the annual figures need.

use chrono::{Datelike, Days, NaiveDate};
use diesel::prelude::*;

use super::{
    models::Case,
    schema::{cases, notify_state, purged_figures},
    workspace::{Journal, JournalAction},
    DbConnection,
};
use crate::domain::{CaseStatus, ClosureReason, Reader, Role, RETENTION_FLOOR_DAYS};

/// Where the retention a reader confirmed below the floor is kept.
const CONFIRMED_KEY: &str = "retention_confirmed_days";

/// What a purged case leaves for the figures.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = purged_figures)]
pub struct PurgedFigure {
    pub id: String,
    pub received_month: String,
    pub closure_reason: Option<ClosureReason>,
    pub ack_days: Option<i32>,
    pub close_days: Option<i32>,
    pub feedback_on_time: bool,
}

pub struct Retention;

impl Retention {
    /// The retention a reader confirmed below the floor, if any.
    pub fn confirmed_days(conn: &mut DbConnection) -> QueryResult<Option<u32>> {
        let value: Option<i64> = notify_state::table
            .find(CONFIRMED_KEY)
            .select(notify_state::value)
            .first(conn)
            .optional()?;
        Ok(value.and_then(|v| u32::try_from(v).ok()))
    }

    /// A reader with the key confirms a retention of `days` below the floor;
    /// journaled with the reader.
    pub fn confirm_days(
        conn: &mut DbConnection,
        days: u32,
        by: &Reader,
        now: i64,
    ) -> QueryResult<()> {
        diesel::delete(notify_state::table.find(CONFIRMED_KEY)).execute(conn)?;
        diesel::insert_into(notify_state::table)
            .values((
                notify_state::key.eq(CONFIRMED_KEY),
                notify_state::value.eq(i64::from(days)),
            ))
            .execute(conn)?;
        let detail = days.to_string();
        Journal::record(
            conn,
            None,
            JournalAction::RetentionConfirmed,
            Some(&detail),
            Some(by),
            now,
        )
    }

    /// The retention that applies for a configured one: the configured
    /// value at or above the floor, or below it once a reader confirmed that
    /// exact value; otherwise the floor (`true`).
    pub fn effective_days(conn: &mut DbConnection, configured: u32) -> QueryResult<(u32, bool)> {
        if configured >= RETENTION_FLOOR_DAYS || Self::confirmed_days(conn)? == Some(configured) {
            return Ok((configured, false));
        }
        Ok((RETENTION_FLOOR_DAYS, true))
    }

    /// Closed cases whose retention has run out on `today`: closed more than
    /// the [effective](Self::effective_days) number of days ago and not on
    /// hold.
    pub fn due(conn: &mut DbConnection, today: NaiveDate, days: u32) -> QueryResult<Vec<Case>> {
        let (days, _) = Self::effective_days(conn, days)?;
        Self::closed_before(conn, today, days)
    }

    /// Closed cases not on hold, closed more than `days` days before `today`.
    fn closed_before(
        conn: &mut DbConnection,
        today: NaiveDate,
        days: u32,
    ) -> QueryResult<Vec<Case>> {
        let cutoff = today
            .checked_sub_days(Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MIN);
        cases::table
            .filter(cases::status.eq(CaseStatus::Closed))
            .filter(cases::on_hold.eq(false))
            .filter(cases::closed_on.lt(cutoff))
            .order((cases::closed_on.asc(), cases::id.asc()))
            .select(Case::as_select())
            .load(conn)
    }

    /// Purges the cases due; returns how many went.
    pub fn purge(
        conn: &mut DbConnection,
        today: NaiveDate,
        days: u32,
        now: i64,
    ) -> QueryResult<usize> {
        let (effective, floored) = Self::effective_days(conn, days)?;
        if floored {
            // Below the floor and not confirmed: the floor applies, and the
            // journal says so.
            let detail = days.to_string();
            Journal::record(
                conn,
                None,
                JournalAction::RetentionFloor,
                Some(&detail),
                None,
                now,
            )?;
        }
        let due = Self::closed_before(conn, today, effective)?;
        let mut purged = 0;
        for row in &due {
            // Deleted only if still closed and not on hold at this moment:
            // a hold placed meanwhile, or another purge, wins.
            let gone = diesel::delete(
                cases::table
                    .find(&row.id)
                    .filter(cases::status.eq(CaseStatus::Closed))
                    .filter(cases::on_hold.eq(false)),
            )
            .execute(conn)?;
            if gone != 1 {
                continue;
            }
            Self::keep_figures(conn, row)?;
            Journal::record(
                conn,
                Some((&row.id, row.readership)),
                JournalAction::Purged,
                None,
                None,
                now,
            )?;
            purged += 1;
        }
        Ok(purged)
    }

    /// Deletes a case at once (with its entries and files), as its reader
    /// decided for a report that is manifestly irrelevant or inadmissible:
    /// counted in the figures as closed today for `reason`, journaled with
    /// the reader and the reason, never with content. `false` when the case
    /// is on hold (a hold keeps it) or gone.
    pub fn delete_now(
        conn: &mut DbConnection,
        case: &Case,
        reason: ClosureReason,
        by: &Reader,
        today: NaiveDate,
        now: i64,
    ) -> QueryResult<bool> {
        let gone = diesel::delete(cases::table.find(&case.id).filter(cases::on_hold.eq(false)))
            .execute(conn)?;
        if gone != 1 {
            return Ok(false);
        }
        let closed = Case {
            closure_reason: Some(case.closure_reason.unwrap_or(reason)),
            closed_on: Some(case.closed_on.unwrap_or(today)),
            ..case.clone()
        };
        Self::keep_figures(conn, &closed)?;
        Journal::record(
            conn,
            Some((&case.id, case.readership)),
            JournalAction::Deleted,
            Some(reason.as_str()),
            Some(by),
            now,
        )?;
        Ok(true)
    }

    /// What a deleted case leaves for the annual figures.
    fn keep_figures(conn: &mut DbConnection, row: &Case) -> QueryResult<()> {
        let days_between = |a: NaiveDate, b: Option<NaiveDate>| {
            b.and_then(|b| i32::try_from((b - a).num_days()).ok())
        };
        diesel::insert_into(purged_figures::table)
            .values((
                purged_figures::id.eq(uuid::Uuid::new_v4().to_string()),
                purged_figures::received_month.eq(format!(
                    "{:04}-{:02}",
                    row.received_on.year(),
                    row.received_on.month()
                )),
                purged_figures::closure_reason.eq(row.closure_reason),
                purged_figures::ack_days.eq(days_between(row.received_on, row.acknowledged_on)),
                purged_figures::close_days.eq(days_between(row.received_on, row.closed_on)),
                purged_figures::feedback_on_time.eq(row
                    .feedback_on
                    .or(row.closed_on)
                    .is_some_and(|c| c <= row.feedback_due)),
                purged_figures::readership.eq(row.readership),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Runs the purge at most once a day, whatever the number of instances.
    pub fn purge_once_a_day(
        conn: &mut DbConnection,
        today: NaiveDate,
        days: u32,
        now: i64,
    ) -> QueryResult<usize> {
        let day = i64::from(today.num_days_from_ce());
        let won = diesel::update(
            notify_state::table
                .find("purge_day")
                .filter(notify_state::value.lt(day)),
        )
        .set(notify_state::value.eq(day))
        .execute(conn)?;
        if won == 0 {
            return Ok(0);
        }
        Self::purge(conn, today, days, now)
    }

    /// The cases received in `year` (metadata only) that `role` reads, live
    /// and purged, for the figures: each readership's figures count its own
    /// cases only.
    pub fn year(
        conn: &mut DbConnection,
        role: Role,
        year: i32,
    ) -> QueryResult<(Vec<Case>, Vec<PurgedFigure>)> {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
        let live = cases::table
            .filter(cases::received_on.ge(first))
            .filter(cases::received_on.le(last))
            .filter(cases::readership.eq_any(role.reads()))
            .select(Case::as_select())
            .load(conn)?;
        let purged = purged_figures::table
            .filter(purged_figures::received_month.like(format!("{year:04}-%")))
            .filter(purged_figures::readership.eq_any(role.reads()))
            .select(PurgedFigure::as_select())
            .load(conn)?;
        Ok((live, purged))
    }
}
