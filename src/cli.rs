//! The command line: serve, keygen, export, decrypt, check.

use std::{
    fs,
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{
    config::Settings,
    crypto,
    db::{self, Attachment, Case, Journal},
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
            export(&i18n, lang, cli.config.as_deref(), &out, case.as_deref())
        }
        Command::Decrypt {
            identity,
            files,
            paths,
        } => decrypt(&i18n, lang, &identity, &files, &paths),
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

/// `metadata.json` of an exported case: dates and status only, no content.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedCase {
    pub id: String,
    pub status: String,
    pub closure_reason: Option<String>,
    pub received_on: chrono::NaiveDate,
    pub ack_due: chrono::NaiveDate,
    pub acknowledged_on: Option<chrono::NaiveDate>,
    pub feedback_due: chrono::NaiveDate,
    pub closed_on: Option<chrono::NaiveDate>,
    pub on_hold: bool,
    pub reporter_recipient: String,
    pub entries: Vec<ExportedEntry>,
    #[serde(default)]
    pub attachments: Vec<ExportedAttachment>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedAttachment {
    pub id: String,
    pub file: String,
    pub size: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedEntry {
    pub file: String,
    pub kind: String,
    pub created_on: chrono::NaiveDate,
}

fn export(
    i18n: &I18n,
    lang: Lang,
    config: Option<&Path>,
    out: &Path,
    only: Option<&str>,
) -> anyhow::Result<i32> {
    let settings = Settings::load(config)?;
    let database = settings.database()?;
    let database = db::connect(&database, 2)?;
    let mut conn = database.conn()?;
    let cases = match only {
        Some(id) => match Case::find(&mut conn, id)? {
            Some(case) => vec![case],
            None => bail!(i18n.get_with(lang, "cli-no-such-case", &[("id", id.to_string())])),
        },
        None => Case::all(&mut conn)?,
    };
    fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    for case in &cases {
        let dir = out.join(&case.row.id);
        fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        let mut entries = Vec::new();
        for entry in case.entries(&mut conn)? {
            let file = format!("{:03}-{}.age", entry.position, entry.kind);
            fs::write(dir.join(&file), &entry.ciphertext)?;
            entries.push(ExportedEntry {
                file,
                kind: entry.kind,
                created_on: entry.created_on,
            });
        }
        let mut files = Vec::new();
        for (id, size) in Attachment::of_case(&mut conn, &case.row.id)? {
            let file = format!("attachment-{id}.age");
            let mut out = fs::File::create(dir.join(&file))?;
            for seq in 0..Attachment::chunk_count(&mut conn, &id)? {
                let chunk =
                    Attachment::chunk(&mut conn, &id, i32::try_from(seq).unwrap_or(i32::MAX))?
                        .unwrap_or_default();
                out.write_all(&chunk)?;
            }
            out.sync_all()?;
            files.push(ExportedAttachment { id, file, size });
        }
        let row = &case.row;
        let meta = ExportedCase {
            id: row.id.clone(),
            status: row.status.clone(),
            closure_reason: row.closure_reason.clone(),
            received_on: row.received_on,
            ack_due: row.ack_due,
            acknowledged_on: row.acknowledged_on,
            feedback_due: row.feedback_due,
            closed_on: row.closed_on,
            on_hold: row.on_hold,
            reporter_recipient: row.reporter_recipient.clone(),
            entries,
            attachments: files,
        };
        fs::write(dir.join("metadata.json"), serde_json::to_vec_pretty(&meta)?)?;
        let now = chrono::Utc::now().timestamp();
        database.write(|conn| Journal::record(conn, Some(&row.id), "exported", None, now))?;
    }
    println!(
        "{}",
        i18n.get_with(
            lang,
            "cli-exported",
            &[
                ("count", cases.len().to_string()),
                ("dir", out.display().to_string())
            ]
        )
    );
    Ok(0)
}

fn decrypt(
    i18n: &I18n,
    lang: Lang,
    identity: &Path,
    files: &Path,
    paths: &[PathBuf],
) -> anyhow::Result<i32> {
    let identities = crypto::read_identity_file(identity, || {
        passphrase_from_env().or_else(|| prompt(&i18n.get(lang, "cli-passphrase-prompt")))
    })
    .with_context(|| identity.display().to_string())?;
    let mut printer = Printer {
        i18n,
        lang,
        identities: &identities,
        failures: 0,
        out: std::io::stdout().lock(),
        files: files.to_path_buf(),
        names: std::collections::HashMap::new(),
    };
    for path in paths {
        printer.path(path)?;
    }
    Ok(if printer.failures > 0 { 1 } else { 0 })
}

struct Printer<'a, W: Write> {
    i18n: &'a I18n,
    lang: Lang,
    identities: &'a [age::x25519::Identity],
    failures: usize,
    out: W,
    /// Where decrypted attachments go.
    files: PathBuf,
    /// Attachment identifier → original file name, from the decrypted thread.
    names: std::collections::HashMap<String, String>,
}

impl<W: Write> Printer<'_, W> {
    fn t(&self, key: &str) -> String {
        self.i18n.get(self.lang, key)
    }

    fn path(&mut self, path: &Path) -> anyhow::Result<()> {
        if path.is_dir() {
            if path.join("metadata.json").is_file() {
                return self.case_folder(path);
            }
            let mut children: Vec<PathBuf> = fs::read_dir(path)
                .with_context(|| path.display().to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            children.sort();
            for child in children {
                if child.is_dir() || child.extension().is_some_and(|e| e == "age") {
                    self.path(&child)?;
                }
            }
            return Ok(());
        }
        self.file(path, None)
    }

    fn case_folder(&mut self, dir: &Path) -> anyhow::Result<()> {
        let meta: ExportedCase = serde_json::from_slice(&fs::read(dir.join("metadata.json"))?)
            .with_context(|| dir.join("metadata.json").display().to_string())?;
        let date = |d: chrono::NaiveDate| self.i18n.date(self.lang, d);
        let status = self.t(&format!("status-{}", meta.status));
        let mut head = format!(
            "═══ {} {} ═══\n{} : {}\n{} : {}\n",
            self.t("cli-case"),
            meta.id,
            self.t("cli-status"),
            status,
            self.t("cli-received-on"),
            date(meta.received_on),
        );
        match meta.acknowledged_on {
            Some(d) => head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-acknowledged-on"),
                date(d)
            )),
            None => head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-ack-due"),
                date(meta.ack_due)
            )),
        }
        match meta.closed_on {
            Some(d) => head.push_str(&format!("{} : {}\n", self.t("cli-closed-on"), date(d))),
            None => head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-feedback-due"),
                date(meta.feedback_due)
            )),
        }
        if let Some(reason) = &meta.closure_reason {
            head.push_str(&format!("{} : {}\n", self.t("cli-closure-reason"), reason));
        }
        writeln!(self.out, "{head}")?;
        for entry in &meta.entries {
            self.file(&dir.join(&entry.file), Some(entry.created_on))?;
        }
        for attachment in &meta.attachments {
            self.attachment(&meta.id, &dir.join(&attachment.file), &attachment.id)?;
        }
        Ok(())
    }

    /// Decrypts one attachment and writes it under its original name.
    fn attachment(&mut self, case_id: &str, path: &Path, id: &str) -> anyhow::Result<()> {
        let ciphertext = fs::read(path).with_context(|| path.display().to_string())?;
        let plaintext = match crypto::decrypt(self.identities, &ciphertext) {
            Ok(p) => p,
            Err(e) => {
                self.failures += 1;
                eprintln!(
                    "{}",
                    self.i18n.get_with(
                        self.lang,
                        "cli-undecryptable",
                        &[
                            ("file", path.display().to_string()),
                            ("reason", e.to_string())
                        ]
                    )
                );
                return Ok(());
            }
        };
        let wanted = self
            .names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string());
        let name = Path::new(&wanted)
            .file_name()
            .map(|n| n.to_string_lossy().replace(|c: char| c.is_control(), "_"))
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .unwrap_or_else(|| id.to_string());
        let folder = self.files.join(case_id);
        fs::create_dir_all(&folder).with_context(|| folder.display().to_string())?;
        let mut target = folder.join(&name);
        if target.exists() {
            // Two files of one case with the same name: keep both.
            target = folder.join(format!("{id}-{name}"));
        }
        fs::write(&target, &plaintext).with_context(|| target.display().to_string())?;
        writeln!(
            self.out,
            "{}\n",
            self.i18n.get_with(
                self.lang,
                "cli-attachment-written",
                &[("file", target.display().to_string())]
            )
        )?;
        Ok(())
    }

    fn file(&mut self, path: &Path, dated: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
        let ciphertext = fs::read(path).with_context(|| path.display().to_string())?;
        let shown = path.display().to_string();
        let plaintext = match crypto::decrypt(self.identities, &ciphertext) {
            Ok(p) => p,
            Err(e) => {
                self.failures += 1;
                eprintln!(
                    "{}",
                    self.i18n.get_with(
                        self.lang,
                        "cli-undecryptable",
                        &[("file", shown), ("reason", e.to_string())]
                    )
                );
                return Ok(());
            }
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&plaintext) else {
            self.failures += 1;
            eprintln!(
                "{}",
                self.i18n
                    .get_with(self.lang, "cli-not-vigie", &[("file", shown)])
            );
            return Ok(());
        };
        // Text written by a reporter, printed on the Secretary's terminal:
        // control characters (escape sequences) are neutralised.
        let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(printable);
        let kind = text("type").unwrap_or_default();
        let mut block = format!("─── {}", self.t(&format!("cli-entry-{kind}")));
        if let Some(d) = dated {
            block.push_str(&format!(" ({})", self.i18n.date(self.lang, d)));
        }
        block.push_str(" ───\n");
        if let Some(category) = text("category") {
            let label = self.i18n.get(self.lang, &format!("category-{category}"));
            let label = if label.starts_with("category-") {
                category.clone()
            } else {
                label
            };
            block.push_str(&format!(
                "{} : {} [{}]\n",
                self.t("cli-category"),
                label,
                category
            ));
        }
        for (key, label) in [
            ("period", "cli-period"),
            ("place", "cli-place"),
            ("persons", "cli-persons"),
            ("evidence", "cli-evidence"),
            ("lang", "cli-language"),
        ] {
            if let Some(v) = text(key) {
                block.push_str(&format!("{} : {}\n", self.t(label), v));
            }
        }
        if let Some(d) = text("description") {
            block.push_str(&format!("{} :\n{}\n", self.t("cli-description"), d));
        }
        if let Some(b) = text("body") {
            block.push_str(&format!("{} :\n{}\n", self.t("cli-body"), b));
        }
        for a in value
            .get("attachments")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            let field = |k: &str| {
                a.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let size = a.get("size").and_then(|v| v.as_u64()).unwrap_or(0);
            self.names.insert(field("id"), field("name"));
            block.push_str(&format!(
                "{} : {} ({} o, {})\n",
                self.t("cli-attachment"),
                field("name"),
                size,
                field("type")
            ));
        }
        writeln!(self.out, "{block}")?;
        Ok(())
    }
}

/// Text safe to print on a terminal: control characters other than line
/// breaks and tabs become U+FFFD.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
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
                let reason = backlog
                    .last_error
                    .map(|code| i18n.get(lang, &format!("mail-error-{code}")))
                    .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn reporter_text_cannot_drive_the_secretarys_terminal() {
        let hostile = "ok\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2Jline\nnext\ttab\r";
        let shown = printable(hostile);
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{7}') && !shown.contains('\r'));
        assert!(shown.contains("line\nnext\ttab"));
    }
}
