//! age X25519 stanzas made with fixed-base tables instead of the Montgomery
//! ladder: the same bytes age itself would write, at about a third of the
//! cost of each variable-base multiplication.
//!
//! A stanza for a public key `P` needs `e·P` for a fresh ephemeral scalar
//! `e`. Two cases let the server read that product from a precomputed table:
//!
//! - **A reader's key** (the Secretary's, the Bureau's) is fixed: its table
//!   of multiples is built once, and `e·P` is a fixed-base multiplication.
//!   A table is used only after it gave the ladder's answer for a random
//!   scalar; a key whose table cannot be built is sealed to by age itself.
//! - **The reporter's `R`, when the server derived it from the token** (the
//!   path without JavaScript): `R = k·B` with `k` known, so
//!   `e·R = (e·k mod ℓ)·B`, a multiplication of the base point, whose table
//!   is in the curve library.
//!
//! Both are constant time (the tables are read by masked selection). The
//! scalars, products and shared points held here are zeroized; the curve
//! library's own temporaries are not, as on age's own path. The key
//! derivation and the wrapping of the file key are age's own
//! (`age_core::primitives`), and the result opens with the stock `age`
//! command: the tests prove it.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use curve25519_dalek::{
    constants::ED25519_BASEPOINT_TABLE,
    edwards::{EdwardsBasepointTable, EdwardsPoint},
    montgomery::MontgomeryPoint,
    scalar::{clamp_integer, Scalar},
    traits::BasepointTable,
};
use zeroize::{Zeroize, Zeroizing};

use super::primitives::fill_random;

/// The stanza tag and key-derivation label of age's X25519 recipients.
const TAG: &str = "X25519";
const LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// The 32 bytes of an age X25519 recipient (`age1…`).
fn recipient_bytes(recipient: &age::x25519::Recipient) -> Option<[u8; 32]> {
    let text = recipient.to_string();
    let (_, data) = bech32::decode(&text).ok()?;
    <[u8; 32]>::try_from(data.as_slice()).ok()
}

/// A fresh ephemeral scalar's bytes, from the operating system.
fn ephemeral() -> Zeroizing<[u8; 32]> {
    let mut esk = Zeroizing::new([0u8; 32]);
    fill_random(esk.as_mut());
    esk
}

/// The public share of an ephemeral scalar, `e·B` on the Montgomery curve.
fn public_share(esk: &[u8; 32]) -> MontgomeryPoint {
    let mut point = ED25519_BASEPOINT_TABLE.mul_base_clamped(*esk);
    let share = point.to_montgomery();
    point.zeroize();
    share
}

/// age's X25519 stanza, from the ephemeral share, the recipient's bytes and
/// the shared point.
fn stanza(
    epk: &MontgomeryPoint,
    recipient: &[u8; 32],
    shared: &Zeroizing<MontgomeryPoint>,
    file_key: &FileKey,
) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
    let zero = shared.as_bytes().iter().fold(0u8, |acc, b| acc | b) == 0;
    if zero {
        return Err(age::EncryptError::Io(std::io::Error::other(
            "an X25519 shared secret was zero",
        )));
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(epk.as_bytes());
    salt[32..].copy_from_slice(recipient);
    let key = Zeroizing::new(age_core::primitives::hkdf(&salt, LABEL, shared.as_bytes()));
    let body = age_core::primitives::aead_encrypt(&key, file_key.expose_secret());
    let share = base64::engine::general_purpose::STANDARD_NO_PAD.encode(epk.as_bytes());
    Ok((
        vec![Stanza {
            tag: TAG.to_owned(),
            args: vec![share],
            body,
        }],
        HashSet::new(),
    ))
}

/// age's X25519 stanza for the key `recipient`, with a fresh ephemeral
/// scalar `e` and the shared point `e·P` that `shared` computes from it.
fn wrap(
    recipient: &[u8; 32],
    file_key: &FileKey,
    shared: impl FnOnce(&[u8; 32]) -> EdwardsPoint,
) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
    let esk = ephemeral();
    let epk = public_share(&esk);
    let mut point = shared(&esk);
    let shared = Zeroizing::new(point.to_montgomery());
    point.zeroize();
    stanza(&epk, recipient, &shared, file_key)
}

/// A reader's key with its table of multiples.
pub(super) struct Tabled {
    bytes: [u8; 32],
    table: Box<EdwardsBasepointTable>,
}

impl Tabled {
    /// The table of a key; `None` for a key that is not a point of the
    /// curve (age then seals to it itself). The table is right for every
    /// key on the curve (the clamped scalar is a multiple of 8 below 2^255,
    /// multiplied without reduction, so a small-order part cancels as in
    /// the ladder); one random product is compared with the ladder's all
    /// the same, which would catch a table built wrong, not prove it.
    fn build(recipient: &age::x25519::Recipient) -> Option<Self> {
        let bytes = recipient_bytes(recipient)?;
        let point = MontgomeryPoint(bytes).to_edwards(0)?;
        let table = Box::new(EdwardsBasepointTable::create(&point));
        let probe = ephemeral();
        let by_table = table.mul_base_clamped(*probe).to_montgomery();
        let by_ladder = MontgomeryPoint(bytes).mul_clamped(*probe);
        (by_table == by_ladder).then_some(Tabled { bytes, table })
    }
}

impl age::Recipient for Tabled {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        wrap(&self.bytes, file_key, |esk| {
            self.table.mul_base_clamped(*esk)
        })
    }
}

/// A reader's recipient, with its table built the first time it is sealed
/// to and shared by every copy.
#[derive(Clone)]
pub(super) struct Keyed {
    pub recipient: age::x25519::Recipient,
    table: Arc<OnceLock<Option<Tabled>>>,
}

impl Keyed {
    pub fn new(recipient: age::x25519::Recipient) -> Self {
        Keyed {
            recipient,
            table: Arc::default(),
        }
    }

    /// What to seal to: the table, or age's own recipient without one.
    pub fn sealer(&self) -> &dyn age::Recipient {
        match self.table.get_or_init(|| Tabled::build(&self.recipient)) {
            Some(tabled) => tabled,
            None => &self.recipient,
        }
    }
}

impl fmt::Debug for Keyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.recipient)
    }
}

/// The reporter's key `k` (clamped, reduced) and `R = k·B`, when the server
/// derived them from the token.
pub(super) struct ReplySecret {
    scalar: Zeroizing<Scalar>,
    public: [u8; 32],
}

impl ReplySecret {
    /// `k` and `R` from the 32 bytes of the reply key `K`.
    pub(super) fn from_key(key: &[u8; 32]) -> Self {
        let mut clamped = Zeroizing::new(*key);
        *clamped = clamp_integer(*clamped);
        let scalar = Zeroizing::new(Scalar::from_bytes_mod_order(*clamped));
        let mut point = ED25519_BASEPOINT_TABLE.mul_base(&scalar);
        let public = point.to_montgomery().to_bytes();
        point.zeroize();
        ReplySecret { scalar, public }
    }

    /// `R`'s 32 bytes.
    pub(super) fn public(&self) -> &[u8; 32] {
        &self.public
    }
}

impl fmt::Debug for ReplySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplySecret(..)")
    }
}

impl age::Recipient for ReplySecret {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        wrap(&self.public, file_key, |esk| {
            let e = Zeroizing::new(Scalar::from_bytes_mod_order(clamp_integer(*esk)));
            // By reference: the operands by value would be copies of secrets
            // that nothing wipes.
            #[allow(clippy::op_ref)]
            let product = Zeroizing::new(&*e * &*self.scalar);
            ED25519_BASEPOINT_TABLE.mul_base(&product)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scalar_bytes() -> impl Strategy<Value = [u8; 32]> {
        proptest::array::uniform32(any::<u8>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_reader_table_multiplies_as_the_ladder_does(key in scalar_bytes(), e in scalar_bytes()) {
            let public = MontgomeryPoint::mul_base_clamped(key);
            let point = public.to_edwards(0);
            prop_assert!(point.is_some());
            let table = EdwardsBasepointTable::create(&point.unwrap_or_default());
            prop_assert_eq!(table.mul_base_clamped(e).to_montgomery(), public.mul_clamped(e));
        }

        #[test]
        fn any_32_bytes_as_a_key_get_the_ladders_answer_or_no_table(key in scalar_bytes(), e in scalar_bytes()) {
            // Small-order parts, the high bit, u at or above p, the twist.
            let recipient = super::super::keys::recipient_from_bytes(&key);
            if let Some(tabled) = Tabled::build(&recipient) {
                prop_assert_eq!(tabled.table.mul_base_clamped(e).to_montgomery(), MontgomeryPoint(key).mul_clamped(e));
            } else {
                prop_assert!(MontgomeryPoint(key).to_edwards(0).is_none());
            }
        }

        #[test]
        fn the_product_of_two_scalars_multiplies_as_the_ladder_does(key in scalar_bytes(), e in scalar_bytes()) {
            let secret = ReplySecret::from_key(&key);
            prop_assert_eq!(secret.public, MontgomeryPoint::mul_base_clamped(key).to_bytes());
            let product = Scalar::from_bytes_mod_order(clamp_integer(e)) * *secret.scalar;
            prop_assert_eq!(
                ED25519_BASEPOINT_TABLE.mul_base(&product).to_montgomery(),
                MontgomeryPoint(secret.public).mul_clamped(e)
            );
        }
    }

    #[test]
    fn a_key_with_a_small_order_part_still_gets_the_ladders_answer() {
        // A point of order 8 added to a real key: clamping clears it on
        // both sides, or the table is refused; never a different answer.
        let torsion = curve25519_dalek::constants::EIGHT_TORSION[1];
        let key = ED25519_BASEPOINT_TABLE.mul_base_clamped([7u8; 32]) + torsion;
        let bytes = key.to_montgomery().to_bytes();
        let recipient = super::super::keys::recipient_from_bytes(&bytes);
        let Some(tabled) = Tabled::build(&recipient) else {
            panic!("a point of the curve gets a table")
        };
        let e = [42u8; 32];
        assert_eq!(
            tabled.table.mul_base_clamped(e).to_montgomery(),
            MontgomeryPoint(bytes).mul_clamped(e)
        );
    }

    #[test]
    fn a_key_off_the_curve_gets_no_table() {
        // u = 2 is on the twist, not on Curve25519.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert!(Tabled::build(&super::super::keys::recipient_from_bytes(&bytes)).is_none());
    }
}
