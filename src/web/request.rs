//! What every handler needs to read a request and to refuse one: the
//! language (from the path or from `Accept-Language`), bodies read within
//! their limits (forms, JSON, age files in base64), and the shared error
//! answers (the not-found page). Handlers import these from here, never
//! from one another.
//!
//! [`json_body`] and [`ciphertext_of`] refuse with an [`ApiError`]. The
//! answered forms ([`read_json`], [`parse_ciphertext`], [`problem`]) remain
//! for handlers that still build their error responses by hand.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;

use super::{
    api::ApiError,
    form::{self, FormError},
    pages, AppState,
};
use crate::{
    crypto::{AgeCiphertext, CiphertextError},
    i18n::Lang,
};

pub fn header_lang(req: &HttpRequest) -> Lang {
    Lang::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a JSON body of type `T`.
pub async fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    if !is_json(req) {
        return Err(ApiError::ContentType);
    }
    let body = form::read_body(req, payload, limit)
        .await
        .map_err(|e| match e {
            FormError::TooLarge => ApiError::TooLarge,
            FormError::TimedOut => ApiError::TimedOut,
            _ => ApiError::Json,
        })?;
    serde_json::from_slice::<T>(&body).map_err(|_| ApiError::Json)
}

/// Decodes and checks a base64 age file for the case's recipients.
pub fn ciphertext_of(
    b64: &str,
    recipients: usize,
    limit: usize,
) -> Result<AgeCiphertext, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| ApiError::Ciphertext(CiphertextError::NotAge))?;
    Ok(AgeCiphertext::parse(bytes, recipients, limit)?)
}

/// The identifier in the address segment `name`, if it is one: anything
/// else names nothing (and answers 404 where it is used).
pub fn path_id<T: std::str::FromStr>(req: &HttpRequest, name: &str) -> Option<T> {
    req.match_info().get(name).and_then(|s| s.parse().ok())
}

pub fn lang_of(req: &HttpRequest) -> Option<Lang> {
    req.match_info().get("lang").and_then(|l| l.parse().ok())
}

/// The language of a path that did not match any route, for its error page.
pub fn lang_guess(req: &HttpRequest) -> Lang {
    req.path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_default()
}

pub async fn not_found(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    pages::error_page(
        &state,
        lang_guess(&req),
        StatusCode::NOT_FOUND,
        "error-not-found",
    )
}

pub fn form_error_status(e: FormError) -> StatusCode {
    match e {
        FormError::TooLarge | FormError::TooManyParts => StatusCode::PAYLOAD_TOO_LARGE,
        FormError::TimedOut => StatusCode::REQUEST_TIMEOUT,
        FormError::NotAForm => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        FormError::InvalidEncoding | FormError::Broken => StatusCode::BAD_REQUEST,
    }
}

pub async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<form::Field>, FormError> {
    if !form::is_urlencoded(req) {
        return Err(FormError::NotAForm);
    }
    let body = form::read_body(req, payload, limit).await?;
    form::parse_urlencoded(&body)
}
