//! Alerting the Bureau and stepping aside, from the case page: the headers
//! of the case's age files for the Secretary's browser to re-seal, and the
//! re-sealed headers back (`service::reseal`).

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{
    error::{Refusal, WorkspaceError},
    read_json, Session,
};
use crate::{
    domain::{AttachmentId, CaseId},
    service::reseal::{self, NewHeaders, Referral, ResealError},
    web::{request::path_id, AppState},
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Serialize, Deserialize)]
struct EntryHeader {
    position: i32,
    header: String,
}

#[derive(Serialize, Deserialize)]
struct FileHeader {
    id: AttachmentId,
    header: String,
}

#[derive(Serialize)]
struct HeadersOut {
    entries: Vec<EntryHeader>,
    attachments: Vec<FileHeader>,
}

#[derive(Deserialize)]
struct ResealBody {
    /// `alert` or `step-aside`.
    referral: String,
    entries: Vec<EntryHeader>,
    #[serde(default)]
    attachments: Vec<FileHeader>,
}

impl From<ResealError> for WorkspaceError {
    fn from(e: ResealError) -> Self {
        match e {
            ResealError::NotFound => WorkspaceError::NotFound,
            ResealError::NotAllowed => WorkspaceError::Refused(Refusal::REFERRAL),
            ResealError::Incomplete => WorkspaceError::Refused(Refusal::INCOMPLETE),
            ResealError::Header(c) => c.into(),
            other => WorkspaceError::Unavailable(other.into()),
        }
    }
}

/// `GET /api/v1/secretary/cases/{id}/headers`.
pub async fn headers(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let id: CaseId = path_id(&req, "id").ok_or(WorkspaceError::NotFound)?;
    let role = session.role();
    let (entries, files) = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> { Ok(reseal::headers(conn, role, &id)?) })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(HeadersOut {
            entries: entries
                .into_iter()
                .map(|(position, h)| EntryHeader {
                    position,
                    header: B64.encode(h),
                })
                .collect(),
            attachments: files
                .into_iter()
                .map(|(id, h)| FileHeader {
                    id,
                    header: B64.encode(h),
                })
                .collect(),
        }))
}

/// `POST /api/v1/secretary/cases/{id}/reseal`.
pub async fn reseal(
    session: Session,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let body: ResealBody = read_json(&req, payload, &state).await?;
    let id: CaseId = path_id(&req, "id").ok_or(WorkspaceError::NotFound)?;
    let referral = Referral::parse(&body.referral).ok_or(WorkspaceError::Refused(Refusal::JSON))?;
    let decode = |b64: &str| {
        B64.decode(b64.as_bytes())
            .map_err(|_| WorkspaceError::Refused(Refusal::NOT_AGE))
    };
    let mut headers = NewHeaders::default();
    for e in &body.entries {
        headers.entries.push((e.position, decode(&e.header)?));
    }
    for f in &body.attachments {
        headers.attachments.push((f.id.clone(), decode(&f.header)?));
    }
    let reader = session.reader().clone();
    let worker = state.clone();
    state
        .db
        .run_write(move |conn| -> Result<_, WorkspaceError> {
            Ok(reseal::reseal(
                conn,
                &worker.readers,
                worker.clock.as_ref(),
                &reader,
                &id,
                referral,
                headers,
            )?)
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
