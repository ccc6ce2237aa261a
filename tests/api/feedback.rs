//! Feedback is not closure: the law asks for feedback within three months
//! of the acknowledgement. A reply marked as the feedback (or the closing
//! message) gives it; the inbox, the reminder and the figures count it; one
//! rule says "due soon" everywhere; closing asks for a confirmation.

use serde_json::json;
use vigie::{
    db::{Case, Outbox},
    domain::{Clock, Role, FEEDBACK_SOON_DAYS},
};

use crate::helpers::{spawn_app, Secretary, TestApp};

/// A case acknowledged today, and the Secretary logged in.
async fn acknowledged(app: &TestApp) -> (Case, Secretary) {
    let (case, _) = app.new_case().await;
    let s = app.login().await;
    let (status, answer) = s
        .act(&case.id, "acknowledge", app.sealed_reply(&case, "reçu"))
        .await;
    assert_eq!(status, 204, "{answer}");
    (app.reload(&case), s)
}

/// The inbox row's feedback cell, as the Secretary sees it (logged in
/// again: moving the clock by days ends sessions).
async fn feedback_cell(app: &TestApp, case: &Case) -> String {
    let inbox = app.login().await.text("/fr/secretary").await;
    let row = inbox
        .split(&format!("data-case=\"{}\"", case.id))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_default()
        .to_string();
    row.split("<td>").nth(4).unwrap_or_default().to_string()
}

fn feedback_soon(app: &TestApp) -> i32 {
    let today = app.clock.today();
    Outbox::deadline_counts(&mut app.conn(), Role::Secretary, today)
        .unwrap_or_else(|e| panic!("{e}"))
        .feedback_soon
}

#[tokio::test]
async fn a_reply_marked_as_the_feedback_meets_the_deadline_while_the_case_stays_open() {
    let app = spawn_app().await;
    let (case, _) = acknowledged(&app).await;
    // Two weeks before the deadline, feedback is due soon in both places.
    let days = (case.feedback_due - app.clock.today()).num_days();
    let soon = i64::try_from(FEEDBACK_SOON_DAYS).unwrap_or_default();
    app.clock.advance((days - soon) * 86400);
    assert_eq!(feedback_soon(&app), 1);
    assert!(feedback_cell(&app, &case).await.contains("due-soon"));

    // A reply that is not the feedback changes nothing.
    let s = app.login().await;
    let mut plain = app.sealed_reply(&case, "une question");
    plain["feedback"] = json!(false);
    assert_eq!(s.act(&case.id, "replies", plain).await.0, 204);
    assert_eq!(app.reload(&case).feedback_on, None);
    assert_eq!(feedback_soon(&app), 1);

    let mut feedback = app.sealed_reply(&case, "des mesures sont envisagées");
    feedback["feedback"] = json!(true);
    assert_eq!(s.act(&case.id, "replies", feedback).await.0, 204);
    let now = app.reload(&case);
    assert_eq!(now.feedback_on, Some(app.clock.today()));
    assert_ne!(now.status, vigie::domain::CaseStatus::Closed, "still open");
    assert_eq!(feedback_soon(&app), 0, "the reminder no longer counts it");
    assert!(
        feedback_cell(&app, &case).await.starts_with("—</td>"),
        "nor the inbox"
    );
    // Past the deadline it is not overdue either.
    app.clock.advance((soon + 3) * 86400);
    let today = app.clock.today();
    let counts = Outbox::deadline_counts(&mut app.conn(), Role::Secretary, today)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts.overdue, 0);
    // The figures count it as answered in time.
    let csv = app
        .login()
        .await
        .text("/fr/secretary/figures.csv?year=2026")
        .await;
    assert!(csv.contains("answered_within_3_months,yes,1"), "{csv}");
}

#[tokio::test]
async fn due_soon_starts_on_the_same_day_in_the_inbox_and_in_the_reminder() {
    let app = spawn_app().await;
    let (case, _) = acknowledged(&app).await;
    let days = (case.feedback_due - app.clock.today()).num_days();
    let soon = i64::try_from(FEEDBACK_SOON_DAYS).unwrap_or_default();
    // The day before the threshold: neither says it.
    app.clock.advance((days - soon - 1) * 86400);
    assert_eq!(feedback_soon(&app), 0);
    assert!(!feedback_cell(&app, &case).await.contains("due-soon"));
    // Exactly the threshold: both say it.
    app.clock.advance(86400);
    assert_eq!(feedback_soon(&app), 1);
    assert!(feedback_cell(&app, &case).await.contains("due-soon"));
    // The deadline day itself is still "soon"; the day after is overdue.
    app.clock.advance(soon * 86400);
    assert_eq!(feedback_soon(&app), 1);
    app.clock.advance(86400);
    assert!(feedback_cell(&app, &case).await.contains("overdue"));
}

#[tokio::test]
async fn closing_asks_for_a_confirmation_and_its_message_is_the_feedback() {
    let app = spawn_app().await;
    let (case, s) = acknowledged(&app).await;
    let body = |confirm: Option<bool>| {
        let mut b = app.sealed_reply(&case, "clos : des mesures ont été prises");
        b["reason"] = json!("measures_taken");
        if let Some(c) = confirm {
            b["confirm"] = json!(c);
        }
        b
    };
    for refused in [None, Some(false)] {
        let (status, answer) = s.act(&case.id, "close", body(refused)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "confirm");
        assert_ne!(app.reload(&case).status, vigie::domain::CaseStatus::Closed);
    }
    let (status, answer) = s.act(&case.id, "close", body(Some(true))).await;
    assert_eq!(status, 204, "{answer}");
    let closed = app.reload(&case);
    assert_eq!(closed.status, vigie::domain::CaseStatus::Closed);
    assert_eq!(closed.feedback_on, closed.closed_on);
}

#[tokio::test]
async fn a_reader_deletes_an_inadmissible_report_at_once_after_confirming_and_the_figures_keep_a_row(
) {
    let (app, bureau) = crate::helpers::spawn_app_with_bureau(|_| {}).await;
    // A report with a file, sealed in the browser.
    let token = vigie::crypto::Token::generate();
    let r = vigie::crypto::derive_from_token(&token).reply_recipient;
    let sealed = crate::helpers::seal_file(&app.recipients, &r, b"piece");
    let (status, up) = app.upload("application/octet-stream", sealed).await;
    assert_eq!(status, 201, "{up}");
    let id = up["id"].as_str().unwrap_or_default().to_string();
    let body = app.report_with_attachments(&token, &[(id, "f.pdf", 5)]);
    assert_eq!(app.submit_report_js(&body).await.0, 201);
    let case = app
        .look_up(&token)
        .unwrap_or_else(|| panic!("the report was not stored"));
    let s = app.login().await;
    let table = [
        (json!({"reason": "inadmissible"}), 400, "confirm"),
        (
            json!({"reason": "inadmissible", "confirm": false}),
            400,
            "confirm",
        ),
        (json!({"reason": "bored", "confirm": true}), 400, "reason"),
        (json!({"confirm": true}), 400, "reason"),
    ];
    for (body, status, code) in table {
        let (got, answer) = s.act(&case.id, "delete", body.clone()).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert_eq!(app.case_count(), 1, "{body}");
    }
    // Another readership's reader cannot; a hold prevents it.
    let b = app.login_as(&bureau).await;
    let confirmed = json!({"reason": "inadmissible", "confirm": true});
    assert_eq!(b.act(&case.id, "delete", confirmed.clone()).await.0, 404);
    assert_eq!(
        s.act(&case.id, "hold", json!({"on_hold": true})).await.0,
        204
    );
    let (got, answer) = s.act(&case.id, "delete", confirmed.clone()).await;
    assert_eq!((got, answer["error"].as_str()), (409, Some("on-hold")));
    assert_eq!(
        s.act(&case.id, "hold", json!({"on_hold": false})).await.0,
        204
    );
    let (got, answer) = s.act(&case.id, "delete", confirmed).await;
    assert_eq!(got, 204, "{answer}");
    assert_eq!(app.case_count(), 0);
    assert_eq!(
        vigie::db::Attachment::counts(&mut app.conn()).unwrap_or_default(),
        (0, 0, 0),
        "its files went with it"
    );
    // The reporter's token opens nothing now.
    let lookup = hex::encode(*vigie::crypto::derive_from_token(&token).lookup);
    let (status, _) = app
        .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
        .await;
    assert_eq!(status, 404);
    // Journaled with the reader and the reason, without content.
    let line = vigie::db::Journal::recent(&mut app.conn(), Role::Secretary, None, 50)
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.action == vigie::db::JournalAction::Deleted)
        .unwrap_or_else(|| panic!("the deletion is journaled"));
    assert_eq!(line.detail.as_deref(), Some("inadmissible"));
    assert_eq!(line.role, Some(Role::Secretary));
    // The figures keep it, as a case closed as inadmissible.
    let csv = s.text("/fr/secretary/figures.csv?year=2026").await;
    assert!(csv.contains("\ncases,,1\n"), "{csv}");
    assert!(csv.contains("closure_reason,inadmissible,1"), "{csv}");
}
