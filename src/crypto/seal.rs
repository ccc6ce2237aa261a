//! Sealing for a case, as the reporter's side needs it: the reporter's own
//! recipient `R` (parsed from a browser, or derived from a token), a padded
//! plaintext sealed at once, a file sealed as it streams in, and the
//! reporter's view of the thread. Callers never name an `age` type.

use std::{
    fmt,
    io::Write,
    str::FromStr,
    sync::{Arc, Mutex},
};

use zeroize::Zeroizing;

use super::{encrypt_for_case, AgeCiphertext, DecryptError, Derived, EncryptError, Recipients};

/// The reporter's age X25519 recipient `R`: every entry of a case is sealed
/// to it as well as to the Secretary.
#[derive(Clone, PartialEq, Eq)]
pub struct ReporterRecipient(age::x25519::Recipient);

/// The text is not an age X25519 recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an age X25519 recipient")]
pub struct NotARecipient;

impl ReporterRecipient {
    /// The age recipient itself.
    pub fn recipient(&self) -> &age::x25519::Recipient {
        &self.0
    }

    /// Reads `age1…`, as the browser sends it (surrounding spaces ignored).
    pub fn parse(text: &str) -> Result<Self, NotARecipient> {
        age::x25519::Recipient::from_str(text.trim())
            .map(ReporterRecipient)
            .map_err(|_| NotARecipient)
    }

    /// The `R` a token derives.
    pub fn of(derived: &Derived) -> Self {
        ReporterRecipient(derived.reply_recipient.clone())
    }
}

impl fmt::Display for ReporterRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ReporterRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReporterRecipient({})", self.0)
    }
}

/// Seals an already padded plaintext for the Secretary and the reporter.
pub fn seal_for_case(
    secretary: &Recipients,
    reporter: &ReporterRecipient,
    padded_plaintext: &Zeroizing<Vec<u8>>,
) -> Result<AgeCiphertext, EncryptError> {
    encrypt_for_case(secretary, &reporter.0, padded_plaintext)
}

/// Seals an already padded plaintext for the Secretary and the reporter
/// whose token the server holds (the path without JavaScript): the same age
/// file, with the reporter's stanza computed from the derived key.
pub fn seal_as_reporter(
    secretary: &Recipients,
    derived: &Derived,
    padded_plaintext: &Zeroizing<Vec<u8>>,
) -> Result<AgeCiphertext, EncryptError> {
    encrypt_for_case(secretary, &derived.reply_secret, padded_plaintext)
}

/// Opens an entry of a case with the reporter's own key, derived from the
/// token, in memory.
pub fn open_as_reporter(
    derived: &Derived,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    super::decrypt(std::slice::from_ref(&derived.reply_identity()), ciphertext)
}

/// The sealed output, shared between age's stream writer and the caller
/// that stores it as it grows.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn take(&self, at_least: usize) -> Option<Vec<u8>> {
        let mut buf = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (buf.len() >= at_least.max(1)).then(|| std::mem::take(&mut *buf))
    }
}

/// A file sealed for the Secretary and the reporter as it streams in: the
/// plaintext goes in piece by piece, the age file comes out piece by piece,
/// and no plaintext is kept beyond age's current chunk.
pub struct FileSealer {
    writer: age::stream::StreamWriter<Sink>,
    sink: Sink,
}

impl FileSealer {
    pub fn new(secretary: &Recipients, reporter: &ReporterRecipient) -> Result<Self, EncryptError> {
        let mut all: Vec<&dyn age::Recipient> = secretary.sealers().collect();
        all.push(&reporter.0);
        let encryptor = age::Encryptor::with_recipients(all.into_iter())
            .map_err(|_| EncryptError::NoRecipient)?;
        let sink = Sink::default();
        let writer = encryptor
            .wrap_output(sink.clone())
            .map_err(EncryptError::Age)?;
        Ok(FileSealer { writer, sink })
    }

    /// Seals the next piece of the file.
    pub fn write(&mut self, plain: &[u8]) -> Result<(), EncryptError> {
        self.writer.write_all(plain).map_err(EncryptError::Age)
    }

    /// The sealed bytes so far, once there are at least `at_least` of them.
    pub fn take(&self, at_least: usize) -> Option<Vec<u8>> {
        self.sink.take(at_least)
    }

    /// Seals the last chunk; returns what is left of the age file.
    pub fn finish(self) -> Result<Option<Vec<u8>>, EncryptError> {
        self.writer.finish().map_err(EncryptError::Age)?;
        Ok(self.sink.take(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sealed_in_pieces_opens_with_the_reporter_key() {
        let token = super::super::Token::generate();
        let derived = super::super::derive_from_token(&token);
        let secretary = Recipients::new(vec![super::super::generate_identity().to_public()]);
        let mut sealer = FileSealer::new(&secretary, &ReporterRecipient::of(&derived))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        for piece in [b"hello ".as_slice(), b"world"] {
            sealer.write(piece).unwrap_or_else(|e| panic!("{e}"));
            out.extend(sealer.take(1).unwrap_or_default());
        }
        out.extend(
            sealer
                .finish()
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_default(),
        );
        let plain = open_as_reporter(&derived, &out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.as_slice(), b"hello world");
    }

    #[test]
    fn recipient_parsing_refuses_what_is_not_an_x25519_recipient() {
        for bad in ["", "age1", "AGE-SECRET-KEY-1", "ssh-ed25519 AAAA"] {
            assert_eq!(ReporterRecipient::parse(bad), Err(NotARecipient), "{bad}");
        }
    }
}
