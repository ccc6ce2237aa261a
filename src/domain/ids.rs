//! Identifiers, one type each, so that a case's identifier cannot be passed
//! where an attachment's is expected. Each is a random UUID kept in its
//! canonical text (lower-case, hyphenated), which is also how it is stored
//! and how it appears in addresses and in the export.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub struct $name(String);

        impl $name {
            /// A fresh random identifier.
            pub fn random() -> Self {
                $name(uuid::Uuid::new_v4().hyphenated().to_string())
            }

            /// Reads an identifier in its canonical text only: anything else
            /// (another spelling of a UUID, or a UUID that is not a random
            /// one) names nothing.
            pub fn parse(text: &str) -> Option<Self> {
                let id = uuid::Uuid::try_parse(text).ok()?;
                let canonical = id.hyphenated().to_string();
                let random = id.get_version_num() == 4 && id.get_variant() == uuid::Variant::RFC4122;
                (random && canonical == text).then_some($name(canonical))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownIdentifier;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text).ok_or(UnknownIdentifier)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text)
                    .ok_or_else(|| serde::de::Error::custom(concat!("not a ", stringify!($name))))
            }
        }
    };
}

/// Text that is not an identifier in its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an identifier")]
pub struct UnknownIdentifier;

identifier!(
    /// A case: the report and everything that follows it.
    CaseId
);
identifier!(
    /// One entry of a case's thread.
    EntryId
);
identifier!(
    /// One attached file, pending or claimed.
    AttachmentId
);
identifier!(
    /// One line of the journal.
    JournalId
);
identifier!(
    /// One notification waiting in the outbox.
    OutboxId
);
identifier!(
    /// One login challenge.
    ChallengeId
);
identifier!(
    /// The one-time key of a form (a report, a reporter's message): sent
    /// twice, the form lands once. Only its digest is stored, once used.
    SubmissionKey
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_fresh_identifier_reads_back_as_itself() {
        let id = CaseId::random();
        assert_eq!(CaseId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.as_str().len(), 36);
    }

    #[test]
    fn only_the_canonical_spelling_names_an_identifier() {
        let id = AttachmentId::random();
        let upper = id.as_str().to_uppercase();
        let simple = id.as_str().replace('-', "");
        let braced = format!("{{{}}}", id.as_str());
        let urn = format!("urn:uuid:{}", id.as_str());
        for text in [
            upper.as_str(),
            simple.as_str(),
            braced.as_str(),
            urn.as_str(),
            "",
            "../etc/passwd",
            " 00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(AttachmentId::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn json_refuses_what_is_not_an_identifier() {
        assert!(serde_json::from_str::<EntryId>("\"x\"").is_err());
        let id = EntryId::random();
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(serde_json::from_str::<EntryId>(&json).ok(), Some(id));
    }

    proptest! {
        #[test]
        fn any_text_either_names_an_identifier_or_nothing_and_never_panics(text in ".{0,64}") {
            if let Some(id) = CaseId::parse(&text) {
                prop_assert_eq!(id.as_str(), text.as_str());
            }
        }
    }
}
