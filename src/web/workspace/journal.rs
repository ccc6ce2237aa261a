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
            JournalView {
                when,
                action_key: format!("journal-{}", j.action),
                days: j
                    .detail
                    .clone()
                    .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
                    .filter(|_| {
                        matches!(
                            j.action,
                            JournalAction::RetentionConfirmed | JournalAction::RetentionFloor
                        )
                    }),
                detail_key: j.detail.and_then(|d| match j.action {
                    JournalAction::Closed | JournalAction::Deleted => Some(format!("reason-{d}")),
                    JournalAction::RetentionConfirmed | JournalAction::RetentionFloor => None,
                    _ => Some(format!("status-{d}")),
                }),
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
