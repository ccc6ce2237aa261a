//! Retention: closed cases are purged after the period, unless on hold; the
//! purge is journaled without content and the token then finds nothing.

use secrecy::ExposeSecret;
use serde_json::json;
use vigie::{
    crypto,
    db::{Attachment, Case, Journal},
    domain::Role,
};

use crate::{
    helpers::{spawn_app_with, TestApp},
    workspace::{act, login, new_case, reply},
};

async fn close(app: &TestApp, case: &Case) {
    let s = login(app).await;
    assert_eq!(
        act(app, &s, &case.id, "acknowledge", reply(app, case, "reçu"))
            .await
            .0,
        204
    );
    let body = json!({"reason": "unfounded", "confirm": true, "ciphertext": reply(app, case, "clos")["ciphertext"]});
    assert_eq!(act(app, &s, &case.id, "close", body).await.0, 204);
}

/// Whether the case is still stored, read through the test's own pool. (A
/// stale index once made a deleted case visible here while a count said
/// otherwise: the server had dropped its own file locks, letting `vigie
/// purge` write at the same time. Keep reading through the pool.)
fn exists(app: &TestApp, case: &Case) -> bool {
    Case::find(&mut app.conn(), &case.id)
        .ok()
        .flatten()
        .is_some()
}

#[tokio::test]
async fn a_case_closed_61_days_ago_is_purged_but_not_one_on_hold_or_closed_59_days_ago() {
    let app = spawn_app_with(|s| s.notify_poll_millis = 50).await;
    let (old, old_token) = new_case(&app).await;
    let (held, _) = new_case(&app).await;
    let (recent, _) = new_case(&app).await;
    close(&app, &old).await;
    close(&app, &held).await;
    let s = login(&app).await;
    assert_eq!(
        act(&app, &s, &held.id, "hold", json!({"on_hold": true}))
            .await
            .0,
        204
    );
    app.clock.advance(2 * 86400);
    close(&app, &recent).await;

    app.clock.advance(59 * 86400);
    let started = std::time::Instant::now();
    while exists(&app, &old) && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!exists(&app, &old), "closed 61 days ago: purged");
    assert!(exists(&app, &held), "on hold: kept");
    assert!(exists(&app, &recent), "closed 59 days ago: kept");
    assert!(
        old.entries(&mut app.conn()).unwrap_or_default().is_empty(),
        "its thread went with it"
    );

    let journal =
        Journal::recent(&mut app.conn(), Role::Secretary, Some(&old.id), 50).unwrap_or_default();
    assert!(journal
        .iter()
        .any(|j| j.action.as_str() == "purged" && j.detail.is_none()));
    let shown = old_token.display().expose_secret().to_string();
    let res = app.post_form("/fr/follow-up", &[("token", &shown)]).await;
    assert_eq!(
        res.status().as_u16(),
        404,
        "the purged case's token finds nothing"
    );
    assert_eq!(
        Attachment::counts(&mut app.conn())
            .map(|c| c.0)
            .unwrap_or(-1),
        0
    );
}

#[tokio::test]
async fn purge_dry_run_lists_what_would_go_and_purge_deletes_it() {
    let app = spawn_app_with(|_| {}).await;
    // Closed 100 days before the real today (the command reads the real clock).
    app.clock.advance(-100 * 86400);
    let (case, token) = new_case(&app).await;
    close(&app, &case).await;
    let run = |dry: bool| {
        let mut cmd = crate::cli::vigie(&app);
        cmd.arg("purge");
        if dry {
            cmd.arg("--dry-run");
        }
        cmd.output().unwrap_or_else(|e| panic!("{e}"))
    };
    let dry = run(true);
    assert!(dry.status.success());
    let listed = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(listed.contains(case.id.as_str()), "{listed}");
    assert!(listed.contains("simulation"));
    assert!(exists(&app, &case), "a dry run deletes nothing");
    let real = run(false);
    assert!(real.status.success());
    assert!(
        !exists(&app, &case),
        "{}{}",
        String::from_utf8_lossy(&real.stdout),
        String::from_utf8_lossy(&real.stderr)
    );
    let locator = crypto::derive_from_token(&token).locator;
    assert!(Case::find_by_locator(&mut app.conn(), &locator)
        .ok()
        .flatten()
        .is_none());
}

#[tokio::test]
async fn annual_figures_count_live_and_purged_cases_from_metadata_and_export_as_csv() {
    let app = spawn_app_with(|s| s.notify_poll_millis = 50).await;
    let (first, _) = new_case(&app).await;
    let (_second, _) = new_case(&app).await;
    close(&app, &first).await;
    app.clock.advance(61 * 86400);
    let started = std::time::Instant::now();
    while exists(&app, &first) && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!exists(&app, &first), "purged");
    let s = login(&app).await;
    let html = crate::workspace::page(&app, Some(&s), "/fr/secretary/figures?year=2026")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        html.contains("id=\"figures-total\">2<"),
        "the purged case still counts"
    );
    assert!(html.contains("Signalement non fondé"));
    let res = crate::workspace::page(&app, Some(&s), "/en/secretary/figures.csv?year=2026").await;
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let csv = res.text().await.unwrap_or_default();
    assert!(csv.contains("received_in_month,2026-11,2\n"), "{csv}");
    assert!(csv.contains("closure_reason,unfounded,1\n"));
    assert!(csv.contains("acknowledged_within_7_days,yes,1\n"));
    assert_eq!(
        crate::workspace::page(&app, None, "/fr/secretary/figures.csv")
            .await
            .status()
            .as_u16(),
        303,
        "figures need a session"
    );
}

/// `vigie purge` as the operator runs it, with `VIGIE_RETENTION_DAYS` set.
fn purge_with_retention(app: &TestApp, days: &str) -> std::process::Output {
    crate::cli::vigie(app)
        .env("VIGIE_RETENTION_DAYS", days)
        .arg("purge")
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_operator_without_a_key_cannot_empty_the_channel_with_a_short_retention() {
    let app = spawn_app_with(|s| s.retention_days = 0).await;
    // Closed 10 days before the real today (the command reads the real clock).
    app.clock.advance(-10 * 86400);
    let (case, _) = new_case(&app).await;
    close(&app, &case).await;
    let o = purge_with_retention(&app, "0");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(exists(&app, &case), "the floor keeps it");
    let floor = Journal::recent(&mut app.conn(), Role::Secretary, None, 50)
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.action == vigie::db::JournalAction::RetentionFloor)
        .unwrap_or_else(|| panic!("the floor is journaled"));
    assert_eq!(floor.detail.as_deref(), Some("0"));

    // The inbox says so; only a reader, for the configured value, with a
    // confirmation, can lift it.
    app.clock.advance(10 * 86400);
    let s = login(&app).await;
    let inbox = s.text("/fr/secretary").await;
    assert!(inbox.contains("id=\"retention-warning\""));
    let refused = [
        (json!({"days": 5, "confirm": true}), 400, "retention"),
        (json!({"days": 30, "confirm": true}), 400, "retention"),
        (json!({"days": 0}), 400, "confirm"),
        (json!({"days": 0, "confirm": false}), 400, "confirm"),
    ];
    for (body, status, code) in refused {
        let res = app
            .send_json(
                "/api/v1/secretary/retention",
                &body,
                Some((&s.cookie, &s.csrf)),
            )
            .await;
        let (got, answer) = crate::helpers::status_and_json(res).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (got, _) = app
        .post_json(
            "/api/v1/secretary/retention",
            &json!({"days": 0, "confirm": true}),
        )
        .await;
    assert_eq!(got, 401, "not without a session");
    assert!(exists(&app, &case));
    let res = app
        .send_json(
            "/api/v1/secretary/retention",
            &json!({"days": 0, "confirm": true}),
            Some((&s.cookie, &s.csrf)),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let confirmed = Journal::recent(&mut app.conn(), Role::Secretary, None, 50)
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.action == vigie::db::JournalAction::RetentionConfirmed)
        .unwrap_or_else(|| panic!("the confirmation is journaled"));
    assert_eq!(confirmed.role, Some(Role::Secretary));
    assert_eq!(confirmed.detail.as_deref(), Some("0"));
    assert!(!s.text("/fr/secretary").await.contains("retention-warning"));
    // Now the short retention applies; a different one would not.
    let other = purge_with_retention(&app, "5");
    assert!(other.status.success());
    assert!(
        exists(&app, &case),
        "5 days was not confirmed: the floor applies"
    );
    let o = purge_with_retention(&app, "0");
    assert!(o.status.success());
    assert!(!exists(&app, &case), "the confirmed retention applies");
}
