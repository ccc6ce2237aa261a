//! The command line against a real database: export, decrypt (with vigie and
//! with the stock `age` command), keygen, check.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_vigie");

/// The `vigie` binary for `app`: its database, recipients and data folder,
/// and nothing else from this process's `VIGIE_…` variables.
pub fn vigie(app: &TestApp) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("VIGIE_DATABASE_URL", app.db.url())
        .env("VIGIE_RECIPIENTS_FILE", &app.settings.recipients_file)
        .env("VIGIE_DATA_DIR", &app.settings.data_dir)
        .stdin(Stdio::null());
    for (key, value) in PUBLICATION {
        cmd.env(key, value);
    }
    cmd
}

/// What the secretariat states in the published texts.
const PUBLICATION: [(&str, &str); 4] = [
    ("VIGIE_CONTROLLER_ADDRESS", "9 rue des Halles, 75001 Paris"),
    ("VIGIE_CONTROLLER_CONTACT", "secretariat@aimf.example"),
    ("VIGIE_DPO_CONTACT", "dpo@aimf.example"),
    ("VIGIE_BACKUP_RETENTION_DAYS", "30"),
];

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The stock `age` command: required in CI, skipped (saying so) elsewhere.
fn stock_age() -> Option<&'static str> {
    crate::helpers::require_tool("age").then_some("age")
}

fn case_dirs(out: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(out)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// What `age -d -i KEY` prints for a ciphertext, or its error.
fn stock_decrypt(age: &str, dir: &Path, identity: &str, ciphertext: &[u8]) -> String {
    let key = dir.join("stock.key");
    let sealed = dir.join("stock.age");
    std::fs::write(&key, format!("{identity}\n")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&sealed, ciphertext).unwrap_or_else(|e| panic!("{e}"));
    let o = run(Command::new(age).arg("-d").arg("-i").arg(&key).arg(&sealed));
    let _ = std::fs::remove_file(&key);
    assert!(o.status.success(), "age -d: {}", stderr(&o));
    stdout(&o)
}

#[tokio::test]
async fn a_report_the_server_sealed_opens_with_stock_age_for_every_reader_and_for_the_reporter() {
    use age::secrecy::ExposeSecret;
    let Some(age) = stock_age() else { return };
    let app = spawn_app().await;
    let (case, token) = app.new_case().await;
    let entries = case
        .entries(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"));
    let ciphertext = &entries[0].ciphertext;
    let derived = vigie::crypto::derive_from_token(&token);
    let mut keys: Vec<String> = app
        .identities
        .iter()
        .map(|i| i.to_string().expose_secret().to_string())
        .collect();
    keys.push(
        derived
            .reply_identity()
            .to_string()
            .expose_secret()
            .to_string(),
    );
    for key in &keys {
        let plain = stock_decrypt(age, app.dir.path(), key, ciphertext);
        assert!(plain.contains("Des fonds détournés"), "{plain}");
    }
    // The stored `R` is the one the token derives.
    assert_eq!(case.reporter_recipient, derived.reply_recipient.to_string());
}

#[tokio::test]
async fn export_writes_age_files_that_stock_age_and_vigie_decrypt_read() {
    let app = spawn_app().await;
    app.submit_report(
        "fr",
        &[
            ("category", "conflict_of_interest"),
            ("description", "Marché attribué au beau-frère"),
            ("place", "Siège"),
        ],
    )
    .await;
    app.submit_report(
        "en",
        &[
            ("category", "funds"),
            ("description", "Grant money diverted to a private account"),
        ],
    )
    .await;
    let out = app.dir.path().join("export");
    let exported = run(vigie(&app).args(["export", "--out"]).arg(&out));
    assert!(exported.status.success(), "{}", stderr(&exported));
    let dirs = case_dirs(&out);
    assert_eq!(dirs.len(), 2);
    for dir in &dirs {
        assert!(dir.join("001-report.age").is_file());
        let meta = std::fs::read_to_string(dir.join("metadata.json")).unwrap_or_default();
        assert!(meta.contains("\"received_on\": \"2026-11-30\""), "{meta}");
        assert!(
            !meta.contains("Marché") && !meta.contains("Grant"),
            "metadata holds no content"
        );
    }

    if let Some(age) = stock_age() {
        let mut all = String::new();
        for dir in &dirs {
            let o = run(Command::new(age)
                .arg("-d")
                .arg("-i")
                .arg(&app.identity_path)
                .arg(dir.join("001-report.age")));
            assert!(o.status.success(), "age -d: {}", stderr(&o));
            all.push_str(&stdout(&o));
        }
        assert!(all.contains("Marché attribué au beau-frère"));
        assert!(all.contains("Grant money diverted"));
        assert!(all.contains("\"v\":1"));
    }

    let fr = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg(&out));
    assert!(fr.status.success(), "{}", stderr(&fr));
    let text = stdout(&fr);
    for expected in [
        "Marché attribué au beau-frère",
        "Grant money diverted",
        "Conflit d'intérêts",
        "Reçu le : 30 novembre 2026",
        "Lieu : Siège",
    ] {
        assert!(
            text.contains(expected),
            "decrypt output lacks «{expected}»:\n{text}"
        );
    }
    let en = run(vigie(&app)
        .args(["--lang", "en", "decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg(&out));
    assert!(
        stdout(&en).contains("Category : Conflict of interest"),
        "{}",
        stdout(&en)
    );

    // One case only, by identifier; an unknown identifier is an error.
    let one = app.dir.path().join("one");
    let id = dirs[0]
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let o = run(vigie(&app)
        .args(["export", "--case", &id, "--out"])
        .arg(&one));
    assert!(o.status.success());
    assert_eq!(case_dirs(&one).len(), 1);
    let o = run(vigie(&app)
        .args([
            "export",
            "--case",
            "00000000-0000-4000-8000-000000000000",
            "--out",
        ])
        .arg(&one));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("Aucun dossier"), "{}", stderr(&o));
}

#[tokio::test]
async fn decrypt_with_a_key_that_is_not_a_recipient_fails_clearly() {
    let app = spawn_app().await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    let out = app.dir.path().join("export");
    assert!(run(vigie(&app).args(["export", "--out"]).arg(&out))
        .status
        .success());
    let stranger = app.dir.path().join("stranger.key");
    vigie::crypto::write_identity_file(&stranger, &vigie::crypto::generate_identity(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let o = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&stranger)
        .arg(&out));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Impossible de déchiffrer"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("faits"));
}

/// Runs `age -d` with a passphrase typed on a pseudo-terminal, as a person would.
fn age_with_passphrase(age: &str, identity: &Path, file: &Path, passphrase: &str) -> Output {
    let command = format!("{age} -d -i '{}' '{}'", identity.display(), file.display());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run script(1): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = stdin.write_all(format!("{passphrase}\n").as_bytes());
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_passphrase_protected_key_from_keygen_opens_exports_with_vigie_and_stock_age() {
    let keys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let key = keys.path().join("secretary.key.age");
    let passphrase = "correct horse battery staple";
    let made = run(Command::new(BIN)
        .args(["keygen", "--passphrase", "--out"])
        .arg(&key)
        .env("VIGIE_PASSPHRASE", passphrase)
        .stdin(Stdio::null()));
    assert!(made.status.success(), "{}", stderr(&made));
    let recipient = stdout(&made).trim().to_string();
    assert!(
        recipient.starts_with("age1"),
        "keygen prints the recipient: {recipient}"
    );
    let raw = std::fs::read(&key).unwrap_or_default();
    assert!(
        raw.starts_with(b"age-encryption.org/v1\n-> scrypt "),
        "an age file with one scrypt stanza"
    );
    let header = String::from_utf8_lossy(&raw[..raw.len().min(120)]).to_string();
    assert!(
        header.lines().nth(1).is_some_and(|l| l.ends_with(" 18")),
        "work factor 18: {header}"
    );
    assert!(
        !String::from_utf8_lossy(&raw).contains("AGE-SECRET-KEY"),
        "the identity is not in clear"
    );

    // Keygen never overwrites, and refuses a short passphrase.
    let again = run(Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .stdin(Stdio::null()));
    assert!(!again.status.success());
    let short = run(Command::new(BIN)
        .args(["keygen", "--passphrase", "--out"])
        .arg(keys.path().join("short.age"))
        .env("VIGIE_PASSPHRASE", "short")
        .stdin(Stdio::null()));
    assert!(!short.status.success());
    assert!(
        stderr(&short).contains("10 caractères"),
        "{}",
        stderr(&short)
    );

    let recipients = keys.path().join("recipients.txt");
    std::fs::write(&recipients, format!("{recipient}\n")).unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_with(|s| s.recipients_file = recipients.clone()).await;
    app.submit_report(
        "fr",
        &[
            ("category", "partiality"),
            ("description", "Traitement de faveur pour la ville X"),
        ],
    )
    .await;
    let out = app.dir.path().join("export");
    assert!(run(vigie(&app).args(["export", "--out"]).arg(&out))
        .status
        .success());

    let read = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&key)
        .arg(&out)
        .env("VIGIE_PASSPHRASE", passphrase));
    assert!(read.status.success(), "{}", stderr(&read));
    assert!(stdout(&read).contains("Traitement de faveur pour la ville X"));

    let wrong = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&key)
        .arg(&out)
        .env("VIGIE_PASSPHRASE", "not the passphrase"));
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("passphrase"), "{}", stderr(&wrong));

    if let Some(age) = stock_age() {
        let file = case_dirs(&out)[0].join("001-report.age");
        let o = age_with_passphrase(age, &key, &file, passphrase);
        assert!(
            stdout(&o).contains("Traitement de faveur pour la ville X"),
            "stock age with the passphrase-protected identity: {} {}",
            stdout(&o),
            stderr(&o)
        );
    }
}

#[tokio::test]
async fn check_passes_on_a_sound_setup_and_names_each_problem() {
    let app = spawn_app().await;
    let ok = run(vigie(&app).arg("check"));
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).contains("Tout est en ordre"));
    assert!(
        stdout(&ok).contains("pas de relais SMTP"),
        "{}",
        stdout(&ok)
    );
    assert!(
        stdout(&ok).contains("Aucune clé du Bureau"),
        "{}",
        stdout(&ok)
    );
    assert!(stdout(&ok).contains("Les textes publiés sont complets"));

    // Each field the secretariat has not supplied is named, and fails the
    // check outside demo mode.
    let mut unfinished = vigie(&app);
    for (key, _) in PUBLICATION {
        unfinished.env_remove(key);
    }
    let o = run(unfinished.arg("check"));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    for key in [
        "controller_address",
        "controller_contact",
        "dpo_contact",
        "backup_retention_days",
    ] {
        let line = format!("fr/privacy : un champ reste à compléter, réglage {key}");
        assert!(stdout(&o).contains(&line), "{key}: {}", stdout(&o));
    }
    let (bureau, _) = crate::helpers::bureau_file(app.dir.path());
    let with_bureau = run(vigie(&app)
        .arg("check")
        .env("VIGIE_BUREAU_RECIPIENTS_FILE", &bureau));
    assert_eq!(
        with_bureau.status.code(),
        Some(0),
        "{}",
        stdout(&with_bureau)
    );
    assert!(stdout(&with_bureau).contains("1 destinataire(s) du Bureau"));
    // A role with a single key and no backup is warned about, not failed.
    assert!(
        stdout(&with_bureau).contains("ATTENTION  Le rôle bureau n'a qu'une clé"),
        "{}",
        stdout(&with_bureau)
    );
    let no_address = run(vigie(&app)
        .arg("check")
        .env("VIGIE_BUREAU_RECIPIENTS_FILE", &bureau)
        .env("VIGIE_SMTP_HOST", "127.0.0.1")
        .env("VIGIE_SMTP_SECURITY", "plain")
        .env("VIGIE_SMTP_PORT", "1")
        .env("VIGIE_MAIL_TO", "sg@example.org"));
    assert_eq!(no_address.status.code(), Some(1));
    assert!(
        stdout(&no_address).contains("bureau_mail_to"),
        "{}",
        stdout(&no_address)
    );

    // A relay that does not answer is a problem, named in plain words.
    let down = run(vigie(&app)
        .arg("check")
        .env("VIGIE_SMTP_HOST", "127.0.0.1")
        .env("VIGIE_SMTP_SECURITY", "plain")
        .env("VIGIE_SMTP_PORT", "1")
        .env("VIGIE_MAIL_TO", "sg@example.org"));
    assert_eq!(down.status.code(), Some(1));
    assert!(stdout(&down).contains("injoignable"), "{}", stdout(&down));

    let bad_recipients = app.dir.path().join("bad-recipients.txt");
    std::fs::write(&bad_recipients, "age1notarecipient\n").unwrap_or_else(|e| panic!("{e}"));
    let empty_recipients = app.dir.path().join("empty-recipients.txt");
    std::fs::write(&empty_recipients, "# nobody\n").unwrap_or_else(|e| panic!("{e}"));
    let cases: [(&str, String, &str); 7] = [
        (
            "VIGIE_RECIPIENTS_FILE",
            bad_recipients.display().to_string(),
            "line 1",
        ),
        (
            // The Secretary's own keys listed for the Bureau too.
            "VIGIE_BUREAU_RECIPIENTS_FILE",
            app.settings.recipients_file.display().to_string(),
            "à la fois pour le Secrétaire et pour le Bureau",
        ),
        (
            "VIGIE_BUREAU_RECIPIENTS_FILE",
            bad_recipients.display().to_string(),
            "line 1",
        ),
        (
            "VIGIE_RECIPIENTS_FILE",
            empty_recipients.display().to_string(),
            "DÉMONSTRATION",
        ),
        (
            "VIGIE_DATABASE_URL",
            "mysql://localhost/x".into(),
            "database_url",
        ),
        (
            "VIGIE_DATABASE_URL",
            format!("sqlite://{}/absent/vigie.sqlite3", app.dir.path().display()),
            "does not exist",
        ),
        ("VIGIE_LISTEN", "not-an-address".into(), "listen"),
    ];
    for (key, value, message) in cases {
        let o = run(vigie(&app).arg("check").env(key, &value));
        assert_eq!(o.status.code(), Some(1), "{key}={value}");
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(all.contains("PROBLÈME"), "{key}: {all}");
        assert!(all.contains(message), "{key}: «{message}» missing in {all}");
    }
}

#[tokio::test]
async fn secrets_in_the_database_url_are_never_printed() {
    let app = spawn_app().await;
    let o = run(vigie(&app).args(["--lang", "en", "check"]).env(
        "VIGIE_DATABASE_URL",
        "postgres://vigie:Sup3rS3cret@127.0.0.1:1/vigie",
    ));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("Sup3rS3cret"), "{all}");
    assert_eq!(o.status.code(), Some(1));
}

// ---------------------------------------------------------------------------
// Hostile exports: `vigie decrypt` trusts nothing it reads.
// ---------------------------------------------------------------------------

use std::{
    collections::BTreeMap,
    os::unix::fs::{symlink, PermissionsExt},
    path::PathBuf,
};

use base64::Engine;
use serde_json::{json, Value};
use vigie::crypto::{self, Recipients, Token};
use zeroize::Zeroizing;

/// An age file sealed to the Secretary's recipients and a reporter's `R`.
fn seal(app: &TestApp, reporter: &age::x25519::Recipient, bytes: &[u8]) -> Vec<u8> {
    crate::helpers::seal_file(&app.recipients, reporter, bytes)
}

/// A padded entry plaintext sealed for the case, as the browser would.
fn seal_entry(app: &TestApp, reporter: &age::x25519::Recipient, plain: &Value) -> Vec<u8> {
    let padded = crypto::pad(Zeroizing::new(plain.to_string().into_bytes()));
    crypto::encrypt_for_case(&Recipients::new(app.recipients.clone()), reporter, &padded)
        .unwrap_or_else(|e| panic!("{e}"))
        .as_bytes()
        .to_vec()
}

/// Sends a report with one attachment through the JSON API; returns the
/// attachment's identifier.
async fn report_with_attachment(
    app: &TestApp,
    description: &str,
    name: &str,
    kind: &str,
    content: &[u8],
) -> String {
    let token = Token::generate();
    let derived = crypto::derive_from_token(&token);
    let r = derived.reply_recipient.clone();
    let uploaded: Value = app
        .client
        .post(format!("{}/api/v1/attachments", app.address))
        .header("Content-Type", "application/octet-stream")
        .body(seal(app, &r, content))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or(Value::Null);
    let id = uploaded["id"].as_str().unwrap_or_default().to_string();
    assert!(!id.is_empty(), "upload refused: {uploaded}");
    let plain = json!({"v": 1, "type": "report", "lang": "fr", "category": "funds",
        "description": description,
        "attachments": [{"id": id, "name": name, "type": kind, "size": content.len()}]});
    let body = json!({
        "ciphertext": base64::engine::general_purpose::STANDARD.encode(seal_entry(app, &r, &plain)),
        "lookup": hex::encode(*derived.lookup),
        "recipient": r.to_string(),
        "privacy_acknowledged": true,
        "attachments": [id],
    });
    let res = app
        .client
        .post(format!("{}/api/v1/reports", app.address))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201, "report refused");
    id
}

/// Exports every case; returns the export folder and, for each attachment
/// identifier, the identifier of its case.
fn export_all(app: &TestApp, out: &Path) -> BTreeMap<String, String> {
    let o = run(vigie(app).args(["export", "--out"]).arg(out));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut owners = BTreeMap::new();
    for dir in case_dirs(out) {
        let meta = read_meta(&dir);
        let case = meta["id"].as_str().unwrap_or_default().to_string();
        for a in meta["attachments"].as_array().into_iter().flatten() {
            owners.insert(
                a["id"].as_str().unwrap_or_default().to_string(),
                case.clone(),
            );
        }
    }
    owners
}

fn read_meta(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("metadata.json")).unwrap_or_default())
        .unwrap_or(Value::Null)
}

fn write_meta(dir: &Path, meta: &Value) {
    std::fs::write(dir.join("metadata.json"), meta.to_string()).unwrap_or_else(|e| panic!("{e}"));
}

fn edit_meta(dir: &Path, change: impl FnOnce(&mut Value)) {
    let mut meta = read_meta(dir);
    change(&mut meta);
    write_meta(dir, &meta);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Every path below `dir`, links included and not followed.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for entry in rd.flatten() {
            all.push(entry.path());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                all.extend(tree(&entry.path()));
            }
        }
    }
    all.sort();
    all
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// What one tampering case sees.
struct Scene {
    export: PathBuf,
    /// The case folders, in the order of their identifiers.
    a: PathBuf,
    a_id: String,
    b_id: String,
    b_attachment: String,
    files: PathBuf,
    outside: PathBuf,
}

type Tamper = fn(&Scene);

#[tokio::test]
async fn decrypt_refuses_a_tampered_export_before_reading_or_writing_anything() {
    let app = spawn_app().await;
    report_with_attachment(
        &app,
        "Premier dossier",
        "preuve.pdf",
        "application/pdf",
        b"AAA",
    )
    .await;
    report_with_attachment(
        &app,
        "Second dossier",
        "preuve.pdf",
        "application/pdf",
        b"BBB",
    )
    .await;
    let pristine = app.dir.path().join("pristine");
    let owners = export_all(&app, &pristine);
    assert_eq!(owners.len(), 2);

    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a case id climbing out of the folder",
            |s| edit_meta(&s.a, |m| m["id"] = json!("../../outside/autostart")),
            "n'est pas un identifiant Vigie",
        ),
        (
            "an absolute case id",
            |s| {
                let target = s.outside.join("autostart").display().to_string();
                edit_meta(&s.a, |m| m["id"] = json!(target))
            },
            "n'est pas un identifiant Vigie",
        ),
        (
            "a case id that is not a UUID",
            |s| edit_meta(&s.a, |m| m["id"] = json!("dossier-1")),
            "n'est pas un identifiant Vigie",
        ),
        (
            "a case id in capitals",
            |s| {
                let upper = s.a_id.to_uppercase();
                edit_meta(&s.a, |m| m["id"] = json!(upper))
            },
            "n'est pas un identifiant Vigie",
        ),
        (
            "a case claiming another case's identifier",
            |s| {
                let other = s.b_id.clone();
                edit_meta(&s.a, |m| m["id"] = json!(other))
            },
            "doit porter le nom",
        ),
        (
            "a case folder renamed",
            |s| std::fs::rename(&s.a, s.export.join("renamed")).unwrap_or_else(|e| panic!("{e}")),
            "doit porter le nom",
        ),
        (
            "an entry file climbing into another case",
            |s| {
                let other = format!("../{}/001-report.age", s.b_id);
                edit_meta(&s.a, |m| m["entries"][0]["file"] = json!(other))
            },
            "n'est pas un nom d'entrée",
        ),
        (
            "an absolute entry file",
            |s| edit_meta(&s.a, |m| m["entries"][0]["file"] = json!("/etc/passwd")),
            "n'est pas un nom d'entrée",
        ),
        (
            "an entry file of another kind than announced",
            |s| edit_meta(&s.a, |m| m["entries"][0]["kind"] = json!("reply")),
            "n'est pas un nom d'entrée",
        ),
        (
            "an attachment file name with a slash",
            |s| {
                let other = format!("../{}/attachment-{}.age", s.b_id, s.b_attachment);
                edit_meta(&s.a, |m| m["attachments"][0]["file"] = json!(other))
            },
            "doit être dans attachment-",
        ),
        (
            "an attachment file naming another case's file",
            |s| {
                let (id, file) = (
                    s.b_attachment.clone(),
                    format!("attachment-{}.age", s.b_attachment),
                );
                edit_meta(&s.a, |m| {
                    m["attachments"][0] = json!({"id": id, "file": file, "size": 1})
                })
            },
            "est introuvable",
        ),
        (
            "an attachment id climbing out",
            |s| {
                edit_meta(&s.a, |m| {
                    m["attachments"][0]["id"] = json!("../../outside/x")
                })
            },
            "n'est pas un identifiant Vigie",
        ),
        (
            "an attachment listed twice",
            |s| {
                edit_meta(&s.a, |m| {
                    let first = m["attachments"][0].clone();
                    if let Some(list) = m["attachments"].as_array_mut() {
                        list.push(first);
                    }
                })
            },
            "figure deux fois",
        ),
        (
            "an unknown status carrying an escape sequence",
            |s| edit_meta(&s.a, |m| m["status"] = json!("\u{1b}]52;c;ZXZpbA==\u{7}")),
            "état inconnu « <U+001B>]52",
        ),
        (
            "an unknown closure reason",
            |s| edit_meta(&s.a, |m| m["closure_reason"] = json!("\u{202E}lol")),
            "motif de clôture inconnu « <U+202E>lol",
        ),
        (
            "metadata that is not JSON",
            |s| {
                std::fs::write(s.a.join("metadata.json"), b"\x1b[2J{")
                    .unwrap_or_else(|e| panic!("{e}"))
            },
            "n'est pas un fichier de métadonnées",
        ),
        (
            "an entry that is a link to a file outside",
            |s| {
                let target = s.outside.join("sentinel");
                let entry = s.a.join("001-report.age");
                std::fs::remove_file(&entry).unwrap_or_else(|e| panic!("{e}"));
                symlink(target, entry).unwrap_or_else(|e| panic!("{e}"));
            },
            "est un lien symbolique",
        ),
        (
            "metadata that is a link to a file outside",
            |s| {
                let copy = s.outside.join("metadata.json");
                std::fs::copy(s.a.join("metadata.json"), &copy).unwrap_or_else(|e| panic!("{e}"));
                std::fs::remove_file(s.a.join("metadata.json")).unwrap_or_else(|e| panic!("{e}"));
                symlink(copy, s.a.join("metadata.json")).unwrap_or_else(|e| panic!("{e}"));
            },
            "est un lien symbolique",
        ),
        (
            "an unlisted link planted in a case folder",
            |s| {
                symlink(s.outside.join("sentinel"), s.a.join("notes.txt"))
                    .unwrap_or_else(|e| panic!("{e}"))
            },
            "est un lien symbolique",
        ),
        (
            "a case folder that is a link to a folder outside",
            |s| {
                let moved = s.outside.join(&s.a_id);
                std::fs::rename(&s.a, &moved).unwrap_or_else(|e| panic!("{e}"));
                symlink(moved, &s.a).unwrap_or_else(|e| panic!("{e}"));
            },
            "est un lien symbolique",
        ),
        (
            "a link planted in the output folder",
            |s| {
                std::fs::create_dir_all(&s.files).unwrap_or_else(|e| panic!("{e}"));
                symlink(&s.outside, s.files.join(&s.a_id)).unwrap_or_else(|e| panic!("{e}"));
            },
            "est un lien symbolique",
        ),
        (
            "an output folder that is a link",
            |s| symlink(&s.outside, &s.files).unwrap_or_else(|e| panic!("{e}")),
            "est un lien symbolique",
        ),
        (
            "an output folder that is a file",
            |s| std::fs::write(&s.files, b"").unwrap_or_else(|e| panic!("{e}")),
            "n'est pas un dossier",
        ),
    ];

    let mut ids: Vec<String> = owners.values().cloned().collect();
    ids.sort();
    let b_attachment = owners
        .iter()
        .find(|(_, case)| **case == ids[1])
        .map(|(a, _)| a.clone())
        .unwrap_or_default();
    for (n, (name, tamper, expected)) in cases.iter().enumerate() {
        let root = app.dir.path().join(format!("scene-{n}"));
        let scene = Scene {
            export: root.join("export"),
            a: root.join("export").join(&ids[0]),
            a_id: ids[0].clone(),
            b_id: ids[1].clone(),
            b_attachment: b_attachment.clone(),
            files: root.join("files"),
            outside: root.join("outside"),
        };
        copy_tree(&pristine, &scene.export);
        std::fs::create_dir_all(&scene.outside).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(scene.outside.join("sentinel"), b"untouched")
            .unwrap_or_else(|e| panic!("{e}"));
        tamper(&scene);
        let outside_before = tree(&scene.outside);
        let files_before = tree(&scene.files);

        let o = run(vigie(&app)
            .args(["decrypt", "--identity"])
            .arg(&app.identity_path)
            .arg("--files")
            .arg(&scene.files)
            .arg(&scene.export));
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(!o.status.success(), "{name}: accepted\n{out}{err}");
        assert!(
            err.contains(expected),
            "{name}: «{expected}» missing in {err}"
        );
        assert!(err.contains("Export refusé"), "{name}: {err}");
        assert!(out.is_empty(), "{name}: printed {out}");
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{202E}'),
            "{name}: {err:?}"
        );
        assert_eq!(
            tree(&scene.files),
            files_before,
            "{name}: wrote in the output folder"
        );
        assert_eq!(
            tree(&scene.outside),
            outside_before,
            "{name}: wrote outside"
        );
        assert_eq!(
            std::fs::read(scene.outside.join("sentinel")).unwrap_or_default(),
            b"untouched",
            "{name}"
        );
    }

    // The pristine export itself is accepted, in English too.
    let files = app.dir.path().join("files");
    let o = run(vigie(&app)
        .args(["--lang", "en", "decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&pristine));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(vigie(&app)
        .args(["--lang", "en", "decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg("/nonexistent/export"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot be found") && stderr(&o).contains("Export refused"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn decrypt_keeps_attachment_names_per_case_and_reads_each_case_from_its_own_folder() {
    let app = spawn_app().await;
    let a_attachment = report_with_attachment(
        &app,
        "Premier",
        "preuve.pdf",
        "application/pdf",
        b"content of A",
    )
    .await;
    let b_attachment = report_with_attachment(
        &app,
        "Second",
        "preuve.pdf",
        "application/pdf",
        b"content of B",
    )
    .await;
    let out = app.dir.path().join("export");
    let owners = export_all(&app, &out);
    let case_of = |attachment: &str| owners.get(attachment).cloned().unwrap_or_default();
    let (a, b) = (case_of(&a_attachment), case_of(&b_attachment));
    assert!(!a.is_empty() && !b.is_empty() && a != b);
    // A message in case A names case B's attachment under another name.
    let r = crypto::derive_from_token(&Token::generate()).reply_recipient;
    let stolen = json!({"v": 1, "type": "message", "lang": "fr", "body": "voir",
        "attachments": [{"id": b_attachment, "name": "volé.pdf", "type": "application/pdf", "size": 12}]});
    let a_dir = out.join(&a);
    std::fs::write(a_dir.join("002-message.age"), seal_entry(&app, &r, &stolen))
        .unwrap_or_else(|e| panic!("{e}"));
    edit_meta(&a_dir, |m| {
        if let Some(list) = m["entries"].as_array_mut() {
            list.push(
                json!({"file": "002-message.age", "kind": "message", "created_on": "2026-11-30"}),
            );
        }
    });

    let files = app.dir.path().join("files");
    let o = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let read =
        |case: &str, name: &str| std::fs::read(files.join(case).join(name)).unwrap_or_default();
    assert_eq!(read(&a, "preuve.pdf"), b"content of A");
    assert_eq!(read(&b, "preuve.pdf"), b"content of B");
    let written: Vec<String> = tree(&files)
        .iter()
        .filter_map(|p| p.strip_prefix(&files).ok().map(|p| p.display().to_string()))
        .collect();
    let mut expected = vec![
        a.clone(),
        format!("{a}/preuve.pdf"),
        b.clone(),
        format!("{b}/preuve.pdf"),
    ];
    expected.sort();
    assert_eq!(
        written, expected,
        "one folder per case, nothing named by another case"
    );

    // Decrypting again changes nothing and is not an error.
    let again = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&out));
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(read(&a, "preuve.pdf"), b"content of A");
    // A different file already under that name is kept, never replaced.
    std::fs::write(files.join(&a).join("preuve.pdf"), b"mine").unwrap_or_else(|e| panic!("{e}"));
    let kept = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&out));
    assert!(kept.status.success(), "{}", stderr(&kept));
    assert_eq!(read(&a, "preuve.pdf"), b"mine");
    assert_eq!(
        read(&a, &format!("{a_attachment}-preuve.pdf")),
        b"content of A"
    );
}

#[tokio::test]
async fn decrypt_shows_hostile_names_and_text_without_obeying_them() {
    let app = spawn_app().await;
    report_with_attachment(
        &app,
        "ok\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{202E}txt.exe\r\nligne suivante",
        "../../.bashrc\u{202E}fdp.exe",
        "\u{1b}]0;titre\u{7}",
        b"payload",
    )
    .await;
    let out = app.dir.path().join("export");
    let owners = export_all(&app, &out);
    let case = owners.values().next().cloned().unwrap_or_default();
    let files = app.dir.path().join("nested").join("files");
    let o = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for forbidden in ['\u{1b}', '\u{7}', '\u{202E}', '\r'] {
        assert!(!text.contains(forbidden), "{forbidden:?} printed: {text:?}");
    }
    for expected in [
        "ok<U+001B>]52;c;ZXZpbA==<U+0007><U+001B>[2J<U+202E>txt.exe\nligne suivante",
        "Pièce jointe : ../../.bashrc<U+202E>fdp.exe (7 o, <U+001B>]0;titre<U+0007>)",
    ] {
        assert!(text.contains(expected), "«{expected}» missing in {text}");
    }
    let written: Vec<PathBuf> = tree(&files);
    assert_eq!(
        written,
        vec![
            files.join(&case),
            files.join(&case).join("_.._.bashrc_fdp.exe")
        ],
        "one plain file name, inside the case's folder"
    );
    assert_eq!(
        std::fs::read(files.join(&case).join("_.._.bashrc_fdp.exe")).unwrap_or_default(),
        b"payload"
    );
    assert!(!app.dir.path().join(".bashrc").exists());
}

#[tokio::test]
async fn exported_decrypted_and_key_files_are_readable_by_their_owner_only() {
    let app = spawn_app().await;
    report_with_attachment(&app, "faits", "preuve.pdf", "application/pdf", b"secret").await;
    let out = app.dir.path().join("new").join("export");
    export_all(&app, &out);
    assert_eq!(mode(&out), 0o700, "export folder");
    let dirs = case_dirs(&out);
    assert_eq!(dirs.len(), 1);
    assert_eq!(mode(&dirs[0]), 0o700, "case folder");
    let exported = tree(&dirs[0]);
    assert_eq!(exported.len(), 3, "{exported:?}");
    for file in exported {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    // Exporting again replaces the files, keeps the modes, and leaves no
    // temporary file behind; an existing case folder too open is narrowed.
    std::fs::set_permissions(&dirs[0], std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    export_all(&app, &out);
    assert_eq!(mode(&dirs[0]), 0o700);
    assert_eq!(tree(&dirs[0]).len(), 3);

    let files = app.dir.path().join("files");
    let o = run(vigie(&app)
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&files), 0o700, "output folder");
    let case = files.join(dirs[0].file_name().unwrap_or_default());
    assert_eq!(mode(&case), 0o700, "case output folder");
    assert_eq!(mode(&case.join("preuve.pdf")), 0o600, "decrypted file");

    let key = app.dir.path().join("new.key");
    let made = run(Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .stdin(Stdio::null()));
    assert!(made.status.success(), "{}", stderr(&made));
    assert_eq!(mode(&key), 0o600, "identity file");
}

#[tokio::test]
async fn the_offline_commands_refuse_bad_arguments_clearly_and_write_nothing() {
    let app = spawn_app().await;
    app.submit_report("fr", &[("category", "funds"), ("description", "faits")])
        .await;
    let out = app.dir.path().join("export");
    let cases: [(&[&str], &str); 3] = [
        (&["export", "--case", "../../etc"], "Aucun dossier"),
        (
            &["export", "--case", "\u{1b}[2J"],
            "Aucun dossier ne porte l'identifiant <U+001B>[2J",
        ),
        (
            &[
                "--lang",
                "en",
                "export",
                "--case",
                "00000000-0000-4000-8000-000000000000",
            ],
            "No case",
        ),
    ];
    for (args, expected) in cases {
        let o = run(vigie(&app).args(args).arg("--out").arg(&out));
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains('\u{1b}'));
        assert!(!out.exists(), "{args:?}: wrote {}", out.display());
    }
    // An export folder that is a link is not written through.
    let elsewhere = app.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    symlink(&elsewhere, &out).unwrap_or_else(|e| panic!("{e}"));
    let o = run(vigie(&app).args(["export", "--out"]).arg(&out));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("est un lien symbolique"),
        "{}",
        stderr(&o)
    );
    assert!(tree(&elsewhere).is_empty(), "wrote through the link");
}

#[tokio::test]
async fn export_takes_the_cases_one_readership_reads() {
    let (app, _bureau) = crate::helpers::spawn_app_with_bureau(|_| {}).await;
    app.new_case().await;
    app.submit_report(
        "fr",
        &[
            ("readership", "bureau"),
            ("category", "funds"),
            ("description", "Le Secrétaire a exigé un marché"),
        ],
    )
    .await;
    let folders = |readership: &str| -> Vec<String> {
        let out = app.dir.path().join(format!("export-{readership}"));
        let o = run(vigie(&app)
            .args(["export", "--out"])
            .arg(&out)
            .args(["--readership", readership]));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::read_dir(&out)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| {
                        let meta = std::fs::read_to_string(e.path().join("metadata.json"))
                            .unwrap_or_default();
                        let v: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
                        v["readership"].as_str().unwrap_or_default().to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(folders("secretary"), ["secretary"]);
    assert_eq!(folders("bureau"), ["bureau"]);
    let o = run(vigie(&app)
        .args(["export", "--out"])
        .arg(app.dir.path().join("x"))
        .args(["--readership", "nobody"]));
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nobody"), "{}", stderr(&o));
}

#[test]
fn the_shipped_unit_restarts_on_failure_confines_the_service_and_keeps_its_files_private() {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/vigie.service"))
            .unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for directive in [
        "Restart=on-failure",
        "After=network-online.target postgresql.service",
        "UMask=0077",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/vigie",
        "PrivateTmp=true",
        "ProtectHome=true",
        "User=vigie",
        "LimitNOFILE=65536",
        "LimitCORE=0",
    ] {
        assert!(lines.contains(&directive), "{directive}");
    }
}
