//! Who reads a case. Two groups of readers hold keys: the Permanent
//! Secretary's and the Bureau's (its designated referent). A report that
//! concerns the Secretary is the Bureau's alone; the Secretary can alert
//! the Bureau on one of his cases (both read it) or step aside (the Bureau
//! alone reads it).

super::named::named! {
    /// A group of readers, and the role of whoever logged in with one of its
    /// keys. Stored under its name (`as_str`).
    pub enum Role {
        Secretary => "secretary",
        Bureau => "bureau",
    }
}

impl Role {
    /// The other group of readers.
    pub fn other(self) -> Role {
        match self {
            Role::Secretary => Role::Bureau,
            Role::Bureau => Role::Secretary,
        }
    }

    /// The readerships whose cases this role reads.
    pub fn reads(self) -> [Readership; 2] {
        match self {
            Role::Secretary => [Readership::Secretary, Readership::Both],
            Role::Bureau => [Readership::Bureau, Readership::Both],
        }
    }
}

super::named::named! {
    /// Who reads a case: every ciphertext of the case is sealed to exactly
    /// the recipients of its readership and the reporter's `R`. Stored under
    /// its name (`as_str`).
    pub enum Readership {
        /// The Permanent Secretary's keys: every report by default.
        Secretary => "secretary",
        /// The Bureau's keys: a report that concerns the Secretary, or a
        /// case he stepped aside from.
        Bureau => "bureau",
        /// Both groups: a case on which the Secretary alerted the Bureau.
        Both => "both",
    }
}

impl Readership {
    /// Whether a reader of `role` reads the cases of this readership.
    pub fn read_by(self, role: Role) -> bool {
        role.reads().contains(&self)
    }

    /// The roles that read this readership's cases.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Readership::Secretary => &[Role::Secretary],
            Readership::Bureau => &[Role::Bureau],
            Readership::Both => &[Role::Secretary, Role::Bureau],
        }
    }
}

impl From<Role> for Readership {
    /// The readership of a role's own cases.
    fn from(role: Role) -> Self {
        match role {
            Role::Secretary => Readership::Secretary,
            Role::Bureau => Readership::Bureau,
        }
    }
}

/// A reader who logged in: the role of the key that answered the login
/// challenge, and that key's short fingerprint (`crypto::key_fingerprint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub role: Role,
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secretary_never_reads_a_case_of_the_bureau_alone() {
        assert!(!Readership::Bureau.read_by(Role::Secretary));
        assert!(Readership::Bureau.read_by(Role::Bureau));
        assert!(!Readership::Secretary.read_by(Role::Bureau));
        assert!(Readership::Both.read_by(Role::Secretary));
        assert!(Readership::Both.read_by(Role::Bureau));
    }

    #[test]
    fn names_read_back() {
        for r in Readership::ALL {
            assert_eq!(Readership::parse(r.as_str()), Some(r));
            for role in r.roles() {
                assert!(r.read_by(*role));
            }
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Readership::parse("Secretary"), None);
    }
}
