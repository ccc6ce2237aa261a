//! A key handover: `vigie export`, `vigie rekey` offline with the old key,
//! the recipients file switched, `vigie import-rekeyed` on the server. The
//! old key then opens nothing stored, the new one everything, the reporter
//! keeps reading with the same token, and an interrupted import finishes
//! when run again, with nothing lost or doubled.

use std::{path::Path, process::Command};

use secrecy::ExposeSecret;
use vigie::{
    crypto::{self, Token},
    db::{Attachment, Case, Journal},
    domain::Role,
};

use crate::helpers::{multipart_report, require_tool, spawn_app, token_of, TestApp};

fn vigie(app: &TestApp, recipients: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["--lang", "en"])
        .args(args)
        .env("VIGIE_DATABASE_URL", app.db.url())
        .env("VIGIE_RECIPIENTS_FILE", recipients)
        .env(
            "VIGIE_BUREAU_RECIPIENTS_FILE",
            app.dir.path().join("no-bureau.txt"),
        )
        .env("VIGIE_DATA_DIR", &app.settings.data_dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// A report without JavaScript carrying a file of `size` bytes.
async fn report_with_file(app: &TestApp, size: usize) -> Token {
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let fields = [
        ("category", "funds"),
        ("description", "Passation-Marqueur : les fonds"),
        ("privacy_ack", "yes"),
    ];
    let (kind, body) = multipart_report(&fields, "releve.bin", "application/octet-stream", &data);
    let res = app.post_raw("/fr/report", &kind, body).await;
    assert_eq!(res.status().as_u16(), 200);
    Token::parse(&token_of(&res.text().await.unwrap_or_default())).unwrap_or_else(|e| panic!("{e}"))
}

/// Every stored file of every case: entries, and attachments reassembled.
fn stored_files(app: &TestApp) -> Vec<Vec<u8>> {
    let mut conn = app.conn();
    let mut out = Vec::new();
    for case in Case::all(&mut conn).unwrap_or_default() {
        for e in case.entries(&mut conn).unwrap_or_default() {
            out.push(e.ciphertext);
        }
        for (id, _) in Attachment::of_case(&mut conn, &case.id).unwrap_or_default() {
            let mut file = Vec::new();
            let mut seq = 0;
            while let Ok(Some(chunk)) = Attachment::chunk(&mut conn, &id, seq) {
                file.extend_from_slice(&chunk);
                seq += 1;
            }
            out.push(file);
        }
    }
    out
}

/// `vigie rekey` with the app's own (old) identity.
fn rekey(app: &TestApp, to: &Path, export: &Path, out: &Path) -> (bool, String) {
    let path = |p: &Path| p.to_str().unwrap_or_default().to_string();
    vigie(
        app,
        &app.settings.recipients_file,
        &[
            "rekey",
            "--identity",
            &path(&app.identity_path),
            "--to",
            &path(to),
            "--in",
            &path(export),
            "--out",
            &path(out),
        ],
    )
}

/// `vigie import-rekeyed`, with `recipients` as the server's recipients file.
fn import(app: &TestApp, recipients: &Path, rekeyed: &Path, sha: &str) -> (bool, String) {
    let folder = rekeyed.to_str().unwrap_or_default().to_string();
    vigie(
        app,
        recipients,
        &["import-rekeyed", "--in", &folder, "--manifest-sha256", sha],
    )
}

fn manifest_sha(printed: &str) -> String {
    printed
        .split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no SHA-256 in {printed}"))
        .to_string()
}

#[tokio::test]
async fn a_handover_reseals_every_file_for_the_new_key_and_the_old_key_opens_nothing() {
    let app = spawn_app().await;
    let big = report_with_file(&app, 3 * 1024 * 1024 + 17).await;
    let small = report_with_file(&app, 10).await;
    let (case, _) = app.new_case().await;
    let s = app.login().await;
    let reply = app.sealed_reply(&case, "Réponse-Avant-Passation");
    assert_eq!(s.act(&case.id, "acknowledge", reply).await.0, 204);
    let before = stored_files(&app);
    assert!(before.len() >= 6);

    let work = app.dir.path();
    let old_recipients = app.settings.recipients_file.clone();
    let export = work.join("export");
    let (ok, out) = vigie(
        &app,
        &old_recipients,
        &[
            "export",
            "--readership",
            "secretary",
            "--out",
            export.to_str().unwrap_or_default(),
        ],
    );
    assert!(ok, "{out}");

    let new = age::x25519::Identity::generate();
    let new_file = work.join("new-recipients.txt");
    std::fs::write(&new_file, format!("{}\n", new.to_public())).unwrap_or_else(|e| panic!("{e}"));
    let rekeyed = work.join("rekeyed");
    let (ok, printed) = rekey(&app, &new_file, &export, &rekeyed);
    assert!(ok, "{printed}");
    let sha = manifest_sha(&printed);

    // Before the recipients file lists the new key, nothing is imported.
    let (ok, out) = import(&app, &old_recipients, &rekeyed, &sha);
    assert!(!ok, "{out}");
    assert!(out.contains("must first list"), "{out}");
    // A manifest that is not the one printed is refused.
    let (ok, out) = import(&app, &new_file, &rekeyed, &"0".repeat(64));
    assert!(!ok && out.contains("does not match"), "{out}");
    assert_eq!(stored_files(&app), before, "nothing changed yet");

    // Interrupted: a header of the last case is damaged, so the import stops
    // there after committing the cases before it.
    let mut case_dirs: Vec<_> = std::fs::read_dir(&rekeyed)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    case_dirs.sort();
    let last = case_dirs.last().cloned().unwrap_or_default();
    let damaged = last.join("001.header");
    let good = std::fs::read(&damaged).unwrap_or_default();
    std::fs::write(&damaged, b"age-encryption.org/v1\n--- x\n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = import(&app, &new_file, &rekeyed, &sha);
    assert!(!ok, "{out}");
    std::fs::write(&damaged, &good).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = import(&app, &new_file, &rekeyed, &sha);
    assert!(ok, "{out}");
    assert!(out.contains("done already"), "{out}");
    // Run again: nothing more to do, nothing doubled.
    let after = stored_files(&app);
    let (ok, out) = import(&app, &new_file, &rekeyed, &sha);
    assert!(ok && out.contains("0 cases re-sealed"), "{out}");
    assert_eq!(stored_files(&app), after);
    assert_eq!(after.len(), before.len());

    // The new key opens every stored file, the old one none, and what they
    // hold is unchanged.
    for (old_file, new_file_bytes) in before.iter().zip(&after) {
        let opened = crypto::decrypt(std::slice::from_ref(&new), new_file_bytes)
            .unwrap_or_else(|e| panic!("the new key opens every file: {e}"));
        assert!(
            crypto::decrypt(&app.identities, new_file_bytes).is_err(),
            "the old key opens nothing"
        );
        let was = crypto::decrypt(&app.identities, old_file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.as_slice(), was.as_slice());
    }

    // The reporter reads the thread with the same token.
    for token in [&big, &small] {
        let html = app
            .post_form(
                "/fr/follow-up",
                &[("token", token.display().expose_secret())],
            )
            .await
            .text()
            .await
            .unwrap_or_default();
        assert!(
            html.contains("Passation-Marqueur"),
            "the reporter still reads the case"
        );
    }

    // The journal records the handover, with fingerprints and counts only.
    let lines = Journal::recent(&mut app.conn(), Role::Secretary, None, 50).unwrap_or_default();
    let details: Vec<String> = lines
        .iter()
        .filter(|l| l.action.as_str() == "handed_over")
        .filter_map(|l| l.detail.clone())
        .collect();
    assert_eq!(
        details.len(),
        2,
        "one line an import that re-sealed something"
    );
    let mut cases = 0;
    for detail in &details {
        assert!(
            detail.contains(&crypto::key_fingerprint(&new.to_public().to_string())),
            "{detail}"
        );
        let n = detail
            .split("cases ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<u32>().ok());
        cases += n.unwrap_or(0);
    }
    assert_eq!(cases, 3, "{details:?}");

    // The stock age command agrees.
    if require_tool("age") {
        let key = work.join("new.key");
        std::fs::write(&key, format!("{}\n", new.to_string().expose_secret()))
            .unwrap_or_else(|e| panic!("{e}"));
        let again = work.join("export-after");
        let (ok, out) = vigie(
            &app,
            &new_file,
            &["export", "--out", again.to_str().unwrap_or_default()],
        );
        assert!(ok, "{out}");
        let mut checked = 0;
        for dir in std::fs::read_dir(&again)
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
        {
            for f in std::fs::read_dir(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .filter_map(|e| e.ok())
            {
                let path = f.path();
                if path.extension().is_some_and(|x| x == "age") {
                    let with = |k: &Path| {
                        Command::new("age")
                            .arg("-d")
                            .arg("-i")
                            .arg(k)
                            .arg(&path)
                            .output()
                            .map(|o| o.status.success())
                            .unwrap_or(false)
                    };
                    assert!(with(&key), "stock age opens it with the new key");
                    assert!(!with(&app.identity_path), "and not with the old one");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, before.len());
    }
}

#[tokio::test]
async fn an_import_killed_half_way_finishes_when_run_again_with_nothing_lost_or_doubled() {
    use std::io::{BufRead, BufReader};
    let app = spawn_app().await;
    for _ in 0..100 {
        app.new_case().await;
    }
    let before = stored_files(&app);
    let work = app.dir.path();
    let old_recipients = app.settings.recipients_file.clone();
    let export = work.join("export");
    let (ok, out) = vigie(
        &app,
        &old_recipients,
        &["export", "--out", export.to_str().unwrap_or_default()],
    );
    assert!(ok, "{out}");
    let new = age::x25519::Identity::generate();
    let new_file = work.join("new-recipients.txt");
    std::fs::write(&new_file, format!("{}\n", new.to_public())).unwrap_or_else(|e| panic!("{e}"));
    let rekeyed = work.join("rekeyed");
    let (ok, printed) = rekey(&app, &new_file, &export, &rekeyed);
    assert!(ok, "{printed}");
    // A rekey interrupted in the middle of a case leaves a partial folder;
    // run again, it redoes that case and keeps the others.
    let victim = std::fs::read_dir(&rekeyed)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("no case folder"));
    let name = victim
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    std::fs::remove_dir_all(&victim).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(rekeyed.join(format!(".{name}.part"))).unwrap_or_else(|e| panic!("{e}"));
    let (ok, printed) = rekey(&app, &new_file, &export, &rekeyed);
    assert!(ok, "{printed}");
    assert!(
        printed.contains("100 cases ready, 0 left aside"),
        "{printed}"
    );
    assert!(victim.is_dir() && !rekeyed.join(format!(".{name}.part")).exists());
    let sha = manifest_sha(&printed);

    // The import, killed (SIGKILL) as soon as it reports its first case.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "--lang",
            "en",
            "import-rekeyed",
            "--in",
            rekeyed.to_str().unwrap_or_default(),
            "--manifest-sha256",
            &sha,
        ])
        .env("VIGIE_DATABASE_URL", app.db.url())
        .env("VIGIE_RECIPIENTS_FILE", &new_file)
        .env("VIGIE_BUREAU_RECIPIENTS_FILE", work.join("no-bureau.txt"))
        .env("VIGIE_DATA_DIR", &app.settings.data_dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(first.contains("re-sealed"), "{first}");
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait();
    let half = stored_files(&app);
    let moved = half.iter().zip(&before).filter(|(a, b)| a != b).count();
    assert!(
        moved >= 1 && moved < before.len(),
        "killed half-way: {moved} of {}",
        before.len()
    );

    let (ok, out) = import(&app, &new_file, &rekeyed, &sha);
    assert!(ok, "{out}");
    let after = stored_files(&app);
    assert_eq!(after.len(), before.len(), "nothing lost or doubled");
    for (old_file, now) in before.iter().zip(&after) {
        let opened = crypto::decrypt(std::slice::from_ref(&new), now)
            .unwrap_or_else(|e| panic!("the new key opens every file: {e}"));
        assert!(crypto::decrypt(&app.identities, now).is_err());
        let was = crypto::decrypt(&app.identities, old_file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.as_slice(), was.as_slice());
    }
}
