//! The notification outbox. Rows carry no content and no case identifier:
//! an "activity" row counts one new report or reporter message; a "reminder"
//! row carries deadline counts. Rows are claimed with a lease so that several
//! instances sharing one database send each row once; they are deleted once
//! the relay has accepted the email.

use diesel::prelude::*;

use super::{
    schema::{cases, notify_state, outbox},
    DbConnection,
};
use crate::domain::{CaseStatus, OutboxId, Readership, Role, ACK_SOON_DAYS, FEEDBACK_SOON_DAYS};

crate::domain::named::named! {
    /// What an outbox row announces. Stored under its name (`as_str`);
    /// `ALL` is the order the mail worker sends them in.
    pub enum OutboxKind {
        /// One new report or reporter message.
        Activity => "activity",
        /// The day's deadline counts.
        Reminder => "reminder",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: OutboxId,
    pub kind: OutboxKind,
    pub ack_soon: i32,
    pub feedback_soon: i32,
    pub overdue: i32,
    pub due_at: i64,
    pub next_attempt_at: i64,
    pub attempts: i32,
    pub claimed_by: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    /// Whose addresses the email goes to.
    pub role: Role,
}

/// Deadline counts for the daily reminder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadlineCounts {
    pub ack_soon: i32,
    pub feedback_soon: i32,
    pub overdue: i32,
}

impl DeadlineCounts {
    pub fn is_empty(&self) -> bool {
        self.ack_soon == 0 && self.feedback_soon == 0 && self.overdue == 0
    }
}

/// Mail that has waited too long, for `vigie check` and the workspace.
#[derive(Debug, Clone, Default)]
pub struct Backlog {
    pub stale: i64,
    /// The class of the latest failure (`recipient-refused`, `tls`…): the
    /// suffix of its `mail-error-…` message.
    pub last_error: Option<String>,
    /// The relay's reply code with that failure, if it gave one.
    pub last_reply_code: Option<u16>,
}

pub struct Outbox;

impl Outbox {
    /// One new item for the Secretary, due at `due_at`. Call it inside the
    /// transaction that stores the event.
    pub fn announce(
        conn: &mut DbConnection,
        readership: Readership,
        due_at: i64,
    ) -> QueryResult<()> {
        for role in readership.roles() {
            Self::insert(
                conn,
                OutboxKind::Activity,
                *role,
                DeadlineCounts::default(),
                due_at,
            )?;
        }
        Ok(())
    }

    fn insert(
        conn: &mut DbConnection,
        kind: OutboxKind,
        role: Role,
        counts: DeadlineCounts,
        due_at: i64,
    ) -> QueryResult<()> {
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(OutboxId::random()),
                outbox::kind.eq(kind),
                outbox::role.eq(role),
                outbox::ack_soon.eq(counts.ack_soon),
                outbox::feedback_soon.eq(counts.feedback_soon),
                outbox::overdue.eq(counts.overdue),
                outbox::due_at.eq(due_at),
                outbox::next_attempt_at.eq(due_at),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Claims every pending row of `kind` once at least one is due, for
    /// `lease` seconds. A single conditional UPDATE: two instances never
    /// claim the same row (on PostgreSQL the second waits for the first's
    /// row locks, then finds the rows claimed).
    pub fn claim(
        conn: &mut DbConnection,
        kind: OutboxKind,
        role: Role,
        me: &str,
        now: i64,
        lease: i64,
    ) -> QueryResult<Vec<OutboxRow>> {
        let free = outbox::lease_until
            .is_null()
            .or(outbox::lease_until.lt(now));
        let any_due: i64 = outbox::table
            .filter(outbox::kind.eq(kind))
            .filter(outbox::role.eq(role))
            .filter(outbox::due_at.le(now))
            .filter(outbox::next_attempt_at.le(now))
            .filter(free)
            .count()
            .get_result(conn)?;
        if any_due == 0 {
            return Ok(Vec::new());
        }
        let until = now + lease;
        diesel::update(
            outbox::table
                .filter(outbox::kind.eq(kind))
                .filter(outbox::role.eq(role))
                .filter(outbox::next_attempt_at.le(now))
                .filter(
                    outbox::lease_until
                        .is_null()
                        .or(outbox::lease_until.lt(now)),
                ),
        )
        .set((outbox::claimed_by.eq(me), outbox::lease_until.eq(until)))
        .execute(conn)?;
        outbox::table
            .filter(outbox::claimed_by.eq(me))
            .filter(outbox::lease_until.eq(until))
            .filter(outbox::kind.eq(kind))
            .filter(outbox::role.eq(role))
            .select(OutboxRow::as_select())
            .load(conn)
    }

    /// The relay accepted the email: the rows are done.
    pub fn delivered(conn: &mut DbConnection, ids: &[OutboxId]) -> QueryResult<usize> {
        diesel::delete(outbox::table.filter(outbox::id.eq_any(ids))).execute(conn)
    }

    /// The relay refused or could not be reached: try again later.
    pub fn failed(
        conn: &mut DbConnection,
        row: &OutboxRow,
        next_attempt_at: i64,
        error: &str,
    ) -> QueryResult<usize> {
        diesel::update(outbox::table.find(&row.id))
            .set((
                outbox::attempts.eq(row.attempts + 1),
                outbox::next_attempt_at.eq(next_attempt_at),
                outbox::claimed_by.eq(None::<String>),
                outbox::lease_until.eq(None::<i64>),
                outbox::last_error.eq(Some(error)),
            ))
            .execute(conn)
    }

    /// Rows due for longer than `stale_secs`, and the latest error.
    pub fn backlog(
        conn: &mut DbConnection,
        role: Role,
        now: i64,
        stale_secs: i64,
    ) -> QueryResult<Backlog> {
        let stale: i64 = outbox::table
            .filter(outbox::role.eq(role))
            .filter(outbox::due_at.lt(now - stale_secs))
            .count()
            .get_result(conn)?;
        let last_error: Option<Option<String>> = outbox::table
            .filter(outbox::role.eq(role))
            .filter(outbox::last_error.is_not_null())
            .order(outbox::next_attempt_at.desc())
            .select(outbox::last_error)
            .first(conn)
            .optional()?;
        // Stored as the class then the reply code: `recipient-refused 550`.
        let stored = last_error.flatten();
        let (class, code) = match stored.as_deref().map(|s| s.split_once(' ')) {
            Some(Some((class, code))) => (Some(class.to_string()), code.trim().parse().ok()),
            Some(None) => (stored.clone(), None),
            None => (None, None),
        };
        Ok(Backlog {
            stale,
            last_error: class,
            last_reply_code: code,
        })
    }

    pub fn pending(conn: &mut DbConnection) -> QueryResult<i64> {
        outbox::table.count().get_result(conn)
    }

    /// Queues today's reminder unless an instance already did: at most one a
    /// day, whatever the number of instances.
    pub fn remind_once_a_day(
        conn: &mut DbConnection,
        today: chrono::NaiveDate,
        now: i64,
    ) -> QueryResult<bool> {
        use chrono::Datelike;
        let day = i64::from(today.num_days_from_ce());
        let won = diesel::update(
            notify_state::table
                .find("reminder_day")
                .filter(notify_state::value.lt(day)),
        )
        .set(notify_state::value.eq(day))
        .execute(conn)?;
        if won == 0 {
            return Ok(false);
        }
        let mut queued = false;
        for role in Role::ALL {
            let counts = Self::deadline_counts(conn, role, today)?;
            if !counts.is_empty() {
                Self::insert(conn, OutboxKind::Reminder, role, counts, now)?;
                queued = true;
            }
        }
        Ok(queued)
    }

    /// Acknowledgements due within `ACK_SOON_DAYS`, feedback due within
    /// `FEEDBACK_SOON_DAYS` and not given yet, and deadlines already passed:
    /// counts only, by the rule the inbox shows (`domain::due`).
    pub fn deadline_counts(
        conn: &mut DbConnection,
        role: Role,
        today: chrono::NaiveDate,
    ) -> QueryResult<DeadlineCounts> {
        let reads = role.reads();
        let in_days = |n| {
            today
                .checked_add_days(chrono::Days::new(n))
                .unwrap_or(today)
        };
        let received = CaseStatus::Received.as_str();
        let closed = CaseStatus::Closed.as_str();
        let ack_soon: i64 = cases::table
            .filter(cases::readership.eq_any(reads))
            .filter(cases::status.eq(received))
            .filter(cases::ack_due.ge(today))
            .filter(cases::ack_due.le(in_days(ACK_SOON_DAYS)))
            .count()
            .get_result(conn)?;
        let feedback_soon: i64 = cases::table
            .filter(cases::readership.eq_any(reads))
            .filter(cases::status.ne(closed))
            .filter(cases::feedback_on.is_null())
            .filter(cases::feedback_due.ge(today))
            .filter(cases::feedback_due.le(in_days(FEEDBACK_SOON_DAYS)))
            .count()
            .get_result(conn)?;
        let overdue: i64 = cases::table
            .filter(cases::readership.eq_any(reads))
            .filter(
                cases::status
                    .eq(received)
                    .and(cases::ack_due.lt(today))
                    .or(cases::status
                        .ne(closed)
                        .and(cases::feedback_on.is_null())
                        .and(cases::feedback_due.lt(today))),
            )
            .count()
            .get_result(conn)?;
        let to_i32 = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(DeadlineCounts {
            ack_soon: to_i32(ack_soon),
            feedback_soon: to_i32(feedback_soon),
            overdue: to_i32(overdue),
        })
    }
}
