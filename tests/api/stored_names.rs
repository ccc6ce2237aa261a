//! The typed values of the model keep the names they were always stored
//! under, on either backend, and a name no variant knows is refused as a
//! query error, never a panic.

use diesel::{
    prelude::*,
    sql_query,
    sql_types::{Nullable, Text},
};
use vigie::{
    db::{Case, Journal, JournalAction, Outbox, OutboxKind},
    domain::{CaseStatus, ClosureReason, Readership, Role},
};

use crate::helpers::{spawn_app, today};

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    closure_reason: Option<String>,
}

#[derive(QueryableByName)]
struct StoredKind {
    #[diesel(sql_type = Text)]
    kind: String,
}

#[derive(QueryableByName)]
struct StoredAction {
    #[diesel(sql_type = Text)]
    action: String,
}

#[tokio::test]
async fn case_statuses_and_closure_reasons_are_stored_under_their_old_names() {
    let app = spawn_app().await;
    let (case, _) = app.new_case().await;
    let mut conn = app.conn();
    let raw = |conn: &mut _| -> Stored {
        sql_query("SELECT status, closure_reason FROM cases")
            .get_result(conn)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let statuses = [
        (CaseStatus::Received, "received"),
        (CaseStatus::Acknowledged, "acknowledged"),
        (CaseStatus::InReview, "in_review"),
        (CaseStatus::Closed, "closed"),
    ];
    for (status, name) in statuses {
        Case::set_status(&mut conn, &case.id, status).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw(&mut conn).status, name);
        assert_eq!(app.reload(&case).status, status, "{name}");
    }
    let reasons = [
        (ClosureReason::MeasuresTaken, "measures_taken"),
        (ClosureReason::Unfounded, "unfounded"),
        (
            ClosureReason::InsufficientInformation,
            "insufficient_information",
        ),
        (ClosureReason::Inadmissible, "inadmissible"),
        (ClosureReason::Moot, "moot"),
        (ClosureReason::Duplicate, "duplicate"),
    ];
    for (reason, name) in reasons {
        Case::close(&mut conn, &case.id, reason, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw(&mut conn).closure_reason.as_deref(), Some(name));
        assert_eq!(app.reload(&case).closure_reason, Some(reason), "{name}");
    }
}

#[tokio::test]
async fn journal_actions_are_stored_under_their_old_names() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    let actions = [
        (JournalAction::LoggedIn, "logged_in"),
        (JournalAction::LoggedOut, "logged_out"),
        (JournalAction::Opened, "opened"),
        (JournalAction::Acknowledged, "acknowledged"),
        (JournalAction::Replied, "replied"),
        (JournalAction::StatusChanged, "status_changed"),
        (JournalAction::Closed, "closed"),
        (JournalAction::HoldPlaced, "hold_placed"),
        (JournalAction::HoldReleased, "hold_released"),
        (JournalAction::Exported, "exported"),
        (JournalAction::Purged, "purged"),
        (JournalAction::Downloaded, "downloaded"),
        (JournalAction::Alerted, "alerted"),
        (JournalAction::SteppedAside, "stepped_aside"),
        (JournalAction::FeedbackGiven, "feedback_given"),
        (JournalAction::Deleted, "deleted"),
        (JournalAction::RetentionConfirmed, "retention_confirmed"),
        (JournalAction::RetentionFloor, "retention_floor"),
        (JournalAction::HandedOver, "handed_over"),
    ];
    assert_eq!(actions.len(), JournalAction::ALL.len());
    for (i, (action, name)) in actions.into_iter().enumerate() {
        let at = i64::try_from(i).unwrap_or_default();
        Journal::record(&mut conn, None, action, None, None, at).unwrap_or_else(|e| panic!("{e}"));
        let stored: Vec<StoredAction> =
            sql_query("SELECT action FROM journal ORDER BY occurred_at DESC LIMIT 1")
                .load(&mut conn)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            stored.first().map(|s| s.action.as_str()),
            Some(name),
            "{action}"
        );
        let read =
            Journal::recent(&mut conn, Role::Secretary, None, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.first().map(|j| j.action), Some(action), "{name}");
    }
}

#[tokio::test]
async fn a_stored_name_no_variant_knows_is_a_query_error_not_a_panic() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    sql_query(
        "INSERT INTO journal (id, case_id, action, detail, occurred_at) \
         VALUES ('0b7c2a8e-3f1d-4c55-9a0e-6d2f8b1c4e7a', NULL, 'teleported', NULL, 1)",
    )
    .execute(&mut conn)
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(Journal::recent(&mut conn, Role::Secretary, None, 10).is_err());
}

#[tokio::test]
async fn a_stored_identifier_that_is_not_a_canonical_random_uuid_is_a_query_error() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    let spellings = [
        "x",
        "0B7C2A8E-3F1D-4C55-9A0E-6D2F8B1C4E7A",
        "0b7c2a8e3f1d4c559a0e6d2f8b1c4e7a",
        "0b7c2a8e-3f1d-1c55-9a0e-6d2f8b1c4e7a",
    ];
    for (i, id) in spellings.into_iter().enumerate() {
        sql_query(format!(
            "INSERT INTO journal (id, case_id, action, detail, occurred_at) \
             VALUES ('{id}', NULL, 'opened', NULL, {i})"
        ))
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            Journal::recent(&mut conn, Role::Secretary, None, 1).is_err(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn outbox_kinds_are_stored_under_their_old_names() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    // Due far in the future, so that the app's own mail worker leaves it.
    let far = 4_000_000_000_000;
    Outbox::announce(&mut conn, Readership::Secretary, far).unwrap_or_else(|e| panic!("{e}"));
    let stored: Vec<StoredKind> = sql_query("SELECT kind FROM outbox")
        .load(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>(),
        ["activity"]
    );
    let names: Vec<&str> = OutboxKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, ["activity", "reminder"]);
    let claimed = Outbox::claim(
        &mut conn,
        OutboxKind::Activity,
        Role::Secretary,
        "me",
        far,
        60,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claimed.first().map(|r| r.kind), Some(OutboxKind::Activity));
}
