//! `POST /api/v1/reports`: reports encrypted in the browser.

use std::io::Write;

use base64::Engine;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use vigie::{
    crypto::{self, Recipients, Token},
    db::Case,
};
use zeroize::Zeroizing;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn padded_report(description: &str) -> Zeroizing<Vec<u8>> {
    let json = json!({"v": 1, "type": "report", "lang": "fr", "category": "funds", "description": description});
    crypto::pad(Zeroizing::new(json.to_string().into_bytes()))
}

/// Encrypts like a browser would, to any list of recipients.
fn encrypt_to(recipients: &[&dyn age::Recipient], plaintext: &[u8]) -> Vec<u8> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().copied())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    w.write_all(plaintext).unwrap_or_else(|e| panic!("{e}"));
    w.finish().unwrap_or_else(|e| panic!("{e}"));
    out
}

struct Upload {
    token: Token,
    body: Value,
}

/// A well-formed upload for `app`'s recipients.
fn upload(app: &TestApp, description: &str) -> Upload {
    let token = Token::generate();
    let derived = crypto::derive_from_token(&token);
    let recipients = Recipients::new(app.recipients.clone());
    let ciphertext = crypto::encrypt_for_case(
        &recipients,
        &derived.reply_recipient,
        &padded_report(description),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let body = json!({
        "ciphertext": b64(ciphertext.as_bytes()),
        "lookup": hex::encode(*derived.lookup),
        "recipient": derived.reply_recipient.to_string(),
        "privacy_acknowledged": true,
    });
    Upload { token, body }
}

#[tokio::test]
async fn a_report_encrypted_in_the_browser_is_stored_exactly_as_sent() {
    let app = spawn_app().await;
    let sent = upload(&app, "Chiffré dans le navigateur");
    let (status, answer) = app.submit_report_js(&sent.body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer,
        json!({"received_on": "2026-11-30", "ack_due": "2026-12-07", "feedback_due": "2027-03-07"})
    );

    let derived = crypto::derive_from_token(&sent.token);
    let mut conn = app.conn();
    let case = Case::find_by_locator(&mut conn, &derived.locator)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("stored under SHA-256(L)"));
    assert_eq!(case.reporter_recipient, derived.reply_recipient.to_string());
    let entries = case.entries(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    let uploaded = base64::engine::general_purpose::STANDARD
        .decode(sent.body["ciphertext"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(entries[0].ciphertext, uploaded, "stored byte for byte");
    let plain = crypto::decrypt(&app.identities[..1], &entries[0].ciphertext)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&plain).contains("Chiffré dans le navigateur"));

    // The follow-up form finds it with the token the browser showed.
    let shown = sent.token.display().expose_secret().to_string();
    let res = app.post_form("/fr/follow-up", &[("token", &shown)]).await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_uploads_get_a_400_with_a_clear_json_error_and_store_nothing() {
    let app = spawn_app_with(|s| s.max_ciphertext_bytes = 8 * 1024).await;
    let good = upload(&app, "valide");
    let plain = padded_report("faits");
    let secretary: Vec<&dyn age::Recipient> = app
        .recipients
        .iter()
        .map(|r| r as &dyn age::Recipient)
        .collect();
    let reporter = crypto::derive_from_token(&good.token).reply_recipient;
    let stranger = crypto::generate_identity().to_public();
    let with = |ciphertext: Vec<u8>| {
        let mut body = good.body.clone();
        body["ciphertext"] = json!(b64(&ciphertext));
        body
    };
    let good_bytes = base64::engine::general_purpose::STANDARD
        .decode(good.body["ciphertext"].as_str().unwrap_or_default())
        .unwrap_or_default();

    let mut all: Vec<&dyn age::Recipient> = secretary.clone();
    all.push(&reporter);
    let mut too_many = all.clone();
    too_many.push(&stranger);
    let armored = {
        let mut out = Vec::new();
        let encryptor =
            age::Encryptor::with_recipients(all.iter().copied()).unwrap_or_else(|e| panic!("{e}"));
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .unwrap_or_else(|e| panic!("{e}"));
        let mut w = encryptor
            .wrap_output(armor)
            .unwrap_or_else(|e| panic!("{e}"));
        w.write_all(&plain).unwrap_or_else(|e| panic!("{e}"));
        w.finish()
            .and_then(|a| a.finish())
            .unwrap_or_else(|e| panic!("{e}"));
        out
    };
    let scrypt = {
        let encryptor =
            age::Encryptor::with_user_passphrase(secrecy::SecretString::from("pass".to_string()));
        let mut out = Vec::new();
        let mut w = encryptor
            .wrap_output(&mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        w.write_all(&plain).unwrap_or_else(|e| panic!("{e}"));
        w.finish().unwrap_or_else(|e| panic!("{e}"));
        out
    };
    let oversized = encrypt_to(&all, &crypto::pad(Zeroizing::new(vec![b'x'; 9000])));
    let unpadded = encrypt_to(&all, b"{\"v\":1,\"type\":\"report\"}");
    let mut bad_lookup = good.body.clone();
    bad_lookup["lookup"] = json!(hex::encode([7u8; 31]));
    let mut not_hex = good.body.clone();
    not_hex["lookup"] = json!("zz".repeat(32));
    let mut bad_r = good.body.clone();
    bad_r["recipient"] = json!("age1notarecipient");
    let mut ssh_r = good.body.clone();
    ssh_r["recipient"] = json!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ");
    let mut not_b64 = good.body.clone();
    not_b64["ciphertext"] = json!("!!!not base64!!!");
    let mut missing = good.body.clone();
    missing.as_object_mut().map(|o| o.remove("lookup"));

    // (what is wrong, body, error code, French message)
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "not age",
            with(b"hello, I am not encrypted".to_vec()),
            "not-age",
            "pas un fichier age",
        ),
        ("not base64", not_b64, "not-age", "pas un fichier age"),
        ("armored", with(armored), "not-age", "pas un fichier age"),
        (
            "missing R stanza",
            with(encrypt_to(&secretary, &plain)),
            "recipients",
            "chaque clé du Secrétaire",
        ),
        (
            "extra recipient",
            with(encrypt_to(&too_many, &plain)),
            "recipients",
            "chaque clé du Secrétaire",
        ),
        (
            "scrypt recipient",
            with(scrypt),
            "recipients",
            "chaque clé du Secrétaire",
        ),
        (
            "truncated",
            with(good_bytes[..good_bytes.len() - 20].to_vec()),
            "payload",
            "tronqué",
        ),
        (
            "header only",
            with(good_bytes[..good_bytes.len() - 1040].to_vec()),
            "payload",
            "tronqué",
        ),
        (
            "cut in the header",
            with(good_bytes[..60].to_vec()),
            "not-age",
            "pas un fichier age",
        ),
        ("unpadded", with(unpadded), "payload", "tronqué"),
        (
            "oversized",
            with(oversized),
            "too-large",
            "dépasse la taille",
        ),
        ("short locator", bad_lookup, "lookup", "32 octets"),
        ("locator not hex", not_hex, "lookup", "32 octets"),
        ("missing locator", missing, "json", "JSON valide"),
        (
            "unparsable R",
            bad_r,
            "recipient",
            "destinataire age X25519",
        ),
        ("ssh R", ssh_r, "recipient", "destinataire age X25519"),
        ("not an object", json!([1, 2, 3]), "json", "JSON valide"),
    ];
    for (what, body, code, message) in cases {
        let (status, answer) = app.submit_report_js(&body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"], code, "{what}");
        let text = answer["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{what}: «{text}»");
    }
    assert_eq!(app.case_count(), 0, "nothing was stored");
}

#[tokio::test]
async fn a_report_without_the_privacy_confirmation_is_refused() {
    let app = spawn_app().await;
    let mut body = upload(&app, "x").body;
    body["privacy_acknowledged"] = json!(false);
    let (status, answer) = app.submit_report_js(&body).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("privacy")));
    assert_eq!(app.case_count(), 0);
}

#[tokio::test]
async fn api_errors_follow_the_language_asked_for() {
    let app = spawn_app().await;
    let mut body = upload(&app, "x").body;
    body["recipient"] = json!("nope");
    body["lang"] = json!("en");
    let (status, answer) = app.submit_report_js(&body).await;
    assert_eq!(status, 400);
    assert!(answer["message"]
        .as_str()
        .unwrap_or_default()
        .contains("not a valid age X25519 recipient"));
}

#[tokio::test]
async fn the_api_refuses_other_content_types_methods_and_paths_in_json() {
    let app = spawn_app_with(|s| {
        s.max_body_bytes = 8 * 1024;
        s.max_ciphertext_bytes = 4096;
    })
    .await;
    let url = format!("{}/api/v1/reports", app.address);
    let cases = [
        (
            app.client
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("a=b"),
            415,
            "content-type",
        ),
        (
            app.client
                .post(&url)
                .header("Content-Type", "application/json")
                .body("{not json"),
            400,
            "json",
        ),
        (
            app.client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(vec![b'x'; 9 * 1024]),
            413,
            "too-large",
        ),
        (app.client.get(&url), 405, "method"),
        (
            app.client.get(format!("{}/api/v1/nothing", app.address)),
            404,
            "not-found",
        ),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), status, "{code}");
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(answer["error"], code);
    }
    assert_eq!(app.case_count(), 0);
}
