//! Workflow steps on a case, from the case page's buttons:
//! `POST /api/v1/secretary/cases/{id}/{action}`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{
    error::{Refusal, WorkspaceError},
    parse_ciphertext, read_json, Session,
};
use crate::{
    db::{apply_step, EntryKind, NewEntry, Step, StepError, WorkflowError},
    domain::ClosureReason,
    web::AppState,
};

#[derive(Deserialize)]
struct ActionBody {
    #[serde(default)]
    ciphertext: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    on_hold: Option<bool>,
}

/// `POST /api/v1/secretary/cases/{id}/{action}`.
pub async fn case_action(
    _: Session,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let body: ActionBody = read_json(&req, payload, &state).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let action = req.match_info().get("action").unwrap_or_default();
    let today = state.clock.today();
    let entry = |body: &ActionBody| -> Result<NewEntry, WorkspaceError> {
        let b64 = body
            .ciphertext
            .as_deref()
            .ok_or(WorkspaceError::Refused(Refusal::JSON))?;
        let sealed = parse_ciphertext(&state, b64)?;
        Ok(NewEntry::later(
            &id,
            EntryKind::Reply,
            today,
            sealed.into_bytes(),
        ))
    };
    let step = match action {
        "replies" => Step::Reply(entry(&body)?),
        "acknowledge" => Step::Acknowledge(entry(&body)?),
        "review" => Step::Review,
        "close" => match body.reason.as_deref().and_then(ClosureReason::parse) {
            Some(reason) => Step::Close(reason, entry(&body)?),
            None => return Err(WorkspaceError::Refused(Refusal::REASON)),
        },
        "hold" => Step::Hold(body.on_hold.ok_or(WorkspaceError::Refused(Refusal::JSON))?),
        _ => return Err(WorkspaceError::NotFound),
    };
    let now = state.clock.now();
    state
        .db
        .run_write(move |conn| apply_step(conn, &id, step, today, now))
        .await
        .map_err(|e| match e {
            StepError::Workflow(WorkflowError::NotFound) => WorkspaceError::NotFound,
            StepError::Workflow(WorkflowError::Closed) => WorkspaceError::Refused(Refusal::CLOSED),
            StepError::Workflow(WorkflowError::Illegal) => {
                WorkspaceError::Refused(Refusal::TRANSITION)
            }
            e => WorkspaceError::Unavailable(e.into()),
        })?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
