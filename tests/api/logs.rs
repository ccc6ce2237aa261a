//! The real binary's log never carries a client address, a user agent, a
//! referrer, a token or any text a reporter wrote.

use std::time::Duration;

use crate::helpers::{encode_form, test_settings, token_of, ServerProcess, TestDb};

async fn exercise_and_collect_log(level: &str) -> String {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = TestDb::fresh(dir.path());
    let (settings, _, _) = test_settings(dir.path(), &db);
    let server = ServerProcess::start_with(
        &settings,
        &db,
        level,
        &[
            ("VIGIE_ACCESS_LOG_INTERVAL_SECS", "1"),
            ("RUST_LOG", "trace"),
        ],
    );
    let address = server.address.clone();
    let client = reqwest::Client::builder()
        .user_agent("SneakyBrowser/9.9 (Secretariat-PC-042)")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let headers = |req: reqwest::RequestBuilder| {
        req.header("X-Forwarded-For", "203.0.113.77")
            .header("X-Real-IP", "203.0.113.78")
            .header("Referer", "https://intranet.example/leak-referrer")
            .header("Content-Type", "application/x-www-form-urlencoded")
    };
    let form = encode_form(&[
        ("category", "funds"),
        (
            "description",
            "Quetzalcoatl-Secret-Words a détourné la subvention",
        ),
        ("persons", "Personne-Témoin-Unique"),
        ("privacy_ack", "yes"),
    ]);
    let receipt = headers(client.post(format!("{address}/fr/report")))
        .body(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let token = token_of(&receipt);
    let _ = headers(client.post(format!("{address}/fr/follow-up?token={token}")))
        .body(encode_form(&[("token", &token)]))
        .send()
        .await;
    let _ = headers(client.post(format!("{address}/fr/follow-up/message")))
        .body(encode_form(&[
            ("token", &token),
            ("body", "Message-Suivi-Secret ajouté"),
        ]))
        .send()
        .await;
    let _ = headers(client.post(format!("{address}/en/report?q=Query-String-Secret")))
        .body("category=nope&description=Rejected-Text-Secret")
        .send()
        .await;
    let _ = headers(client.get(format!("{address}/fr/unknown-Path-Secret")))
        .send()
        .await;
    // Let one request summary go out.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let log = server.stop();
    let token_compact = token.replace('-', "");
    for secret in [
        "Quetzalcoatl",
        "Personne-Témoin",
        "Rejected-Text-Secret",
        "Message-Suivi-Secret",
        "Query-String-Secret",
        "Path-Secret",
        token.as_str(),
        token_compact.as_str(),
        "SneakyBrowser",
        "Secretariat-PC",
        "203.0.113",
        "intranet.example",
    ] {
        assert!(
            !log.contains(secret),
            "the {level} log holds «{secret}»:\n{log}"
        );
    }
    for line in log.lines() {
        if line.contains("127.0.0.1") {
            // Only the server's own listening address and its database server
            // may appear; the client here connects from 127.0.0.1 too.
            let own = line.contains("listening on")
                || line.contains("starting service")
                || line.contains("database=PostgreSQL at");
            assert!(own, "a log line names an address: {line}");
        }
    }
    let summary = log
        .lines()
        .find(|l| l.contains("method=POST route=/{lang}/report status=200 count=1"));
    assert!(
        summary.is_some(),
        "requests are counted under their route pattern:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("20")),
        "log lines carry no timestamp of their own:\n{log}"
    );
    log
}

#[tokio::test]
async fn the_log_at_the_default_level_holds_no_address_agent_token_or_text() {
    exercise_and_collect_log("info").await;
}

#[tokio::test]
async fn the_log_at_debug_level_holds_no_address_agent_token_or_text() {
    exercise_and_collect_log("debug").await;
}
