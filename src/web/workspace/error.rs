//! The workspace's one error type. A handler returns
//! `Result<HttpResponse, WorkspaceError>` and uses `?`; the answer is built
//! here: the JSON problem (`{"error": code, "message": …}`) for the API, the
//! login redirect or the error page for pages, in the request's language.
//! The cause of every 5xx is logged once, here, and never with request data.

use std::fmt;

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    middleware::Next,
    web, HttpRequest, HttpResponse, ResponseError,
};
use serde::Serialize;

use crate::{
    db::DbError,
    i18n::Lang,
    service::workflow::{StepError, WorkflowError},
    web::{
        form::FormError,
        pages,
        request::{header_lang, lang_of},
        AppState,
    },
};

/// Input the workspace refuses: the status, the stable public code and the
/// translation key of the sentence shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub key: &'static str,
}

impl Refusal {
    const fn new(status: StatusCode, code: &'static str, key: &'static str) -> Self {
        Refusal { status, code, key }
    }

    pub const JSON: Refusal = Refusal::new(StatusCode::BAD_REQUEST, "json", "api-error-json");
    pub const CONTENT_TYPE: Refusal = Refusal::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content-type",
        "api-error-content-type",
    );
    pub const BODY_TOO_LARGE: Refusal = Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "api-error-too-large",
    );
    pub const TIMED_OUT: Refusal =
        Refusal::new(StatusCode::REQUEST_TIMEOUT, "timeout", "api-error-timeout");
    pub const NOT_AGE: Refusal =
        Refusal::new(StatusCode::BAD_REQUEST, "not-age", "api-error-not-age");
    pub const RECIPIENTS: Refusal = Refusal::new(
        StatusCode::BAD_REQUEST,
        "recipients",
        "api-error-recipients",
    );
    pub const PAYLOAD: Refusal =
        Refusal::new(StatusCode::BAD_REQUEST, "payload", "api-error-payload");
    pub const CIPHERTEXT_TOO_LARGE: Refusal =
        Refusal::new(StatusCode::BAD_REQUEST, "too-large", "api-error-too-large");
    pub const REASON: Refusal = Refusal::new(StatusCode::BAD_REQUEST, "reason", "api-error-reason");
    pub const CLOSED: Refusal = Refusal::new(StatusCode::CONFLICT, "closed", "api-error-closed");
    pub const TRANSITION: Refusal =
        Refusal::new(StatusCode::CONFLICT, "transition", "api-error-transition");
    pub const CHALLENGE: Refusal =
        Refusal::new(StatusCode::UNAUTHORIZED, "challenge", "api-error-challenge");
    pub const WRONG_KEY: Refusal =
        Refusal::new(StatusCode::UNAUTHORIZED, "wrong-key", "api-error-wrong-key");
    pub const UNKNOWN_KEY: Refusal = Refusal::new(
        StatusCode::BAD_REQUEST,
        "unknown-key",
        "api-error-unknown-key",
    );
    pub const ON_HOLD: Refusal = Refusal::new(StatusCode::CONFLICT, "on-hold", "api-error-on-hold");
    pub const RETENTION: Refusal =
        Refusal::new(StatusCode::BAD_REQUEST, "retention", "api-error-retention");
    pub const CONFIRM: Refusal =
        Refusal::new(StatusCode::BAD_REQUEST, "confirm", "api-error-confirm");
    pub const REFERRAL: Refusal =
        Refusal::new(StatusCode::CONFLICT, "referral", "api-error-referral");
    pub const INCOMPLETE: Refusal = Refusal::new(
        StatusCode::BAD_REQUEST,
        "incomplete",
        "api-error-incomplete",
    );
    pub const READERS_CHANGED: Refusal = Refusal::new(
        StatusCode::CONFLICT,
        "readers-changed",
        "api-error-readers-changed",
    );
}

/// Why the workspace did not do what was asked.
#[derive(Debug)]
pub enum WorkspaceError {
    /// No live session: `expired` when it timed out just now.
    Unauthorized { expired: bool },
    /// A change without the session's CSRF token.
    Forbidden,
    /// No such page, case or attachment.
    NotFound,
    /// The request was wrong (4xx, safe to show).
    Refused(Refusal),
    /// Something broke (503): the cause goes to the log, not to the client.
    Unavailable(anyhow::Error),
}

impl fmt::Display for WorkspaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkspaceError::Unauthorized { .. } => f.write_str("no live session"),
            WorkspaceError::Forbidden => f.write_str("missing or wrong CSRF token"),
            WorkspaceError::NotFound => f.write_str("not found"),
            WorkspaceError::Refused(r) => write!(f, "refused: {}", r.code),
            WorkspaceError::Unavailable(e) => write!(f, "the workspace is unavailable: {e:#}"),
        }
    }
}

impl std::error::Error for WorkspaceError {}

impl WorkspaceError {
    /// For causes without an error of their own.
    pub fn unavailable(why: &'static str) -> Self {
        WorkspaceError::Unavailable(anyhow::anyhow!(why))
    }

    fn api_parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            WorkspaceError::Unauthorized { .. } => {
                (StatusCode::UNAUTHORIZED, "session", "api-error-session")
            }
            WorkspaceError::Forbidden => (StatusCode::FORBIDDEN, "csrf", "api-error-csrf"),
            WorkspaceError::NotFound => (StatusCode::NOT_FOUND, "not-found", "error-not-found"),
            WorkspaceError::Refused(r) => (r.status, r.code, r.key),
            WorkspaceError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "api-error-unavailable",
            ),
        }
    }

    /// The JSON problem, in `lang`.
    pub fn to_problem(&self, state: &AppState, lang: Lang) -> HttpResponse {
        let (status, code, key) = self.api_parts();
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Problem {
                error: code,
                message: state.i18n.get(lang, key),
            })
    }

    /// The answer for a page: the login page or an error page, in `lang`.
    pub fn to_page(&self, state: &AppState, lang: Lang) -> HttpResponse {
        match self {
            WorkspaceError::Unauthorized { expired } => to_login(lang, *expired),
            WorkspaceError::Forbidden => {
                pages::error_page(state, lang, StatusCode::FORBIDDEN, "api-error-csrf")
            }
            WorkspaceError::NotFound => {
                pages::error_page(state, lang, StatusCode::NOT_FOUND, "error-not-found")
            }
            WorkspaceError::Refused(r) => pages::error_page(state, lang, r.status, r.key),
            WorkspaceError::Unavailable(_) => pages::error_page(
                state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "error-unavailable",
            ),
        }
    }

    /// The answer to `req`: a page under `/{lang}/…`, a problem under `/api/`.
    pub fn respond_to(&self, req: &HttpRequest) -> HttpResponse {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return self.error_response();
        };
        if is_api(req.path()) {
            self.to_problem(state, header_lang(req))
        } else {
            match lang_of(req) {
                Some(lang) => self.to_page(state, lang),
                None => pages::error_page(
                    state,
                    crate::web::request::lang_guess(req),
                    StatusCode::NOT_FOUND,
                    "error-not-found",
                ),
            }
        }
    }

    /// Logs the cause of a 5xx, once, without anything from the request.
    pub fn log(&self) {
        if let WorkspaceError::Unavailable(cause) = self {
            tracing::error!(
                error = format!("{cause:#}"),
                "the workspace could not answer"
            );
        }
    }
}

pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

#[derive(Serialize)]
struct Problem {
    error: &'static str,
    message: String,
}

pub fn to_login(lang: Lang, expired: bool) -> HttpResponse {
    let query = if expired { "?expired=1" } else { "" };
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/{}/secretary/login{query}", lang.code()),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

impl ResponseError for WorkspaceError {
    fn status_code(&self) -> StatusCode {
        self.api_parts().0
    }

    /// Without the request: the code alone. [`render`] replaces it with the
    /// translated answer for every workspace route.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        let (status, code, _) = self.api_parts();
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Problem {
                error: code,
                message: String::new(),
            })
    }
}

/// Middleware over every workspace route: turns a [`WorkspaceError`] into
/// its translated answer (a problem or a page) and logs 5xx causes once.
pub async fn render(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let answer = res
        .response()
        .error()
        .and_then(|e| e.as_error::<WorkspaceError>())
        .map(|e| {
            e.log();
            e.respond_to(res.request())
        });
    Ok(match answer {
        Some(answer) => res.into_response(answer),
        None => res.map_into_boxed_body(),
    })
}

impl From<DbError> for WorkspaceError {
    fn from(e: DbError) -> Self {
        WorkspaceError::Unavailable(e.into())
    }
}

impl From<diesel::result::Error> for WorkspaceError {
    fn from(e: diesel::result::Error) -> Self {
        WorkspaceError::Unavailable(e.into())
    }
}

impl From<crate::blocking::Cancelled> for WorkspaceError {
    fn from(e: crate::blocking::Cancelled) -> Self {
        WorkspaceError::Unavailable(e.into())
    }
}

impl From<FormError> for WorkspaceError {
    fn from(e: FormError) -> Self {
        WorkspaceError::Refused(match e {
            FormError::TooLarge | FormError::TooManyParts => Refusal::BODY_TOO_LARGE,
            FormError::TimedOut => Refusal::TIMED_OUT,
            FormError::NotAForm => Refusal::CONTENT_TYPE,
            FormError::InvalidEncoding | FormError::Broken => Refusal::JSON,
        })
    }
}

impl From<crate::crypto::CiphertextError> for WorkspaceError {
    fn from(e: crate::crypto::CiphertextError) -> Self {
        use crate::crypto::CiphertextError as C;
        WorkspaceError::Refused(match e {
            C::NotAge | C::Armored | C::BadHeader => Refusal::NOT_AGE,
            C::WrongRecipientCount | C::ForeignRecipient => Refusal::RECIPIENTS,
            C::BadPayload => Refusal::PAYLOAD,
            C::TooLarge => Refusal::CIPHERTEXT_TOO_LARGE,
        })
    }
}

impl From<StepError> for WorkspaceError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Workflow(WorkflowError::NotFound) => WorkspaceError::NotFound,
            StepError::Workflow(WorkflowError::Closed) => WorkspaceError::Refused(Refusal::CLOSED),
            StepError::Workflow(WorkflowError::OnHold) => WorkspaceError::Refused(Refusal::ON_HOLD),
            StepError::Workflow(WorkflowError::ReadersChanged) => {
                WorkspaceError::Refused(Refusal::READERS_CHANGED)
            }
            StepError::Workflow(WorkflowError::Illegal) => {
                WorkspaceError::Refused(Refusal::TRANSITION)
            }
            e => WorkspaceError::Unavailable(e.into()),
        }
    }
}
