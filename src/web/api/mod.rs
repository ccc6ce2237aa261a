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
use crate::crypto::Locator;

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
