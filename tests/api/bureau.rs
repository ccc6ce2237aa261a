//! The Bureau as a second readership: a report that concerns the Permanent
//! Secretary is sealed to the Bureau's keys and the reporter's `R` only,
//! read and answered in the Bureau's own workspace, and invisible to the
//! Secretary.

use std::process::Command;

use base64::Engine;
use diesel::{prelude::*, sql_query, sql_types::Text};
use serde_json::json;
use vigie::{
    crypto::{self, Recipients, Token},
    db::{Case, Journal, JournalAction},
    domain::{Readership, Role},
};
use zeroize::Zeroizing;

use crate::helpers::{
    element_text, require_tool, seal_file, spawn_app, spawn_app_with_bureau, stanza_types,
    token_of, TestApp,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Submits a report concerning the Permanent Secretary without JavaScript.
async fn report_about_the_secretary(app: &TestApp, description: &str) -> (Case, Token, String) {
    let html = app
        .submit_report(
            "fr",
            &[
                ("readership", "bureau"),
                ("category", "funds"),
                ("description", description),
            ],
        )
        .await;
    let token = Token::parse(&token_of(&html)).unwrap_or_else(|e| panic!("{e}"));
    let case = app
        .look_up(&token)
        .unwrap_or_else(|| panic!("the report was not stored"));
    (case, token, html)
}

fn entries_of(app: &TestApp, case: &Case) -> Vec<vigie::db::EntryRow> {
    case.entries(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_report_about_the_secretary_is_sealed_to_the_bureau_and_the_secretary_key_opens_nothing()
{
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let words = "Le-Secrétaire-A-Exigé-Un-Marché-7731";
    let (case, token, receipt) = report_about_the_secretary(&app, words).await;
    assert_eq!(case.readership, Readership::Bureau);
    assert!(
        element_text(&receipt, "readers").is_some_and(|t| t.contains("référent du Bureau seul")),
        "the receipt says who reads the report"
    );
    let entries = entries_of(&app, &case);
    let report = &entries[0].ciphertext;
    let x25519 = |c: &[u8]| stanza_types(c).iter().filter(|t| *t == "X25519").count();
    assert_eq!(
        x25519(report),
        2,
        "the Bureau's one key and R, nothing else"
    );
    let opened = crypto::decrypt(std::slice::from_ref(&bureau), report)
        .unwrap_or_else(|e| panic!("the Bureau cannot read it: {e}"));
    assert!(String::from_utf8_lossy(&opened).contains(words));
    assert!(
        crypto::decrypt(&app.identities, report).is_err(),
        "no Secretary key opens it"
    );
    let derived = crypto::derive_from_token(&token);
    assert!(
        crypto::open_as_reporter(&derived, report).is_ok(),
        "R opens it"
    );

    if require_tool("age") {
        let dir = app.dir.path();
        let file = dir.join("report.age");
        std::fs::write(&file, report).unwrap_or_else(|e| panic!("{e}"));
        let bureau_key = dir.join("bureau.key");
        crypto::write_identity_file(&bureau_key, &bureau, None).unwrap_or_else(|e| panic!("{e}"));
        let run = |key: &std::path::Path| {
            Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(key)
                .arg(&file)
                .output()
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let by_secretary = run(&app.identity_path);
        assert!(
            !by_secretary.status.success(),
            "stock age with the Secretary's key fails"
        );
        let by_bureau = run(&bureau_key);
        assert!(
            by_bureau.status.success(),
            "stock age with the Bureau's key opens it"
        );
        assert!(String::from_utf8_lossy(&by_bureau.stdout).contains(words));
    }
}

#[tokio::test]
async fn the_secretary_workspace_shows_nothing_of_a_bureau_case() {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let (secretary_case, _) = app.new_case().await;
    let (case, _, _) = report_about_the_secretary(&app, "Pression du Secrétaire").await;
    report_about_the_secretary(&app, "Une autre pression").await;
    let s = app.login().await;
    let inbox = s.text("/fr/secretary").await;
    assert!(inbox.contains(secretary_case.id.as_str()));
    assert!(
        !inbox.contains(case.id.as_str()),
        "the inbox does not list it"
    );
    for path in [
        format!("/fr/secretary/cases/{}", case.id),
        format!(
            "/fr/secretary/cases/{}",
            "00000000-0000-4000-8000-000000000000"
        ),
    ] {
        assert_eq!(s.page(&path).await.status().as_u16(), 404, "{path}");
    }
    let (status, _) = s
        .act(&case.id, "acknowledge", app.sealed_reply(&case, "reçu"))
        .await;
    assert_eq!(status, 404, "the Secretary cannot act on it");
    let (status, _) = s.act(&case.id, "hold", json!({"on_hold": true})).await;
    assert_eq!(status, 404);
    let journal = s.text("/fr/secretary/journal").await;
    assert!(!journal.contains(case.id.as_str()));
    let csv = s.text("/fr/secretary/figures.csv?year=2026").await;
    let b = app.login_as(&bureau).await;
    let bureau_csv = b.text("/fr/secretary/figures.csv?year=2026").await;
    assert!(csv.contains("\ncases,,1\n"), "{csv}");
    assert!(bureau_csv.contains("\ncases,,2\n"), "{bureau_csv}");
    // One notification for each readership's own case, to its own addresses.
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        role: String,
    }
    let rows: Vec<Row> = sql_query("SELECT role FROM outbox ORDER BY role")
        .load(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"));
    let roles: Vec<&str> = rows.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(roles, ["bureau", "bureau", "secretary"]);
    // The Secretary's journal through the model, too.
    let lines = Journal::recent(&mut app.conn(), Role::Secretary, None, 100)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(lines.iter().all(|l| l.case_id.as_ref() != Some(&case.id)));
}

#[tokio::test]
async fn the_bureau_reads_and_answers_and_the_reporter_sees_its_reply_with_and_without_javascript()
{
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let (secretary_case, _) = app.new_case().await;
    let (case, token, _) = report_about_the_secretary(&app, "Pression du Secrétaire").await;
    let b = app.login_as(&bureau).await;
    let inbox = b.text("/fr/secretary").await;
    assert!(inbox.contains(case.id.as_str()));
    assert!(element_text(&inbox, "workspace-role")
        .is_some_and(|t| t.contains("Espace du référent du Bureau")));
    assert!(
        !inbox.contains(secretary_case.id.as_str()),
        "the Bureau does not see the Secretary's cases"
    );
    let page = b.page(&format!("/fr/secretary/cases/{}", case.id)).await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains(&format!(
        "data-recipients=\"{} {}\"",
        bureau.to_public(),
        case.reporter_recipient
    )));
    assert_eq!(
        b.page(&format!("/fr/secretary/cases/{}", secretary_case.id))
            .await
            .status()
            .as_u16(),
        404
    );
    // Words sealed to the Secretary's keys are refused for a Bureau case.
    let (status, answer) = b
        .act(&case.id, "acknowledge", app.sealed_reply(&case, "reçu"))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "recipients");
    let reply = app.sealed_reply_to(&[bureau.to_public()], &case, "Le Bureau a bien reçu");
    let (status, answer) = b.act(&case.id, "acknowledge", reply).await;
    assert_eq!(status, 204, "{answer}");
    let entries = entries_of(&app, &case);
    assert_eq!(entries[1].replied_by, Some(Role::Bureau));

    // Without JavaScript.
    let typed = {
        use secrecy::ExposeSecret;
        token.display().expose_secret().to_string()
    };
    let page = app
        .post_form("/fr/follow-up", &[("token", &typed)])
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("Réponse du référent du Bureau"), "{page}");
    assert!(page.contains("Le Bureau a bien reçu"));
    assert!(element_text(&page, "case-readers").is_some_and(|t| t.contains("Bureau")));
    // With JavaScript: the lookup says who wrote and whom to seal to.
    let lookup = hex::encode(*crypto::derive_from_token(&token).lookup);
    let (status, found) = app
        .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["readership"], "bureau");
    assert_eq!(found["recipients"], json!([bureau.to_public().to_string()]));
    assert_eq!(found["entries"][1]["from"], "bureau");
    assert!(found["entries"][0].get("from").is_none());
    // A message sealed for the Secretary is refused; one for the Bureau is kept.
    let (status, answer) = app
        .post_json(
            "/api/v1/cases/messages",
            &json!({"lookup": lookup, "ciphertext": app.sealed_message(&token, "à la mauvaise clé")}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "recipients");
    let r = crypto::derive_from_token(&token).reply_recipient;
    let plain = crypto::pad(Zeroizing::new(
        json!({"v": 1, "type": "message", "lang": "fr", "body": "Merci"})
            .to_string()
            .into_bytes(),
    ));
    let sealed = crypto::encrypt_for_case(&Recipients::new(vec![bureau.to_public()]), &r, &plain)
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, answer) = app
        .post_json(
            "/api/v1/cases/messages",
            &json!({"lookup": lookup, "ciphertext": B64.encode(sealed.as_bytes())}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn every_journal_line_names_the_role_and_key_and_downloads_are_journaled() {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    // A report for the Bureau with a file, sealed in the browser.
    let token = Token::generate();
    let r = crypto::derive_from_token(&token).reply_recipient;
    let sealed = seal_file(&[bureau.to_public()], &r, b"%PDF-1.4 facture");
    let (status, up) = crate::helpers::status_and_json(
        app.post_raw(
            "/api/v1/attachments?readership=bureau",
            "application/octet-stream",
            sealed,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{up}");
    let id = up["id"].as_str().unwrap_or_default().to_string();
    let derived = crypto::derive_from_token(&token);
    let plain = crypto::pad(Zeroizing::new(
        json!({"v": 1, "type": "report", "lang": "fr", "category": "funds", "description": "Voir la pièce",
               "attachments": [{"id": id, "name": "f.pdf", "type": "application/pdf", "size": 16}]})
        .to_string()
        .into_bytes(),
    ));
    let report = crypto::encrypt_for_case(&Recipients::new(vec![bureau.to_public()]), &r, &plain)
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, answer) = app
        .submit_report_js(&json!({
            "ciphertext": B64.encode(report.as_bytes()),
            "lookup": hex::encode(*derived.lookup),
            "recipient": r.to_string(),
            "privacy_acknowledged": true,
            "readership": "bureau",
            "attachments": [id],
        }))
        .await;
    assert_eq!(status, 201, "{answer}");
    let case = app
        .look_up(&token)
        .unwrap_or_else(|| panic!("the report was not stored"));
    assert_eq!(case.readership, Readership::Bureau);

    let s = app.login().await;
    let path = format!("/api/v1/secretary/cases/{}/attachments/{id}", case.id);
    assert_eq!(
        s.page(&path).await.status().as_u16(),
        404,
        "not through the Secretary"
    );
    let b = app.login_as(&bureau).await;
    let res = b.page(&path).await;
    assert_eq!(res.status().as_u16(), 200);

    let lines =
        Journal::recent(&mut app.conn(), Role::Bureau, None, 100).unwrap_or_else(|e| panic!("{e}"));
    let bureau_key = crypto::key_fingerprint(&bureau.to_public().to_string());
    let secretary_key = crypto::key_fingerprint(&app.recipients[0].to_string());
    let downloaded = lines
        .iter()
        .find(|l| l.action == JournalAction::Downloaded)
        .unwrap_or_else(|| panic!("the download is journaled"));
    assert_eq!(downloaded.case_id.as_ref(), Some(&case.id));
    assert_eq!(downloaded.role, Some(Role::Bureau));
    assert_eq!(
        downloaded.key_fingerprint.as_deref(),
        Some(bureau_key.as_str())
    );
    assert!(lines
        .iter()
        .filter(|l| l.action == JournalAction::LoggedIn)
        .all(|l| l.role == Some(Role::Bureau)));
    let secretary_lines = Journal::recent(&mut app.conn(), Role::Secretary, None, 100)
        .unwrap_or_else(|e| panic!("{e}"));
    let login = secretary_lines
        .iter()
        .find(|l| l.action == JournalAction::LoggedIn)
        .unwrap_or_else(|| panic!("the Secretary's login is journaled"));
    assert_eq!(login.role, Some(Role::Secretary));
    assert_eq!(
        login.key_fingerprint.as_deref(),
        Some(secretary_key.as_str())
    );
    assert!(secretary_lines
        .iter()
        .all(|l| l.action != JournalAction::Downloaded));
    // The journal pages say who acted, with the key's fingerprint.
    let page = b.text("/fr/secretary/journal").await;
    assert!(page.contains("Référent du Bureau"));
    assert!(page.contains(&format!("<code>{bureau_key}</code>")));
    let page = s.text("/en/secretary/journal").await;
    assert!(page.contains("Permanent Secretary"));
    assert!(page.contains(&format!("<code>{secretary_key}</code>")));
    assert!(!page.contains(&bureau_key));
}

#[tokio::test]
async fn a_login_challenge_is_sealed_to_the_one_key_it_names() {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let (status, c) = app
        .post_json(
            "/api/v1/secretary/challenges",
            &json!({"recipient": app.recipients[1].to_string()}),
        )
        .await;
    assert_eq!(status, 201);
    let ciphertext = B64
        .decode(c["ciphertext"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let x25519 = stanza_types(&ciphertext)
        .iter()
        .filter(|t| *t == "X25519")
        .count();
    assert_eq!(x25519, 1, "one key only");
    assert!(
        crypto::decrypt(&app.identities[..1], &ciphertext).is_err(),
        "another Secretary key cannot answer it"
    );
    assert!(crypto::decrypt(&app.identities[1..2], &ciphertext).is_ok());
    assert!(crypto::decrypt(std::slice::from_ref(&bureau), &ciphertext).is_err());
    let stranger = crypto::generate_identity().to_public().to_string();
    let refused = [
        json!({"recipient": stranger}),
        json!({"recipient": "age1nothing"}),
        json!({"recipient": 7}),
        json!({"recipient": ""}),
    ];
    for body in refused {
        let (status, answer) = app.post_json("/api/v1/secretary/challenges", &body).await;
        let expected = if body["recipient"].is_number() {
            "json"
        } else {
            "unknown-key"
        };
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], expected, "{body}");
    }
}

#[tokio::test]
async fn a_report_cannot_reach_a_bureau_that_is_not_there_nor_go_to_the_wrong_readers() {
    let app = spawn_app().await;
    // Without a Bureau the form offers no choice and says where to turn.
    let form = app.get("/fr/report").await.text().await.unwrap_or_default();
    assert!(!form.contains("name=\"readership\""));
    assert!(form.contains("id=\"readers-none\""));
    assert!(form.contains("/fr/channels"));
    let words = "Texte-Gardé-Sans-Bureau";
    let res = app
        .post_form(
            "/fr/report",
            &[
                ("readership", "bureau"),
                ("category", "funds"),
                ("description", words),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 400);
    let page = res.text().await.unwrap_or_default();
    assert!(page.contains(words), "the text is kept");
    assert!(page.contains("aucun référent du Bureau"));
    assert_eq!(app.case_count(), 0);
    let token = Token::generate();
    let r = crypto::derive_from_token(&token).reply_recipient;
    for (readership, why) in [
        (json!("bureau"), "no Bureau here"),
        (json!("both"), "a report is never for both at first"),
        (json!("nobody"), "unknown readers"),
    ] {
        let (status, answer) = app
            .submit_report_js(&json!({
                "ciphertext": "AAAA",
                "lookup": hex::encode(*crypto::derive_from_token(&token).lookup),
                "recipient": r.to_string(),
                "privacy_acknowledged": true,
                "readership": readership,
            }))
            .await;
        assert_eq!(status, 400, "{why}: {answer}");
        assert_eq!(answer["error"], "readership", "{why}");
    }
    let (status, answer) = crate::helpers::status_and_json(
        app.post_raw(
            "/api/v1/attachments?readership=bureau",
            "application/octet-stream",
            seal_file(&app.recipients, &r, b"x"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "readership");
}

#[tokio::test]
async fn a_file_sealed_for_the_bureau_cannot_be_claimed_by_a_report_to_the_secretary() {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let token = Token::generate();
    let r = crypto::derive_from_token(&token).reply_recipient;
    let (status, up) = crate::helpers::status_and_json(
        app.post_raw(
            "/api/v1/attachments?readership=bureau",
            "application/octet-stream",
            seal_file(&[bureau.to_public()], &r, b"secret"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{up}");
    // Sealed to the Secretary's two keys and R: three stanzas, refused for
    // the Bureau's one key.
    let (status, answer) = crate::helpers::status_and_json(
        app.post_raw(
            "/api/v1/attachments?readership=bureau",
            "application/octet-stream",
            seal_file(&app.recipients, &r, b"secret"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "recipients");
    let id = up["id"].as_str().unwrap_or_default().to_string();
    let body = app.report_with_attachments(&token, &[(id, "f.pdf", 6)]);
    let (status, answer) = app.submit_report_js(&body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "attachment-unknown");
    assert_eq!(app.case_count(), 0);
}

#[tokio::test]
async fn words_sealed_for_the_old_readers_are_refused_once_the_readers_changed() {
    use vigie::service::workflow::{apply, By, Step, StepError, WorkflowError};
    let (app, _bureau) = spawn_app_with_bureau(|_| {}).await;
    let (case, _, _) = report_about_the_secretary(&app, "Pression").await;
    let entry = vigie::db::NewEntry::later(
        &case.id,
        vigie::db::EntryKind::Message,
        crate::helpers::today(),
        Vec::new(),
    );
    let by = By {
        reader: None,
        sealed_for: Some(Readership::Secretary),
    };
    let refused = apply(
        &mut app.conn(),
        by,
        &case.id,
        Step::Message(entry, 0),
        crate::helpers::today(),
        0,
    );
    assert!(matches!(
        refused,
        Err(StepError::Workflow(WorkflowError::ReadersChanged))
    ));
    assert_eq!(entries_of(&app, &case).len(), 1, "nothing was stored");
}

#[test]
fn a_key_listed_for_both_the_secretary_and_the_bureau_stops_the_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = crate::helpers::TestDb::fresh(dir.path());
    let (mut settings, _, identities) = crate::helpers::test_settings(dir.path(), &db);
    let shared = dir.path().join("bureau.txt");
    std::fs::write(&shared, format!("{}\n", identities[0].to_public()))
        .unwrap_or_else(|e| panic!("{e}"));
    settings.bureau_recipients_file = shared;
    let built = vigie::startup::Application::build(&settings);
    let Err(e) = built else {
        panic!("a shared key must stop the start")
    };
    assert!(format!("{e:#}").contains("both the Secretary and the Bureau"));
}

/// A header for `readers` and the case's `R`, cut from a fresh age file:
/// the right shape for the server's checks (it cannot open a header).
fn header_for(readers: &[age::x25519::Recipient], case: &Case) -> String {
    let reporter: age::x25519::Recipient = case
        .reporter_recipient
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let file = seal_file(readers, &reporter, b"x");
    let len = crypto::stored_header_len(&file).unwrap_or_else(|e| panic!("{e}"));
    B64.encode(&file[..len])
}

/// The body of a re-sealing of every entry and file of `case` for `readers`.
async fn reseal_body(
    s: &crate::helpers::Secretary,
    app: &TestApp,
    case: &Case,
    readers: &[age::x25519::Recipient],
    referral: &str,
) -> serde_json::Value {
    let res = s
        .page(&format!("/api/v1/secretary/cases/{}/headers", case.id))
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let found: serde_json::Value = res.json().await.unwrap_or_default();
    let header = header_for(readers, case);
    let entries: Vec<_> = found["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| json!({"position": e["position"], "header": header}))
        .collect();
    let attachments: Vec<_> = found["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| json!({"id": a["id"], "header": header}))
        .collect();
    let _ = app;
    json!({"referral": referral, "entries": entries, "attachments": attachments})
}

async fn post_reseal(
    s: &crate::helpers::Secretary,
    app: &TestApp,
    case: &Case,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = app
        .send_json(
            &format!("/api/v1/secretary/cases/{}/reseal", case.id),
            body,
            Some((&s.cookie, &s.csrf)),
        )
        .await;
    crate::helpers::status_and_json(res).await
}

#[tokio::test]
async fn the_secretary_alerts_the_bureau_and_both_then_read_the_case_which_is_journaled() {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let (case, token) = app.new_case().await;
    let s = app.login().await;
    let mut both = app.recipients.clone();
    both.push(bureau.to_public());
    let body = reseal_body(&s, &app, &case, &both, "alert").await;
    let (status, answer) = post_reseal(&s, &app, &case, &body).await;
    assert_eq!(status, 204, "{answer}");
    let now = app.reload(&case);
    assert_eq!(now.readership, Readership::Both);
    assert!(now.referred);
    // Every stored file now holds the new readers' stanzas and R's; the
    // payload is the one it had.
    let entries = entries_of(&app, &case);
    let x25519 = |c: &[u8]| stanza_types(c).iter().filter(|t| *t == "X25519").count();
    assert_eq!(x25519(&entries[0].ciphertext), 4);
    // Both read it; the Bureau sees it referred.
    let b = app.login_as(&bureau).await;
    let inbox = b.text("/fr/secretary").await;
    assert!(inbox.contains(case.id.as_str()));
    assert!(inbox.contains("Transmis par le Secrétaire"));
    assert_eq!(
        s.page(&format!("/fr/secretary/cases/{}", case.id))
            .await
            .status()
            .as_u16(),
        200
    );
    let line = Journal::recent(&mut app.conn(), Role::Bureau, Some(&case.id), 10)
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.action == JournalAction::Alerted)
        .unwrap_or_else(|| panic!("the alert is journaled"));
    assert_eq!(line.role, Some(Role::Secretary));
    assert_eq!(
        line.key_fingerprint.as_deref(),
        Some(crypto::key_fingerprint(&app.recipients[0].to_string()).as_str())
    );
    // The reporter sees who reads the case now.
    let lookup = hex::encode(*crypto::derive_from_token(&token).lookup);
    let (_, found) = app
        .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
        .await;
    assert_eq!(found["readership"], "both");
    assert_eq!(found["recipients"].as_array().map(Vec::len), Some(3));
    // An alert is given once.
    let again = reseal_body(&s, &app, &case, &both, "alert").await;
    let (status, answer) = post_reseal(&s, &app, &case, &again).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "referral");
}

#[tokio::test]
async fn the_secretary_steps_aside_and_the_case_leaves_his_workspace() {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let (case, _) = app.new_case().await;
    let s = app.login().await;
    let body = reseal_body(&s, &app, &case, &[bureau.to_public()], "step-aside").await;
    let (status, answer) = post_reseal(&s, &app, &case, &body).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(app.reload(&case).readership, Readership::Bureau);
    let inbox = s.text("/fr/secretary").await;
    assert!(!inbox.contains(&format!("secretary/cases/{}", case.id)));
    assert_eq!(
        s.page(&format!("/fr/secretary/cases/{}", case.id))
            .await
            .status()
            .as_u16(),
        404
    );
    // He keeps the record of having stepped aside.
    let mine = Journal::recent(&mut app.conn(), Role::Secretary, None, 50).unwrap_or_default();
    assert!(mine
        .iter()
        .any(|l| l.action == JournalAction::SteppedAside && l.case_id.as_ref() == Some(&case.id)));
    let b = app.login_as(&bureau).await;
    assert_eq!(
        b.page(&format!("/fr/secretary/cases/{}", case.id))
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_referral_is_refused_when_it_is_not_the_secretary_s_or_not_whole_or_not_for_the_new_readers(
) {
    let (app, bureau) = spawn_app_with_bureau(|_| {}).await;
    let (case, _) = app.new_case().await;
    let (bureau_case, _, _) = report_about_the_secretary(&app, "Pression").await;
    let s = app.login().await;
    let b = app.login_as(&bureau).await;
    let mut both = app.recipients.clone();
    both.push(bureau.to_public());
    let good = reseal_body(&s, &app, &case, &both, "alert").await;
    let mut missing = good.clone();
    missing["entries"] = json!([]);
    let mut doubled = good.clone();
    let first = good["entries"][0].clone();
    doubled["entries"] = json!([first, first]);
    let mut unknown_file = good.clone();
    unknown_file["attachments"] =
        json!([{"id": "0b7c2a8e-3f1d-4c55-9a0e-6d2f8b1c4e7a", "header": header_for(&both, &case)}]);
    let old_readers = reseal_body(&s, &app, &case, &app.recipients, "alert").await;
    let mut trailing = good.clone();
    let with_payload = {
        let reporter: age::x25519::Recipient = case
            .reporter_recipient
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        B64.encode(seal_file(&both, &reporter, b"tout le fichier"))
    };
    trailing["entries"][0]["header"] = json!(with_payload);
    let mut not_b64 = good.clone();
    not_b64["entries"][0]["header"] = json!("***");
    let mut bad_referral = good.clone();
    bad_referral["referral"] = json!("hand-over");
    let before = entries_of(&app, &case)[0].ciphertext.clone();
    let table: [(&str, &serde_json::Value, u16, &str); 7] = [
        ("an entry without a header", &missing, 400, "incomplete"),
        ("an entry twice", &doubled, 400, "incomplete"),
        (
            "a file the case does not have",
            &unknown_file,
            400,
            "incomplete",
        ),
        (
            "headers for the old readers",
            &old_readers,
            400,
            "recipients",
        ),
        (
            "a whole file instead of a header",
            &trailing,
            400,
            "not-age",
        ),
        ("a header that is not base64", &not_b64, 400, "not-age"),
        ("an unknown referral", &bad_referral, 400, "json"),
    ];
    for (why, body, status, code) in table {
        let (got, answer) = post_reseal(&s, &app, &case, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{why}: {answer}"
        );
        assert_eq!(app.reload(&case).readership, Readership::Secretary, "{why}");
    }
    // The Bureau cannot alert or step aside, nor can anyone on a case they
    // do not read.
    let (got, answer) = post_reseal(
        &b,
        &app,
        &bureau_case,
        &json!({"referral": "step-aside", "entries": []}),
    )
    .await;
    assert_eq!(got, 409, "{answer}");
    let (got, _) = post_reseal(
        &s,
        &app,
        &bureau_case,
        &json!({"referral": "alert", "entries": []}),
    )
    .await;
    assert_eq!(got, 404);
    assert_eq!(
        entries_of(&app, &case)[0].ciphertext,
        before,
        "nothing was changed"
    );
}

#[tokio::test]
async fn each_role_s_deadline_reminder_counts_its_own_cases_only() {
    let (app, _bureau) = spawn_app_with_bureau(|_| {}).await;
    app.new_case().await;
    report_about_the_secretary(&app, "Un").await;
    report_about_the_secretary(&app, "Deux").await;
    // Five days later both acknowledgements are due within two days.
    app.clock.advance(5 * 86400);
    let today = vigie::domain::Clock::today(app.clock.as_ref());
    let count = |role| {
        vigie::db::Outbox::deadline_counts(&mut app.conn(), role, today)
            .unwrap_or_else(|e| panic!("{e}"))
            .ack_soon
    };
    assert_eq!(count(Role::Secretary), 1);
    assert_eq!(count(Role::Bureau), 2);
}
