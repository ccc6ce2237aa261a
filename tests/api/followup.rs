//! The reporter's follow-up with the token alone, with and without JavaScript.

use base64::Engine;
use secrecy::ExposeSecret;
use serde_json::json;
use vigie::{
    crypto::{self, Token},
    db::{Case, Journal},
    domain::Role,
};

use crate::helpers::spawn_app;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn shown(token: &Token) -> String {
    token.display().expose_secret().to_string()
}

#[tokio::test]
async fn without_javascript_the_reporter_reads_the_answer_and_replies() {
    let app = spawn_app().await;
    let (case, token) = app.new_case().await;
    let s = app.login().await;
    assert_eq!(
        s.act(
            &case.id,
            "acknowledge",
            app.sealed_reply(&case, "Merci, pouvez-vous préciser ?")
        )
        .await
        .0,
        204
    );

    let res = app
        .post_form("/fr/follow-up", &[("token", &shown(&token))])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookie carries the reporter's authority"
    );
    let html = res.text().await.unwrap_or_default();
    for expected in [
        "Réception accusée",
        "Des fonds détournés",
        "Merci, pouvez-vous préciser ?",
        "Votre signalement",
        "Réponse du Secrétaire permanent",
        "name=\"token\"",
    ] {
        assert!(html.contains(expected), "the case page lacks «{expected}»");
    }

    let res = app
        .post_form(
            "/fr/follow-up/message",
            &[
                ("token", &shown(&token)),
                ("body", "Les virements datent de mars."),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap_or_default();
    assert!(html.contains("Votre message a été envoyé"));
    assert!(html.contains("Les virements datent de mars."));

    // Stored as an unread message, readable by the Secretary, not journaled.
    let entries = case.entries(&mut app.conn()).unwrap_or_default();
    let message = entries.last().unwrap_or_else(|| panic!("a message"));
    assert_eq!((message.kind.as_str(), message.unread), ("message", true));
    let plain = crypto::decrypt(&app.identities[..1], &message.ciphertext)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&plain).contains("Les virements datent de mars."));
    let inbox = s
        .page("/fr/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        inbox.contains("<strong class=\"unread\">1</strong>"),
        "the inbox shows one unread message"
    );
    let journal =
        Journal::recent(&mut app.conn(), Role::Secretary, Some(&case.id), 50).unwrap_or_default();
    assert!(
        journal.iter().all(|j| j.action.as_str() != "message"),
        "reporter events are not journaled"
    );
    s.page(&format!("/fr/secretary/cases/{}", case.id)).await;
    let inbox = s
        .page("/fr/secretary")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        !inbox.contains("class=\"unread\""),
        "opening the case marks it read"
    );
}

#[tokio::test]
async fn bad_follow_up_input_gets_a_translated_4xx_and_keeps_the_text() {
    let app = spawn_app().await;
    let (open_case, open_token) = app.new_case().await;
    let (closed_case, closed_token) = app.new_case().await;
    let s = app.login().await;
    assert_eq!(
        s.act(
            &closed_case.id,
            "acknowledge",
            app.sealed_reply(&closed_case, "ok")
        )
        .await
        .0,
        204
    );
    let closing = json!({"reason": "unfounded", "confirm": true, "ciphertext": app.sealed_reply(&closed_case, "Dossier clos, merci.")["ciphertext"]});
    assert_eq!(s.act(&closed_case.id, "close", closing).await.0, 204);
    let _ = open_case;

    let long = "m".repeat(50_001);
    let unknown = shown(&Token::generate());
    let open = shown(&open_token);
    let closed = shown(&closed_token);
    // (token, message, status, French message, text kept)
    let cases: Vec<(&str, &str, u16, &str, Option<&str>)> = vec![
        (&open, "", 400, "ne peut pas être vide", None),
        (&open, "   ", 400, "ne peut pas être vide", None),
        (&open, &long, 400, "trop long", None),
        (
            &closed,
            "Encore une chose",
            409,
            "est clôturé",
            Some("Encore une chose"),
        ),
        ("ABCD-EFGH", "Texte", 400, "faute de frappe", None),
        (&unknown, "Texte", 404, "Aucun dossier ne correspond", None),
    ];
    for (token, body, status, message, kept) in cases {
        let res = app
            .post_form("/fr/follow-up/message", &[("token", token), ("body", body)])
            .await;
        assert_eq!(res.status().as_u16(), status, "{message}");
        let html = res.text().await.unwrap_or_default();
        assert!(html.contains(message), "missing «{message}»");
        if let Some(kept) = kept {
            assert!(html.contains(kept), "the text was lost");
        }
    }
    // The closed case is shown read-only with its closing message.
    let html = app
        .post_form("/en/follow-up", &[("token", &closed)])
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("Dossier clos, merci."));
    assert!(html.contains("This case is closed"));
    assert!(!html.contains("id=\"message-form\""));
    let messages = |c: &Case| {
        c.entries(&mut app.conn())
            .unwrap_or_default()
            .iter()
            .filter(|e| e.kind.as_str() == "message")
            .count()
    };
    assert_eq!(
        messages(&app.look_up(&open_token).unwrap_or_else(|| panic!("found"))),
        0
    );
    assert_eq!(messages(&closed_case), 0);
}

#[tokio::test]
async fn with_javascript_only_l_is_sent_and_the_thread_comes_back_encrypted() {
    let app = spawn_app().await;
    let (case, token) = app.new_case().await;
    let s = app.login().await;
    assert_eq!(
        s.act(
            &case.id,
            "acknowledge",
            app.sealed_reply(&case, "Bien reçu.")
        )
        .await
        .0,
        204
    );
    let derived = crypto::derive_from_token(&token);
    let lookup = hex::encode(*derived.lookup);

    let (status, found) = app
        .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["status"], "acknowledged");
    assert_eq!(found["acknowledged_on"], "2026-11-30");
    let entries = found["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        entries
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["report", "reply"]
    );
    let reply_bytes = B64
        .decode(entries[1]["ciphertext"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let plain = crypto::decrypt(
        std::slice::from_ref(&derived.reply_identity()),
        &reply_bytes,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        String::from_utf8_lossy(&plain).contains("Bien reçu."),
        "K reads the Secretary's reply"
    );

    let (status, _) = app
        .post_json(
            "/api/v1/cases/messages",
            &json!({"lookup": lookup, "ciphertext": app.sealed_message(&token, "Précision")}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(case.entries(&mut app.conn()).unwrap_or_default().len(), 3);

    // (path, body, status, code)
    let other = Token::generate();
    let cases = [
        (
            "/api/v1/cases/lookup",
            json!({"lookup": "abc"}),
            400,
            "lookup",
        ),
        (
            "/api/v1/cases/lookup",
            json!({"lookup": hex::encode(*crypto::derive_from_token(&other).lookup)}),
            404,
            "unknown-case",
        ),
        ("/api/v1/cases/lookup", json!({}), 400, "json"),
        (
            "/api/v1/cases/messages",
            json!({"lookup": lookup, "ciphertext": "bm9wZQ=="}),
            400,
            "not-age",
        ),
        (
            "/api/v1/cases/messages",
            json!({"lookup": hex::encode(*crypto::derive_from_token(&other).lookup), "ciphertext": app.sealed_message(&other, "x")}),
            404,
            "unknown-case",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got, p) = app.post_json(path, &body).await;
        assert_eq!((got, p["error"].as_str()), (status, Some(code)), "{path}");
        assert!(!p["message"].as_str().unwrap_or_default().is_empty());
    }
    let closing = json!({"reason": "moot", "confirm": true, "ciphertext": app.sealed_reply(&case, "fin")["ciphertext"]});
    assert_eq!(s.act(&case.id, "close", closing).await.0, 204);
    let (status, p) = app
        .post_json(
            "/api/v1/cases/messages",
            &json!({"lookup": lookup, "ciphertext": app.sealed_message(&token, "trop tard")}),
        )
        .await;
    assert_eq!((status, p["error"].as_str()), (409, Some("closed")));
}

#[tokio::test]
async fn lookups_are_rate_limited_for_the_whole_instance_never_per_address() {
    let app = spawn_app().await;
    let lookup = hex::encode(*crypto::derive_from_token(&Token::generate()).lookup);
    let mut last = 0;
    for _ in 0..601 {
        last = app
            .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
            .await
            .0;
    }
    assert_eq!(last, 429);
    let res = app
        .post_form("/en/follow-up", &[("token", &shown(&Token::generate()))])
        .await;
    assert_eq!(res.status().as_u16(), 429);
    assert!(res
        .text()
        .await
        .unwrap_or_default()
        .contains("many requests"));
    app.clock.advance(60);
    assert_eq!(
        app.post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn without_javascript_a_refused_file_keeps_the_message_typed() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.max_attachment_bytes = 1000;
        s.max_attachments_total_bytes = 1000;
    })
    .await;
    let (case, token) = app.new_case().await;
    let s = app.login().await;
    assert_eq!(
        s.act(&case.id, "acknowledge", app.sealed_reply(&case, "ok"))
            .await
            .0,
        204
    );
    let boundary = "vigietest";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nMessage-Gardé-Malgré-Tout\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"gros.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--{boundary}--\r\n",
        shown(&token),
        "x".repeat(5000)
    );
    let res = app
        .post_raw(
            "/fr/follow-up/message",
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
        .await;
    assert_eq!(res.status().as_u16(), 413);
    let html = res.text().await.unwrap_or_default();
    assert!(
        html.contains("Message-Gardé-Malgré-Tout"),
        "the message is shown again"
    );
    assert!(html.contains("dépasse la taille autorisée"));
    assert_eq!(
        vigie::db::Attachment::counts(&mut app.conn()).unwrap_or((-1, -1, -1)),
        (0, 0, 0)
    );
    let messages = case
        .entries(&mut app.conn())
        .unwrap_or_default()
        .iter()
        .filter(|e| e.kind.as_str() == "message")
        .count();
    assert_eq!(messages, 0, "nothing was stored");
}

#[tokio::test]
async fn a_flood_of_wrong_codes_never_locks_out_a_reporter_who_holds_the_right_one() {
    let app = spawn_app().await;
    let (_, token) = app.new_case().await;
    let lookup = hex::encode(*crypto::derive_from_token(&token).lookup);
    // Well past the instance's budget of failures, in the same minute.
    let mut statuses = Vec::new();
    for _ in 0..650 {
        let wrong = hex::encode(*crypto::derive_from_token(&Token::generate()).lookup);
        statuses.push(
            app.post_json("/api/v1/cases/lookup", &json!({"lookup": wrong}))
                .await
                .0,
        );
    }
    assert_eq!(statuses.first(), Some(&404));
    assert_eq!(statuses.last(), Some(&429), "the flood itself is slowed");

    // The right code still opens the case, with and without JavaScript,
    // and a message still goes through.
    let (status, case) = app
        .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup}))
        .await;
    assert_eq!(status, 200, "{case}");
    let res = app
        .post_form("/fr/follow-up", &[("token", &shown(&token))])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let (status, _) = app
        .post_json(
            "/api/v1/cases/messages",
            &json!({"lookup": lookup, "ciphertext": app.sealed_message(&token, "toujours là")}),
        )
        .await;
    assert_eq!(status, 201);
    // A wrong code typed without JavaScript is told the service is busy.
    let res = app
        .post_form("/fr/follow-up", &[("token", &shown(&Token::generate()))])
        .await;
    assert_eq!(res.status().as_u16(), 429);
}

#[tokio::test]
async fn someone_hammering_their_own_case_uses_up_only_that_case_s_budget() {
    let app = spawn_app().await;
    let (_, mine) = app.new_case().await;
    let (_, theirs) = app.new_case().await;
    let lookup = |t: &Token| hex::encode(*crypto::derive_from_token(t).lookup);
    let mut last = 0;
    for _ in 0..40 {
        last = app
            .post_json("/api/v1/cases/lookup", &json!({"lookup": lookup(&mine)}))
            .await
            .0;
    }
    assert_eq!(last, 429, "one case's readings are capped");
    let mut last = 0;
    for i in 0..12 {
        last = app.post_json("/api/v1/cases/messages", &json!({"lookup": lookup(&theirs), "ciphertext": app.sealed_message(&theirs, &format!("n°{i}"))}))
        .await
        .0;
    }
    assert_eq!(last, 429, "one case's messages are capped");
    // Another reporter is untouched by both.
    let (_, third) = app.new_case().await;
    assert_eq!(
        app.post_json("/api/v1/cases/lookup", &json!({"lookup": lookup(&third)}))
            .await
            .0,
        200
    );
    let (status, _) = app
        .post_json(
            "/api/v1/cases/messages",
            &json!({"lookup": lookup(&third), "ciphertext": app.sealed_message(&third, "bonjour")}),
        )
        .await;
    assert_eq!(status, 201);
    app.clock.advance(60);
    assert_eq!(
        app.post_json("/api/v1/cases/lookup", &json!({"lookup": lookup(&mine)}))
            .await
            .0,
        200,
        "a new minute, a new budget"
    );
}

#[tokio::test]
async fn a_malformed_multipart_message_with_a_good_code_is_counted_before_the_thread_is_read() {
    let app = spawn_app().await;
    let (_, token) = app.new_case().await;
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nbonjour\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"a.txt\"\r\n\r\nabc",
        shown(&token)
    );
    let mut shown_thread = Vec::new();
    for _ in 0..32 {
        let res = app
            .post_raw(
                "/fr/follow-up/message",
                "multipart/form-data; boundary=XyZ",
                body.clone().into_bytes(),
            )
            .await;
        assert_eq!(res.status().as_u16(), 400, "the broken form is refused");
        let page = res.text().await.unwrap_or_default();
        shown_thread.push(page.contains("Des fonds détournés"));
    }
    assert_eq!(
        shown_thread.first(),
        Some(&true),
        "the thread is shown again"
    );
    assert_eq!(
        shown_thread.last(),
        Some(&false),
        "past the case's budget the thread is no longer decrypted for a broken form"
    );
}
