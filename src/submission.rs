//! Receiving a report: seal it for the Secretary and the reporter, store it,
//! and hand back the receipt.

use chrono::NaiveDate;
use secrecy::SecretString;

use crate::{
    crypto::{self, EncryptError, Recipients, Token},
    db::{Case, Db, DbError, NewCase, NewEntry},
    domain::{deadlines, Clock, Deadlines, ReportDraft},
    i18n::Lang,
    web::AppState,
};

/// What the reporter is shown once their report is stored.
pub struct Receipt {
    pub token: SecretString,
    pub received_on: NaiveDate,
    pub deadlines: Deadlines,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the report could not be encrypted")]
    Encrypt(#[from] EncryptError),
    #[error("the report could not be stored")]
    Store(#[from] DbError),
}

/// The no-JavaScript path: the server makes the token, encrypts the report
/// exactly as the browser would have, stores it, and forgets the token once
/// the receipt is rendered. Plaintext buffers are zeroized as they drop.
pub fn submit_sealed_by_server(
    state: &AppState,
    draft: &ReportDraft,
    lang: Lang,
) -> Result<Receipt, SubmitError> {
    seal_and_store(
        &state.db,
        &state.recipients,
        state.clock.as_ref(),
        draft,
        lang,
    )
}

pub fn seal_and_store(
    db: &Db,
    recipients: &Recipients,
    clock: &dyn Clock,
    draft: &ReportDraft,
    lang: Lang,
) -> Result<Receipt, SubmitError> {
    let token = Token::generate();
    let derived = crypto::derive_from_token(&token);
    let padded = crypto::pad(draft.to_json(lang.code()));
    let ciphertext = crypto::encrypt_for_case(recipients, &derived.reply_recipient, &padded)?;
    drop(padded);
    let today = clock.today();
    let due = deadlines(today, None);
    let case = NewCase::received(
        &derived.locator,
        derived.reply_recipient.to_string(),
        today,
        due,
    );
    let entry = NewEntry::report(&case, ciphertext);
    db.write(|conn| Case::insert_with_report(conn, &case, &entry))?;
    Ok(Receipt {
        token: token.display(),
        received_on: today,
        deadlines: due,
    })
}
