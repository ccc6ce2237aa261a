//! Checking an age file uploaded by a browser before it is stored: the header
//! is parsed (version line, stanzas, MAC line), exactly one X25519 stanza per
//! Secretary recipient plus one for the reporter, no other recipient type
//! (grease stanzas tolerated), and a payload whose length is that of a padded
//! protocol v1 plaintext. Nothing here needs or learns a key.

use base64::Engine;

use super::padding::padded_len;

const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const MAX_HEADER: usize = 16 * 1024;
const NONCE: usize = 16;
const TAG: usize = 16;
const CHUNK: usize = 64 * 1024;

/// Why an uploaded ciphertext was refused. Each maps to a translated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CiphertextError {
    #[error("not an age file")]
    NotAge,
    #[error("armored age files are not accepted")]
    Armored,
    #[error("the age header is malformed")]
    BadHeader,
    #[error("wrong number of recipients")]
    WrongRecipientCount,
    #[error("a recipient type other than X25519")]
    ForeignRecipient,
    #[error("the encrypted payload is truncated or not padded")]
    BadPayload,
    #[error("the ciphertext is over the size limit")]
    TooLarge,
}

impl CiphertextError {
    pub fn message_key(self) -> &'static str {
        match self {
            CiphertextError::NotAge | CiphertextError::Armored | CiphertextError::BadHeader => {
                "api-error-not-age"
            }
            CiphertextError::WrongRecipientCount | CiphertextError::ForeignRecipient => {
                "api-error-recipients"
            }
            CiphertextError::BadPayload => "api-error-payload",
            CiphertextError::TooLarge => "api-error-too-large",
        }
    }
}

/// A binary age v1 file that passed every check. Private field: only
/// [`AgeCiphertext::parse`] makes one.
#[derive(Clone, PartialEq, Eq)]
pub struct AgeCiphertext(Vec<u8>);

impl std::fmt::Debug for AgeCiphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeCiphertext({} bytes)", self.0.len())
    }
}

impl AgeCiphertext {
    /// Checks `bytes` against protocol v1 for `secretary_recipients` + 1
    /// X25519 stanzas and at most `max_bytes`.
    pub fn parse(
        bytes: Vec<u8>,
        secretary_recipients: usize,
        max_bytes: usize,
    ) -> Result<Self, CiphertextError> {
        if bytes.len() > max_bytes {
            return Err(CiphertextError::TooLarge);
        }
        if bytes.starts_with(ARMOR_BEGIN) {
            return Err(CiphertextError::Armored);
        }
        if !bytes.starts_with(VERSION_LINE) {
            return Err(CiphertextError::NotAge);
        }
        let (x25519, payload_start) = parse_header(&bytes)?;
        if x25519 != secretary_recipients + 1 {
            return Err(CiphertextError::WrongRecipientCount);
        }
        check_payload(bytes.len() - payload_start)?;
        Ok(AgeCiphertext(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn b64_decoded_len(s: &[u8]) -> Option<usize> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .ok()
        .map(|v| v.len())
}

/// Checks the header at the start of a streamed age file (an attachment):
/// `Ok(None)` while the header is not complete yet, `Ok(Some(start))` with
/// where the payload starts once it is and it passed.
pub fn check_stream_header(
    prefix: &[u8],
    secretary_recipients: usize,
) -> Result<Option<usize>, CiphertextError> {
    let complete = prefix
        .windows(5)
        .position(|w| w == b"\n--- ")
        .is_some_and(|at| prefix[at + 1..].contains(&b'\n'));
    if !complete {
        if prefix.len() > MAX_HEADER {
            return Err(CiphertextError::BadHeader);
        }
        if prefix.len() >= VERSION_LINE.len() && !prefix.starts_with(VERSION_LINE) {
            return Err(if prefix.starts_with(ARMOR_BEGIN) {
                CiphertextError::Armored
            } else {
                CiphertextError::NotAge
            });
        }
        return Ok(None);
    }
    if prefix.starts_with(ARMOR_BEGIN) {
        return Err(CiphertextError::Armored);
    }
    if !prefix.starts_with(VERSION_LINE) {
        return Err(CiphertextError::NotAge);
    }
    let (x25519, start) = parse_header(prefix)?;
    if x25519 != secretary_recipients + 1 {
        return Err(CiphertextError::WrongRecipientCount);
    }
    Ok(Some(start))
}

/// Whether a streamed payload of `len` bytes (after the header) has the
/// shape of an age payload: a nonce, then 64 KiB chunks each with its tag.
pub fn stream_payload_ok(len: usize) -> bool {
    let Some(sealed) = len.checked_sub(NONCE) else {
        return false;
    };
    let chunks = sealed.div_ceil(CHUNK + TAG).max(1);
    sealed >= chunks * TAG && (sealed - chunks * TAG).div_ceil(CHUNK).max(1) == chunks
}

/// Returns the number of X25519 stanzas and where the payload starts.
fn parse_header(bytes: &[u8]) -> Result<(usize, usize), CiphertextError> {
    let mut pos = VERSION_LINE.len();
    let mut x25519 = 0usize;
    let next_line = |pos: &mut usize| -> Result<&[u8], CiphertextError> {
        if *pos > MAX_HEADER {
            return Err(CiphertextError::BadHeader);
        }
        let rest = &bytes[*pos..];
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(CiphertextError::BadHeader)?;
        *pos += end + 1;
        let line = &rest[..end];
        if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(CiphertextError::BadHeader);
        }
        Ok(line)
    };
    loop {
        let line = next_line(&mut pos)?;
        if let Some(mac) = line.strip_prefix(b"--- ") {
            if b64_decoded_len(mac) != Some(32) {
                return Err(CiphertextError::BadHeader);
            }
            return Ok((x25519, pos));
        }
        let Some(stanza) = line.strip_prefix(b"-> ") else {
            return Err(CiphertextError::BadHeader);
        };
        let args: Vec<&[u8]> = stanza.split(|b| *b == b' ').collect();
        if args.iter().any(|a| a.is_empty()) {
            return Err(CiphertextError::BadHeader);
        }
        // The body: lines of 64 base64 characters, ending with a shorter one.
        let mut body_len = 0usize;
        loop {
            let body = next_line(&mut pos)?;
            if body.len() > 64 {
                return Err(CiphertextError::BadHeader);
            }
            body_len += b64_decoded_len(body).ok_or(CiphertextError::BadHeader)?;
            if body.len() < 64 {
                break;
            }
        }
        match args[0] {
            b"X25519" => {
                if args.len() != 2 || b64_decoded_len(args[1]) != Some(32) || body_len != 32 {
                    return Err(CiphertextError::BadHeader);
                }
                x25519 += 1;
            }
            kind if kind.ends_with(b"-grease") => {}
            _ => return Err(CiphertextError::ForeignRecipient),
        }
    }
}

/// The payload is a 16-byte nonce then chunks of up to 64 KiB, each with a
/// 16-byte tag. Its plaintext length must be a protocol v1 padding bucket.
fn check_payload(len: usize) -> Result<(), CiphertextError> {
    let sealed = len.checked_sub(NONCE).ok_or(CiphertextError::BadPayload)?;
    let chunks = sealed.div_ceil(CHUNK + TAG);
    let plain = sealed
        .checked_sub(chunks * TAG)
        .ok_or(CiphertextError::BadPayload)?;
    if chunks == 0 || plain == 0 || padded_len(plain) != plain || plain.div_ceil(CHUNK) != chunks {
        return Err(CiphertextError::BadPayload);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_lengths_of_padded_plaintexts_are_accepted_and_others_refused() {
        let sealed = |plain: usize| NONCE + plain + plain.div_ceil(CHUNK) * TAG;
        for plain in [1024, 2048, 65536, 131072, 196608] {
            assert_eq!(check_payload(sealed(plain)), Ok(()), "{plain}");
        }
        for len in [
            0,
            15,
            16,
            32,
            sealed(1024) - 1,
            sealed(1024) + 1,
            sealed(1000),
            sealed(3000),
        ] {
            assert_eq!(
                check_payload(len),
                Err(CiphertextError::BadPayload),
                "{len}"
            );
        }
    }
}
