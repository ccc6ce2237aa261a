//! Secretary recipients and identities: reading, writing, generating.

use std::{
    fs,
    io::{Read, Write},
    path::Path,
    str::FromStr,
};

use age::secrecy::{ExposeSecret, SecretString};
use bech32::{Bech32, Hrp};
use zeroize::Zeroizing;

use super::stanza::Keyed;

/// The scrypt work factor for passphrase-protected identity files, pinned so
/// that browsers can open them in reasonable time.
pub const IDENTITY_FILE_WORK_FACTOR: u8 = 18;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the recipients file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "line {line} of {path} is not an age X25519 recipient (age1…); only those are supported"
    )]
    BadRecipient { path: String, line: usize },
}

/// The Secretary's public age recipients, as listed in the recipients file.
/// Each carries the table the server seals to it with, built the first time
/// and shared by every copy.
#[derive(Clone, Debug, Default)]
pub struct Recipients(Vec<Keyed>);

impl Recipients {
    pub fn new(list: Vec<age::x25519::Recipient>) -> Self {
        Recipients(list.into_iter().map(Keyed::new).collect())
    }

    /// These recipients followed by `other`'s, tables included.
    pub fn joined(&self, other: &Recipients) -> Recipients {
        Recipients(self.0.iter().chain(&other.0).cloned().collect())
    }

    /// What the server seals to for each recipient.
    pub(super) fn sealers(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.0.iter().map(Keyed::sealer)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &age::x25519::Recipient> {
        self.0.iter().map(|k| &k.recipient)
    }

    /// Parses the `age -R` format: one recipient a line, `#` comments.
    pub fn parse(text: &str, path: &str) -> Result<Self, KeyError> {
        let mut list = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let recipient =
                age::x25519::Recipient::from_str(line).map_err(|_| KeyError::BadRecipient {
                    path: path.to_string(),
                    line: i + 1,
                })?;
            list.push(recipient);
        }
        Ok(Recipients::new(list))
    }
}

/// Reads a recipients file. A missing file reads as no recipient at all.
pub fn load_recipients(path: &Path) -> Result<Recipients, KeyError> {
    let shown = path.display().to_string();
    match fs::read_to_string(path) {
        Ok(text) => Recipients::parse(&text, &shown),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Recipients::default()),
        Err(source) => Err(KeyError::Read {
            path: shown,
            source,
        }),
    }
}

/// A new random Secretary identity.
pub fn generate_identity() -> age::x25519::Identity {
    age::x25519::Identity::generate()
}

/// The age X25519 identity whose secret scalar is exactly these 32 bytes.
pub fn identity_from_bytes(bytes: &[u8; 32]) -> age::x25519::Identity {
    // "age-secret-key-" is a valid human-readable part and 32 bytes always
    // fit in a Bech32 string, so neither step can fail.
    let hrp = match Hrp::parse("age-secret-key-") {
        Ok(hrp) => hrp,
        Err(_) => unreachable!("constant human-readable part is valid"),
    };
    let encoded = match bech32::encode::<Bech32>(hrp, bytes) {
        Ok(s) => Zeroizing::new(s),
        Err(_) => unreachable!("32 bytes always fit in Bech32"),
    };
    let encoded = Zeroizing::new(encoded.to_uppercase());
    match age::x25519::Identity::from_str(&encoded) {
        Ok(identity) => identity,
        Err(_) => unreachable!("a well-formed Bech32 identity always parses"),
    }
}

/// The age X25519 recipient whose public key is exactly these 32 bytes.
pub(super) fn recipient_from_bytes(bytes: &[u8; 32]) -> age::x25519::Recipient {
    let hrp = match Hrp::parse("age") {
        Ok(hrp) => hrp,
        Err(_) => unreachable!("constant human-readable part is valid"),
    };
    let encoded = match bech32::encode::<Bech32>(hrp, bytes) {
        Ok(s) => s,
        Err(_) => unreachable!("32 bytes always fit in Bech32"),
    };
    match age::x25519::Recipient::from_str(&encoded) {
        Ok(recipient) => recipient,
        Err(_) => unreachable!("a well-formed Bech32 recipient always parses"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityFileError {
    #[error("cannot read the identity file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the identity file is passphrase-protected and no passphrase was given")]
    PassphraseNeeded,
    #[error("the passphrase does not open this identity file")]
    WrongPassphrase,
    #[error("the identity file holds no age X25519 identity (AGE-SECRET-KEY-1…)")]
    NoIdentity,
    #[error("could not encrypt the identity file")]
    Encrypt,
}

fn identity_text(identity: &age::x25519::Identity) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "# Vigie Secretary identity. Keep it offline; anyone holding it reads every report.\n# public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    ))
}

/// Writes an identity file readable by `age -d -i FILE`: plain text, or, with a
/// passphrase, that text encrypted with scrypt at work factor 18.
pub fn write_identity_file(
    path: &Path,
    identity: &age::x25519::Identity,
    passphrase: Option<&SecretString>,
) -> Result<(), IdentityFileError> {
    let text = identity_text(identity);
    let bytes: Zeroizing<Vec<u8>> = match passphrase {
        None => Zeroizing::new(text.as_bytes().to_vec()),
        Some(passphrase) => {
            let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
            recipient.set_work_factor(IDENTITY_FILE_WORK_FACTOR);
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .map_err(|_| IdentityFileError::Encrypt)?;
            let mut out = Vec::new();
            let mut w = encryptor
                .wrap_output(&mut out)
                .map_err(|_| IdentityFileError::Encrypt)?;
            w.write_all(text.as_bytes())?;
            w.finish()?;
            Zeroizing::new(out)
        }
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // Owner-only whatever the umask, set again explicitly.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(())
}

fn is_age_file(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/v1\n")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

/// Reads the identities in an identity file, plain or passphrase-protected.
/// `passphrase` is asked for only when the file is encrypted.
pub fn read_identity_file(
    path: &Path,
    passphrase: impl FnOnce() -> Option<SecretString>,
) -> Result<Vec<age::x25519::Identity>, IdentityFileError> {
    let raw = Zeroizing::new(fs::read(path)?);
    let text: Zeroizing<Vec<u8>> = if is_age_file(&raw) {
        let passphrase = passphrase().ok_or(IdentityFileError::PassphraseNeeded)?;
        let identity = age::scrypt::Identity::new(passphrase);
        let reader = age::armor::ArmoredReader::new(&raw[..]);
        let decryptor =
            age::Decryptor::new(reader).map_err(|_| IdentityFileError::WrongPassphrase)?;
        let mut r = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|_| IdentityFileError::WrongPassphrase)?;
        let mut out = Zeroizing::new(Vec::new());
        r.read_to_end(&mut out)?;
        out
    } else {
        raw
    };
    let text = std::str::from_utf8(&text).map_err(|_| IdentityFileError::NoIdentity)?;
    let identities: Vec<_> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .filter_map(|l| age::x25519::Identity::from_str(l).ok())
        .collect();
    if identities.is_empty() {
        return Err(IdentityFileError::NoIdentity);
    }
    Ok(identities)
}

#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("this file is not for any of the given identities, or it is damaged")]
    NotForUs,
    #[error("reading the decrypted stream failed")]
    Io(#[from] std::io::Error),
}

/// Decrypts one binary (or armored) age file with any of the identities.
pub fn decrypt(
    identities: &[age::x25519::Identity],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let reader = age::armor::ArmoredReader::new(ciphertext);
    let decryptor = age::Decryptor::new(reader).map_err(|_| DecryptError::NotForUs)?;
    let mut r = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|_| DecryptError::NotForUs)?;
    let mut out = Zeroizing::new(Vec::new());
    r.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_file_ignores_comments_and_blank_lines() {
        let a = generate_identity().to_public();
        let b = generate_identity().to_public();
        let text = format!("# Secretary\n\n{a}\n  # backup key\n{b}\n");
        let parsed = Recipients::parse(&text, "r.txt").map(|r| r.len());
        assert_eq!(parsed.ok(), Some(2));
    }

    #[test]
    fn recipients_file_rejects_anything_but_x25519_recipients() {
        for line in [
            "ssh-ed25519 AAAAC3Nza",
            "age1notarecipient",
            "AGE-SECRET-KEY-1XYZ",
        ] {
            let err = Recipients::parse(line, "r.txt");
            assert!(
                matches!(err, Err(KeyError::BadRecipient { line: 1, .. })),
                "{line}"
            );
        }
    }
}
