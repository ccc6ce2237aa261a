//! Receiving a report: seal it (or take it sealed by the browser), store it,
//! and hand back the receipt.

use chrono::NaiveDate;
use secrecy::SecretString;

use crate::{
    crypto::{self, AgeCiphertext, EncryptError, Locator, Recipients, Token},
    db::{Attachment, Case, ClaimError, ClaimErrorOr, Db, DbError, NewCase, NewEntry, Outbox},
    domain::{deadlines, Clock, Deadlines, ReportDraft},
    i18n::Lang,
    web::AppState,
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

/// Stores a case whose report is already sealed; when this returns `Ok`, the
/// commit is durable.
/// Files uploaded beforehand, claimed by the report in its transaction.
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub ids: &'a [String],
    pub max_total: i64,
}

impl Claimed<'_> {
    pub const NONE: Claimed<'static> = Claimed {
        ids: &[],
        max_total: 0,
    };
}

/// The Secretary is told, in the same transaction, after a random delay of
/// up to `max_delay` seconds.
pub fn store_sealed(
    db: &Db,
    clock: &dyn Clock,
    max_delay: u64,
    locator: &Locator,
    reporter: &age::x25519::Recipient,
    report: AgeCiphertext,
    files: Claimed<'_>,
) -> Result<Stored, SubmitError> {
    let today = clock.today();
    let due = deadlines(today, None);
    let case = NewCase::received(locator, reporter.to_string(), today, due);
    let entry = NewEntry::report(&case, report.into_bytes());
    let notify_at = clock.now() + crate::notify::random_delay(max_delay);
    let now = clock.now();
    db.try_write(|conn| -> Result<(), SubmitError> {
        Case::insert_with_report(conn, &case, &entry)?;
        Attachment::claim(conn, files.ids, &case.id, now, files.max_total)?;
        Outbox::announce(conn, notify_at)?;
        Ok(())
    })?;
    Ok(Stored {
        received_on: today,
        deadlines: due,
    })
}

/// The no-JavaScript path: the server made the token (before any attached
/// file, which is sealed to its `R` too), encrypts the report exactly as the
/// browser would have, stores it with its files, and forgets the token once
/// the receipt is rendered. Plaintext buffers are zeroized as they drop.
pub fn submit_sealed_by_server(
    state: &AppState,
    token: Token,
    draft: &ReportDraft,
    lang: Lang,
) -> Result<Receipt, SubmitError> {
    let ids = draft.attachment_ids();
    seal_and_store(
        &state.db,
        &state.recipients,
        state.clock.as_ref(),
        state.notify_max_delay,
        token,
        draft,
        lang,
        Claimed {
            ids: &ids,
            max_total: state.limits.attachments_total(),
        },
    )
}

#[allow(clippy::too_many_arguments)]
pub fn seal_and_store(
    db: &Db,
    recipients: &Recipients,
    clock: &dyn Clock,
    max_delay: u64,
    token: Token,
    draft: &ReportDraft,
    lang: Lang,
    files: Claimed<'_>,
) -> Result<Receipt, SubmitError> {
    let derived = crypto::derive_from_token(&token);
    let padded = crypto::pad(draft.to_json(lang.code()));
    let ciphertext = crypto::encrypt_for_case(recipients, &derived.reply_recipient, &padded)?;
    drop(padded);
    let stored = store_sealed(
        db,
        clock,
        max_delay,
        &derived.locator,
        &derived.reply_recipient,
        ciphertext,
        files,
    )?;
    Ok(Receipt {
        token: token.display(),
        stored,
    })
}
