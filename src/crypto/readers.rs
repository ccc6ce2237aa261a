//! The two groups of readers' recipients, and the short fingerprint that
//! names one key in the journal.

use crate::domain::{Readership, Role};

use super::Recipients;

/// The Secretary's recipients and the Bureau's (possibly none). A key
/// belongs to one group only: `vigie check` and start-up refuse a key that
/// appears in both.
#[derive(Clone, Debug, Default)]
pub struct Readers {
    pub secretary: Recipients,
    pub bureau: Recipients,
}

/// A key listed in both groups.
#[derive(Debug, thiserror::Error)]
#[error("the key {fingerprint} is listed for both the Secretary and the Bureau")]
pub struct SharedKey {
    pub fingerprint: String,
}

impl Readers {
    pub fn new(secretary: Recipients, bureau: Recipients) -> Result<Self, SharedKey> {
        for key in bureau.iter() {
            let text = key.to_string();
            if secretary.iter().any(|s| s.to_string() == text) {
                return Err(SharedKey {
                    fingerprint: key_fingerprint(&text),
                });
            }
        }
        Ok(Readers { secretary, bureau })
    }

    /// Whether a Bureau is configured: without one, a report cannot be
    /// addressed to it and nobody can step aside.
    pub fn has_bureau(&self) -> bool {
        !self.bureau.is_empty()
    }

    /// The recipients of one group.
    pub fn of_role(&self, role: Role) -> &Recipients {
        match role {
            Role::Secretary => &self.secretary,
            Role::Bureau => &self.bureau,
        }
    }

    /// Every recipient a case of this readership is sealed to (besides the
    /// reporter's `R`), Secretary's first.
    pub fn of(&self, readership: Readership) -> Recipients {
        readership
            .roles()
            .iter()
            .fold(Recipients::default(), |all, role| {
                all.joined(self.of_role(*role))
            })
    }

    /// The role of a recipient (`age1…`), if it is one of the readers' keys.
    pub fn role_of(&self, recipient: &str) -> Option<(Role, age::x25519::Recipient)> {
        Role::ALL.into_iter().find_map(|role| {
            self.of_role(role)
                .iter()
                .find(|r| r.to_string() == recipient)
                .map(|r| (role, r.clone()))
        })
    }
}

/// The short fingerprint of a recipient that journal lines name: the first
/// 8 bytes of SHA-256 of its `age1…` text, in lowercase hexadecimal.
pub fn key_fingerprint(recipient: &str) -> String {
    super::fingerprint(recipient.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<age::x25519::Recipient> {
        (0..n)
            .map(|_| age::x25519::Identity::generate().to_public())
            .collect()
    }

    #[test]
    fn a_key_in_both_groups_is_refused() {
        let shared = keys(1);
        let refused = Readers::new(
            Recipients::new(shared.clone()),
            Recipients::new(shared.clone()),
        );
        assert!(refused.is_err());
    }

    #[test]
    fn each_readership_seals_to_its_groups_only() {
        let (s, b) = (keys(2), keys(1));
        let readers = Readers::new(Recipients::new(s.clone()), Recipients::new(b.clone()))
            .unwrap_or_default();
        assert_eq!(readers.of(Readership::Secretary).len(), 2);
        assert_eq!(readers.of(Readership::Bureau).len(), 1);
        assert_eq!(readers.of(Readership::Both).len(), 3);
        let bureau_key = b[0].to_string();
        assert!(readers
            .of(Readership::Bureau)
            .iter()
            .all(|r| r.to_string() == bureau_key));
        assert_eq!(
            readers.role_of(&bureau_key).map(|(r, _)| r),
            Some(Role::Bureau)
        );
        assert_eq!(
            readers.role_of(&s[1].to_string()).map(|(r, _)| r),
            Some(Role::Secretary)
        );
        assert!(readers.role_of("age1nothing").is_none());
    }

    #[test]
    fn a_fingerprint_is_sixteen_hex_digits_and_names_one_key() {
        let k = keys(2);
        let (a, b) = (
            key_fingerprint(&k[0].to_string()),
            key_fingerprint(&k[1].to_string()),
        );
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert_eq!(a, key_fingerprint(&k[0].to_string()));
    }
}
