//! A database that breaks under a running server: a report gets a calm 503
//! that says nothing was stored, never a 500 or a hang, and the cause is
//! logged once per request without anything the reporter sent.

use std::time::{Duration, Instant};

use base64::Engine;
use diesel::RunQueryDsl;
use serde_json::{json, Value};
use vigie::{
    crypto::{self, Recipients, Token},
    db,
};
use zeroize::Zeroizing;

use crate::helpers::{encode_form, test_settings, ServerProcess, TestDb};

const MARKER: &str = "Texte-Temoin-Panne-Unique";

/// How many lines of the server's log say a report could not be stored,
/// waiting a little for the last one to arrive.
async fn failures_logged(server: &ServerProcess, expected: usize) -> (usize, String) {
    let started = Instant::now();
    loop {
        let log = server.log();
        let n = log
            .lines()
            .filter(|l| l.contains("report could not be stored"))
            .count();
        if n >= expected || started.elapsed() > Duration::from_secs(5) {
            return (n, log);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_report_while_the_database_is_broken_gets_a_503_saying_nothing_was_stored_and_the_cause_is_logged_once(
) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let test_db = TestDb::fresh(dir.path());
    let (settings, _, identities) = test_settings(dir.path(), &test_db);
    let server = ServerProcess::start(&settings, &test_db, "info");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    // The table of cases goes away under the running server, through a
    // connection of the test's own.
    let database = settings.database().unwrap_or_else(|e| panic!("{e}"));
    let pool = db::connect(&database, 1).unwrap_or_else(|e| panic!("{e}"));
    diesel::sql_query("ALTER TABLE cases RENAME TO cases_gone")
        .execute(&mut *pool.conn().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));

    // Without JavaScript: the form again, with the text, and the reason.
    let res = client
        .post(format!("{}/fr/report", server.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("category", "funds"),
            ("description", MARKER),
            ("privacy_ack", "yes"),
        ]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the form got no answer: {e}"));
    assert_eq!(res.status().as_u16(), 503);
    let html = res.text().await.unwrap_or_default();
    assert!(
        html.contains("Un problème technique nous empêche de traiter votre demande."),
        "{html}"
    );
    assert!(html.contains(MARKER), "the text is kept in the form");
    let (n, log) = failures_logged(&server, 1).await;
    assert_eq!(n, 1, "the failure is logged once:\n{log}");

    // With JavaScript: a JSON problem.
    let token = Token::generate();
    let derived = crypto::derive_from_token(&token);
    let recipients: Vec<age::x25519::Recipient> =
        identities.iter().map(|i| i.to_public()).collect();
    let plain =
        json!({"v": 1, "type": "report", "lang": "fr", "category": "funds", "description": MARKER});
    let sealed = crypto::encrypt_for_case(
        &Recipients::new(recipients),
        &derived.reply_recipient,
        &crypto::pad(Zeroizing::new(plain.to_string().into_bytes())),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let lookup = hex::encode(*derived.lookup);
    let recipient = derived.reply_recipient.to_string();
    let res = client
        .post(format!("{}/api/v1/reports", server.address))
        .header("Content-Type", "application/json")
        .body(
            json!({
                "ciphertext": base64::engine::general_purpose::STANDARD.encode(sealed.as_bytes()),
                "lookup": lookup,
                "recipient": recipient,
                "privacy_acknowledged": true,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("the API got no answer: {e}"));
    assert_eq!(res.status().as_u16(), 503);
    let problem: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(problem["error"], "unavailable", "{problem}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Rien n'a été enregistré"),
        "{problem}"
    );

    let (n, log) = failures_logged(&server, 2).await;
    assert_eq!(n, 2, "each failure is logged once:\n{log}");
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("report could not be stored"))
        .collect();
    for line in &failures {
        assert!(
            line.contains("no such table: cases")
                || line.contains(r#"relation \"cases\" does not exist"#),
            "the cause is named: {line}"
        );
    }
    for secret in [MARKER, lookup.as_str(), recipient.as_str()] {
        assert!(!log.contains(secret), "the log holds «{secret}»:\n{log}");
    }
}
