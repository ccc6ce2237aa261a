//! Server-rendered pages (askama templates under `templates/`).

use actix_web::{
    http::{header, StatusCode},
    HttpResponse,
};
use askama::Template;
use chrono::NaiveDate;

use super::{assets::AssetRef, AppState};
use crate::{
    config::CategorySetting,
    domain::{Readership, ReportFields, Role},
    i18n::{Lang, Tr},
};

/// What the base layout needs on every page.
pub struct Layout<'a> {
    pub tr: Tr<'a>,
    pub demo: bool,
    pub css: &'a str,
    pub css_sri: &'a str,
    pub icon: &'a str,
    pub report_js: &'a AssetRef,
    pub secretary_js: &'a AssetRef,
    /// A page of the Secretary's workspace (its own navigation, no reporter links).
    pub secretary: bool,
    pub followup_js: &'a AssetRef,
    /// The Secretary's recipients, space-separated, for in-browser encryption.
    pub recipients: String,
    /// The Bureau's recipients, the same way; empty when there is no Bureau.
    pub bureau_recipients: String,
    /// On a workspace page: the message key naming whose workspace it is.
    pub workspace_key: Option<&'static str>,
    pub categories: Vec<&'a CategorySetting>,
    /// Longest text a reporter may write.
    pub max_text: usize,
    /// Attachment limits, for the pages' own checks.
    pub max_file: u64,
    pub max_total: u64,
    /// A follow-up page (loads its module).
    pub followup: bool,
    pub other_lang_path: String,
}

impl<'a> Layout<'a> {
    /// `page` is the path after the language, such as `report`.
    pub fn new(state: &'a AppState, lang: Lang, page: &str) -> Self {
        Layout {
            tr: Tr::new(lang, &state.i18n),
            demo: state.demo,
            css: &state.assets.css.url,
            css_sri: &state.assets.css.sri,
            icon: &state.assets.icon_url,
            report_js: &state.assets.report_js,
            secretary_js: &state.assets.secretary_js,
            secretary: false,
            followup_js: &state.assets.followup_js,
            recipients: state
                .readers
                .secretary
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            bureau_recipients: state
                .readers
                .bureau
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            categories: state.categories.iter().collect(),
            max_text: state.limits.description_chars,
            max_file: state.limits.attachment_bytes,
            max_total: state.limits.attachments_total_bytes,
            followup: false,
            workspace_key: None,
            other_lang_path: format!("/{}/{}", lang.other().code(), page),
        }
    }
}

impl<'a> Layout<'a> {
    /// A follow-up page: it loads the follow-up module.
    pub fn followup(state: &'a AppState, lang: Lang) -> Self {
        Layout {
            followup: true,
            ..Layout::new(state, lang, "follow-up")
        }
    }

    /// A page of the Secretary's workspace.
    pub fn secretary(state: &'a AppState, lang: Lang, page: &str) -> Self {
        Layout {
            secretary: true,
            ..Layout::new(state, lang, page)
        }
    }

    /// A page of the workspace as one reader sees it: it says whose it is.
    pub fn workspace(state: &'a AppState, lang: Lang, page: &str, role: Role) -> Self {
        Layout {
            workspace_key: Some(match role {
                Role::Secretary => "workspace-secretary",
                Role::Bureau => "workspace-bureau",
            }),
            ..Layout::secretary(state, lang, page)
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub l: Layout<'a>,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage<'a> {
    pub l: Layout<'a>,
    /// The form's one-time key, in its address.
    pub key: &'a str,
    /// The follow-up code of an attempt whose outcome is unknown.
    pub kept_token: Option<&'a str>,
    pub categories: Vec<&'a CategorySetting>,
    pub fields: &'a ReportFields,
    pub error: Option<&'static str>,
    pub max_description: usize,
    pub max_field: usize,
    pub max_file: u64,
    pub max_total: u64,
}

#[derive(Template)]
#[template(path = "receipt.html")]
pub struct ReceiptPage<'a> {
    pub l: Layout<'a>,
    pub token: &'a str,
    pub received_on: NaiveDate,
    pub ack_due: NaiveDate,
    pub feedback_due: NaiveDate,
    /// The sentence that says who reads the report (`readers-…`).
    pub readers_key: &'static str,
    /// What was done with the hidden information of each picture attached.
    pub files: Vec<FileNote>,
}

/// What the server did with a picture's hidden information, for the page.
pub struct FileNote {
    pub name: String,
    pub text: String,
}

/// One sentence a picture: what was removed, nothing found, or that it
/// could not be read to its end (what could be read was cleaned).
pub fn file_notes(
    state: &AppState,
    lang: Lang,
    findings: &[(String, crate::domain::scrub::Findings)],
) -> Vec<FileNote> {
    use crate::domain::scrub::Findings;
    let list = |kinds: &std::collections::BTreeSet<crate::domain::scrub::Kind>| {
        kinds
            .iter()
            .map(|k| state.i18n.get(lang, &format!("metadata-{}", k.as_str())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    findings
        .iter()
        .filter_map(|(name, found)| {
            let text = match found {
                Findings::NotAPicture => return None,
                Findings::TooLarge => state.i18n.get(lang, "attachment-metadata-too-large"),
                Findings::DocumentUnreadable => state
                    .i18n
                    .get(lang, "attachment-metadata-document-unreadable"),
                Findings::Cleaned(kinds) if kinds.is_empty() => {
                    state.i18n.get(lang, "attachment-metadata-none")
                }
                Findings::Cleaned(kinds) => format!(
                    "{} {}.",
                    state.i18n.get(lang, "attachment-metadata-stripped"),
                    list(kinds)
                ),
                Findings::Unreadable(kinds) if kinds.is_empty() => {
                    state.i18n.get(lang, "attachment-metadata-partly")
                }
                Findings::Unreadable(kinds) => format!(
                    "{} {} {}.",
                    state.i18n.get(lang, "attachment-metadata-partly"),
                    state.i18n.get(lang, "attachment-metadata-stripped"),
                    list(kinds)
                ),
            };
            Some(FileNote {
                name: name.clone(),
                text,
            })
        })
        .collect()
}

/// The small text file that keeps a follow-up code, as a `data:` address
/// that a link downloads without JavaScript (the JavaScript receipt writes
/// the same file: `codeFile` in `report.js`).
pub fn code_file_href(tr: &Tr<'_>, token: &str) -> String {
    let text = format!(
        "{}\n\n{}\n\n{}\n{}\n",
        tr.t("code-file-heading"),
        token,
        tr.t("code-file-where"),
        tr.t("code-file-warning")
    );
    let mut href = String::from("data:text/plain;charset=utf-8,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            href.push(char::from(b));
        } else {
            href.push_str(&format!("%{b:02X}"));
        }
    }
    href
}

/// A form sent a second time: what it sent is stored already.
#[derive(Template)]
#[template(path = "already.html")]
pub struct AlreadyPage<'a> {
    pub l: Layout<'a>,
    pub message_key: &'static str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub l: Layout<'a>,
    pub message_key: &'static str,
}

/// Renders a page with `no-store`: reporter pages never stay in a cache.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            // Pages that carry secrets (the receipt's token) next to text the
            // client chose are never compressed: no BREACH-style oracle.
            .insert_header(header::ContentEncoding::Identity)
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body("Erreur interne / Internal error")
        }
    }
}

/// A translated error page.
pub fn error_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    message_key: &'static str,
) -> HttpResponse {
    render(
        status,
        &ErrorPage {
            l: Layout::new(state, lang, ""),
            message_key,
        },
    )
}

/// The sentence that tells a reporter who reads their case.
pub fn readers_key(readership: Readership) -> &'static str {
    match readership {
        Readership::Secretary => "readers-secretary",
        Readership::Bureau => "readers-bureau",
        Readership::Both => "readers-both",
    }
}
