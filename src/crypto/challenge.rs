//! Login by key possession, the proof of work asked under flood, and the
//! random secrets of a Secretary session.
//!
//! The challenge is self-describing: its plaintext is [`CHALLENGE_PREFIX`]
//! followed by 64 lowercase hexadecimal characters, and nothing else. The
//! browser refuses any other plaintext before sending anything, and answers
//! with `SHA-256(RESPONSE_DOMAIN ‖ the 64 characters)`, never with the
//! plaintext: the login can therefore never be used to decrypt a report.

use std::io::Write;

use zeroize::Zeroizing;

use super::primitives::{constant_time_eq, fill_random, sha256};
use super::{EncryptError, Recipients};

/// The fixed, versioned first line of every challenge's plaintext.
pub const CHALLENGE_PREFIX: &str = "vigie/login-challenge/v1\n";
/// The domain-separation string of the answer's digest.
pub const RESPONSE_DOMAIN: &str = "vigie/login-response/v1\n";
/// The domain-separation string of a proof of work.
pub const POW_DOMAIN: &str = "vigie/login-pow/v1\n";
/// The exact length of a challenge's plaintext.
pub const CHALLENGE_LEN: usize = CHALLENGE_PREFIX.len() + 64;
/// The longest nonce of a proof of work.
pub const POW_NONCE_MAX: usize = 64;

/// A challenge just issued: the age file to send, and the hash of the
/// expected answer to keep.
pub struct IssuedChallenge {
    pub ciphertext: Vec<u8>,
    pub digest: [u8; 32],
}

/// The answer the Secretary's browser computes from a challenge's random
/// part (64 hexadecimal characters): `SHA-256(RESPONSE_DOMAIN ‖ random)`.
fn expected_answer(random_hex: &[u8]) -> [u8; 32] {
    let mut input = Zeroizing::new(Vec::with_capacity(RESPONSE_DOMAIN.len() + random_hex.len()));
    input.extend_from_slice(RESPONSE_DOMAIN.as_bytes());
    input.extend_from_slice(random_hex);
    sha256(&input)
}

/// The plaintext of a challenge: the prefix and 32 random bytes in lowercase
/// hexadecimal, encrypted to the Secretary's recipients only. Only whoever
/// holds a Secretary identity can answer. The server keeps the SHA-256 of
/// the expected answer, so a copy of its database cannot answer either.
pub fn issue_challenge(recipients: &Recipients) -> Result<IssuedChallenge, EncryptError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    fill_random(secret.as_mut());
    let random = Zeroizing::new(hex::encode(*secret));
    let text = Zeroizing::new(format!("{CHALLENGE_PREFIX}{}", random.as_str()));
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|_| EncryptError::NoRecipient)?;
    let mut ciphertext = Vec::with_capacity(512);
    let mut w = encryptor
        .wrap_output(&mut ciphertext)
        .map_err(EncryptError::Age)?;
    w.write_all(text.as_bytes()).map_err(EncryptError::Age)?;
    w.finish().map_err(EncryptError::Age)?;
    let answer = Zeroizing::new(expected_answer(random.as_bytes()));
    Ok(IssuedChallenge {
        ciphertext,
        digest: sha256(answer.as_ref()),
    })
}

/// The answer to a decrypted challenge, in hexadecimal, or `None` when the
/// plaintext is not exactly a challenge (the browser's check, written here
/// too so that both sides are tested against the same rule).
pub fn answer_challenge(plaintext: &[u8]) -> Option<String> {
    let random = plaintext.strip_prefix(CHALLENGE_PREFIX.as_bytes())?;
    let well_formed = plaintext.len() == CHALLENGE_LEN
        && random
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    well_formed.then(|| hex::encode(expected_answer(random)))
}

/// Whether `response` (64 hexadecimal characters) is the answer whose hash
/// is kept. Constant time in the comparison.
pub fn verify_challenge(digest: &[u8], response: &str) -> bool {
    let Ok(bytes) = hex::decode(response.trim()).map(Zeroizing::new) else {
        return false;
    };
    bytes.len() == 32 && constant_time_eq(&sha256(&bytes), digest)
}

/// The hash a proof of work is judged by:
/// `SHA-256(POW_DOMAIN ‖ seed ‖ nonce)`, or `None` when the nonce is empty,
/// too long or not lowercase hexadecimal.
pub fn proof_of_work(seed: &[u8], nonce: &str) -> Option<[u8; 32]> {
    let fine = !nonce.is_empty()
        && nonce.len() <= POW_NONCE_MAX
        && nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !fine {
        return None;
    }
    let mut input = Vec::with_capacity(POW_DOMAIN.len() + seed.len() + nonce.len());
    input.extend_from_slice(POW_DOMAIN.as_bytes());
    input.extend_from_slice(seed);
    input.extend_from_slice(nonce.as_bytes());
    Some(sha256(&input))
}

/// How many leading zero bits a hash has.
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for b in hash {
        bits += b.leading_zeros();
        if *b != 0 {
            break;
        }
    }
    bits
}

/// 32 fresh random bytes (a proof-of-work seed).
pub fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    fill_random(&mut seed);
    seed
}

/// A new random 256-bit secret (session identifier, CSRF token): the
/// hexadecimal form to hand out, and the hash to store.
pub fn new_secret() -> (Zeroizing<String>, [u8; 32]) {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut());
    (Zeroizing::new(hex::encode(*bytes)), sha256(bytes.as_ref()))
}

/// The stored hash of a secret handed out by [`new_secret`].
pub fn hash_secret(hex_form: &str) -> Option<[u8; 32]> {
    let bytes = Zeroizing::new(hex::decode(hex_form).ok()?);
    (bytes.len() == 32).then(|| sha256(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_answered_by_a_digest_of_its_random_part_only() {
        let identity = super::super::generate_identity();
        let recipients = Recipients::new(vec![identity.to_public()]);
        let issued = issue_challenge(&recipients).unwrap_or_else(|e| panic!("{e}"));
        let plain = super::super::decrypt(&[identity], &issued.ciphertext)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.len(), CHALLENGE_LEN);
        assert!(plain.starts_with(CHALLENGE_PREFIX.as_bytes()));
        let answer = answer_challenge(&plain).unwrap_or_else(|| panic!("well formed"));
        assert!(verify_challenge(&issued.digest, &answer));
        // The plaintext itself is not an answer, nor its random part.
        let random = String::from_utf8_lossy(&plain[CHALLENGE_PREFIX.len()..]).to_string();
        for wrong in ["", "00", &"0".repeat(64), "not hex", &random] {
            assert!(!verify_challenge(&issued.digest, wrong), "{wrong}");
        }
    }

    #[test]
    fn anything_but_an_exact_challenge_gets_no_answer() {
        let good = format!("{CHALLENGE_PREFIX}{}", "0123456789abcdef".repeat(4));
        assert!(answer_challenge(good.as_bytes()).is_some());
        let report = format!("{{\"v\":1,\"type\":\"report\"}}{}", " ".repeat(1000));
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("bare random part", "ab".repeat(32)),
            ("a stored report", report),
            (
                "upper-case hex",
                format!("{CHALLENGE_PREFIX}{}", "AB".repeat(32)),
            ),
            ("one character short", good[..good.len() - 1].to_string()),
            ("one character more", format!("{good}0")),
            ("a trailing newline", format!("{good}\n")),
            ("another version", good.replace("/v1\n", "/v2\n")),
            ("no newline", good.replace("v1\n", "v1 ")),
            ("not hex", format!("{CHALLENGE_PREFIX}{}", "g".repeat(64))),
            ("spaces", format!("{CHALLENGE_PREFIX}{}", " ".repeat(64))),
            ("prefix later", format!("x{good}")),
        ];
        for (what, plain) in cases {
            assert_eq!(answer_challenge(plain.as_bytes()), None, "{what}");
        }
    }

    #[test]
    fn a_proof_of_work_is_judged_by_its_leading_zero_bits() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0xff]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
        let seed = [7u8; 32];
        let nonce = (0u64..)
            .map(|n| format!("{n:x}"))
            .find(|n| proof_of_work(&seed, n).is_some_and(|h| leading_zero_bits(&h) >= 8))
            .unwrap_or_default();
        assert!(proof_of_work(&seed, &nonce).is_some_and(|h| leading_zero_bits(&h) >= 8));
        for bad in ["", "XYZ", "0x1", &"a".repeat(65), "é"] {
            assert_eq!(proof_of_work(&seed, bad), None, "{bad}");
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
