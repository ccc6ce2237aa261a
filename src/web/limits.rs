//! Rate limits that an attacker cannot turn against the people they protect.
//!
//! No limit is kept per client: that would mean keeping client addresses.
//! Instead a follow-up code is checked first (a key derivation and one
//! indexed read, about what any page costs) and only then counted:
//! - codes that match no case count against one instance-wide budget of
//!   *failures*; past it, further wrong codes get "busy" instead of "no
//!   case", which tells nothing more, while a right code is never refused
//!   because of other people's failures;
//! - a code that matches a case counts against that case's own budget of
//!   readings and messages, so someone holding one code can only use up
//!   their own case's budget, never another reporter's.
//!
//! The work that costs (decrypting a thread, sealing and storing a message)
//! happens only after the case's budget has allowed it.

use std::{collections::HashMap, sync::Mutex};

/// Wrong follow-up codes per minute for the whole instance.
pub const FAILED_LOOKUPS_PER_MINUTE: u32 = 600;
/// Readings of one case per minute (a page view, a message shown again).
pub const LOOKUPS_PER_CASE_PER_MINUTE: u32 = 30;
/// Reporter messages to one case per minute.
pub const MESSAGES_PER_CASE_PER_MINUTE: u32 = 10;

/// Counts per key over a fixed one-minute window; the map is emptied when
/// the minute changes, so it holds at most the cases used in one minute.
#[derive(Debug, Default)]
pub struct PerCase(Mutex<(i64, HashMap<String, u32>)>);

impl PerCase {
    /// Counts one use of `key`; false once it has had `limit` this minute.
    pub fn allow(&self, now: i64, key: &str, limit: u32) -> bool {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now.div_euclid(60);
        if w.0 != minute {
            w.0 = minute;
            w.1.clear();
        }
        let used = w.1.entry(key.to_string()).or_insert(0);
        *used = used.saturating_add(1);
        *used <= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_using_up_its_budget_leaves_every_other_case_untouched() {
        let limits = PerCase::default();
        for _ in 0..3 {
            assert!(limits.allow(60, "a", 3));
        }
        assert!(!limits.allow(61, "a", 3));
        assert!(limits.allow(61, "b", 3));
        assert!(limits.allow(120, "a", 3), "a new minute, a new budget");
    }
}
