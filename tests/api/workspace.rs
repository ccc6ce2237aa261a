//! The Secretary's workspace over HTTP: login by key possession, sessions,
//! CSRF, the workflow and the journal.

use base64::Engine;
use serde_json::{json, Value};
use vigie::{
    crypto::{self, Recipients, Token},
    db::{Case, Challenge, Journal},
    domain::Role,
};
use zeroize::Zeroizing;

use crate::helpers::{spawn_app, TestApp};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// Forwarders for tests/api/mail.rs and tests/api/retention.rs, which still
// call these free functions: remove once they call the `TestApp` and
// `Secretary` methods in tests/api/helpers.rs directly.
pub use crate::helpers::Secretary;

pub async fn login(app: &TestApp) -> Secretary {
    app.login().await
}

pub async fn act(
    _app: &TestApp,
    s: &Secretary,
    case: impl std::fmt::Display,
    action: &str,
    body: Value,
) -> (u16, Value) {
    s.act(case, action, body).await
}

pub async fn page(app: &TestApp, s: Option<&Secretary>, path: &str) -> reqwest::Response {
    app.page(s, path).await
}

pub fn reply(app: &TestApp, case: &Case, body: &str) -> Value {
    app.sealed_reply(case, body)
}

pub async fn new_case(app: &TestApp) -> (Case, Token) {
    app.new_case().await
}

#[tokio::test]
async fn the_secretary_logs_in_by_decrypting_a_one_time_challenge() {
    let app = spawn_app().await;
    let s = app.login().await;
    assert_eq!(s.csrf.len(), 64);
    let res = s.page("/fr/secretary").await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res
        .text()
        .await
        .unwrap_or_default()
        .contains("Dossiers reçus"));
    let journal = Journal::recent(&mut app.conn(), Role::Secretary, None, 10).unwrap_or_default();
    assert!(journal.iter().any(|j| j.action.as_str() == "logged_in"));
}

#[tokio::test]
async fn bad_logins_are_refused_with_a_clear_message() {
    let app = spawn_app().await;
    // A wrong answer.
    let (id, _) = app.challenge().await;
    let res = app
        .send_json(
            "/api/v1/secretary/sessions",
            &json!({"id": id, "response": "00".repeat(32)}),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 401);
    let p: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(p["error"], "wrong-key");
    // The same challenge cannot be answered again, even rightly.
    let (id, answer) = app.challenge().await;
    let first = app
        .send_json(
            "/api/v1/secretary/sessions",
            &json!({"id": id, "response": answer}),
            None,
        )
        .await;
    assert_eq!(first.status().as_u16(), 201);
    let replay = app
        .send_json(
            "/api/v1/secretary/sessions",
            &json!({"id": id, "response": answer}),
            None,
        )
        .await;
    assert_eq!(replay.status().as_u16(), 401);
    let p: Value = replay.json().await.unwrap_or(Value::Null);
    assert_eq!(p["error"], "challenge");
    assert!(p["message"]
        .as_str()
        .unwrap_or_default()
        .contains("déjà servi ou a expiré"));
    // An expired challenge.
    let (id, answer) = app.challenge().await;
    app.clock.advance(121);
    let late = app
        .send_json(
            "/api/v1/secretary/sessions",
            &json!({"id": id, "response": answer}),
            None,
        )
        .await;
    assert_eq!(late.status().as_u16(), 401);
    // A key that is not a recipient cannot even read the challenge.
    let res = app
        .send_json("/api/v1/secretary/challenges", &json!({}), None)
        .await;
    let c: Value = res.json().await.unwrap_or(Value::Null);
    let ciphertext = B64
        .decode(c["ciphertext"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert!(crypto::decrypt(&[crypto::generate_identity()], &ciphertext).is_err());
}

/// A proof of work for the puzzle of a 429 answer, found as the page does.
fn solve(puzzle: &Value) -> Value {
    let seed_hex = puzzle["seed"].as_str().unwrap_or_default();
    let seed = hex::decode(seed_hex).unwrap_or_default();
    let bits = puzzle["bits"].as_u64().unwrap_or(0) as u32;
    assert_eq!(puzzle["domain"], crypto::POW_DOMAIN);
    let start = uuid::Uuid::new_v4().simple().to_string();
    let nonce = (0u64..)
        .map(|n| format!("{start}{n:x}"))
        .find(|n| {
            crypto::proof_of_work(&seed, n).is_some_and(|h| crypto::leading_zero_bits(&h) >= bits)
        })
        .unwrap_or_default();
    json!({"proof": {"seed": seed_hex, "nonce": nonce}})
}

/// Asks for challenges nobody answers until the server asks for a proof of
/// work; returns how many were issued and the 429 problem.
async fn flood(app: &TestApp) -> (usize, Value) {
    for issued in 0..200 {
        let res = app
            .send_json("/api/v1/secretary/challenges", &json!({}), None)
            .await;
        match res.status().as_u16() {
            201 => continue,
            429 => return (issued, res.json().await.unwrap_or(Value::Null)),
            other => panic!("challenge {issued}: {other}"),
        }
    }
    panic!("no flood guard")
}

#[tokio::test]
async fn a_flood_of_unanswered_challenges_asks_for_a_proof_of_work_and_never_locks_the_secretary_out(
) {
    let app = spawn_app().await;
    let (issued, refused) = flood(&app).await;
    let res = app
        .send_json("/api/v1/secretary/challenges", &json!({}), None)
        .await;
    assert_eq!(res.status().as_u16(), 429);
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let english = app
        .client
        .post(format!("{}/api/v1/secretary/challenges", app.address))
        .header("Content-Type", "application/json")
        .header("Accept-Language", "en")
        .body(json!({"recipient": app.recipients[0].to_string()}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let english: Value = english.json().await.unwrap_or(Value::Null);
    assert!(english["message"]
        .as_str()
        .unwrap_or_default()
        .contains("proof of work"));
    assert_eq!(issued, 20, "challenges are free below the threshold");
    assert_eq!(refused["error"], "proof-of-work");
    assert!(refused["message"]
        .as_str()
        .unwrap_or_default()
        .contains("preuve de travail"));
    assert_eq!(refused["proof"]["bits"], 14);
    assert_eq!(refused["proof"]["seed"].as_str().map(str::len), Some(64));

    // With the proof, a challenge, and the login goes through.
    let proof = solve(&refused["proof"]);
    let (id, answer) = app.challenge_with(proof.clone()).await;
    let res = app.open_session(&id, &answer).await;
    assert_eq!(res.status().as_u16(), 201);

    // A proof opens one challenge only.
    let res = app
        .send_json("/api/v1/secretary/challenges", &proof, None)
        .await;
    assert_eq!(res.status().as_u16(), 429);

    // Every refusal under flood is a 429 with a puzzle, never a 500.
    let seed = refused["proof"]["seed"].as_str().unwrap_or_default();
    let bad_proofs = [
        json!({}),
        json!({"proof": {"seed": seed, "nonce": "0"}}),
        json!({"proof": {"seed": seed, "nonce": ""}}),
        json!({"proof": {"seed": seed, "nonce": "not hex!"}}),
        json!({"proof": {"seed": seed, "nonce": "a".repeat(65)}}),
        json!({"proof": {"seed": "00".repeat(32), "nonce": "0"}}),
        json!({"proof": {"seed": "zz", "nonce": "0"}}),
        json!({"proof": {"seed": "", "nonce": "0"}}),
    ];
    for body in bad_proofs {
        let res = app
            .send_json("/api/v1/secretary/challenges", &body.clone(), None)
            .await;
        assert_eq!(res.status().as_u16(), 429, "{body}");
        let p: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(p["error"], "proof-of-work", "{body}");
    }

    // The seed rotates each minute; last minute's is still good, older ones not.
    app.clock.advance(60);
    let res = app
        .send_json("/api/v1/secretary/challenges", &json!({}), None)
        .await;
    let now: Value = res.json().await.unwrap_or(Value::Null);
    assert_ne!(now["proof"]["seed"], refused["proof"]["seed"], "a new seed");
    let (id, answer) = app.challenge_with(solve(&refused["proof"])).await;
    assert_eq!(app.open_session(&id, &answer).await.status().as_u16(), 201);
    app.clock.advance(120);
    let stale = solve(&now["proof"]);
    let res = app
        .send_json("/api/v1/secretary/challenges", &stale, None)
        .await;
    assert_eq!(res.status().as_u16(), 429, "a seed two minutes old");

    // Once the unanswered challenges are swept, challenges are free again.
    app.clock.advance(11 * 60);
    let (id, answer) = app.challenge().await;
    assert_eq!(app.open_session(&id, &answer).await.status().as_u16(), 201);
}

#[tokio::test]
async fn answered_challenges_do_not_count_toward_a_flood_but_wrong_answers_do() {
    let app = spawn_app().await;
    for _ in 0..25 {
        let (id, answer) = app.challenge().await;
        assert_eq!(app.open_session(&id, &answer).await.status().as_u16(), 201);
    }
    for n in 0..20 {
        let (id, _) = app.challenge().await;
        let res = app.open_session(&id, &"00".repeat(32)).await;
        assert_eq!(res.status().as_u16(), 401, "wrong answer {n}");
    }
    let res = app
        .send_json("/api/v1/secretary/challenges", &json!({}), None)
        .await;
    assert_eq!(res.status().as_u16(), 429, "twenty failures make a flood");
}

#[tokio::test]
async fn the_challenge_table_is_swept_and_capped() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    let ids: Vec<_> = (0..30)
        .map(|_| vigie::domain::ChallengeId::random())
        .collect();
    let reader = vigie::domain::Reader {
        role: Role::Secretary,
        key: "0011223344556677".into(),
    };
    for (n, id) in (0..).zip(&ids) {
        Challenge::insert(&mut conn, id, &[0; 32], &reader, 1000 + n)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let now = 1000 + 600;
    assert_eq!(Challenge::sweep(&mut conn, now, 600, 100).ok(), Some(30));
    assert_eq!(
        Challenge::sweep(&mut conn, now + 10, 600, 100).ok(),
        Some(20)
    );
    assert_eq!(Challenge::sweep(&mut conn, now + 10, 600, 5).ok(), Some(5));
    assert_eq!(
        Challenge::sweep(&mut conn, 0, 600, 1000).ok(),
        Some(5),
        "the newest are kept"
    );
    assert!(Challenge::take(&mut conn, &ids[29], 0)
        .ok()
        .flatten()
        .is_some());
    assert!(Challenge::take(&mut conn, &ids[0], 0)
        .ok()
        .flatten()
        .is_none());
}

#[tokio::test]
async fn the_challenge_endpoint_takes_json_only_so_no_other_site_can_spend_the_quota() {
    let app = spawn_app().await;
    let path = format!("{}/api/v1/secretary/challenges", app.address);
    let refused: [(Option<&str>, &str); 6] = [
        (None, "{}"),
        (Some("text/plain"), "{}"),
        (Some("application/x-www-form-urlencoded"), "a=b"),
        (Some("multipart/form-data; boundary=x"), "--x--"),
        (Some("application/jsonp"), "{}"),
        (Some("text/json"), "{}"),
    ];
    for (content_type, body) in refused {
        let mut req = app.client.post(&path).body(body);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 415, "{content_type:?}");
        let p: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(p["error"], "content-type", "{content_type:?}");
        assert!(p["message"]
            .as_str()
            .unwrap_or_default()
            .contains("application/json"));
    }
    let bad_json = [
        "",
        "not json",
        "{\"proof\": 5}",
        "{\"other\": 1}",
        "{\"proof\": {\"seed\": 1}}",
    ];
    for body in bad_json {
        let res = app
            .client
            .post(&path)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 400, "{body}");
        let p: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(p["error"], "json", "{body}");
    }
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
    ] {
        let res = app
            .client
            .post(&path)
            .header("Content-Type", content_type)
            .body(json!({"recipient": app.recipients[0].to_string()}).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "{content_type}");
        let h = res.headers();
        assert!(h.get("set-cookie").is_none(), "a challenge sets no cookie");
        assert_eq!(
            h.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
    }
    assert_eq!(
        Challenge::sweep(&mut app.conn(), 0, 0, 1000).ok(),
        Some(3),
        "refusals store nothing"
    );
}

#[tokio::test]
async fn bad_answers_to_a_challenge_are_refused_cleanly() {
    let app = spawn_app().await;
    let (id, _) = app.challenge().await;
    let path = format!("{}/api/v1/secretary/sessions", app.address);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "text/plain",
            json!({"id": id, "response": "00"}).to_string(),
            415,
            "content-type",
        ),
        ("application/json", "not json".into(), 400, "json"),
        (
            "application/json",
            json!({"id": id}).to_string(),
            400,
            "json",
        ),
        (
            "application/json",
            json!({"response": "00"}).to_string(),
            400,
            "json",
        ),
        (
            "application/json",
            json!({"id": 5, "response": "00"}).to_string(),
            400,
            "json",
        ),
        (
            "application/json",
            json!({"id": "nope", "response": "00"}).to_string(),
            401,
            "challenge",
        ),
        (
            "application/json",
            json!({"id": "", "response": ""}).to_string(),
            401,
            "challenge",
        ),
        (
            "application/json",
            json!({"id": id, "response": "zz"}).to_string(),
            401,
            "wrong-key",
        ),
        // The challenge was spent by the wrong answer above.
        (
            "application/json",
            json!({"id": id, "response": "00".repeat(32)}).to_string(),
            401,
            "challenge",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let res = app
            .client
            .post(&path)
            .header("Content-Type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), status, "{body}");
        let p: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(p["error"], code, "{body}");
    }
    // The plaintext of the challenge is not an answer: only its digest is.
    let res = app
        .send_json("/api/v1/secretary/challenges", &json!({}), None)
        .await;
    let c: Value = res.json().await.unwrap_or(Value::Null);
    let plain = crypto::decrypt(
        &app.identities[..1],
        &B64.decode(c["ciphertext"].as_str().unwrap_or_default())
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(plain.starts_with(crypto::CHALLENGE_PREFIX.as_bytes()));
    let random = String::from_utf8_lossy(&plain[crypto::CHALLENGE_PREFIX.len()..]).to_string();
    let res = app
        .open_session(c["id"].as_str().unwrap_or_default(), &random)
        .await;
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test]
async fn the_session_cookie_is_a_host_cookie_and_nothing_else_opens_the_workspace() {
    let app = spawn_app().await;
    let s = app.login().await;
    let value = s
        .cookie
        .strip_prefix("__Host-vigie_session=")
        .unwrap_or_default()
        .to_string();
    assert_eq!(value.len(), 64);
    let refused = [
        String::new(),
        format!("vigie_session={value}"),
        format!("__Secure-vigie_session={value}"),
        format!("__host-vigie_session={value}"),
        "__Host-vigie_session=".to_string(),
        "__Host-vigie_session=zz".to_string(),
        format!("__Host-vigie_session={}", "00".repeat(32)),
        format!("__Host-vigie_session={value}00"),
    ];
    for cookie in refused {
        let mut req = app.client.get(format!("{}/fr/secretary", app.address));
        if !cookie.is_empty() {
            req = req.header("Cookie", &cookie);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 303, "{cookie}");
        let res = app
            .client
            .get(format!("{}/api/v1/secretary/figures/reports", app.address))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 401, "{cookie}");
    }
    assert_eq!(s.page("/fr/secretary").await.status().as_u16(), 200);
    // Logging out removes the same cookie, with the same attributes.
    let res = app
        .send_json(
            "/api/v1/secretary/logout",
            &json!({}),
            Some((&s.cookie, &s.csrf)),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let gone = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(gone.starts_with("__Host-vigie_session=;"), "{gone}");
    for attribute in ["Secure", "Path=/", "Max-Age=0"] {
        assert!(gone.contains(attribute), "{gone}");
    }
    assert!(!gone.to_ascii_lowercase().contains("domain"), "{gone}");
}

#[tokio::test]
async fn an_attachment_is_downloaded_only_through_the_case_that_claimed_it() {
    use crate::helpers::seal_file;
    let app = spawn_app().await;
    let first = Token::generate();
    let r = crypto::derive_from_token(&first).reply_recipient;
    let sealed = seal_file(&app.recipients, &r, b"the first case's file");
    let (status, up) = app.upload("application/octet-stream", sealed.clone()).await;
    assert_eq!(status, 201, "{up}");
    let file = up["id"].as_str().unwrap_or_default().to_string();
    let (status, answer) = app
        .submit_report_js(&app.report_with_attachments(&first, &[(file.clone(), "a.pdf", 21)]))
        .await;
    assert_eq!(status, 201, "{answer}");
    // A second report names the first case's file, under a name of its choosing.
    let second = Token::generate();
    let mut body = app.report_with_attachments(&second, &[(file.clone(), "facture.pdf", 21)]);
    body["attachments"] = json!([]);
    let (status, answer) = app.submit_report_js(&body).await;
    assert_eq!(status, 201, "{answer}");
    let case_of = |token: &Token| {
        Case::find_by_locator(&mut app.conn(), &crypto::derive_from_token(token).locator)
            .ok()
            .flatten()
            .map(|c| c.id.to_string())
            .unwrap_or_default()
    };
    let (first_case, second_case) = (case_of(&first), case_of(&second));
    let s = app.login().await;
    let through = |case: &str, id: &str| format!("/api/v1/secretary/cases/{case}/attachments/{id}");
    let res = s.page(&through(&first_case, &file)).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
        sealed
    );
    for (path, who) in [
        (through(&second_case, &file), Some(&s)),
        (through("no-such-case", &file), Some(&s)),
        (through(&first_case, "no-such-file"), Some(&s)),
        (through(&first_case, ""), Some(&s)),
        (format!("/api/v1/secretary/attachments/{file}"), Some(&s)),
    ] {
        let res = app.page(who, &path).await;
        assert_eq!(res.status().as_u16(), 404, "{path}");
        let p: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(p["error"], "not-found", "{path}");
    }
    assert_eq!(
        app.get(&through(&first_case, &file))
            .await
            .status()
            .as_u16(),
        401,
        "no session"
    );
}

#[tokio::test]
async fn workspace_pages_need_a_live_session() {
    let app = spawn_app().await;
    for path in [
        "/fr/secretary",
        "/en/secretary/journal",
        "/fr/secretary/cases/x",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), 303, "{path}");
        let to = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(to.ends_with("/secretary/login"), "{path} → {to}");
    }
    let s = app.login().await;
    app.clock.advance(14 * 60);
    assert_eq!(
        s.page("/fr/secretary").await.status().as_u16(),
        200,
        "activity keeps it alive"
    );
    app.clock.advance(16 * 60);
    let res = s.page("/fr/secretary").await;
    assert_eq!(res.status().as_u16(), 303, "idle for 16 minutes");
    assert!(res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .contains("expired=1"));
    let s = app.login().await;
    for _ in 0..35 {
        app.clock.advance(14 * 60);
        let _ = s.page("/fr/secretary").await;
    }
    assert_eq!(
        s.page("/fr/secretary").await.status().as_u16(),
        303,
        "over 8 hours"
    );
}

#[tokio::test]
async fn every_change_needs_the_session_and_its_csrf_token() {
    let app = spawn_app().await;
    let (case, _) = app.new_case().await;
    let s = app.login().await;
    let path = format!("/api/v1/secretary/cases/{}/review", case.id);
    let cases = [
        (None, 401, "session"),
        (Some((s.cookie.as_str(), "")), 403, "csrf"),
        (
            Some((s.cookie.as_str(), "00".repeat(32).leak() as &str)),
            403,
            "csrf",
        ),
        (
            Some(("__Host-vigie_session=ffff", s.csrf.as_str())),
            401,
            "session",
        ),
    ];
    for (auth, status, code) in cases {
        let res = app.send_json(&path, &json!({}), auth).await;
        assert_eq!(res.status().as_u16(), status, "{code}");
        let p: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(p["error"], code);
    }
    let logout = app
        .send_json(
            "/api/v1/secretary/logout",
            &json!({}),
            Some((&s.cookie, &s.csrf)),
        )
        .await;
    assert_eq!(logout.status().as_u16(), 204);
    assert_eq!(
        s.page("/fr/secretary").await.status().as_u16(),
        303,
        "logged out"
    );
}

#[tokio::test]
async fn the_workflow_goes_from_received_to_closed_and_refuses_illegal_steps() {
    let app = spawn_app().await;
    let (case, token) = app.new_case().await;
    let id = case.id.clone();
    app.clock.advance(2 * 86400);
    let s = app.login().await;

    // Nothing but acknowledgement first, not even a reply.
    assert_eq!(s.act(&id, "review", json!({})).await.0, 409);
    assert_eq!(
        s.act(&id, "replies", app.sealed_reply(&case, "trop tôt"))
            .await
            .0,
        409
    );
    let (status, p) = s
        .act(
            &id,
            "close",
            json!({"reason": "moot", "confirm": true, "ciphertext": app.sealed_reply(&case, "x")["ciphertext"]}),
        )
        .await;
    assert_eq!(status, 409, "{p}");
    assert_eq!(p["error"], "transition");

    assert_eq!(
        s.act(
            &id,
            "acknowledge",
            app.sealed_reply(&case, "Bien reçu, merci.")
        )
        .await
        .0,
        204
    );
    let acked = app.reload(&case);
    assert_eq!(acked.status.as_str(), "acknowledged");
    assert_eq!(
        acked.acknowledged_on.map(|d| d.to_string()).as_deref(),
        Some("2026-12-02")
    );
    assert_eq!(
        acked.feedback_due.to_string(),
        "2027-03-02",
        "three months from the acknowledgement"
    );
    assert_eq!(
        s.act(&id, "acknowledge", app.sealed_reply(&case, "again"))
            .await
            .0,
        409
    );

    assert_eq!(
        s.act(
            &id,
            "replies",
            app.sealed_reply(&case, "Pouvez-vous préciser ?")
        )
        .await
        .0,
        204
    );
    assert_eq!(s.act(&id, "review", json!({})).await.0, 204);
    assert_eq!(s.act(&id, "hold", json!({"on_hold": true})).await.0, 204);
    assert!(app.reload(&case).on_hold);
    let (status, p) = s
        .act(
            &id,
            "close",
            json!({"reason": "bored", "confirm": true, "ciphertext": app.sealed_reply(&case, "x")["ciphertext"]}),
        )
        .await;
    assert_eq!((status, p["error"].as_str()), (400, Some("reason")));
    assert_eq!(s.act(&id, "close", json!({"reason": "measures_taken", "confirm": true, "ciphertext": app.sealed_reply(&case, "Des mesures ont été prises.")["ciphertext"]})).await.0, 204);
    let closed = app.reload(&case);
    assert_eq!(closed.status.as_str(), "closed");
    assert_eq!(
        closed.closure_reason.map(|r| r.as_str()),
        Some("measures_taken")
    );

    let (status, p) = s
        .act(&id, "replies", app.sealed_reply(&case, "trop tard"))
        .await;
    assert_eq!((status, p["error"].as_str()), (409, Some("closed")));

    // The thread is in order, and the reporter's key reads the replies.
    let entries = closed.entries(&mut app.conn()).unwrap_or_default();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["report", "reply", "reply", "reply"]);
    let k = crypto::derive_from_token(&token).reply_identity();
    let last = crypto::decrypt(&[k], &entries[3].ciphertext).unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&last).contains("Des mesures ont été prises."));

    // The journal says what was done, never what was written.
    let journal =
        Journal::recent(&mut app.conn(), Role::Secretary, Some(&id), 50).unwrap_or_default();
    let mut actions: Vec<&str> = journal.iter().map(|j| j.action.as_str()).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "acknowledged",
            "closed",
            "feedback_given",
            "hold_placed",
            "replied",
            "status_changed"
        ]
    );
    let dump = format!("{journal:?}");
    for secret in ["Bien reçu", "préciser", "mesures ont"] {
        assert!(!dump.contains(secret));
    }
}

#[tokio::test]
async fn replies_are_checked_like_reports() {
    let app = spawn_app().await;
    let (case, _) = app.new_case().await;
    let s = app.login().await;
    let only_secretary = {
        let plain = crypto::pad(Zeroizing::new(b"{\"v\":1}".to_vec()));
        // Sealed to the Secretary only: the reporter could not read it.
        let stranger = crypto::generate_identity().to_public();
        let sealed = crypto::encrypt_for_case(
            &Recipients::new(app.recipients[..1].to_vec()),
            &stranger,
            &plain,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        B64.encode(sealed.as_bytes())
    };
    for (body, code) in [
        (json!({"ciphertext": "bm90IGFnZQ=="}), "not-age"),
        (json!({"ciphertext": only_secretary}), "recipients"),
        (json!({}), "json"),
    ] {
        let (status, p) = s.act(&case.id, "acknowledge", body).await;
        assert_eq!((status, p["error"].as_str()), (400, Some(code)));
    }
    assert_eq!(s.act("no-such-case", "review", json!({})).await.0, 404);
    assert_eq!(app.reload(&case).status.as_str(), "received");
}

#[tokio::test]
async fn the_inbox_shows_deadlines_unread_messages_filters_and_pages() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.new_case().await;
    }
    let s = app.login().await;
    let html = s
        .page("/fr/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(html.matches("class=\"case-row\"").count(), 3);
    assert!(html.contains("7 décembre 2026"));
    // Five days later the acknowledgement is due within two days; ten days later it is overdue.
    app.clock.advance(5 * 86400);
    let s = app.login().await;
    let html = s
        .page("/fr/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("deadline due-soon"));
    app.clock.advance(5 * 86400);
    let s = app.login().await;
    let html = s
        .page("/en/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("deadline overdue"));
    assert!(html.contains("overdue"));
    let html = s
        .page("/fr/secretary?status=closed")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(html.matches("class=\"case-row\"").count(), 0);
    let html = s
        .page("/fr/secretary?status=received&page=1")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(html.matches("class=\"case-row\"").count(), 3);
    let html = s
        .page("/fr/secretary?page=2")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(html.matches("class=\"case-row\"").count(), 0);
}

#[tokio::test]
async fn the_journal_cannot_be_changed_or_erased_even_in_the_database() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    app.login().await;
    let mut conn = app.conn();
    assert!(diesel::sql_query("UPDATE journal SET action = 'nothing'")
        .execute(&mut conn)
        .is_err());
    assert!(diesel::sql_query("DELETE FROM journal")
        .execute(&mut conn)
        .is_err());
    assert_eq!(
        Journal::recent(&mut conn, Role::Secretary, None, 10)
            .unwrap_or_default()
            .len(),
        1
    );
}

#[tokio::test]
async fn without_javascript_the_login_form_cannot_send_the_passphrase_anywhere() {
    let app = spawn_app().await;
    let html = app
        .get("/fr/secretary/login")
        .await
        .text()
        .await
        .unwrap_or_default();
    let form = &html[html.find("<form").unwrap_or(0)..html.find("</form>").unwrap_or(0)];
    assert!(form.contains("method=\"post\""));
    assert!(
        !form.contains("name=\""),
        "no field has a name, so no field can be submitted"
    );
    assert!(
        form.contains("<button type=\"submit\" disabled>"),
        "the script enables the button"
    );
    assert!(html.contains("<noscript>"));
}
