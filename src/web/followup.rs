//! The reporter's follow-up, with the token alone.
//!
//! With JavaScript the browser derives `L` and `K` and sends only `L` (in a
//! POST body) to `/api/v1/cases/lookup`; it decrypts the thread itself and
//! seals new messages itself. Without JavaScript the server derives what it
//! needs from the typed token, decrypts the thread in memory to render one
//! `no-store` page, seals a new message at once, and forgets the token. The
//! token travels back in a hidden field of the message form (see the threat
//! model): nothing is kept between two requests.

// The error side of these results is the response to send, built at most
// once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use chrono::NaiveDate;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{
    form,
    pages::{self, Layout},
    request::{
        form_error_status, header_lang, lang_of, not_found, parse_ciphertext, problem, read_form,
        read_json,
    },
    upload_form, AppState,
};
use crate::{
    config::CategorySetting,
    crypto::{self, Locator, Recipients, Token},
    db::{
        self, apply_step, Case, CaseRow, EntryKind, EntryRow, NewEntry, Step, StepError,
        WorkflowError,
    },
    domain::{AttachmentRef, CaseStatus},
    i18n::Lang,
};

use super::limits::{
    FAILED_LOOKUPS_PER_MINUTE, LOOKUPS_PER_CASE_PER_MINUTE, MESSAGES_PER_CASE_PER_MINUTE,
};

/// A decrypted entry, for the no-JavaScript page. Zeroized on drop.
#[derive(Debug, Default, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Plain {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub category: Option<String>,
    pub description: Option<String>,
    pub period: Option<String>,
    pub place: Option<String>,
    pub persons: Option<String>,
    pub evidence: Option<String>,
    pub body: Option<String>,
}

pub struct Shown {
    pub kind: &'static str,
    pub created_on: NaiveDate,
    /// `None` when the entry cannot be decrypted with the reporter's key.
    pub plain: Option<Plain>,
    pub category: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "followup.html")]
struct FollowUpPage<'a> {
    l: Layout<'a>,
    typed: &'a str,
    error: Option<&'static str>,
}

#[derive(askama::Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    l: Layout<'a>,
    case: &'a CaseRow,
    status_key: String,
    open: bool,
    entries: Vec<Shown>,
    token: &'a str,
    typed_message: &'a str,
    error: Option<&'static str>,
    sent: bool,
    max_message: usize,
}

fn follow_up_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    typed: &str,
    error: Option<&'static str>,
) -> HttpResponse {
    pages::render(
        status,
        &FollowUpPage {
            l: Layout::followup(state, lang),
            typed,
            error,
        },
    )
}

pub async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    follow_up_page(&state, lang, StatusCode::OK, "", None)
}

fn category_label(state: &AppState, lang: Lang, key: &str) -> String {
    let setting = state
        .categories
        .find(key)
        .cloned()
        .unwrap_or_else(|| CategorySetting {
            key: key.to_string(),
            fr: Some(key.to_string()),
            en: Some(key.to_string()),
        });
    state.i18n.category(lang, &setting)
}

/// Decrypts the thread with the reporter's own key, in memory.
fn decrypt_thread(
    state: &AppState,
    lang: Lang,
    identity: &age::x25519::Identity,
    entries: Vec<EntryRow>,
) -> Vec<Shown> {
    entries
        .into_iter()
        .map(|e| {
            let plain = crypto::decrypt(std::slice::from_ref(identity), &e.ciphertext)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Plain>(&bytes).ok());
            Shown {
                kind: e.kind().map(EntryKind::as_str).unwrap_or("report"),
                created_on: e.created_on,
                category: plain
                    .as_ref()
                    .and_then(|p| p.category.as_deref())
                    .map(|c| category_label(state, lang, c)),
                plain,
            }
        })
        .collect()
}

enum Lookup {
    Typo,
    Unknown,
    Found(Box<Case>, Vec<EntryRow>, Box<crypto::Derived>),
    Busy,
    Broken,
}

/// What a locator found, once counted (see `limits`).
enum Fetched {
    Found(Case, Vec<EntryRow>),
    Unknown,
    Busy,
}

/// The case a locator names, with its thread: one indexed query, found or
/// not. A found case is counted against its own budget before its thread
/// is read; a miss is counted against the instance's budget of failures.
async fn fetch_case(
    state: &web::Data<AppState>,
    locator: Locator,
) -> Result<Result<Fetched, db::DbError>, actix_web::error::BlockingError> {
    let worker = state.clone();
    web::block(move || {
        let mut conn = worker.db.conn()?;
        let now = worker.clock.now();
        match Case::find_by_locator(&mut conn, &locator)? {
            Some(case) => {
                if !worker
                    .case_lookups
                    .allow(now, &case.row.id, LOOKUPS_PER_CASE_PER_MINUTE)
                {
                    return Ok(Fetched::Busy);
                }
                let entries = case.entries(&mut conn)?;
                Ok(Fetched::Found(case, entries))
            }
            None if worker.lookup_failures.allow(now, FAILED_LOOKUPS_PER_MINUTE) => {
                Ok(Fetched::Unknown)
            }
            None => Ok(Fetched::Busy),
        }
    })
    .await
}

/// The one code path for every typed token: a typo is told apart only by
/// its check symbols; a well-formed token always costs a derivation and an
/// indexed query, found or not, and is counted (see `limits`).
async fn look_up(state: &web::Data<AppState>, typed: &str) -> Lookup {
    let Ok(token) = Token::parse(typed) else {
        return Lookup::Typo;
    };
    let derived = crypto::derive_from_token(&token);
    drop(token);
    let locator = derived.locator;
    let found = fetch_case(state, locator).await;
    match found {
        Ok(Ok(Fetched::Found(case, entries))) => {
            Lookup::Found(Box::new(case), entries, Box::new(derived))
        }
        Ok(Ok(Fetched::Unknown)) => Lookup::Unknown,
        Ok(Ok(Fetched::Busy)) => Lookup::Busy,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "case lookup failed");
            Lookup::Broken
        }
        Err(_) => Lookup::Broken,
    }
}

#[allow(clippy::too_many_arguments)]
fn case_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    case: &Case,
    entries: Vec<EntryRow>,
    derived: &crypto::Derived,
    token: &str,
    typed_message: &str,
    error: Option<&'static str>,
    sent: bool,
) -> HttpResponse {
    pages::render(
        status,
        &CasePage {
            l: Layout::followup(state, lang),
            case: &case.row,
            status_key: format!("status-{}", case.status.as_str()),
            open: case.status != CaseStatus::Closed,
            entries: decrypt_thread(state, lang, &derived.reply_identity, entries),
            token,
            typed_message,
            error,
            sent,
            max_message: state.limits.description_chars,
        },
    )
}

fn lookup_failure(state: &AppState, lang: Lang, outcome: &Lookup, typed: &str) -> HttpResponse {
    let (status, key) = match outcome {
        Lookup::Typo => (StatusCode::BAD_REQUEST, "token-typo"),
        Lookup::Unknown => (StatusCode::NOT_FOUND, "token-unknown"),
        Lookup::Busy => (StatusCode::TOO_MANY_REQUESTS, "error-busy-lookup"),
        Lookup::Broken | Lookup::Found(..) => {
            (StatusCode::SERVICE_UNAVAILABLE, "error-unavailable")
        }
    };
    follow_up_page(state, lang, status, typed, Some(key))
}

/// `POST /{lang}/follow-up`: the case, decrypted by the server for a browser
/// without JavaScript.
pub async fn open_case(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    let parsed = match read_form(&req, payload, state.limits.body_bytes).await {
        Ok(parsed) => parsed,
        Err(e) => {
            return follow_up_page(
                &state,
                lang,
                form_error_status(e),
                "",
                Some(e.message_key()),
            )
        }
    };
    let typed = Zeroizing::new(form::take(&parsed, "token"));
    drop(parsed);
    match look_up(&state, &typed).await {
        Lookup::Found(case, entries, derived) => {
            let token = Token::parse(&typed)
                .map(|t| t.display())
                .unwrap_or_else(|_| SecretString::from(String::new()));
            case_page(
                &state,
                lang,
                StatusCode::OK,
                &case,
                entries,
                &derived,
                token.expose_secret(),
                "",
                None,
                false,
            )
        }
        other => lookup_failure(&state, lang, &other, &typed),
    }
}

/// The same refusal, reminding that attached files must be chosen again.
fn with_files(key: &'static str) -> &'static str {
    match key {
        "followup-error-empty" => "followup-error-empty-files",
        "followup-error-too-long" => "followup-error-too-long-files",
        "followup-error-closed" => "followup-error-closed",
        _ => "error-busy-files",
    }
}

/// Seals a reporter's message for the Secretary and the reporter.
fn seal_message(
    recipients: &Recipients,
    reporter: &age::x25519::Recipient,
    lang: Lang,
    body: &str,
    attachments: &[AttachmentRef],
) -> Result<crypto::AgeCiphertext, crypto::EncryptError> {
    #[derive(Serialize)]
    struct Message<'a> {
        v: u8,
        #[serde(rename = "type")]
        kind: &'static str,
        lang: &'a str,
        body: &'a str,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        attachments: &'a [AttachmentRef],
    }
    // Measured, then written once into a buffer of its padded size.
    let json = crate::domain::to_padded_json(&Message {
        v: 1,
        kind: "message",
        lang: lang.code(),
        body,
        attachments,
    });
    let padded = crypto::pad(json);
    crypto::encrypt_for_case(recipients, reporter, &padded)
}

enum Posted {
    Stored,
    Closed,
    Attachment(db::ClaimError),
    Failed,
}

async fn store_message(
    state: &web::Data<AppState>,
    case_id: String,
    sealed: crypto::AgeCiphertext,
    attachments: Vec<String>,
) -> Posted {
    let worker = state.clone();
    let done = web::block(move || {
        let today = worker.clock.today();
        let now = worker.clock.now();
        let entry = NewEntry::later(&case_id, EntryKind::Message, today, sealed.into_bytes());
        let notify_at = now + crate::notify::random_delay(worker.notify_max_delay);
        let max_total = worker.limits.attachments_total();
        worker.db.try_write(|conn| -> Result<(), StepError> {
            apply_step(conn, &case_id, Step::Message(entry, notify_at), today, now)?;
            db::Attachment::claim(conn, &attachments, &case_id, now, max_total)?;
            Ok(())
        })
    })
    .await;
    match done {
        Ok(Ok(())) => Posted::Stored,
        Ok(Err(StepError::Workflow(WorkflowError::Closed))) => Posted::Closed,
        Ok(Err(StepError::Claim(e))) => Posted::Attachment(e),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a reporter message could not be stored");
            Posted::Failed
        }
        Err(_) => Posted::Failed,
    }
}

/// `POST /{lang}/follow-up/message`: a message from a browser without JavaScript.
pub async fn post_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    // With files, the form is multipart: they are sealed as they stream in,
    // to the reporter's R derived from the token field that comes first.
    let (parsed, files) = if upload_form::is_multipart(&req) {
        match upload_form::read(&req, payload, &state, None).await {
            Ok(received) => (received.fields, received.files),
            Err((e, fields)) => {
                let typed = Zeroizing::new(form::take(&fields, "token"));
                let body = Zeroizing::new(form::take(&fields, "body"));
                // The case page again, with the message typed, when the token
                // is good: only the files have to be chosen again.
                if let Lookup::Found(case, entries, derived) = look_up(&state, &typed).await {
                    let shown = Token::parse(&typed)
                        .map(|t| t.display())
                        .unwrap_or_else(|_| SecretString::from(String::new()));
                    return case_page(
                        &state,
                        lang,
                        e.status(),
                        &case,
                        entries,
                        &derived,
                        shown.expose_secret(),
                        &body,
                        Some(e.message_key()),
                        false,
                    );
                }
                return follow_up_page(&state, lang, e.status(), &typed, Some(e.message_key()));
            }
        }
    } else {
        match read_form(&req, payload, state.limits.body_bytes).await {
            Ok(parsed) => (parsed, Vec::new()),
            Err(e) => {
                return follow_up_page(
                    &state,
                    lang,
                    form_error_status(e),
                    "",
                    Some(e.message_key()),
                )
            }
        }
    };
    let typed = Zeroizing::new(form::take(&parsed, "token"));
    let body = Zeroizing::new(form::take(&parsed, "body"));
    drop(parsed);
    let (case, entries, derived) = match look_up(&state, &typed).await {
        Lookup::Found(case, entries, derived) => (case, entries, derived),
        other => {
            upload_form::discard(&state, &files).await;
            return lookup_failure(&state, lang, &other, &typed);
        }
    };
    let file_ids: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
    let refused = !files.is_empty();
    let shown = Token::parse(&typed)
        .map(|t| t.display())
        .unwrap_or_else(|_| SecretString::from(String::new()));
    let refuse = |status: StatusCode, key: &'static str, entries: Vec<EntryRow>| {
        case_page(
            &state,
            lang,
            status,
            &case,
            entries,
            &derived,
            shown.expose_secret(),
            &body,
            Some(key),
            false,
        )
    };
    let text = body.trim();
    let problem = if case.status == CaseStatus::Closed {
        Some((StatusCode::CONFLICT, "followup-error-closed"))
    } else if text.is_empty() {
        Some((StatusCode::BAD_REQUEST, "followup-error-empty"))
    } else if text.chars().count() > state.limits.description_chars {
        Some((StatusCode::BAD_REQUEST, "followup-error-too-long"))
    } else if !state.case_messages.allow(
        state.clock.now(),
        &case.row.id,
        MESSAGES_PER_CASE_PER_MINUTE,
    ) {
        Some((StatusCode::TOO_MANY_REQUESTS, "error-busy"))
    } else {
        None
    };
    if let Some((status, key)) = problem {
        upload_form::discard(&state, &files).await;
        let key = if refused { with_files(key) } else { key };
        return refuse(status, key, entries);
    }
    let Ok(sealed) = seal_message(
        &state.recipients,
        &derived.reply_recipient,
        lang,
        text,
        &files,
    ) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
            entries,
        );
    };
    match store_message(&state, case.row.id.clone(), sealed, file_ids).await {
        // Showing the stored message reads the case again, counted like
        // any reading of it.
        Posted::Stored => match look_up(&state, &typed).await {
            Lookup::Found(case, entries, derived) => case_page(
                &state,
                lang,
                StatusCode::OK,
                &case,
                entries,
                &derived,
                shown.expose_secret(),
                "",
                None,
                true,
            ),
            other => lookup_failure(&state, lang, &other, &typed),
        },
        Posted::Closed => refuse(StatusCode::CONFLICT, "followup-error-closed", entries),
        Posted::Attachment(_) => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "error-attachments-too-large",
            entries,
        ),
        Posted::Failed => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
            entries,
        ),
    }
}

// ---------------------------------------------------------------- JSON API

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
}

#[derive(Serialize)]
struct EntryOut {
    kind: &'static str,
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
    entries: Vec<EntryOut>,
}

fn locator_of(
    state: &AppState,
    lang: Lang,
    lookup: &SecretString,
) -> Result<Locator, HttpResponse> {
    let bytes = hex::decode(lookup.expose_secret().as_bytes()).map(Zeroizing::new);
    let lookup = bytes
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .map(Zeroizing::new)
        .ok_or_else(|| problem(state, lang, StatusCode::BAD_REQUEST, "api-error-lookup"))?;
    Ok(Locator::from_lookup(&lookup))
}

async fn find_case(
    state: &web::Data<AppState>,
    lang: Lang,
    locator: Locator,
) -> Result<(Case, Vec<EntryRow>), HttpResponse> {
    let found = fetch_case(state, locator).await;
    match found {
        Ok(Ok(Fetched::Found(case, entries))) => Ok((case, entries)),
        Ok(Ok(Fetched::Unknown)) => Err(problem(
            state,
            lang,
            StatusCode::NOT_FOUND,
            "api-error-unknown-case",
        )),
        Ok(Ok(Fetched::Busy)) => Err(problem(
            state,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            "error-busy",
        )),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "case lookup failed");
            Err(problem(
                state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "api-error-unavailable",
            ))
        }
        Err(_) => Err(problem(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        )),
    }
}

/// `POST /api/v1/cases/lookup {lookup}`: the case and its encrypted thread.
pub async fn api_lookup(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = header_lang(&req);
    let result = async {
        let body: LookupBody = read_json(&req, payload, &state, lang).await?;
        let locator = locator_of(&state, lang, &body.lookup)?;
        find_case(&state, lang, locator).await
    }
    .await;
    let (case, entries) = match result {
        Ok(found) => found,
        Err(response) => return response,
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CaseOut {
            status: case.status.as_str(),
            closure_reason: case.row.closure_reason.clone(),
            received_on: case.row.received_on,
            ack_due: case.row.ack_due,
            acknowledged_on: case.row.acknowledged_on,
            feedback_due: case.row.feedback_due,
            closed_on: case.row.closed_on,
            entries: entries
                .iter()
                .map(|e| EntryOut {
                    kind: e.kind().map(EntryKind::as_str).unwrap_or("report"),
                    created_on: e.created_on,
                    ciphertext: b64.encode(&e.ciphertext),
                })
                .collect(),
        })
}

/// `POST /api/v1/cases/messages {lookup, ciphertext}`: a message sealed in
/// the reporter's browser.
pub async fn api_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = header_lang(&req);
    let result = async {
        let body: MessageBody = read_json(&req, payload, &state, lang).await?;
        if body.attachments.len() > db::MAX_PER_CLAIM {
            return Err(problem(
                &state,
                lang,
                StatusCode::BAD_REQUEST,
                "api-error-attachment-unknown",
            ));
        }
        let locator = locator_of(&state, lang, &body.lookup)?;
        let sealed = parse_ciphertext(&state, lang, &body.ciphertext)?;
        let (case, _) = find_case(&state, lang, locator).await?;
        if !state.case_messages.allow(
            state.clock.now(),
            &case.row.id,
            MESSAGES_PER_CASE_PER_MINUTE,
        ) {
            return Err(problem(
                &state,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                "error-busy",
            ));
        }
        Ok((case, sealed, body.attachments))
    }
    .await;
    let (case, sealed, attachments) = match result {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    match store_message(&state, case.row.id.clone(), sealed, attachments).await {
        Posted::Stored => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "stored": true })),
        Posted::Closed => problem(&state, lang, StatusCode::CONFLICT, "api-error-closed"),
        Posted::Attachment(db::ClaimError::Unknown) => problem(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            "api-error-attachment-unknown",
        ),
        Posted::Attachment(db::ClaimError::TooLarge) => problem(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            "api-error-attachments-too-large",
        ),
        Posted::Failed => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}
