//! The reporter's pages, without JavaScript as with it: home ([`home`]),
//! the report form and its receipt ([`report`]), the follow-up of a case
//! by its token ([`followup`], its thread opened in memory by [`thread`]).
//! Each handler reads the request, calls one use case of `service`, and
//! renders a page; a refusal shows the same page again with what was
//! typed, its status and its translated reason.

pub mod followup;
pub mod report;
mod thread;

use crate::domain::CaseId;
use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};

use super::{
    limits::{
        FAILED_LOOKUPS_PER_MINUTE, LOOKUPS_PER_CASE_PER_MINUTE, MESSAGES_PER_CASE_PER_MINUTE,
    },
    pages::{self, HomePage, Layout},
    request::{lang_of, not_found},
    AppState,
};
use crate::{
    db,
    i18n::Lang,
    service::{Budgets, Desk},
};

impl AppState {
    /// What the reporter's use cases need from this instance.
    pub fn desk(&self) -> Desk<'_> {
        Desk {
            db: &self.db,
            readers: &self.readers,
            clock: self.clock.as_ref(),
            notify_max_delay: self.notify_max_delay,
            attachments_total: self.limits.attachments_total(),
        }
    }
}

impl Budgets for AppState {
    fn reading(&self, now: i64, case_id: &CaseId) -> bool {
        self.case_lookups
            .allow(now, case_id.as_str(), LOOKUPS_PER_CASE_PER_MINUTE)
    }

    fn miss(&self, now: i64) -> bool {
        self.lookup_failures.allow(now, FAILED_LOOKUPS_PER_MINUTE)
    }

    fn message(&self, now: i64, case_id: &CaseId) -> bool {
        self.case_messages
            .allow(now, case_id.as_str(), MESSAGES_PER_CASE_PER_MINUTE)
    }
}

pub async fn root(req: HttpRequest) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::negotiate(accept);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/{}/", lang.code())))
        .insert_header((header::VARY, "Accept-Language"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ok = state.db.run(db::ping).await.is_ok();
    let mut builder = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(if ok { "ok" } else { "unavailable" })
}

pub async fn method_not_allowed(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    let mut res = pages::error_page(&state, lang, StatusCode::METHOD_NOT_ALLOWED, "error-method");
    let path = req.path();
    let allow = if path.ends_with('/') {
        "GET"
    } else if path.ends_with("/message") {
        "POST"
    } else {
        "GET, POST"
    };
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    res
}

pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    pages::render(
        StatusCode::OK,
        &HomePage {
            l: Layout::new(&state, lang, ""),
        },
    )
}
