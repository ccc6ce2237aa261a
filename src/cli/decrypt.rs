//! `vigie decrypt`: reads an export on the Secretary's offline machine and
//! prints it readably, writing decrypted attachments under `--files`.
//!
//! An export is hostile input: whoever had it in hand (the server, a copy on a
//! stick) can have changed `metadata.json` or planted links, and the reporter
//! wrote every string of the plaintext. So:
//! - the whole export is checked before anything is decrypted or written:
//!   identifiers parse as UUIDs v4, file names are rebuilt from them, each
//!   case folder is named after its case, no symbolic link anywhere;
//! - each case is read from its own folder only, and its attachment names
//!   come from its own entries only;
//! - every string printed is neutralised, and file names are sanitised;
//! - what is written is for its owner only and never replaces anything.

use std::{
    collections::{HashMap, HashSet},
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use chrono::NaiveDate;

use super::{
    files::{self, FileError},
    format::{EntryFile, ExportId, ExportedCase, METADATA},
    passphrase::{passphrase_from_env, prompt},
    text::{printable, printable_line, safe_file_name},
};
use crate::{
    crypto,
    domain::{CaseStatus, ClosureReason},
    i18n::{I18n, Lang},
};

/// Largest `metadata.json` read.
const MAX_METADATA: u64 = 16 * 1024 * 1024;
/// Largest age file read.
const MAX_CIPHERTEXT: u64 = 1 << 34;
/// How deep folders are searched for case folders.
const MAX_DEPTH: usize = 4;

pub(super) fn decrypt(
    i18n: &I18n,
    lang: Lang,
    identity: &Path,
    files_dir: &Path,
    paths: &[PathBuf],
) -> anyhow::Result<i32> {
    let mut plan = Plan::default();
    for path in paths {
        plan.walk(path, 0);
    }
    plan.check_output(files_dir);
    if !plan.refusals.is_empty() {
        for refusal in &plan.refusals {
            eprintln!("{}", refusal.message(i18n, lang));
        }
        bail!(i18n.get(lang, "cli-export-refused"));
    }
    let identities = crypto::read_identity_file(identity, || {
        passphrase_from_env().or_else(|| prompt(&i18n.get(lang, "cli-passphrase-prompt")))
    })
    .with_context(|| printable_line(&identity.display().to_string()))?;
    let mut printer = Printer {
        i18n,
        lang,
        identities: &identities,
        failures: 0,
        out: io::stdout().lock(),
        files: files_dir.to_path_buf(),
    };
    for item in &plan.items {
        match item {
            Item::Case(case) => printer.case(case)?,
            Item::Loose(path) => printer.entry(path, None, None)?,
        }
    }
    Ok(if printer.failures > 0 { 1 } else { 0 })
}

/// A case folder whose metadata passed every check.
#[derive(Debug)]
struct CheckedCase {
    dir: PathBuf,
    id: ExportId,
    status: CaseStatus,
    closure_reason: Option<ClosureReason>,
    received_on: NaiveDate,
    ack_due: NaiveDate,
    acknowledged_on: Option<NaiveDate>,
    feedback_due: NaiveDate,
    closed_on: Option<NaiveDate>,
    entries: Vec<(EntryFile, NaiveDate)>,
    attachments: Vec<ExportId>,
}

#[derive(Debug)]
enum Item {
    Case(CheckedCase),
    /// An age file given alone: printed, nothing written.
    Loose(PathBuf),
}

/// Why an export is refused. Values are kept raw and neutralised when shown.
#[derive(Debug)]
enum Refusal {
    File(FileError),
    Metadata {
        path: PathBuf,
        reason: String,
    },
    CaseId {
        path: PathBuf,
        id: String,
    },
    FolderName {
        path: PathBuf,
        id: ExportId,
    },
    Status {
        path: PathBuf,
        value: String,
    },
    ClosureReason {
        path: PathBuf,
        value: String,
    },
    EntryFile {
        path: PathBuf,
        file: String,
    },
    AttachmentId {
        path: PathBuf,
        id: String,
    },
    AttachmentFile {
        path: PathBuf,
        id: ExportId,
        file: String,
    },
    Duplicate {
        path: PathBuf,
        value: String,
    },
    SameCase {
        path: PathBuf,
        id: ExportId,
    },
    TooDeep {
        path: PathBuf,
    },
}

fn shown(path: &Path) -> String {
    printable_line(&path.display().to_string())
}

impl Refusal {
    fn message(&self, i18n: &I18n, lang: Lang) -> String {
        let (key, args): (&str, Vec<(&str, String)>) = match self {
            Refusal::File(e) => file_error_message(e),
            Refusal::Metadata { path, reason } => (
                "cli-refused-metadata",
                vec![("path", shown(path)), ("reason", printable_line(reason))],
            ),
            Refusal::CaseId { path, id } => (
                "cli-refused-case-id",
                vec![("path", shown(path)), ("id", printable_line(id))],
            ),
            Refusal::FolderName { path, id } => (
                "cli-refused-folder-name",
                vec![("path", shown(path)), ("id", id.to_string())],
            ),
            Refusal::Status { path, value } => (
                "cli-refused-status",
                vec![("path", shown(path)), ("value", printable_line(value))],
            ),
            Refusal::ClosureReason { path, value } => (
                "cli-refused-closure-reason",
                vec![("path", shown(path)), ("value", printable_line(value))],
            ),
            Refusal::EntryFile { path, file } => (
                "cli-refused-entry-file",
                vec![("path", shown(path)), ("file", printable_line(file))],
            ),
            Refusal::AttachmentId { path, id } => (
                "cli-refused-attachment-id",
                vec![("path", shown(path)), ("id", printable_line(id))],
            ),
            Refusal::AttachmentFile { path, id, file } => (
                "cli-refused-attachment-file",
                vec![
                    ("path", shown(path)),
                    ("id", id.to_string()),
                    ("file", printable_line(file)),
                ],
            ),
            Refusal::Duplicate { path, value } => (
                "cli-refused-duplicate",
                vec![("path", shown(path)), ("value", printable_line(value))],
            ),
            Refusal::SameCase { path, id } => (
                "cli-refused-same-case",
                vec![("path", shown(path)), ("id", id.to_string())],
            ),
            Refusal::TooDeep { path } => ("cli-refused-too-deep", vec![("path", shown(path))]),
        };
        i18n.get_with(lang, key, &args)
    }
}

pub(super) fn file_error_message(e: &FileError) -> (&'static str, Vec<(&'static str, String)>) {
    let path = ("path", shown(e.path()));
    match e {
        FileError::Symlink(_) => ("cli-refused-symlink", vec![path]),
        FileError::NotAFile(_) => ("cli-refused-not-file", vec![path]),
        FileError::NotAFolder(_) => ("cli-refused-not-folder", vec![path]),
        FileError::Changed(_) => ("cli-refused-changed", vec![path]),
        FileError::TooLarge(_) => ("cli-refused-too-large", vec![path]),
        FileError::Missing(_) => ("cli-refused-missing", vec![path]),
        FileError::Io(_, io) => (
            "cli-refused-unreadable",
            vec![path, ("reason", printable_line(&io.to_string()))],
        ),
    }
}

#[derive(Debug, Default)]
struct Plan {
    items: Vec<Item>,
    refusals: Vec<Refusal>,
    cases: HashSet<ExportId>,
}

impl Plan {
    fn refuse(&mut self, refusal: Refusal) {
        self.refusals.push(refusal);
    }

    /// A path given on the command line, or found below one.
    fn walk(&mut self, path: &Path, depth: usize) {
        let kind = match files::kind_of(path) {
            Ok(Some(kind)) => kind,
            Ok(None) => return self.refuse(Refusal::File(FileError::Missing(path.into()))),
            Err(e) => return self.refuse(Refusal::File(e)),
        };
        if kind.is_symlink() {
            return self.refuse(Refusal::File(FileError::Symlink(path.into())));
        }
        if kind.is_file() {
            return self.items.push(Item::Loose(path.to_path_buf()));
        }
        if !kind.is_dir() {
            return self.refuse(Refusal::File(FileError::NotAFile(path.into())));
        }
        match files::kind_of(&path.join(METADATA)) {
            Ok(Some(_)) => return self.case_folder(path),
            Ok(None) => {}
            Err(e) => return self.refuse(Refusal::File(e)),
        }
        if depth >= MAX_DEPTH {
            return self.refuse(Refusal::TooDeep { path: path.into() });
        }
        let children = match list(path) {
            Ok(children) => children,
            Err(e) => return self.refuse(Refusal::File(e)),
        };
        for (child, kind) in children {
            if kind.is_symlink() {
                self.refuse(Refusal::File(FileError::Symlink(child)));
            } else if kind.is_dir() {
                self.walk(&child, depth + 1);
            } else if kind.is_file() && child.extension().is_some_and(|e| e == "age") {
                self.items.push(Item::Loose(child));
            }
        }
    }

    /// Checks one case folder from top to bottom; refuses it at the first
    /// problem.
    fn case_folder(&mut self, dir: &Path) {
        match check_case(dir) {
            Ok(case) => {
                if !self.cases.insert(case.id) {
                    return self.refuse(Refusal::SameCase {
                        path: dir.into(),
                        id: case.id,
                    });
                }
                self.items.push(Item::Case(case));
            }
            Err(refusal) => self.refuse(refusal),
        }
    }

    /// Where attachments will be written: folders, if anything is there
    /// already, and never symbolic links.
    fn check_output(&mut self, files_dir: &Path) {
        let mut targets = Vec::new();
        for item in &self.items {
            if let Item::Case(case) = item {
                if !case.attachments.is_empty() {
                    targets.push(files_dir.join(case.id.to_string()));
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        if let Err(e) = files::require_folder_or_nothing(files_dir) {
            return self.refuse(Refusal::File(e));
        }
        for target in targets {
            if let Err(e) = files::require_folder_or_nothing(&target) {
                self.refuse(Refusal::File(e));
            }
        }
    }
}

/// The entries of a folder, sorted, with their type (links not followed).
fn list(dir: &Path) -> Result<Vec<(PathBuf, fs::FileType)>, FileError> {
    let io_error = |e| FileError::Io(dir.to_path_buf(), e);
    let mut children = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let kind = entry.file_type().map_err(io_error)?;
        children.push((entry.path(), kind));
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(children)
}

/// The name of a folder as the file system has it, even for `.` or `..`.
fn folder_name(dir: &Path) -> Option<String> {
    match dir.file_name() {
        Some(name) => name.to_str().map(str::to_string),
        None => fs::canonicalize(dir)
            .ok()?
            .file_name()?
            .to_str()
            .map(str::to_string),
    }
}

fn check_case(dir: &Path) -> Result<CheckedCase, Refusal> {
    let meta_path = dir.join(METADATA);
    let raw = files::read_regular(&meta_path, MAX_METADATA).map_err(Refusal::File)?;
    let meta: ExportedCase = serde_json::from_slice(&raw).map_err(|e| Refusal::Metadata {
        path: meta_path.clone(),
        reason: e.to_string(),
    })?;
    // Nothing in the folder is a link, referenced or not.
    for (child, kind) in list(dir).map_err(Refusal::File)? {
        if kind.is_symlink() {
            return Err(Refusal::File(FileError::Symlink(child)));
        }
    }
    let id: ExportId = meta.id.parse().map_err(|_| Refusal::CaseId {
        path: meta_path.clone(),
        id: meta.id.clone(),
    })?;
    if folder_name(dir).as_deref() != Some(meta.id.as_str()) {
        return Err(Refusal::FolderName {
            path: dir.into(),
            id,
        });
    }
    let status: CaseStatus = meta.status.parse().map_err(|_| Refusal::Status {
        path: meta_path.clone(),
        value: meta.status.clone(),
    })?;
    let closure_reason = match &meta.closure_reason {
        None => None,
        Some(value) => Some(
            ClosureReason::parse(value).ok_or_else(|| Refusal::ClosureReason {
                path: meta_path.clone(),
                value: value.clone(),
            })?,
        ),
    };
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for entry in &meta.entries {
        let parsed: EntryFile = entry
            .file
            .parse()
            .ok()
            .filter(|e: &EntryFile| e.kind.as_str() == entry.kind)
            .ok_or_else(|| Refusal::EntryFile {
                path: meta_path.clone(),
                file: entry.file.clone(),
            })?;
        if !seen.insert(parsed.position) {
            return Err(Refusal::Duplicate {
                path: meta_path.clone(),
                value: entry.file.clone(),
            });
        }
        files::require_regular_file(&dir.join(parsed.to_string())).map_err(Refusal::File)?;
        entries.push((parsed, entry.created_on));
    }
    let mut attachments = Vec::new();
    for attachment in &meta.attachments {
        let attachment_id: ExportId = attachment.id.parse().map_err(|_| Refusal::AttachmentId {
            path: meta_path.clone(),
            id: attachment.id.clone(),
        })?;
        let file = attachment_id.attachment_file();
        if attachment.file != file {
            return Err(Refusal::AttachmentFile {
                path: meta_path.clone(),
                id: attachment_id,
                file: attachment.file.clone(),
            });
        }
        if attachments.contains(&attachment_id) {
            return Err(Refusal::Duplicate {
                path: meta_path.clone(),
                value: attachment.id.clone(),
            });
        }
        files::require_regular_file(&dir.join(&file)).map_err(Refusal::File)?;
        attachments.push(attachment_id);
    }
    Ok(CheckedCase {
        dir: dir.to_path_buf(),
        id,
        status,
        closure_reason,
        received_on: meta.received_on,
        ack_due: meta.ack_due,
        acknowledged_on: meta.acknowledged_on,
        feedback_due: meta.feedback_due,
        closed_on: meta.closed_on,
        entries,
        attachments,
    })
}

/// Attachment identifier → the name its reporter gave it, for one case.
type Names = HashMap<ExportId, String>;

struct Printer<'a, W: Write> {
    i18n: &'a I18n,
    lang: Lang,
    identities: &'a [age::x25519::Identity],
    failures: usize,
    out: W,
    /// Where decrypted attachments go, one folder per case.
    files: PathBuf,
}

/// A category key as the catalogue spells them.
fn is_key(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

impl<W: Write> Printer<'_, W> {
    fn t(&self, key: &str) -> String {
        self.i18n.get(self.lang, key)
    }

    fn fail(&mut self, key: &str, args: &[(&str, String)]) {
        self.failures += 1;
        eprintln!("{}", self.i18n.get_with(self.lang, key, args));
    }

    fn fail_file(&mut self, e: &FileError) {
        let (key, args) = file_error_message(e);
        self.fail(key, &args);
    }

    /// Reads one age file of the export and decrypts it; a failure is
    /// reported and counted, and gives `None`.
    fn open(&mut self, path: &Path) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let ciphertext = match files::read_regular(path, MAX_CIPHERTEXT) {
            Ok(c) => c,
            Err(e) => {
                self.fail_file(&e);
                return None;
            }
        };
        match crypto::decrypt(self.identities, &ciphertext) {
            Ok(p) => Some(p),
            Err(e) => {
                self.fail(
                    "cli-undecryptable",
                    &[("file", shown(path)), ("reason", e.to_string())],
                );
                None
            }
        }
    }

    fn case(&mut self, case: &CheckedCase) -> anyhow::Result<()> {
        let date = |d: NaiveDate| self.i18n.date(self.lang, d);
        let mut head = format!(
            "═══ {} {} ═══\n{} : {}\n{} : {}\n",
            self.t("cli-case"),
            case.id,
            self.t("cli-status"),
            self.t(&format!("status-{}", case.status.as_str())),
            self.t("cli-received-on"),
            date(case.received_on),
        );
        match case.acknowledged_on {
            Some(d) => head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-acknowledged-on"),
                date(d)
            )),
            None => head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-ack-due"),
                date(case.ack_due)
            )),
        }
        match case.closed_on {
            Some(d) => head.push_str(&format!("{} : {}\n", self.t("cli-closed-on"), date(d))),
            None => head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-feedback-due"),
                date(case.feedback_due)
            )),
        }
        if let Some(reason) = case.closure_reason {
            head.push_str(&format!(
                "{} : {}\n",
                self.t("cli-closure-reason"),
                self.t(&format!("reason-{}", reason.as_str()))
            ));
        }
        writeln!(self.out, "{head}")?;
        // Names come from this case's own entries, and nowhere else.
        let mut names = Names::new();
        for (entry, created_on) in &case.entries {
            self.entry(
                &case.dir.join(entry.to_string()),
                Some(*created_on),
                Some(&mut names),
            )?;
        }
        for id in &case.attachments {
            self.attachment(case, *id, &names)?;
        }
        Ok(())
    }

    /// Decrypts one attachment of `case`, from `case`'s folder, and writes it
    /// in `case`'s output folder under the name `case`'s entries gave it.
    fn attachment(
        &mut self,
        case: &CheckedCase,
        id: ExportId,
        names: &Names,
    ) -> anyhow::Result<()> {
        let path = case.dir.join(id.attachment_file());
        let Some(plaintext) = self.open(&path) else {
            return Ok(());
        };
        let fallback = id.to_string();
        let name = names
            .get(&id)
            .map(|n| safe_file_name(n, &fallback))
            .unwrap_or_else(|| fallback.clone());
        let folder = self.files.join(case.id.to_string());
        if let Err(e) = files::top_folder(&self.files).and_then(|()| files::private_folder(&folder))
        {
            self.fail_file(&e);
            return Ok(());
        }
        let mut candidates = vec![name.clone()];
        if name != fallback {
            // Two files of one case with the same name: keep both.
            candidates.push(format!("{fallback}-{name}"));
        }
        match write_new(&folder, &candidates, &plaintext) {
            Ok(target) => writeln!(
                self.out,
                "{}\n",
                self.i18n.get_with(
                    self.lang,
                    "cli-attachment-written",
                    &[("file", shown(&target))]
                )
            )?,
            Err(Written::Refused(e)) => self.fail_file(&e),
            Err(Written::Taken(target)) => {
                self.fail("cli-attachment-exists", &[("file", shown(&target))]);
            }
        }
        Ok(())
    }

    /// Decrypts one entry and prints it; records the names of the attachments
    /// it lists in `names`, when it belongs to a case.
    fn entry(
        &mut self,
        path: &Path,
        dated: Option<NaiveDate>,
        names: Option<&mut Names>,
    ) -> anyhow::Result<()> {
        let Some(plaintext) = self.open(path) else {
            return Ok(());
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&plaintext) else {
            self.fail("cli-not-vigie", &[("file", shown(path))]);
            return Ok(());
        };
        let block = self.render(&value, dated, names);
        writeln!(self.out, "{block}")?;
        Ok(())
    }

    /// One decrypted entry, readably. Every string in it was written by a
    /// reporter (or claims to be a reply): all of it is neutralised.
    fn render(
        &self,
        value: &serde_json::Value,
        dated: Option<NaiveDate>,
        mut names: Option<&mut Names>,
    ) -> String {
        let raw = |k: &str| value.get(k).and_then(|v| v.as_str());
        let kind = match raw("type").and_then(crate::db::EntryKind::parse) {
            Some(kind) => self.t(&format!("cli-entry-{}", kind.as_str())),
            None => printable_line(raw("type").unwrap_or_default()),
        };
        let mut block = format!("─── {kind}");
        if let Some(d) = dated {
            block.push_str(&format!(" ({})", self.i18n.date(self.lang, d)));
        }
        block.push_str(" ───\n");
        if let Some(category) = raw("category") {
            let key = format!("category-{category}");
            let shown = printable_line(category);
            let label = if is_key(category) && self.i18n.has(self.lang, &key) {
                self.t(&key)
            } else {
                shown.clone()
            };
            block.push_str(&format!(
                "{} : {} [{}]\n",
                self.t("cli-category"),
                label,
                shown
            ));
        }
        for (key, label) in [
            ("period", "cli-period"),
            ("place", "cli-place"),
            ("persons", "cli-persons"),
            ("evidence", "cli-evidence"),
        ] {
            if let Some(v) = raw(key) {
                block.push_str(&format!("{} : {}\n", self.t(label), printable(v)));
            }
        }
        if let Some(v) = raw("lang") {
            block.push_str(&format!(
                "{} : {}\n",
                self.t("cli-language"),
                printable_line(v)
            ));
        }
        if let Some(d) = raw("description") {
            block.push_str(&format!(
                "{} :\n{}\n",
                self.t("cli-description"),
                printable(d)
            ));
        }
        if let Some(b) = raw("body") {
            block.push_str(&format!("{} :\n{}\n", self.t("cli-body"), printable(b)));
        }
        for a in value
            .get("attachments")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            let field = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            let size = a.get("size").and_then(|v| v.as_u64()).unwrap_or(0);
            if let (Some(names), Ok(id)) = (names.as_deref_mut(), field("id").parse::<ExportId>()) {
                names.entry(id).or_insert_with(|| field("name").to_string());
            }
            block.push_str(&format!(
                "{} : {} ({} o, {})\n",
                self.t("cli-attachment"),
                printable_line(field("name")),
                size,
                printable_line(field("type"))
            ));
        }
        block
    }
}

enum Written {
    /// Something that must not be written through (a link) is in the way.
    Refused(FileError),
    /// Every candidate name holds another file already.
    Taken(PathBuf),
}

/// Writes `bytes` in a new file under the first free name of `candidates`.
/// An existing file with the same bytes counts as written (the export was
/// decrypted before); a symbolic link is refused; nothing is ever replaced.
fn write_new(folder: &Path, candidates: &[String], bytes: &[u8]) -> Result<PathBuf, Written> {
    for name in candidates {
        let target = folder.join(name);
        match files::create_private(&target) {
            Ok(mut file) => {
                let written = file.write_all(bytes).and_then(|()| file.sync_all());
                return match written {
                    Ok(()) => Ok(target),
                    Err(e) => {
                        drop(file);
                        let _ = fs::remove_file(&target);
                        Err(Written::Refused(FileError::Io(target, e)))
                    }
                };
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match files::kind_of(&target) {
                Ok(Some(kind)) if kind.is_symlink() => {
                    return Err(Written::Refused(FileError::Symlink(target)))
                }
                Ok(Some(kind)) if kind.is_file() => {
                    let same = files::read_regular(&target, bytes.len() as u64)
                        .is_ok_and(|existing| existing == bytes);
                    if same {
                        return Ok(target);
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(Written::Refused(e)),
            },
            Err(e) => return Err(Written::Refused(FileError::Io(target, e))),
        }
    }
    Err(Written::Taken(
        folder.join(candidates.first().map(String::as_str).unwrap_or("")),
    ))
}
