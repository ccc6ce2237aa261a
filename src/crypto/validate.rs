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
        // The verdict must not depend on how the bytes were chunked: say
        // nothing while the bytes could still begin an armored file, and
        // past the size limit report the first fault the whole file shows.
        if prefix.len() < VERSION_LINE.len() || ARMOR_BEGIN.starts_with(prefix) {
            return Ok(None);
        }
        if prefix.starts_with(ARMOR_BEGIN) {
            return Err(CiphertextError::Armored);
        }
        if !prefix.starts_with(VERSION_LINE) {
            return Err(CiphertextError::NotAge);
        }
        if prefix.len() > MAX_HEADER {
            return Err(parse_header(prefix)
                .err()
                .unwrap_or(CiphertextError::BadHeader));
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

/// The length of the age header at the start of `bytes`, checked as an
/// upload's is, with exactly `recipients + 1` `X25519` stanzas.
pub fn header_len(bytes: &[u8], recipients: usize) -> Result<usize, CiphertextError> {
    check_stream_header(bytes, recipients)?.ok_or(CiphertextError::BadHeader)
}

/// The length of the age header at the start of a stored file, whatever its
/// recipients (a file stored earlier passed its checks then).
pub fn stored_header_len(bytes: &[u8]) -> Result<usize, CiphertextError> {
    if !bytes.starts_with(VERSION_LINE) {
        return Err(CiphertextError::NotAge);
    }
    parse_header(bytes).map(|(_, len)| len)
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
    // Every line, newline included, must end within the header limit: a
    // rule that a prefix of the file can already decide.
    let next_line = |pos: &mut usize| -> Result<&[u8], CiphertextError> {
        let rest = &bytes[*pos..];
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(CiphertextError::BadHeader)?;
        if *pos + end + 1 > MAX_HEADER {
            return Err(CiphertextError::BadHeader);
        }
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

    /// Found by the properties below: the streaming check called the start
    /// of an armored file "not age" when its first chunk was 22 to 33 bytes
    /// long, and a header crossing the 16 KiB limit got a different verdict
    /// in one chunk than in several.
    #[test]
    fn the_streaming_verdict_does_not_depend_on_where_the_chunks_end() {
        let armored = [
            ARMOR_BEGIN,
            b"\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBh\n",
        ]
        .concat();
        let mut foreign = VERSION_LINE.to_vec();
        foreign.extend_from_slice(b"-> piv-p256 abc\nQUJD\n-> x-grease\n");
        for _ in 0..260 {
            foreign.extend_from_slice(&[b'A'; 64]);
            foreign.push(b'\n');
        }
        foreign.extend_from_slice(b"\n--- QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY\n");
        let mut straddling = VERSION_LINE.to_vec();
        straddling.extend_from_slice(b"-> x-grease\n");
        while straddling.len() < MAX_HEADER - 20 {
            straddling.extend_from_slice(&[b'A'; 64]);
            straddling.push(b'\n');
        }
        straddling.truncate(MAX_HEADER - 20);
        straddling.extend_from_slice(b"\n--- QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY\n");
        let cases: [(&[u8], usize, CiphertextError); 3] = [
            (&armored, 25, CiphertextError::Armored),
            (&foreign, MAX_HEADER + 1, CiphertextError::ForeignRecipient),
            (&straddling, MAX_HEADER + 1, CiphertextError::BadHeader),
        ];
        for (bytes, first_chunk, want) in cases {
            assert_eq!(check_stream_header(bytes, 0), Err(want), "{first_chunk}");
            let early = check_stream_header(&bytes[..first_chunk], 0);
            assert!(
                early == Ok(None) || early == Err(want),
                "{first_chunk}: {early:?}"
            );
        }
    }

    /// Property tests, 256 cases each by default (proptest's own, read from
    /// the environment): `PROPTEST_CASES=10000 cargo test --lib validate::tests::properties`
    /// runs more, and `PROPTEST_RNG_SEED=<u64>` makes a run repeatable: the
    /// same seed gives the same inputs (the age files themselves
    /// use fresh ephemeral keys each run). A failing case is also
    /// saved under `proptest-regressions/` and replayed first next time.
    mod properties {
        use super::*;
        use crate::crypto::identity_from_bytes;
        use proptest::prelude::*;
        use std::io::Write;

        const B64: base64::engine::GeneralPurpose =
            base64::engine::general_purpose::STANDARD_NO_PAD;

        /// A real age file from the `age` crate: `recipients` X25519
        /// recipients derived from `seed`, a zeroed plaintext of `plain` bytes.
        fn real_file(recipients: usize, plain: usize, seed: u8) -> Vec<u8> {
            let identities: Vec<_> = (0..recipients)
                .map(|i| identity_from_bytes(&[seed.wrapping_add(i as u8) | 1; 32]))
                .collect();
            let publics: Vec<_> = identities.iter().map(|i| i.to_public()).collect();
            let Ok(encryptor) =
                age::Encryptor::with_recipients(publics.iter().map(|r| r as &dyn age::Recipient))
            else {
                panic!("at least one recipient");
            };
            let mut out = Vec::new();
            let written = encryptor.wrap_output(&mut out).and_then(|mut w| {
                w.write_all(&vec![0u8; plain])?;
                w.finish()
            });
            assert!(written.is_ok(), "age encryption in memory");
            out
        }

        /// The verdict of the streaming check when the bytes arrive in chunks
        /// of the given sizes (repeated), as the attachment upload feeds it.
        fn streamed(
            bytes: &[u8],
            sizes: &[usize],
            recipients: usize,
        ) -> Result<Option<usize>, CiphertextError> {
            let mut prefix = Vec::new();
            let mut at = 0;
            let mut sizes = sizes.iter().cycle();
            while at < bytes.len() {
                let size = sizes.next().copied().unwrap_or(bytes.len()).max(1);
                let end = (at + size).min(bytes.len());
                prefix.extend_from_slice(&bytes[at..end]);
                at = end;
                match check_stream_header(&prefix, recipients) {
                    Ok(None) => continue,
                    verdict => return verdict,
                }
            }
            check_stream_header(&prefix, recipients)
        }

        /// One change to a file: flip, insert, delete or cut.
        #[derive(Debug, Clone)]
        enum Mutation {
            Xor(usize, u8),
            Insert(usize, u8),
            Delete(usize),
            Truncate(usize),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Mutation::Xor(at, x)),
                (
                    any::<usize>(),
                    prop::sample::select(b"\n -A=>+/\0\xff".to_vec())
                )
                    .prop_map(|(at, b)| Mutation::Insert(at, b)),
                any::<usize>().prop_map(Mutation::Delete),
                any::<usize>().prop_map(Mutation::Truncate),
            ]
        }

        /// Mutations land mostly in the header, where the parser works.
        fn apply(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
            for m in mutations {
                let len = bytes.len().max(1);
                let header = len.min(400);
                let place = |at: &usize| {
                    if at.is_multiple_of(4) {
                        at % len
                    } else {
                        at % header
                    }
                };
                match m {
                    Mutation::Xor(at, x) => {
                        if let Some(b) = bytes.get_mut(place(at)) {
                            *b ^= x;
                        }
                    }
                    Mutation::Insert(at, b) => {
                        let at = place(at).min(bytes.len());
                        bytes.insert(at, *b);
                    }
                    Mutation::Delete(at) => {
                        if place(at) < bytes.len() {
                            bytes.remove(place(at));
                        }
                    }
                    Mutation::Truncate(at) => bytes.truncate(place(at)),
                }
            }
        }

        /// Header-shaped text: the pieces an age header is made of, in any
        /// order, after the version line (or, sometimes, armored).
        fn header_like() -> impl Strategy<Value = Vec<u8>> {
            let x25519 = format!(
                "-> X25519 {}\n{}\n",
                B64.encode([7u8; 32]),
                B64.encode([9u8; 32])
            );
            let mac = format!("--- {}\n", B64.encode([3u8; 32]));
            let pieces: Vec<Vec<u8>> = vec![
                x25519.into_bytes(),
                mac.into_bytes(),
                b"-> x-grease a b\n".to_vec(),
                b"-> scrypt c2FsdA 18\n".to_vec(),
                [b"A".repeat(64), b"\n".to_vec()].concat(),
                b"QUJD\n".to_vec(),
                b"\n".to_vec(),
                b"--- ".to_vec(),
                b"-> ".to_vec(),
                b" ".to_vec(),
                b"\r\n".to_vec(),
                b"\xff\0".to_vec(),
                vec![0u8; 1040],
            ];
            (
                prop::sample::select(vec![
                    VERSION_LINE.to_vec(),
                    ARMOR_BEGIN.to_vec(),
                    Vec::new(),
                ]),
                prop::collection::vec(prop::sample::select(pieces), 0..12),
            )
                .prop_map(|(start, pieces)| [start, pieces.concat()].concat())
        }

        /// A header whose MAC line lands near the 16 KiB header limit: a
        /// grease stanza with a long body, sometimes after a foreign stanza.
        fn near_the_limit() -> impl Strategy<Value = Vec<u8>> {
            (
                any::<bool>(),
                245..260usize,
                prop::sample::select(vec![0usize, 2, 3, 4, 42, 43, 60]),
            )
                .prop_map(|(foreign, lines, last)| {
                    let mut h = VERSION_LINE.to_vec();
                    if foreign {
                        h.extend_from_slice(b"-> piv-p256 abc\nQUJD\n");
                    }
                    let stanza = format!(
                        "-> X25519 {}\n{}\n",
                        B64.encode([7u8; 32]),
                        B64.encode([9u8; 32])
                    );
                    h.extend_from_slice(stanza.as_bytes());
                    h.extend_from_slice(stanza.as_bytes());
                    h.extend_from_slice(b"-> x-grease\n");
                    for _ in 0..lines {
                        h.extend_from_slice(&b"A".repeat(64));
                        h.push(b'\n');
                    }
                    h.extend_from_slice(&b"A".repeat(last));
                    h.push(b'\n');
                    h.extend_from_slice(format!("--- {}\n", B64.encode([3u8; 32])).as_bytes());
                    h.extend_from_slice(&[0u8; 1056]);
                    h
                })
        }

        fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
            prop::collection::vec(prop_oneof![1..8usize, 8..100usize, 100..20000usize], 1..16)
        }

        proptest! {
            #![proptest_config(ProptestConfig::default())]

            #[test]
            fn arbitrary_bytes_never_panic_either_check(
                bytes in prop::collection::vec(any::<u8>(), 0..2048),
                recipients in 0..4usize,
            ) {
                let _ = AgeCiphertext::parse(bytes.clone(), recipients, usize::MAX);
                let _ = check_stream_header(&bytes, recipients);
                let _ = stream_payload_ok(bytes.len());
            }

            #[test]
            fn header_shaped_bytes_never_panic_and_stream_like_the_whole(
                bytes in header_like(),
                sizes in chunk_sizes(),
                recipients in 0..3usize,
            ) {
                let _ = AgeCiphertext::parse(bytes.clone(), recipients, usize::MAX);
                prop_assert_eq!(
                    streamed(&bytes, &sizes, recipients),
                    check_stream_header(&bytes, recipients)
                );
            }

            #[test]
            fn a_mutated_real_file_never_panics_and_streams_like_the_whole(
                recipients in 0..3usize,
                seed in any::<u8>(),
                mutations in prop::collection::vec(mutation(), 1..4),
                sizes in chunk_sizes(),
            ) {
                let mut bytes = real_file(recipients + 1, 1024, seed);
                apply(&mut bytes, &mutations);
                let _ = AgeCiphertext::parse(bytes.clone(), recipients, usize::MAX);
                let whole = check_stream_header(&bytes, recipients);
                if let Ok(Some(start)) = whole {
                    let _ = stream_payload_ok(bytes.len() - start);
                }
                prop_assert_eq!(streamed(&bytes, &sizes, recipients), whole);
            }

            /// The whole-buffer check refuses every cut. The streaming check
            /// waits on every cut inside the header, never refuses one, and
            /// refuses a payload too short for a nonce and one tag; a cut
            /// further into the payload it cannot see (an attachment may have
            /// any length; age's last-chunk flag shows it to the reader).
            #[test]
            fn every_truncation_of_a_real_file_is_refused(
                recipients in 0..3usize,
                seed in any::<u8>(),
                cut in any::<prop::sample::Index>(),
            ) {
                let bytes = real_file(recipients + 1, 1024, seed);
                let cut = cut.index(bytes.len());
                let short = bytes[..cut].to_vec();
                prop_assert!(AgeCiphertext::parse(short.clone(), recipients, usize::MAX).is_err());
                let Ok(Some(full_start)) = check_stream_header(&bytes, recipients) else {
                    return Err(TestCaseError::fail("the whole file's header was refused"));
                };
                match check_stream_header(&short, recipients) {
                    Ok(None) => prop_assert!(cut < full_start),
                    Ok(Some(start)) => {
                        prop_assert_eq!(start, full_start);
                        if cut - start < NONCE + TAG {
                            prop_assert!(!stream_payload_ok(cut - start));
                        }
                    }
                    Err(e) => prop_assert!(false, "a cut at {} was refused as {:?}", cut, e),
                }
            }

            #[test]
            fn a_header_near_the_size_limit_gets_one_verdict_however_it_is_chunked(
                bytes in near_the_limit(),
                // Not byte by byte: each call scans the whole prefix again.
                sizes in prop::collection::vec(50..5000usize, 1..8),
            ) {
                prop_assert_eq!(streamed(&bytes, &sizes, 1), check_stream_header(&bytes, 1));
            }
        }

        /// Sealing 128 KiB in a debug build is slow: fewer cases here unless
        /// `PROPTEST_CASES` asks for a number.
        fn fewer_cases(cases: u32) -> ProptestConfig {
            let config = ProptestConfig::default();
            if std::env::var_os("PROPTEST_CASES").is_some() {
                return config;
            }
            ProptestConfig { cases, ..config }
        }

        proptest! {
            #![proptest_config(fewer_cases(48))]

            #[test]
            fn a_real_file_sealed_to_the_right_recipients_passes(
                recipients in 0..4usize,
                plain in prop::sample::select(vec![1024usize, 2048, 4096, 65536, 131072]),
                seed in any::<u8>(),
                sizes in chunk_sizes(),
            ) {
                let bytes = real_file(recipients + 1, plain, seed);
                let len = bytes.len();
                prop_assert!(AgeCiphertext::parse(bytes.clone(), recipients, usize::MAX).is_ok());
                prop_assert_eq!(
                    AgeCiphertext::parse(bytes.clone(), recipients + 1, usize::MAX),
                    Err(CiphertextError::WrongRecipientCount)
                );
                if recipients > 0 {
                    prop_assert_eq!(
                        AgeCiphertext::parse(bytes.clone(), recipients - 1, usize::MAX),
                        Err(CiphertextError::WrongRecipientCount)
                    );
                }
                prop_assert_eq!(
                    AgeCiphertext::parse(bytes.clone(), recipients, len - 1),
                    Err(CiphertextError::TooLarge)
                );
                let whole = check_stream_header(&bytes, recipients);
                let Ok(Some(start)) = whole else {
                    return Err(TestCaseError::fail(format!("header refused: {whole:?}")));
                };
                prop_assert!(stream_payload_ok(len - start));
                prop_assert_eq!(streamed(&bytes, &sizes, recipients), whole);
            }
        }
    }
}
