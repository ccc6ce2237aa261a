//! `/{lang}/follow-up`: the reporter's follow-up without JavaScript, with
//! the token alone. The server derives what it needs from the typed token,
//! opens the thread in memory to render one `no-store` page, seals a new
//! message at once, and forgets the token. The token travels back in a
//! hidden field of the message form (see the threat model): nothing is
//! kept between two requests. (With JavaScript, see `api::cases`.)

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use zeroize::Zeroizing;

use super::thread::{case_page, Shows};
use crate::{
    db::DbError,
    domain::SubmissionKey,
    i18n::Lang,
    service::{
        case::{self, ByToken, Opened},
        message::{self, MessageError, Typed},
        upload,
    },
    web::{
        form::{self, FormError},
        pages::{self, Layout},
        request::{form_error_status, lang_of, not_found, read_form},
        upload_form::{self, UploadError},
        AppState,
    },
};

#[derive(askama::Template)]
#[template(path = "followup.html")]
struct FollowUpPage<'a> {
    l: Layout<'a>,
    typed: &'a str,
    error: Option<&'static str>,
}

/// Why the follow-up form or the case page is shown again. `files` when
/// files were attached and must be chosen again.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Form(FormError),
    Upload(UploadError),
    Typo,
    Unknown,
    BusyLookup,
    Closed,
    Empty {
        files: bool,
    },
    TooLong {
        files: bool,
    },
    BusyMessage {
        files: bool,
    },
    AttachmentsTooLarge,
    /// The commit was sent but its answer lost: the message may be stored.
    MaybeStored,
    /// The case could not be read or the message sealed or stored (its
    /// cause is logged).
    Unavailable,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::Form(e) => form_error_status(e),
            Refusal::Upload(e) => e.status(),
            Refusal::Typo | Refusal::Empty { .. } | Refusal::TooLong { .. } => {
                StatusCode::BAD_REQUEST
            }
            Refusal::Unknown => StatusCode::NOT_FOUND,
            Refusal::BusyLookup | Refusal::BusyMessage { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Closed => StatusCode::CONFLICT,
            Refusal::AttachmentsTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Unavailable | Refusal::MaybeStored => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message_key(self) -> &'static str {
        match self {
            Refusal::Form(e) => e.message_key(),
            Refusal::Upload(e) => e.message_key(),
            Refusal::Typo => "token-typo",
            Refusal::Unknown => "token-unknown",
            Refusal::BusyLookup => "error-busy-lookup",
            Refusal::Closed => "followup-error-closed",
            Refusal::Empty { files: false } => "followup-error-empty",
            Refusal::Empty { files: true } => "followup-error-empty-files",
            Refusal::TooLong { files: false } => "followup-error-too-long",
            Refusal::TooLong { files: true } => "followup-error-too-long-files",
            Refusal::BusyMessage { files: false } => "error-busy",
            Refusal::BusyMessage { files: true } => "error-busy-files",
            Refusal::AttachmentsTooLarge => "error-attachments-too-large",
            Refusal::Unavailable => "error-unavailable",
            Refusal::MaybeStored => "followup-error-maybe-stored",
        }
    }

    fn of_message(e: MessageError, files: bool) -> Self {
        match e {
            MessageError::Closed => Refusal::Closed,
            MessageError::Empty => Refusal::Empty { files },
            MessageError::TooLong => Refusal::TooLong { files },
            MessageError::Busy => Refusal::BusyMessage { files },
            MessageError::Attachment(_) => Refusal::AttachmentsTooLarge,
            MessageError::Store(crate::service::workflow::StepError::Db(
                DbError::OutcomeUnknown,
            )) => Refusal::MaybeStored,
            other => {
                tracing::error!(error = %other, cause = %crate::telemetry::causes(&other), "a reporter message could not be stored");
                Refusal::Unavailable
            }
        }
    }

    fn of_lookup(e: DbError) -> Self {
        tracing::error!(error = %e, "case lookup failed");
        Refusal::Unavailable
    }
}

fn follow_up_page(
    state: &AppState,
    lang: Lang,
    typed: &str,
    refusal: Option<Refusal>,
) -> HttpResponse {
    pages::render(
        refusal.map_or(StatusCode::OK, Refusal::status),
        &FollowUpPage {
            l: Layout::followup(state, lang),
            typed,
            error: refusal.map(Refusal::message_key),
        },
    )
}

/// The case a typed token opens, or why the follow-up form comes back.
async fn open(state: &web::Data<AppState>, typed: &str) -> Result<Box<Opened>, Refusal> {
    let budgets = state.clone().into_inner();
    match case::by_token(state.desk(), budgets, typed).await {
        Ok(ByToken::Found(opened)) => Ok(opened),
        Ok(ByToken::Typo) => Err(Refusal::Typo),
        Ok(ByToken::Unknown) => Err(Refusal::Unknown),
        Ok(ByToken::Busy) => Err(Refusal::BusyLookup),
        Err(e) => Err(Refusal::of_lookup(e)),
    }
}

/// `GET /{lang}/follow-up`.
pub async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    follow_up_page(&state, lang, "", None)
}

/// `POST /{lang}/follow-up`: the case, decrypted by the server for a browser
/// without JavaScript.
pub async fn open_case(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    let parsed = match read_form(&req, payload, state.limits.body_bytes).await {
        Ok(parsed) => parsed,
        Err(e) => return follow_up_page(&state, lang, "", Some(Refusal::Form(e))),
    };
    let typed = Zeroizing::new(form::take(&parsed, "token"));
    drop(parsed);
    match open(&state, &typed).await {
        Ok(opened) => case_page(&state, lang, &opened, Shows::CASE),
        Err(refusal) => follow_up_page(&state, lang, &typed, Some(refusal)),
    }
}

/// `POST /{lang}/follow-up/message`: a message from a browser without JavaScript.
pub async fn post_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    // With files, the form is multipart: they are sealed as they stream in,
    // to the reporter's R derived from the token field that comes first.
    let (parsed, files, findings) = if upload_form::is_multipart(&req) {
        match upload_form::read(&req, payload, &state, upload_form::Sealing::Message).await {
            Ok(received) => (received.fields, received.files, received.findings),
            Err((e, fields)) => {
                let typed = Zeroizing::new(form::take(&fields, "token"));
                let body = Zeroizing::new(form::take(&fields, "body"));
                let key = SubmissionKey::parse(&form::take(&fields, "submission"));
                let refusal = Refusal::Upload(e);
                // The case page again, with the message typed, when the token
                // is good: only the files have to be chosen again.
                return match open(&state, &typed).await {
                    Ok(opened) => {
                        let shows = Shows {
                            status: refusal.status(),
                            typed_message: &body,
                            error: Some(refusal.message_key()),
                            key: key.as_ref(),
                            ..Shows::CASE
                        };
                        case_page(&state, lang, &opened, shows)
                    }
                    Err(_) => follow_up_page(&state, lang, &typed, Some(refusal)),
                };
            }
        }
    } else {
        match read_form(&req, payload, state.limits.body_bytes).await {
            Ok(parsed) => (parsed, Vec::new(), Vec::new()),
            Err(e) => return follow_up_page(&state, lang, "", Some(Refusal::Form(e))),
        }
    };
    let typed = Zeroizing::new(form::take(&parsed, "token"));
    let body = Zeroizing::new(form::take(&parsed, "body"));
    // A message sent without its key (from an old page) still lands.
    let key = SubmissionKey::parse(&form::take(&parsed, "submission"));
    drop(parsed);
    let opened = match open(&state, &typed).await {
        Ok(opened) => opened,
        Err(refusal) => {
            upload::discard_all(&state.db, &files).await;
            return follow_up_page(&state, lang, &typed, Some(refusal));
        }
    };
    let budgets = state.clone().into_inner();
    let limit = state.limits.description_chars;
    let message = Typed {
        body: &body,
        files: &files,
        lang,
        key: key.clone(),
    };
    let written = message::write(state.desk(), budgets, &opened, message, limit).await;
    match written {
        Ok(()) => {}
        Err(MessageError::AlreadySent) => {
            upload::discard_all(&state.db, &files).await;
            let shows = Shows {
                status: StatusCode::CONFLICT,
                already: true,
                ..Shows::CASE
            };
            return case_page(&state, lang, &opened, shows);
        }
        Err(e) => {
            upload::discard_all(&state.db, &files).await;
            let refusal = Refusal::of_message(e, !files.is_empty());
            let shows = Shows {
                status: refusal.status(),
                typed_message: &body,
                error: Some(refusal.message_key()),
                key: key.as_ref(),
                ..Shows::CASE
            };
            return case_page(&state, lang, &opened, shows);
        }
    }
    drop(opened);
    // Showing the stored message reads the case again, counted like any
    // reading of it.
    match open(&state, &typed).await {
        Ok(opened) => {
            let shows = Shows {
                sent: true,
                files: pages::file_notes(&state, lang, &findings),
                ..Shows::CASE
            };
            case_page(&state, lang, &opened, shows)
        }
        Err(refusal) => follow_up_page(&state, lang, &typed, Some(refusal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_follow_up_refusal_has_its_status_and_a_translated_reason() {
        let i18n = crate::i18n::I18n::load().unwrap_or_else(|e| panic!("{e}"));
        let table = [
            (Refusal::Form(FormError::TooLarge), 413),
            (Refusal::Upload(UploadError::FileTooLarge), 413),
            (Refusal::Typo, 400),
            (Refusal::Unknown, 404),
            (Refusal::BusyLookup, 429),
            (Refusal::Closed, 409),
            (Refusal::Empty { files: false }, 400),
            (Refusal::Empty { files: true }, 400),
            (Refusal::TooLong { files: false }, 400),
            (Refusal::TooLong { files: true }, 400),
            (Refusal::BusyMessage { files: false }, 429),
            (Refusal::BusyMessage { files: true }, 429),
            (Refusal::AttachmentsTooLarge, 413),
            (Refusal::MaybeStored, 503),
            (Refusal::Unavailable, 503),
        ];
        for (refusal, status) in table {
            assert_eq!(refusal.status().as_u16(), status, "{refusal:?}");
            for lang in [Lang::Fr, Lang::En] {
                assert!(
                    i18n.has(lang, refusal.message_key()),
                    "{refusal:?} in {lang:?}"
                );
            }
        }
    }
}
