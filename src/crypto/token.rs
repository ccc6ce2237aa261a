//! Protocol v1: the follow-up token, its display form and what it derives.

use std::fmt;

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::keys::{identity_from_bytes, recipient_from_bytes};
use super::primitives::{fill_random, hkdf_sha256_32, sha256};
use super::stanza::ReplySecret;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SYMBOLS: usize = 28;
const SALT: &[u8] = b"vigie/v1";

/// Why a typed token could not be read. There is only one answer on purpose:
/// "this token has a typo" (wrong length, a letter outside the alphabet, or a
/// check that does not match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this token has a typo")]
    Typo,
}

/// The 16-byte follow-up token `T`. Zeroized on drop, never printed.
pub struct Token(Zeroizing<[u8; 16]>);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 16]);
        fill_random(bytes.as_mut());
        Token(bytes)
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Token(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Reads a token as a person typed it: case-insensitive, spaces and
    /// hyphens ignored, O read as 0, I and L read as 1.
    pub fn parse(typed: &str) -> Result<Self, TokenError> {
        let mut values = Zeroizing::new([0u8; SYMBOLS]);
        let mut count = 0usize;
        for c in typed.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            let value = ALPHABET
                .iter()
                .position(|a| char::from(*a) == c)
                .ok_or(TokenError::Typo)?;
            if count == SYMBOLS {
                return Err(TokenError::Typo);
            }
            values[count] = value as u8;
            count += 1;
        }
        if count != SYMBOLS {
            return Err(TokenError::Typo);
        }
        // 28 symbols = 140 bits: 128 bits of token then 12 bits of check.
        let mut bits = Zeroizing::new([0u8; 18]);
        for (i, v) in values.iter().enumerate() {
            for b in 0..5 {
                if v & (0x10 >> b) != 0 {
                    let pos = i * 5 + b;
                    bits[pos / 8] |= 0x80 >> (pos % 8);
                }
            }
        }
        let mut token = [0u8; 16];
        token.copy_from_slice(&bits[..16]);
        let check = sha256(&token);
        let ok = bits[16] == check[0] && (bits[17] & 0xF0) == (check[1] & 0xF0);
        let token = Token::from_bytes(token);
        if ok {
            Ok(token)
        } else {
            Err(TokenError::Typo)
        }
    }

    /// The display form: 7 groups of 4 Crockford base32 symbols.
    pub fn display(&self) -> SecretString {
        let check = sha256(self.as_bytes());
        let mut bits = Zeroizing::new([0u8; 18]);
        bits[..16].copy_from_slice(self.as_bytes());
        bits[16] = check[0];
        bits[17] = check[1] & 0xF0;
        let mut out = String::with_capacity(34);
        for i in 0..SYMBOLS {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            let mut v = 0u8;
            for b in 0..5 {
                let pos = i * 5 + b;
                if bits[pos / 8] & (0x80 >> (pos % 8)) != 0 {
                    v |= 0x10 >> b;
                }
            }
            out.push(char::from(ALPHABET[v as usize]));
        }
        SecretString::from(out)
    }
}

impl Derived {
    /// The reporter's age identity, `K`, to decrypt with.
    pub fn reply_identity(&self) -> age::x25519::Identity {
        identity_from_bytes(&self.reply_key)
    }
}

/// `SHA-256(L)`: what the server stores to find a case.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Locator([u8; 32]);

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Locator(..)")
    }
}

impl Locator {
    /// The locator of a lookup secret `L`.
    pub fn from_lookup(lookup: &[u8; 32]) -> Self {
        Locator(sha256(lookup))
    }

    /// A locator read back from storage.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Locator)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// What a token derives. `lookup` and the reply identity are secrets.
pub struct Derived {
    pub lookup: Zeroizing<[u8; 32]>,
    pub locator: Locator,
    /// `K`'s 32 bytes: its age identity is made only to decrypt.
    reply_key: Zeroizing<[u8; 32]>,
    pub reply_recipient: age::x25519::Recipient,
    /// `K` as a scalar with `R`'s bytes, to seal to `R` without the ladder.
    pub(super) reply_secret: ReplySecret,
}

impl fmt::Debug for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Derived(..)")
    }
}

fn hkdf32(token: &Token, info: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf_sha256_32(SALT, token.as_bytes(), info)
}

/// Derives `L`, `SHA-256(L)`, `K` and `R` from a token (protocol v1).
pub fn derive_from_token(token: &Token) -> Derived {
    let lookup = hkdf32(token, b"lookup");
    let locator = Locator::from_lookup(&lookup);
    let reply_key = hkdf32(token, b"reply-identity");
    let reply_secret = ReplySecret::from_key(&reply_key);
    let reply_recipient = recipient_from_bytes(reply_secret.public());
    Derived {
        lookup,
        locator,
        reply_key,
        reply_recipient,
        reply_secret,
    }
}

/// The reply key `K` as raw bytes, for the known-answer tests only.
pub fn reply_key_bytes(token: &Token) -> Zeroizing<[u8; 32]> {
    hkdf32(token, b"reply-identity")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_generated_token_reads_back_from_its_display_form() {
        for _ in 0..200 {
            let token = Token::generate();
            let shown = token.display();
            let back = Token::parse(shown.expose_secret()).map(|t| *t.as_bytes());
            assert_eq!(back, Ok(*token.as_bytes()));
        }
    }

    #[test]
    fn look_alike_letters_case_and_separators_are_tolerated() {
        let token = Token::from_bytes([0x11; 16]);
        let shown = token.display().expose_secret().to_string();
        let sloppy = shown
            .to_lowercase()
            .replace('-', " ")
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(Token::parse(&sloppy).map(|t| *t.as_bytes()), Ok([0x11; 16]));
    }

    #[test]
    fn a_single_changed_symbol_is_reported_as_a_typo() {
        let token = Token::from_bytes([0x42; 16]);
        let shown = token.display().expose_secret().to_string();
        let mut chars: Vec<char> = shown.chars().collect();
        for i in [0usize, 5, 17, 33] {
            let original = chars[i];
            chars[i] = if original == 'Z' { 'Y' } else { 'Z' };
            let typed: String = chars.iter().collect();
            assert_eq!(
                Token::parse(&typed).map(|_| ()),
                Err(TokenError::Typo),
                "position {i}"
            );
            chars[i] = original;
        }
    }

    #[test]
    fn malformed_tokens_are_typos() {
        for typed in [
            "",
            "ABC",
            "UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU",
            "0000-0000-0000-0000-0000-0000-00VM0",
            "é",
        ] {
            assert_eq!(
                Token::parse(typed).map(|_| ()),
                Err(TokenError::Typo),
                "{typed:?}"
            );
        }
    }

    /// Property tests, 256 cases each by default (proptest's own, read from
    /// the environment): `PROPTEST_CASES=10000 cargo test --lib token::tests::properties`
    /// runs more, and `PROPTEST_RNG_SEED=<u64>` makes a run repeatable: the
    /// same seed gives the same inputs. A failing case is also
    /// saved under `proptest-regressions/` and replayed first next time.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Characters a person, a paste or an attacker may put in the field.
        fn typed_char() -> impl Strategy<Value = char> {
            prop_oneof![
                4 => prop::sample::select(
                    "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzOoIiLlUu- \t"
                        .chars()
                        .collect::<Vec<_>>()
                ),
                1 => any::<char>(),
                1 => prop::sample::select(vec!['é', 'ß', '\u{3000}', '\u{a0}', 'ı', 'K', '\0']),
            ]
        }

        /// The display form typed sloppily: any case, O for 0, I or L for 1,
        /// and any run of spaces and hyphens between or inside groups.
        fn sloppy(shown: &str, choices: &[u8], separators: &[u8]) -> String {
            const GAPS: [&str; 6] = ["", "", "-", " ", "\t", " - "];
            let mut out = String::new();
            let symbols = shown.chars().filter(|c| *c != '-');
            for (i, c) in symbols.enumerate() {
                out.push_str(GAPS[usize::from(separators[i]) % GAPS.len()]);
                let pick = usize::from(choices[i]);
                let typed = match c {
                    '0' => ['0', 'O', 'o'][pick % 3],
                    '1' => ['1', 'I', 'i', 'L', 'l'][pick % 5],
                    other if pick % 2 == 0 => other.to_ascii_lowercase(),
                    other => other,
                };
                out.push(typed);
            }
            out.push_str(GAPS[usize::from(separators[SYMBOLS]) % GAPS.len()]);
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::default())]

            #[test]
            fn parsing_never_panics_on_any_string(typed in any::<String>()) {
                let _ = Token::parse(&typed);
            }

            #[test]
            fn parsing_never_panics_on_near_tokens(
                typed in prop::collection::vec(typed_char(), 0..48)
            ) {
                let typed: String = typed.into_iter().collect();
                let _ = Token::parse(&typed);
            }

            #[test]
            fn every_token_reads_back_from_its_display_form(bytes in any::<[u8; 16]>()) {
                let shown = Token::from_bytes(bytes).display();
                let shown = shown.expose_secret();
                prop_assert_eq!(shown.len(), 34);
                for (i, c) in shown.chars().enumerate() {
                    if i % 5 == 4 {
                        prop_assert_eq!(c, '-');
                    } else {
                        prop_assert!(ALPHABET.contains(&(c as u8)), "{c:?}");
                    }
                }
                prop_assert_eq!(Token::parse(shown).map(|t| *t.as_bytes()), Ok(bytes));
            }

            #[test]
            fn case_separators_and_look_alike_letters_do_not_change_the_token(
                bytes in any::<[u8; 16]>(),
                choices in prop::collection::vec(any::<u8>(), SYMBOLS),
                separators in prop::collection::vec(any::<u8>(), SYMBOLS + 1),
            ) {
                let shown = Token::from_bytes(bytes).display();
                let typed = sloppy(shown.expose_secret(), &choices, &separators);
                prop_assert_eq!(Token::parse(&typed).map(|t| *t.as_bytes()), Ok(bytes), "{}", typed);
            }

            #[test]
            fn a_changed_symbol_is_a_typo_or_another_token_never_the_same(
                bytes in any::<[u8; 16]>(),
                position in 0..SYMBOLS,
                shift in 1..32usize,
            ) {
                let shown = Token::from_bytes(bytes).display();
                let mut symbols: Vec<u8> = shown
                    .expose_secret()
                    .bytes()
                    .filter(|b| *b != b'-')
                    .collect();
                let Some(value) = ALPHABET.iter().position(|a| *a == symbols[position]) else {
                    return Err(TestCaseError::fail("a displayed symbol outside the alphabet"));
                };
                symbols[position] = ALPHABET[(value + shift) % 32];
                let typed = String::from_utf8_lossy(&symbols).into_owned();
                match Token::parse(&typed) {
                    Err(e) => prop_assert_eq!(e, TokenError::Typo),
                    Ok(other) => prop_assert_ne!(*other.as_bytes(), bytes),
                }
            }

            #[test]
            fn a_symbol_too_many_or_too_few_is_a_typo(
                bytes in any::<[u8; 16]>(),
                extra in prop::sample::select(ALPHABET.to_vec()),
                append in any::<bool>(),
            ) {
                let shown = Token::from_bytes(bytes).display();
                let shown = shown.expose_secret();
                let typed = if append {
                    format!("{shown}{}", char::from(extra))
                } else {
                    shown[..shown.len() - 1].to_string()
                };
                prop_assert_eq!(Token::parse(&typed).map(|_| ()), Err(TokenError::Typo));
            }
        }
    }
}
