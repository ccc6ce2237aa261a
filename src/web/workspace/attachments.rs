//! `GET /api/v1/secretary/cases/{case}/attachments/{id}`: an attachment's
//! age file, for the Secretary's browser to decrypt. Addressed through its
//! case, and 404 unless that case claimed it: a report that names another
//! case's attachment cannot make this case's page fetch it.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{error::WorkspaceError, Session};
use crate::{
    db::{Attachment, Case, Journal, JournalAction},
    domain::{AttachmentId, CaseId},
    web::{request::path_id, AppState},
};

pub async fn download(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let case_id: CaseId = path_id(&req, "case").ok_or(WorkspaceError::NotFound)?;
    let id: AttachmentId = path_id(&req, "id").ok_or(WorkspaceError::NotFound)?;
    let probe = id.clone();
    let reader = session.reader().clone();
    let now = state.clock.now();
    // Found only through a case this reader reads, and journaled before a
    // byte leaves.
    state
        .db
        .run_write(move |conn| -> Result<_, WorkspaceError> {
            let case =
                Case::find_for(conn, reader.role, &case_id)?.ok_or(WorkspaceError::NotFound)?;
            if Attachment::case_of(conn, &probe)? != Some(Some(case_id.clone())) {
                return Err(WorkspaceError::NotFound);
            }
            let about = Some((&case_id, case.readership));
            Journal::record(
                conn,
                about,
                JournalAction::Downloaded,
                None,
                Some(&reader),
                now,
            )?;
            Ok(())
        })
        .await?;
    Ok(crate::web::attachments::stream(state.db.clone(), id))
}
