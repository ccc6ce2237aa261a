//! How the typed values of the model are stored: each is one `Text` column
//! holding exactly the name it always had (no migration). A stored name that
//! no variant knows is refused when read, as a deserialisation error.

use diesel::{
    deserialize::{self, FromSql},
    serialize::{self, Output, ToSql},
    sql_types::Text,
};

use super::{models::EntryKind, outbox::OutboxKind, workspace::JournalAction, MultiBackend};
use crate::domain::{
    AttachmentId, CaseId, CaseStatus, ChallengeId, ClosureReason, EntryId, JournalId, OutboxId,
    Readership, Role,
};

/// A stored name that no variant of the type knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown stored {what}")]
pub struct UnknownStoredValue {
    what: &'static str,
}

/// `FromSql`/`ToSql` for `Text` on the multi-backend, through the type's
/// `as_str` and a parser returning `Option`.
macro_rules! stored_as_text {
    ($ty:ty, $what:literal, $parse:expr) => {
        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(
                bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                let name = <String as FromSql<Text, MultiBackend>>::from_sql(bytes)?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(&name).ok_or_else(|| UnknownStoredValue { what: $what }.into())
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                <str as ToSql<Text, MultiBackend>>::to_sql(self.as_str(), out)
            }
        }

        // Inserts of whole rows bind through each backend directly.
        impl ToSql<Text, diesel::sqlite::Sqlite> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> serialize::Result {
                <str as ToSql<Text, diesel::sqlite::Sqlite>>::to_sql(self.as_str(), out)
            }
        }

        #[cfg(feature = "postgres")]
        impl ToSql<Text, diesel::pg::Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::pg::Pg>) -> serialize::Result {
                <str as ToSql<Text, diesel::pg::Pg>>::to_sql(self.as_str(), out)
            }
        }
    };
}

stored_as_text!(CaseStatus, "case status", |s| s.parse().ok());
stored_as_text!(ClosureReason, "closure reason", ClosureReason::parse);
stored_as_text!(EntryKind, "entry kind", EntryKind::parse);
stored_as_text!(JournalAction, "journal action", JournalAction::parse);
stored_as_text!(OutboxKind, "outbox kind", OutboxKind::parse);
stored_as_text!(CaseId, "case identifier", CaseId::parse);
stored_as_text!(EntryId, "entry identifier", EntryId::parse);
stored_as_text!(AttachmentId, "attachment identifier", AttachmentId::parse);
stored_as_text!(JournalId, "journal identifier", JournalId::parse);
stored_as_text!(OutboxId, "outbox identifier", OutboxId::parse);
stored_as_text!(ChallengeId, "challenge identifier", ChallengeId::parse);
stored_as_text!(Role, "role", Role::parse);
stored_as_text!(Readership, "readership", Readership::parse);
