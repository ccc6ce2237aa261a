//! The command line against a real database: export, decrypt (with vigie and
//! with the stock `age` command), keygen, check.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_vigie");

fn vigie(app: &TestApp) -> Command {
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
    cmd
}

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
    let found = Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("age");
    }
    if std::env::var_os("CI").is_some() {
        panic!("the stock `age` command is required in CI (Debian package `age`)");
    }
    eprintln!("SKIPPED: the stock `age` command is not installed (Debian package `age`)");
    None
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
    let cases: [(&str, String, &str); 5] = [
        (
            "VIGIE_RECIPIENTS_FILE",
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
