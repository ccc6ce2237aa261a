//! Where the retention period ends. Days are UTC dates: a case closed on day
//! D is kept while today is D + `retention_days` or earlier, and purged by
//! the first daily purge of day D + `retention_days` + 1 (with 60, closed on
//! 1 March, deleted on 1 May). Tested with the default and with 30, so that
//! a changed threshold or an off-by-one fails.

use std::time::{Duration, Instant};

use vigie::db::Case;

use crate::helpers::{spawn_app_with, TestApp};

const DAY: i64 = 86_400;

async fn close(app: &TestApp, case: &Case) {
    let s = app.login().await;
    let (status, answer) = s
        .act(&case.id, "acknowledge", app.sealed_reply(case, "reçu"))
        .await;
    assert_eq!(status, 204, "{answer}");
    let mut body = app.sealed_reply(case, "clos");
    body["reason"] = "unfounded".into();
    body["confirm"] = true.into();
    let (status, answer) = s.act(&case.id, "close", body).await;
    assert_eq!(status, 204, "{answer}");
}

fn exists(app: &TestApp, case: &Case) -> bool {
    Case::find(&mut app.conn(), &case.id)
        .unwrap_or_else(|e| panic!("{e}"))
        .is_some()
}

/// Waits for the daily purge to delete `case` (it runs on the worker's next
/// pass); false if it is still there after a while.
async fn purged(app: &TestApp, case: &Case) -> bool {
    let started = Instant::now();
    while exists(app, case) && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !exists(app, case)
}

/// Three cases closed on three days in a row; then, each day, the one closed
/// `days` + 1 days ago goes and the one closed exactly `days` days ago stays.
async fn the_boundary_is_after_the_last_full_day(days: u32) {
    let app = spawn_app_with(|s| {
        s.retention_days = days;
        s.notify_poll_millis = 50;
    })
    .await;
    let mut cases = Vec::new();
    for _ in 0..3 {
        cases.push(app.new_case().await.0);
    }
    let [first, second, third] = [&cases[0], &cases[1], &cases[2]];
    close(&app, first).await; // day D
    app.clock.advance(DAY);
    close(&app, second).await; // day D + 1
    app.clock.advance(DAY);
    close(&app, third).await; // day D + 2

    // Today is D + days + 1.
    app.clock.advance((i64::from(days) - 1) * DAY);
    assert!(
        purged(&app, first).await,
        "closed {} days ago: purged",
        days + 1
    );
    assert!(exists(&app, second), "closed exactly {days} days ago: kept");
    assert!(exists(&app, third), "closed {} days ago: kept", days - 1);

    // Today is D + days + 2.
    app.clock.advance(DAY);
    assert!(
        purged(&app, second).await,
        "closed {} days ago: purged",
        days + 1
    );
    assert!(exists(&app, third), "closed exactly {days} days ago: kept");
}

#[tokio::test]
async fn with_the_default_60_days_a_case_closed_60_days_ago_is_kept_and_61_days_ago_purged() {
    the_boundary_is_after_the_last_full_day(60).await;
}

#[tokio::test]
async fn with_30_days_a_case_closed_30_days_ago_is_kept_and_31_days_ago_purged() {
    the_boundary_is_after_the_last_full_day(30).await;
}

#[test]
fn the_default_retention_is_60_days() {
    assert_eq!(vigie::config::Settings::default().retention_days, 60);
}
