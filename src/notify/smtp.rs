//! One SMTP session per email, step by step, so that a failure names the
//! step that failed: the connection, TLS, authentication, or the relay's
//! refusal of the sender, the recipient or the message (with its SMTP reply
//! code). The relay's own words are never kept: they can name a host or an
//! address.

use std::time::Duration;

use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, DEFAULT_MECHANISMS},
        client::{SmtpConnection, TlsParameters},
        commands::{Data, Mail, Rcpt, Rset},
        extension::{ClientId, Extension, MailBodyParameter, MailParameter},
        Error as SmtpError,
    },
};

/// The command the relay refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The greeting or EHLO: the relay turns the client away.
    Greeting,
    /// MAIL FROM.
    Sender,
    /// RCPT TO.
    Recipient,
    /// DATA, or the message once sent.
    Data,
}

impl Step {
    fn code(self) -> &'static str {
        match self {
            Step::Greeting => "greeting-refused",
            Step::Sender => "sender-refused",
            Step::Recipient => "recipient-refused",
            Step::Data => "data-refused",
        }
    }
}

/// Why an email did not leave. Short, and never the relay's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No connection: the name does not resolve, or nothing listens.
    #[error("the relay could not be reached")]
    Unreachable,
    #[error("the relay did not answer in time")]
    Timeout,
    /// The TLS handshake failed, the certificate is not trusted, or the
    /// relay does not offer STARTTLS.
    #[error("TLS failed: the relay's certificate is not trusted, or TLS is not offered")]
    Tls,
    /// The relay refused the credentials (with its reply code), or offers
    /// no mechanism this client knows.
    #[error("the relay refused the authentication{}", reply(*.0))]
    Auth(Option<u16>),
    /// The relay answered a command with a 4xx or 5xx reply.
    #[error("the relay refused {} (SMTP {code})", step_words(*step))]
    Refused { step: Step, code: u16 },
    /// The connection broke, or the relay answered something that is not
    /// SMTP, in the middle of the exchange.
    #[error("the relay broke off the exchange")]
    Broken,
    #[error("the email could not be written to the mail folder")]
    File,
}

fn reply(code: Option<u16>) -> String {
    code.map(|c| format!(" (SMTP {c})")).unwrap_or_default()
}

fn step_words(step: Step) -> &'static str {
    match step {
        Step::Greeting => "the connection",
        Step::Sender => "the sender",
        Step::Recipient => "the recipient",
        Step::Data => "the message",
    }
}

impl SendError {
    /// The class of the failure, a stable word: `mail-error-{class}` is its
    /// message in the catalogues.
    pub fn class(self) -> &'static str {
        match self {
            SendError::Unreachable => "unreachable",
            SendError::Timeout => "timeout",
            SendError::Tls => "tls",
            SendError::Auth(_) => "auth",
            SendError::Refused { step, .. } => step.code(),
            SendError::Broken => "broken",
            SendError::File => "file",
        }
    }

    /// The relay's reply code, when it gave one.
    pub fn reply_code(self) -> Option<u16> {
        match self {
            SendError::Auth(code) => code,
            SendError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// What is stored with the outbox row: the class, then the reply code
    /// if any (`recipient-refused 550`). No address, no content.
    pub fn stored(self) -> String {
        match self.reply_code() {
            Some(code) => format!("{} {code}", self.class()),
            None => self.class().to_string(),
        }
    }

    /// The catalogue key of the class.
    pub fn message_key(self) -> String {
        format!("mail-error-{}", self.class())
    }

    /// A 4xx reply: the relay may accept later.
    pub fn is_transient(self) -> bool {
        self.reply_code().is_some_and(|c| (400..500).contains(&c))
    }
}

/// Splits a stored error into its class and reply code.
pub fn parse_stored(stored: &str) -> (&str, Option<u16>) {
    match stored.split_once(' ') {
        Some((class, code)) => (class, code.trim().parse().ok()),
        None => (stored, None),
    }
}

fn code_of(e: &SmtpError) -> Option<u16> {
    e.status().and_then(|c| c.to_string().parse().ok())
}

/// A failure while connecting (TCP, implicit TLS, greeting, EHLO).
fn at_connect(e: &SmtpError) -> SendError {
    // A certificate refused during the handshake surfaces as a connection
    // error whose cause names it; only the class is kept, never the text.
    let cause = format!("{e:?}").to_ascii_lowercase();
    if e.is_tls() || cause.contains("certificate") || cause.contains("handshake") {
        SendError::Tls
    } else if e.is_timeout() {
        SendError::Timeout
    } else if let Some(code) = code_of(e) {
        SendError::Refused {
            step: Step::Greeting,
            code,
        }
    } else if e.to_string().starts_with("Connection error") {
        SendError::Unreachable
    } else {
        SendError::Broken
    }
}

/// A failure once connected, at `step`.
fn at_step(e: &SmtpError, step: Step) -> SendError {
    if e.is_timeout() {
        SendError::Timeout
    } else if let Some(code) = code_of(e) {
        SendError::Refused { step, code }
    } else {
        SendError::Broken
    }
}

pub enum Security {
    StartTls(TlsParameters),
    Implicit(TlsParameters),
    Plain,
}

/// A relay and how to talk to it.
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub hello: ClientId,
    pub security: Security,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
}

/// An open session, past TLS and authentication.
pub struct Session {
    conn: SmtpConnection,
}

impl Drop for Session {
    fn drop(&mut self) {
        // QUIT, then close; errors here change nothing.
        self.conn.abort();
    }
}

impl Relay {
    /// Connects, upgrades to TLS as configured, authenticates.
    pub fn open(&self) -> Result<Session, SendError> {
        let implicit = match &self.security {
            Security::Implicit(tls) => Some(tls),
            _ => None,
        };
        let conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            implicit,
            None,
        )
        .map_err(|e| at_connect(&e))?;
        let mut session = Session { conn };
        if let Security::StartTls(tls) = &self.security {
            if !session.conn.can_starttls() {
                return Err(SendError::Tls);
            }
            session.conn.starttls(tls, &self.hello).map_err(|e| {
                if e.is_timeout() {
                    SendError::Timeout
                } else {
                    SendError::Tls
                }
            })?;
        }
        if let Some(credentials) = &self.credentials {
            session
                .conn
                .auth(DEFAULT_MECHANISMS, credentials)
                .map_err(|e| {
                    if e.is_timeout() {
                        SendError::Timeout
                    } else {
                        SendError::Auth(code_of(&e))
                    }
                })?;
        }
        Ok(session)
    }
}

impl Session {
    /// Whether the relay takes 8-bit message bodies (RFC 6152).
    pub fn takes_8bit(&self) -> bool {
        self.conn
            .server_info()
            .supports_feature(Extension::EightBitMime)
    }

    /// MAIL FROM and RCPT TO, each step's refusal named.
    fn envelope(&mut self, envelope: &Envelope, eight_bit: bool) -> Result<(), SendError> {
        let params = if eight_bit {
            vec![MailParameter::Body(MailBodyParameter::EightBitMime)]
        } else {
            Vec::new()
        };
        self.conn
            .command(Mail::new(envelope.from().cloned(), params))
            .map_err(|e| at_step(&e, Step::Sender))?;
        for to in envelope.to() {
            self.conn
                .command(Rcpt::new(to.clone(), Vec::new()))
                .map_err(|e| at_step(&e, Step::Recipient))?;
        }
        Ok(())
    }

    /// Sends one formatted email. `eight_bit` must say whether `email`
    /// holds bytes above 127 (then the relay must take 8BITMIME).
    pub fn send(&mut self, envelope: &Envelope, email: &[u8]) -> Result<(), SendError> {
        let eight_bit = !email.is_ascii();
        self.envelope(envelope, eight_bit)?;
        self.conn
            .command(Data)
            .map_err(|e| at_step(&e, Step::Data))?;
        self.conn
            .message(email)
            .map_err(|e| at_step(&e, Step::Data))?;
        Ok(())
    }

    /// Asks the relay whether it would take mail from this sender to these
    /// recipients, then withdraws (RSET): nothing is sent.
    pub fn probe(&mut self, envelope: &Envelope) -> Result<(), SendError> {
        self.envelope(envelope, false)?;
        self.conn
            .command(Rset)
            .map_err(|e| at_step(&e, Step::Data))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_error_holds_the_class_and_the_reply_code_only() {
        let cases = [
            (SendError::Unreachable, "unreachable", None),
            (SendError::Tls, "tls", None),
            (SendError::Auth(Some(535)), "auth 535", Some(535)),
            (SendError::Auth(None), "auth", None),
            (
                SendError::Refused {
                    step: Step::Recipient,
                    code: 550,
                },
                "recipient-refused 550",
                Some(550),
            ),
            (
                SendError::Refused {
                    step: Step::Data,
                    code: 451,
                },
                "data-refused 451",
                Some(451),
            ),
        ];
        for (error, stored, code) in cases {
            assert_eq!(error.stored(), stored);
            assert_eq!(parse_stored(stored), (error.class(), code));
        }
        assert!(SendError::Refused {
            step: Step::Data,
            code: 451
        }
        .is_transient());
    }
}
