//! The case page: the thread (ciphertext for the browser to decrypt), the
//! workflow buttons and the case's journal. Opening it marks the thread read.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::NaiveDate;

use super::{
    error::WorkspaceError,
    journal::{journal_views, JournalView},
    Session,
};
use crate::{
    db::{self, Case, Journal, JournalAction},
    domain::{CaseId, ClosureReason, Readership, Role},
    service::reseal::Referral,
    web::{
        pages::{self, Layout},
        request::{lang_of, path_id},
        AppState,
    },
};

pub struct EntryView {
    pub position: i32,
    pub kind: &'static str,
    pub created_on: NaiveDate,
    pub ciphertext: String,
    pub unread: bool,
}

#[derive(askama::Template)]
#[template(path = "secretary/case.html")]
struct CasePage<'a> {
    l: Layout<'a>,
    case: &'a db::Case,
    status: &'static str,
    status_key: String,
    entries: Vec<EntryView>,
    journal: Vec<JournalView>,
    recipients: String,
    categories: Vec<&'a crate::config::CategorySetting>,
    reasons: Vec<&'static str>,
    /// What this reader may do to give the case to the Bureau: `alert`,
    /// `step-aside`, or nothing.
    referrals: Vec<&'static str>,
}

/// `GET /{lang}/secretary/cases/{id}`.
pub async fn page(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let lang = lang_of(&req).ok_or(WorkspaceError::NotFound)?;
    let id: CaseId = path_id(&req, "id").ok_or(WorkspaceError::NotFound)?;
    let now = state.clock.now();
    let reader = session.reader().clone();
    let (case, entries, journal) = state
        .db
        .run_write(move |conn| -> Result<_, WorkspaceError> {
            let case = Case::find_for(conn, reader.role, &id)?.ok_or(WorkspaceError::NotFound)?;
            let entries = case.entries(conn)?;
            Case::mark_read(conn, &id)?;
            let about = Some((&id, case.readership));
            Journal::record(conn, about, JournalAction::Opened, None, Some(&reader), now)?;
            let journal = Journal::recent(conn, reader.role, Some(&id), 200)?;
            Ok((case, entries, journal))
        })
        .await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let entries = entries
        .into_iter()
        .map(|e| EntryView {
            position: e.position,
            kind: e.kind.as_str(),
            created_on: e.created_on,
            ciphertext: b64.encode(&e.ciphertext),
            unread: e.unread,
        })
        .collect();
    let mut recipients: Vec<String> = state
        .readers
        .of(case.readership)
        .iter()
        .map(|r| r.to_string())
        .collect();
    recipients.push(case.reporter_recipient.clone());
    Ok(pages::render(
        StatusCode::OK,
        &CasePage {
            l: Layout::workspace(
                &state,
                lang,
                &format!("secretary/cases/{}", case.id),
                session.role(),
            ),
            status: case.status.as_str(),
            status_key: format!("status-{}", case.status.as_str()),
            case: &case,
            entries,
            journal: journal_views(&state, lang, journal),
            recipients: recipients.join(" "),
            categories: state.categories.iter().collect(),
            reasons: ClosureReason::ALL.iter().map(|r| r.as_str()).collect(),
            referrals: referrals(&state, session.role(), case.readership),
        },
    ))
}

/// The referrals the case page offers: only to the Secretary, only when the
/// Bureau has a key, and only those `service::reseal` allows.
fn referrals(state: &AppState, role: Role, readership: Readership) -> Vec<&'static str> {
    if role != Role::Secretary || !state.readers.has_bureau() {
        return Vec::new();
    }
    [
        (Referral::Alert, "alert"),
        (Referral::StepAside, "step-aside"),
    ]
    .into_iter()
    .filter(|(r, _)| r.from(readership).is_some())
    .map(|(_, name)| name)
    .collect()
}
