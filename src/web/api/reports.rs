//! `POST /api/v1/reports`: a report sealed in the browser.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{attachment_ids, locator_of, readership_of, submission_of, ApiError, ApiProblem};
use crate::{
    crypto::ReporterRecipient,
    domain::Readership,
    service::report::{self, SealedReport, Stored, SubmitError},
    web::{
        request::{ciphertext_of, header_lang, json_body},
        AppState,
    },
};

#[derive(Deserialize)]
struct NewReport {
    /// The binary age file, base64 (standard alphabet, padded).
    ciphertext: String,
    /// `L`, 32 bytes in hexadecimal.
    lookup: SecretString,
    /// `R`, the reporter's age X25519 recipient.
    recipient: String,
    /// Language of the error messages.
    #[serde(default)]
    lang: Option<String>,
    /// Attachments uploaded beforehand to `/api/v1/attachments`.
    #[serde(default)]
    attachments: Vec<String>,
    /// The reporter confirmed having read the privacy notice.
    #[serde(default)]
    privacy_acknowledged: bool,
    /// Who reads it: `secretary` (the default) or `bureau`, when the report
    /// concerns the Permanent Secretary.
    #[serde(default)]
    readership: Option<String>,
    /// The form's one-time key: the same form sent again stores nothing
    /// (`already-sent`). A retry with the same `lookup` is `duplicate`.
    #[serde(default)]
    submission: Option<String>,
}

#[derive(Serialize)]
struct Created {
    received_on: chrono::NaiveDate,
    ack_due: chrono::NaiveDate,
    feedback_due: chrono::NaiveDate,
}

impl From<Stored> for Created {
    fn from(s: Stored) -> Self {
        Created {
            received_on: s.received_on,
            ack_due: s.deadlines.ack_due,
            feedback_due: s.deadlines.feedback_due,
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Attachment(c) => c.into(),
            SubmitError::Duplicate => ApiError::Duplicate,
            SubmitError::AlreadyReceived => ApiError::AlreadySent,
            SubmitError::Store(crate::db::DbError::OutcomeUnknown) => ApiError::MaybeStored,
            other => ApiError::unavailable(other),
        }
    }
}

pub async fn create_report(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiProblem> {
    let mut lang = header_lang(&req);
    let created = async {
        let report: NewReport = json_body(&req, payload, state.limits.body_bytes).await?;
        if let Some(l) = report.lang.as_deref().and_then(|l| l.parse().ok()) {
            lang = l;
        }
        if !report.privacy_acknowledged {
            return Err(ApiError::Privacy);
        }
        let attachments = attachment_ids(&report.attachments)?;
        let key = submission_of(report.submission.as_deref())?;
        let readership = readership_of(&state, report.readership.as_deref())?;
        if readership == Readership::Both {
            return Err(ApiError::Readership);
        }
        let locator = locator_of(&report.lookup)?;
        let reporter =
            ReporterRecipient::parse(&report.recipient).map_err(|_| ApiError::Recipient)?;
        let sealed = ciphertext_of(
            &report.ciphertext,
            state.readers.of(readership).len(),
            state.limits.ciphertext_bytes,
        )?;
        let sealed = SealedReport {
            locator,
            reporter,
            report: sealed,
            attachments,
            readership,
            key,
        };
        Ok(report::store_sealed(state.desk(), sealed).await?)
    }
    .await;
    match created {
        Ok(stored) => Ok(HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Created::from(stored))),
        Err(e) => Err(e.in_lang(&state.i18n, lang)),
    }
}
