use secrecy::ExposeSecret;
use vigie::{
    crypto::{self, Token},
    db::Case,
};

use crate::helpers::{element_text, spawn_app, spawn_app_with, stanza_types, today, token_of};

const DESCRIPTION: &str =
    "Le directeur financier a attribué le marché de traiteur à la société de son beau-frère.";

/// (fields sent, status, French message, text that must be shown again)
type FormCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str, Option<&'a str>);
/// (method, path, content type, body, status, message)
type RequestCase<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);

fn full_report() -> Vec<(&'static str, &'static str)> {
    vec![
        ("category", "conflict_of_interest"),
        ("description", DESCRIPTION),
        ("period", "printemps 2026"),
        ("place", "Siège, Paris"),
        ("persons", "Directeur financier"),
        ("evidence", "Bons de commande de mars"),
    ]
}

#[tokio::test]
async fn the_report_form_is_served_in_french_and_english() {
    let app = spawn_app().await;
    for (lang, title) in [("fr", "Faire un signalement"), ("en", "Make a report")] {
        let res = app.get(&format!("/{lang}/report")).await;
        assert_eq!(res.status().as_u16(), 200);
        let html = res.text().await.unwrap_or_default();
        assert!(html.contains(&format!("<html lang=\"{lang}\">")));
        assert!(html.contains(title));
        for field in [
            "name=\"category\"",
            "name=\"description\"",
            "name=\"period\"",
            "name=\"place\"",
            "name=\"persons\"",
            "name=\"evidence\"",
        ] {
            assert!(html.contains(field), "{lang}: {field}");
        }
        assert!(html.contains("method=\"post\""));
        // The form works without JavaScript: a plain POST form, and the only
        // scripts are external modules with Subresource Integrity.
        assert!(html.contains(&format!("action=\"/{lang}/report?s=")));
        for tag in html.split("<script").skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(0)];
            assert!(
                tag.contains("src=\"/static/") && tag.contains("integrity=\"sha384-"),
                "{tag}"
            );
        }
    }
}

#[tokio::test]
async fn the_root_redirects_to_the_language_the_browser_prefers() {
    let app = spawn_app().await;
    for (accept, location) in [
        (None, "/fr/"),
        (Some("en-US,en;q=0.9"), "/en/"),
        (Some("fr-FR"), "/fr/"),
        (Some("de"), "/fr/"),
    ] {
        let mut req = app.client.get(format!("{}/", app.address));
        if let Some(a) = accept {
            req = req.header("Accept-Language", a);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 303);
        assert_eq!(
            res.headers().get("location").and_then(|v| v.to_str().ok()),
            Some(location)
        );
    }
}

#[tokio::test]
async fn a_report_without_javascript_gets_a_receipt_with_token_and_deadlines() {
    let app = spawn_app().await;
    let res = app.post_form("/fr/report", &full_report()).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(
        res.headers().get("set-cookie").is_none(),
        "reporter pages set no cookie"
    );
    let html = res.text().await.unwrap_or_default();
    let token = token_of(&html);
    assert_eq!(token.len(), 34);
    assert!(
        Token::parse(&token).is_ok(),
        "the token on the receipt is well-formed"
    );
    assert_eq!(
        element_text(&html, "received-on").as_deref(),
        Some("30 novembre 2026")
    );
    assert_eq!(
        element_text(&html, "ack-due").as_deref(),
        Some("7 décembre 2026")
    );
    assert_eq!(
        element_text(&html, "feedback-due").as_deref(),
        Some("7 mars 2027")
    );
    assert!(
        html.contains("ne peut pas être récupéré"),
        "the receipt says the token cannot be recovered"
    );
    assert!(
        html.contains("chiffré sur notre serveur"),
        "the receipt says where encryption happened"
    );
    assert_eq!(app.case_count(), 1);
}

#[tokio::test]
async fn the_english_receipt_is_in_english() {
    let app = spawn_app().await;
    let html = app
        .submit_report(
            "en",
            &[("category", "funds"), ("description", "Funds diverted")],
        )
        .await;
    assert_eq!(
        element_text(&html, "received-on").as_deref(),
        Some("30 November 2026")
    );
    assert!(html.contains("cannot be recovered"));
}

#[tokio::test]
async fn what_is_stored_is_one_padded_age_file_for_every_secretary_recipient_and_the_reporter() {
    let app = spawn_app().await;
    let html = app.submit_report("fr", &full_report()).await;
    let token = Token::parse(&token_of(&html)).unwrap_or_else(|e| panic!("{e}"));
    let derived = crypto::derive_from_token(&token);
    let mut conn = app.conn();
    let case = Case::find_by_locator(&mut conn, &derived.locator)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the case is found by SHA-256(L)"));
    assert_eq!(case.reporter_recipient, derived.reply_recipient.to_string());
    assert_eq!(case.received_on, today());
    assert_eq!(case.status.as_str(), "received");
    assert!(uuid::Uuid::parse_str(case.id.as_str()).map(|u| u.get_version_num()) == Ok(4));
    let entries = case.entries(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entries.len(), 1);
    let ciphertext = &entries[0].ciphertext;
    assert!(
        ciphertext.starts_with(b"age-encryption.org/v1\n"),
        "a binary age v1 file"
    );
    let x25519 = stanza_types(ciphertext)
        .iter()
        .filter(|t| *t == "X25519")
        .count();
    assert_eq!(
        x25519,
        app.recipients.len() + 1,
        "one stanza per Secretary recipient plus R"
    );

    // The Secretary's key and the sealed backup key both read it…
    for identity in &app.identities {
        let plain = crypto::decrypt(std::slice::from_ref(identity), ciphertext)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.len(), 1024, "padded to the first bucket");
        let value: serde_json::Value = serde_json::from_slice(&plain).unwrap_or_default();
        assert_eq!(value["v"], 1);
        assert_eq!(value["type"], "report");
        assert_eq!(value["lang"], "fr");
        assert_eq!(value["category"], "conflict_of_interest");
        assert_eq!(value["description"], DESCRIPTION);
        assert_eq!(value["period"], "printemps 2026");
        assert_eq!(value["place"], "Siège, Paris");
        assert_eq!(value["persons"], "Directeur financier");
        assert_eq!(value["evidence"], "Bons de commande de mars");
    }
    // …and so does the reporter's own key K, derived from the token.
    let plain = crypto::decrypt(std::slice::from_ref(&derived.reply_identity()), ciphertext)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&plain).contains(DESCRIPTION));
}

#[tokio::test]
async fn the_database_holds_no_plaintext_and_no_token() {
    let app = spawn_app().await;
    let secret_words = "Zorglub-Kappa-7731 a reçu une enveloppe";
    let html = app
        .submit_report(
            "fr",
            &[
                ("category", "undue_influence"),
                ("description", secret_words),
                ("place", "Salle Vercingétorix"),
            ],
        )
        .await;
    let token = Token::parse(&token_of(&html)).unwrap_or_else(|e| panic!("{e}"));
    let shown = token.display();
    let derived = crypto::derive_from_token(&token);
    let needles: Vec<Vec<u8>> = vec![
        b"Zorglub-Kappa-7731".to_vec(),
        "Vercingétorix".as_bytes().to_vec(),
        shown.expose_secret().as_bytes().to_vec(),
        shown.expose_secret().replace('-', "").into_bytes(),
        token.as_bytes().to_vec(),
        hex::encode(token.as_bytes()).into_bytes(),
        derived.lookup.to_vec(),
        hex::encode(*derived.lookup).into_bytes(),
    ];
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);

    // Every stored row, on either backend.
    let mut conn = app.conn();
    for case in Case::all(&mut conn).unwrap_or_else(|e| panic!("{e}")) {
        let mut bytes = format!("{:?}", case).into_bytes();
        bytes.extend_from_slice(&case.locator);
        for entry in case.entries(&mut conn).unwrap_or_else(|e| panic!("{e}")) {
            bytes.extend_from_slice(&entry.ciphertext);
            bytes.extend_from_slice(entry.id.as_str().as_bytes());
        }
        for needle in &needles {
            assert!(!contains(&bytes, needle), "a stored row holds a secret");
        }
    }
    // On SQLite, the files themselves: the database and its write-ahead log.
    if let Some(path) = app.db.sqlite_path() {
        let mut files = 0;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(bytes) = std::fs::read(&file) {
                files += 1;
                for needle in &needles {
                    assert!(
                        !contains(&bytes, needle),
                        "{} holds a secret",
                        file.display()
                    );
                }
            }
        }
        assert!(files >= 2, "the database and its WAL were read");
    }
}

#[tokio::test]
async fn bad_report_forms_get_a_translated_4xx_keep_the_text_and_store_nothing() {
    let app = spawn_app_with(|s| {
        s.max_description_chars = 200;
        s.max_field_chars = 50;
    })
    .await;
    let long_description = "x".repeat(201);
    let long_place = "p".repeat(51);
    // (what is sent, status, French message, text that must be shown again)
    let cases: Vec<FormCase> = vec![
        (
            vec![("category", "funds"), ("description", "")],
            400,
            "la description ne peut pas être vide",
            None,
        ),
        (
            vec![("category", "funds"), ("description", "   \r\n  ")],
            400,
            "la description ne peut pas être vide",
            None,
        ),
        (
            vec![("category", "funds")],
            400,
            "la description ne peut pas être vide",
            None,
        ),
        (
            vec![("category", "funds"), ("description", &long_description)],
            400,
            "La description est trop longue",
            Some(&long_description),
        ),
        (
            vec![("category", "weather"), ("description", "Texte gardé 1")],
            400,
            "Cette catégorie n&#39;existe pas",
            Some("Texte gardé 1"),
        ),
        (
            vec![("description", "Texte gardé 2")],
            400,
            "Choisissez la nature du manquement",
            Some("Texte gardé 2"),
        ),
        (
            vec![
                ("category", "funds"),
                ("description", "Texte gardé 3"),
                ("place", &long_place),
            ],
            400,
            "champs facultatifs est trop long",
            Some("Texte gardé 3"),
        ),
        (
            vec![
                ("category", "funds"),
                ("description", "Texte gardé 4"),
                ("privacy_ack", ""),
            ],
            400,
            "Confirmez avoir lu la notice",
            Some("Texte gardé 4"),
        ),
    ];
    for (fields, status, message, kept) in cases {
        let res = app.post_form("/fr/report", &fields).await;
        assert_eq!(res.status().as_u16(), status, "{fields:?}");
        let html = res.text().await.unwrap_or_default();
        assert!(html.contains(message), "{fields:?}: missing «{message}»");
        assert!(html.contains("id=\"form-error\""), "{fields:?}");
        if let Some(kept) = kept {
            assert!(html.contains(kept), "{fields:?}: the typed text was lost");
        }
    }
    assert_eq!(app.case_count(), 0, "nothing was stored");
}

#[tokio::test]
async fn malformed_requests_get_a_translated_4xx_never_a_500() {
    let app = spawn_app_with(|s| {
        s.max_body_bytes = 8 * 1024;
        s.max_ciphertext_bytes = 4096;
    })
    .await;
    let form = "application/x-www-form-urlencoded";
    let huge = format!("category=funds&description={}", "a".repeat(9 * 1024)).into_bytes();
    // (method, path, content type, body, status, message)
    let cases: Vec<RequestCase> = vec![
        ("POST", "/fr/report", form, huge, 413, "trop volumineux"),
        ("POST", "/en/report", form, huge_en(), 413, "too large"),
        (
            "POST",
            "/fr/report",
            form,
            b"category=funds&description=%FF%FE".to_vec(),
            400,
            "caractères illisibles",
        ),
        (
            "POST",
            "/en/report",
            form,
            b"category=funds&description=%C3%28".to_vec(),
            400,
            "unreadable characters",
        ),
        (
            "POST",
            "/fr/report",
            "application/json",
            b"{\"description\":\"x\"}".to_vec(),
            415,
            "mal formé",
        ),
        (
            "POST",
            "/fr/report",
            "text/plain",
            b"description=x".to_vec(),
            415,
            "mal formé",
        ),
        (
            "PUT",
            "/fr/report",
            form,
            b"category=funds&description=x".to_vec(),
            405,
            "n&#39;accepte pas ce type de requête",
        ),
        (
            "DELETE",
            "/en/report",
            form,
            Vec::new(),
            405,
            "does not accept this kind of request",
        ),
        (
            "GET",
            "/de/report",
            form,
            Vec::new(),
            404,
            "Cette page n&#39;existe pas",
        ),
        (
            "POST",
            "/de/report",
            form,
            b"category=funds&description=x".to_vec(),
            404,
            "Cette page n&#39;existe pas",
        ),
        (
            "GET",
            "/en/nowhere",
            form,
            Vec::new(),
            404,
            "This page does not exist",
        ),
        (
            "POST",
            "/fr/follow-up",
            form,
            b"token=%FF".to_vec(),
            400,
            "caractères illisibles",
        ),
    ];
    for (method, path, content_type, body, status, message) in cases {
        let res = app
            .client
            .request(
                method.parse().unwrap_or_default(),
                format!("{}{}", app.address, path),
            )
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(
            res.status().as_u16(),
            status,
            "{method} {path} {content_type}"
        );
        let html = res.text().await.unwrap_or_default();
        assert!(
            html.contains(message),
            "{method} {path}: missing «{message}»"
        );
    }
    assert_eq!(app.case_count(), 0);
}

fn huge_en() -> Vec<u8> {
    format!("category=funds&description={}", "b".repeat(9 * 1024)).into_bytes()
}

#[tokio::test]
async fn a_wrong_method_names_the_methods_allowed() {
    let app = spawn_app().await;
    for (path, allow) in [
        ("/fr/", "GET"),
        ("/fr/report", "GET, POST"),
        ("/fr/follow-up/message", "POST"),
    ] {
        let res = app
            .client
            .delete(format!("{}{}", app.address, path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 405, "{path}");
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_rejected_form_is_shown_again_with_every_field_typed() {
    let app = spawn_app().await;
    let fields = [
        ("category", "nope"),
        ("description", "Des faits <b>graves</b> & précis"),
        ("period", "mai"),
        ("place", "Dakar"),
        ("persons", "M. X"),
        ("evidence", "courriel"),
    ];
    let res = app.post_form("/fr/report", &fields).await;
    assert_eq!(res.status().as_u16(), 400);
    let html = res.text().await.unwrap_or_default();
    assert!(
        html.contains("Des faits &#60;b&#62;graves&#60;/b&#62; &#38; précis")
            && !html.contains("<b>graves"),
        "text kept and escaped"
    );
    for kept in [
        ">mai</textarea>",
        ">Dakar</textarea>",
        ">M. X</textarea>",
        ">courriel</textarea>",
    ] {
        assert!(html.contains(kept), "{kept}");
    }
}

#[tokio::test]
async fn the_follow_up_form_tells_a_typo_from_an_unknown_token_and_finds_a_real_one() {
    let app = spawn_app().await;
    let html = app
        .submit_report("fr", &[("category", "funds"), ("description", "Des faits")])
        .await;
    let token = token_of(&html);

    let mut typo: Vec<char> = token.chars().collect();
    typo[0] = if typo[0] == 'Z' { 'Y' } else { 'Z' };
    let typo: String = typo.into_iter().collect();
    let unknown = Token::generate().display().expose_secret().to_string();
    let sloppy = token.to_lowercase().replace('-', " ");

    let cases = [
        (typo.as_str(), 400, "faute de frappe"),
        ("ABC", 400, "faute de frappe"),
        ("", 400, "faute de frappe"),
        (unknown.as_str(), 404, "Aucun dossier ne correspond"),
        (
            token.as_str(),
            200,
            "Reçu, en attente d&#39;accusé de réception",
        ),
        (sloppy.as_str(), 200, "7 décembre 2026"),
    ];
    for (typed, status, message) in cases {
        let res = app.post_form("/fr/follow-up", &[("token", typed)]).await;
        assert_eq!(res.status().as_u16(), status, "{typed}");
        assert_eq!(
            res.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let body = res.text().await.unwrap_or_default();
        assert!(body.contains(message), "{typed}: missing «{message}»");
    }
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.unwrap_or_default(), "ok");
}

#[tokio::test]
async fn without_recipients_a_demo_key_is_made_and_every_page_says_so() {
    let app = spawn_app_with(|s| {
        s.recipients_file = s.data_dir.join("missing-recipients.txt");
    })
    .await;
    assert!(
        app.settings.data_dir.join("demo-secretary.key").is_file(),
        "a demo identity was written"
    );
    for path in ["/fr/", "/en/", "/fr/report", "/en/follow-up", "/fr/nowhere"] {
        let html = app.get(path).await.text().await.unwrap_or_default();
        assert!(
            html.contains("class=\"demo-banner\""),
            "{path} shows the demo banner"
        );
    }
    let html = app
        .submit_report("fr", &[("category", "funds"), ("description", "demo")])
        .await;
    assert!(html.contains("class=\"demo-banner\""));
}

#[tokio::test]
async fn with_real_recipients_no_page_mentions_a_demo() {
    let app = spawn_app().await;
    for path in ["/fr/", "/en/report", "/fr/follow-up"] {
        let html = app.get(path).await.text().await.unwrap_or_default();
        assert!(!html.contains("demo-banner"), "{path}");
    }
    assert!(!app.settings.data_dir.join("demo-secretary.key").exists());
}

#[tokio::test]
async fn the_procedure_privacy_notice_channels_and_advice_are_published_in_both_languages() {
    let app = spawn_app().await;
    let form = app.get("/fr/report").await.text().await.unwrap_or_default();
    for page in ["procedure", "privacy", "channels", "advice"] {
        assert!(
            form.contains(&format!("href=\"/fr/{page}\"")),
            "the form links to {page}"
        );
        for lang in ["fr", "en"] {
            let res = app.get(&format!("/{lang}/{page}")).await;
            assert_eq!(res.status().as_u16(), 200, "/{lang}/{page}");
            let html = res.text().await.unwrap_or_default();
            assert!(
                html.contains("<h2>") || html.contains("<h1>"),
                "/{lang}/{page} has content"
            );
        }
    }
    let fr = app
        .get("/fr/channels")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(fr.contains("Défenseur des droits"));
    let privacy = app
        .get("/en/privacy")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(privacy.contains("CNIL"));
}

#[tokio::test]
async fn the_secretariat_can_replace_a_text_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("fr")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("fr/advice.md"),
        "## Conseil local\n\nUn texte <em>propre</em> au secrétariat.",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let content_dir = dir.path().to_path_buf();
    let app = spawn_app_with(move |s| s.content_dir = content_dir).await;
    let html = app.get("/fr/advice").await.text().await.unwrap_or_default();
    assert!(html.contains("<h2>Conseil local</h2>"));
    assert!(
        !html.contains("<em>propre</em>"),
        "raw HTML is shown as text"
    );
    let en = app.get("/en/advice").await.text().await.unwrap_or_default();
    assert!(en.len() > 1000, "the other texts keep their defaults");
}
