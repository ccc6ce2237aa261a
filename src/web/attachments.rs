//! Attachments: uploads streamed into chunked storage, never held whole in
//! memory, never written to disk in plaintext; downloads streamed back.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use futures_util::StreamExt;
use serde::Serialize;

use super::{
    request::{header_lang, problem},
    AppState,
};
use crate::{
    crypto,
    db::{self, Attachment, Db, CHUNK_BYTES},
    i18n::Lang,
};

/// An upload being written, chunk by chunk, into pending storage.
pub struct Upload {
    pub id: String,
    db: Db,
    seq: i32,
    buf: Vec<u8>,
    pub size: u64,
}

impl Upload {
    pub async fn start(state: &web::Data<AppState>) -> Result<Upload, db::DbError> {
        let id = uuid::Uuid::new_v4().to_string();
        let until = state.clock.now() + state.limits.attachment_pending_secs;
        let database = state.db.clone();
        let stored = id.clone();
        web::block(move || database.write(|conn| Attachment::start(conn, &stored, until)))
            .await
            .map_err(|_| db::DbError::Migration("blocking pool closed".into()))??;
        Ok(Upload {
            id,
            db: state.db.clone(),
            seq: 0,
            buf: Vec::with_capacity(CHUNK_BYTES),
            size: 0,
        })
    }

    async fn flush(&mut self, chunk: Vec<u8>) -> Result<(), db::DbError> {
        let database = self.db.clone();
        let (id, seq) = (self.id.clone(), self.seq);
        self.seq += 1;
        web::block(move || database.write(|conn| Attachment::append(conn, &id, seq, &chunk)))
            .await
            .map_err(|_| db::DbError::Migration("blocking pool closed".into()))?
    }

    /// Adds ciphertext; whole chunks go to the database at once.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), db::DbError> {
        self.size += bytes.len() as u64;
        self.buf.extend_from_slice(bytes);
        while self.buf.len() >= CHUNK_BYTES {
            let rest = self.buf.split_off(CHUNK_BYTES);
            let chunk = std::mem::replace(&mut self.buf, rest);
            self.flush(chunk).await?;
        }
        Ok(())
    }

    /// Stores what is left and records `plain`, the size of the file itself.
    pub async fn finish(mut self, plain: u64) -> Result<(String, u64), db::DbError> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.flush(chunk).await?;
        }
        let database = self.db.clone();
        let id = self.id.clone();
        let size = i64::try_from(plain).unwrap_or(i64::MAX);
        web::block(move || database.write(|conn| Attachment::set_size(conn, &id, size)))
            .await
            .map_err(|_| db::DbError::Migration("blocking pool closed".into()))??;
        Ok((self.id, self.size))
    }

    /// Drops what was written so far.
    pub async fn discard(self) {
        let database = self.db.clone();
        let id = self.id;
        let _ = web::block(move || database.write(|conn| Attachment::discard(conn, &id))).await;
    }
}

#[derive(Serialize)]
struct Uploaded {
    id: String,
    size: u64,
}

fn refuse(state: &AppState, lang: Lang, status: StatusCode, key: &'static str) -> HttpResponse {
    problem(state, lang, status, key)
}

/// `POST /api/v1/attachments`: one file, encrypted in the browser, as a
/// binary age file in the request body (`application/octet-stream`).
pub async fn upload(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = header_lang(&req);
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
    if !binary {
        return refuse(
            &state,
            lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "api-error-content-type-binary",
        );
    }
    let limit = state.limits.attachment_ciphertext_bytes();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return refuse(
            &state,
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            "api-error-attachment-too-large",
        );
    }
    let Ok(mut upload) = Upload::start(&state).await else {
        return refuse(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        );
    };
    let mut header = Vec::new();
    let mut payload_len: Option<usize> = None;
    let mut total: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            upload.discard().await;
            return refuse(&state, lang, StatusCode::BAD_REQUEST, "api-error-not-age");
        };
        total += chunk.len() as u64;
        if total > limit {
            upload.discard().await;
            return refuse(
                &state,
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                "api-error-attachment-too-large",
            );
        }
        let written = match payload_len {
            Some(len) => {
                payload_len = Some(len + chunk.len());
                upload.push(&chunk).await
            }
            None => {
                header.extend_from_slice(&chunk);
                match crypto::check_stream_header(&header, state.recipients.len()) {
                    Ok(None) => Ok(()),
                    Ok(Some(start)) => {
                        payload_len = Some(header.len() - start);
                        let head = std::mem::take(&mut header);
                        upload.push(&head).await
                    }
                    Err(e) => {
                        upload.discard().await;
                        return refuse(&state, lang, StatusCode::BAD_REQUEST, e.message_key());
                    }
                }
            }
        };
        if written.is_err() {
            upload.discard().await;
            return refuse(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "api-error-unavailable",
            );
        }
    }
    if !payload_len.is_some_and(crypto::stream_payload_ok) {
        upload.discard().await;
        let key = if payload_len.is_some() {
            "api-error-payload"
        } else {
            "api-error-not-age"
        };
        return refuse(&state, lang, StatusCode::BAD_REQUEST, key);
    }
    // The file's own size: the payload less its nonce and one tag a chunk.
    let sealed = payload_len.unwrap_or(0).saturating_sub(16);
    let plain = sealed.saturating_sub(sealed.div_ceil(65536 + 16) * 16) as u64;
    if plain > state.limits.attachment_bytes {
        upload.discard().await;
        return refuse(
            &state,
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            "api-error-attachment-too-large",
        );
    }
    match upload.finish(plain).await {
        Ok((id, size)) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Uploaded { id, size }),
        Err(_) => refuse(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

/// Streams an attachment's age file out of storage, chunk by chunk.
pub fn stream(db: Db, id: String) -> HttpResponse {
    let chunks = futures_util::stream::unfold((db, id, 0i32), |(db, id, seq)| async move {
        let (d, i) = (db.clone(), id.clone());
        let chunk = web::block(move || -> Result<Option<Vec<u8>>, db::DbError> {
            let mut conn = d.conn()?;
            Ok(Attachment::chunk(&mut conn, &i, seq)?)
        })
        .await;
        match chunk {
            Ok(Ok(Some(bytes))) => Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(bytes)),
                (db, id, seq + 1),
            )),
            _ => None,
        }
    });
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(header::ContentEncoding::Identity)
        .streaming(chunks)
}
