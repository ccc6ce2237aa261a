//! The reporter API used by the pages (`/api/v1/…`; see `docs/api.md`):
//! reports sealed in the browser ([`reports`]), the follow-up of a case by
//! its locator ([`cases`]), attachments sealed in the browser
//! ([`attachments`]). Each handler reads the request, calls one use case
//! of `service`, and answers; every refusal is an [`ApiError`].

mod attachments;
mod cases;
mod error;
mod reports;

pub use attachments::upload;
pub use cases::{api_lookup, api_message};
pub use error::{ApiError, ApiProblem};
pub use reports::create_report;

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{request::header_lang, AppState};
use crate::{
    crypto::Locator,
    domain::{AttachmentId, Readership, SubmissionKey},
};

/// A form's one-time key, when the browser sends one: a random UUID.
fn submission_of(named: Option<&str>) -> Result<Option<SubmissionKey>, ApiError> {
    named
        .map(|k| SubmissionKey::parse(k).ok_or(ApiError::Submission))
        .transpose()
}

/// `L`, 32 bytes in hexadecimal, as the browser sends it: the locator it
/// names. The decoded bytes are zeroized.
fn locator_of(lookup: &SecretString) -> Result<Locator, ApiError> {
    let bytes = hex::decode(lookup.expose_secret().as_bytes()).map(Zeroizing::new);
    let lookup = bytes
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .map(Zeroizing::new)
        .ok_or(ApiError::Lookup)?;
    Ok(Locator::from_lookup(&lookup))
}

/// The files a report or message names, as uploaded beforehand: at most
/// as many as one claim takes, each an identifier (anything else names no
/// upload, and is refused as one).
fn attachment_ids(names: &[String]) -> Result<Vec<AttachmentId>, ApiError> {
    if names.len() > crate::db::MAX_PER_CLAIM {
        return Err(ApiError::AttachmentUnknown);
    }
    names
        .iter()
        .map(|n| AttachmentId::parse(n).ok_or(ApiError::AttachmentUnknown))
        .collect()
}

/// The readers a browser names for a report or an upload: `secretary`
/// (the default) or `bureau` when the report concerns the Permanent
/// Secretary; `both` for the files of a case both read. Refused when it is
/// anything else, or names a Bureau that has no key.
fn readership_of(state: &AppState, named: Option<&str>) -> Result<Readership, ApiError> {
    let readership = match named {
        None => Readership::Secretary,
        Some(name) => Readership::parse(name).ok_or(ApiError::Readership)?,
    };
    if readership != Readership::Secretary && !state.readers.has_bureau() {
        return Err(ApiError::Readership);
    }
    Ok(readership)
}

/// Any other method or path under `/api/`.
pub async fn not_found(req: HttpRequest, state: actix_web::web::Data<AppState>) -> HttpResponse {
    ApiError::NotFound
        .in_lang(&state.i18n, header_lang(&req))
        .error_response()
}

pub async fn method_not_allowed(
    req: HttpRequest,
    state: actix_web::web::Data<AppState>,
) -> HttpResponse {
    ApiError::MethodNotAllowed
        .in_lang(&state.i18n, header_lang(&req))
        .error_response()
}
