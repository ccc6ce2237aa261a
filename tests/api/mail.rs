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
    domain::Clock,
};

use crate::helpers::{spawn_app_with, token_of, TestApp};

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether the SMTP test server can run here; in CI it must.
fn smtp_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("the SMTP test server (python3 -m pip install aiosmtpd) is required in CI");
        }
        eprintln!("SKIPPED: the mail tests need python3 with aiosmtpd (pip install aiosmtpd)");
    }
    ok
}

impl SmtpServer {
    pub fn start(port: u16, mode: &str, cert: Option<&Certs>) -> SmtpServer {
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/smtp_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--mode", mode, "--out"])
            .arg(out.path())
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

    pub async fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.messages()
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

fn relay(settings: &mut Settings, port: u16, security: &str, ca: Option<&Path>) {
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
    settings.notify_poll_millis = 50;
}

/// The count announced by an activity email.
fn count_of(raw: &str) -> usize {
    raw.split("signalement : ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn pending(app: &TestApp) -> i64 {
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
    let mail = server.wait_for(1).await;
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
        case.row.id.as_str(),
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
    // The rows go once the relay's acceptance is recorded, just after.
    let started = Instant::now();
    while pending(&app) != 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        let mail = server.wait_for(1).await;
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        server.messages().is_empty(),
        "nothing goes to an untrusted relay"
    );
    assert_eq!(
        pending(&app),
        1,
        "the notification waits, it is not dropped"
    );
    let backlog = Outbox::backlog(&mut app.conn(), app.clock.now() + 86400, 60).unwrap_or_default();
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
    // Every row has failed at least once.
    let started = Instant::now();
    loop {
        let backlog =
            Outbox::backlog(&mut app.conn(), app.clock.now() + 86400, 60).unwrap_or_default();
        if backlog.last_error.is_some() || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending(&app), 3, "nothing is lost while the relay is down");
    let server = SmtpServer::start(port, "plain", None);
    app.clock.advance(2 * 3600);
    let mail = server.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mail = if mail.len() == 1 {
        server.messages()
    } else {
        mail
    };
    assert_eq!(mail.len(), 1, "exactly one email");
    assert_eq!(count_of(&mail[0].0), 3, "counting all three");
    assert_eq!(pending(&app), 0);
}

#[tokio::test]
async fn two_instances_on_one_database_count_each_event_in_exactly_one_email() {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let server = SmtpServer::start(port, "plain", None);
    let first = spawn_app_with(|s| relay(s, port, "plain", None)).await;
    let mut second_settings = first.settings.clone();
    second_settings.listen = "127.0.0.1:0".into();
    let second =
        vigie::startup::Application::build_with_clock(&second_settings, first.clock.clone())
            .unwrap_or_else(|e| panic!("{e:#}"));
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    server.wait_for(1).await;
    // Six days later both acknowledgements are due tomorrow.
    app.clock.advance(6 * 86400);
    let mail = server.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
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
        s.notify_poll_millis = 50;
    })
    .await;
    app.submit_report("en", &[("category", "funds"), ("description", "facts")])
        .await;
    let dir = app.settings.data_dir.join("mail");
    let started = Instant::now();
    let mut files = Vec::new();
    while files.is_empty() && started.elapsed() < Duration::from_secs(10) {
        files = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).unwrap_or_default();
    assert!(
        raw.contains("1 nouvel(s) élément(s)"),
        "French by default: {raw}"
    );
}
