//! The reporter's pages: home, the no-JavaScript report form and receipt.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use secrecy::ExposeSecret;

use super::upload_form;
use super::{
    form,
    pages::{self, HomePage, Layout, ReceiptPage, ReportPage},
    request::{form_error_status, lang_of, not_found, read_form},
    AppState,
};
use crate::{
    crypto::{self, Token},
    db,
    domain::{ReportDraft, ReportFields},
    i18n::Lang,
    submission,
};

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
    let database = state.db.clone();
    let ok = web::block(move || database.conn().and_then(|mut c| db::ping(&mut c)))
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
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

fn report_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    fields: &ReportFields,
    error: Option<&'static str>,
) -> HttpResponse {
    pages::render(
        status,
        &ReportPage {
            l: Layout::new(state, lang, "report"),
            categories: state.categories.iter().collect(),
            fields,
            error,
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
    }
}

pub async fn report_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    report_page(&state, lang, StatusCode::OK, &ReportFields::default(), None)
}

pub async fn report_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(lang) = lang_of(&req) else {
        return not_found(req, state).await;
    };
    // The token is drawn first: attached files are sealed to its R as they
    // stream in, before the report itself.
    let token = Token::generate();
    let reporter = crypto::derive_from_token(&token).reply_recipient;
    let (parsed, files) = if upload_form::is_multipart(&req) {
        match upload_form::read(&req, payload, &state, Some(&reporter)).await {
            Ok(received) => (received.fields, received.files),
            Err((e, fields)) => {
                let kept = fields_of(&fields);
                let status = e.status();
                return report_page(&state, lang, status, &kept, Some(e.message_key()));
            }
        }
    } else {
        match read_form(&req, payload, state.limits.body_bytes).await {
            Ok(parsed) => (parsed, Vec::new()),
            Err(e) => {
                // Not logged: a line would date the attempt; the request
                // counts already show refusals.
                let empty = ReportFields::default();
                return report_page(
                    &state,
                    lang,
                    form_error_status(e),
                    &empty,
                    Some(e.message_key()),
                );
            }
        }
    };
    let fields = fields_of(&parsed);
    drop(parsed);
    let draft = match ReportDraft::parse(
        &fields,
        &state.categories,
        state.limits.description_chars,
        state.limits.field_chars,
    ) {
        Ok(draft) => draft.with_attachments(files),
        Err(e) => {
            upload_form::discard(&state, &files).await;
            let key = if files.is_empty() {
                e.message_key()
            } else {
                e.message_key_with_files()
            };
            return report_page(&state, lang, StatusCode::BAD_REQUEST, &fields, Some(key));
        }
    };
    let attached = draft.attachment_refs();
    let worker = state.clone();
    let outcome =
        web::block(move || submission::submit_sealed_by_server(&worker, token, &draft, lang)).await;
    match outcome {
        Ok(Ok(receipt)) => {
            drop(fields);
            pages::render(
                StatusCode::OK,
                &ReceiptPage {
                    l: Layout::new(&state, lang, "report"),
                    token: receipt.token.expose_secret(),
                    received_on: receipt.stored.received_on,
                    ack_due: receipt.stored.deadlines.ack_due,
                    feedback_due: receipt.stored.deadlines.feedback_due,
                },
            )
        }
        Ok(Err(submission::SubmitError::Attachment(e))) => {
            upload_form::discard(&state, &attached).await;
            let key = match e {
                db::ClaimError::TooLarge => "error-attachments-too-large",
                db::ClaimError::Unknown => "error-internal",
            };
            report_page(
                &state,
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                &fields,
                Some(key),
            )
        }
        Ok(Err(e)) => {
            upload_form::discard(&state, &attached).await;
            tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "report could not be stored");
            report_page(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                &fields,
                Some("error-internal"),
            )
        }
        Err(_) => {
            tracing::error!("report worker was cancelled");
            report_page(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                &fields,
                Some("error-internal"),
            )
        }
    }
}
