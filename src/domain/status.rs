use std::str::FromStr;

use chrono::{Days, Months, NaiveDate};

super::named::named! {
    /// Where a case stands in the legal workflow. Stored under its name
    /// (`as_str`).
    pub enum CaseStatus {
        Received => "received",
        Acknowledged => "acknowledged",
        InReview => "in_review",
        Closed => "closed",
    }
}

impl CaseStatus {
    /// The legal workflow: received → acknowledged → in review → closed; a
    /// case may be closed as soon as it has been acknowledged.
    pub fn can_move_to(self, next: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, next),
            (Received, Acknowledged)
                | (Acknowledged, InReview)
                | (Acknowledged, Closed)
                | (InReview, Closed)
        )
    }
}

super::named::named! {
    /// Why a case was closed. Stored under its name (`as_str`).
    pub enum ClosureReason {
        MeasuresTaken => "measures_taken",
        Unfounded => "unfounded",
        InsufficientInformation => "insufficient_information",
        Inadmissible => "inadmissible",
        Moot => "moot",
        /// The same facts as another case of the same reporter's.
        Duplicate => "duplicate",
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown case status")]
pub struct UnknownStatus;

impl FromStr for CaseStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseStatus::parse(s).ok_or(UnknownStatus)
    }
}

/// The shortest retention after closure that applies without a reader's
/// confirmation. A reporter needs time to read the closing message (its
/// feedback) with the token, and the secretariat time to notice a closure
/// made in error or to place a hold; a month covers both. Below it, a
/// retention set by whoever runs the server applies only once a reader with
/// the key has confirmed that exact value in the workspace, so that an
/// operator without a key cannot empty the channel.
pub const RETENTION_FLOOR_DAYS: u32 = 30;

/// An acknowledgement is "due soon" this many days before its deadline, in
/// the inbox and in the reminder email alike.
pub const ACK_SOON_DAYS: u64 = 2;
/// Feedback is "due soon" this many days before its deadline, in the inbox
/// and in the reminder email alike: two weeks leave time to write it.
pub const FEEDBACK_SOON_DAYS: u64 = 14;

/// Where a deadline stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Later,
    /// Within `soon` days, the deadline day included.
    Soon,
    Overdue,
}

/// The one rule for "due soon" and "overdue".
pub fn due(deadline: NaiveDate, today: NaiveDate, soon: u64) -> Due {
    let days = (deadline - today).num_days();
    if days < 0 {
        Due::Overdue
    } else if days <= i64::try_from(soon).unwrap_or(i64::MAX) {
        Due::Soon
    } else {
        Due::Later
    }
}

/// The two legal deadlines of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Acknowledge in writing within 7 days of receipt.
    pub ack_due: NaiveDate,
    /// Give feedback within 3 months of the acknowledgement, or of `ack_due`
    /// when none was sent.
    pub feedback_due: NaiveDate,
}

/// Deadlines for a case received on `received_on` and acknowledged (or not).
/// Seven calendar days satisfy both the directive and the décret's seven
/// working days; three months are calendar months, clamped to month ends.
pub fn deadlines(received_on: NaiveDate, acknowledged_on: Option<NaiveDate>) -> Deadlines {
    let ack_due = received_on
        .checked_add_days(Days::new(7))
        .unwrap_or(NaiveDate::MAX);
    let from = acknowledged_on.unwrap_or(ack_due);
    let feedback_due = from
        .checked_add_months(Months::new(3))
        .unwrap_or(NaiveDate::MAX);
    Deadlines {
        ack_due,
        feedback_due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thresholds_are_the_ones_the_texts_and_the_tests_state() {
        // The inbox, the reminder email and the retention floor are
        // documented with these values: change them and this fails.
        assert_eq!(ACK_SOON_DAYS, 2);
        assert_eq!(FEEDBACK_SOON_DAYS, 14);
        assert_eq!(RETENTION_FLOOR_DAYS, 30);
    }

    #[test]
    fn one_rule_says_due_soon_and_overdue() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default();
        let table = [
            (day(20), day(1), 14, Due::Later),
            (day(15), day(1), 14, Due::Soon),
            (day(1), day(1), 14, Due::Soon),
            (day(1), day(2), 14, Due::Overdue),
            (day(3), day(1), 2, Due::Soon),
            (day(4), day(1), 2, Due::Later),
        ];
        for (deadline, today, soon, expected) in table {
            assert_eq!(
                due(deadline, today, soon),
                expected,
                "{deadline} on {today}"
            );
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn deadlines_count_seven_days_then_three_months() {
        let cases = [
            ("2026-11-30", None, "2026-12-07", "2027-03-07"),
            ("2026-11-30", Some("2026-12-02"), "2026-12-07", "2027-03-02"),
            ("2027-11-23", None, "2027-11-30", "2028-02-29"),
            ("2026-12-28", None, "2027-01-04", "2027-04-04"),
        ];
        for (received, acked, ack_due, feedback_due) in cases {
            let got = deadlines(d(received), acked.map(d));
            assert_eq!(got.ack_due, d(ack_due), "{received}");
            assert_eq!(got.feedback_due, d(feedback_due), "{received}");
        }
    }

    #[test]
    fn only_the_legal_transitions_are_allowed() {
        use CaseStatus::*;
        let all = [Received, Acknowledged, InReview, Closed];
        let allowed = [
            (Received, Acknowledged),
            (Acknowledged, InReview),
            (Acknowledged, Closed),
            (InReview, Closed),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
    }

    #[test]
    fn closure_reasons_read_back_from_their_names() {
        for r in ClosureReason::ALL {
            assert_eq!(ClosureReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(ClosureReason::parse("bored"), None);
    }

    #[test]
    fn statuses_read_back_from_their_names() {
        for s in [
            CaseStatus::Received,
            CaseStatus::Acknowledged,
            CaseStatus::InReview,
            CaseStatus::Closed,
        ] {
            assert_eq!(s.as_str().parse::<CaseStatus>().ok(), Some(s));
        }
        assert!("open".parse::<CaseStatus>().is_err());
    }
}
