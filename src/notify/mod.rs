//! Telling the Secretary that something arrived, without saying what, when
//! or from whom. Events write an outbox row in their own transaction; a
//! background worker sends, after a random delay, one email that counts
//! everything pending: a fixed sentence, a number, the inbox address.

use std::{path::PathBuf, sync::Arc, time::Duration};

use lettre::{
    message::{
        header::{ContentTransferEncoding, ContentType},
        Body, Mailbox,
    },
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
        extension::ClientId,
    },
    FileTransport, Message, SmtpTransport, Transport as _,
};
use rand::Rng;
use secrecy::ExposeSecret;

use crate::{
    config::{MailSetting, Settings, SmtpSecurity},
    db::{Db, DbError, DeadlineCounts, Outbox, OutboxRow},
    domain::Clock,
    i18n::{I18n, Lang},
};

/// How long a worker holds the rows it is sending before another instance
/// may take them over (a worker that crashed mid-send).
const LEASE_SECS: i64 = 300;
/// The first wait after a failure; it doubles with each attempt.
const RETRY_BASE_SECS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("mail setting `{0}` is not a valid address")]
    Address(&'static str),
    #[error("cannot read the relay's certificate authority file: {0}")]
    CaFile(std::io::Error),
    #[error("the relay's certificate authority file is not a PEM certificate")]
    CaPem,
    #[error("the TLS parameters could not be built")]
    Tls,
    #[error("the mail folder cannot be created: {0}")]
    Folder(std::io::Error),
    #[error("the message catalogues are broken")]
    Catalogue,
}

/// Why an email did not leave. Short, and never the relay's own words
/// (they could name a host or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the relay could not be reached")]
    Unreachable,
    #[error("TLS failed: the relay's certificate is not trusted, or TLS is not offered")]
    Tls,
    #[error("the relay refused the email for now")]
    Transient,
    #[error("the relay refused the email")]
    Permanent,
    #[error("the relay did not answer in time")]
    Timeout,
    #[error("the email could not be written to the mail folder")]
    File,
}

impl SendError {
    /// A stable code, stored with the outbox row and translated on display.
    pub fn code(self) -> &'static str {
        match self {
            SendError::Unreachable => "unreachable",
            SendError::Tls => "tls",
            SendError::Transient => "transient",
            SendError::Permanent => "permanent",
            SendError::Timeout => "timeout",
            SendError::File => "file",
        }
    }

    pub fn message_key(self) -> String {
        format!("mail-error-{}", self.code())
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    // A certificate refused during the handshake surfaces as a connection
    // error whose cause names it; only the class is kept, never the text.
    let cause = format!("{e:?}").to_ascii_lowercase();
    if e.is_tls() || cause.contains("certificate") || cause.contains("handshake") {
        SendError::Tls
    } else if e.is_timeout() {
        SendError::Timeout
    } else if e.is_permanent() {
        SendError::Permanent
    } else if e.is_transient() {
        SendError::Transient
    } else {
        SendError::Unreachable
    }
}

enum Way {
    Files(PathBuf, FileTransport),
    Smtp(Box<SmtpTransport>),
}

/// Builds and sends the notification emails.
pub struct Notifier {
    way: Way,
    from: Mailbox,
    to: Vec<Mailbox>,
    lang: Lang,
    inbox: String,
    hello: String,
    i18n: I18n,
    max_delay_secs: u64,
    retry_cap_secs: i64,
}

impl Notifier {
    pub fn from_settings(settings: &Settings) -> Result<Self, NotifyError> {
        let mail = settings
            .mail()
            .map_err(|_| NotifyError::Address("smtp_host"))?;
        let lang: Lang = settings.mail_lang.parse().unwrap_or_default();
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|_| NotifyError::Address("mail_from"))?;
        let to = settings
            .mail_to
            .iter()
            .map(|a| a.parse::<Mailbox>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| NotifyError::Address("mail_to"))?;
        let way = match mail {
            MailSetting::Files(dir) => {
                std::fs::create_dir_all(&dir).map_err(NotifyError::Folder)?;
                Way::Files(dir.clone(), FileTransport::new(dir))
            }
            MailSetting::Smtp {
                host,
                port,
                security,
            } => {
                let mut tls = TlsParameters::builder(host.clone());
                if let Some(ca) = &settings.smtp_ca_file {
                    let pem = std::fs::read(ca).map_err(NotifyError::CaFile)?;
                    tls = tls.add_root_certificate(
                        Certificate::from_pem(&pem).map_err(|_| NotifyError::CaPem)?,
                    );
                }
                let tls = tls.build_rustls().map_err(|_| NotifyError::Tls)?;
                let mut builder = SmtpTransport::builder_dangerous(host)
                    .port(port)
                    .hello_name(ClientId::Domain(settings.smtp_hello_name.clone()))
                    .timeout(Some(Duration::from_secs(30)))
                    .tls(match security {
                        SmtpSecurity::StartTls => Tls::Required(tls),
                        SmtpSecurity::Tls => Tls::Wrapper(tls),
                        SmtpSecurity::Plain => Tls::None,
                    });
                if let Some(user) = &settings.smtp_username {
                    let password = settings
                        .smtp_password
                        .as_ref()
                        .map(|p| p.expose_secret().to_string())
                        .unwrap_or_default();
                    builder = builder.credentials(Credentials::new(user.clone(), password));
                }
                Way::Smtp(Box::new(builder.build()))
            }
        };
        Ok(Notifier {
            way,
            from,
            to,
            lang,
            inbox: format!(
                "{}/{}/secretary",
                settings.public_url.trim_end_matches('/'),
                lang.code()
            ),
            hello: settings.smtp_hello_name.clone(),
            i18n: I18n::load().map_err(|_| NotifyError::Catalogue)?,
            max_delay_secs: settings.notify_max_delay_secs,
            retry_cap_secs: i64::try_from(settings.notify_retry_cap_secs).unwrap_or(i64::MAX),
        })
    }

    /// Where the `.eml` files go, when there is no relay.
    pub fn mail_folder(&self) -> Option<&PathBuf> {
        match &self.way {
            Way::Files(dir, _) => Some(dir),
            Way::Smtp(_) => None,
        }
    }

    /// A random delay in `[0, notify_max_delay_secs]`, from the OS's CSPRNG.
    pub fn random_delay(&self) -> i64 {
        random_delay(self.max_delay_secs)
    }

    fn message(&self, subject_key: &str, body: String) -> Result<Message, SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(self.i18n.get(self.lang, subject_key))
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4().simple(),
                self.hello
            )))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        if self.to.is_empty() {
            builder = builder.to(self.from.clone());
        }
        // 8bit UTF-8 text, readable as it is: no encoding can hide a word
        // from the tests that prove there is none to hide. The text comes
        // from the catalogues (short lines, no NUL), so it is valid 8bit once
        // its line ends are CRLF.
        let crlf = body.replace("\r\n", "\n").replace('\n', "\r\n");
        let body =
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit);
        builder.body(body).map_err(|_| SendError::File)
    }

    /// "New activity on the reporting platform: N new item(s)."
    pub fn activity_email(&self, items: usize) -> Result<Message, SendError> {
        let body = self.i18n.get_with(
            self.lang,
            "mail-activity-body",
            &[("count", items.to_string()), ("inbox", self.inbox.clone())],
        );
        self.message("mail-activity-subject", body)
    }

    /// Deadline counts, nothing else.
    pub fn reminder_email(&self, counts: DeadlineCounts) -> Result<Message, SendError> {
        let body = self.i18n.get_with(
            self.lang,
            "mail-reminder-body",
            &[
                ("ack", counts.ack_soon.to_string()),
                ("feedback", counts.feedback_soon.to_string()),
                ("overdue", counts.overdue.to_string()),
                ("inbox", self.inbox.clone()),
            ],
        );
        self.message("mail-reminder-subject", body)
    }

    pub fn send(&self, message: &Message) -> Result<(), SendError> {
        match &self.way {
            Way::Files(_, files) => files.send(message).map(|_| ()).map_err(|_| SendError::File),
            Way::Smtp(smtp) => smtp.send(message).map(|_| ()).map_err(|e| classify(&e)),
        }
    }

    /// Connects to the relay and says hello (for `vigie check`).
    pub fn test_connection(&self) -> Result<(), SendError> {
        match &self.way {
            Way::Files(dir, _) => std::fs::metadata(dir)
                .map(|_| ())
                .map_err(|_| SendError::File),
            Way::Smtp(smtp) => match smtp.test_connection() {
                Ok(true) => Ok(()),
                Ok(false) => Err(SendError::Unreachable),
                Err(e) => Err(classify(&e)),
            },
        }
    }

    /// The wait before attempt `attempts + 1`: doubling, capped, with ±25 %
    /// jitter so that instances do not retry in step.
    pub fn backoff(&self, attempts: i32) -> i64 {
        let exp = RETRY_BASE_SECS.saturating_mul(1i64 << attempts.clamp(0, 20));
        let capped = exp.min(self.retry_cap_secs).max(1);
        let jitter = rand::rngs::OsRng.gen_range(-(capped / 4)..=(capped / 4));
        (capped + jitter).max(1)
    }
}

/// A random delay in `[0, max]` seconds.
pub fn random_delay(max: u64) -> i64 {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    if max == 0 {
        0
    } else {
        rand::rngs::OsRng.gen_range(0..=max)
    }
}

/// What one pass of the worker did (for tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// One pass: queue today's reminder if due, then send what is due.
pub fn run_once(
    db: &Db,
    notifier: &Notifier,
    clock: &dyn Clock,
    me: &str,
    retention_days: u32,
) -> Result<Pass, WorkerError> {
    let now = clock.now();
    let today = clock.today();
    db.write(|conn| Outbox::remind_once_a_day(conn, today, now))?;
    // Uploads that no report or message claimed in time.
    db.write(|conn| crate::db::Attachment::sweep(conn, now))?;
    // Closed cases past their retention, once a day.
    let purged =
        db.write(|conn| crate::db::Retention::purge_once_a_day(conn, today, retention_days, now))?;
    if purged > 0 {
        tracing::info!(
            count = purged,
            "closed cases purged after their retention period"
        );
    }
    let mut pass = Pass::default();
    for kind in ["activity", "reminder"] {
        let rows = db.write(|conn| Outbox::claim(conn, kind, me, now, LEASE_SECS))?;
        if rows.is_empty() {
            continue;
        }
        let email = if kind == "activity" {
            notifier.activity_email(rows.len())
        } else {
            notifier.reminder_email(latest_counts(&rows))
        };
        match email.and_then(|m| notifier.send(&m)) {
            Ok(()) => {
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                // Once the relay has accepted, a crash before this commit is
                // the one way an email can go out twice.
                db.write(|conn| Outbox::delivered(conn, &ids))?;
                pass.sent += 1;
            }
            Err(e) => {
                let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
                let next = clock.now() + notifier.backoff(attempts);
                db.write(|conn| {
                    for row in &rows {
                        Outbox::failed(conn, row, next, e.code())?;
                    }
                    Ok(())
                })?;
                tracing::warn!(reason = %e, attempts = attempts + 1, "a notification could not be sent; it will be retried");
                pass.failed += 1;
            }
        }
    }
    Ok(pass)
}

fn latest_counts(rows: &[OutboxRow]) -> DeadlineCounts {
    rows.iter()
        .max_by_key(|r| r.due_at)
        .map(|r| DeadlineCounts {
            ack_soon: r.ack_soon,
            feedback_soon: r.feedback_soon,
            overdue: r.overdue,
        })
        .unwrap_or_default()
}

/// Runs the worker in the background for as long as the runtime runs.
pub fn spawn_worker(
    db: Db,
    notifier: Arc<Notifier>,
    clock: Arc<dyn Clock>,
    every: Duration,
    retention_days: u32,
) {
    let me = uuid::Uuid::new_v4().to_string();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (db, notifier, clock, me) =
                (db.clone(), notifier.clone(), clock.clone(), me.clone());
            let done = tokio::task::spawn_blocking(move || {
                run_once(&db, &notifier, clock.as_ref(), &me, retention_days)
            })
            .await;
            if let Ok(Err(e)) = done {
                tracing::error!(error = %e, "the notification worker failed a pass");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_is_random_within_its_bounds() {
        let draws: Vec<i64> = (0..2000).map(|_| random_delay(1800)).collect();
        assert!(draws.iter().all(|d| (0..=1800).contains(d)));
        assert!(
            draws.iter().any(|d| *d < 300) && draws.iter().any(|d| *d > 1500),
            "spread over the range"
        );
        assert_eq!(random_delay(0), 0);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let settings = Settings {
            notify_retry_cap_secs: 3600,
            data_dir: std::env::temp_dir().join(format!("vigie-notify-{}", uuid::Uuid::new_v4())),
            ..Settings::default()
        };
        let n = Notifier::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
        for (attempts, base) in [(0, 30), (1, 60), (3, 240), (10, 3600), (30, 3600)] {
            for _ in 0..50 {
                let wait = n.backoff(attempts);
                assert!(
                    wait >= base * 3 / 4 && wait <= base * 5 / 4,
                    "{attempts}: {wait}"
                );
            }
        }
    }
}

#[cfg(test)]
mod email_tests {
    use super::*;

    #[test]
    fn emails_are_plain_8bit_text_with_crlf_line_ends_and_no_host_name() {
        let settings = Settings {
            data_dir: std::env::temp_dir().join(format!("vigie-notify-{}", uuid::Uuid::new_v4())),
            ..Settings::default()
        };
        let n = Notifier::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
        for m in [
            n.activity_email(3),
            n.reminder_email(DeadlineCounts {
                ack_soon: 1,
                feedback_soon: 2,
                overdue: 0,
            }),
        ] {
            let raw = m
                .map(|m| String::from_utf8_lossy(&m.formatted()).to_string())
                .unwrap_or_default();
            assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
            assert!(
                raw.contains("@vigie.invalid>"),
                "the Message-ID names the configured EHLO domain: {raw}"
            );
            assert!(!raw.replace("\r\n", "").contains('\n'), "bare LF in {raw}");
        }
    }
}
