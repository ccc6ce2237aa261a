//! Why a request to the reporter API (`/api/v1/reports`, `/api/v1/cases/…`,
//! `/api/v1/attachments`) was refused: one variant a reason, each with its
//! stable public code (see `docs/api.md`), its status and its translated
//! message. The cause of a 5xx is logged once, when the answer is built,
//! and never with anything the request carried.

use actix_web::{
    http::{header, StatusCode},
    HttpResponse, ResponseError,
};
use serde::Serialize;

use crate::{
    crypto::CiphertextError,
    db::{ClaimError, DbError},
    i18n::{I18n, Lang},
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not JSON")]
    ContentType,
    #[error("the body is not application/octet-stream")]
    ContentTypeBinary,
    #[error("the body is over its limit")]
    TooLarge,
    #[error("the body came too slowly")]
    TimedOut,
    #[error("the body is not the expected JSON")]
    Json,
    #[error("the ciphertext is refused: {0}")]
    Ciphertext(CiphertextError),
    #[error("the privacy notice was not acknowledged")]
    Privacy,
    #[error("the lookup is not 32 bytes in hexadecimal")]
    Lookup,
    #[error("the reporter's recipient is not an age X25519 recipient")]
    Recipient,
    #[error("an attachment is unknown or already claimed")]
    AttachmentUnknown,
    #[error("the attachments are over the total limit")]
    AttachmentsTooLarge,
    #[error("the attachment is over its limit")]
    AttachmentTooLarge,
    #[error("a case already has this locator")]
    Duplicate,
    #[error("this form was already sent and stored")]
    AlreadySent,
    #[error("the submission key is not a random UUID")]
    Submission,
    #[error("the commit's outcome is unknown: it may have been stored")]
    MaybeStored,
    #[error("no case has this locator")]
    UnknownCase,
    #[error("too many requests this minute")]
    Busy,
    #[error("the case is closed")]
    Closed,
    #[error("the readers named are not Secretary or Bureau, or there is no Bureau")]
    Readership,
    #[error("the case's readers changed while the message was sealed")]
    ReadersChanged,
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the service is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A failure of the service itself (storage, sealing), with its cause.
    pub fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Unavailable(Box::new(cause))
    }

    /// The public code, stable across versions: programs match on it.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::ContentType => "content-type",
            ApiError::ContentTypeBinary => "content-type-binary",
            ApiError::TooLarge => "too-large",
            ApiError::TimedOut => "timeout",
            ApiError::Json => "json",
            ApiError::Ciphertext(e) => match e {
                CiphertextError::NotAge | CiphertextError::Armored | CiphertextError::BadHeader => {
                    "not-age"
                }
                CiphertextError::WrongRecipientCount | CiphertextError::ForeignRecipient => {
                    "recipients"
                }
                CiphertextError::BadPayload => "payload",
                CiphertextError::TooLarge => "too-large",
            },
            ApiError::Privacy => "privacy",
            ApiError::Lookup => "lookup",
            ApiError::Recipient => "recipient",
            ApiError::AttachmentUnknown => "attachment-unknown",
            ApiError::AttachmentsTooLarge => "attachments-too-large",
            ApiError::AttachmentTooLarge => "attachment-too-large",
            ApiError::Duplicate => "duplicate",
            ApiError::AlreadySent => "already-sent",
            ApiError::Submission => "submission",
            ApiError::MaybeStored => "maybe-stored",
            ApiError::UnknownCase => "unknown-case",
            ApiError::Busy => "busy",
            ApiError::Closed => "closed",
            ApiError::Readership => "readership",
            ApiError::ReadersChanged => "readers-changed",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed => "method",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    /// The message catalogue key of the sentence shown to people.
    fn message_key(&self) -> &'static str {
        match self {
            ApiError::ContentType => "api-error-content-type",
            ApiError::ContentTypeBinary => "api-error-content-type-binary",
            ApiError::TooLarge => "api-error-too-large",
            ApiError::TimedOut => "api-error-timeout",
            ApiError::Json => "api-error-json",
            ApiError::Ciphertext(e) => e.message_key(),
            ApiError::Privacy => "api-error-privacy",
            ApiError::Lookup => "api-error-lookup",
            ApiError::Recipient => "api-error-recipient",
            ApiError::AttachmentUnknown => "api-error-attachment-unknown",
            ApiError::AttachmentsTooLarge => "api-error-attachments-too-large",
            ApiError::AttachmentTooLarge => "api-error-attachment-too-large",
            ApiError::Duplicate => "api-error-duplicate",
            ApiError::AlreadySent => "api-error-already-sent",
            ApiError::Submission => "api-error-submission",
            ApiError::MaybeStored => "api-error-maybe-stored",
            ApiError::UnknownCase => "api-error-unknown-case",
            ApiError::Busy => "error-busy",
            ApiError::Closed => "api-error-closed",
            ApiError::Readership => "error-no-bureau",
            ApiError::ReadersChanged => "api-error-readers-changed",
            ApiError::NotFound => "error-not-found",
            ApiError::MethodNotAllowed => "error-method",
            ApiError::Unavailable(_) => "api-error-unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::ContentType | ApiError::ContentTypeBinary => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::TooLarge | ApiError::AttachmentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            ApiError::Json
            | ApiError::Ciphertext(_)
            | ApiError::Privacy
            | ApiError::Lookup
            | ApiError::Recipient
            | ApiError::AttachmentUnknown
            | ApiError::AttachmentsTooLarge
            | ApiError::Submission
            | ApiError::Readership => StatusCode::BAD_REQUEST,
            ApiError::Duplicate
            | ApiError::AlreadySent
            | ApiError::Closed
            | ApiError::ReadersChanged => StatusCode::CONFLICT,
            ApiError::UnknownCase | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Busy => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::MaybeStored => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer in the reader's language. A 5xx logs its cause here, once.
    pub fn in_lang(self, i18n: &I18n, lang: Lang) -> ApiProblem {
        if let ApiError::Unavailable(cause) = &self {
            tracing::error!(error = %cause, cause = %crate::telemetry::causes(cause.as_ref()), "reporter API request failed");
        }
        ApiProblem {
            status: self.status(),
            code: self.code(),
            message: i18n.get(lang, self.message_key()),
        }
    }
}

impl From<ClaimError> for ApiError {
    fn from(e: ClaimError) -> Self {
        match e {
            ClaimError::Unknown => ApiError::AttachmentUnknown,
            ClaimError::TooLarge => ApiError::AttachmentsTooLarge,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::unavailable(e)
    }
}

impl From<CiphertextError> for ApiError {
    fn from(e: CiphertextError) -> Self {
        ApiError::Ciphertext(e)
    }
}

/// A refusal, translated: what the handler returns as its error.
#[derive(Debug)]
pub struct ApiProblem {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl std::fmt::Display for ApiProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)
    }
}

impl ResponseError for ApiProblem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            res.insert_header((header::ALLOW, "POST"));
        }
        res.json(Body {
            error: self.code,
            message: &self.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_refusal() -> Vec<ApiError> {
        vec![
            ApiError::ContentType,
            ApiError::ContentTypeBinary,
            ApiError::TooLarge,
            ApiError::TimedOut,
            ApiError::Json,
            ApiError::Ciphertext(CiphertextError::NotAge),
            ApiError::Ciphertext(CiphertextError::Armored),
            ApiError::Ciphertext(CiphertextError::BadHeader),
            ApiError::Ciphertext(CiphertextError::WrongRecipientCount),
            ApiError::Ciphertext(CiphertextError::ForeignRecipient),
            ApiError::Ciphertext(CiphertextError::BadPayload),
            ApiError::Ciphertext(CiphertextError::TooLarge),
            ApiError::Privacy,
            ApiError::Lookup,
            ApiError::Recipient,
            ApiError::AttachmentUnknown,
            ApiError::AttachmentsTooLarge,
            ApiError::AttachmentTooLarge,
            ApiError::Duplicate,
            ApiError::AlreadySent,
            ApiError::Submission,
            ApiError::MaybeStored,
            ApiError::UnknownCase,
            ApiError::Busy,
            ApiError::Closed,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::unavailable(DbError::Blocking),
        ]
    }

    #[test]
    fn every_public_code_is_its_message_key_without_prefix() {
        for e in every_refusal() {
            let key = e.message_key();
            let stripped = key
                .trim_start_matches("api-error-")
                .trim_start_matches("error-");
            assert_eq!(e.code(), stripped, "{e:?}");
        }
    }

    #[test]
    fn every_refusal_is_translated_in_french_and_english() {
        let i18n = I18n::load().unwrap_or_else(|e| panic!("{e}"));
        for e in every_refusal() {
            for lang in [Lang::Fr, Lang::En] {
                assert!(i18n.has(lang, e.message_key()), "{e:?} in {lang:?}");
            }
        }
    }

    #[test]
    fn the_public_codes_keep_their_statuses() {
        let table = [
            (ApiError::ContentType, 415, "content-type"),
            (ApiError::TooLarge, 413, "too-large"),
            (
                ApiError::Ciphertext(CiphertextError::TooLarge),
                400,
                "too-large",
            ),
            (ApiError::AttachmentsTooLarge, 400, "attachments-too-large"),
            (ApiError::AttachmentTooLarge, 413, "attachment-too-large"),
            (ApiError::Duplicate, 409, "duplicate"),
            (ApiError::AlreadySent, 409, "already-sent"),
            (ApiError::Submission, 400, "submission"),
            (ApiError::MaybeStored, 503, "maybe-stored"),
            (ApiError::UnknownCase, 404, "unknown-case"),
            (ApiError::Busy, 429, "busy"),
            (ApiError::TimedOut, 408, "timeout"),
            (ApiError::Readership, 400, "readership"),
            (ApiError::ReadersChanged, 409, "readers-changed"),
            (ApiError::unavailable(DbError::Blocking), 503, "unavailable"),
        ];
        for (e, status, code) in table {
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{e:?}");
        }
    }
}
