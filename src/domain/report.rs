use super::AttachmentId;
use serde::Serialize;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::config::CategorySetting;

/// The categories this deployment offers, in order.
#[derive(Debug, Clone)]
pub struct Categories(Vec<CategorySetting>);

impl Categories {
    pub fn new(list: Vec<CategorySetting>) -> Self {
        Categories(list)
    }

    pub fn iter(&self) -> impl Iterator<Item = &CategorySetting> {
        self.0.iter()
    }

    pub fn find(&self, key: &str) -> Option<&CategorySetting> {
        self.0.iter().find(|c| c.key == key)
    }
}

/// A category key that this deployment offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Category(String);

impl Category {
    pub fn parse(key: &str, offered: &Categories) -> Option<Self> {
        offered.find(key).map(|c| Category(c.key.clone()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a reporter typed in the report form, as received. Zeroized on drop.
#[derive(Debug, Default, Clone, Zeroize, ZeroizeOnDrop)]
pub struct ReportFields {
    pub category: String,
    pub description: String,
    pub period: String,
    pub place: String,
    pub persons: String,
    pub evidence: String,
    /// `yes` when the reporter ticked "I have read the privacy notice".
    pub privacy_ack: String,
    /// `bureau` when the report concerns the Permanent Secretary: only the
    /// Bureau reads it.
    pub readership: String,
}

/// Why a report form was refused. Each maps to a translated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("no category chosen")]
    MissingCategory,
    #[error("unknown category")]
    UnknownCategory,
    #[error("empty description")]
    EmptyDescription,
    #[error("description too long")]
    DescriptionTooLong,
    #[error("an optional field is too long")]
    FieldTooLong,
    #[error("the privacy notice was not confirmed")]
    PrivacyNotConfirmed,
}

impl ReportError {
    /// The message catalogue key that explains this error to the reporter.
    pub fn message_key(self) -> &'static str {
        match self {
            ReportError::MissingCategory => "error-category-missing",
            ReportError::UnknownCategory => "error-category-unknown",
            ReportError::EmptyDescription => "error-description-empty",
            ReportError::DescriptionTooLong => "error-description-too-long",
            ReportError::FieldTooLong => "error-field-too-long",
            ReportError::PrivacyNotConfirmed => "error-privacy-unconfirmed",
        }
    }

    /// The same, reminding that attached files must be chosen again.
    pub fn message_key_with_files(self) -> &'static str {
        match self {
            ReportError::MissingCategory => "error-category-missing-files",
            ReportError::UnknownCategory => "error-category-unknown-files",
            ReportError::EmptyDescription => "error-description-empty-files",
            ReportError::DescriptionTooLong => "error-description-too-long-files",
            ReportError::FieldTooLong => "error-field-too-long-files",
            ReportError::PrivacyNotConfirmed => "error-privacy-unconfirmed-files",
        }
    }
}

/// Counts bytes written, to size a buffer before serializing into it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A protocol v1 plaintext as JSON, in a buffer already as large as its
/// padding bucket: measured first, written once, so that no reallocation
/// leaves a copy of the text behind. Empty if it cannot be serialized.
pub fn to_padded_json<T: Serialize>(value: &T) -> Zeroizing<Vec<u8>> {
    let mut counter = ByteCounter(0);
    let mut out = Zeroizing::new(Vec::new());
    if serde_json::to_writer(&mut counter, value).is_ok() {
        out = Zeroizing::new(Vec::with_capacity(crate::crypto::padded_len(counter.0)));
        // Serializing plain strings into memory cannot fail.
        if serde_json::to_writer(&mut *out, value).is_err() {
            out.clear();
        }
    }
    out
}

/// A file attached to a report or message, as the encrypted text names it:
/// the name and type travel only inside the ciphertext.
#[derive(Debug, Clone, Serialize, Zeroize, ZeroizeOnDrop)]
pub struct AttachmentRef {
    #[zeroize(skip)]
    pub id: AttachmentId,
    pub name: String,
    #[serde(rename = "type")]
    pub mime: String,
    pub size: u64,
}

/// A report that passed every rule, ready to be serialized and encrypted.
#[derive(Debug, Serialize)]
pub struct ReportDraft {
    category: Category,
    #[serde(flatten)]
    fields: Texts,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<AttachmentRef>,
}

#[derive(Debug, Serialize, Zeroize, ZeroizeOnDrop)]
struct Texts {
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    place: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    persons: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
}

fn optional(text: &str, max: usize) -> Result<Option<String>, ReportError> {
    let text = text.trim();
    if text.is_empty() {
        Ok(None)
    } else if text.chars().count() > max {
        Err(ReportError::FieldTooLong)
    } else {
        Ok(Some(text.to_string()))
    }
}

impl ReportDraft {
    pub fn parse(
        fields: &ReportFields,
        offered: &Categories,
        max_description: usize,
        max_field: usize,
    ) -> Result<Self, ReportError> {
        if fields.category.trim().is_empty() {
            return Err(ReportError::MissingCategory);
        }
        let category =
            Category::parse(fields.category.trim(), offered).ok_or(ReportError::UnknownCategory)?;
        let description = fields.description.trim();
        if description.is_empty() {
            return Err(ReportError::EmptyDescription);
        }
        if description.chars().count() > max_description {
            return Err(ReportError::DescriptionTooLong);
        }
        if fields.privacy_ack != "yes" {
            return Err(ReportError::PrivacyNotConfirmed);
        }
        Ok(ReportDraft {
            category,
            fields: Texts {
                description: description.to_string(),
                period: optional(&fields.period, max_field)?,
                place: optional(&fields.place, max_field)?,
                persons: optional(&fields.persons, max_field)?,
                evidence: optional(&fields.evidence, max_field)?,
            },
            attachments: Vec::new(),
        })
    }

    /// The files sealed and stored beforehand, listed in the report.
    pub fn with_attachments(mut self, attachments: Vec<AttachmentRef>) -> Self {
        self.attachments = attachments;
        self
    }

    /// The attached files.
    pub fn attachment_refs(&self) -> Vec<AttachmentRef> {
        self.attachments.clone()
    }

    /// The identifiers of the attached files, for the claim.
    pub fn attachment_ids(&self) -> Vec<AttachmentId> {
        self.attachments.iter().map(|a| a.id.clone()).collect()
    }

    pub fn category(&self) -> &Category {
        &self.category
    }

    /// The protocol v1 plaintext, unpadded: `{"v":1,"type":"report",…}`.
    pub fn to_json(&self, lang: &str) -> Zeroizing<Vec<u8>> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            v: u8,
            #[serde(rename = "type")]
            kind: &'static str,
            lang: &'a str,
            #[serde(flatten)]
            report: &'a ReportDraft,
        }
        let envelope = Envelope {
            v: 1,
            kind: "report",
            lang,
            report: self,
        };
        to_padded_json(&envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn offered() -> Categories {
        Categories::new(Settings::default().categories)
    }

    fn fields(category: &str, description: &str) -> ReportFields {
        let mut f = ReportFields::default();
        f.category = category.into();
        f.description = description.into();
        f.privacy_ack = "yes".into();
        f
    }

    #[test]
    fn bad_report_forms_are_refused_with_the_right_reason() {
        let long = "x".repeat(101);
        let mut too_long_place = fields("funds", "facts");
        too_long_place.place = "p".repeat(11);
        let cases = [
            (fields("", "facts"), ReportError::MissingCategory),
            (fields("weather", "facts"), ReportError::UnknownCategory),
            (fields("funds", "   \n "), ReportError::EmptyDescription),
            (fields("funds", &long), ReportError::DescriptionTooLong),
            (too_long_place, ReportError::FieldTooLong),
            (
                {
                    let mut f = fields("funds", "facts");
                    f.privacy_ack = String::new();
                    f
                },
                ReportError::PrivacyNotConfirmed,
            ),
        ];
        for (input, want) in cases {
            let got = ReportDraft::parse(&input, &offered(), 100, 10).map(|_| ());
            assert_eq!(got, Err(want));
        }
    }

    #[test]
    fn the_plaintext_follows_protocol_v1_and_omits_empty_fields() {
        let mut input = fields(
            "conflict_of_interest",
            " Le directeur a attribué le marché. ",
        );
        input.place = "Paris".into();
        let draft = ReportDraft::parse(&input, &offered(), 100, 10);
        let json = draft.map(|d| d.to_json("fr"));
        let value: serde_json::Value =
            serde_json::from_slice(json.as_deref().map(|v| v.as_slice()).unwrap_or(b"null"))
                .unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({
                "v": 1, "type": "report", "lang": "fr",
                "category": "conflict_of_interest",
                "description": "Le directeur a attribué le marché.",
                "place": "Paris"
            })
        );
    }
}
