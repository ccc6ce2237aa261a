//! Attachments: streamed uploads of age files, claimed by a report, exported,
//! decrypted, downloaded by the Secretary; bad uploads leave nothing behind.

use std::{io::Write, process::Command};

use vigie::{
    crypto::{self, Token},
    db::Attachment,
};

use crate::helpers::{require_tool, seal_file, spawn_app, spawn_app_with, ServerProcess, TestApp};

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn counts(app: &TestApp) -> (i64, i64, i64) {
    Attachment::counts(&mut app.conn()).unwrap_or((-1, -1, -1))
}

#[tokio::test]
async fn a_file_uploaded_in_chunks_is_claimed_exported_decrypted_and_downloaded_intact() {
    let app = spawn_app().await;
    let token = Token::generate();
    let r = crypto::derive_from_token(&token).reply_recipient;
    let original = sample(3 * 1024 * 1024 + 12345);
    let sealed = seal_file(&app.recipients, &r, &original);
    let (status, up) = app.upload("application/octet-stream", sealed.clone()).await;
    assert_eq!(status, 201, "{up}");
    let id = up["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(up["size"].as_u64(), Some(sealed.len() as u64));
    assert_eq!(counts(&app), (1, 1, 4), "pending, in 1 MiB chunks");

    let (status, answer) = app
        .submit_report_js(&app.report_with_attachments(
            &token,
            &[(id.clone(), "relevé bancaire.pdf", original.len())],
        ))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(counts(&app), (1, 0, 4), "claimed by the case");

    // The Secretary downloads exactly what was uploaded; nobody else can.
    let s = app.login().await;
    let case = vigie::db::Case::find_by_locator(
        &mut app.conn(),
        &crypto::derive_from_token(&token).locator,
    )
    .ok()
    .flatten()
    .map(|c| c.id.to_string())
    .unwrap_or_default();
    let path = format!("/api/v1/secretary/cases/{case}/attachments/{id}");
    let res = s.page(&path).await;
    assert_eq!(res.status().as_u16(), 200);
    let downloaded = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    assert_eq!(downloaded, sealed);
    assert_eq!(app.get(&path).await.status().as_u16(), 401);

    // Export, then the stock age command and vigie decrypt recover the file.
    let out = app.dir.path().join("export");
    let bin = env!("CARGO_BIN_EXE_vigie");
    let env = |cmd: &mut Command| {
        cmd.env("VIGIE_DATABASE_URL", app.db.url())
            .env("VIGIE_RECIPIENTS_FILE", &app.settings.recipients_file)
            .env("VIGIE_DATA_DIR", &app.settings.data_dir);
    };
    let mut export = Command::new(bin);
    export.args(["export", "--out"]).arg(&out);
    env(&mut export);
    assert!(export.output().is_ok_and(|o| o.status.success()));
    let case_dir = std::fs::read_dir(&out)
        .ok()
        .and_then(|mut rd| rd.next())
        .and_then(|e| e.ok())
        .map(|e| e.path())
        .unwrap_or_default();
    let exported = std::fs::read(case_dir.join(format!("attachment-{id}.age"))).unwrap_or_default();
    assert_eq!(exported, sealed, "exported byte for byte");
    if require_tool("age") {
        let o = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&app.identity_path)
            .arg(case_dir.join(format!("attachment-{id}.age")))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(o.stdout == original, "stock age decrypts the attachment");
    }
    let files = app.dir.path().join("files");
    let mut decrypt = Command::new(bin);
    decrypt
        .args(["decrypt", "--identity"])
        .arg(&app.identity_path)
        .arg("--files")
        .arg(&files)
        .arg(&out);
    env(&mut decrypt);
    let o = decrypt.output().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        printed.contains("Pièce jointe : relevé bancaire.pdf"),
        "{printed}"
    );
    let case_id = case_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let written =
        std::fs::read(files.join(case_id).join("relevé bancaire.pdf")).unwrap_or_default();
    assert!(written == original, "written out under its original name");
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let app = spawn_app_with(|s| s.max_attachment_bytes = 2 * 1024 * 1024).await;
    let token = Token::generate();
    let r = crypto::derive_from_token(&token).reply_recipient;
    let good = seal_file(&app.recipients, &r, &sample(100_000));
    let secretary_only = {
        let all: Vec<&dyn age::Recipient> = app
            .recipients
            .iter()
            .map(|r| r as &dyn age::Recipient)
            .collect();
        let e = age::Encryptor::with_recipients(all.into_iter()).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap_or_else(|e| panic!("{e}"));
        w.write_all(b"hidden").unwrap_or_else(|e| panic!("{e}"));
        w.finish().unwrap_or_else(|e| panic!("{e}"));
        out
    };
    let big = seal_file(&app.recipients, &r, &sample(3 * 1024 * 1024));
    // (what, content type, body, status, code)
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "wrong type",
            "application/json",
            good.clone(),
            415,
            "content-type-binary",
        ),
        (
            "not age",
            "application/octet-stream",
            b"plain text file".to_vec(),
            400,
            "not-age",
        ),
        (
            "secretary only",
            "application/octet-stream",
            secretary_only,
            400,
            "recipients",
        ),
        // Cut inside the last chunk's tag: no longer the shape of an age payload.
        (
            "truncated",
            "application/octet-stream",
            good[..good.len() - (100_000 - 65_536 + 16 - 5)].to_vec(),
            400,
            "payload",
        ),
        (
            "too large",
            "application/octet-stream",
            big,
            413,
            "attachment-too-large",
        ),
        (
            "empty",
            "application/octet-stream",
            Vec::new(),
            400,
            "not-age",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let (got, p) = app.upload(content_type, body).await;
        assert_eq!((got, p["error"].as_str()), (status, Some(code)), "{what}");
        assert!(!p["message"].as_str().unwrap_or_default().is_empty());
        assert_eq!(counts(&app), (0, 0, 0), "{what}: nothing left behind");
    }
}

#[tokio::test]
async fn a_report_can_only_claim_fresh_uploads_within_the_total_limit() {
    let app = spawn_app_with(|s| {
        s.max_attachments_total_bytes = 300_000;
        s.notify_poll_millis = 50;
        s.attachment_pending_secs = 600;
    })
    .await;
    let token = Token::generate();
    let r = crypto::derive_from_token(&token).reply_recipient;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, up) = app
            .upload(
                "application/octet-stream",
                seal_file(&app.recipients, &r, &sample(200_000)),
            )
            .await;
        assert_eq!(status, 201);
        ids.push(up["id"].as_str().unwrap_or_default().to_string());
    }
    let both: Vec<(String, &str, usize)> = ids
        .iter()
        .map(|id| (id.clone(), "a.pdf", 200_000))
        .collect();
    let (status, p) = app
        .submit_report_js(&app.report_with_attachments(&token, &both))
        .await;
    assert_eq!(
        (status, p["error"].as_str()),
        (400, Some("attachments-too-large"))
    );
    let unknown = vec![("00000000-0000-4000-8000-000000000000".to_string(), "x", 1)];
    let (status, p) = app
        .submit_report_js(&app.report_with_attachments(&Token::generate(), &unknown))
        .await;
    assert_eq!(
        (status, p["error"].as_str()),
        (400, Some("attachment-unknown"))
    );
    assert_eq!(app.case_count(), 0, "a refused claim stores no case");

    let one = vec![(ids[0].clone(), "a.pdf", 200_000)];
    assert_eq!(
        app.submit_report_js(&app.report_with_attachments(&token, &one))
            .await
            .0,
        201
    );
    let (status, p) = app
        .submit_report_js(&app.report_with_attachments(&Token::generate(), &one))
        .await;
    assert_eq!(
        (status, p["error"].as_str()),
        (400, Some("attachment-unknown")),
        "an upload is claimed once"
    );

    // The other upload is never claimed: it is swept once its time is up.
    app.clock.advance(601);
    let started = std::time::Instant::now();
    while counts(&app).1 > 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        counts(&app),
        (1, 0, 1),
        "only the claimed attachment remains"
    );
}

/// Starts the real binary on `settings`; returns the child and its port.
/// Unclaimed uploads swept after a second, by a worker that polls often.
const PENDING_FAST: [(&str, &str); 2] = [
    ("VIGIE_ATTACHMENT_PENDING_SECS", "1"),
    ("VIGIE_NOTIFY_POLL_MILLIS", "50"),
];

#[tokio::test]
async fn a_server_killed_mid_upload_leaves_no_half_case_and_no_orphan_after_restart() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = crate::helpers::TestDb::fresh(dir.path());
    let (settings, _, identities) = crate::helpers::test_settings(dir.path(), &db);
    let recipients: Vec<age::x25519::Recipient> =
        identities.iter().map(|i| i.to_public()).collect();
    let r = crypto::derive_from_token(&Token::generate()).reply_recipient;
    let sealed = seal_file(&recipients, &r, &sample(4 * 1024 * 1024));

    let server = ServerProcess::start_with(&settings, &db, "info", &PENDING_FAST);
    let port = server.port;
    let database = vigie::db::connect(&settings.database().unwrap_or_else(|e| panic!("{e}")), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let counts = || {
        Attachment::counts(&mut database.conn().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or((-1, -1, -1))
    };

    // Half an upload, then the server dies.
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST /api/v1/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        sealed.len()
    );
    stream
        .write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(&sealed[..sealed.len() / 2])
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    while counts().2 < 1 && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        counts().2 >= 1,
        "chunks were being stored when the server died"
    );
    server.stop();
    drop(stream);

    // Restarted: the half upload is swept, nothing else exists.
    let server = ServerProcess::start_with(&settings, &db, "info", &PENDING_FAST);
    let started = std::time::Instant::now();
    while counts() != (0, 0, 0) && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(counts(), (0, 0, 0), "no orphan chunk, no pending upload");
    assert_eq!(
        vigie::db::Case::count(&mut database.conn().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or(-1),
        0,
        "no half case"
    );
    server.stop();
}

#[tokio::test]
async fn two_reports_claiming_one_upload_at_the_same_moment_leave_exactly_one_winner() {
    let app = spawn_app().await;
    for round in 0..6 {
        let token = Token::generate();
        let r = crypto::derive_from_token(&token).reply_recipient;
        let sealed = seal_file(&app.recipients, &r, &sample(4096 + round));
        let (status, up) = app.upload("application/octet-stream", sealed).await;
        assert_eq!(status, 201, "{up}");
        let id = up["id"].as_str().unwrap_or_default().to_string();
        let first = app.report_with_attachments(&token, &[(id.clone(), "a.pdf", 4096 + round)]);
        let other = Token::generate();
        let second = app.report_with_attachments(&other, &[(id.clone(), "b.pdf", 4096 + round)]);
        let ((s1, a1), (s2, a2)) =
            tokio::join!(app.submit_report_js(&first), app.submit_report_js(&second));
        let mut statuses = [s1, s2];
        statuses.sort();
        assert_eq!(statuses[0], 201, "round {round}: {a1} {a2}");
        assert!(
            (400..500).contains(&statuses[1]),
            "round {round}: the second claim must be refused: {a1} {a2}"
        );
        let id = vigie::domain::AttachmentId::parse(&id).unwrap_or_else(|| panic!("{id}"));
        let owner = Attachment::case_of(&mut app.conn(), &id)
            .ok()
            .flatten()
            .flatten();
        assert!(
            owner.is_some(),
            "round {round}: the upload belongs to one case"
        );
    }
    assert_eq!(app.case_count(), 6, "one case per round, never two");
}
