//! Who reads a case. Two groups of readers hold keys: the Permanent
//! Secretary's and the Bureau's (its designated referent). A report that
//! concerns the Secretary is the Bureau's alone; the Secretary can alert
//! the Bureau on one of his cases (both read it) or step aside (the Bureau
//! alone reads it).

use std::fmt;

/// A group of readers, and the role of whoever logged in with one of its
/// keys. Stored under its name (`as_str`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Role {
    Secretary,
    Bureau,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Secretary, Role::Bureau];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Secretary => "secretary",
            Role::Bureau => "bureau",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The readerships whose cases this role reads.
    pub fn reads(self) -> [Readership; 2] {
        match self {
            Role::Secretary => [Readership::Secretary, Readership::Both],
            Role::Bureau => [Readership::Bureau, Readership::Both],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who reads a case: every ciphertext of the case is sealed to exactly the
/// recipients of its readership and the reporter's `R`. Stored under its
/// name (`as_str`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Readership {
    /// The Permanent Secretary's keys: every report by default.
    Secretary,
    /// The Bureau's keys: a report that concerns the Secretary, or a case
    /// he stepped aside from.
    Bureau,
    /// Both groups: a case on which the Secretary alerted the Bureau.
    Both,
}

impl Readership {
    pub const ALL: [Readership; 3] = [Readership::Secretary, Readership::Bureau, Readership::Both];

    pub fn as_str(self) -> &'static str {
        match self {
            Readership::Secretary => "secretary",
            Readership::Bureau => "bureau",
            Readership::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

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

impl fmt::Display for Readership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
