//! The command line: serve, keygen, export, decrypt, check.

mod decrypt;
mod export;
mod files;
mod format;
mod text;

use std::{
    fs,
    io::IsTerminal,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    config::Settings,
    crypto, db,
    i18n::{I18n, Lang},
    startup::Application,
};

#[derive(Debug, Parser)]
#[command(
    name = "vigie",
    version,
    about = "Anonymous reporting channel / canal de signalement anonyme"
)]
pub struct Cli {
    /// TOML configuration file (defaults < file < VIGIE_… variables).
    #[arg(long, global = true, env = "VIGIE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Language of the command's messages: fr or en.
    #[arg(long, global = true, env = "VIGIE_LANG", default_value = "fr")]
    pub lang: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Make a new Secretary identity and print its recipient.
    Keygen {
        /// Where to write the identity file (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Protect the file with a passphrase (scrypt, work factor 18).
        /// Read from VIGIE_PASSPHRASE, or asked for on the terminal.
        #[arg(long)]
        passphrase: bool,
    },
    /// Write every case (or one) as age files plus metadata.
    Export {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        case: Option<String>,
    },
    /// Decrypt exported files or folders and print them readably.
    Decrypt {
        /// The Secretary's identity file, plain or passphrase-protected.
        #[arg(long)]
        identity: PathBuf,
        /// Where decrypted attachments are written (one folder per case).
        #[arg(long, default_value = "vigie-files")]
        files: PathBuf,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Validate configuration, keys and database.
    Check,
    /// Delete closed cases past their retention period (not those on hold).
    Purge {
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let lang: Lang = cli
        .lang
        .parse()
        .map_err(|_| anyhow::anyhow!("--lang: fr or en"))?;
    let i18n = I18n::load()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config.as_deref()),
        Command::Keygen { out, passphrase } => keygen(&i18n, lang, &out, passphrase),
        Command::Export { out, case } => {
            export::export(&i18n, lang, cli.config.as_deref(), &out, case.as_deref())
        }
        Command::Decrypt {
            identity,
            files,
            paths,
        } => decrypt::decrypt(&i18n, lang, &identity, &files, &paths),
        Command::Check => Ok(check(&i18n, lang, cli.config.as_deref())),
        Command::Purge { dry_run } => purge(&i18n, lang, cli.config.as_deref(), dry_run),
    }
}

fn serve(config: Option<&Path>) -> anyhow::Result<i32> {
    let settings = Settings::load(config)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        app.run_until_stopped().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

fn passphrase_from_env() -> Option<SecretString> {
    std::env::var("VIGIE_PASSPHRASE")
        .ok()
        .map(SecretString::from)
}

fn prompt(text: &str) -> Option<SecretString> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(format!("{text} "))
        .ok()
        .map(SecretString::from)
}

fn keygen(i18n: &I18n, lang: Lang, out: &Path, protect: bool) -> anyhow::Result<i32> {
    let passphrase = if protect {
        let first = passphrase_from_env()
            .or_else(|| prompt(&i18n.get(lang, "cli-passphrase-prompt")))
            .context("no passphrase: set VIGIE_PASSPHRASE or run on a terminal")?;
        if passphrase_from_env().is_none() {
            let again = prompt(&i18n.get(lang, "cli-passphrase-again")).unwrap_or_default();
            if again.expose_secret() != first.expose_secret() {
                bail!(i18n.get(lang, "cli-passphrase-mismatch"));
            }
        }
        if first.expose_secret().chars().count() < 10 {
            bail!(i18n.get(lang, "cli-passphrase-short"));
        }
        Some(first)
    } else {
        None
    };
    let identity = crypto::generate_identity();
    crypto::write_identity_file(out, &identity, passphrase.as_ref())
        .with_context(|| out.display().to_string())?;
    eprintln!(
        "{}",
        i18n.get_with(
            lang,
            "cli-keygen-done",
            &[("file", out.display().to_string())]
        )
    );
    if passphrase.is_none() {
        eprintln!("{}", i18n.get(lang, "cli-keygen-plain-warning"));
    }
    println!("{}", identity.to_public());
    Ok(0)
}

fn purge(i18n: &I18n, lang: Lang, config: Option<&Path>, dry_run: bool) -> anyhow::Result<i32> {
    let settings = Settings::load(config)?;
    let database = db::connect(&settings.database()?, 2)?;
    let today = chrono::Utc::now().date_naive();
    let now = chrono::Utc::now().timestamp();
    let due = db::Retention::due(&mut *database.conn()?, today, settings.retention_days)?;
    for row in &due {
        let closed = row
            .closed_on
            .map(|d| i18n.date(lang, d))
            .unwrap_or_default();
        println!(
            "{}",
            i18n.get_with(
                lang,
                "cli-purge-line",
                &[("id", row.id.clone()), ("closed", closed)]
            )
        );
    }
    if dry_run {
        println!(
            "{}",
            i18n.get_with(lang, "cli-purge-would", &[("count", due.len().to_string())])
        );
        return Ok(0);
    }
    let purged =
        database.write(|conn| db::Retention::purge(conn, today, settings.retention_days, now))?;
    println!(
        "{}",
        i18n.get_with(lang, "cli-purge-done", &[("count", purged.to_string())])
    );
    Ok(0)
}

/// `vigie check`: prints one line a check, returns the exit code.
fn check(i18n: &I18n, lang: Lang, config: Option<&Path>) -> i32 {
    let ok = i18n.get(lang, "cli-check-ok");
    let bad = i18n.get(lang, "cli-check-problem");
    let mut problems = 0usize;
    let mut report = |passed: bool, line: String| {
        if passed {
            println!("{ok:>9}  {line}");
        } else {
            problems += 1;
            println!("{bad:>9}  {line}");
        }
    };
    let settings = match Settings::load(config) {
        Ok(s) => {
            report(true, i18n.get(lang, "cli-check-config"));
            s
        }
        Err(e) => {
            report(false, e.to_string());
            println!(
                "{}",
                i18n.get_with(lang, "cli-check-failed", &[("count", "1".into())])
            );
            return 1;
        }
    };
    let file = settings.recipients_file.display().to_string();
    match crypto::load_recipients(&settings.recipients_file) {
        Ok(r) if r.is_empty() => report(
            false,
            i18n.get_with(lang, "cli-check-no-recipient", &[("file", file)]),
        ),
        Ok(r) => report(
            true,
            i18n.get_with(
                lang,
                "cli-check-recipients",
                &[("count", r.len().to_string()), ("file", file)],
            ),
        ),
        Err(e) => report(false, e.to_string()),
    }
    let dir = &settings.data_dir;
    let probe = dir.join(".vigie-check");
    let writable = fs::create_dir_all(dir).is_ok()
        && fs::write(&probe, b"").is_ok()
        && fs::remove_file(&probe).is_ok();
    report(
        writable,
        i18n.get_with(
            lang,
            "cli-check-data-dir",
            &[("dir", dir.display().to_string())],
        ),
    );
    match settings.database() {
        Ok(database) => {
            let checked = db::connect_without_migrations(&database).and_then(|pool| {
                let mut conn = pool.get()?;
                db::ping(&mut conn)?;
                db::pending_migrations(&mut conn)
            });
            match checked {
                Ok(pending) => {
                    report(
                        true,
                        i18n.get_with(lang, "cli-check-database", &[("db", database.describe())]),
                    );
                    if pending > 0 {
                        println!(
                            "{:>9}  {}",
                            "",
                            i18n.get_with(
                                lang,
                                "cli-check-pending",
                                &[("count", pending.to_string())]
                            )
                        );
                    }
                }
                Err(e) => report(false, format!("{} — {e}", database.describe())),
            }
        }
        Err(e) => report(false, e.to_string()),
    }
    match crate::notify::Notifier::from_settings(&settings) {
        Ok(notifier) => match notifier.mail_folder() {
            Some(dir) => report(
                true,
                i18n.get_with(
                    lang,
                    "cli-check-mail-files",
                    &[("dir", dir.display().to_string())],
                ),
            ),
            None => {
                let port = match settings.mail() {
                    Ok(crate::config::MailSetting::Smtp { port, .. }) => port,
                    _ => 0,
                };
                let relay = format!(
                    "{}:{port} ({})",
                    settings.smtp_host.clone().unwrap_or_default(),
                    settings.smtp_security
                );
                match notifier.test_connection() {
                    Ok(()) => report(
                        true,
                        i18n.get_with(lang, "cli-check-mail-relay", &[("relay", relay)]),
                    ),
                    Err(e) => report(
                        false,
                        format!("{relay}: {}", i18n.get(lang, &e.message_key())),
                    ),
                }
            }
        },
        Err(e) => report(false, e.to_string()),
    }
    if let Ok(database) = settings.database() {
        let backlog = db::connect_without_migrations(&database).and_then(|pool| {
            let mut conn = pool.get()?;
            let now = chrono::Utc::now().timestamp();
            let stale = i64::try_from(settings.notify_stale_secs).unwrap_or(i64::MAX);
            Ok(crate::db::Outbox::backlog(&mut conn, now, stale)?)
        });
        if let Ok(backlog) = backlog {
            if backlog.stale > 0 {
                let reason = crate::notify::describe_backlog(i18n, lang, &backlog);
                report(
                    false,
                    i18n.get_with(
                        lang,
                        "cli-check-mail-backlog",
                        &[("count", backlog.stale.to_string()), ("reason", reason)],
                    ),
                );
            }
        }
    }
    if problems > 0 {
        println!(
            "{}",
            i18n.get_with(lang, "cli-check-failed", &[("count", problems.to_string())])
        );
        1
    } else {
        println!("{}", i18n.get(lang, "cli-check-passed"));
        0
    }
}
