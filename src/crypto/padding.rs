//! Size buckets for plaintexts, so that a ciphertext's length says little.

use zeroize::Zeroizing;

const MIN: usize = 1024;
const STEP: usize = 64 * 1024;

/// The bucket a plaintext of `len` bytes is padded to: at least 1 KiB, then the
/// next power of two up to 64 KiB, then the next multiple of 64 KiB.
pub fn padded_len(len: usize) -> usize {
    if len <= MIN {
        MIN
    } else if len <= STEP {
        len.next_power_of_two()
    } else {
        len.div_ceil(STEP) * STEP
    }
}

/// Pads a JSON text with trailing spaces up to its bucket, in place.
pub fn pad(mut json: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    let target = padded_len(json.len());
    if json.capacity() < target {
        // Grow into a fresh zeroizing buffer so that no reallocation leaves a
        // copy of the plaintext behind in freed memory.
        let mut grown = Zeroizing::new(Vec::with_capacity(target));
        grown.extend_from_slice(&json);
        json = grown;
    }
    json.resize(target, b' ');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_protocol() {
        let cases = [
            (0, 1024),
            (1, 1024),
            (1024, 1024),
            (1025, 2048),
            (4096, 4096),
            (4097, 8192),
            (65536, 65536),
            (65537, 131072),
            (131072, 131072),
            (131073, 196608),
        ];
        for (len, want) in cases {
            assert_eq!(padded_len(len), want, "length {len}");
        }
    }

    #[test]
    fn padding_appends_spaces_only() {
        let padded = pad(Zeroizing::new(b"{\"v\":1}".to_vec()));
        assert_eq!(padded.len(), 1024);
        assert!(padded.starts_with(b"{\"v\":1}"));
        assert!(padded[7..].iter().all(|b| *b == b' '));
    }
}
