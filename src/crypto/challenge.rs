//! Login by key possession, and the random secrets of a Secretary session.

use std::io::Write;

use rand::RngCore;
use zeroize::Zeroizing;

use super::{sha256, EncryptError, Recipients};

/// A challenge just issued: the age file to send, and the digest to keep.
pub struct IssuedChallenge {
    pub ciphertext: Vec<u8>,
    pub digest: [u8; 32],
}

/// 32 random bytes, written in hexadecimal and encrypted to the Secretary's
/// recipients only. Only whoever holds a Secretary identity can answer.
pub fn issue_challenge(recipients: &Recipients) -> Result<IssuedChallenge, EncryptError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(secret.as_mut());
    let text = Zeroizing::new(hex::encode(*secret));
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|_| EncryptError::NoRecipient)?;
    let mut ciphertext = Vec::with_capacity(512);
    let mut w = encryptor
        .wrap_output(&mut ciphertext)
        .map_err(EncryptError::Age)?;
    w.write_all(text.as_bytes()).map_err(EncryptError::Age)?;
    w.finish().map_err(EncryptError::Age)?;
    Ok(IssuedChallenge {
        ciphertext,
        digest: sha256(secret.as_ref()),
    })
}

/// Whether `response` (hexadecimal) is the challenge whose digest is kept.
pub fn verify_challenge(digest: &[u8], response: &str) -> bool {
    let Ok(bytes) = hex::decode(response.trim()).map(Zeroizing::new) else {
        return false;
    };
    bytes.len() == 32 && constant_time_eq(&sha256(&bytes), digest)
}

/// A new random 256-bit secret (session identifier, CSRF token): the
/// hexadecimal form to hand out, and the hash to store.
pub fn new_secret() -> (Zeroizing<String>, [u8; 32]) {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    (Zeroizing::new(hex::encode(*bytes)), sha256(bytes.as_ref()))
}

/// The stored hash of a secret handed out by [`new_secret`].
pub fn hash_secret(hex_form: &str) -> Option<[u8; 32]> {
    let bytes = Zeroizing::new(hex::decode(hex_form).ok()?);
    (bytes.len() == 32).then(|| sha256(&bytes))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_answered_by_its_decryption_only() {
        let identity = super::super::generate_identity();
        let recipients = Recipients::new(vec![identity.to_public()]);
        let issued = issue_challenge(&recipients).unwrap_or_else(|e| panic!("{e}"));
        let plain = super::super::decrypt(&[identity], &issued.ciphertext)
            .unwrap_or_else(|e| panic!("{e}"));
        let answer = String::from_utf8_lossy(&plain).to_string();
        assert!(verify_challenge(&issued.digest, &answer));
        for wrong in ["", "00", &"0".repeat(64), "not hex"] {
            assert!(!verify_challenge(&issued.digest, wrong), "{wrong}");
        }
    }

    #[test]
    fn secrets_hash_back_to_what_is_stored() {
        let (shown, stored) = new_secret();
        assert_eq!(shown.len(), 64);
        assert_eq!(hash_secret(&shown), Some(stored));
        assert_eq!(hash_secret("abcd"), None);
    }
}
