//! What every handler needs to read a request and to refuse one: the
//! language (from the path or from `Accept-Language`), bodies read within
//! their limits (forms, JSON, age files in base64), and the shared error
//! answers (a JSON problem, the not-found page). Handlers import these from
//! here, never from one another.
// The error side of these results is the response to send, built at most
// once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use serde::Serialize;

use super::{
    form::{self, FormError},
    pages, AppState,
};
use crate::{crypto::AgeCiphertext, i18n::Lang};

#[derive(Serialize)]
struct Problem {
    error: &'static str,
    message: String,
}

/// A JSON error: a stable code for programs, a translated sentence for people.
pub fn problem(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    key: &'static str,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Problem {
            error: key
                .trim_start_matches("api-error-")
                .trim_start_matches("error-"),
            message: state.i18n.get(lang, key),
        })
}

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

/// Reads a JSON body of type `T`, or the error response to send.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    lang: Lang,
) -> Result<T, HttpResponse> {
    if !is_json(req) {
        return Err(problem(
            state,
            lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "api-error-content-type",
        ));
    }
    let body = match form::read_body(req, payload, state.limits.body_bytes).await {
        Ok(body) => body,
        Err(form::FormError::TooLarge) => {
            return Err(problem(
                state,
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                "api-error-too-large",
            ))
        }
        Err(form::FormError::TimedOut) => {
            return Err(problem(
                state,
                lang,
                StatusCode::REQUEST_TIMEOUT,
                "api-error-timeout",
            ))
        }
        Err(_) => {
            return Err(problem(
                state,
                lang,
                StatusCode::BAD_REQUEST,
                "api-error-json",
            ))
        }
    };
    serde_json::from_slice::<T>(&body)
        .map_err(|_| problem(state, lang, StatusCode::BAD_REQUEST, "api-error-json"))
}

/// Decodes and checks a base64 age file for the case's recipients.
pub fn parse_ciphertext(
    state: &AppState,
    lang: Lang,
    b64: &str,
) -> Result<AgeCiphertext, HttpResponse> {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) else {
        return Err(problem(
            state,
            lang,
            StatusCode::BAD_REQUEST,
            "api-error-not-age",
        ));
    };
    AgeCiphertext::parse(bytes, state.recipients.len(), state.limits.ciphertext_bytes)
        .map_err(|e| problem(state, lang, StatusCode::BAD_REQUEST, e.message_key()))
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
