//! A reporter's message to the Secretary: sealed in the browser (the API)
//! or by the server from a typed token (the no-JavaScript page), stored
//! with the files it claims, and announced after a random delay.

use std::sync::Arc;

use serde::Serialize;

use super::{Budgets, Desk};
use crate::{
    crypto::{self, AgeCiphertext, EncryptError, ReporterRecipient},
    db::{self, ClaimError, DbError, EntryKind, NewEntry, Submission},
    domain::{AttachmentId, AttachmentRef, CaseId, CaseStatus, Readership, SubmissionKey},
    i18n::Lang,
};

use super::{
    case::Opened,
    workflow::{apply as apply_step, By, Step, StepError, WorkflowError},
};

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the case is closed")]
    Closed,
    #[error("the message is empty")]
    Empty,
    #[error("the message is too long")]
    TooLong,
    #[error("too many messages to this case this minute")]
    Busy,
    #[error("this message was already sent and stored")]
    AlreadySent,
    #[error("the case's readers changed while the message was sealed")]
    ReadersChanged,
    #[error("an attachment could not be claimed")]
    Attachment(ClaimError),
    #[error("the message could not be sealed")]
    Seal(#[source] EncryptError),
    #[error("the message could not be stored")]
    Store(#[source] StepError),
}

impl From<StepError> for MessageError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Workflow(WorkflowError::Closed) => MessageError::Closed,
            StepError::Workflow(WorkflowError::ReadersChanged) => MessageError::ReadersChanged,
            StepError::Claim(c) => MessageError::Attachment(c),
            other => MessageError::Store(other),
        }
    }
}

impl From<DbError> for MessageError {
    fn from(e: DbError) -> Self {
        MessageError::Store(StepError::Db(e))
    }
}

impl From<diesel::result::Error> for MessageError {
    fn from(e: diesel::result::Error) -> Self {
        MessageError::from(DbError::Query(e))
    }
}

/// Stores a sealed message and claims its files, in one durable transaction.
/// `sealed_for` is the readership the message and its files were sealed
/// for: if the case's readers changed meanwhile, nothing is stored. A
/// message whose form's one-time key was used already is not stored again.
async fn store(
    desk: Desk<'_>,
    case_id: CaseId,
    sealed_for: Readership,
    sealed: AgeCiphertext,
    attachments: Vec<AttachmentId>,
    key: Option<SubmissionKey>,
) -> Result<(), MessageError> {
    let today = desk.clock.today();
    let now = desk.clock.now();
    let entry = NewEntry::later(&case_id, EntryKind::Message, today, sealed.into_bytes());
    let notify_at = now + crate::notify::random_delay(desk.notify_max_delay);
    let max_total = desk.attachments_total;
    let key = key.as_ref().map(crypto::submission_digest);
    desk.db
        .run_write(move |conn| -> Result<(), MessageError> {
            if let Some(digest) = key {
                if !Submission::record(conn, &digest, today)? {
                    return Err(MessageError::AlreadySent);
                }
            }
            let by = By {
                reader: None,
                sealed_for: Some(sealed_for),
            };
            let step = Step::Message(entry, notify_at);
            apply_step(conn, by, &case_id, step, today, now)?;
            db::Attachment::claim(conn, &attachments, &case_id, sealed_for, now, max_total)
                .map_err(StepError::from)?;
            Ok(())
        })
        .await?;
    Ok(())
}

/// A message sealed in the reporter's browser, for a case already found.
pub async fn add_sealed(
    desk: Desk<'_>,
    budgets: Arc<dyn Budgets>,
    case_id: CaseId,
    sealed_for: Readership,
    sealed: AgeCiphertext,
    attachments: Vec<AttachmentId>,
    key: Option<SubmissionKey>,
) -> Result<(), MessageError> {
    if !budgets.message(desk.clock.now(), &case_id) {
        return Err(MessageError::Busy);
    }
    store(desk, case_id, sealed_for, sealed, attachments, key).await
}

/// What a reporter typed without JavaScript.
pub struct Typed<'a> {
    pub body: &'a str,
    pub files: &'a [AttachmentRef],
    pub lang: Lang,
    /// The form's one-time key, when it has one.
    pub key: Option<SubmissionKey>,
}

/// A message typed without JavaScript, sealed here for the Secretary and
/// the reporter, with the files already sealed as they streamed in.
pub async fn write(
    desk: Desk<'_>,
    budgets: Arc<dyn Budgets>,
    opened: &Opened,
    typed: Typed<'_>,
    max_chars: usize,
) -> Result<(), MessageError> {
    let Typed {
        body,
        files,
        lang,
        key,
    } = typed;
    let text = body.trim();
    if opened.case.status == CaseStatus::Closed {
        return Err(MessageError::Closed);
    }
    if text.is_empty() {
        return Err(MessageError::Empty);
    }
    if text.chars().count() > max_chars {
        return Err(MessageError::TooLong);
    }
    if !budgets.message(desk.clock.now(), &opened.case.id) {
        return Err(MessageError::Busy);
    }
    let reporter = ReporterRecipient::of(&opened.derived);
    let readership = opened.case.readership;
    let sealed =
        seal(desk, readership, &reporter, lang, text, files).map_err(MessageError::Seal)?;
    let ids = files.iter().map(|f| f.id.clone()).collect();
    store(desk, opened.case.id.clone(), readership, sealed, ids, key).await
}

/// Seals a reporter's message for the Secretary and the reporter.
fn seal(
    desk: Desk<'_>,
    readership: Readership,
    reporter: &ReporterRecipient,
    lang: Lang,
    body: &str,
    attachments: &[AttachmentRef],
) -> Result<AgeCiphertext, EncryptError> {
    #[derive(Serialize)]
    struct Message<'a> {
        v: u8,
        #[serde(rename = "type")]
        kind: &'static str,
        lang: &'a str,
        body: &'a str,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        attachments: &'a [AttachmentRef],
    }
    // Measured, then written once into a buffer of its padded size.
    let json = crate::domain::to_padded_json(&Message {
        v: 1,
        kind: "message",
        lang: lang.code(),
        body,
        attachments,
    });
    let padded = crypto::pad(json);
    crypto::seal_for_case(&desk.readers.of(readership), reporter, &padded)
}
