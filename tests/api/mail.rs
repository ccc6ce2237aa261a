//! Notifications through a real SMTP server on loopback (aiosmtpd), in
//! plain SMTP, STARTTLS and implicit TLS with a test certificate authority.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use secrecy::ExposeSecret;
use vigie::{
    config::Settings,
    crypto::{self, Token},
    db::{Case, Outbox},
    domain::{Clock, Role},
    jobs,
    notify::{self, Notifier},
};

use crate::helpers::{spawn_app_with, token_of, Running, TestApp};

/// The SMTP server, killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub out: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether the SMTP test server can run here; in CI it must.
pub fn smtp_available() -> bool {
    crate::helpers::require_tool("aiosmtpd")
}

impl SmtpServer {
    pub fn start(port: u16, mode: &str, cert: Option<&Certs>) -> SmtpServer {
        Self::start_with(port, mode, cert, &[])
    }

    /// With extra options of the test server (`--no-8bitmime`,
    /// `--refuse-rcpt 550`…).
    pub fn start_with(port: u16, mode: &str, cert: Option<&Certs>, extra: &[&str]) -> SmtpServer {
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/smtp_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--mode", mode, "--out"])
            .arg(out.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(c) = cert {
            cmd.arg("--cert")
                .arg(&c.server_cert)
                .arg("--key")
                .arg(&c.server_key);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        assert!(line.starts_with("READY"), "the SMTP server did not start");
        SmtpServer { child, out }
    }

    /// Raw sources and EHLO names of the messages received so far.
    pub fn messages(&self) -> Vec<(String, String)> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        found.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        found.sort();
        found
            .iter()
            .map(|p| {
                let raw = std::fs::read_to_string(p).unwrap_or_default();
                let helo = std::fs::read_to_string(p.with_extension("helo")).unwrap_or_default();
                (raw, helo)
            })
            .collect()
    }
}

/// A test certificate authority, a server certificate it signed for
/// localhost, and a self-signed certificate nobody trusts.
pub struct Certs {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

pub fn certs() -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Vigie test CA");
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .unwrap_or_else(|e| panic!("{e}"));
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .and_then(|p| p.signed_by(&server_key, &issuer))
        .unwrap_or_else(|e| panic!("{e}"));
    let rogue_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let rogue = CertificateParams::new(vec!["localhost".to_string()])
        .and_then(|p| p.self_signed(&rogue_key))
        .unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    };
    Certs {
        ca: write("ca.pem", ca_cert.pem()),
        server_cert: write("server.pem", server.pem()),
        server_key: write("server.key", server_key.serialize_pem()),
        rogue_cert: write("rogue.pem", rogue.pem()),
        rogue_key: write("rogue.key", rogue_key.serialize_pem()),
        _dir: dir,
    }
}

pub fn relay(settings: &mut Settings, port: u16, security: &str, ca: Option<&Path>) {
    settings.smtp_host = Some(
        if security == "plain" {
            "127.0.0.1"
        } else {
            "localhost"
        }
        .into(),
    );
    settings.smtp_port = Some(port);
    settings.smtp_security = security.into();
    settings.smtp_ca_file = ca.map(Path::to_path_buf);
    settings.smtp_hello_name = "vigie.example.org".into();
    settings.mail_from = "vigie@example.org".into();
    settings.mail_to = vec!["secretaire@example.org".into()];
    settings.notify_max_delay_secs = 0;
    settings.notify_poll_millis = HOURLY;
}

/// The app's own workers tick once an hour (their first tick, at start, finds
/// nothing to do): the tests run the passes themselves with [`drive`].
const HOURLY: u64 = 3_600_000;

/// One pass of the periodic jobs, then one of the mail worker, as the app's
/// background tasks run them: when it returns, what was due has been sent
/// or has failed, and the test can look.
pub async fn drive(app: &TestApp) -> notify::Pass {
    settle(app).await;
    let (db, clock, settings) = (app.pool.clone(), app.clock.clone(), app.settings.clone());
    let pass = tokio::task::spawn_blocking(move || {
        let notifier = Notifier::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
        jobs::run_pass(&db, clock.as_ref(), settings.retention_days)
            .unwrap_or_else(|e| panic!("{e}"));
        notify::run_pass(&db, &notifier, clock.as_ref(), "test").unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    settle(app).await;
    pass
}

/// Waits while the app's own mail worker holds outbox rows: its first pass
/// runs when the app starts, on the app's own thread, and may take a row
/// that the test means to send; the test looks once it has let go.
async fn settle(app: &TestApp) {
    use diesel::prelude::*;
    use vigie::db::schema::outbox;
    for _ in 0..400 {
        let held: i64 = outbox::table
            .filter(outbox::claimed_by.is_not_null())
            .filter(outbox::claimed_by.ne("test"))
            .count()
            .get_result(&mut app.conn())
            .unwrap_or_else(|e| panic!("{e}"));
        if held == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the app's mail worker kept its rows");
}

/// The count announced by an activity email.
pub fn count_of(raw: &str) -> usize {
    raw.split("signalement : ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn pending(app: &TestApp) -> i64 {
    Outbox::pending(&mut app.conn()).unwrap_or(-1)
}

#[tokio::test]
async fn an_email_over_plain_smtp_to_loopback_says_nothing_but_a_count() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start(port, "plain", None);
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    // Submitted on a day other than the day the email leaves.
    app.clock.advance(-260 * 86400);
    let words = "Zéphyrin-Témoin-4471 a falsifié les comptes";
    let html = app
        .submit_report(
            "fr",
            &[
                ("category", "funds"),
                ("description", words),
                ("place", "Ouagadougou"),
            ],
        )
        .await;
    let token = Token::parse(&token_of(&html)).unwrap_or_else(|e| panic!("{e}"));
    drive(&app).await;
    let mail = server.messages();
    assert_eq!(mail.len(), 1);
    let (raw, helo) = &mail[0];
    assert_eq!(helo, "vigie.example.org", "EHLO uses the configured name");
    assert_eq!(count_of(raw), 1, "{raw}");
    assert!(raw.contains("Nouvelle activité sur la plateforme de signalement"));
    assert!(raw.contains("http://127.0.0.1:8080/fr/secretary"));
    let derived = crypto::derive_from_token(&token);
    let case = Case::find_by_locator(&mut app.conn(), &derived.locator)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("stored"));
    let machine = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    for secret in [
        "Zéphyrin",
        "falsifié",
        "Ouagadougou",
        "funds",
        "Utilisation des fonds",
        case.id.as_str(),
        &hex::encode(derived.locator.as_bytes()),
        &derived.reply_recipient.to_string(),
        token.display().expose_secret(),
        "2026-03-15",
        "15 mars 2026",
        "15 Mar 2026",
    ] {
        assert!(!raw.contains(secret), "the email holds «{secret}»:\n{raw}");
    }
    if !machine.is_empty() && machine != "localhost" {
        assert!(!raw.contains(&machine), "the email names the machine");
    }
    // The rows go once the relay's acceptance is recorded, in the same pass.
    assert_eq!(pending(&app), 0, "delivered rows are deleted");
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_a_private_ca_deliver_and_an_untrusted_relay_is_refused() {
    if !smtp_available() {
        return;
    }
    let certs = certs();
    for mode in ["starttls", "tls"] {
        let port = free_port();
        let server = SmtpServer::start(port, mode, Some(&certs));
        let app = spawn_app_with(|s| relay(s, port, mode, Some(&certs.ca))).await;
        app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
            .await;
        drive(&app).await;
        let mail = server.messages();
        assert_eq!(mail.len(), 1, "{mode}");
        assert_eq!(count_of(&mail[0].0), 1);
    }
    // A relay whose certificate no trusted authority signed gets nothing.
    let port = free_port();
    let rogue = Certs {
        ca: certs.ca.clone(),
        server_cert: certs.rogue_cert.clone(),
        server_key: certs.rogue_key.clone(),
        ..certs
    };
    let server = SmtpServer::start(port, "starttls", Some(&rogue));
    let app = spawn_app_with(|s| relay(s, port, "starttls", Some(&rogue.ca))).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    drive(&app).await;
    assert!(
        server.messages().is_empty(),
        "nothing goes to an untrusted relay"
    );
    assert_eq!(
        pending(&app),
        1,
        "the notification waits, it is not dropped"
    );
    let backlog = Outbox::backlog(
        &mut app.conn(),
        Role::Secretary,
        app.clock.now() + 86400,
        60,
    )
    .unwrap_or_default();
    assert!(
        backlog.last_error.as_deref().is_some_and(|e| e == "tls"),
        "{:?}",
        backlog.last_error
    );

    // Hours later the workspace says that mail is stuck, and why.
    app.clock.advance(3 * 3600);
    let s = crate::workspace::login(&app).await;
    let inbox = crate::workspace::page(&app, Some(&s), "/fr/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        inbox.contains("id=\"mail-warning\""),
        "the inbox warns about stuck mail"
    );
    assert!(
        inbox.contains("certificat du relais"),
        "and says why, in French"
    );
}

#[tokio::test]
async fn a_relay_down_for_a_while_gets_exactly_one_coalesced_email_when_it_comes_back() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    for i in 0..3 {
        app.submit_report(
            "fr",
            &[("category", "funds"), ("description", &format!("fait {i}"))],
        )
        .await;
    }
    // Every row fails once.
    drive(&app).await;
    assert_eq!(pending(&app), 3, "nothing is lost while the relay is down");
    let server = SmtpServer::start(port, "plain", None);
    app.clock.advance(2 * 3600);
    drive(&app).await;
    drive(&app).await;
    let mail = server.messages();
    assert_eq!(mail.len(), 1, "exactly one email");
    assert_eq!(count_of(&mail[0].0), 3, "counting all three");
    assert!(mail[0].0.contains("3 nouveaux"), "in the plural");
    assert_eq!(pending(&app), 0);
}

#[tokio::test]
async fn two_instances_on_one_database_count_each_event_in_exactly_one_email() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start(port, "plain", None);
    // Here the two instances' own workers compete for the rows.
    let first = spawn_app_with(|s| {
        relay(s, port, "plain", None);
        s.notify_poll_millis = 50;
    })
    .await;
    let mut second_settings = first.settings.clone();
    second_settings.listen = "127.0.0.1:0".into();
    let (second_port, _second) = Running::start(&second_settings, first.clock.clone());
    let second_address = format!("http://127.0.0.1:{second_port}");
    let events = 24;
    for i in 0..events {
        let base = if i % 2 == 0 {
            first.address.clone()
        } else {
            second_address.clone()
        };
        let res = first
            .client
            .post(format!("{base}/fr/report"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "category=funds&description=fait+{i}&privacy_ack=yes"
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200);
    }
    let started = Instant::now();
    while pending(&first) > 0 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A row is deleted only once the relay has accepted (and written) its
    // email: no row left means every email is on disk.
    let total: usize = server.messages().iter().map(|(raw, _)| count_of(raw)).sum();
    assert_eq!(
        total,
        events,
        "each event counted once, in {} emails",
        server.messages().len()
    );
}

#[tokio::test]
async fn a_daily_reminder_counts_deadlines_once_a_day() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start(port, "plain", None);
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    app.submit_report(
        "fr",
        &[("category", "funds"), ("description", "autres faits")],
    )
    .await;
    drive(&app).await;
    // Six days later both acknowledgements are due tomorrow; the jobs run
    // more than once that day.
    app.clock.advance(6 * 86400);
    drive(&app).await;
    drive(&app).await;
    let mail = server.messages();
    let reminders: Vec<String> = server
        .messages()
        .into_iter()
        .map(|(raw, _)| raw)
        .filter(|raw| raw.contains("Rappel des délais"))
        .collect();
    assert_eq!(reminders.len(), 1, "{mail:?}");
    assert!(reminders[0].contains("accusés de réception à envoyer dans les 2 jours : 2"));
    assert!(reminders[0].contains("dossiers en retard : 0"));
}

#[tokio::test]
async fn without_a_relay_emails_are_written_as_eml_files() {
    let app = spawn_app_with(|s| {
        s.notify_max_delay_secs = 0;
        s.notify_poll_millis = HOURLY;
    })
    .await;
    app.submit_report("en", &[("category", "funds"), ("description", "facts")])
        .await;
    drive(&app).await;
    let dir = app.settings.data_dir.join("mail");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).unwrap_or_default();
    assert!(raw.contains("1 nouvel élément"), "French by default: {raw}");
}

/// The body of an email, decoded from quoted-printable when it says so.
fn decoded_body(raw: &str) -> String {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or(("", raw));
    if !head
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable")
    {
        return body.to_string();
    }
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Runs the worker once (the send fails) and returns the backlog.
async fn first_failure(app: &TestApp) -> vigie::db::Backlog {
    drive(app).await;
    Outbox::backlog(
        &mut app.conn(),
        Role::Secretary,
        app.clock.now() + 86400,
        60,
    )
    .unwrap_or_default()
}

/// What the outbox rows hold as their last error, as stored.
fn stored_errors(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use vigie::db::schema::outbox;
    outbox::table
        .select(outbox::last_error)
        .load::<Option<String>>(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test]
async fn a_relay_without_8bitmime_gets_a_7bit_email_that_decodes_to_the_french_text() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start_with(port, "plain", None, &["--no-8bitmime"]);
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    app.submit_report(
        "fr",
        &[("category", "funds"), ("description", "Zéphyrin a signé")],
    )
    .await;
    drive(&app).await;
    let mail = server.messages();
    assert_eq!(
        mail.len(),
        1,
        "the relay took the email; outbox errors: {:?}",
        stored_errors(&app)
    );
    let raw = &mail[0].0;
    assert!(raw.is_ascii(), "7-bit clean: {raw}");
    assert!(
        raw.contains("Content-Transfer-Encoding: quoted-printable"),
        "{raw}"
    );
    let text = decoded_body(raw);
    assert!(
        text.contains("Nouvelle activité sur la plateforme de signalement : 1 nouvel élément."),
        "{text}"
    );
    assert!(
        text.contains("http://127.0.0.1:8080/fr/secretary"),
        "{text}"
    );
    assert!(!text.contains("Zéphyrin"), "{text}");
}

#[tokio::test]
async fn a_relay_that_refuses_the_recipient_is_named_with_its_code_in_the_outbox_the_inbox_and_check(
) {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start_with(port, "plain", None, &["--refuse-rcpt", "550"]);
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    let backlog = first_failure(&app).await;
    assert_eq!(backlog.last_error.as_deref(), Some("recipient-refused"));
    assert_eq!(backlog.last_reply_code, Some(550));
    for stored in stored_errors(&app) {
        assert_eq!(
            stored, "recipient-refused 550",
            "no address, no relay words"
        );
    }
    assert_eq!(pending(&app), 1, "kept, to be retried");

    // The workspace's notice says why, not "cannot be reached".
    app.clock.advance(3 * 3600);
    let s = crate::workspace::login(&app).await;
    let inbox = crate::workspace::page(&app, Some(&s), "/fr/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(inbox.contains("id=\"mail-warning\""), "{inbox}");
    assert!(
        inbox
            .replace("&#39;", "'")
            .contains("le relais refuse l'adresse du destinataire"),
        "{inbox}"
    );
    assert!(
        inbox.contains("réponse SMTP 550"),
        "the relay's code is shown"
    );
    assert!(!inbox.contains("injoignable"));

    // `vigie check` asks the relay about the recipient, without sending.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIE_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .arg("check")
        .env("VIGIE_DATABASE_URL", app.db.url())
        .env("VIGIE_RECIPIENTS_FILE", &app.settings.recipients_file)
        .env("VIGIE_DATA_DIR", &app.settings.data_dir)
        .env("VIGIE_SMTP_HOST", "127.0.0.1")
        .env("VIGIE_SMTP_SECURITY", "plain")
        .env("VIGIE_SMTP_PORT", port.to_string())
        .env("VIGIE_MAIL_TO", "secretaire@example.org")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("le relais refuse l'adresse du destinataire"),
        "{said}"
    );
    assert!(!said.contains("injoignable"), "{said}");
    assert!(server.messages().is_empty(), "check sends nothing");
}

#[tokio::test]
async fn a_relay_that_nothing_answers_for_is_reported_unreachable() {
    let port = free_port();
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    let backlog = first_failure(&app).await;
    assert_eq!(backlog.last_error.as_deref(), Some("unreachable"));
    assert_eq!(backlog.last_reply_code, None);
}

#[tokio::test]
async fn a_relay_that_refuses_the_message_after_data_is_not_called_unreachable() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let _server = SmtpServer::start_with(port, "plain", None, &["--refuse-data", "451"]);
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    let backlog = first_failure(&app).await;
    assert_eq!(backlog.last_error.as_deref(), Some("data-refused"));
    assert_eq!(backlog.last_reply_code, Some(451));
}

#[tokio::test]
async fn eml_files_and_their_folder_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    const CHILD: &str = "VIGIE_TEST_UMASK_000";
    if std::env::var_os(CHILD).is_none() {
        // This same test, again, in a process started under umask 000.
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new("sh")
            .arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(exe)
            .args([
                "--exact",
                "mail::eml_files_and_their_folder_are_private_whatever_the_umask",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{said}");
        assert!(
            said.contains("1 passed"),
            "the test ran under umask 000: {said}"
        );
        return;
    }
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let probe = std::env::temp_dir().join(format!("vigie-umask-{}", uuid::Uuid::new_v4()));
    std::fs::write(&probe, b"").unwrap_or_else(|e| panic!("{e}"));
    let open = mode(&probe);
    let _ = std::fs::remove_file(&probe);
    assert_eq!(open, 0o666, "this process runs under umask 000");

    let app = spawn_app_with(|s| {
        s.notify_max_delay_secs = 0;
        s.notify_poll_millis = HOURLY;
    })
    .await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    drive(&app).await;
    let dir = app.settings.data_dir.join("mail");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&dir), 0o700, "the mail folder");
    assert_eq!(mode(&files[0]), 0o600, "the .eml file");
}

#[tokio::test]
async fn the_bureau_s_cases_are_announced_to_the_bureau_s_addresses_only() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start(port, "plain", None);
    let (app, _bureau) = crate::helpers::spawn_app_with_bureau(|s| {
        relay(s, port, "plain", None);
        s.bureau_mail_to = vec!["bureau@example.org".into()];
    })
    .await;
    app.submit_report(
        "fr",
        &[
            ("readership", "bureau"),
            ("category", "funds"),
            ("description", "Le Secrétaire a exigé un marché"),
        ],
    )
    .await;
    drive(&app).await;
    let mail = server.messages();
    assert_eq!(mail.len(), 1, "one email, for the Bureau");
    let raw = &mail[0].0;
    assert!(raw.contains("To: bureau@example.org"), "{raw}");
    assert!(
        !raw.contains("secretaire@example.org"),
        "the Secretary is not told"
    );
    assert_eq!(count_of(raw), 1);
    // The Secretary's own case is announced to him alone.
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    drive(&app).await;
    let mail = server.messages();
    assert_eq!(mail.len(), 2);
    let second = mail
        .iter()
        .map(|(raw, _)| raw)
        .find(|raw| raw.contains("secretaire@example.org"))
        .unwrap_or_else(|| panic!("the Secretary's email"));
    assert!(!second.contains("bureau@example.org"));
    assert_eq!(count_of(second), 1, "the Bureau's case is not counted");
}

#[tokio::test]
async fn a_bureau_with_keys_and_a_relay_but_no_address_stops_the_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = crate::helpers::TestDb::fresh(dir.path());
    let (mut settings, _, _) = crate::helpers::test_settings(dir.path(), &db);
    settings.bureau_recipients_file = crate::helpers::bureau_file(dir.path()).0;
    relay(&mut settings, free_port(), "plain", None);
    let Err(e) = vigie::startup::Application::build(&settings) else {
        panic!("the Bureau's emails would have nowhere to go")
    };
    assert!(format!("{e:#}").contains("bureau_mail_to"));
}

/// Renames the outbox under the running app (`broken`) or gives it back:
/// every write of the mail worker then fails as in an outage, on either
/// backend.
fn break_outbox(app: &TestApp, broken: bool) {
    use diesel::RunQueryDsl;
    let sql = if broken {
        "ALTER TABLE outbox RENAME TO outbox_gone"
    } else {
        "ALTER TABLE outbox_gone RENAME TO outbox"
    };
    diesel::sql_query(sql)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"));
}

fn accepted_waiting(app: &TestApp) -> usize {
    notify::HandOffs::new(app.settings.data_dir.join(notify::HANDOFF_FOLDER))
        .map(|h| h.count())
        .unwrap_or(usize::MAX)
}

/// One pass of the mail worker, with `fail` run once the relay has the
/// email and before it says "accepted" (the relay, started with
/// `--hold-reply`, holds its reply until the test releases it): the
/// database then fails between the acceptance and the bookkeeping.
pub async fn send_and_fail_after_acceptance(
    app: &TestApp,
    server: &SmtpServer,
    fail: impl FnOnce(),
) -> notify::Pass {
    settle(app).await;
    let (db, clock) = (app.pool.clone(), app.clock.clone());
    let notifier = Notifier::from_settings(&app.settings).unwrap_or_else(|e| panic!("{e}"));
    let sending = tokio::task::spawn_blocking(move || {
        notify::run_pass(&db, &notifier, clock.as_ref(), "test")
    });
    let started = Instant::now();
    while server.messages().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the relay got nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fail();
    // Only now does the relay say "accepted".
    std::fs::write(server.out.path().join("release"), b"").unwrap_or_else(|e| panic!("{e}"));
    sending
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_email_the_relay_accepted_just_as_the_database_failed_is_not_sent_again() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    // The relay writes the message, then waits for the test before it says
    // "accepted": the test breaks the database in between.
    let server = SmtpServer::start_with(port, "plain", None, &["--hold-reply"]);
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    for i in 0..3 {
        app.submit_report(
            "fr",
            &[("category", "funds"), ("description", &format!("fait {i}"))],
        )
        .await;
    }
    let pass = send_and_fail_after_acceptance(&app, &server, || break_outbox(&app, true)).await;
    assert_eq!((pass.sent, pass.unrecorded), (1, 1), "{pass:?}");
    assert_eq!(accepted_waiting(&app), 1, "the acceptance is written down");

    // While the database fails, passes neither send nor claim.
    for _ in 0..2 {
        let (db, clock, settings) = (app.pool.clone(), app.clock.clone(), app.settings.clone());
        let again = tokio::task::spawn_blocking(move || {
            let notifier = Notifier::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
            notify::run_pass(&db, &notifier, clock.as_ref(), "test")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(again.is_err(), "the database still fails: {again:?}");
    }

    // The database is back, long after the lease would have run out.
    break_outbox(&app, false);
    app.clock.advance(3 * 3600);
    for _ in 0..3 {
        drive(&app).await;
    }
    assert_eq!(
        server.messages().len(),
        1,
        "the accepted email went out once"
    );
    assert_eq!(pending(&app), 0, "its rows are deleted");
    assert_eq!(accepted_waiting(&app), 0, "and nothing waits any more");

    // What comes next is still sent, once.
    app.submit_report("fr", &[("category", "funds"), ("description", "fait 4")])
        .await;
    app.clock.advance(3600);
    drive(&app).await;
    let mail = server.messages();
    assert_eq!(mail.len(), 2);
    assert_eq!(
        count_of(&mail[0].0) + count_of(&mail[1].0),
        4,
        "every report counted once"
    );
}

#[tokio::test]
async fn mail_stuck_behind_a_dead_relay_shows_in_readiness_while_the_service_stays_ready() {
    let port = free_port();
    let app = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "fait")])
        .await;
    drive(&app).await;
    let (status, body) = readiness(&app).await;
    assert_eq!((status, body["mail"].as_str()), (200, Some("ok")), "{body}");
    app.clock.advance(3 * 3600);
    // Readiness answers again for a few seconds before it looks anew.
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "reports are still stored: {body}");
    assert_eq!(body["mail"], "stuck", "{body}");
}

async fn readiness(app: &TestApp) -> (u16, serde_json::Value) {
    let res = app.get("/readyz").await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}
