//! The no-JavaScript report form with files: `multipart/form-data` read as
//! it streams in. Text fields are kept in zeroizing buffers; each file is
//! encrypted as it arrives, for the Secretary and the reporter's `R`, into
//! chunked storage. No plaintext byte is ever written to disk.

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use zeroize::Zeroizing;

use super::{
    form::{Field, FormError},
    AppState,
};
use crate::{
    crypto::{self, ReporterRecipient},
    db,
    domain::{scrub::Findings, AttachmentRef, Readership},
    service::upload::{self, FileLimits, SealError},
};

/// Why a multipart form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadError {
    Form(FormError),
    FileTooLarge,
    TotalTooLarge,
    Unavailable,
}

impl UploadError {
    pub fn status(self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            UploadError::Form(f) => super::request::form_error_status(f),
            UploadError::FileTooLarge | UploadError::TotalTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message_key(self) -> &'static str {
        match self {
            UploadError::Form(e) => e.message_key(),
            UploadError::FileTooLarge => "error-attachment-too-large",
            UploadError::TotalTooLarge => "error-attachments-too-large",
            UploadError::Unavailable => "error-internal",
        }
    }
}

pub fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// What the form carried: its text fields, and the files already sealed
/// and stored (pending until the report claims them).
pub struct Received {
    pub fields: Vec<Field>,
    pub files: Vec<AttachmentRef>,
    /// What was found in each picture (by file name), in order.
    pub findings: Vec<(String, Findings)>,
}

/// Forgets the files of a refused form.
async fn discard(state: &web::Data<AppState>, files: &[AttachmentRef]) {
    upload::discard_all(&state.db, files).await;
}

impl From<SealError> for UploadError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Broken => UploadError::Form(FormError::Broken),
            SealError::FileTooLarge => UploadError::FileTooLarge,
            SealError::TotalTooLarge => UploadError::TotalTooLarge,
            other => {
                tracing::error!(error = %other, cause = %crate::telemetry::causes(&other), "an attached file could not be stored");
                UploadError::Unavailable
            }
        }
    }
}

async fn seal_file(
    state: &web::Data<AppState>,
    (reporter, readership): &(ReporterRecipient, Readership),
    field: &mut actix_multipart::Field,
    total: &mut u64,
    scrub: bool,
) -> Result<upload::SealedFile, UploadError> {
    let limits = FileLimits {
        file_bytes: state.limits.attachment_bytes,
        total_bytes: state.limits.attachments_total_bytes,
        pending_until: state.clock.now() + state.limits.attachment_pending_secs,
        readership: *readership,
    };
    let recipients = state.readers.of(*readership);
    let sealed = upload::seal_stream(
        &state.db,
        &recipients,
        reporter,
        limits,
        field,
        total,
        scrub,
    );
    Ok(sealed.await?)
}

/// Whom the files of a form are sealed to, besides the readers.
pub enum Sealing<'a> {
    /// A new report: its `R`; the readers are the ones the `readership`
    /// field chose, which the form places before its files.
    Report(&'a ReporterRecipient),
    /// A follow-up message: `R` and the case's readers come from the
    /// `token` field, which the form places before its files.
    Message,
}

/// The readers a report form chose: the Bureau's when the reporter said
/// the report concerns the Permanent Secretary, the Secretary's otherwise.
/// `None` when the form asks for a Bureau that has no key.
pub fn chosen_readership(state: &AppState, value: &str) -> Option<Readership> {
    match value {
        "bureau" if state.readers.has_bureau() => Some(Readership::Bureau),
        "bureau" => None,
        _ => Some(Readership::Secretary),
    }
}

/// `R` and the readers for the files of a form, from the fields read so far.
async fn sealing_target(
    state: &web::Data<AppState>,
    sealing: &Sealing<'_>,
    fields: &[Field],
) -> Option<(ReporterRecipient, Readership)> {
    match sealing {
        Sealing::Report(reporter) => {
            let chosen = Zeroizing::new(super::form::take(fields, "readership"));
            let readership = chosen_readership(state, &chosen)?;
            // A token carried from an attempt whose outcome was unknown
            // (placed before the files): the files are sealed to its R.
            let kept = Zeroizing::new(super::form::take(fields, "token"));
            let reporter = match crypto::Token::parse(&kept) {
                Ok(token) => ReporterRecipient::of(&crypto::derive_from_token(&token)),
                Err(_) => (*reporter).clone(),
            };
            Some((reporter, readership))
        }
        Sealing::Message => {
            let typed = Zeroizing::new(super::form::take(fields, "token"));
            let token = crypto::Token::parse(&typed).ok()?;
            let derived = crypto::derive_from_token(&token);
            let reporter = ReporterRecipient::of(&derived);
            let locator = derived.locator;
            // A token that names no case: the message will be refused, and
            // its files with it; seal them for the Secretary meanwhile.
            let case = state
                .db
                .run(move |conn| -> Result<_, db::DbError> {
                    Ok(db::Case::find_by_locator(conn, &locator)?)
                })
                .await
                .ok()
                .flatten();
            let readership = case.map_or(Readership::Secretary, |c| c.readership);
            Some((reporter, readership))
        }
    }
}

/// Most parts a form may carry, files included: the report and message
/// forms have a dozen fields at most.
pub const MAX_PARTS: usize = crate::db::MAX_PER_CLAIM + 32;

/// What the network delivered so far, shared between the counting stream
/// and the reader that reports why it stopped.
#[derive(Clone, Default)]
struct Counted(std::rc::Rc<std::cell::Cell<u64>>);

/// The raw body under a hard limit: part headers, boundaries, names and
/// empty parts count like everything else.
fn counted(
    payload: web::Payload,
    limit: u64,
    seen: Counted,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> {
    futures_util::stream::unfold((payload, false), move |(mut payload, done)| {
        let seen = seen.clone();
        async move {
            if done {
                return None;
            }
            match payload.next().await {
                Some(Ok(bytes)) => {
                    seen.0.set(seen.0.get().saturating_add(bytes.len() as u64));
                    if seen.0.get() > limit {
                        Some((
                            Err(actix_web::error::PayloadError::Overflow),
                            (payload, true),
                        ))
                    } else {
                        Some((Ok(bytes), (payload, false)))
                    }
                }
                Some(Err(e)) => Some((Err(e), (payload, true))),
                None => None,
            }
        }
    })
    .fuse()
}

/// Reads a multipart form, sealing its files to the Secretary and the
/// reporter's `R` as they stream in. `R` is given (a new report) or derived
/// from the `token` field, which the form places before its files (a
/// follow-up message).
///
/// Everything is bounded while it streams, before anything is stored: the
/// raw size (text limit plus attachment limit plus a margin for part
/// headers), the number of parts and the number of files.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    state: &web::Data<AppState>,
    sealing: Sealing<'_>,
) -> Result<Received, (UploadError, Vec<Field>)> {
    let limit = (state.limits.body_bytes as u64)
        .saturating_add(state.limits.attachments_total_bytes)
        .saturating_add(256 * 1024);
    let seen = Counted::default();
    let mut multipart =
        actix_multipart::Multipart::new(req.headers(), counted(payload, limit, seen.clone()));
    let mut received = Received {
        fields: Vec::new(),
        files: Vec::new(),
        findings: Vec::new(),
    };
    // Why the body stopped being readable.
    let broken = |seen: &Counted| {
        if seen.0.get() > limit {
            UploadError::Form(FormError::TooLarge)
        } else {
            UploadError::Form(super::form::broken(req))
        }
    };
    let mut target: Option<(ReporterRecipient, Readership)> = None;
    let mut scrub = true;
    let mut parts = 0usize;
    let mut text_bytes = 0usize;
    let mut file_bytes = 0u64;
    while let Some(field) = multipart.next().await {
        let Ok(mut field) = field else {
            discard(state, &received.files).await;
            return Err((broken(&seen), received.fields));
        };
        parts += 1;
        if parts > MAX_PARTS {
            discard(state, &received.files).await;
            return Err((UploadError::Form(FormError::TooManyParts), received.fields));
        }
        let name = field.name().unwrap_or_default().to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        match filename {
            Some(filename) => {
                if filename.is_empty() {
                    // An empty file input still sends a part: nothing to keep.
                    while let Some(chunk) = field.next().await {
                        if chunk.is_err() {
                            discard(state, &received.files).await;
                            return Err((broken(&seen), received.fields));
                        }
                    }
                    continue;
                }
                if received.files.len() >= crate::db::MAX_PER_CLAIM {
                    discard(state, &received.files).await;
                    return Err((UploadError::Form(FormError::TooManyParts), received.fields));
                }
                if target.is_none() {
                    target = sealing_target(state, &sealing, &received.fields).await;
                    // Pictures are cleaned unless the reporter asked to keep
                    // them as they are (a box placed before the file input).
                    scrub = super::form::take(&received.fields, "keep_metadata") != "yes";
                }
                let Some(to) = &target else {
                    discard(state, &received.files).await;
                    return Err((UploadError::Form(FormError::Broken), received.fields));
                };
                let mime = field
                    .content_type()
                    .map(|m| m.essence_str().to_string())
                    .unwrap_or_else(|| "application/octet-stream".into());
                match seal_file(state, to, &mut field, &mut file_bytes, scrub).await {
                    Ok(sealed) => {
                        if sealed.findings != Findings::NotAPicture {
                            received.findings.push((filename.clone(), sealed.findings));
                        }
                        received.files.push(AttachmentRef {
                            id: sealed.id,
                            name: filename,
                            mime,
                            size: sealed.size,
                        });
                    }
                    Err(e) => {
                        discard(state, &received.files).await;
                        let e = match e {
                            UploadError::Form(FormError::Broken) => broken(&seen),
                            other => other,
                        };
                        return Err((e, received.fields));
                    }
                }
            }
            None => {
                let mut value = Zeroizing::new(Vec::new());
                while let Some(chunk) = field.next().await {
                    let Ok(chunk) = chunk else {
                        discard(state, &received.files).await;
                        return Err((broken(&seen), received.fields));
                    };
                    text_bytes += chunk.len();
                    if text_bytes > state.limits.body_bytes {
                        discard(state, &received.files).await;
                        return Err((UploadError::Form(FormError::TooLarge), received.fields));
                    }
                    value.extend_from_slice(&chunk);
                }
                let Ok(text) = String::from_utf8(value.to_vec()).map(Zeroizing::new) else {
                    discard(state, &received.files).await;
                    return Err((
                        UploadError::Form(FormError::InvalidEncoding),
                        received.fields,
                    ));
                };
                received.fields.push(Field {
                    name: Zeroizing::new(name),
                    value: text,
                });
            }
        }
    }
    Ok(received)
}
