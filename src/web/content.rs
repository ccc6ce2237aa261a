//! The texts the law asks the channel to publish: the procedure, the privacy
//! notice, the external channels and advice for reporters. Markdown files the
//! secretariat can edit without rebuilding (`content_dir/{fr,en}/NAME.md`,
//! read at start-up); the defaults ship in the binary. Raw HTML in them is
//! shown as text, never rendered.

use std::{collections::HashMap, path::Path};

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use pulldown_cmark::{html, Event, Options, Parser};

use super::{
    pages::{self, Layout},
    request::{lang_of, not_found},
    AppState,
};
use crate::{
    domain::RETENTION_FLOOR_DAYS,
    i18n::{I18n, Lang},
};

/// The published pages, in the order the footer lists them.
pub const PAGES: [&str; 4] = ["procedure", "privacy", "channels", "advice"];

fn default_text(lang: Lang, page: &str) -> &'static str {
    match (lang, page) {
        (Lang::Fr, "procedure") => include_str!("../../content/fr/procedure.md"),
        (Lang::Fr, "privacy") => include_str!("../../content/fr/privacy.md"),
        (Lang::Fr, "channels") => include_str!("../../content/fr/channels.md"),
        (Lang::Fr, _) => include_str!("../../content/fr/advice.md"),
        (Lang::En, "procedure") => include_str!("../../content/en/procedure.md"),
        (Lang::En, "privacy") => include_str!("../../content/en/privacy.md"),
        (Lang::En, "channels") => include_str!("../../content/en/channels.md"),
        (Lang::En, _) => include_str!("../../content/en/advice.md"),
    }
}

/// Markdown to HTML, with any raw HTML turned into plain text.
pub fn render_markdown(text: &str) -> String {
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 2);
    html::push_html(&mut out, events);
    out
}

/// The rendered pages, loaded once.
#[derive(Debug, Default)]
pub struct Content(HashMap<(&'static str, &'static str), String>);

impl Content {
    /// Reads `dir/{lang}/{page}.md` where present, the shipped text otherwise.
    pub fn load(dir: &Path) -> Content {
        let mut map = HashMap::new();
        for lang in Lang::ALL {
            for page in PAGES {
                let path = dir.join(lang.code()).join(format!("{page}.md"));
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|_| default_text(lang, page).to_string());
                map.insert((lang.code(), page), render_markdown(&text));
            }
        }
        Content(map)
    }

    pub fn get(&self, lang: Lang, page: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|((l, p), _)| *l == lang.code() && *p == page)
            .map(|(_, html)| html.as_str())
    }
}

#[derive(Template)]
#[template(path = "content.html")]
struct ContentPage<'a> {
    l: Layout<'a>,
    title_key: String,
    html: &'a str,
}

/// `GET /{lang}/{procedure|privacy|channels|advice}`.
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    let page = req
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let Some(html) = state.content.get(lang, &page) else {
        return not_found(req, state).await;
    };
    // The numbers the texts state come from the configuration and the law's
    // deadlines, as they apply now (a retention below the floor applies
    // only once a reader confirmed it).
    let configured = state.retention_days;
    let retention = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            Ok(crate::db::Retention::effective_days(conn, configured)?)
        })
        .await
        .map(|(days, _)| days)
        .unwrap_or(configured.max(RETENTION_FLOOR_DAYS));
    let html = state.publication.fill(html, lang, &state.i18n, retention);
    pages::render(
        StatusCode::OK,
        &ContentPage {
            l: Layout::new(&state, lang, &page),
            title_key: format!("page-{page}"),
            html: &html,
        },
    )
}

/// What the secretariat states in the published texts, from the settings.
/// A value it has not supplied shows as a marked field
/// (`[à compléter : KEY]`), which `vigie check` refuses outside demo mode.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    pub controller_address: String,
    pub controller_contact: String,
    pub dpo_contact: String,
    pub legal_basis: String,
    pub transfers: String,
    pub backup_retention_days: Option<u32>,
}

/// The start of every marked field, in either language.
pub const MARKERS: [&str; 2] = ["[à compléter", "[to be completed"];

impl Publication {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Publication {
            controller_address: settings.controller_address.clone(),
            controller_contact: settings.controller_contact.clone(),
            dpo_contact: settings.dpo_contact.clone(),
            legal_basis: settings.legal_basis.clone(),
            transfers: settings.transfers.clone(),
            backup_retention_days: settings.backup_retention_days,
        }
    }

    /// The rendered text with its placeholders filled in: the numbers
    /// (`{{retention_days}}`, `{{ack_days}}`, `{{feedback_months}}`,
    /// `{{backup_days}}`), the controller's and the DPO's details, and the
    /// sentences that follow the legal basis (`{{legal_basis}}`,
    /// `{{objection}}`) and the transfers (`{{transfers}}`).
    pub fn fill(&self, html: &str, lang: Lang, i18n: &I18n, retention_days: u32) -> String {
        let marked = |key: &str, value: &str| {
            if value.trim().is_empty() {
                format!("{} {key}]", i18n.get(lang, "publication-missing"))
            } else {
                escape(value.trim())
            }
        };
        let basis = match self.legal_basis.as_str() {
            "legitimate_interest" => "legitimate_interest",
            _ => "legal_obligation",
        };
        let transfers = if self.transfers.trim().is_empty() {
            i18n.get(lang, "privacy-no-transfers")
        } else {
            escape(self.transfers.trim())
        };
        let backups = self
            .backup_retention_days
            .map(|d| d.to_string())
            .unwrap_or_else(|| marked("backup_retention_days", ""));
        html.replace("{{retention_days}}", &retention_days.to_string())
            .replace("{{ack_days}}", "7")
            .replace("{{feedback_months}}", "3")
            .replace("{{backup_days}}", &backups)
            .replace(
                "{{controller_address}}",
                &marked("controller_address", &self.controller_address),
            )
            .replace(
                "{{controller_contact}}",
                &marked("controller_contact", &self.controller_contact),
            )
            .replace("{{dpo_contact}}", &marked("dpo_contact", &self.dpo_contact))
            .replace(
                "{{legal_basis}}",
                &i18n.get(lang, &format!("privacy-basis-{basis}")),
            )
            .replace(
                "{{objection}}",
                &i18n.get(lang, &format!("privacy-objection-{basis}")),
            )
            .replace("{{transfers}}", &transfers)
    }
}

/// Text from the settings, safe in HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_in_the_texts_is_shown_as_text() {
        let html =
            render_markdown("# Titre\n\n<script>alert(1)</script>\n\nTexte <b>x</b> et **gras**");
        assert!(html.contains("<h1>Titre</h1>"));
        assert!(html.contains("<strong>gras</strong>"));
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn every_page_exists_in_both_languages_by_default() {
        let content = Content::load(Path::new("/nonexistent"));
        for lang in Lang::ALL {
            for page in PAGES {
                assert!(
                    content.get(lang, page).is_some_and(|h| h.len() > 10),
                    "{lang} {page}"
                );
            }
        }
    }
}
