//! Workflow steps on a case, from the case page's buttons:
//! `POST /api/v1/secretary/cases/{id}/{action}`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{
    error::{Refusal, WorkspaceError},
    parse_ciphertext, read_json, Session,
};
use crate::{
    crypto::AgeCiphertext,
    db::Case,
    domain::{CaseId, ClosureReason},
    service::workflow::{self, Action},
    web::{request::path_id, AppState},
};

#[derive(Deserialize)]
struct ActionBody {
    #[serde(default)]
    ciphertext: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    on_hold: Option<bool>,
    /// A reply: it is the feedback the law asks for.
    #[serde(default)]
    feedback: bool,
    /// Closing: the reader confirmed it (it cannot be undone).
    #[serde(default)]
    confirm: bool,
}

/// `POST /api/v1/secretary/cases/{id}/{action}`.
pub async fn case_action(
    session: Session,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let body: ActionBody = read_json(&req, payload, &state).await?;
    let id: CaseId = path_id(&req, "id").ok_or(WorkspaceError::NotFound)?;
    let reader = session.reader().clone();
    // Words are checked against the case's readers as they are now; the
    // step itself refuses them if the readers changed meanwhile.
    let role = reader.role;
    let probe = id.clone();
    let readership = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> {
            Ok(Case::find_for(conn, role, &probe)?.map(|c| c.readership))
        })
        .await?
        .ok_or(WorkspaceError::NotFound)?;
    let sealed = |body: &ActionBody| -> Result<AgeCiphertext, WorkspaceError> {
        let b64 = body
            .ciphertext
            .as_deref()
            .ok_or(WorkspaceError::Refused(Refusal::JSON))?;
        parse_ciphertext(&state, readership, b64)
    };
    let action = match req.match_info().get("action").unwrap_or_default() {
        "replies" => Action::Reply(sealed(&body)?, body.feedback),
        "acknowledge" => Action::Acknowledge(sealed(&body)?),
        "review" => Action::Review,
        "close" => match body.reason.as_deref().and_then(ClosureReason::parse) {
            Some(_) if !body.confirm => return Err(WorkspaceError::Refused(Refusal::CONFIRM)),
            Some(reason) => Action::Close(reason, sealed(&body)?),
            None => return Err(WorkspaceError::Refused(Refusal::REASON)),
        },
        "hold" => Action::Hold(body.on_hold.ok_or(WorkspaceError::Refused(Refusal::JSON))?),
        "delete" => match body.reason.as_deref().and_then(ClosureReason::parse) {
            Some(_) if !body.confirm => return Err(WorkspaceError::Refused(Refusal::CONFIRM)),
            Some(reason) => Action::Delete(reason),
            None => return Err(WorkspaceError::Refused(Refusal::REASON)),
        },
        _ => return Err(WorkspaceError::NotFound),
    };
    workflow::act(
        &state.db,
        state.clock.as_ref(),
        reader,
        id,
        readership,
        action,
    )
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
