//! The journal: who did what and when, for the whole workspace or one case.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};

use super::{error::WorkspaceError, Session};
use crate::{
    db::{Journal, JournalAction},
    domain::{CaseId, Role},
    i18n::Lang,
    web::{
        pages::{self, Layout},
        request::lang_of,
        AppState,
    },
};

/// One journal line, ready for a template.
pub struct JournalView {
    pub when: String,
    pub action_key: String,
    pub detail_key: Option<String>,
    /// A number the line carries (a retention in days), shown as it is.
    pub days: Option<String>,
    pub case_id: Option<CaseId>,
    /// Who acted: the role's message key (`journal-by-…`, `journal-by-system`).
    pub by_key: &'static str,
    /// The short fingerprint of the key that reader logged in with.
    pub key: Option<String>,
}

pub fn journal_views(state: &AppState, lang: Lang, rows: Vec<Journal>) -> Vec<JournalView> {
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
            // A detail is a status, a closure reason, or a number of days.
            let (detail_key, days) = match (j.action, j.detail) {
                (_, None) => (None, None),
                (JournalAction::Closed | JournalAction::Deleted, Some(d)) => {
                    (Some(format!("reason-{d}")), None)
                }
                (JournalAction::RetentionConfirmed | JournalAction::RetentionFloor, Some(d)) => {
                    (None, Some(d))
                }
                (_, Some(d)) => (Some(format!("status-{d}")), None),
            };
            JournalView {
                when,
                action_key: format!("journal-{}", j.action),
                detail_key,
                days,
                case_id: j.case_id,
                by_key: match j.role {
                    Some(Role::Secretary) => "journal-by-secretary",
                    Some(Role::Bureau) => "journal-by-bureau",
                    None => "journal-by-system",
                },
                key: j.key_fingerprint.filter(|k| !k.is_empty()),
            }
        })
        .collect()
}

#[derive(askama::Template)]
#[template(path = "secretary/journal.html")]
struct JournalPage<'a> {
    l: Layout<'a>,
    journal: Vec<JournalView>,
}

/// `GET /{lang}/secretary/journal`.
pub async fn page(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let lang = lang_of(&req).ok_or(WorkspaceError::NotFound)?;
    let role = session.role();
    let rows = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> {
            Ok(Journal::recent(conn, role, None, 500)?)
        })
        .await?;
    Ok(pages::render(
        StatusCode::OK,
        &JournalPage {
            l: Layout::workspace(&state, lang, "secretary/journal", session.role()),
            journal: journal_views(&state, lang, rows),
        },
    ))
}
