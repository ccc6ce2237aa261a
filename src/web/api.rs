//! The JSON API used by the pages (`/api/v1/…`). See `docs/api.md`.
// The error side of these results is the response to send, built at most
// once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use std::str::FromStr;

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    request::{header_lang, parse_ciphertext, problem, read_json},
    AppState,
};
use crate::{
    crypto::Locator,
    db::ClaimError,
    submission::{self, Stored, SubmitError},
};

/// `POST /api/v1/reports`: a report encrypted in the browser.
#[derive(Deserialize)]
struct NewReport {
    /// The binary age file, base64 (standard alphabet, padded).
    ciphertext: String,
    /// `L`, 32 bytes in hexadecimal.
    lookup: SecretString,
    /// `R`, the reporter's age X25519 recipient.
    recipient: String,
    /// Language of the error messages.
    #[serde(default)]
    lang: Option<String>,
    /// Attachments uploaded beforehand to `/api/v1/attachments`.
    #[serde(default)]
    attachments: Vec<String>,
    /// The reporter confirmed having read the privacy notice.
    #[serde(default)]
    privacy_acknowledged: bool,
}

#[derive(Serialize)]
struct Created {
    received_on: chrono::NaiveDate,
    ack_due: chrono::NaiveDate,
    feedback_due: chrono::NaiveDate,
}

impl From<Stored> for Created {
    fn from(s: Stored) -> Self {
        Created {
            received_on: s.received_on,
            ack_due: s.deadlines.ack_due,
            feedback_due: s.deadlines.feedback_due,
        }
    }
}

pub async fn create_report(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut lang = header_lang(&req);
    let report: NewReport = match read_json(&req, payload, &state, lang).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    if let Some(l) = report.lang.as_deref().and_then(|l| l.parse().ok()) {
        lang = l;
    }
    if !report.privacy_acknowledged {
        return problem(&state, lang, StatusCode::BAD_REQUEST, "api-error-privacy");
    }
    if report.attachments.len() > crate::db::MAX_PER_CLAIM {
        return problem(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            "api-error-attachment-unknown",
        );
    }
    let lookup: Option<Zeroizing<[u8; 32]>> = hex::decode(report.lookup.expose_secret().as_bytes())
        .ok()
        .map(Zeroizing::new)
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok().map(Zeroizing::new));
    let Some(lookup) = lookup else {
        return problem(&state, lang, StatusCode::BAD_REQUEST, "api-error-lookup");
    };
    let Ok(recipient) = age::x25519::Recipient::from_str(report.recipient.trim()) else {
        return problem(&state, lang, StatusCode::BAD_REQUEST, "api-error-recipient");
    };
    let ciphertext = match parse_ciphertext(&state, lang, &report.ciphertext) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let locator = Locator::from_lookup(&lookup);
    drop(lookup);
    let worker = state.clone();
    let stored = web::block(move || {
        submission::store_sealed(
            &worker.db,
            worker.clock.as_ref(),
            worker.notify_max_delay,
            &locator,
            &recipient,
            ciphertext,
            submission::Claimed {
                ids: &report.attachments,
                max_total: worker.limits.attachments_total(),
            },
        )
    })
    .await;
    match stored {
        Ok(Ok(stored)) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Created::from(stored)),
        Ok(Err(SubmitError::Attachment(ClaimError::Unknown))) => problem(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            "api-error-attachment-unknown",
        ),
        Ok(Err(SubmitError::Attachment(ClaimError::TooLarge))) => problem(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            "api-error-attachments-too-large",
        ),
        Ok(Err(SubmitError::Duplicate)) => {
            problem(&state, lang, StatusCode::CONFLICT, "api-error-duplicate")
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "report could not be stored");
            problem(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "api-error-unavailable",
            )
        }
        Err(_) => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

/// Any other method or path under `/api/`.
pub async fn not_found(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    problem(
        &state,
        header_lang(&req),
        StatusCode::NOT_FOUND,
        "error-not-found",
    )
}

pub async fn method_not_allowed(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let mut res = problem(
        &state,
        header_lang(&req),
        StatusCode::METHOD_NOT_ALLOWED,
        "error-method",
    );
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    res
}
