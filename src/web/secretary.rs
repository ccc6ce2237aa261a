//! The Permanent Secretary's workspace: login by key possession, inbox, case
//! page, workflow and journal. Every report and reply is decrypted and
//! encrypted in the Secretary's browser; the server sees ciphertext only.
// The error side of these results is the response to send, built at most
// once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use actix_web::{
    cookie::{Cookie, SameSite},
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    pages::{self, Layout},
    request::{header_lang, lang_of, parse_ciphertext, problem, read_json},
    AppState,
};
use crate::{
    crypto,
    db::{
        self, apply_step, Case, Challenge, EntryKind, Journal, LoginProof, LoginSeed, NewEntry,
        SessionRow, Step, StepError, WorkflowError,
    },
    domain::{CaseStatus, ClosureReason},
    i18n::Lang,
};

/// The `__Host-` prefix makes the browser refuse the cookie unless it is
/// `Secure`, has `Path=/` and no `Domain`: no sibling host can set or
/// shadow it.
pub const SESSION_COOKIE: &str = "__Host-vigie_session";
/// Idle limit of a session (and of the identity kept in the browser).
pub const IDLE_SECS: i64 = 15 * 60;
/// Absolute limit of a session.
pub const MAX_SECS: i64 = 8 * 60 * 60;
/// A challenge must be answered within this many seconds.
pub const CHALLENGE_SECS: i64 = 120;
/// Below this many challenges issued recently and not rightly answered
/// (unanswered, expired or answered wrongly), challenges are free; from it
/// on ("under flood"), each one needs a proof of work.
pub const FLOOD_THRESHOLD: i64 = 20;
/// How long an ended challenge still counts toward the flood, in seconds.
pub const FLOOD_KEEP_SECS: i64 = 10 * 60;
/// Most challenges kept; the oldest go first beyond it.
pub const CHALLENGE_CAP: i64 = 10_000;
/// Leading zero bits of the proof of work at the threshold: about 16,000
/// hashes, a fraction of a second with WebCrypto.
pub const POW_BITS: u32 = 14;
/// The ceiling when the backlog keeps doubling: about a million hashes,
/// seconds in a browser, so that a flood slows the Secretary but never
/// locks her out.
pub const POW_BITS_MAX: u32 = 20;
const PER_PAGE: i64 = 50;

enum AuthError {
    Missing,
    Expired,
    Broken,
}

/// The session named by the cookie, if it is live; refreshes its idle timer.
async fn authenticate(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<SessionRow, AuthError> {
    let hash = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| crypto::hash_secret(c.value()))
        .ok_or(AuthError::Missing)?;
    let state = state.clone();
    web::block(move || {
        let now = state.clock.now();
        // A write, through the SQLite queue: the idle timer moves on.
        state.db.try_write(|conn| {
            let row = SessionRow::find(conn, &hash)?.ok_or(AuthError::Missing)?;
            if now - row.last_seen > IDLE_SECS || now - row.created_at > MAX_SECS {
                SessionRow::delete(conn, &row.id_hash)?;
                // Keep the deletion: this is an answer, not a failure.
                return Ok(Err(AuthError::Expired));
            }
            SessionRow::touch(conn, &row.id_hash, now)?;
            Ok(Ok(row))
        })
    })
    .await
    .map_err(|_| AuthError::Broken)?
    .and_then(|outcome| outcome)
}

impl From<diesel::result::Error> for AuthError {
    fn from(_: diesel::result::Error) -> Self {
        AuthError::Broken
    }
}

impl From<db::DbError> for AuthError {
    fn from(_: db::DbError) -> Self {
        AuthError::Broken
    }
}

fn csrf_ok(req: &HttpRequest, session: &SessionRow) -> bool {
    req.headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .and_then(crypto::hash_secret)
        .is_some_and(|h| crypto::constant_time_eq(&h, &session.csrf_hash))
}

/// For API calls: a live session and, for every change, its CSRF token.
async fn api_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    lang: Lang,
) -> Result<SessionRow, HttpResponse> {
    let session = api_read_session(req, state, lang).await?;
    if csrf_ok(req, &session) {
        Ok(session)
    } else {
        Err(problem(
            state,
            lang,
            StatusCode::FORBIDDEN,
            "api-error-csrf",
        ))
    }
}

/// For API reads: a live session (no CSRF token needed to read).
async fn api_read_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    lang: Lang,
) -> Result<SessionRow, HttpResponse> {
    match authenticate(req, state).await {
        Ok(session) => Ok(session),
        Err(AuthError::Broken) => Err(problem(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        )),
        Err(_) => Err(problem(
            state,
            lang,
            StatusCode::UNAUTHORIZED,
            "api-error-session",
        )),
    }
}

fn to_login(lang: Lang, expired: bool) -> HttpResponse {
    let query = if expired { "?expired=1" } else { "" };
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/{}/secretary/login{query}", lang.code()),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// For pages: the session, or the way to the login page.
async fn page_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    lang: Lang,
) -> Result<SessionRow, HttpResponse> {
    match authenticate(req, state).await {
        Ok(session) => Ok(session),
        Err(AuthError::Expired) => Err(to_login(lang, true)),
        Err(AuthError::Missing) => Err(to_login(lang, false)),
        Err(AuthError::Broken) => Err(pages::error_page(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
        )),
    }
}

// ---------------------------------------------------------------- login

#[derive(askama::Template)]
#[template(path = "secretary/login.html")]
struct LoginPage<'a> {
    l: Layout<'a>,
    expired: bool,
}

pub async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return super::request::not_found(req, state).await;
    };
    let expired = req.query_string().contains("expired=1");
    pages::render(
        StatusCode::OK,
        &LoginPage {
            l: Layout::secretary(&state, lang, "secretary/login"),
            expired,
        },
    )
}

#[derive(Serialize)]
struct IssuedChallenge {
    id: String,
    ciphertext: String,
    expires_in: i64,
}

/// `POST /api/v1/secretary/challenges`: JSON only (a cross-site form or a
/// "simple" request cannot burn the quota), with `{"proof": {"seed",
/// "nonce"}}` when the instance is under flood.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeRequest {
    #[serde(default)]
    proof: Option<Proof>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Proof {
    seed: String,
    nonce: String,
}

/// What the page must compute before it gets a challenge under flood.
#[derive(Serialize)]
struct ProofNeeded {
    error: &'static str,
    message: String,
    proof: Puzzle,
}

#[derive(Serialize)]
struct Puzzle {
    /// The current seed, in hexadecimal.
    seed: String,
    /// Leading zero bits SHA-256(domain ‖ seed ‖ nonce) must have.
    bits: u32,
    /// The domain-separation string that starts the hashed bytes.
    domain: &'static str,
}

enum Issue {
    Issued(crypto::IssuedChallenge),
    NeedProof { seed: Vec<u8>, bits: u32 },
}

enum IssueError {
    Db,
    Encrypt,
}

impl From<diesel::result::Error> for IssueError {
    fn from(_: diesel::result::Error) -> Self {
        IssueError::Db
    }
}

impl From<db::DbError> for IssueError {
    fn from(_: db::DbError) -> Self {
        IssueError::Db
    }
}

/// The proof of work asked for, given how many challenges were issued
/// recently and not rightly answered: none below the threshold, then one
/// more bit each time the backlog doubles, up to a ceiling.
fn difficulty(backlog: i64) -> Option<u32> {
    if backlog < FLOOD_THRESHOLD {
        return None;
    }
    let doublings = (backlog / FLOOD_THRESHOLD).max(1).ilog2();
    Some((POW_BITS + doublings).min(POW_BITS_MAX))
}

pub async fn issue_challenge(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = header_lang(&req);
    let body: ChallengeRequest = match read_json(&req, payload, &state, lang).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let worker = state.clone();
    let stored_id = id.clone();
    let outcome = web::block(move || -> Result<Issue, IssueError> {
        worker.db.try_write(|conn| {
            let backlog = Challenge::sweep(conn, now, FLOOD_KEEP_SECS, CHALLENGE_CAP)?;
            if let Some(bits) = difficulty(backlog) {
                let minute = now.div_euclid(60);
                let (seed, previous) = LoginSeed::current(conn, minute, crypto::random_seed())?;
                let need = |seed: Vec<u8>| Ok(Issue::NeedProof { seed, bits });
                let Some(proof) = body.proof else {
                    return need(seed);
                };
                let given = hex::decode(&proof.seed).unwrap_or_default();
                // A seed is good for the rest of its minute and the next one.
                let until = if given == seed {
                    (minute + 2) * 60
                } else if previous.as_ref() == Some(&given) {
                    (minute + 1) * 60
                } else {
                    return need(seed);
                };
                let Some(hash) = crypto::proof_of_work(&given, &proof.nonce) else {
                    return need(seed);
                };
                if crypto::leading_zero_bits(&hash) < bits
                    || !LoginProof::spend(conn, &hash, now, until)?
                {
                    return need(seed);
                }
            }
            let issued =
                crypto::issue_challenge(&worker.recipients).map_err(|_| IssueError::Encrypt)?;
            Challenge::insert(conn, &stored_id, &issued.digest, now + CHALLENGE_SECS)?;
            Ok(Issue::Issued(issued))
        })
    })
    .await;
    match outcome {
        Ok(Ok(Issue::Issued(issued))) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(IssuedChallenge {
                id,
                ciphertext: base64::engine::general_purpose::STANDARD.encode(&issued.ciphertext),
                expires_in: CHALLENGE_SECS,
            }),
        Ok(Ok(Issue::NeedProof { seed, bits })) => HttpResponse::TooManyRequests()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ProofNeeded {
                error: "proof-of-work",
                message: state.i18n.get(lang, "api-error-proof-of-work"),
                proof: Puzzle {
                    seed: hex::encode(seed),
                    bits,
                    domain: crypto::POW_DOMAIN,
                },
            }),
        _ => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

#[derive(Deserialize)]
struct Answer {
    id: String,
    response: secrecy::SecretString,
}

#[derive(Serialize)]
struct Opened {
    csrf: String,
    idle_seconds: i64,
}

pub async fn open_session(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    use secrecy::ExposeSecret;
    let lang = header_lang(&req);
    let answer: Answer = match read_json(&req, payload, &state, lang).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let worker = state.clone();
    let outcome = web::block(
        move || -> Result<Result<(String, String), &'static str>, db::DbError> {
            let now = worker.clock.now();
            worker.db.write(|conn| {
                let Some(digest) = Challenge::take(conn, &answer.id, now)? else {
                    return Ok(Err("api-error-challenge"));
                };
                if !crypto::verify_challenge(&digest, answer.response.expose_secret()) {
                    // The challenge stays, spent: a failure counts toward flood.
                    return Ok(Err("api-error-wrong-key"));
                }
                Challenge::answered(conn, &answer.id)?;
                let (session, session_hash) = crypto::new_secret();
                let (csrf, csrf_hash) = crypto::new_secret();
                SessionRow::insert(conn, &session_hash, &csrf_hash, now)?;
                SessionRow::delete_expired(conn, now - IDLE_SECS, now - MAX_SECS)?;
                Journal::record(conn, None, "logged_in", None, now)?;
                Ok(Ok((session.to_string(), csrf.to_string())))
            })
        },
    )
    .await;
    match outcome {
        Ok(Ok(Ok((session, csrf)))) => {
            let cookie = Cookie::build(SESSION_COOKIE, session)
                .path("/")
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Strict)
                .finish();
            HttpResponse::Created()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .cookie(cookie)
                .json(Opened {
                    csrf,
                    idle_seconds: IDLE_SECS,
                })
        }
        Ok(Ok(Err(key))) => problem(&state, lang, StatusCode::UNAUTHORIZED, key),
        _ => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

pub async fn close_session(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = header_lang(&req);
    let session = match api_session(&req, &state, lang).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let worker = state.clone();
    let _ = web::block(move || {
        let now = worker.clock.now();
        worker.db.write(|conn| {
            SessionRow::delete(conn, &session.id_hash)?;
            Journal::record(conn, None, "logged_out", None, now)
        })
    })
    .await;
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    gone.make_removal();
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(gone)
        .finish()
}

// ---------------------------------------------------------------- inbox

/// One row of the inbox, with its deadlines already judged.
pub struct InboxRow {
    pub id: String,
    pub received_on: NaiveDate,
    pub status_key: String,
    pub ack: Option<(NaiveDate, &'static str)>,
    pub feedback: Option<(NaiveDate, &'static str)>,
    pub unread: i64,
    pub on_hold: bool,
}

/// "overdue", "due-soon" (within `soon` days) or "" for a deadline.
fn urgency(due: NaiveDate, today: NaiveDate, soon: i64) -> &'static str {
    let days = (due - today).num_days();
    if days < 0 {
        "overdue"
    } else if days <= soon {
        "due-soon"
    } else {
        ""
    }
}

#[derive(askama::Template)]
#[template(path = "secretary/inbox.html")]
struct InboxPage<'a> {
    l: Layout<'a>,
    rows: Vec<InboxRow>,
    total: i64,
    page: i64,
    pages: i64,
    status: &'a str,
    statuses: [&'static str; 4],
    /// Notifications that have waited too long, and why.
    mail_warning: Option<String>,
}

pub async fn inbox(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return super::request::not_found(req, state).await;
    };
    if let Err(response) = page_session(&req, &state, lang).await {
        return response;
    }
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let status: Option<CaseStatus> = query.get("status").and_then(|s| s.parse().ok());
    let page: i64 = query
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let worker = state.clone();
    let found = web::block(
        move || -> Result<(db::InboxPage, db::Backlog), db::DbError> {
            let mut conn = worker.db.conn()?;
            let page = Case::inbox(&mut conn, status, page - 1, PER_PAGE)?;
            let backlog =
                db::Outbox::backlog(&mut conn, worker.clock.now(), worker.notify_stale_secs)?;
            Ok((page, backlog))
        },
    )
    .await;
    let Ok(Ok((found, backlog))) = found else {
        return pages::error_page(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
        );
    };
    let today = state.clock.today();
    let rows = found
        .cases
        .into_iter()
        .map(|(case, unread)| {
            let open = case.status != CaseStatus::Closed;
            InboxRow {
                ack: (case.status == CaseStatus::Received)
                    .then(|| (case.row.ack_due, urgency(case.row.ack_due, today, 2))),
                feedback: open.then(|| {
                    (
                        case.row.feedback_due,
                        urgency(case.row.feedback_due, today, 2),
                    )
                }),
                status_key: format!("status-{}", case.status.as_str()),
                id: case.row.id,
                received_on: case.row.received_on,
                unread,
                on_hold: case.row.on_hold,
            }
        })
        .collect();
    let pages = ((found.total + PER_PAGE - 1) / PER_PAGE).max(1);
    pages::render(
        StatusCode::OK,
        &InboxPage {
            l: Layout::secretary(&state, lang, "secretary"),
            rows,
            total: found.total,
            page,
            pages,
            status: status.map(|s| s.as_str()).unwrap_or(""),
            statuses: ["received", "acknowledged", "in_review", "closed"],
            mail_warning: (backlog.stale > 0).then(|| {
                state.i18n.get_with(
                    lang,
                    "mail-backlog",
                    &[
                        ("count", backlog.stale.to_string()),
                        (
                            "reason",
                            crate::notify::describe_backlog(&state.i18n, lang, &backlog),
                        ),
                    ],
                )
            }),
        },
    )
}

// ---------------------------------------------------------------- case

pub struct EntryView {
    pub position: i32,
    pub kind: &'static str,
    pub created_on: NaiveDate,
    pub ciphertext: String,
    pub unread: bool,
}

pub struct JournalView {
    pub when: String,
    pub action_key: String,
    pub detail_key: Option<String>,
    pub case_id: Option<String>,
}

fn journal_views(state: &AppState, lang: Lang, rows: Vec<Journal>) -> Vec<JournalView> {
    rows.into_iter()
        .map(|j| {
            let when = chrono::DateTime::from_timestamp(j.occurred_at, 0)
                .map(|t| {
                    format!(
                        "{} {} UTC",
                        state.i18n.date(lang, t.date_naive()),
                        t.format("%H:%M")
                    )
                })
                .unwrap_or_default();
            JournalView {
                when,
                action_key: format!("journal-{}", j.action),
                detail_key: j.detail.map(|d| match j.action.as_str() {
                    "closed" => format!("reason-{d}"),
                    _ => format!("status-{d}"),
                }),
                case_id: j.case_id,
            }
        })
        .collect()
}

/// A case, its thread and its journal.
type CaseView = (Case, Vec<db::EntryRow>, Vec<Journal>);

#[derive(askama::Template)]
#[template(path = "secretary/case.html")]
struct CasePage<'a> {
    l: Layout<'a>,
    case: &'a db::CaseRow,
    status: &'static str,
    status_key: String,
    entries: Vec<EntryView>,
    journal: Vec<JournalView>,
    recipients: String,
    categories: Vec<&'a crate::config::CategorySetting>,
    reasons: Vec<&'static str>,
}

pub async fn case_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return super::request::not_found(req, state).await;
    };
    if let Err(response) = page_session(&req, &state, lang).await {
        return response;
    }
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let worker = state.clone();
    let found = web::block(move || -> Result<Option<CaseView>, db::DbError> {
        let now = worker.clock.now();
        worker.db.write(|conn| {
            let Some(case) = Case::find(conn, &id)? else {
                return Ok(None);
            };
            let entries = case.entries(conn)?;
            Case::mark_read(conn, &id)?;
            Journal::record(conn, Some(&id), "opened", None, now)?;
            let journal = Journal::recent(conn, Some(&id), 200)?;
            Ok(Some((case, entries, journal)))
        })
    })
    .await;
    let (case, entries, journal) = match found {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => {
            return pages::error_page(&state, lang, StatusCode::NOT_FOUND, "error-not-found")
        }
        _ => {
            return pages::error_page(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "error-unavailable",
            )
        }
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let entries = entries
        .into_iter()
        .map(|e| EntryView {
            position: e.position,
            kind: e.kind().map(EntryKind::as_str).unwrap_or("report"),
            created_on: e.created_on,
            ciphertext: b64.encode(&e.ciphertext),
            unread: e.unread,
        })
        .collect();
    let mut recipients: Vec<String> = state.recipients.iter().map(|r| r.to_string()).collect();
    recipients.push(case.row.reporter_recipient.clone());
    pages::render(
        StatusCode::OK,
        &CasePage {
            l: Layout::secretary(&state, lang, &format!("secretary/cases/{}", case.row.id)),
            status: case.status.as_str(),
            status_key: format!("status-{}", case.status.as_str()),
            case: &case.row,
            entries,
            journal: journal_views(&state, lang, journal),
            recipients: recipients.join(" "),
            categories: state.categories.iter().collect(),
            reasons: ClosureReason::ALL.iter().map(|r| r.as_str()).collect(),
        },
    )
}

#[derive(askama::Template)]
#[template(path = "secretary/journal.html")]
struct JournalPage<'a> {
    l: Layout<'a>,
    journal: Vec<JournalView>,
}

pub async fn journal_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return super::request::not_found(req, state).await;
    };
    if let Err(response) = page_session(&req, &state, lang).await {
        return response;
    }
    let worker = state.clone();
    let rows = web::block(move || -> Result<Vec<Journal>, db::DbError> {
        let mut conn = worker.db.conn()?;
        Ok(Journal::recent(&mut conn, None, 500)?)
    })
    .await;
    let Ok(Ok(rows)) = rows else {
        return pages::error_page(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
        );
    };
    pages::render(
        StatusCode::OK,
        &JournalPage {
            l: Layout::secretary(&state, lang, "secretary/journal"),
            journal: journal_views(&state, lang, rows),
        },
    )
}

// ---------------------------------------------------------------- workflow

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
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = header_lang(&req);
    if let Err(response) = api_session(&req, &state, lang).await {
        return response;
    }
    let body: ActionBody = match read_json(&req, payload, &state, lang).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let action = req
        .match_info()
        .get("action")
        .unwrap_or_default()
        .to_string();
    let today = state.clock.today();
    let entry = |body: &ActionBody| -> Result<NewEntry, HttpResponse> {
        let b64 = body
            .ciphertext
            .as_deref()
            .ok_or_else(|| problem(&state, lang, StatusCode::BAD_REQUEST, "api-error-json"))?;
        let sealed = parse_ciphertext(&state, lang, b64)?;
        Ok(NewEntry::later(
            &id,
            EntryKind::Reply,
            today,
            sealed.into_bytes(),
        ))
    };
    let step = match action.as_str() {
        "replies" => entry(&body).map(Step::Reply),
        "acknowledge" => entry(&body).map(Step::Acknowledge),
        "review" => Ok(Step::Review),
        "close" => match body.reason.as_deref().and_then(ClosureReason::parse) {
            Some(reason) => entry(&body).map(|e| Step::Close(reason, e)),
            None => Err(problem(
                &state,
                lang,
                StatusCode::BAD_REQUEST,
                "api-error-reason",
            )),
        },
        "hold" => match body.on_hold {
            Some(on) => Ok(Step::Hold(on)),
            None => Err(problem(
                &state,
                lang,
                StatusCode::BAD_REQUEST,
                "api-error-json",
            )),
        },
        _ => Err(problem(
            &state,
            lang,
            StatusCode::NOT_FOUND,
            "error-not-found",
        )),
    };
    let step = match step {
        Ok(step) => step,
        Err(response) => return response,
    };
    let worker = state.clone();
    let done = web::block(move || {
        let now = worker.clock.now();
        worker
            .db
            .try_write(|conn| apply_step(conn, &id, step, today, now))
    })
    .await;
    match done {
        Ok(Ok(())) => HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Ok(Err(StepError::Workflow(WorkflowError::NotFound))) => {
            problem(&state, lang, StatusCode::NOT_FOUND, "error-not-found")
        }
        Ok(Err(StepError::Workflow(WorkflowError::Closed))) => {
            problem(&state, lang, StatusCode::CONFLICT, "api-error-closed")
        }
        Ok(Err(StepError::Workflow(WorkflowError::Illegal))) => {
            problem(&state, lang, StatusCode::CONFLICT, "api-error-transition")
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a workflow step failed");
            problem(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "api-error-unavailable",
            )
        }
        Err(_) => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

/// `GET /api/v1/secretary/cases/{case}/attachments/{id}`: an attachment's
/// age file, for the Secretary's browser to decrypt. Addressed through its
/// case, and 404 unless that case claimed it: a report that names another
/// case's attachment cannot make this case's page fetch it.
pub async fn download_attachment(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = header_lang(&req);
    if let Err(response) = api_read_session(&req, &state, lang).await {
        return response;
    }
    let case_id = req.match_info().get("case").unwrap_or_default().to_string();
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let worker = state.clone();
    let probe = id.clone();
    let owner = web::block(move || -> Result<Option<Option<String>>, db::DbError> {
        let mut conn = worker.db.conn()?;
        Ok(db::Attachment::case_of(&mut conn, &probe)?)
    })
    .await;
    match owner {
        Ok(Ok(Some(Some(owner)))) if owner == case_id => {
            super::attachments::stream(state.db.clone(), id)
        }
        Ok(Ok(_)) => problem(&state, lang, StatusCode::NOT_FOUND, "error-not-found"),
        _ => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

// ---------------------------------------------------------------- figures

use crate::domain::figures::{self, CaseFacts, Figures};

fn facts(year: i32, live: &[Case], purged: &[db::PurgedFigure]) -> Vec<CaseFacts> {
    let days = |a: NaiveDate, b: Option<NaiveDate>| b.map(|b| (b - a).num_days());
    let mut out: Vec<CaseFacts> = live
        .iter()
        .map(|c| CaseFacts {
            month: figures::month_of(c.row.received_on),
            status: c.status,
            closure_reason: c.row.closure_reason.clone(),
            ack_due: Some(c.row.ack_due),
            ack_days: days(c.row.received_on, c.row.acknowledged_on),
            feedback_due: Some(c.row.feedback_due),
            close_days: days(c.row.received_on, c.row.closed_on),
            feedback_on_time: c.row.closed_on.map(|d| d <= c.row.feedback_due),
        })
        .collect();
    out.extend(purged.iter().map(|p| {
        CaseFacts {
            month: p
                .received_month
                .strip_prefix(&format!("{year:04}-"))
                .and_then(|m| m.parse().ok())
                .unwrap_or(0),
            status: CaseStatus::Closed,
            closure_reason: p.closure_reason.clone(),
            ack_due: None,
            ack_days: p.ack_days.map(i64::from),
            feedback_due: None,
            close_days: p.close_days.map(i64::from),
            feedback_on_time: Some(p.feedback_on_time),
        }
    }));
    out
}

async fn year_figures(state: &web::Data<AppState>, year: i32) -> Result<Figures, db::DbError> {
    let worker = state.clone();
    let (live, purged) = web::block(move || -> Result<_, db::DbError> {
        let mut conn = worker.db.conn()?;
        Ok(db::Retention::year(&mut conn, year)?)
    })
    .await
    .map_err(|_| db::DbError::Migration("blocking pool closed".into()))??;
    Ok(figures::compute(
        year,
        state.clock.today(),
        &facts(year, &live, &purged),
    ))
}

fn year_of(req: &HttpRequest, state: &AppState) -> i32 {
    use chrono::Datelike;
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("year").and_then(|y| y.parse::<i32>().ok()))
        .filter(|y| (2000..=9999).contains(y))
        .unwrap_or_else(|| state.clock.today().year())
}

pub struct MonthRow {
    pub label: String,
    pub count: u32,
}

#[derive(askama::Template)]
#[template(path = "secretary/figures.html")]
struct FiguresPage<'a> {
    l: Layout<'a>,
    f: Figures,
    months: Vec<MonthRow>,
    ack_percent: String,
    answered_percent: String,
    median_ack: String,
    median_close: String,
}

/// `GET /{lang}/secretary/figures?year=YYYY`.
pub async fn figures_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return super::request::not_found(req, state).await;
    };
    if let Err(response) = page_session(&req, &state, lang).await {
        return response;
    }
    let year = year_of(&req, &state);
    let Ok(f) = year_figures(&state, year).await else {
        return pages::error_page(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
        );
    };
    let months = (1..=12)
        .map(|m| MonthRow {
            label: state.i18n.get(lang, &format!("month-{m}")),
            count: f.by_month[(m - 1) as usize],
        })
        .collect();
    let pct = |s: &figures::Share| match s.percent() {
        Some(p) => format!("{p} % ({}/{})", s.yes, s.of),
        None => "—".into(),
    };
    let days = |d: Option<f64>| d.map(|d| format!("{d}")).unwrap_or_else(|| "—".into());
    pages::render(
        StatusCode::OK,
        &FiguresPage {
            l: Layout::secretary(&state, lang, &format!("secretary/figures?year={year}")),
            ack_percent: pct(&f.acknowledged_in_time),
            answered_percent: pct(&f.answered_in_time),
            median_ack: days(f.median_ack_days),
            median_close: days(f.median_close_days),
            months,
            f,
        },
    )
}

/// `GET /{lang}/secretary/figures.csv?year=YYYY`.
pub async fn figures_csv(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return super::request::not_found(req, state).await;
    };
    if let Err(response) = page_session(&req, &state, lang).await {
        return response;
    }
    let year = year_of(&req, &state);
    match year_figures(&state, year).await {
        Ok(f) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"vigie-figures-{year}.csv\""),
            ))
            .body(figures::to_csv(&f)),
        Err(_) => pages::error_page(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
        ),
    }
}

#[derive(Serialize)]
struct YearReports {
    reports: Vec<String>,
}

/// `GET /api/v1/secretary/figures/reports?year=YYYY`: the encrypted reports
/// of the year, for the figures by category computed in the browser.
pub async fn figures_reports(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = header_lang(&req);
    if let Err(response) = api_read_session(&req, &state, lang).await {
        return response;
    }
    let year = year_of(&req, &state);
    let worker = state.clone();
    let found = web::block(move || -> Result<Vec<Vec<u8>>, db::DbError> {
        let mut conn = worker.db.conn()?;
        let (live, _) = db::Retention::year(&mut conn, year)?;
        let mut out = Vec::with_capacity(live.len());
        for case in live {
            if let Some(first) = case.entries(&mut conn)?.into_iter().next() {
                out.push(first.ciphertext);
            }
        }
        Ok(out)
    })
    .await;
    match found {
        Ok(Ok(list)) => {
            let b64 = base64::engine::general_purpose::STANDARD;
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(YearReports {
                    reports: list.iter().map(|c| b64.encode(c)).collect(),
                })
        }
        _ => problem(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "api-error-unavailable",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_guard_asks_more_work_as_the_backlog_doubles_up_to_a_ceiling() {
        let table = [
            (0, None),
            (19, None),
            (20, Some(14)),
            (39, Some(14)),
            (40, Some(15)),
            (80, Some(16)),
            (20 * 64, Some(20)),
            (CHALLENGE_CAP, Some(20)),
            (i64::MAX, Some(20)),
        ];
        for (backlog, bits) in table {
            assert_eq!(difficulty(backlog), bits, "{backlog}");
        }
    }
}
