//! The only place in Vigie that touches age, HKDF, hashes, random bytes,
//! tokens and padding.
//!
//! The surface is deliberately narrow: a follow-up [`Token`] and what it
//! derives ([`derive_from_token`]), [`encrypt_for_case`] to seal a padded
//! plaintext for the Secretary and the reporter, and helpers to read age
//! recipients and identities.

mod challenge;
mod keys;
mod padding;
mod primitives;
mod readers;
mod rewrap;
mod seal;
mod stanza;
mod token;
mod validate;

pub use challenge::{
    answer_challenge, hash_secret, issue_challenge, leading_zero_bits, new_secret, proof_of_work,
    random_seed, verify_challenge, IssuedChallenge, CHALLENGE_LEN, CHALLENGE_PREFIX, POW_DOMAIN,
    RESPONSE_DOMAIN,
};
pub use keys::{
    decrypt, generate_identity, identity_from_bytes, load_recipients, read_identity_file,
    write_identity_file, DecryptError, IdentityFileError, KeyError, Recipients,
};
pub use padding::{pad, padded_len};
pub use primitives::{constant_time_eq, random_at_most, sha256, sha384};
pub use readers::{key_fingerprint, Readers, SharedKey};
pub use rewrap::{rewrap_header, RewrapError};
pub use seal::{
    open_as_reporter, seal_as_reporter, seal_for_case, FileSealer, NotARecipient, ReporterRecipient,
};
pub use token::{derive_from_token, reply_key_bytes, Derived, Locator, Token, TokenError};
pub use validate::{
    check_stream_header, header_len, stored_header_len, stream_payload_ok, AgeCiphertext,
    CiphertextError,
};

use zeroize::Zeroizing;

/// The digest under which a used submission key is remembered: the key
/// itself is never stored.
pub fn submission_digest(key: &crate::domain::SubmissionKey) -> [u8; 32] {
    let mut bytes = b"vigie submission key v1\0".to_vec();
    bytes.extend_from_slice(key.as_str().as_bytes());
    sha256(&bytes)
}

/// Errors from sealing a plaintext. They never carry the plaintext.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error("no recipient to encrypt to")]
    NoRecipient,
    #[error("age encryption failed")]
    Age(#[source] std::io::Error),
    #[error("the sealed report fails protocol v1 checks")]
    Invalid(#[source] CiphertextError),
}

/// Encrypts an already padded plaintext to every Secretary recipient and to the
/// reporter's own recipient `R`, as one binary age v1 file.
pub fn encrypt_for_case(
    secretary: &Recipients,
    reporter: &dyn age::Recipient,
    padded_plaintext: &Zeroizing<Vec<u8>>,
) -> Result<AgeCiphertext, EncryptError> {
    use std::io::Write;
    let mut all: Vec<&dyn age::Recipient> = secretary.sealers().collect();
    all.push(reporter);
    let encryptor =
        age::Encryptor::with_recipients(all.into_iter()).map_err(|_| EncryptError::NoRecipient)?;
    let mut out = Vec::with_capacity(padded_plaintext.len() + 512);
    let mut writer = encryptor.wrap_output(&mut out).map_err(EncryptError::Age)?;
    writer
        .write_all(padded_plaintext)
        .map_err(EncryptError::Age)?;
    writer.finish().map_err(EncryptError::Age)?;
    // What the server seals passes the same checks as what browsers upload.
    AgeCiphertext::parse(out, secretary.len(), usize::MAX).map_err(EncryptError::Invalid)
}

/// A short, stable fingerprint of some public bytes (static assets, recipients).
pub fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&sha256(bytes)[..8])
}
