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
                || line.contains(r#"relation "cases" does not exist"#),
            "the cause is named: {line}"
        );
    }
    for secret in [MARKER, lookup.as_str(), recipient.as_str()] {
        assert!(!log.contains(secret), "the log holds «{secret}»:\n{log}");
    }
    assert!(!log.contains("Error(None)"), "causes in words:\n{log}");
}

/// A TCP relay to PostgreSQL that, once armed, lets the first COMMIT of a
/// transaction that stored a case reach the server, then breaks both
/// connections before the answer comes back: the commit happened, and the
/// application cannot know it.
#[cfg(feature = "postgres")]
pub struct CommitCutter {
    port: u16,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set: the database is "down": every connection is cut, new ones too.
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

#[cfg(feature = "postgres")]
impl CommitCutter {
    fn start(target: String) -> Self {
        use std::{
            io::{Read, Write},
            net::{Shutdown, TcpListener, TcpStream},
            sync::{atomic::Ordering, Arc},
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = armed.clone();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_down = down.clone();
        let open = Arc::new(std::sync::Mutex::new(Vec::new()));
        let opened = open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if is_down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                if let (Ok(mut list), Ok(c), Ok(s)) =
                    (opened.lock(), client.try_clone(), server.try_clone())
                {
                    list.push(c);
                    list.push(s);
                }
                let (mut c_in, mut s_out) = (
                    client.try_clone().unwrap_or_else(|e| panic!("{e}")),
                    server.try_clone().unwrap_or_else(|e| panic!("{e}")),
                );
                let (mut s_in, mut c_out) = (server, client);
                let armed = flag.clone();
                // Once set, nothing more goes back to the application.
                let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let cut_back = cut.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut stored_a_case = false;
                    while let Ok(n) = c_in.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let seen = &buf[..n];
                        if seen.windows(19).any(|w| w == b"INSERT INTO \"cases\"") {
                            stored_a_case = true;
                        }
                        let commit = seen.windows(6).any(|w| w == b"COMMIT");
                        let cutting =
                            stored_a_case && commit && armed.swap(false, Ordering::SeqCst);
                        if cutting {
                            cut.store(true, Ordering::SeqCst);
                        }
                        if s_out.write_all(seen).is_err() {
                            break;
                        }
                        if cutting {
                            // Let the server commit, then cut: its answer
                            // never reaches the application.
                            std::thread::sleep(Duration::from_millis(300));
                            let _ = c_in.shutdown(Shutdown::Both);
                            let _ = s_out.shutdown(Shutdown::Both);
                            break;
                        }
                        if commit || seen.windows(6).any(|w| w == b"ROLLBA") {
                            stored_a_case = false;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = s_in.read(&mut buf) {
                        if n == 0
                            || cut_back.load(Ordering::SeqCst)
                            || c_out.write_all(&buf[..n]).is_err()
                        {
                            let _ = c_out.shutdown(Shutdown::Both);
                            break;
                        }
                    }
                });
            }
        });
        CommitCutter {
            port,
            armed,
            down,
            open,
        }
    }

    /// The database comes back: new connections go through again.
    pub fn bring_up(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// The database goes away: every connection is cut, new ones refused.
    pub fn take_down(&self) {
        use std::sync::atomic::Ordering;
        self.down.store(true, Ordering::SeqCst);
        if let Ok(list) = self.open.lock() {
            for s in list.iter() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A test server whose database connections go through a [`CommitCutter`],
/// and the database's own address; `None` on SQLite.
#[cfg(feature = "postgres")]
async fn behind_a_cutter() -> Option<(CommitCutter, crate::helpers::TestApp, String)> {
    behind_a_cutter_with(|_| ()).await
}

/// [`behind_a_cutter`], with other settings changed too.
#[cfg(feature = "postgres")]
pub async fn behind_a_cutter_with(
    change: impl FnOnce(&mut vigie::config::Settings),
) -> Option<(CommitCutter, crate::helpers::TestApp, String)> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let test_db = TestDb::fresh(dir.path());
    let url = test_db.url();
    if !url.starts_with("postgres") {
        eprintln!("SKIPPED: cutting the database's connections needs PostgreSQL (VIGIE_TEST_DATABASE_URL)");
        return None;
    }
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .map(|a| a.rsplit('@').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    let cutter = CommitCutter::start(authority.clone());
    let proxied = url.replacen(&authority, &format!("127.0.0.1:{}", cutter.port), 1);
    let app = crate::helpers::spawn_app_on(dir, test_db, |s| {
        s.database_url = Some(proxied.clone().into());
        change(s);
    })
    .await;
    Some((cutter, app, url))
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn when_the_connection_breaks_at_commit_the_reporter_is_told_it_may_be_stored_and_sending_again_lands_on_the_same_case(
) {
    use secrecy::ExposeSecret;
    let Some((cutter, app, url)) = behind_a_cutter().await else {
        return;
    };
    let direct = db::connect(
        &vigie::config::Settings {
            database_url: Some(url.clone().into()),
            data_dir: app.dir.path().join("direct"),
            ..Default::default()
        }
        .database()
        .unwrap_or_else(|e| panic!("{e}")),
        1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let count =
        || db::Case::count(&mut direct.conn().unwrap_or_else(|e| panic!("{e}"))).unwrap_or(-1);

    // With JavaScript: 503 maybe-stored, though the case is there; the page
    // sends again with the same token and is told it was received.
    let token = Token::generate();
    let derived = crypto::derive_from_token(&token);
    let plain = crypto::pad(Zeroizing::new(
        json!({"v": 1, "type": "report", "lang": "fr", "category": "funds", "description": MARKER})
            .to_string()
            .into_bytes(),
    ));
    let sealed = crypto::encrypt_for_case(
        &Recipients::new(app.recipients.clone()),
        &derived.reply_recipient,
        &plain,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let body = json!({
        "ciphertext": base64::engine::general_purpose::STANDARD.encode(sealed.as_bytes()),
        "lookup": hex::encode(*derived.lookup),
        "recipient": derived.reply_recipient.to_string(),
        "privacy_acknowledged": true,
    });
    cutter.arm();
    let (status, problem) = app.submit_report_js(&body).await;
    assert_eq!(
        (status, problem["error"].as_str()),
        (503, Some("maybe-stored")),
        "{problem}"
    );
    assert!(problem["message"]
        .as_str()
        .unwrap_or_default()
        .contains("peut-être été reçu"));
    assert_eq!(count(), 1, "the commit happened");
    let (status, problem) = app.submit_report_js(&body).await;
    assert_eq!(
        (status, problem["error"].as_str()),
        (409, Some("duplicate"))
    );
    assert_eq!(count(), 1);

    // Without JavaScript: the code is shown with the form, and sending
    // again is told it was received; never a second case.
    let form = app.get("/fr/report").await.text().await.unwrap_or_default();
    let start = form.find("/report?s=").unwrap_or_else(|| panic!("no key")) + "/report?s=".len();
    let key = form[start..start + 36].to_string();
    let path = format!("/fr/report?s={key}");
    cutter.arm();
    let res = app
        .post_form(&path, &[("category", "funds"), ("description", MARKER)])
        .await;
    assert_eq!(res.status().as_u16(), 503);
    let page = res.text().await.unwrap_or_default();
    assert!(page.contains("peut-être été reçu"), "{page}");
    assert!(page.contains(MARKER), "the text is kept");
    let shown = crate::helpers::element_text(&page, "maybe-token").unwrap_or_default();
    let kept = Token::parse(&shown).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        app.look_up(&kept).is_some(),
        "the code shown is the stored case's"
    );
    assert_eq!(count(), 2);
    let again = app
        .post_form(
            &path,
            &[
                ("category", "funds"),
                ("description", MARKER),
                ("token", kept.display().expose_secret()),
            ],
        )
        .await;
    assert_eq!(again.status().as_u16(), 409);
    assert!(again
        .text()
        .await
        .unwrap_or_default()
        .contains("affiché la première fois"));
    assert_eq!(count(), 2, "never a second case");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn while_the_database_is_down_pages_and_health_answer_503_within_seconds_not_after_a_long_wait(
) {
    let Some((cutter, app, _)) = behind_a_cutter().await else {
        return;
    };
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    cutter.take_down();
    for _ in 0..2 {
        let started = Instant::now();
        let status = app.get("/healthz").await.status().as_u16();
        assert_eq!(status, 503);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    let res = app
        .post_form(
            "/fr/report",
            &[("category", "funds"), ("description", MARKER)],
        )
        .await;
    assert_eq!(res.status().as_u16(), 503);
    assert!(
        res.text().await.unwrap_or_default().contains(MARKER),
        "the text is kept"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn when_postgresql_goes_down_just_after_the_relay_accepted_an_email_it_is_recorded_once_back_and_never_sent_twice(
) {
    use crate::mail::{
        count_of, drive, free_port, pending, relay, send_and_fail_after_acceptance, SmtpServer,
    };
    if !crate::mail::smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start_with(port, "plain", None, &["--hold-reply"]);
    let Some((cutter, app, _)) = behind_a_cutter_with(|s| relay(s, port, "plain", None)).await
    else {
        return;
    };
    for i in 0..2 {
        app.submit_report(
            "fr",
            &[("category", "funds"), ("description", &format!("fait {i}"))],
        )
        .await;
    }
    // PostgreSQL goes away between the relay's acceptance and the deletion.
    let pass = send_and_fail_after_acceptance(&app, &server, || cutter.take_down()).await;
    assert_eq!((pass.sent, pass.unrecorded), (1, 1), "{pass:?}");

    cutter.bring_up();
    app.clock.advance(3 * 3600);
    for _ in 0..3 {
        drive(&app).await;
    }
    let mail = server.messages();
    assert_eq!(mail.len(), 1, "the accepted email went out once");
    assert_eq!(count_of(&mail[0].0), 2);
    assert_eq!(
        pending(&app),
        0,
        "its rows are deleted once PostgreSQL is back"
    );
}
