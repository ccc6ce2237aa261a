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
pub const DEFAULT_CATEGORIES: [&str; 7] = [
    "undue_influence",
    "conflict_of_interest",
    "funds",
    "discrimination",
    "confidentiality",
    "partiality",
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
    /// Send Strict-Transport-Security (only behind HTTPS).
    pub hsts: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest encrypted report accepted from a browser, in bytes.
    pub max_ciphertext_bytes: usize,
    /// Longest description accepted, in characters.
    pub max_description_chars: usize,
    /// Longest optional field (period, place, persons, evidence), in characters.
    pub max_field_chars: usize,
    /// Report categories.
    pub categories: Vec<CategorySetting>,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log: String,
    /// Requests are counted, not logged one by one; the counts are written
    /// once per this many seconds.
    pub access_log_interval_secs: u64,
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
            hsts: false,
            max_body_bytes: 2 * 1024 * 1024,
            max_ciphertext_bytes: 1024 * 1024,
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
            log: "info".into(),
            access_log_interval_secs: 3600,
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

/// Every key a configuration file may hold.
const KEYS: [&str; 14] = [
    "listen",
    "public_url",
    "data_dir",
    "database_url",
    "database_pool_size",
    "recipients_file",
    "hsts",
    "max_body_bytes",
    "max_ciphertext_bytes",
    "max_description_chars",
    "max_field_chars",
    "categories",
    "log",
    "access_log_interval_secs",
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
        if self.access_log_interval_secs == 0 {
            return Err(invalid("access_log_interval_secs", "must be at least 1"));
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
        let cases: [(&str, Change); 6] = [
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
