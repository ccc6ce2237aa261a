//! A key handover, in two commands around a trusted machine:
//!
//! - `vigie rekey`, offline, with the outgoing (or backup) identity: reads an
//!   export, writes for every age file of the role's cases a new header (the
//!   same file key, wrapped to the new recipients and the reporter's `R`),
//!   and a manifest of their SHA-256; prints the manifest's SHA-256.
//! - `vigie import-rekeyed`, on the server, once the recipients file lists
//!   the new keys: checks the manifest against that SHA-256, then each case,
//!   and swaps its headers in one transaction; the payloads never move.
//!
//! Both can be run again after an interruption: `rekey` keeps the cases it
//! finished (each written to a folder of its own, renamed when complete),
//! and `import-rekeyed` recognises the cases already swapped.

use std::{
    collections::BTreeSet,
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::{
    files,
    format::{ExportedCase, METADATA},
    passphrase::{passphrase_from_env, prompt},
    text::printable_line,
};
use crate::{
    config::Settings,
    crypto::{self, Readers, Recipients},
    db::{self, Case, Journal, JournalAction},
    domain::{AttachmentId, CaseId, Reader, Readership, Role},
    i18n::{I18n, Lang},
    service::handover::{self, CaseHeaders, HandoverError, Imported},
};

/// The manifest's file name in a rekeyed folder.
pub const MANIFEST: &str = "manifest.json";
/// How much of a file is read to find its header.
const HEADER_PREFIX: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub role: String,
    /// Fingerprints of the keys the files were sealed to before (those of
    /// the identity that opened them).
    pub old_keys: Vec<String>,
    /// The recipients the role's files are sealed to now.
    pub new_recipients: Vec<String>,
    pub cases: Vec<ManifestCase>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestCase {
    pub id: String,
    pub readership: String,
    pub entries: Vec<ManifestEntry>,
    pub attachments: Vec<ManifestAttachment>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub position: i32,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestAttachment {
    pub id: String,
    pub sha256: String,
}

fn entry_header(position: i32) -> String {
    format!("{position:03}.header")
}

fn attachment_header(id: &AttachmentId) -> String {
    format!("attachment-{id}.header")
}

fn first_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut prefix = Vec::new();
    fs::File::open(path)
        .with_context(|| printable_line(&path.display().to_string()))?
        .take(HEADER_PREFIX)
        .read_to_end(&mut prefix)?;
    Ok(prefix)
}

fn role_of(i18n: &I18n, lang: Lang, name: &str) -> anyhow::Result<Role> {
    Role::parse(name).ok_or_else(|| {
        anyhow::anyhow!(i18n.get_with(
            lang,
            "cli-export-bad-readership",
            &[("value", printable_line(name))]
        ))
    })
}

/// What `vigie rekey` is given.
pub struct Rekey<'a> {
    pub identity: &'a Path,
    pub role: &'a str,
    pub to: &'a Path,
    pub others: Option<&'a Path>,
    pub input: &'a Path,
    pub out: &'a Path,
}

/// `vigie rekey`: new headers for every file of the role's cases.
pub(super) fn rekey(i18n: &I18n, lang: Lang, args: Rekey<'_>) -> anyhow::Result<i32> {
    let role = role_of(i18n, lang, args.role)?;
    let new = crypto::load_recipients(args.to)?;
    if new.is_empty() {
        bail!(i18n.get(lang, "cli-rekey-no-recipients"));
    }
    let others = match args.others {
        Some(path) => crypto::load_recipients(path)?,
        None => Recipients::default(),
    };
    let readers = match role {
        Role::Secretary => Readers::new(new.clone(), others),
        Role::Bureau => Readers::new(others, new.clone()),
    }?;
    let identities = crypto::read_identity_file(args.identity, || {
        passphrase_from_env().or_else(|| prompt(&i18n.get(lang, "cli-passphrase-prompt")))
    })
    .with_context(|| printable_line(&args.identity.display().to_string()))?;
    files::top_folder(args.out).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut dirs: Vec<PathBuf> = fs::read_dir(args.input)
        .with_context(|| printable_line(&args.input.display().to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(METADATA).is_file())
        .collect();
    dirs.sort();
    let mut cases = Vec::new();
    let mut skipped = 0usize;
    for dir in dirs {
        let meta: ExportedCase = serde_json::from_slice(
            &files::read_regular(&dir.join(METADATA), 1 << 20)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )?;
        let Some(id) = CaseId::parse(&meta.id) else {
            bail!(i18n.get_with(
                lang,
                "cli-no-such-case",
                &[("id", printable_line(&meta.id))]
            ));
        };
        let readership = meta
            .readership
            .as_deref()
            .map_or(Some(Readership::Secretary), Readership::parse)
            .unwrap_or(Readership::Secretary);
        if !readership.read_by(role) {
            continue;
        }
        if readership == Readership::Both && readers.of_role(role.other()).is_empty() {
            bail!(i18n.get(lang, "cli-rekey-others-needed"));
        }
        let reporter = crypto::ReporterRecipient::parse(&meta.reporter_recipient)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut to: Vec<age::x25519::Recipient> = readers.of(readership).iter().cloned().collect();
        to.push(reporter.recipient().clone());
        let done = args.out.join(id.as_str());
        let partial = args.out.join(format!(".{id}.part"));
        if !done.is_dir() {
            let _ = fs::remove_dir_all(&partial);
            files::private_folder(&partial).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut refused = false;
            let mut sources: Vec<(String, PathBuf)> = Vec::new();
            for e in &meta.entries {
                let file: super::format::EntryFile =
                    e.file.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
                sources.push((entry_header(file.position as i32), dir.join(&e.file)));
            }
            for a in &meta.attachments {
                let aid = AttachmentId::parse(&a.id)
                    .ok_or_else(|| anyhow::anyhow!("{}", printable_line(&a.id)))?;
                sources.push((
                    attachment_header(&aid),
                    dir.join(super::format::attachment_file(&aid)),
                ));
            }
            for (name, source) in &sources {
                match crypto::rewrap_header(&first_bytes(source)?, &identities, &to) {
                    Ok(header) => files::replace_private(&partial, name, |f| {
                        f.write_all(&header)?;
                        Ok(())
                    })?,
                    Err(crypto::RewrapError::NoIdentity) => {
                        refused = true;
                        break;
                    }
                    Err(e) => bail!("{}: {e}", printable_line(&source.display().to_string())),
                }
            }
            if refused {
                let _ = fs::remove_dir_all(&partial);
                println!(
                    "{}",
                    i18n.get_with(lang, "cli-rekey-not-opened", &[("id", id.to_string())])
                );
                skipped += 1;
                continue;
            }
            fs::rename(&partial, &done)?;
        }
        let digest = |name: &str| -> anyhow::Result<String> {
            let bytes = files::read_regular(&done.join(name), HEADER_PREFIX)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            Ok(hex::encode(crypto::sha256(&bytes)))
        };
        let mut entries = Vec::new();
        for e in &meta.entries {
            let file: super::format::EntryFile =
                e.file.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let position = file.position as i32;
            entries.push(ManifestEntry {
                position,
                sha256: digest(&entry_header(position))?,
            });
        }
        let mut attachments = Vec::new();
        for a in &meta.attachments {
            let aid = AttachmentId::parse(&a.id)
                .ok_or_else(|| anyhow::anyhow!("{}", printable_line(&a.id)))?;
            attachments.push(ManifestAttachment {
                id: a.id.clone(),
                sha256: digest(&attachment_header(&aid))?,
            });
        }
        println!(
            "{}",
            i18n.get_with(lang, "cli-rekey-case", &[("id", id.to_string())])
        );
        cases.push(ManifestCase {
            id: id.to_string(),
            readership: readership.as_str().to_string(),
            entries,
            attachments,
        });
    }
    let old_keys: BTreeSet<String> = identities
        .iter()
        .map(|i| crypto::key_fingerprint(&i.to_public().to_string()))
        .collect();
    let manifest = Manifest {
        version: 1,
        role: role.as_str().to_string(),
        old_keys: old_keys.into_iter().collect(),
        new_recipients: new.iter().map(|r| r.to_string()).collect(),
        cases,
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    files::replace_private(args.out, MANIFEST, |f| {
        f.write_all(&text)?;
        Ok(())
    })?;
    println!(
        "{}",
        i18n.get_with(
            lang,
            "cli-rekey-done",
            &[
                ("cases", manifest.cases.len().to_string()),
                ("skipped", skipped.to_string()),
                ("sha256", hex::encode(crypto::sha256(&text))),
            ]
        )
    );
    Ok(if skipped > 0 { 1 } else { 0 })
}

/// `vigie import-rekeyed`: checks and swaps the new headers, case by case.
pub(super) fn import(
    i18n: &I18n,
    lang: Lang,
    config: Option<&Path>,
    input: &Path,
    expected: &str,
) -> anyhow::Result<i32> {
    let text = files::read_regular(&input.join(MANIFEST), 64 << 20)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if hex::encode(crypto::sha256(&text)) != expected.trim().to_ascii_lowercase() {
        bail!(i18n.get(lang, "cli-import-manifest-mismatch"));
    }
    let manifest: Manifest = serde_json::from_slice(&text)?;
    let role = role_of(i18n, lang, &manifest.role)?;
    let settings = Settings::load(config)?;
    let secretary = crypto::load_recipients(&settings.recipients_file)?;
    let bureau = crypto::load_recipients(&settings.bureau_recipients_file)?;
    let readers = Readers::new(secretary, bureau)?;
    let configured: BTreeSet<String> = readers
        .of_role(role)
        .iter()
        .map(|r| r.to_string())
        .collect();
    let named: BTreeSet<String> = manifest.new_recipients.iter().cloned().collect();
    if configured != named {
        bail!(i18n.get(lang, "cli-import-switch-first"));
    }
    let database = settings.database()?;
    let database = db::connect(&database, 2)?;
    let (mut swapped_cases, mut files_swapped, mut already, mut changed) =
        (0usize, 0usize, 0usize, 0usize);
    let mut listed = BTreeSet::new();
    for case in &manifest.cases {
        let id = CaseId::parse(&case.id)
            .ok_or_else(|| anyhow::anyhow!("{}", printable_line(&case.id)))?;
        listed.insert(id.clone());
        let folder = input.join(id.as_str());
        let read = |name: &str, sha: &str| -> anyhow::Result<Vec<u8>> {
            let bytes = files::read_regular(&folder.join(name), HEADER_PREFIX)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if hex::encode(crypto::sha256(&bytes)) != sha {
                bail!(i18n.get_with(lang, "cli-import-file-mismatch", &[("id", id.to_string())]));
            }
            Ok(bytes)
        };
        let headers = (|| -> anyhow::Result<CaseHeaders> {
            let mut headers = CaseHeaders {
                readership: Readership::parse(&case.readership),
                ..CaseHeaders::default()
            };
            for e in &case.entries {
                headers
                    .entries
                    .push((e.position, read(&entry_header(e.position), &e.sha256)?));
            }
            for a in &case.attachments {
                let aid = AttachmentId::parse(&a.id)
                    .ok_or_else(|| anyhow::anyhow!("{}", printable_line(&a.id)))?;
                let bytes = read(&attachment_header(&aid), &a.sha256)?;
                headers.attachments.push((aid, bytes));
            }
            Ok(headers)
        })();
        let headers = match headers {
            Ok(headers) => headers,
            Err(e) => {
                changed += 1;
                println!("{e}");
                continue;
            }
        };
        let outcome =
            database.write(
                |conn| match handover::import_case(conn, &readers, &id, &headers) {
                    Ok(done) => Ok(Ok(done)),
                    Err(HandoverError::Query(e)) => Err(e),
                    Err(other) => Ok(Err(other)),
                },
            )?;
        match outcome {
            Ok(Imported::Swapped(n)) => {
                swapped_cases += 1;
                files_swapped += n;
                println!(
                    "{}",
                    i18n.get_with(
                        lang,
                        "cli-import-case",
                        &[("id", id.to_string()), ("files", n.to_string())]
                    )
                );
            }
            Ok(Imported::AlreadyDone) => already += 1,
            Err(e) => {
                changed += 1;
                println!(
                    "{}",
                    i18n.get_with(
                        lang,
                        "cli-import-refused",
                        &[("id", id.to_string()), ("reason", e.to_string())]
                    )
                );
            }
        }
    }
    // The role's cases the manifest does not name: reported since the
    // export, or never opened by the old key.
    let mut conn = database.conn()?;
    let missing = Case::all(&mut conn)?
        .into_iter()
        .filter(|c| c.readership.read_by(role) && !listed.contains(&c.id))
        .count();
    drop(conn);
    let detail = format!(
        "old {} new {} cases {} files {}",
        manifest.old_keys.join(","),
        manifest
            .new_recipients
            .iter()
            .map(|r| crypto::key_fingerprint(r))
            .collect::<Vec<_>>()
            .join(","),
        swapped_cases,
        files_swapped
    );
    let reader = Reader {
        role,
        key: manifest
            .new_recipients
            .first()
            .map(|r| crypto::key_fingerprint(r))
            .unwrap_or_default(),
    };
    let now = chrono::Utc::now().timestamp();
    if swapped_cases > 0 {
        database.write(|conn| {
            Journal::record(
                conn,
                None,
                JournalAction::HandedOver,
                Some(&detail),
                Some(&reader),
                now,
            )
        })?;
    }
    println!(
        "{}",
        i18n.get_with(
            lang,
            "cli-import-done",
            &[
                ("cases", swapped_cases.to_string()),
                ("files", files_swapped.to_string()),
                ("already", already.to_string()),
                ("changed", changed.to_string()),
                ("missing", missing.to_string()),
            ]
        )
    );
    Ok(if changed > 0 || missing > 0 { 1 } else { 0 })
}
