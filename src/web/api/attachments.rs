//! `POST /api/v1/attachments`: one file, encrypted in the browser, as a
//! binary age file in the request body (`application/octet-stream`),
//! streamed into pending storage until a report or message claims it.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::{readership_of, ApiError, ApiProblem};
use crate::{
    domain::AttachmentId,
    service::upload::{self, SealedLimits, StoreError},
    web::{request::header_lang, AppState},
};

#[derive(Serialize)]
struct Uploaded {
    id: AttachmentId,
    size: u64,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Ciphertext(c) => ApiError::Ciphertext(c),
            StoreError::TooLarge => ApiError::AttachmentTooLarge,
            StoreError::Store(db) => ApiError::unavailable(db),
        }
    }
}

pub async fn upload(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiProblem> {
    let lang = header_lang(&req);
    let stored = async {
        let binary = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
        if !binary {
            return Err(ApiError::ContentTypeBinary);
        }
        // Sealed for the readers of the case that will claim it (the
        // report's choice, or the case's readers for a message).
        let query =
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .map_err(|_| ApiError::Readership)?;
        let readership = readership_of(&state, query.get("readership").map(String::as_str))?;
        let limits = SealedLimits {
            ciphertext_bytes: state.limits.attachment_ciphertext_bytes(),
            file_bytes: state.limits.attachment_bytes,
            pending_until: state.clock.now() + state.limits.attachment_pending_secs,
            readership,
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.ciphertext_bytes) {
            return Err(ApiError::AttachmentTooLarge);
        }
        Ok(upload::store_sealed_stream(
            &state.db,
            state.readers.of(readership).len(),
            limits,
            &mut payload,
        )
        .await?)
    }
    .await;
    let (id, size) = stored.map_err(|e| e.in_lang(&state.i18n, lang))?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Uploaded { id, size }))
}
