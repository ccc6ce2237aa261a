//! Workflow steps on a case, the one way a case changes: the Secretary's
//! acknowledgement, replies, review, closure and hold, and the reporter's
//! messages. The rules live here; the queries live in `db`.
//!
//! - A case moves received → acknowledged → in review → closed, and may be
//!   closed as soon as it is acknowledged ([`CaseStatus::can_move_to`]).
//! - The first word to the reporter is the acknowledgement: no reply before it.
//! - Feedback is not closure: the law asks for feedback (measures envisaged
//!   or taken) within three months of the acknowledgement. A reply the
//!   reader marks as the feedback gives it, and so does the closing message
//!   (it tells the outcome); the acknowledgement does not.
//! - A closed case refuses every step but a hold (a hold keeps it from the
//!   purge).
//! - A reader acts only on the cases of their readership; to anyone else
//!   the case does not exist.
//! - Words sealed for a case's readers are stored only if the case still
//!   has those readers when the step is taken (an alert or a step-aside may
//!   have come in between).

use chrono::NaiveDate;

use crate::{
    crypto::AgeCiphertext,
    db::{self, Case, DbConnection, EntryKind, Journal, JournalAction, NewEntry, Outbox},
    domain::{deadlines, CaseId, CaseStatus, Clock, ClosureReason, Reader, Readership},
};

/// What is done to a case.
pub enum Step {
    /// A reporter's message, announced to the Secretary at the given time;
    /// never journaled (the journal keeps times, and reporter events keep
    /// dates only).
    Message(NewEntry, i64),
    /// A reply; `true` when it is the feedback the law asks for.
    Reply(NewEntry, bool),
    Acknowledge(NewEntry),
    Review,
    Close(ClosureReason, NewEntry),
    Hold(bool),
    /// Deletes the case at once (a report manifestly irrelevant or
    /// inadmissible), for the reason given; a hold prevents it.
    Delete(ClosureReason),
}

/// Why a workflow step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("no such case")]
    NotFound,
    #[error("this status change is not allowed")]
    Illegal,
    #[error("the case is closed")]
    Closed,
    #[error("the case's readers changed since the words were sealed")]
    ReadersChanged,
    #[error("the case is on hold")]
    OnHold,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Claim(#[from] db::ClaimError),
}

impl From<db::ClaimErrorOr> for StepError {
    fn from(e: db::ClaimErrorOr) -> Self {
        match e {
            db::ClaimErrorOr::Claim(c) => StepError::Claim(c),
            db::ClaimErrorOr::Query(q) => StepError::Query(q),
        }
    }
}

/// Whether `step` may be taken on a case in `status`.
pub fn check(status: CaseStatus, step: &Step) -> Result<(), WorkflowError> {
    let move_to = |next: CaseStatus| {
        if status == CaseStatus::Closed {
            Err(WorkflowError::Closed)
        } else if status.can_move_to(next) {
            Ok(())
        } else {
            Err(WorkflowError::Illegal)
        }
    };
    match step {
        Step::Hold(_) | Step::Delete(_) => Ok(()),
        Step::Message(..) if status == CaseStatus::Closed => Err(WorkflowError::Closed),
        Step::Message(..) => Ok(()),
        Step::Reply(..) => match status {
            CaseStatus::Closed => Err(WorkflowError::Closed),
            // The first word to the reporter is the acknowledgement.
            CaseStatus::Received => Err(WorkflowError::Illegal),
            _ => Ok(()),
        },
        Step::Acknowledge(_) => move_to(CaseStatus::Acknowledged),
        Step::Review => move_to(CaseStatus::InReview),
        Step::Close(..) => move_to(CaseStatus::Closed),
    }
}

/// Who takes a step and for which readers its words were sealed.
#[derive(Clone, Copy)]
pub struct By<'a> {
    /// The reader acting; `None` for the reporter.
    pub reader: Option<&'a Reader>,
    /// The readership the step's ciphertext was checked against, if it
    /// carries one.
    pub sealed_for: Option<Readership>,
}

/// Takes one step inside the caller's transaction, journaling it.
pub fn apply(
    conn: &mut DbConnection,
    by: By<'_>,
    case_id: &CaseId,
    step: Step,
    today: NaiveDate,
    now: i64,
) -> Result<(), StepError> {
    let case = Case::lock(conn, case_id)?.ok_or(WorkflowError::NotFound)?;
    if by.reader.is_some_and(|r| !case.readership.read_by(r.role)) {
        return Err(WorkflowError::NotFound.into());
    }
    if by.sealed_for.is_some_and(|r| r != case.readership) {
        return Err(WorkflowError::ReadersChanged.into());
    }
    check(case.status, &step)?;
    let about = Some((case_id, case.readership));
    let journal = |conn: &mut DbConnection, action, detail| {
        Journal::record(conn, about, action, detail, by.reader, now)
    };
    match step {
        Step::Message(entry, notify_at) => {
            Case::append(conn, entry)?;
            Outbox::announce(conn, case.readership, notify_at)?;
        }
        Step::Reply(entry, feedback) => {
            Case::append(conn, entry)?;
            journal(conn, JournalAction::Replied, None)?;
            if feedback && Case::give_feedback(conn, case_id, today)? == 1 {
                journal(conn, JournalAction::FeedbackGiven, None)?;
            }
        }
        Step::Acknowledge(entry) => {
            Case::append(conn, entry)?;
            let due = deadlines(case.received_on, Some(today));
            Case::acknowledge(conn, case_id, today, due.feedback_due)?;
            journal(conn, JournalAction::Acknowledged, None)?;
        }
        Step::Review => {
            Case::set_status(conn, case_id, CaseStatus::InReview)?;
            journal(
                conn,
                JournalAction::StatusChanged,
                Some(CaseStatus::InReview.as_str()),
            )?;
        }
        Step::Close(reason, entry) => {
            Case::append(conn, entry)?;
            Case::close(conn, case_id, reason, today)?;
            journal(conn, JournalAction::Closed, Some(reason.as_str()))?;
            // The closing message tells the outcome: it is feedback too.
            if Case::give_feedback(conn, case_id, today)? == 1 {
                journal(conn, JournalAction::FeedbackGiven, None)?;
            }
        }
        Step::Delete(reason) => {
            let reader = by.reader.ok_or(WorkflowError::NotFound)?;
            if !db::Retention::delete_now(conn, &case, reason, reader, today, now)? {
                return Err(WorkflowError::OnHold.into());
            }
        }
        Step::Hold(on_hold) => {
            Case::set_hold(conn, case_id, on_hold)?;
            let action = if on_hold {
                JournalAction::HoldPlaced
            } else {
                JournalAction::HoldReleased
            };
            journal(conn, action, None)?;
        }
    }
    Ok(())
}

/// What the Secretary does to a case, from her workspace. Words to the
/// reporter are age files already checked for the case's recipients.
pub enum Action {
    /// A reply; `true` when the reader marks it as the feedback.
    Reply(AgeCiphertext, bool),
    Acknowledge(AgeCiphertext),
    Review,
    Close(ClosureReason, AgeCiphertext),
    Hold(bool),
    Delete(ClosureReason),
}

impl Action {
    /// Whether the action carries words sealed for the case's readers.
    fn sealed(&self) -> bool {
        matches!(
            self,
            Action::Reply(..) | Action::Acknowledge(_) | Action::Close(..)
        )
    }

    fn into_step(self, case_id: &CaseId, by: &Reader, today: NaiveDate) -> Step {
        let reply = |sealed: AgeCiphertext| NewEntry {
            replied_by: Some(by.role),
            ..NewEntry::later(case_id, EntryKind::Reply, today, sealed.into_bytes())
        };
        match self {
            Action::Reply(sealed, feedback) => Step::Reply(reply(sealed), feedback),
            Action::Acknowledge(sealed) => Step::Acknowledge(reply(sealed)),
            Action::Review => Step::Review,
            Action::Close(reason, sealed) => Step::Close(reason, reply(sealed)),
            Action::Hold(on) => Step::Hold(on),
            Action::Delete(reason) => Step::Delete(reason),
        }
    }
}

/// A reader's step on a case, in its own durable transaction, off the
/// async threads. `sealed_for` is the readership the action's words were
/// checked against.
pub async fn act(
    db: &db::Db,
    clock: &dyn Clock,
    reader: Reader,
    case_id: CaseId,
    sealed_for: Readership,
    action: Action,
) -> Result<(), StepError> {
    let today = clock.today();
    let now = clock.now();
    db.run_write(move |conn| {
        let by = By {
            reader: Some(&reader),
            sealed_for: action.sealed().then_some(sealed_for),
        };
        let step = action.into_step(&case_id, &reader, today);
        apply(conn, by, &case_id, step, today, now)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NewEntry {
        NewEntry::later(
            &crate::domain::CaseId::random(),
            EntryKind::Reply,
            NaiveDate::default(),
            Vec::new(),
        )
    }

    #[test]
    fn the_rules_refuse_a_reply_before_the_acknowledgement_and_any_step_on_a_closed_case() {
        use CaseStatus::{Acknowledged, InReview, Received};
        use WorkflowError::Illegal;
        let shut = Err(WorkflowError::Closed);
        type MakeStep = fn() -> Step;
        let steps: [(&str, MakeStep); 6] = [
            ("message", || Step::Message(entry(), 0)),
            ("reply", || Step::Reply(entry(), false)),
            ("acknowledge", || Step::Acknowledge(entry())),
            ("review", || Step::Review),
            ("close", || Step::Close(ClosureReason::Unfounded, entry())),
            ("hold", || Step::Hold(true)),
        ];
        // For each status: message, reply, acknowledge, review, close, hold.
        let table: [(CaseStatus, [Result<(), WorkflowError>; 6]); 4] = [
            (
                Received,
                [
                    Ok(()),
                    Err(Illegal),
                    Ok(()),
                    Err(Illegal),
                    Err(Illegal),
                    Ok(()),
                ],
            ),
            (
                Acknowledged,
                [Ok(()), Ok(()), Err(Illegal), Ok(()), Ok(()), Ok(())],
            ),
            (
                InReview,
                [Ok(()), Ok(()), Err(Illegal), Err(Illegal), Ok(()), Ok(())],
            ),
            (CaseStatus::Closed, [shut, shut, shut, shut, shut, Ok(())]),
        ];
        for (status, expected) in table {
            for ((name, step), want) in steps.iter().zip(expected) {
                assert_eq!(check(status, &step()), want, "{name} on {status}");
            }
        }
    }
}
