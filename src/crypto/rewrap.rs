//! A new age header for a stored file: the same file key, unwrapped with an
//! identity (the header's MAC checked), wrapped to other recipients and a
//! grease stanza. The payload after the header stays valid under it, so a
//! key handover re-seals every file without touching its content; the
//! browser does the same for an alert or a step-aside (`rewrapHeader` in
//! `static/js/protocol.js`).

use age::{Identity, Recipient};
use age_core::{
    format::{grease_the_joint, read::age_stanza, FileKey, Stanza},
    secrecy::ExposeSecret,
};
use base64::{prelude::BASE64_STANDARD_NO_PAD, Engine};

use super::primitives::hkdf_sha256_32;

const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";

/// Why a header could not be re-wrapped. None carries key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RewrapError {
    #[error("not an age header")]
    NotAge,
    #[error("none of the identities opens this file")]
    NoIdentity,
    #[error("the header's MAC does not match: the file was altered")]
    BadMac,
    #[error("the file key could not be wrapped")]
    Wrap,
}

/// The stanzas of a header, and where its MAC line starts (`---`).
fn parse(header: &[u8]) -> Result<(Vec<Stanza>, usize), RewrapError> {
    let mut rest = header
        .strip_prefix(VERSION_LINE)
        .ok_or(RewrapError::NotAge)?;
    let mut stanzas = Vec::new();
    loop {
        if rest.starts_with(b"---") {
            return Ok((stanzas, header.len() - rest.len()));
        }
        let (after, stanza) = age_stanza(rest).map_err(|_| RewrapError::NotAge)?;
        stanzas.push(Stanza::from(stanza));
        rest = after;
    }
}

/// The header's MAC key, from its file key (age's `HKDF(file key, "header")`).
fn mac_key(file_key: &FileKey) -> ring::hmac::Key {
    let key = hkdf_sha256_32(&[], file_key.expose_secret(), b"header");
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_ref())
}

/// The file key of a header, with the header's MAC checked.
fn file_key(header: &[u8], identities: &[age::x25519::Identity]) -> Result<FileKey, RewrapError> {
    let (stanzas, mac_at) = parse(header)?;
    let file_key = identities
        .iter()
        .find_map(|i| i.unwrap_stanzas(&stanzas))
        .ok_or(RewrapError::NoIdentity)?
        .map_err(|_| RewrapError::NoIdentity)?;
    // "--- " then the MAC in base64, then a newline.
    let line = &header[mac_at..];
    let encoded = line
        .strip_prefix(b"--- ")
        .and_then(|l| l.split(|&b| b == b'\n').next())
        .ok_or(RewrapError::NotAge)?;
    let mac = BASE64_STANDARD_NO_PAD
        .decode(encoded)
        .map_err(|_| RewrapError::NotAge)?;
    ring::hmac::verify(&mac_key(&file_key), &header[..mac_at + 3], &mac)
        .map_err(|_| RewrapError::BadMac)?;
    Ok(file_key)
}

fn write_stanza(out: &mut Vec<u8>, stanza: &Stanza) {
    out.extend_from_slice(b"-> ");
    out.extend_from_slice(stanza.tag.as_bytes());
    for arg in &stanza.args {
        out.push(b' ');
        out.extend_from_slice(arg.as_bytes());
    }
    out.push(b'\n');
    let encoded = BASE64_STANDARD_NO_PAD.encode(&stanza.body);
    let mut lines = encoded.as_bytes().chunks(64).peekable();
    let mut last_full = encoded.is_empty();
    while let Some(line) = lines.next() {
        out.extend_from_slice(line);
        out.push(b'\n');
        if lines.peek().is_none() {
            last_full = line.len() == 64;
        }
    }
    // The last line of a body is always short: empty when needed.
    if last_full {
        out.push(b'\n');
    }
}

/// The header of a stored file (its first bytes, the whole header at
/// least) re-wrapped: the file key, opened with one of `identities`, sealed
/// to `recipients` and a grease stanza, as the sealer does.
pub fn rewrap_header(
    header: &[u8],
    identities: &[age::x25519::Identity],
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>, RewrapError> {
    let file_key = file_key(header, identities)?;
    let mut stanzas = Vec::new();
    for r in recipients {
        let (wrapped, _) = r.wrap_file_key(&file_key).map_err(|_| RewrapError::Wrap)?;
        stanzas.extend(wrapped);
    }
    stanzas.push(grease_the_joint());
    let mut out = VERSION_LINE.to_vec();
    for s in &stanzas {
        write_stanza(&mut out, s);
    }
    out.extend_from_slice(b"---");
    let mac = ring::hmac::sign(&mac_key(&file_key), &out);
    out.push(b' ');
    out.extend_from_slice(BASE64_STANDARD_NO_PAD.encode(mac.as_ref()).as_bytes());
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn seal(recipients: &[age::x25519::Recipient], plain: &[u8]) -> Vec<u8> {
        let list: Vec<&dyn age::Recipient> = recipients
            .iter()
            .map(|r| r as &dyn age::Recipient)
            .collect();
        let e = age::Encryptor::with_recipients(list.into_iter()).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap_or_else(|e| panic!("{e}"));
        w.write_all(plain).unwrap_or_else(|e| panic!("{e}"));
        w.finish().unwrap_or_else(|e| panic!("{e}"));
        out
    }

    fn open(file: &[u8], identity: &age::x25519::Identity) -> Option<Vec<u8>> {
        let d = age::Decryptor::new(file).ok()?;
        let mut r = d
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .ok()?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).ok()?;
        Some(out)
    }

    #[test]
    fn a_rewrapped_header_opens_the_same_payload_for_the_new_keys_only() {
        let old = age::x25519::Identity::generate();
        let reporter = age::x25519::Identity::generate();
        let new = age::x25519::Identity::generate();
        for size in [0usize, 10, 64 * 1024, 200_000] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let file = seal(&[old.to_public(), reporter.to_public()], &plain);
            let len = super::super::stored_header_len(&file).unwrap_or_else(|e| panic!("{e}"));
            let header = rewrap_header(
                &file,
                std::slice::from_ref(&old),
                &[new.to_public(), reporter.to_public()],
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let mut rewrapped = header.clone();
            rewrapped.extend_from_slice(&file[len..]);
            assert_eq!(open(&rewrapped, &new), Some(plain.clone()));
            assert_eq!(open(&rewrapped, &reporter), Some(plain.clone()));
            assert_eq!(open(&rewrapped, &old), None, "the old key opens nothing");
            assert_eq!(super::super::header_len(&rewrapped, 1), Ok(header.len()));
        }
    }

    #[test]
    fn a_header_that_was_altered_or_is_not_for_the_key_is_refused() {
        let old = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let file = seal(&[old.to_public()], b"texte");
        let to = [other.to_public()];
        assert_eq!(
            rewrap_header(&file, std::slice::from_ref(&other), &to),
            Err(RewrapError::NoIdentity)
        );
        let len = super::super::stored_header_len(&file).unwrap_or(0);
        let mut altered = file.clone();
        // A byte of the MAC.
        altered[len - 3] ^= 1;
        assert!(matches!(
            rewrap_header(&altered, std::slice::from_ref(&old), &to),
            Err(RewrapError::BadMac | RewrapError::NotAge)
        ));
        assert_eq!(
            rewrap_header(b"not age", &[old], &to),
            Err(RewrapError::NotAge)
        );
    }
}
