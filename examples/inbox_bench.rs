//! The Secretary's inbox with 100,000 cases.
//!
//! Fills a fresh SQLite database (or the PostgreSQL database named by
//! VIGIE_DATABASE_URL, with `--features postgres`) with N cases, a tenth of
//! them with an unread reporter message, starts the real server, logs in by
//! answering the key challenge, and times the inbox pages a Secretary opens:
//! the first page, a deep page, and a status filter. Prints p50/p99.
//!
//!     cargo run --release --example inbox_bench -- [N]
//!
//! Default N = 100000. Target: under 50 ms per inbox page.

use std::{sync::Arc, time::Instant};

use base64::Engine;
use chrono::{Days, NaiveDate};
use vigie::{
    config::Settings,
    crypto::{self, Locator},
    db::{self, Case, EntryKind, NewCase, NewEntry},
    domain::{deadlines, CaseStatus, SystemClock},
    startup::Application,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let identity = crypto::generate_identity();
    let recipients = dir.path().join("recipients.txt");
    std::fs::write(&recipients, format!("{}\n", identity.to_public()))?;
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        recipients_file: recipients,
        database_url: std::env::var("VIGIE_DATABASE_URL").ok().map(Into::into),
        log: "warn".into(),
        ..Default::default()
    };

    let started = Instant::now();
    let database = db::connect(&settings.database()?, 2)?;
    let statuses = [
        CaseStatus::Received,
        CaseStatus::Acknowledged,
        CaseStatus::InReview,
        CaseStatus::Closed,
    ];
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    let mut n = 0usize;
    while n < total {
        let mut cases = Vec::new();
        let mut entries = Vec::new();
        for i in n..(n + 1000).min(total) {
            let received = first
                .checked_add_days(Days::new((i / 100) as u64))
                .unwrap_or(first);
            let lookup: [u8; 32] = crypto::sha256(&i.to_le_bytes());
            let mut case = NewCase::received(
                &Locator::from_lookup(&lookup),
                identity.to_public().to_string(),
                vigie::domain::Readership::Secretary,
                received,
                deadlines(received, None),
            );
            case.status = statuses[i % 4];
            entries.push(NewEntry::report(&case, vec![0u8; 1300]));
            if i % 10 == 0 {
                let mut message =
                    NewEntry::later(&case.id, EntryKind::Message, received, vec![0u8; 1300]);
                message.position = 2;
                entries.push(message);
            }
            cases.push(case);
        }
        n += cases.len();
        database.write(|conn| Case::insert_batch(conn, &cases, &entries))?;
    }
    println!(
        "cases stored      : {total} in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let app = Application::build_with_clock(&settings, Arc::new(SystemClock))?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let challenge: serde_json::Value = client
        .post(format!("{base}/api/v1/secretary/challenges"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({"recipient": identity.to_public().to_string()}).to_string())
        .send()
        .await?
        .json()
        .await?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(challenge["ciphertext"].as_str().unwrap_or_default())?;
    let answer = crypto::decrypt(std::slice::from_ref(&identity), &sealed)?;
    let opened = client
        .post(format!("{base}/api/v1/secretary/sessions"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({"id": challenge["id"], "response": String::from_utf8_lossy(&answer)}).to_string())
        .send()
        .await?;
    let cookie = opened
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();

    let deep = total / 50 / 2;
    for (label, path) in [
        ("first page", "/fr/secretary".to_string()),
        ("deep page", format!("/fr/secretary?page={deep}")),
        ("status filter", "/fr/secretary?status=received".to_string()),
    ] {
        let mut times = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            let res = client
                .get(format!("{base}{path}"))
                .header("Cookie", &cookie)
                .send()
                .await?;
            let ok = res.status().is_success();
            let body = res.text().await?;
            times.push(t.elapsed());
            if !ok || body.matches("class=\"case-row\"").count() != 50 {
                anyhow::bail!("{label}: the inbox did not answer with 50 cases");
            }
        }
        times.sort();
        println!(
            "inbox {label:<13}: p50 {:.1} ms, p99 {:.1} ms",
            times[49].as_secs_f64() * 1000.0,
            times[98].as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
