use crate::helpers::spawn_app;

const REQUIRED: [(&str, &str); 6] = [
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", "camera=()"),
];

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let css = {
        let html = app.get("/fr/").await.text().await.unwrap_or_default();
        let start = html
            .find("/static/")
            .unwrap_or_else(|| panic!("no stylesheet"));
        let end = html[start..].find('"').map(|e| start + e).unwrap_or(start);
        html[start..end].to_string()
    };
    let paths = [
        "/",
        "/fr/",
        "/en/report",
        "/fr/follow-up",
        "/healthz",
        "/nowhere",
        css.as_str(),
    ];
    for path in paths {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: CSP lacks {directive}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}");
        for (name, want) in REQUIRED {
            let got = h
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(got.contains(want), "{path}: {name} is «{got}»");
        }
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS unless configured"
        );
        assert!(h.get("set-cookie").is_none(), "{path} sets a cookie");
    }
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = crate::helpers::spawn_app_with(|s| s.hsts = true).await;
    let res = app.get("/fr/").await;
    let hsts = res
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok());
    assert!(hsts.is_some_and(|v| v.contains("max-age=")));
}

#[tokio::test]
async fn the_stylesheet_has_a_content_hashed_name_immutable_caching_sri_and_compression() {
    let app = spawn_app().await;
    let html = app.get("/en/").await.text().await.unwrap_or_default();
    assert!(
        html.contains("integrity=\"sha384-"),
        "the stylesheet is referenced with SRI"
    );
    let start = html
        .find("/static/vigie.")
        .unwrap_or_else(|| panic!("no hashed stylesheet"));
    let end = html[start..].find('"').map(|e| start + e).unwrap_or(start);
    let path = &html[start..end];
    let res = app
        .client
        .get(format!("{}{}", app.address, path))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let h = res.headers();
    assert!(h
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("immutable")));
    assert_eq!(
        h.get("content-encoding").and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    assert_eq!(
        app.get("/static/vigie.0000.css").await.status().as_u16(),
        404
    );
}

#[tokio::test]
async fn pages_with_secrets_are_never_compressed() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/fr/report", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept-Encoding", "gzip, br")
        .body("category=funds&description=faits&privacy_ack=yes")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let encoding = res
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    assert_eq!(encoding, "identity");
}
