//! The primitives Vigie calls itself: SHA-256/384, HKDF-SHA256, random bytes
//! and a constant-time comparison. They come from `ring` (already in the
//! binary for the mail relay's TLS) and `subtle` (already in it for `age`);
//! `age` keeps its own internals.

use ring::rand::SecureRandom;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-384 of some bytes (subresource integrity of the static assets).
pub fn sha384(bytes: &[u8]) -> [u8; 48] {
    let digest = ring::digest::digest(&ring::digest::SHA384, bytes);
    let mut out = [0u8; 48];
    out.copy_from_slice(digest.as_ref());
    out
}

/// HKDF-SHA256 (RFC 5869) with a salt, producing 32 bytes for one `info`.
pub(super) fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    // HKDF_SHA256 as a key type asks for 32 bytes, far below HKDF-SHA256's
    // limit of 255 * 32: neither step can fail.
    let filled = prk
        .expand(&[info], ring::hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out.as_mut()));
    if filled.is_err() {
        unreachable!("HKDF-SHA256 can always produce 32 bytes");
    }
    out
}

/// Fills `out` from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system cannot give random bytes: nothing secret can be
/// made safely then, and continuing with predictable bytes would be worse.
pub(super) fn fill_random(out: &mut [u8]) {
    if ring::rand::SystemRandom::new().fill(out).is_err() {
        panic!("the operating system's random number generator failed");
    }
}

/// A uniformly random integer in `[0, max]`, from the OS's CSPRNG (rejection
/// sampling, no modulo bias). For delays and jitter, not for secrets.
pub fn random_at_most(max: u64) -> u64 {
    if max == u64::MAX {
        let mut bytes = [0u8; 8];
        fill_random(&mut bytes);
        return u64::from_le_bytes(bytes);
    }
    let span = max + 1;
    // The largest multiple of `span` that fits: values at or above it are
    // drawn again, so every result is equally likely.
    let zone = u64::MAX - (u64::MAX % span);
    loop {
        let mut bytes = [0u8; 8];
        fill_random(&mut bytes);
        let value = u64::from_le_bytes(bytes);
        if value < zone {
            return value % span;
        }
    }
}

/// Whether two byte strings are equal, in time that depends only on their
/// lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_and_sha384_match_the_fips_180_known_answers() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha384(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
    }

    #[test]
    fn hkdf_sha256_matches_rfc_5869_test_case_1_for_its_first_32_bytes() {
        let ikm = [0x0bu8; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap_or_default();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap_or_default();
        let okm = hkdf_sha256_32(&salt, &ikm, &info);
        assert_eq!(
            hex::encode(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn constant_time_eq_compares_lengths_and_every_byte() {
        let cases: [(&[u8], &[u8], bool); 6] = [
            (b"", b"", true),
            (b"abc", b"abc", true),
            (b"abc", b"abd", false),
            (b"abc", b"xbc", false),
            (b"abc", b"ab", false),
            (b"", b"a", false),
        ];
        for (a, b, equal) in cases {
            assert_eq!(constant_time_eq(a, b), equal, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn random_at_most_stays_in_its_range_and_reaches_both_ends() {
        assert_eq!(random_at_most(0), 0);
        let draws: Vec<u64> = (0..400).map(|_| random_at_most(3)).collect();
        assert!(draws.iter().all(|&d| d <= 3));
        assert!(draws.contains(&0) && draws.contains(&3));
        let _ = random_at_most(u64::MAX);
    }

    #[test]
    fn two_random_fills_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill_random(&mut a);
        fill_random(&mut b);
        assert_ne!(a, b);
    }
}
