//! Telling the Secretary that something arrived, without saying what, when
//! or from whom. Events write an outbox row in their own transaction; a
//! background worker sends, after a random delay, one email that counts
//! everything pending: a fixed sentence, a number, the inbox address.

mod files;
mod handoff;
mod smtp;

pub use handoff::{HandOff, HandOffs};

pub use smtp::{parse_stored, SendError, Step};

use std::{path::PathBuf, sync::Arc, time::Duration};

use lettre::{
    message::{
        header::{ContentTransferEncoding, ContentType},
        Body, Mailbox,
    },
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, TlsParameters},
        extension::ClientId,
    },
    Message,
};
use secrecy::ExposeSecret;

use crate::{
    config::{MailSetting, Settings, SmtpSecurity},
    db::{Db, DbError, DeadlineCounts, Outbox, OutboxKind, OutboxRow},
    domain::{Clock, Role},
    i18n::{I18n, Lang},
};

use smtp::{Relay, Security};

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

/// A stored error (`recipient-refused 550`) in words, with the relay's
/// reply code when there is one.
pub fn describe_stored(i18n: &I18n, lang: Lang, stored: &str) -> String {
    let (class, code) = parse_stored(stored);
    describe_failure(i18n, lang, class, code)
}

/// The latest failure of stuck mail in words, for `vigie check` and the
/// workspace's notice.
pub fn describe_backlog(i18n: &I18n, lang: Lang, backlog: &crate::db::Backlog) -> String {
    backlog
        .last_error
        .as_deref()
        .map(|class| describe_failure(i18n, lang, class, backlog.last_reply_code))
        .unwrap_or_default()
}

fn describe_failure(i18n: &I18n, lang: Lang, class: &str, code: Option<u16>) -> String {
    let words = i18n.get(lang, &format!("mail-error-{class}"));
    match code {
        Some(code) => i18n.get_with(
            lang,
            "mail-error-with-code",
            &[("reason", words), ("code", code.to_string())],
        ),
        None => words,
    }
}

enum Way {
    Files(PathBuf),
    Smtp(Box<Relay>),
}

/// An email before it is encoded: its subject and text.
#[derive(Debug, Clone)]
pub struct Email {
    subject: String,
    body: String,
    /// Whose addresses it goes to.
    role: Role,
}

/// Builds and sends the notification emails.
pub struct Notifier {
    way: Way,
    from: Mailbox,
    to: Vec<Mailbox>,
    bureau_to: Vec<Mailbox>,
    lang: Lang,
    inbox: String,
    hello: String,
    i18n: I18n,
    max_delay_secs: u64,
    retry_cap_secs: i64,
    handoffs: HandOffs,
}

/// The folder of accepted batches, under the data folder.
pub const HANDOFF_FOLDER: &str = "mail-accepted";

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
        let bureau_to = settings
            .bureau_mail_to
            .iter()
            .map(|a| a.parse::<Mailbox>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| NotifyError::Address("bureau_mail_to"))?;
        let way = match mail {
            MailSetting::Files(dir) => {
                files::private_folder(&dir).map_err(NotifyError::Folder)?;
                Way::Files(dir)
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
                let credentials = settings.smtp_username.as_ref().map(|user| {
                    let password = settings
                        .smtp_password
                        .as_ref()
                        .map(|p| p.expose_secret().to_string())
                        .unwrap_or_default();
                    Credentials::new(user.clone(), password)
                });
                Way::Smtp(Box::new(Relay {
                    host,
                    port,
                    hello: ClientId::Domain(settings.smtp_hello_name.clone()),
                    security: match security {
                        SmtpSecurity::StartTls => Security::StartTls(tls),
                        SmtpSecurity::Tls => Security::Implicit(tls),
                        SmtpSecurity::Plain => Security::Plain,
                    },
                    credentials,
                    timeout: Duration::from_secs(30),
                }))
            }
        };
        Ok(Notifier {
            way,
            from,
            to,
            bureau_to,
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
            handoffs: HandOffs::new(settings.data_dir.join(HANDOFF_FOLDER))
                .map_err(NotifyError::Folder)?,
        })
    }

    /// Where the `.eml` files go, when there is no relay.
    pub fn mail_folder(&self) -> Option<&PathBuf> {
        match &self.way {
            Way::Files(dir) => Some(dir),
            Way::Smtp(_) => None,
        }
    }

    /// A random delay in `[0, notify_max_delay_secs]`, from the OS's CSPRNG.
    pub fn random_delay(&self) -> i64 {
        random_delay(self.max_delay_secs)
    }

    fn email(&self, role: Role, subject_key: &str, body: String) -> Email {
        Email {
            subject: self.i18n.get(self.lang, subject_key),
            body,
            role,
        }
    }

    /// The email as it travels. The text comes from the catalogues (short
    /// lines, no NUL) and has accents: as 8-bit text, readable as it is, when
    /// the relay takes 8BITMIME (and in the mail folder); as quoted-printable,
    /// 7-bit clean, when it does not.
    pub fn render(&self, email: &Email, eight_bit: bool) -> Result<Message, SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone())
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4().simple(),
                self.hello
            )))
            .header(ContentType::TEXT_PLAIN);
        let to = match email.role {
            Role::Secretary => &self.to,
            Role::Bureau => &self.bureau_to,
        };
        for to in to {
            builder = builder.to(to.clone());
        }
        if to.is_empty() {
            builder = builder.to(self.from.clone());
        }
        let crlf = email.body.replace("\r\n", "\n").replace('\n', "\r\n");
        let body = if eight_bit {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
        } else {
            Body::new_with_encoding(crlf, ContentTransferEncoding::QuotedPrintable)
                .map_err(|_| SendError::File)?
        };
        builder.body(body).map_err(|_| SendError::File)
    }

    /// "New activity on the reporting platform: N new item(s)."
    pub fn activity_email(&self, role: Role, items: usize) -> Email {
        let body = self.i18n.get_with(
            self.lang,
            "mail-activity-body",
            &[
                ("count", items.to_string()),
                ("inbox", self.inbox.clone()),
                ("reader", role.as_str().to_string()),
            ],
        );
        self.email(role, "mail-activity-subject", body)
    }

    /// Deadline counts, nothing else.
    pub fn reminder_email(&self, role: Role, counts: DeadlineCounts) -> Email {
        let body = self.i18n.get_with(
            self.lang,
            "mail-reminder-body",
            &[
                ("ack", counts.ack_soon.to_string()),
                ("ack_days", crate::domain::ACK_SOON_DAYS.to_string()),
                (
                    "feedback_days",
                    crate::domain::FEEDBACK_SOON_DAYS.to_string(),
                ),
                ("feedback", counts.feedback_soon.to_string()),
                ("overdue", counts.overdue.to_string()),
                ("inbox", self.inbox.clone()),
                ("reader", role.as_str().to_string()),
            ],
        );
        self.email(role, "mail-reminder-subject", body)
    }

    pub fn send(&self, email: &Email) -> Result<(), SendError> {
        match &self.way {
            Way::Files(dir) => {
                let message = self.render(email, true)?;
                files::write_eml(dir, &message.formatted())
                    .map(|_| ())
                    .map_err(|_| SendError::File)
            }
            Way::Smtp(relay) => {
                let mut session = relay.open()?;
                let message = self.render(email, session.takes_8bit())?;
                session.send(message.envelope(), &message.formatted())
            }
        }
    }

    /// Connects to the relay, says hello, upgrades to TLS, authenticates,
    /// and asks whether the relay would take mail from the sender to the
    /// recipients, without sending any (for `vigie check`).
    pub fn test_connection(&self) -> Result<(), SendError> {
        match &self.way {
            Way::Files(dir) => std::fs::metadata(dir)
                .map(|_| ())
                .map_err(|_| SendError::File),
            Way::Smtp(relay) => {
                let message = self.render(&self.activity_email(Role::Secretary, 0), false)?;
                relay.open()?.probe(message.envelope())
            }
        }
    }

    /// The wait before attempt `attempts + 1`: doubling, capped, with ±25 %
    /// jitter so that instances do not retry in step.
    pub fn backoff(&self, attempts: i32) -> i64 {
        let exp = RETRY_BASE_SECS.saturating_mul(1i64 << attempts.clamp(0, 20));
        let capped = exp.min(self.retry_cap_secs).max(1);
        let quarter = capped / 4;
        // Uniform in [-quarter, quarter]; `capped` is at most an i64, so the
        // span fits in a u64 and the draw back in an i64.
        let span = u64::try_from(2 * quarter).unwrap_or(0);
        let jitter = i64::try_from(crate::crypto::random_at_most(span)).unwrap_or(0) - quarter;
        (capped + jitter).max(1)
    }
}

/// A random delay in `[0, max]` seconds.
pub fn random_delay(max: u64) -> i64 {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    if max == 0 {
        0
    } else {
        i64::try_from(crate::crypto::random_at_most(max.unsigned_abs())).unwrap_or(max)
    }
}

/// What one pass of the worker did (for tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
    /// Accepted emails whose rows could not be deleted yet (the database
    /// failed): the worker retries every second until it can.
    pub unrecorded: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("the folder of accepted emails cannot be read: {0}")]
    HandOffs(std::io::Error),
}

/// Deletes the rows of an accepted batch, then its file.
fn settle(db: &Db, handoffs: &HandOffs, hand_off: &HandOff) -> Result<(), DbError> {
    db.write(|conn| Outbox::delivered(conn, &hand_off.ids))?;
    if let Err(e) = handoffs.done(hand_off) {
        tracing::error!(error = %e, "a recorded email's file cannot be removed");
    }
    Ok(())
}

/// Deletes the rows of every batch the relay accepted earlier whose
/// deletion did not happen (see [`handoff`]). `Err` while the database
/// still fails: nothing may be claimed until these rows are gone.
pub fn record_accepted(db: &Db, notifier: &Notifier) -> Result<usize, WorkerError> {
    let pending = notifier.handoffs.pending().map_err(WorkerError::HandOffs)?;
    for hand_off in &pending {
        settle(db, &notifier.handoffs, hand_off)?;
    }
    if !pending.is_empty() {
        tracing::info!(
            emails = pending.len(),
            "emails the relay had accepted during a database failure are recorded as sent"
        );
    }
    Ok(pending.len())
}

/// One pass of the mail worker: first records what the relay accepted
/// before a database failure, then sends what is due, one email per kind
/// (activity, reminder) and role, each to that role's addresses. Tests call
/// it directly to drive the worker.
pub fn run_pass(
    db: &Db,
    notifier: &Notifier,
    clock: &dyn Clock,
    me: &str,
) -> Result<Pass, WorkerError> {
    record_accepted(db, notifier)?;
    let now = clock.now();
    let mut pass = Pass::default();
    let each = OutboxKind::ALL
        .into_iter()
        .flat_map(|kind| Role::ALL.into_iter().map(move |role| (kind, role)));
    for (kind, role) in each {
        let rows = db.write(|conn| Outbox::claim(conn, kind, role, me, now, LEASE_SECS))?;
        if rows.is_empty() {
            continue;
        }
        let email = if kind == OutboxKind::Activity {
            notifier.activity_email(role, rows.len())
        } else {
            notifier.reminder_email(role, latest_counts(&rows))
        };
        match notifier.send(&email) {
            Ok(()) => {
                pass.sent += 1;
                let ids: Vec<_> = rows.iter().map(|r| r.id.clone()).collect();
                // Written down before the rows are deleted: if the database
                // fails now, the next pass deletes them instead of letting
                // their lease run out and the email go out again.
                let recorded = match notifier.handoffs.record(ids.clone()) {
                    Ok(hand_off) => settle(db, &notifier.handoffs, &hand_off),
                    Err(e) => {
                        tracing::error!(error = %e, "an accepted email cannot be written down");
                        db.write(|conn| Outbox::delivered(conn, &ids)).map(|_| ())
                    }
                };
                if let Err(e) = recorded {
                    tracing::warn!(
                        error = %e,
                        "the relay accepted a notification but the database failed; \
                         it is recorded as sent once the database answers"
                    );
                    pass.unrecorded += 1;
                    return Ok(pass);
                }
            }
            Err(e) => {
                let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
                let next = clock.now() + notifier.backoff(attempts);
                let stored = e.stored();
                db.write(|conn| {
                    for row in &rows {
                        Outbox::failed(conn, row, next, &stored)?;
                    }
                    Ok(())
                })?;
                tracing::warn!(
                    reason = %e,
                    class = e.class(),
                    smtp_code = e.reply_code(),
                    attempts = attempts + 1,
                    "a notification could not be sent; it will be retried"
                );
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

/// How soon the worker tries again to record emails the relay accepted
/// during a database failure.
const RECORD_RETRY: Duration = Duration::from_secs(1);

/// Runs the mail worker in the background, every `every`, for as long as
/// the runtime runs; every second while accepted emails wait to be
/// recorded. It only sends mail; the periodic jobs are in [`crate::jobs`].
pub fn spawn_worker(db: Db, notifier: Arc<Notifier>, clock: Arc<dyn Clock>, every: Duration) {
    let me = uuid::Uuid::new_v4().to_string();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hurry = false;
        loop {
            if hurry {
                tokio::time::sleep(RECORD_RETRY).await;
            } else {
                ticks.tick().await;
            }
            let (db, notifier, clock, me) =
                (db.clone(), notifier.clone(), clock.clone(), me.clone());
            let done = crate::blocking::run(move || {
                let pass = run_pass(&db, &notifier, clock.as_ref(), &me);
                (pass, notifier.handoffs.count())
            })
            .await;
            let Ok((pass, waiting)) = done else { continue };
            if let Err(e) = pass {
                // Logged once per outage, not every second.
                if !hurry {
                    tracing::error!(error = %e, "the notification worker failed a pass");
                }
            }
            hurry = waiting > 0;
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

    fn notifier() -> Notifier {
        let settings = Settings {
            data_dir: std::env::temp_dir().join(format!("vigie-notify-{}", uuid::Uuid::new_v4())),
            ..Settings::default()
        };
        Notifier::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"))
    }

    fn emails(n: &Notifier) -> [Email; 2] {
        [
            n.activity_email(Role::Secretary, 3),
            n.reminder_email(
                Role::Secretary,
                DeadlineCounts {
                    ack_soon: 1,
                    feedback_soon: 2,
                    overdue: 0,
                },
            ),
        ]
    }

    #[test]
    fn emails_are_8bit_text_with_crlf_line_ends_and_no_host_name_when_the_relay_takes_8bit() {
        let n = notifier();
        for email in emails(&n) {
            let raw = n
                .render(&email, true)
                .map(|m| String::from_utf8_lossy(&m.formatted()).to_string())
                .unwrap_or_default();
            assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
            assert!(raw.contains("plateforme de signalement"), "{raw}");
            assert!(
                raw.contains("@vigie.invalid>"),
                "the Message-ID names the configured EHLO domain: {raw}"
            );
            assert!(!raw.replace("\r\n", "").contains('\n'), "bare LF in {raw}");
        }
    }

    #[test]
    fn emails_are_7bit_clean_quoted_printable_when_the_relay_does_not_take_8bit() {
        let n = notifier();
        for email in emails(&n) {
            let bytes = n
                .render(&email, false)
                .map(|m| m.formatted())
                .unwrap_or_default();
            let raw = String::from_utf8_lossy(&bytes);
            assert!(bytes.is_ascii(), "{raw}");
            assert!(
                raw.contains("Content-Transfer-Encoding: quoted-printable"),
                "{raw}"
            );
            assert!(
                raw.contains("activit=C3=A9") || raw.contains("d=C3=A9lais"),
                "{raw}"
            );
            assert!(!raw.replace("\r\n", "").contains('\n'), "bare LF in {raw}");
            assert!(
                raw.lines().all(|l| l.len() <= 78),
                "short lines only: {raw}"
            );
        }
    }

    #[test]
    fn a_stored_error_reads_as_a_sentence_with_its_reply_code() {
        let i18n = I18n::load().unwrap_or_else(|e| panic!("{e}"));
        let fr = describe_stored(&i18n, Lang::Fr, "recipient-refused 550");
        assert!(fr.contains("destinataire") && fr.contains("550"), "{fr}");
        let en = describe_stored(&i18n, Lang::En, "recipient-refused 550");
        assert!(en.contains("recipient") && en.contains("550"), "{en}");
        for class in [
            "unreachable",
            "timeout",
            "tls",
            "auth",
            "greeting-refused",
            "sender-refused",
            "recipient-refused",
            "data-refused",
            "broken",
            "file",
        ] {
            for lang in [Lang::Fr, Lang::En] {
                let words = describe_stored(&i18n, lang, class);
                assert!(!words.starts_with("mail-error"), "{class} is translated");
            }
        }
    }
}
