//! The follow-up of a case by its locator, for pages with JavaScript:
//! `POST /api/v1/cases/lookup` and `POST /api/v1/cases/messages`. The
//! browser derives `L` from the token and sends only `L` in a POST body;
//! it decrypts the thread and seals new messages itself.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::NaiveDate;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{attachment_ids, locator_of, submission_of, ApiError, ApiProblem};
use crate::{
    crypto::{Locator, Readers},
    db::{Case, EntryRow},
    service::{
        case::{self, Found},
        message::{self, MessageError},
    },
    web::{
        request::{ciphertext_of, header_lang, json_body},
        AppState,
    },
};

#[derive(Deserialize)]
struct LookupBody {
    lookup: SecretString,
}

#[derive(Deserialize)]
struct MessageBody {
    lookup: SecretString,
    ciphertext: String,
    /// Files uploaded beforehand to `/api/v1/attachments`.
    #[serde(default)]
    attachments: Vec<String>,
    /// The form's one-time key: the same message sent again (a retry after
    /// a lost answer) is stored once, and the copy is `already-sent`.
    #[serde(default)]
    submission: Option<String>,
}

#[derive(Serialize)]
struct EntryOut {
    kind: &'static str,
    /// For a reply: `secretary` or `bureau`, whose readers wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'static str>,
    created_on: NaiveDate,
    ciphertext: String,
}

#[derive(Serialize)]
struct CaseOut {
    status: &'static str,
    closure_reason: Option<String>,
    received_on: NaiveDate,
    ack_due: NaiveDate,
    acknowledged_on: Option<NaiveDate>,
    feedback_due: NaiveDate,
    closed_on: Option<NaiveDate>,
    /// Who reads the case, and the readers' recipients that the browser
    /// seals messages and files to (with the reporter's own `R`).
    readership: &'static str,
    recipients: Vec<String>,
    entries: Vec<EntryOut>,
}

impl CaseOut {
    fn new(readers: &Readers, case: &Case, entries: &[EntryRow]) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        CaseOut {
            status: case.status.as_str(),
            closure_reason: case.closure_reason.map(|r| r.as_str().to_string()),
            received_on: case.received_on,
            ack_due: case.ack_due,
            acknowledged_on: case.acknowledged_on,
            feedback_due: case.feedback_due,
            closed_on: case.closed_on,
            readership: case.readership.as_str(),
            recipients: readers
                .of(case.readership)
                .iter()
                .map(|r| r.to_string())
                .collect(),
            entries: entries
                .iter()
                .map(|e| EntryOut {
                    kind: e.kind.as_str(),
                    from: e.replied_by.map(|r| r.as_str()),
                    created_on: e.created_on,
                    ciphertext: b64.encode(&e.ciphertext),
                })
                .collect(),
        }
    }
}

impl From<MessageError> for ApiError {
    fn from(e: MessageError) -> Self {
        match e {
            MessageError::Closed => ApiError::Closed,
            MessageError::Busy => ApiError::Busy,
            MessageError::AlreadySent => ApiError::AlreadySent,
            MessageError::Store(crate::service::workflow::StepError::Db(
                crate::db::DbError::OutcomeUnknown,
            )) => ApiError::MaybeStored,
            MessageError::ReadersChanged => ApiError::ReadersChanged,
            MessageError::Attachment(c) => c.into(),
            other => ApiError::unavailable(other),
        }
    }
}

/// The case a locator names, counted; refused when unknown or too busy.
async fn find(
    state: &web::Data<AppState>,
    locator: Locator,
) -> Result<(Case, Vec<EntryRow>), ApiError> {
    let budgets = state.clone().into_inner();
    match case::by_locator(state.desk(), budgets, locator).await? {
        Found::Case(case, entries) => Ok((case, entries)),
        Found::Unknown => Err(ApiError::UnknownCase),
        Found::Busy => Err(ApiError::Busy),
    }
}

/// `POST /api/v1/cases/lookup {lookup}`: the case and its encrypted thread.
pub async fn api_lookup(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiProblem> {
    let lang = header_lang(&req);
    let found = async {
        let body: LookupBody = json_body(&req, payload, state.limits.body_bytes).await?;
        find(&state, locator_of(&body.lookup)?).await
    }
    .await;
    let (case, entries) = found.map_err(|e| e.in_lang(&state.i18n, lang))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CaseOut::new(&state.readers, &case, &entries)))
}

/// `POST /api/v1/cases/messages {lookup, ciphertext}`: a message sealed in
/// the reporter's browser.
pub async fn api_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiProblem> {
    let lang = header_lang(&req);
    let stored = async {
        let body: MessageBody = json_body(&req, payload, state.limits.body_bytes).await?;
        let attachments = attachment_ids(&body.attachments)?;
        let key = submission_of(body.submission.as_deref())?;
        let locator = locator_of(&body.lookup)?;
        let (case, _) = find(&state, locator).await?;
        let sealed = ciphertext_of(
            &body.ciphertext,
            state.readers.of(case.readership).len(),
            state.limits.ciphertext_bytes,
        )?;
        let budgets = state.clone().into_inner();
        message::add_sealed(
            state.desk(),
            budgets,
            case.id.clone(),
            case.readership,
            sealed,
            attachments,
            key,
        )
        .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    stored.map_err(|e| e.in_lang(&state.i18n, lang))?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "stored": true })))
}
