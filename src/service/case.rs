//! Looking up a case, by the locator a browser sends or by a typed token.
//! Every lookup is counted (see `web::limits`): a found case against its
//! own budget before its thread is read, a miss against the instance's
//! budget of failures.

use std::sync::Arc;

use crate::{
    crypto::{self, Derived, Locator, Token},
    db::{Case, DbError, EntryRow},
};

use super::{Budgets, Desk};

/// What a locator found, once counted.
pub enum Found {
    Case(Case, Vec<EntryRow>),
    Unknown,
    Busy,
}

/// The case a locator names, with its thread: one indexed query, found or
/// not, on the blocking pool.
pub async fn by_locator(
    desk: Desk<'_>,
    budgets: Arc<dyn Budgets>,
    locator: Locator,
) -> Result<Found, DbError> {
    let now = desk.clock.now();
    desk.db
        .run(move |conn| match Case::find_by_locator(conn, &locator)? {
            Some(case) if budgets.reading(now, &case.id) => {
                let entries = case.entries(conn)?;
                Ok(Found::Case(case, entries))
            }
            Some(_) => Ok(Found::Busy),
            None if budgets.miss(now) => Ok(Found::Unknown),
            None => Ok(Found::Busy),
        })
        .await
}

/// A case found from a typed token, with what the token derives (the
/// reporter's key, to open the thread in memory).
pub struct Opened {
    pub case: Case,
    pub entries: Vec<EntryRow>,
    pub derived: Derived,
    /// The token, in its display form, for the next form of the page.
    pub token: secrecy::SecretString,
}

/// What a typed token found.
pub enum ByToken {
    /// The check symbols do not match: a typing mistake.
    Typo,
    Unknown,
    Busy,
    Found(Box<Opened>),
}

/// The one code path for every typed token: a typo is told apart only by
/// its check symbols; a well-formed token always costs a derivation and an
/// indexed query, found or not, and is counted.
pub async fn by_token(
    desk: Desk<'_>,
    budgets: Arc<dyn Budgets>,
    typed: &str,
) -> Result<ByToken, DbError> {
    let Ok(token) = Token::parse(typed) else {
        return Ok(ByToken::Typo);
    };
    let derived = crypto::derive_from_token(&token);
    let shown = token.display();
    drop(token);
    Ok(match by_locator(desk, budgets, derived.locator).await? {
        Found::Case(case, entries) => ByToken::Found(Box::new(Opened {
            case,
            entries,
            derived,
            token: shown,
        })),
        Found::Unknown => ByToken::Unknown,
        Found::Busy => ByToken::Busy,
    })
}
