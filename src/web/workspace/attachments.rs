//! `GET /api/v1/secretary/cases/{case}/attachments/{id}`: an attachment's
//! age file, for the Secretary's browser to decrypt. Addressed through its
//! case, and 404 unless that case claimed it: a report that names another
//! case's attachment cannot make this case's page fetch it.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{error::WorkspaceError, Session};
use crate::{
    db::Attachment,
    domain::{AttachmentId, CaseId},
    web::{request::path_id, AppState},
};

pub async fn download(
    _: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let case_id: CaseId = path_id(&req, "case").ok_or(WorkspaceError::NotFound)?;
    let id: AttachmentId = path_id(&req, "id").ok_or(WorkspaceError::NotFound)?;
    let probe = id.clone();
    let owner = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> { Ok(Attachment::case_of(conn, &probe)?) })
        .await?;
    match owner {
        Some(Some(owner)) if owner == case_id => {
            Ok(crate::web::attachments::stream(state.db.clone(), id))
        }
        _ => Err(WorkspaceError::NotFound),
    }
}
