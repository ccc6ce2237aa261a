//! The inbox: every case with its deadlines judged, filtered and paged, and
//! a warning when notifications are stuck.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::NaiveDate;

use super::{error::WorkspaceError, Session};
use crate::{
    db::{self, Case},
    domain::{
        due, CaseId, CaseStatus, Due, ACK_SOON_DAYS, FEEDBACK_SOON_DAYS, RETENTION_FLOOR_DAYS,
    },
    web::{
        pages::{self, Layout},
        request::lang_of,
        AppState,
    },
};

const PER_PAGE: i64 = 50;

/// One row of the inbox, with its deadlines already judged.
pub struct InboxRow {
    pub id: CaseId,
    pub received_on: NaiveDate,
    pub status_key: String,
    pub ack: Option<(NaiveDate, &'static str)>,
    pub feedback: Option<(NaiveDate, &'static str)>,
    pub unread: i64,
    pub on_hold: bool,
    /// The Secretary referred the case to the Bureau.
    pub referred: bool,
    /// A short reference, the identifier's first eight characters, to tell
    /// cases of the same day apart and to name them aloud.
    pub reference: String,
    /// The sealed report (base64), for the reader's browser to show its
    /// category and first words; `None` when too long to preview.
    pub report: Option<String>,
}

/// "overdue", "due-soon" or "" for a deadline, by the rule the reminder
/// email counts with (`domain::due`).
fn urgency(deadline: NaiveDate, today: NaiveDate, soon: u64) -> &'static str {
    match due(deadline, today, soon) {
        Due::Overdue => "overdue",
        Due::Soon => "due-soon",
        Due::Later => "",
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
    categories: Vec<&'a crate::config::CategorySetting>,
    /// Notifications that have waited too long, and why.
    mail_warning: Option<String>,
    /// The configured retention, when it is below the floor and no reader
    /// confirmed it yet (the floor applies meanwhile).
    short_retention: Option<u32>,
    floor: u32,
}

/// `GET /{lang}/secretary?status=…&page=…`.
pub async fn page(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let lang = lang_of(&req).ok_or(WorkspaceError::NotFound)?;
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
    let now = state.clock.now();
    let stale_secs = state.notify_stale_secs;
    let role = session.role();
    let retention_days = state.retention_days;
    let (found, backlog, floored) = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> {
            let page = Case::inbox(conn, role, status, page - 1, PER_PAGE)?;
            let backlog = db::Outbox::backlog(conn, role, now, stale_secs)?;
            let floored = db::Retention::effective_days(conn, retention_days)?.1;
            Ok((page, backlog, floored))
        })
        .await?;
    let today = state.clock.today();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut reports = found.reports;
    let rows = found
        .cases
        .into_iter()
        .map(|(case, unread)| {
            // Feedback is owed until it is given, whether or not the case
            // is still open.
            let owed = case.status != CaseStatus::Closed && case.feedback_on.is_none();
            let report = reports
                .iter()
                .position(|(id, _)| *id == case.id)
                .map(|i| b64.encode(reports.swap_remove(i).1));
            InboxRow {
                reference: case.id.as_str().chars().take(8).collect(),
                report,
                ack: (case.status == CaseStatus::Received)
                    .then(|| (case.ack_due, urgency(case.ack_due, today, ACK_SOON_DAYS))),
                feedback: owed.then(|| {
                    let soon = urgency(case.feedback_due, today, FEEDBACK_SOON_DAYS);
                    (case.feedback_due, soon)
                }),
                status_key: format!("status-{}", case.status.as_str()),
                id: case.id,
                received_on: case.received_on,
                unread,
                on_hold: case.on_hold,
                referred: case.referred,
            }
        })
        .collect();
    let pages = ((found.total + PER_PAGE - 1) / PER_PAGE).max(1);
    Ok(pages::render(
        StatusCode::OK,
        &InboxPage {
            l: Layout::workspace(&state, lang, "secretary", session.role()),
            rows,
            total: found.total,
            page,
            pages,
            status: status.map(|s| s.as_str()).unwrap_or(""),
            statuses: ["received", "acknowledged", "in_review", "closed"],
            categories: state.categories.iter().collect(),
            short_retention: floored.then_some(retention_days),
            floor: RETENTION_FLOOR_DAYS,
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
    ))
}
