//! The command line: its arguments, and which command runs. Each command
//! is a module of its own: serve, keygen, export, decrypt, check, purge.

mod check;
mod decrypt;
mod export;
mod files;
mod format;
mod keygen;
mod passphrase;
mod purge;
mod rekey;
mod serve;
mod text;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::i18n::{I18n, Lang};

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
        /// Only the cases this role reads: `secretary` or `bureau` (the
        /// cases both read are in either).
        #[arg(long)]
        readership: Option<String>,
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
    /// Key handover, on a trusted machine: new headers for every file of an
    /// export's cases (the same file keys, sealed to the new recipients and
    /// each reporter's key), and a manifest whose SHA-256 it prints.
    Rekey {
        /// The outgoing identity (or the sealed backup key), plain or
        /// passphrase-protected.
        #[arg(long)]
        identity: PathBuf,
        /// Whose keys change: `secretary` (the default) or `bureau`.
        #[arg(long, default_value = "secretary")]
        readership: String,
        /// The new recipients file of that role.
        #[arg(long)]
        to: PathBuf,
        /// The other role's recipients file, for the cases both read.
        #[arg(long)]
        other_recipients: Option<PathBuf>,
        /// The export (`vigie export --readership …`).
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Key handover, on the server, once the recipients file lists the new
    /// keys: checks the rekeyed headers and swaps them in, case by case.
    ImportRekeyed {
        #[arg(long = "in")]
        input: PathBuf,
        /// The manifest's SHA-256, as `vigie rekey` printed it.
        #[arg(long)]
        manifest_sha256: String,
    },
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
        Command::Serve => serve::serve(cli.config.as_deref()),
        Command::Keygen { out, passphrase } => keygen::keygen(&i18n, lang, &out, passphrase),
        Command::Export {
            out,
            case,
            readership,
        } => export::export(
            &i18n,
            lang,
            cli.config.as_deref(),
            &out,
            case.as_deref(),
            readership.as_deref(),
        ),
        Command::Decrypt {
            identity,
            files,
            paths,
        } => decrypt::decrypt(&i18n, lang, &identity, &files, &paths),
        Command::Check => Ok(check::check(&i18n, lang, cli.config.as_deref())),
        Command::Rekey {
            identity,
            readership,
            to,
            other_recipients,
            input,
            out,
        } => rekey::rekey(
            &i18n,
            lang,
            rekey::Rekey {
                identity: &identity,
                role: &readership,
                to: &to,
                others: other_recipients.as_deref(),
                input: &input,
                out: &out,
            },
        ),
        Command::ImportRekeyed {
            input,
            manifest_sha256,
        } => rekey::import(&i18n, lang, cli.config.as_deref(), &input, &manifest_sha256),
        Command::Purge { dry_run } => purge::purge(&i18n, lang, cli.config.as_deref(), dry_run),
    }
}
