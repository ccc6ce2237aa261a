//! Typed settings: defaults < TOML file < `VIGIE_…` environment variables.

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// One report category offered to reporters. The label comes from the
/// message catalogues (`category-KEY`) unless the configuration gives one.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CategorySetting {
    pub key: String,
    #[serde(default)]
    pub fr: Option<String>,
    #[serde(default)]
    pub en: Option<String>,
}

/// The categories of the AIMF charter, in the order the form shows them.
pub const DEFAULT_CATEGORIES: [&str; 9] = [
    "undue_influence",
    "conflict_of_interest",
    "funds",
    "discrimination",
    "confidentiality",
    "partiality",
    "accountability",
    "law_violation",
    "other",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: String,
    /// The address people use to reach the service (used in emails and links).
    pub public_url: String,
    /// Folder for the SQLite database, the demo key and other local state.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; empty means SQLite under `data_dir`.
    pub database_url: Option<SecretString>,
    /// Connections kept in the pool.
    pub database_pool_size: u32,
    /// The Secretary's age recipients, one a line.
    pub recipients_file: PathBuf,
    /// The Bureau's age recipients (its designated referent), one a line. A
    /// missing or empty file means no Bureau: reports cannot be addressed to
    /// it.
    pub bureau_recipients_file: PathBuf,
    /// Send Strict-Transport-Security (only behind HTTPS).
    pub hsts: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's head (line and headers).
    pub request_head_timeout_secs: u64,
    /// Longest silence allowed while a request body arrives, in seconds;
    /// also the grace period before `body_min_bytes_per_sec` applies.
    pub body_idle_timeout_secs: u64,
    /// Slowest average rate accepted for a request body, in bytes per second,
    /// counted after the grace period (0: no minimum rate).
    pub body_min_bytes_per_sec: u64,
    /// Longest time a whole request body may take, in seconds.
    pub body_timeout_secs: u64,
    /// Largest encrypted report accepted from a browser, in bytes.
    pub max_ciphertext_bytes: usize,
    /// Largest attachment, in bytes of the file itself.
    pub max_attachment_bytes: u64,
    /// Largest total of the attachments of one case, in bytes.
    pub max_attachments_total_bytes: u64,
    /// An uploaded attachment that no report or message claims within this
    /// many seconds is deleted.
    pub attachment_pending_secs: u64,
    /// Longest description accepted, in characters.
    pub max_description_chars: usize,
    /// Longest optional field (period, place, persons, evidence), in characters.
    pub max_field_chars: usize,
    /// Report categories.
    pub categories: Vec<CategorySetting>,
    /// Folder of the published texts (`fr/` and `en/` Markdown files);
    /// missing files fall back to the shipped ones.
    pub content_dir: PathBuf,
    /// Closed cases are deleted this many days after closure, unless on hold.
    pub retention_days: u32,
    /// The controller's postal address, for the privacy notice.
    pub controller_address: String,
    /// How to reach the controller (an address or a web form), for the
    /// privacy notice.
    pub controller_contact: String,
    /// How to reach the data protection officer, for the privacy notice.
    pub dpo_contact: String,
    /// The legal basis the controller chose: `legal_obligation` (art.
    /// 6.1.c, when the channel is required) or `legitimate_interest` (art.
    /// 6.1.f, a voluntary channel; the right to object then applies).
    pub legal_basis: String,
    /// Transfers outside the European Union, as the notice states them;
    /// empty means none.
    pub transfers: String,
    /// How many days backups are kept, for the privacy notice.
    pub backup_retention_days: Option<u32>,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log: String,
    /// Requests are counted, not logged one by one; the counts are written
    /// once per this many seconds.
    pub access_log_interval_secs: u64,
    /// SMTP relay host. Empty: emails are written as `.eml` files under
    /// `data_dir/mail`.
    pub smtp_host: Option<String>,
    /// SMTP port (default: 587 for starttls, 465 for tls, 25 for plain).
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS) or `plain` (loopback only).
    pub smtp_security: String,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// PEM file of a private certificate authority that signed the relay's
    /// certificate (in addition to the public roots).
    pub smtp_ca_file: Option<PathBuf>,
    /// The name given in EHLO; never the machine's host name.
    pub smtp_hello_name: String,
    /// Sender address of the notifications.
    pub mail_from: String,
    /// Where notifications go (the Secretary's addresses): a list, or one
    /// string with addresses separated by commas.
    #[serde(deserialize_with = "one_or_many")]
    pub mail_to: Vec<String>,
    /// Where the Bureau's notifications go, the same way.
    #[serde(deserialize_with = "one_or_many")]
    pub bureau_mail_to: Vec<String>,
    /// Language of the notifications: `fr` (default) or `en`.
    pub mail_lang: String,
    /// Notifications leave after a random delay of up to this many seconds.
    pub notify_max_delay_secs: u64,
    /// How often the outbox worker looks for due notifications, in ms.
    pub notify_poll_millis: u64,
    /// Longest wait between two attempts on a refusing relay.
    pub notify_retry_cap_secs: u64,
    /// Mail pending longer than this is reported by `vigie check` and in
    /// the workspace.
    pub notify_stale_secs: u64,
    /// Below this much free space in the data folder, in MiB, `/readyz`
    /// says the service is not ready.
    pub ready_min_free_mib: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_pool_size: 8,
            recipients_file: PathBuf::from("keys/recipients.txt"),
            bureau_recipients_file: PathBuf::from("keys/bureau.txt"),
            hsts: false,
            max_body_bytes: 2 * 1024 * 1024,
            request_head_timeout_secs: 5,
            body_idle_timeout_secs: 20,
            body_min_bytes_per_sec: 1024,
            body_timeout_secs: 1800,
            max_ciphertext_bytes: 1024 * 1024,
            max_attachment_bytes: 25_000_000,
            max_attachments_total_bytes: 100_000_000,
            attachment_pending_secs: 3600,
            max_description_chars: 50_000,
            max_field_chars: 2_000,
            categories: DEFAULT_CATEGORIES
                .iter()
                .map(|k| CategorySetting {
                    key: (*k).to_string(),
                    fr: None,
                    en: None,
                })
                .collect(),
            content_dir: PathBuf::from("content"),
            retention_days: 60,
            controller_address: String::new(),
            controller_contact: String::new(),
            dpo_contact: String::new(),
            legal_basis: "legal_obligation".into(),
            transfers: String::new(),
            backup_retention_days: None,
            log: "info".into(),
            access_log_interval_secs: 3600,
            smtp_host: None,
            smtp_port: None,
            smtp_security: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_ca_file: None,
            smtp_hello_name: "vigie.invalid".into(),
            mail_from: "vigie@localhost".into(),
            mail_to: Vec::new(),
            bureau_mail_to: Vec::new(),
            mail_lang: "fr".into(),
            notify_max_delay_secs: 1800,
            notify_poll_millis: 15_000,
            notify_retry_cap_secs: 3600,
            notify_stale_secs: 7200,
            ready_min_free_mib: 100,
        }
    }
}

/// Where the data lives, with the password (if any) kept secret.
#[derive(Clone, Debug)]
pub enum DatabaseSetting {
    Sqlite(PathBuf),
    Postgres(SecretString),
}

impl DatabaseSetting {
    /// A description safe to print: never the password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseSetting::Sqlite(path) => format!("SQLite at {}", path.display()),
            DatabaseSetting::Postgres(url) => {
                let url = url.expose_secret();
                let host = url
                    .rsplit_once('@')
                    .map(|(_, rest)| rest)
                    .unwrap_or_else(|| {
                        url.trim_start_matches("postgres://")
                            .trim_start_matches("postgresql://")
                    });
                let host = host.split('?').next().unwrap_or_default();
                format!("PostgreSQL at {host}")
            }
        }
    }
}

/// How notification emails leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailSetting {
    /// No relay: `.eml` files in this folder.
    Files(PathBuf),
    Smtp {
        host: String,
        port: u16,
        security: SmtpSecurity,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    Plain,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration could not be read: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

/// Every key a configuration file may hold.
const KEYS: [&str; 42] = [
    "listen",
    "public_url",
    "data_dir",
    "database_url",
    "database_pool_size",
    "recipients_file",
    "bureau_recipients_file",
    "hsts",
    "max_body_bytes",
    "max_ciphertext_bytes",
    "max_attachment_bytes",
    "max_attachments_total_bytes",
    "attachment_pending_secs",
    "max_description_chars",
    "max_field_chars",
    "categories",
    "log",
    "content_dir",
    "retention_days",
    "controller_address",
    "controller_contact",
    "dpo_contact",
    "legal_basis",
    "transfers",
    "backup_retention_days",
    "access_log_interval_secs",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "smtp_ca_file",
    "smtp_hello_name",
    "mail_from",
    "mail_to",
    "bureau_mail_to",
    "mail_lang",
    "notify_max_delay_secs",
    "notify_poll_millis",
    "notify_retry_cap_secs",
    "notify_stale_secs",
    "ready_min_free_mib",
];

/// A misspelt key would silently keep its default: refuse it instead.
fn reject_unknown_keys(file: &Path) -> Result<(), ConfigError> {
    let table: figment::value::Dict = Figment::from(Toml::file(file))
        .extract()
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    match table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        Some(unknown) => Err(ConfigError::Load(format!(
            "{}: unknown key `{unknown}`",
            file.display()
        ))),
        None => Ok(()),
    }
}

impl Settings {
    /// Defaults, then the TOML file (if any), then `VIGIE_…` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Load(format!(
                    "the configuration file {} does not exist",
                    file.display()
                )));
            }
            reject_unknown_keys(file)?;
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("VIGIE_").ignore(&["config", "passphrase"]));
        let settings: Settings = figment
            .extract()
            // figment's messages name the key and the source, never a value.
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(
            self.legal_basis.as_str(),
            "legal_obligation" | "legitimate_interest"
        ) {
            return Err(invalid(
                "legal_basis",
                "legal_obligation or legitimate_interest",
            ));
        }
        self.listen_addr()?;
        self.database()?;
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://")) {
            return Err(invalid("public_url", "must start with https:// or http://"));
        }
        if self.database_pool_size == 0 {
            return Err(invalid("database_pool_size", "must be at least 1"));
        }
        if self.max_body_bytes < 4096 {
            return Err(invalid("max_body_bytes", "must be at least 4096"));
        }
        if self.max_ciphertext_bytes < 4096 {
            return Err(invalid("max_ciphertext_bytes", "must be at least 4096"));
        }
        if self.max_body_bytes < self.max_ciphertext_bytes / 3 * 4 + 1024 {
            return Err(invalid(
                "max_body_bytes",
                "must exceed 4/3 of max_ciphertext_bytes (the API sends the ciphertext in base64)",
            ));
        }
        if self.max_description_chars == 0 || self.max_field_chars == 0 {
            return Err(invalid(
                "max_description_chars",
                "limits on text must be at least 1",
            ));
        }
        if self.request_head_timeout_secs == 0 || self.request_head_timeout_secs > 300 {
            return Err(invalid(
                "request_head_timeout_secs",
                "between 1 and 300 seconds",
            ));
        }
        if self.body_idle_timeout_secs == 0 || self.body_idle_timeout_secs > 600 {
            return Err(invalid(
                "body_idle_timeout_secs",
                "between 1 and 600 seconds",
            ));
        }
        if self.body_timeout_secs < self.body_idle_timeout_secs || self.body_timeout_secs > 86400 {
            return Err(invalid(
                "body_timeout_secs",
                "at least body_idle_timeout_secs and at most 86400 seconds",
            ));
        }
        if self.access_log_interval_secs == 0 {
            return Err(invalid("access_log_interval_secs", "must be at least 1"));
        }
        self.mail()?;
        if self.notify_poll_millis == 0 {
            return Err(invalid("notify_poll_millis", "must be at least 1"));
        }
        if self.notify_retry_cap_secs == 0 {
            return Err(invalid("notify_retry_cap_secs", "must be at least 1"));
        }
        if !(1..=7 * 86400).contains(&self.attachment_pending_secs) {
            return Err(invalid(
                "attachment_pending_secs",
                "between 1 and 604800 seconds",
            ));
        }
        if self.max_attachment_bytes == 0
            || self.max_attachments_total_bytes < self.max_attachment_bytes
        {
            return Err(invalid(
                "max_attachments_total_bytes",
                "must be at least max_attachment_bytes, itself at least 1",
            ));
        }
        if self.categories.is_empty() {
            return Err(invalid("categories", "at least one category is needed"));
        }
        let mut seen = HashSet::new();
        for c in &self.categories {
            let well_formed = !c.key.is_empty()
                && c.key.len() <= 64
                && c.key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_formed {
                return Err(invalid(
                    "categories",
                    format!("`{}` is not a valid key (a-z, 0-9 and _)", c.key),
                ));
            }
            if !seen.insert(c.key.as_str()) {
                return Err(invalid(
                    "categories",
                    format!("`{}` is listed twice", c.key),
                ));
            }
            let known = DEFAULT_CATEGORIES.contains(&c.key.as_str());
            if !known && (c.fr.is_none() || c.en.is_none()) {
                return Err(invalid(
                    "categories",
                    format!("`{}` needs both an `fr` and an `en` label", c.key),
                ));
            }
        }
        Ok(())
    }

    /// The Bureau's notifications need addresses of their own once the
    /// Bureau has keys and mail leaves through a relay.
    pub fn check_bureau_mail(&self, has_bureau: bool) -> Result<(), ConfigError> {
        let relay = self.smtp_host.as_deref().is_some_and(|h| !h.is_empty());
        if has_bureau && relay && self.bureau_mail_to.is_empty() {
            return Err(invalid(
                "bureau_mail_to",
                "at least one address is needed when the Bureau has keys and smtp_host is set",
            ));
        }
        Ok(())
    }

    /// How notifications leave, checked: TLS unless the relay is on loopback.
    pub fn mail(&self) -> Result<MailSetting, ConfigError> {
        if self.mail_lang.parse::<crate::i18n::Lang>().is_err() {
            return Err(invalid("mail_lang", "fr or en"));
        }
        if self.smtp_hello_name.is_empty() || self.smtp_hello_name.contains(char::is_whitespace) {
            return Err(invalid("smtp_hello_name", "a host name without spaces"));
        }
        let Some(host) = self.smtp_host.as_ref().filter(|h| !h.is_empty()) else {
            return Ok(MailSetting::Files(self.data_dir.join("mail")));
        };
        if self.mail_to.is_empty() {
            return Err(invalid(
                "mail_to",
                "at least one address is needed when smtp_host is set",
            ));
        }
        let security = match self.smtp_security.as_str() {
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            "plain" => {
                let loopback = host == "localhost"
                    || host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !loopback {
                    return Err(invalid(
                        "smtp_security",
                        "plain SMTP is allowed only to a relay on this machine (localhost, 127.0.0.1, ::1); use starttls or tls",
                    ));
                }
                SmtpSecurity::Plain
            }
            _ => return Err(invalid("smtp_security", "starttls, tls or plain")),
        };
        let port = self.smtp_port.unwrap_or(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        });
        Ok(MailSetting::Smtp {
            host: host.clone(),
            port,
            security,
        })
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            invalid(
                "listen",
                "expected an address and port such as 127.0.0.1:8080",
            )
        })
    }

    pub fn database(&self) -> Result<DatabaseSetting, ConfigError> {
        let Some(url) = self
            .database_url
            .as_ref()
            .filter(|u| !u.expose_secret().is_empty())
        else {
            return Ok(DatabaseSetting::Sqlite(self.data_dir.join("vigie.sqlite3")));
        };
        let raw = url.expose_secret();
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(invalid("database_url", "sqlite:// needs a file path"));
            }
            return Ok(DatabaseSetting::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            if cfg!(feature = "postgres") {
                return Ok(DatabaseSetting::Postgres(url.clone()));
            }
            return Err(invalid(
                "database_url",
                "this build has no PostgreSQL support; build with `--features postgres`",
            ));
        }
        Err(invalid(
            "database_url",
            "must start with sqlite:// or postgres://",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn bad_settings_name_the_key_at_fault() {
        type Change = fn(&mut Settings);
        let cases: [(&str, Change); 8] = [
            ("attachment_pending_secs", |s| s.attachment_pending_secs = 0),
            ("max_attachments_total_bytes", |s| {
                s.max_attachments_total_bytes = 1
            }),
            ("listen", |s| s.listen = "nowhere".into()),
            ("database_url", |s| {
                s.database_url = Some(SecretString::from("mysql://x"))
            }),
            ("public_url", |s| s.public_url = "ftp://x".into()),
            ("categories", |s| s.categories.clear()),
            ("categories", |s| {
                s.categories.push(CategorySetting {
                    key: "Bad Key".into(),
                    fr: None,
                    en: None,
                })
            }),
            ("categories", |s| {
                s.categories.push(CategorySetting {
                    key: "custom".into(),
                    fr: Some("x".into()),
                    en: None,
                })
            }),
        ];
        for (key, change) in cases {
            let mut s = Settings::default();
            change(&mut s);
            match s.validate() {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
                other => panic!("expected an error on {key}, got {other:?}"),
            }
        }
    }

    #[test]
    fn plain_smtp_is_refused_unless_the_relay_is_on_loopback() {
        let with = |host: &str, security: &str| Settings {
            smtp_host: Some(host.into()),
            smtp_security: security.into(),
            mail_to: vec!["sg@example.org".into()],
            ..Settings::default()
        };
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            assert!(with(host, "plain").validate().is_ok(), "{host}");
        }
        for host in ["mail.example.org", "10.0.0.2", "192.168.1.1"] {
            assert!(
                matches!(
                    with(host, "plain").validate(),
                    Err(ConfigError::Invalid {
                        key: "smtp_security",
                        ..
                    })
                ),
                "{host}"
            );
            assert!(with(host, "starttls").validate().is_ok());
        }
        assert_eq!(
            with("mail.example.org", "tls").mail().ok(),
            Some(MailSetting::Smtp {
                host: "mail.example.org".into(),
                port: 465,
                security: SmtpSecurity::Tls
            })
        );
        assert!(Settings {
            mail_to: vec![],
            ..with("localhost", "plain")
        }
        .validate()
        .is_err());
    }

    #[test]
    fn a_misspelt_key_in_the_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("vigie.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndatabse_url = \"sqlite://x\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let err = Settings::load(Some(&file))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("databse_url"), "{err}");
    }

    #[test]
    fn a_file_with_known_keys_is_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("vigie.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_field_chars = 99\n[[categories]]\nkey = \"funds\"\n[[categories]]\nkey = \"travel\"\nfr = \"Frais de mission\"\nen = \"Travel expenses\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let settings = Settings::load(Some(&file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.listen, "127.0.0.1:9000");
        assert_eq!(settings.max_field_chars, 99);
        assert_eq!(settings.categories.len(), 2);
        assert_eq!(
            settings.categories[1].en.as_deref(),
            Some("Travel expenses")
        );
    }

    #[test]
    fn a_password_holding_an_at_sign_is_not_printed_either() {
        let db = DatabaseSetting::Postgres(SecretString::from(
            "postgres://vigie:p@ss@word@db.internal/vigie".to_string(),
        ));
        let shown = db.describe();
        assert!(!shown.contains("ss"), "{shown}");
        assert_eq!(shown, "PostgreSQL at db.internal/vigie");
    }

    #[test]
    fn a_postgres_url_is_described_without_its_password() {
        let db = DatabaseSetting::Postgres(SecretString::from(
            "postgres://vigie:hunter2@db.internal:5432/vigie".to_string(),
        ));
        let shown = db.describe();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.internal"));
    }
}
