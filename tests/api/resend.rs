//! A form sent twice lands once: a reload of the receipt, Back then send
//! again, a retry after a lost answer. Each form carries a one-time key; the
//! server keeps only its digest, for a day or two.

use base64::Engine;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use vigie::{
    crypto::{self, Recipients, Token},
    domain::SubmissionKey,
};

use crate::helpers::{spawn_app, token_of, TestApp};

const REPORT: [(&str, &str); 2] = [
    ("category", "funds"),
    ("description", "Des fonds détournés en mars"),
];

/// The key in the address of a report form page (`action="/fr/report?s=…"`).
fn key_in(html: &str) -> String {
    let start = html
        .find("/report?s=")
        .unwrap_or_else(|| panic!("the form has no key"))
        + "/report?s=".len();
    html[start..start + 36].to_string()
}

async fn form_key(app: &TestApp) -> String {
    let res = app.get("/fr/report").await;
    assert_eq!(res.status().as_u16(), 200);
    key_in(&res.text().await.unwrap_or_default())
}

fn submission_rows(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    vigie::db::schema::submissions::table
        .count()
        .get_result(&mut app.conn())
        .unwrap_or(-1)
}

#[tokio::test]
async fn a_report_form_sent_twice_makes_one_case_and_the_copy_says_it_was_received() {
    let app = spawn_app().await;
    let key = form_key(&app).await;
    let path = format!("/fr/report?s={key}");
    let first = app.post_form(&path, &REPORT).await;
    assert_eq!(first.status().as_u16(), 200);
    let token = token_of(&first.text().await.unwrap_or_default());

    // A reload of the receipt sends the same form again.
    let again = app.post_form(&path, &REPORT).await;
    assert_eq!(again.status().as_u16(), 409);
    let html = again.text().await.unwrap_or_default();
    assert!(html.contains("id=\"already-received\""), "{html}");
    assert!(html.contains("a déjà été reçu"));
    assert!(html.contains("affiché la première fois"));
    assert!(!html.contains(&token), "the code is never shown again");
    assert!(!html.contains("follow-up-token"));
    assert_eq!(app.case_count(), 1);

    // Back to the form's address: the notice, not the form.
    let back = app.get(&path).await;
    assert_eq!(back.status().as_u16(), 409);
    let html = back.text().await.unwrap_or_default();
    assert!(html.contains("id=\"already-received\""));
    assert!(!html.contains("id=\"report-form\""));

    // In English too.
    let en = app.post_form(&format!("/en/report?s={key}"), &REPORT).await;
    assert_eq!(en.status().as_u16(), 409);
    assert!(en
        .text()
        .await
        .unwrap_or_default()
        .contains("was already received"));
    assert_eq!(app.case_count(), 1);
}

#[tokio::test]
async fn a_browser_opening_the_report_form_is_sent_to_an_address_with_a_fresh_key() {
    let app = spawn_app().await;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let res = app
            .client
            .get(format!("{}/fr/report", app.address))
            .header("Sec-Fetch-Mode", "navigate")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 303);
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let key = location
            .strip_prefix("/fr/report?s=")
            .unwrap_or_else(|| panic!("{location}"));
        assert!(SubmissionKey::parse(key).is_some(), "{location}");
        keys.push(key.to_string());
    }
    assert_ne!(keys[0], keys[1], "every form gets its own key");
    // A program (no Fetch metadata) gets the form at once, and a key that
    // is not one is replaced.
    let res = app.get("/fr/report?s=pas-une-cle").await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap_or_default();
    assert!(SubmissionKey::parse(&key_in(&html)).is_some());
}

#[tokio::test]
async fn a_report_form_without_a_key_or_with_a_malformed_one_still_lands() {
    let app = spawn_app().await;
    for path in ["/fr/report", "/fr/report?s=0", "/fr/report?x=1"] {
        let res = app.post_form(path, &REPORT).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
    assert_eq!(app.case_count(), 3);
}

#[tokio::test]
async fn a_refused_report_keeps_its_key_so_the_corrected_form_still_lands_once() {
    let app = spawn_app().await;
    let key = form_key(&app).await;
    let path = format!("/fr/report?s={key}");
    let refused = app
        .post_form(&path, &[("category", "funds"), ("description", "")])
        .await;
    assert_eq!(refused.status().as_u16(), 400);
    let html = refused.text().await.unwrap_or_default();
    assert_eq!(key_in(&html), key, "the form shown again keeps its key");
    assert_eq!(app.post_form(&path, &REPORT).await.status().as_u16(), 200);
    assert_eq!(app.post_form(&path, &REPORT).await.status().as_u16(), 409);
    assert_eq!(app.case_count(), 1);
}

#[tokio::test]
async fn the_server_keeps_a_digest_of_a_used_key_never_the_key() {
    let app = spawn_app().await;
    let key = form_key(&app).await;
    app.post_form(&format!("/fr/report?s={key}"), &REPORT).await;
    assert_eq!(submission_rows(&app), 1);
    use diesel::prelude::*;
    let stored: Vec<Vec<u8>> = vigie::db::schema::submissions::table
        .select(vigie::db::schema::submissions::key_hash)
        .load(&mut app.conn())
        .unwrap_or_default();
    let parsed = SubmissionKey::parse(&key).unwrap_or_else(|| panic!("a key"));
    assert_eq!(stored, vec![crypto::submission_digest(&parsed).to_vec()]);
}

#[tokio::test]
async fn a_message_sent_twice_without_javascript_is_stored_once() {
    let app = spawn_app().await;
    let (case, token) = app.new_case().await;
    let shown = token.display().expose_secret().to_string();
    let page = app
        .post_form("/fr/follow-up", &[("token", &shown)])
        .await
        .text()
        .await
        .unwrap_or_default();
    let marker = "name=\"submission\" value=\"";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("the message form has a key"))
        + marker.len();
    let key = page[start..start + 36].to_string();
    let fields = [
        ("token", shown.as_str()),
        ("body", "Les virements datent de mars."),
        ("submission", key.as_str()),
    ];
    let first = app.post_form("/fr/follow-up/message", &fields).await;
    assert_eq!(first.status().as_u16(), 200);
    let next_page = first.text().await.unwrap_or_default();
    assert!(
        !next_page.contains(&key),
        "the next message gets a fresh key"
    );
    let again = app.post_form("/fr/follow-up/message", &fields).await;
    assert_eq!(again.status().as_u16(), 409);
    let html = again.text().await.unwrap_or_default();
    assert!(html.contains("id=\"message-already\""));
    assert!(html.contains("avait déjà été reçu"));
    let messages = case
        .entries(&mut app.conn())
        .unwrap_or_default()
        .iter()
        .filter(|e| e.kind.as_str() == "message")
        .count();
    assert_eq!(messages, 1);
}

fn browser_report(app: &TestApp, token: &Token, submission: Option<&str>) -> Value {
    let derived = crypto::derive_from_token(token);
    let json = json!({"v": 1, "type": "report", "lang": "fr", "category": "funds", "description": "Des fonds"});
    let plain = crypto::pad(zeroize::Zeroizing::new(json.to_string().into_bytes()));
    let sealed = crypto::encrypt_for_case(
        &Recipients::new(app.recipients.clone()),
        &derived.reply_recipient,
        &plain,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut body = json!({
        "ciphertext": base64::engine::general_purpose::STANDARD.encode(sealed.as_bytes()),
        "lookup": hex::encode(*derived.lookup),
        "recipient": derived.reply_recipient.to_string(),
        "privacy_acknowledged": true,
    });
    if let Some(key) = submission {
        body["submission"] = json!(key);
    }
    body
}

#[tokio::test]
async fn the_api_stores_a_resent_report_or_message_once() {
    let app = spawn_app().await;
    let key = SubmissionKey::random().to_string();
    let token = Token::generate();
    let body = browser_report(&app, &token, Some(&key));
    assert_eq!(app.submit_report_js(&body).await.0, 201);
    // The same token again (a retry after a lost answer): the case is there.
    let (status, problem) = app.submit_report_js(&body).await;
    assert_eq!(
        (status, problem["error"].as_str()),
        (409, Some("duplicate"))
    );
    // The same form with another token: refused as already sent.
    let other = browser_report(&app, &Token::generate(), Some(&key));
    let (status, problem) = app.submit_report_js(&other).await;
    assert_eq!(
        (status, problem["error"].as_str()),
        (409, Some("already-sent"))
    );
    assert!(problem["message"]
        .as_str()
        .unwrap_or_default()
        .contains("déjà été envoyé"));
    assert_eq!(app.case_count(), 1);

    let lookup = hex::encode(*crypto::derive_from_token(&token).lookup);
    let message_key = SubmissionKey::random().to_string();
    let message = json!({
        "lookup": lookup,
        "ciphertext": app.sealed_message(&token, "Un détail de plus"),
        "submission": message_key,
    });
    assert_eq!(
        app.post_json("/api/v1/cases/messages", &message).await.0,
        201
    );
    let (status, problem) = app.post_json("/api/v1/cases/messages", &message).await;
    assert_eq!(
        (status, problem["error"].as_str()),
        (409, Some("already-sent"))
    );
    let case = app.look_up(&token).unwrap_or_else(|| panic!("the case"));
    assert_eq!(case.entries(&mut app.conn()).unwrap_or_default().len(), 2);
}

#[tokio::test]
async fn a_malformed_submission_key_is_refused_with_a_clear_error() {
    let app = spawn_app().await;
    for bad in [
        "",
        "0",
        "not-a-key",
        "00000000-0000-0000-0000-000000000000",
        "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
    ] {
        let body = browser_report(&app, &Token::generate(), Some(bad));
        let (status, problem) = app.submit_report_js(&body).await;
        assert_eq!(
            (status, problem["error"].as_str()),
            (400, Some("submission")),
            "{bad:?}"
        );
        assert!(problem["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Rechargez"));
    }
    assert_eq!(app.case_count(), 0);
}

#[tokio::test]
async fn used_keys_are_forgotten_after_two_days() {
    let app = spawn_app().await;
    let key = form_key(&app).await;
    app.post_form(&format!("/fr/report?s={key}"), &REPORT).await;
    assert_eq!(submission_rows(&app), 1);
    app.clock.advance(3 * 86_400);
    let other = form_key(&app).await;
    app.post_form(&format!("/fr/report?s={other}"), &REPORT)
        .await;
    assert_eq!(submission_rows(&app), 1, "the old key was forgotten");
}

/// A report with one file, sent without JavaScript (multipart).
async fn report_with_file(app: &TestApp, name: &str, bytes: usize) -> String {
    let fields = [
        ("category", "funds"),
        ("description", "Voir la pièce jointe"),
        ("privacy_ack", "yes"),
    ];
    let (kind, body) = crate::helpers::multipart_report(
        &fields,
        name,
        "application/octet-stream",
        &vec![b'x'; bytes],
    );
    let res = app.post_raw("/fr/report", &kind, body).await;
    assert_eq!(res.status().as_u16(), 200);
    token_of(&res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn without_javascript_the_follow_up_lists_the_files_the_reporter_sent() {
    let app = spawn_app().await;
    let token = report_with_file(&app, "factures-mars.pdf", 1_500_000).await;
    let html = app
        .post_form("/fr/follow-up", &[("token", &token)])
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("factures-mars.pdf"), "{html}");
    assert!(html.contains("1,5 Mo"));
    let html = app
        .post_form("/en/follow-up", &[("token", &token)])
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("factures-mars.pdf (1.5 MB)"));
}

#[tokio::test]
async fn the_receipt_offers_the_code_as_a_small_text_file_and_never_asks_to_print() {
    let app = spawn_app().await;
    let html = app.submit_report("fr", &REPORT).await;
    let token = token_of(&html);
    let marker = "id=\"download-code\" href=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no download link"))
        + marker.len();
    let href = &html[start..start + html[start..].find('"').unwrap_or(0)];
    let data = href
        .strip_prefix("data:text/plain;charset=utf-8,")
        .unwrap_or_else(|| panic!("{href}"));
    let text = percent_encoding::percent_decode_str(data)
        .decode_utf8()
        .unwrap_or_default();
    assert!(text.contains(&token), "{text}");
    assert!(text.contains("Suivre un signalement"));
    assert!(html.contains("download=\"code-de-suivi.txt\""));
    assert!(html.contains("ne sera plus affiché"));
    assert!(!html.to_lowercase().contains("imprimez cette page"));
}
