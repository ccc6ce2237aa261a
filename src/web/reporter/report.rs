//! `/{lang}/report`: the report form without JavaScript, and its receipt.
//! The server draws the token, seals the attached files as they stream in
//! and the report once it is read, and forgets the token once the receipt
//! is rendered.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::{
    crypto::{self, ReporterRecipient, Token},
    db::ClaimError,
    domain::{ReportDraft, ReportError, ReportFields, SubmissionKey},
    i18n::Lang,
    service::{
        report::{self, SubmitError},
        upload,
    },
    web::{
        form::{self, FormError},
        pages::{self, readers_key, AlreadyPage, Layout, ReceiptPage, ReportPage},
        request::{form_error_status, lang_of, not_found, read_form},
        upload_form::{self, UploadError},
        AppState,
    },
};

/// Why the report form is shown again, with what was typed.
#[derive(Debug)]
enum Refusal {
    /// The body could not be read as a form.
    Form(FormError),
    /// The form with files could not be read, or a file was refused.
    Upload(UploadError),
    /// A field is missing or wrong; `files` when files must be chosen again.
    Draft { error: ReportError, files: bool },
    /// The files could not be claimed by the report.
    Attachments(ClaimError),
    /// The report could not be sealed or stored (its cause is logged).
    Unavailable,
    /// The form asks for the Bureau's readers, and there are none.
    NoBureau,
    /// The commit was sent but its answer lost: the report may be stored.
    MaybeStored,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Form(e) => form_error_status(*e),
            Refusal::Upload(e) => e.status(),
            Refusal::Draft { .. } | Refusal::NoBureau => StatusCode::BAD_REQUEST,
            Refusal::Attachments(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Unavailable | Refusal::MaybeStored => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message_key(&self) -> &'static str {
        match self {
            Refusal::Form(e) => e.message_key(),
            Refusal::Upload(e) => e.message_key(),
            Refusal::Draft {
                error,
                files: false,
            } => error.message_key(),
            Refusal::Draft { error, files: true } => error.message_key_with_files(),
            Refusal::Attachments(ClaimError::TooLarge) => "error-attachments-too-large",
            Refusal::NoBureau => "error-no-bureau",
            Refusal::MaybeStored => "error-maybe-stored",
            Refusal::Attachments(ClaimError::Unknown) | Refusal::Unavailable => "error-internal",
        }
    }
}

impl From<SubmitError> for Refusal {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Attachment(c) => Refusal::Attachments(c),
            SubmitError::Store(crate::db::DbError::OutcomeUnknown) => Refusal::MaybeStored,
            other => {
                tracing::error!(error = %other, cause = %crate::telemetry::causes(&other), "report could not be stored");
                Refusal::Unavailable
            }
        }
    }
}

fn report_page(
    state: &AppState,
    lang: Lang,
    key: &SubmissionKey,
    fields: &ReportFields,
    refusal: Option<Refusal>,
) -> HttpResponse {
    report_page_with(state, lang, key, None, fields, refusal)
}

/// The form again; `token`, when the report may have been stored, is shown
/// and carried for the next attempt, which then lands on the same case.
fn report_page_with(
    state: &AppState,
    lang: Lang,
    key: &SubmissionKey,
    token: Option<&str>,
    fields: &ReportFields,
    refusal: Option<Refusal>,
) -> HttpResponse {
    pages::render(
        refusal.as_ref().map_or(StatusCode::OK, Refusal::status),
        &ReportPage {
            l: Layout::new(state, lang, "report"),
            key: key.as_str(),
            kept_token: token,
            categories: state.categories.iter().collect(),
            fields,
            error: refusal.as_ref().map(Refusal::message_key),
            max_description: state.limits.description_chars,
            max_field: state.limits.field_chars,
            max_file: state.limits.attachment_bytes,
            max_total: state.limits.attachments_total_bytes,
        },
    )
}

fn fields_of(parsed: &[form::Field]) -> ReportFields {
    ReportFields {
        category: form::take(parsed, "category"),
        description: form::take(parsed, "description"),
        period: form::take(parsed, "period"),
        place: form::take(parsed, "place"),
        persons: form::take(parsed, "persons"),
        evidence: form::take(parsed, "evidence"),
        privacy_ack: form::take(parsed, "privacy_ack"),
        readership: form::take(parsed, "readership"),
    }
}

/// The form's one-time key, from its address (`?s=…`).
fn key_of(req: &HttpRequest) -> Option<SubmissionKey> {
    req.query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("s="))
        .and_then(SubmissionKey::parse)
}

/// The page that says a form was already sent: its report is stored, and
/// its code was shown once, the first time.
fn already_page(state: &AppState, lang: Lang) -> HttpResponse {
    pages::render(
        StatusCode::CONFLICT,
        &AlreadyPage {
            l: Layout::new(state, lang, "report"),
            message_key: "already-report",
        },
    )
}

/// Whether a form's key was used, read before anything of the body is. A
/// failure to read says nothing: the transaction decides.
async fn already_received(state: &AppState, key: Option<&SubmissionKey>) -> bool {
    match key {
        Some(key) => report::already_received(state.desk(), key)
            .await
            .unwrap_or(false),
        None => false,
    }
}

/// `GET /{lang}/report`: the form. A browser's navigation without a key
/// (`?s=…`) is sent to an address with a fresh one, so that the form of a
/// report already sent, reached again with Back, comes back as the notice
/// that it was received, never as the filled form: the browser restores
/// typed fields on Back, which no header prevents (see the threat model).
/// Programs, which send no `Sec-Fetch-Mode`, get the form at once.
pub async fn report_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    let key = match key_of(&req) {
        Some(key) => key,
        None if is_navigation(&req) => {
            let fresh = SubmissionKey::random();
            return HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/{}/report?s={fresh}", lang.code()),
                ))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
        None => SubmissionKey::random(),
    };
    if already_received(&state, Some(&key)).await {
        return already_page(&state, lang);
    }
    report_page(&state, lang, &key, &ReportFields::default(), None)
}

/// A browser loading a page (Fetch metadata), as opposed to a program.
fn is_navigation(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-mode")
        .is_some_and(|v| v.as_bytes() == b"navigate")
}

/// `POST /{lang}/report`: a report from a browser without JavaScript.
pub async fn report_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    // A form sent without its key (by a program, or from an old page) still
    // lands; the form shown again carries one.
    let sent_key = key_of(&req);
    if already_received(&state, sent_key.as_ref()).await {
        return already_page(&state, lang);
    }
    let key = sent_key.clone().unwrap_or_else(SubmissionKey::random);
    // The token is drawn first: attached files are sealed to its R as they
    // stream in, before the report itself. A form without files needs no R
    // before the report is sealed, which derives it.
    let token = Token::generate();
    let (parsed, files, findings) = if upload_form::is_multipart(&req) {
        let reporter = ReporterRecipient::of(&crypto::derive_from_token(&token));
        match upload_form::read(
            &req,
            payload,
            &state,
            upload_form::Sealing::Report(&reporter),
        )
        .await
        {
            Ok(received) => (received.fields, received.files, received.findings),
            Err((e, fields)) => {
                return report_page(
                    &state,
                    lang,
                    &key,
                    &fields_of(&fields),
                    Some(Refusal::Upload(e)),
                )
            }
        }
    } else {
        match read_form(&req, payload, state.limits.body_bytes).await {
            Ok(parsed) => (parsed, Vec::new(), Vec::new()),
            // Not logged: a line would date the attempt; the request
            // counts already show refusals.
            Err(e) => {
                return report_page(
                    &state,
                    lang,
                    &key,
                    &ReportFields::default(),
                    Some(Refusal::Form(e)),
                )
            }
        }
    };
    let fields = fields_of(&parsed);
    // A token carried from an attempt whose outcome was unknown: the report
    // is sealed under it again, so that it lands on the same case.
    let token = match Token::parse(&Zeroizing::new(form::take(&parsed, "token"))) {
        Ok(kept) => kept,
        Err(_) => token,
    };
    drop(parsed);
    let Some(readership) = upload_form::chosen_readership(&state, &fields.readership) else {
        upload::discard_all(&state.db, &files).await;
        return report_page(&state, lang, &key, &fields, Some(Refusal::NoBureau));
    };
    let draft = match ReportDraft::parse(
        &fields,
        &state.categories,
        state.limits.description_chars,
        state.limits.field_chars,
    ) {
        Ok(draft) => draft.with_attachments(files),
        Err(error) => {
            upload::discard_all(&state.db, &files).await;
            let refusal = Refusal::Draft {
                error,
                files: !files.is_empty(),
            };
            return report_page(&state, lang, &key, &fields, Some(refusal));
        }
    };
    let attached = draft.attachment_refs();
    let shown = token.display();
    let stored = report::seal_and_store(state.desk(), token, draft, readership, lang, sent_key);
    match stored.await {
        Ok(receipt) => {
            drop(fields);
            pages::render(
                StatusCode::OK,
                &ReceiptPage {
                    l: Layout::new(&state, lang, "report"),
                    token: receipt.token.expose_secret(),
                    received_on: receipt.stored.received_on,
                    ack_due: receipt.stored.deadlines.ack_due,
                    feedback_due: receipt.stored.deadlines.feedback_due,
                    readers_key: readers_key(readership),
                    files: pages::file_notes(&state, lang, &findings),
                },
            )
        }
        Err(SubmitError::AlreadyReceived) => {
            upload::discard_all(&state.db, &attached).await;
            already_page(&state, lang)
        }
        Err(e) => {
            // Only files still pending go: a stored case keeps its own.
            upload::discard_all(&state.db, &attached).await;
            let refusal = Refusal::from(e);
            // When the report may be stored, its code is shown and carried.
            let token = matches!(refusal, Refusal::MaybeStored).then(|| shown.expose_secret());
            report_page_with(&state, lang, &key, token, &fields, Some(refusal))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_form_refusal_has_its_status_and_a_translated_reason() {
        let i18n = crate::i18n::I18n::load().unwrap_or_else(|e| panic!("{e}"));
        let table = [
            (Refusal::Form(FormError::NotAForm), 415),
            (Refusal::Form(FormError::TimedOut), 408),
            (Refusal::Upload(UploadError::TotalTooLarge), 413),
            (Refusal::Upload(UploadError::Unavailable), 503),
            (
                Refusal::Draft {
                    error: ReportError::EmptyDescription,
                    files: false,
                },
                400,
            ),
            (
                Refusal::Draft {
                    error: ReportError::PrivacyNotConfirmed,
                    files: true,
                },
                400,
            ),
            (Refusal::Attachments(ClaimError::TooLarge), 413),
            (Refusal::Attachments(ClaimError::Unknown), 413),
            (Refusal::Unavailable, 503),
            (Refusal::MaybeStored, 503),
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
