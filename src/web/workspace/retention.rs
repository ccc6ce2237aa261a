//! `POST /api/v1/secretary/retention`: a reader with the key confirms a
//! retention below the floor (`domain::RETENTION_FLOOR_DAYS`), so that it
//! applies; without that, the floor does. An operator who sets a short
//! `retention_days` cannot empty the channel on their own.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{
    error::{Refusal, WorkspaceError},
    read_json, Session,
};
use crate::{db::Retention, domain::RETENTION_FLOOR_DAYS, web::AppState};

#[derive(Deserialize)]
struct Confirmation {
    /// The retention confirmed: it must be the one configured.
    days: u32,
    #[serde(default)]
    confirm: bool,
}

pub async fn confirm(
    session: Session,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let body: Confirmation = read_json(&req, payload, &state).await?;
    if body.days != state.retention_days || body.days >= RETENTION_FLOOR_DAYS {
        return Err(WorkspaceError::Refused(Refusal::RETENTION));
    }
    if !body.confirm {
        return Err(WorkspaceError::Refused(Refusal::CONFIRM));
    }
    let reader = session.reader().clone();
    let now = state.clock.now();
    let days = body.days;
    state
        .db
        .run_write(move |conn| -> Result<(), WorkspaceError> {
            Ok(Retention::confirm_days(conn, days, &reader, now)?)
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
