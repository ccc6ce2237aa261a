//! The Permanent Secretary's workspace: login by key possession, inbox, case
//! page, workflow, journal, figures and attachment downloads. Every report
//! and reply is decrypted and encrypted in the Secretary's browser; the
//! server sees ciphertext only.
//!
//! Every route but the login ones sits behind [`guard::require_session`];
//! every error goes through [`error::WorkspaceError`].

mod attachments;
mod case;
mod error;
mod figures;
mod guard;
mod inbox;
mod journal;
mod referral;
mod retention;
mod session;
mod workflow;

use actix_web::{http::Method, middleware::from_fn, web, Route};

pub use error::{Refusal, WorkspaceError};
pub use guard::Session;

/// The `__Host-` prefix makes the browser refuse the cookie unless it is
/// `Secure`, has `Path=/` and no `Domain`: no sibling host can set or
/// shadow it.
pub const SESSION_COOKIE: &str = "__Host-vigie_session";
/// Idle limit of a session (and of the identity kept in the browser).
pub const IDLE_SECS: i64 = 15 * 60;
/// Absolute limit of a session.
pub const MAX_SECS: i64 = 8 * 60 * 60;

/// Where the workspace's API lives.
pub const API_PREFIX: &str = "/api/v1/secretary";
/// Where the workspace's pages live.
pub const PAGE_PREFIX: &str = "/{lang}/secretary";

/// One workspace route: its method, its path under its prefix, its handler.
pub struct WorkspaceRoute {
    pub method: Method,
    pub path: &'static str,
    handler: fn(Route) -> Route,
}

impl WorkspaceRoute {
    fn register(&self) -> Route {
        (self.handler)(web::route().method(self.method.clone()))
    }
}

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        &[$(WorkspaceRoute {
            method: Method::$method,
            path: $path,
            handler: |r| r.to($handler),
        }),*]
    };
}

/// API routes anyone may call: they are how a session is opened.
pub const PUBLIC_API: &[WorkspaceRoute] = routes![
    POST "/challenges" => session::issue_challenge,
    POST "/sessions" => session::open_session,
];

/// Pages anyone may see.
pub const PUBLIC_PAGES: &[WorkspaceRoute] = routes![
    GET "/login" => session::login_page,
];

/// API routes behind the session guard.
pub const GUARDED_API: &[WorkspaceRoute] = routes![
    POST "/logout" => session::close_session,
    GET "/cases/{id}/headers" => referral::headers,
    POST "/cases/{id}/reseal" => referral::reseal,
    POST "/cases/{id}/{action}" => workflow::case_action,
    GET "/cases/{case}/attachments/{id}" => attachments::download,
    GET "/figures/reports" => figures::reports,
    POST "/retention" => retention::confirm,
];

/// Pages behind the session guard.
pub const GUARDED_PAGES: &[WorkspaceRoute] = routes![
    GET "" => inbox::page,
    GET "/journal" => journal::page,
    GET "/cases/{id}" => case::page,
    GET "/figures" => figures::page,
    GET "/figures.csv" => figures::csv,
];

/// The workspace's routes, to be registered before the catch-all `/api`
/// scope and the reporter's `/{lang}/…` pages. Unknown paths and other
/// methods under the prefixes are behind the guard too, then answer 404;
/// the public paths answer 404 to other methods at once.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(scope(
        API_PREFIX,
        PUBLIC_API,
        GUARDED_API,
        crate::web::api::not_found,
    ))
    .service(scope(
        PAGE_PREFIX,
        PUBLIC_PAGES,
        GUARDED_PAGES,
        crate::web::request::not_found,
    ));
}

fn scope<F, Args>(
    prefix: &str,
    public: &[WorkspaceRoute],
    guarded: &[WorkspaceRoute],
    not_found: F,
) -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
>
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let mut outer = web::scope(prefix);
    for r in public {
        // Another method on a public path is refused here, before the guard.
        outer = outer.service(
            web::resource(r.path)
                .route(r.register())
                .default_service(web::to(not_found.clone())),
        );
    }
    let mut inner = web::scope("");
    for r in guarded {
        inner = inner.route(r.path, r.register());
    }
    let inner = inner
        .default_service(web::to(not_found))
        .wrap(from_fn(guard::require_session));
    outer.service(inner).wrap(from_fn(error::render))
}

/// Every workspace route as `(method, full path pattern, guarded)`.
pub fn route_list() -> Vec<(Method, String, bool)> {
    let list = |prefix: &str, routes: &[WorkspaceRoute], guarded: bool| {
        routes
            .iter()
            .map(|r| (r.method.clone(), format!("{prefix}{}", r.path), guarded))
            .collect::<Vec<_>>()
    };
    [
        list(API_PREFIX, PUBLIC_API, false),
        list(PAGE_PREFIX, PUBLIC_PAGES, false),
        list(API_PREFIX, GUARDED_API, true),
        list(PAGE_PREFIX, GUARDED_PAGES, true),
    ]
    .concat()
}

/// Reads a JSON body of type `T` within the body limit.
async fn read_json<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    state: &crate::web::AppState,
) -> Result<T, WorkspaceError> {
    if !crate::web::request::is_json(req) {
        return Err(WorkspaceError::Refused(Refusal::CONTENT_TYPE));
    }
    let body = crate::web::form::read_body(req, payload, state.limits.body_bytes)
        .await
        .map_err(|e| match e {
            crate::web::form::FormError::TooLarge | crate::web::form::FormError::TimedOut => {
                WorkspaceError::from(e)
            }
            _ => WorkspaceError::Refused(Refusal::JSON),
        })?;
    serde_json::from_slice(&body).map_err(|_| WorkspaceError::Refused(Refusal::JSON))
}

/// Decodes and checks a base64 age file for the recipients of a case of
/// `readership`.
fn parse_ciphertext(
    state: &crate::web::AppState,
    readership: crate::domain::Readership,
    b64: &str,
) -> Result<crate::crypto::AgeCiphertext, WorkspaceError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| WorkspaceError::Refused(Refusal::NOT_AGE))?;
    Ok(crate::crypto::AgeCiphertext::parse(
        bytes,
        state.readers.of(readership).len(),
        state.limits.ciphertext_bytes,
    )?)
}
