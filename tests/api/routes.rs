//! Every workspace route, taken from the application's own route table, is
//! closed without a session, and closed to changes without the CSRF token.

use reqwest::Method;
use serde_json::Value;
use vigie::web::workspace::route_list;

use crate::{
    helpers::{spawn_app, TestApp},
    workspace::{login, Secretary},
};

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{lang}", "fr")
        .replace("{action}", "review")
        .replace("{case}", "some-case")
        .replace("{id}", "some-id")
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
) -> reqwest::Response {
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let mut req = app
        .client
        .request(method, format!("{}{}", app.address, path))
        .header("Content-Type", "application/json")
        .body("{}");
    if let Some((cookie, csrf)) = auth {
        req = req.header("Cookie", cookie).header("X-CSRF-Token", csrf);
    }
    req.send().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn error_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap_or(Value::Null);
    body["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_route_table_lists_every_workspace_route_and_most_are_guarded() {
    let routes = route_list();
    let public: Vec<String> = routes
        .iter()
        .filter(|(_, _, guarded)| !guarded)
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(
        public,
        [
            "POST /api/v1/secretary/challenges",
            "POST /api/v1/secretary/sessions",
            "GET /{lang}/secretary/login",
        ],
        "only the way in is public"
    );
    assert!(routes.iter().filter(|(_, _, guarded)| *guarded).count() >= 9);
}

#[tokio::test]
async fn every_guarded_workspace_route_refuses_a_caller_without_a_session() {
    let app = spawn_app().await;
    for (method, pattern, guarded) in route_list() {
        if !guarded {
            continue;
        }
        let path = concrete(&pattern);
        for cookie in [None, Some(("__Host-vigie_session=ffff", "x"))] {
            let res = call(&app, method.as_str(), &path, cookie).await;
            let status = res.status().as_u16();
            if path.starts_with("/api/") {
                assert_eq!(status, 401, "{method} {pattern}");
                assert_eq!(error_code(res).await, "session", "{method} {pattern}");
            } else {
                assert_eq!(status, 303, "{method} {pattern}");
                let to = res
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert_eq!(to, "/fr/secretary/login", "{method} {pattern}");
            }
        }
    }
}

#[tokio::test]
async fn every_guarded_workspace_change_refuses_a_session_without_its_csrf_token() {
    let app = spawn_app().await;
    let Secretary { cookie, csrf, .. } = login(&app).await;
    let mut changes = 0;
    for (method, pattern, guarded) in route_list() {
        if !guarded || method == "GET" || method == "HEAD" {
            continue;
        }
        changes += 1;
        let path = concrete(&pattern);
        for token in ["", "00", csrf.get(1..).unwrap_or_default()] {
            let res = call(&app, method.as_str(), &path, Some((&cookie, token))).await;
            assert_eq!(res.status().as_u16(), 403, "{method} {pattern}");
            assert_eq!(error_code(res).await, "csrf", "{method} {pattern}");
        }
    }
    assert!(
        changes >= 2,
        "the logout and the workflow steps change state"
    );
    // The session is still open: nothing was done.
    let res = call(&app, "GET", "/fr/secretary", Some((&cookie, ""))).await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_workspace_paths_are_behind_the_guard_too() {
    let app = spawn_app().await;
    let res = call(&app, "GET", "/api/v1/secretary/nothing-here", None).await;
    assert_eq!(res.status().as_u16(), 401);
    let res = call(&app, "GET", "/fr/secretary/nothing-here", None).await;
    assert_eq!(res.status().as_u16(), 303);
    let Secretary { cookie, csrf, .. } = login(&app).await;
    let res = call(
        &app,
        "GET",
        "/api/v1/secretary/nothing-here",
        Some((&cookie, &csrf)),
    )
    .await;
    assert_eq!(res.status().as_u16(), 404);
    let res = call(
        &app,
        "GET",
        "/fr/secretary/nothing-here",
        Some((&cookie, &csrf)),
    )
    .await;
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn the_public_workspace_routes_answer_other_methods_with_404_without_a_session() {
    let app = spawn_app().await;
    for (method, pattern, guarded) in route_list() {
        if guarded {
            continue;
        }
        let other = if method == "GET" { "POST" } else { "GET" };
        let res = call(&app, other, &concrete(&pattern), None).await;
        assert_eq!(res.status().as_u16(), 404, "{other} {pattern}");
    }
}
