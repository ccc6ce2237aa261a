//! HTTP: reporter pages, health, static assets, security headers, error pages.

mod api;
mod assets;
mod attachments;
pub mod body;
mod content;
mod form;
mod headers;
pub mod health;
pub mod limits;
mod pages;
mod reporter;
mod request;
mod upload_form;
pub mod workspace;

pub use assets::Assets;
pub use content::{Content, Publication, MARKERS, PAGES};
pub use headers::security_headers;

use std::sync::Arc;

use actix_web::web;

use crate::{
    crypto::Readers,
    db::Db,
    domain::{Categories, Clock},
    i18n::I18n,
};

/// Limits on what a reporter may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_bytes: usize,
    pub description_chars: usize,
    pub field_chars: usize,
    pub ciphertext_bytes: usize,
    /// Largest attachment (the file itself).
    pub attachment_bytes: u64,
    /// Largest total of a case's attachments.
    pub attachments_total_bytes: u64,
    /// How long an upload may wait for its report or message.
    pub attachment_pending_secs: i64,
}

impl Limits {
    /// The largest age file an attachment of the limit can make: the file,
    /// a 16-byte tag per 64 KiB chunk, the nonce and a header.
    pub fn attachment_ciphertext_bytes(&self) -> u64 {
        self.attachment_bytes + self.attachment_bytes.div_ceil(65536) * 16 + 16 + 16 * 1024
    }

    /// The total limit, as the claim counts it (sizes of the files).
    pub fn attachments_total(&self) -> i64 {
        i64::try_from(self.attachments_total_bytes).unwrap_or(i64::MAX)
    }
}

/// A rate limit over a fixed one-minute window, global (never per client:
/// that would mean keeping client addresses).
#[derive(Debug, Default)]
pub struct MinuteLimit(std::sync::Mutex<(i64, u32)>);

impl MinuteLimit {
    pub fn allow(&self, now: i64, limit: u32) -> bool {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now.div_euclid(60);
        if w.0 != minute {
            *w = (minute, 0);
        }
        w.1 += 1;
        w.1 <= limit
    }
}

/// Everything a handler needs, injected through `web::Data`.
pub struct AppState {
    pub db: Db,
    pub i18n: I18n,
    /// The Secretary's recipients and the Bureau's.
    pub readers: Readers,
    pub categories: Categories,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    pub demo: bool,
    pub assets: Assets,
    /// The published texts (procedure, privacy notice, channels, advice).
    pub content: content::Content,
    /// Follow-up codes that matched no case this minute (see `limits`).
    pub lookup_failures: MinuteLimit,
    /// Readings of each case this minute.
    pub case_lookups: limits::PerCase,
    /// Reporter messages to each case this minute.
    pub case_messages: limits::PerCase,
    /// Notifications leave after a random delay of up to this many seconds.
    pub notify_max_delay: u64,
    /// Mail pending longer than this is shown as a problem in the workspace.
    pub notify_stale_secs: i64,
    /// Days a closed case is kept (`retention_days`), before the floor.
    pub retention_days: u32,
    /// What the published texts state, from the settings.
    pub publication: content::Publication,
    /// What `/readyz` looks at besides the database.
    pub readiness: health::Readiness,
}

/// All routes. The access log and headers are added by `startup`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(reporter::root))
        .route("/healthz", web::get().to(reporter::healthz))
        .route("/livez", web::get().to(health::livez))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{name}", web::get().to(assets::serve))
        .service(
            web::resource("/api/v1/reports")
                .route(web::post().to(api::create_report))
                .default_service(web::to(api::method_not_allowed)),
        )
        .route("/api/v1/attachments", web::post().to(api::upload))
        // Before the `/api` catch-all and the reporter's `/{lang}/…` pages.
        .configure(workspace::routes)
        .route("/api/v1/cases/lookup", web::post().to(api::api_lookup))
        .route("/api/v1/cases/messages", web::post().to(api::api_message))
        .service(web::scope("/api").default_service(web::to(api::not_found)))
        .service(
            web::resource("/{lang}/")
                .route(web::get().to(reporter::home))
                .default_service(web::to(reporter::method_not_allowed)),
        )
        .service(
            web::resource("/{lang}/report")
                .route(web::get().to(reporter::report::report_form))
                .route(web::post().to(reporter::report::report_submit))
                .default_service(web::to(reporter::method_not_allowed)),
        )
        .service(
            web::resource("/{lang}/follow-up")
                .route(web::get().to(reporter::followup::form))
                .route(web::post().to(reporter::followup::open_case))
                .default_service(web::to(reporter::method_not_allowed)),
        )
        .service(
            web::resource("/{lang}/follow-up/message")
                .route(web::post().to(reporter::followup::post_message))
                .default_service(web::to(reporter::method_not_allowed)),
        )
        .route("/{lang}/procedure", web::get().to(content::show))
        .route("/{lang}/privacy", web::get().to(content::show))
        .route("/{lang}/channels", web::get().to(content::show))
        .route("/{lang}/advice", web::get().to(content::show))
        .default_service(web::to(request::not_found));
}
