//! Submitting a report: seal it (or take it sealed by the browser), store
//! it with the files it claims, and hand back the receipt.

use chrono::NaiveDate;
use secrecy::SecretString;

use super::Desk;
use crate::{
    crypto::{self, AgeCiphertext, EncryptError, Locator, ReporterRecipient, Token},
    db::{
        Attachment, Case, ClaimError, ClaimErrorOr, DbConnection, DbError, NewCase, NewEntry,
        Outbox, Submission,
    },
    domain::{deadlines, AttachmentId, Deadlines, Readership, ReportDraft, SubmissionKey},
    i18n::Lang,
};

/// The dates of a stored case, for the receipt.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub received_on: NaiveDate,
    pub deadlines: Deadlines,
}

/// What the reporter of the no-JavaScript path is shown.
pub struct Receipt {
    pub token: SecretString,
    pub stored: Stored,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the report could not be encrypted")]
    Encrypt(#[from] EncryptError),
    #[error("a case already has this locator")]
    Duplicate,
    #[error("this form was already sent")]
    AlreadyReceived,
    #[error("the report could not be stored")]
    Store(#[source] DbError),
    #[error("an attachment could not be claimed")]
    Attachment(#[from] ClaimError),
}

impl From<diesel::result::Error> for SubmitError {
    fn from(e: diesel::result::Error) -> Self {
        SubmitError::from(DbError::Query(e))
    }
}

impl From<ClaimErrorOr> for SubmitError {
    fn from(e: ClaimErrorOr) -> Self {
        match e {
            ClaimErrorOr::Claim(c) => SubmitError::Attachment(c),
            ClaimErrorOr::Query(q) => q.into(),
        }
    }
}

impl From<DbError> for SubmitError {
    fn from(e: DbError) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                SubmitError::Duplicate
            }
            other => SubmitError::Store(other),
        }
    }
}

/// A report sealed in the browser, as the API receives it.
pub struct SealedReport {
    pub locator: Locator,
    pub reporter: ReporterRecipient,
    pub report: AgeCiphertext,
    /// Files uploaded beforehand, claimed by the report in its transaction.
    pub attachments: Vec<AttachmentId>,
    /// Who reads it: the report is sealed to that group's keys and `R`.
    pub readership: Readership,
    /// The form's one-time key, when it has one: a second copy is refused.
    pub key: Option<SubmissionKey>,
}

/// When and how a report is filed: taken from the desk before the work
/// moves to a blocking thread.
#[derive(Debug, Clone, Copy)]
struct Filing {
    today: chrono::NaiveDate,
    due: Deadlines,
    now: i64,
    notify_at: i64,
    max_total: i64,
}

impl Filing {
    fn at(desk: &Desk<'_>) -> Self {
        let today = desk.clock.today();
        let now = desk.clock.now();
        Filing {
            today,
            due: deadlines(today, None),
            now,
            notify_at: now + crate::notify::random_delay(desk.notify_max_delay),
            max_total: desk.attachments_total,
        }
    }

    fn stored(&self) -> Stored {
        Stored {
            received_on: self.today,
            deadlines: self.due,
        }
    }

    /// The transaction that stores the case, claims its files and tells the
    /// Secretary (after a random delay).
    fn work(
        self,
        sealed: SealedReport,
    ) -> impl FnOnce(&mut DbConnection) -> Result<(), SubmitError> + Send + 'static {
        let readership = sealed.readership;
        let case = NewCase::received(
            &sealed.locator,
            sealed.reporter.to_string(),
            readership,
            self.today,
            self.due,
        );
        let entry = NewEntry::report(&case, sealed.report.into_bytes());
        let ids = sealed.attachments;
        let key = sealed.key.as_ref().map(crypto::submission_digest);
        move |conn| {
            // The same token again is `Duplicate`; the same form with
            // another token is `AlreadyReceived`: either way, nothing more
            // is stored.
            Case::insert_with_report(conn, &case, &entry)?;
            if let Some(digest) = key {
                if !Submission::record(conn, &digest, self.today)? {
                    return Err(SubmitError::AlreadyReceived);
                }
            }
            Attachment::claim(conn, &ids, &case.id, readership, self.now, self.max_total)?;
            Outbox::announce(conn, readership, self.notify_at)?;
            Ok(())
        }
    }
}

/// Stores a case whose report is already sealed, claims its files, and
/// tells the Secretary (after a random delay), all in one transaction:
/// when this returns `Ok`, the commit is durable.
pub async fn store_sealed(desk: Desk<'_>, sealed: SealedReport) -> Result<Stored, SubmitError> {
    let filing = Filing::at(&desk);
    desk.db.run_write(filing.work(sealed)).await?;
    Ok(filing.stored())
}

/// Whether a form's one-time key was already used: its report landed.
pub async fn already_received(desk: Desk<'_>, key: &SubmissionKey) -> Result<bool, DbError> {
    let digest = crypto::submission_digest(key);
    desk.db
        .run(move |conn| Submission::used(conn, &digest).map_err(DbError::Query))
        .await
}

/// The dates of the case a locator names, when a browser sends a report
/// again with the same token (a retry after a lost answer): the report
/// landed the first time, and the reporter is told so.
pub async fn stored_at(desk: Desk<'_>, locator: Locator) -> Result<Option<Stored>, DbError> {
    desk.db
        .run(move |conn| {
            let case = Case::find_by_locator(conn, &locator).map_err(DbError::Query)?;
            Ok(case.map(|c| Stored {
                received_on: c.received_on,
                deadlines: Deadlines {
                    ack_due: c.ack_due,
                    feedback_due: c.feedback_due,
                },
            }))
        })
        .await
}

/// The no-JavaScript path: the server made the token (before any attached
/// file, which is sealed to its `R` too), encrypts the report exactly as the
/// browser would have, stores it with its files, and hands the token back
/// for the receipt only. Plaintext buffers are zeroized as they drop.
pub async fn seal_and_store(
    desk: Desk<'_>,
    token: Token,
    draft: ReportDraft,
    readership: Readership,
    lang: Lang,
    key: Option<SubmissionKey>,
) -> Result<Receipt, SubmitError> {
    let recipients = desk.readers.of(readership);
    let filing = Filing::at(&desk);
    // Sealed on this thread, as a message is: five multiplications on the
    // curve, about a tenth of a millisecond, and a trip to the blocking
    // threads and back cost nearly as much CPU again. The commit is awaited
    // without holding a thread on SQLite, on a blocking thread on
    // PostgreSQL.
    let derived = crypto::derive_from_token(&token);
    let reporter = ReporterRecipient::of(&derived);
    let padded = crypto::pad(draft.to_json(lang.code()));
    let report = crypto::seal_as_reporter(&recipients, &derived, &padded)?;
    drop(padded);
    let sealed = SealedReport {
        locator: derived.locator,
        reporter,
        report,
        attachments: draft.attachment_ids(),
        readership,
        key,
    };
    drop(derived);
    desk.db.run_write(filing.work(sealed)).await?;
    let token = token.display();
    let stored = filing.stored();
    Ok(Receipt { token, stored })
}
