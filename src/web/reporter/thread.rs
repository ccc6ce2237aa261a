//! The case page without JavaScript: the thread, opened in memory with the
//! reporter's key derived from the typed token, rendered once in a
//! `no-store` page. Every decrypted buffer is zeroized as it drops.

use actix_web::{http::StatusCode, HttpResponse};
use chrono::NaiveDate;
use secrecy::ExposeSecret;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{
    config::CategorySetting,
    crypto::{self, Derived},
    db::{Case, EntryRow},
    domain::{CaseStatus, SubmissionKey},
    i18n::Lang,
    service::case::Opened,
    web::{
        pages::{self, Layout},
        AppState,
    },
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
    /// The files the entry names (the reporter's own, or the reader's).
    #[serde(default)]
    pub attachments: Vec<PlainFile>,
}

/// A file an entry names, as the reporter's page lists it.
#[derive(Debug, Default, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PlainFile {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: u64,
}

pub struct Shown {
    pub kind: &'static str,
    /// The end of its heading's message key (`followup-entry-…`): a reply
    /// from the Bureau is labelled as such.
    pub label: &'static str,
    pub created_on: NaiveDate,
    /// `None` when the entry cannot be decrypted with the reporter's key.
    pub plain: Option<Plain>,
    pub category: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    l: Layout<'a>,
    case: &'a Case,
    status_key: String,
    open: bool,
    entries: Vec<Shown>,
    token: &'a str,
    typed_message: &'a str,
    error: Option<&'static str>,
    sent: bool,
    already: bool,
    files: Vec<pages::FileNote>,
    submission: String,
    max_message: usize,
    readers_key: &'static str,
}

/// What the case page shows besides the case itself.
pub struct Shows<'a> {
    pub status: StatusCode,
    /// The message typed, given back when it was refused.
    pub typed_message: &'a str,
    pub error: Option<&'static str>,
    /// The message was just stored.
    pub sent: bool,
    /// The message had been stored already: this copy was not.
    pub already: bool,
    /// The key of the message form: the one sent, when the message it
    /// carried was refused or its fate is unknown; otherwise a fresh one.
    pub key: Option<&'a SubmissionKey>,
    /// What was done with the hidden information of the pictures just sent.
    pub files: Vec<pages::FileNote>,
}

impl Shows<'static> {
    pub const CASE: Shows<'static> = Shows {
        status: StatusCode::OK,
        typed_message: "",
        error: None,
        sent: false,
        already: false,
        key: None,
        files: Vec::new(),
    };
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
    derived: &Derived,
    entries: &[EntryRow],
) -> Vec<Shown> {
    entries
        .iter()
        .map(|e| {
            let plain = crypto::open_as_reporter(derived, &e.ciphertext)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Plain>(&bytes).ok());
            Shown {
                kind: e.kind.as_str(),
                label: entry_label(e),
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

/// The case page, its thread opened for this one response.
pub fn case_page(state: &AppState, lang: Lang, opened: &Opened, shows: Shows<'_>) -> HttpResponse {
    let case = &opened.case;
    pages::render(
        shows.status,
        &CasePage {
            l: Layout::followup(state, lang),
            case,
            status_key: format!("status-{}", case.status.as_str()),
            open: case.status != CaseStatus::Closed,
            entries: decrypt_thread(state, lang, &opened.derived, &opened.entries),
            token: opened.token.expose_secret(),
            typed_message: shows.typed_message,
            error: shows.error,
            sent: shows.sent,
            already: shows.already,
            files: shows.files,
            submission: shows
                .key
                .cloned()
                .unwrap_or_else(SubmissionKey::random)
                .to_string(),
            max_message: state.limits.description_chars,
            readers_key: crate::web::pages::readers_key(case.readership),
        },
    )
}

/// The end of an entry's heading key: `report`, `message`, `reply`, or
/// `reply-bureau` for a reply the Bureau's readers wrote.
pub fn entry_label(entry: &EntryRow) -> &'static str {
    match (entry.kind, entry.replied_by) {
        (crate::db::EntryKind::Reply, Some(crate::domain::Role::Bureau)) => "reply-bureau",
        (kind, _) => kind.as_str(),
    }
}
