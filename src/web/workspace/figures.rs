//! Yearly figures: the page, its CSV, and the year's encrypted reports for
//! the figures by category computed in the browser.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use chrono::NaiveDate;
use serde::Serialize;

use super::{error::WorkspaceError, Session};
use crate::{
    db::{self, Case},
    domain::{
        figures::{self, CaseFacts, Figures},
        CaseStatus, Role,
    },
    web::{
        pages::{self, Layout},
        request::lang_of,
        AppState,
    },
};

fn facts(year: i32, live: &[Case], purged: &[db::PurgedFigure]) -> Vec<CaseFacts> {
    let days = |a: NaiveDate, b: Option<NaiveDate>| b.map(|b| (b - a).num_days());
    let mut out: Vec<CaseFacts> = live
        .iter()
        .map(|c| CaseFacts {
            month: figures::month_of(c.received_on),
            status: c.status,
            closure_reason: c.closure_reason,
            ack_due: Some(c.ack_due),
            ack_days: days(c.received_on, c.acknowledged_on),
            feedback_due: Some(c.feedback_due),
            close_days: days(c.received_on, c.closed_on),
            // Feedback, not closure, is what the law counts (a case closed
            // before feedback was recorded gave it by its closing message).
            feedback_on_time: c.feedback_on.or(c.closed_on).map(|d| d <= c.feedback_due),
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
            closure_reason: p.closure_reason,
            ack_due: None,
            ack_days: p.ack_days.map(i64::from),
            feedback_due: None,
            close_days: p.close_days.map(i64::from),
            feedback_on_time: Some(p.feedback_on_time),
        }
    }));
    out
}

async fn year_figures(state: &AppState, role: Role, year: i32) -> Result<Figures, WorkspaceError> {
    let (live, purged) = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> {
            Ok(db::Retention::year(conn, role, year)?)
        })
        .await?;
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
pub async fn page(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let lang = lang_of(&req).ok_or(WorkspaceError::NotFound)?;
    let year = year_of(&req, &state);
    let f = year_figures(&state, session.role(), year).await?;
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
    Ok(pages::render(
        StatusCode::OK,
        &FiguresPage {
            l: Layout::workspace(
                &state,
                lang,
                &format!("secretary/figures?year={year}"),
                session.role(),
            ),
            ack_percent: pct(&f.acknowledged_in_time),
            answered_percent: pct(&f.answered_in_time),
            median_ack: days(f.median_ack_days),
            median_close: days(f.median_close_days),
            months,
            f,
        },
    ))
}

/// `GET /{lang}/secretary/figures.csv?year=YYYY`.
pub async fn csv(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    lang_of(&req).ok_or(WorkspaceError::NotFound)?;
    let year = year_of(&req, &state);
    let f = year_figures(&state, session.role(), year).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"vigie-figures-{year}.csv\""),
        ))
        .body(figures::to_csv(&f)))
}

#[derive(Serialize)]
struct YearReports {
    reports: Vec<String>,
}

/// `GET /api/v1/secretary/figures/reports?year=YYYY`: the encrypted reports
/// of the year, for the figures by category computed in the browser.
pub async fn reports(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let year = year_of(&req, &state);
    let role = session.role();
    let list = state
        .db
        .run(move |conn| -> Result<_, WorkspaceError> {
            let (live, _) = db::Retention::year(conn, role, year)?;
            let mut out = Vec::with_capacity(live.len());
            for case in live {
                if let Some(first) = case.entries(conn)?.into_iter().next() {
                    out.push(first.ciphertext);
                }
            }
            Ok(out)
        })
        .await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(YearReports {
            reports: list.iter().map(|c| b64.encode(c)).collect(),
        }))
}
