//! The annual figures the secretariat accounts for, from metadata only
//! (dates, statuses, closure reasons). Figures by category need the reports'
//! text and are computed in the Secretary's browser after decryption.

use chrono::{Datelike, NaiveDate};

use super::{CaseStatus, ClosureReason};

/// One case as the figures see it.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub month: u32,
    pub status: CaseStatus,
    pub closure_reason: Option<ClosureReason>,
    pub ack_due: Option<NaiveDate>,
    pub ack_days: Option<i64>,
    pub feedback_due: Option<NaiveDate>,
    pub close_days: Option<i64>,
    pub feedback_on_time: Option<bool>,
}

/// A share: how many of how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub yes: u32,
    pub of: u32,
}

impl Share {
    pub fn percent(&self) -> Option<u32> {
        (self.of > 0).then(|| (f64::from(self.yes) * 100.0 / f64::from(self.of)).round() as u32)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub year: i32,
    pub total: u32,
    pub by_month: [u32; 12],
    pub by_status: Vec<(&'static str, u32)>,
    pub by_reason: Vec<(String, u32)>,
    /// Acknowledged within 7 days, of the cases whose deadline has come.
    pub acknowledged_in_time: Share,
    /// Feedback given by its deadline, of the cases whose deadline has come.
    pub answered_in_time: Share,
    pub median_ack_days: Option<f64>,
    pub median_close_days: Option<f64>,
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

pub fn compute(year: i32, today: NaiveDate, cases: &[CaseFacts]) -> Figures {
    let mut f = Figures {
        year,
        total: cases.len() as u32,
        ..Figures::default()
    };
    let statuses = [
        CaseStatus::Received,
        CaseStatus::Acknowledged,
        CaseStatus::InReview,
        CaseStatus::Closed,
    ];
    f.by_status = statuses
        .iter()
        .map(|s| {
            (
                s.as_str(),
                cases.iter().filter(|c| c.status == *s).count() as u32,
            )
        })
        .collect();
    let mut ack_days = Vec::new();
    let mut close_days = Vec::new();
    for c in cases {
        if (1..=12).contains(&c.month) {
            f.by_month[(c.month - 1) as usize] += 1;
        }
        if let Some(r) = c.closure_reason {
            match f.by_reason.iter_mut().find(|(k, _)| k == r.as_str()) {
                Some((_, n)) => *n += 1,
                None => f.by_reason.push((r.as_str().to_string(), 1)),
            }
        }
        match c.ack_days {
            Some(days) => {
                ack_days.push(days);
                f.acknowledged_in_time.of += 1;
                if days <= 7 {
                    f.acknowledged_in_time.yes += 1;
                }
            }
            None if c.ack_due.is_some_and(|d| d < today) => f.acknowledged_in_time.of += 1,
            None => {}
        }
        if let Some(days) = c.close_days {
            close_days.push(days);
        }
        match c.feedback_on_time {
            Some(on_time) => {
                f.answered_in_time.of += 1;
                if on_time {
                    f.answered_in_time.yes += 1;
                }
            }
            None if c.feedback_due.is_some_and(|d| d < today) => f.answered_in_time.of += 1,
            None => {}
        }
    }
    f.by_reason.sort();
    f.median_ack_days = median(ack_days);
    f.median_close_days = median(close_days);
    f
}

/// The figures as CSV (one `metric,key,value` line each).
pub fn to_csv(f: &Figures) -> String {
    let mut out = String::from("metric,key,value\n");
    out.push_str(&format!("year,,{}\ncases,,{}\n", f.year, f.total));
    for (i, n) in f.by_month.iter().enumerate() {
        out.push_str(&format!(
            "received_in_month,{:04}-{:02},{n}\n",
            f.year,
            i + 1
        ));
    }
    for (s, n) in &f.by_status {
        out.push_str(&format!("status,{s},{n}\n"));
    }
    for (r, n) in &f.by_reason {
        out.push_str(&format!("closure_reason,{r},{n}\n"));
    }
    let share = |name: &str, s: &Share| format!("{name},yes,{}\n{name},of,{}\n", s.yes, s.of);
    out.push_str(&share(
        "acknowledged_within_7_days",
        &f.acknowledged_in_time,
    ));
    out.push_str(&share("answered_within_3_months", &f.answered_in_time));
    let med = |v: Option<f64>| v.map(|d| format!("{d}")).unwrap_or_default();
    out.push_str(&format!(
        "median_days_to_acknowledgement,,{}\n",
        med(f.median_ack_days)
    ));
    out.push_str(&format!(
        "median_days_to_closure,,{}\n",
        med(f.median_close_days)
    ));
    out
}

/// The month of a date, 1 to 12.
pub fn month_of(d: NaiveDate) -> u32 {
    d.month()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn figures_count_months_statuses_reasons_shares_and_medians() {
        let today = d(2026, 12, 6);
        let case = |month,
                    status,
                    reason: Option<&str>,
                    ack: Option<i64>,
                    close: Option<i64>,
                    on_time: Option<bool>| CaseFacts {
            month,
            status,
            closure_reason: reason.and_then(ClosureReason::parse),
            ack_due: Some(d(2026, month, 8)),
            ack_days: ack,
            feedback_due: Some(d(2026, month, 28)),
            close_days: close,
            feedback_on_time: on_time,
        };
        let cases = vec![
            case(
                1,
                CaseStatus::Closed,
                Some("unfounded"),
                Some(3),
                Some(40),
                Some(true),
            ),
            case(
                1,
                CaseStatus::Closed,
                Some("measures_taken"),
                Some(9),
                Some(120),
                Some(false),
            ),
            case(3, CaseStatus::InReview, None, Some(5), None, None),
            case(12, CaseStatus::Received, None, None, None, None),
        ];
        let f = compute(2026, today, &cases);
        assert_eq!(f.total, 4);
        assert_eq!(f.by_month[0], 2);
        assert_eq!(f.by_month[2], 1);
        assert_eq!(
            f.by_status,
            vec![
                ("received", 1),
                ("acknowledged", 0),
                ("in_review", 1),
                ("closed", 2)
            ]
        );
        assert_eq!(
            f.by_reason,
            vec![
                ("measures_taken".to_string(), 1),
                ("unfounded".to_string(), 1)
            ]
        );
        // Acknowledged: 3 and 5 days in time, 9 late; the December case is not yet due.
        assert_eq!(f.acknowledged_in_time, Share { yes: 2, of: 3 });
        // Answered: one in time, one late, the March case's deadline has passed unanswered.
        assert_eq!(f.answered_in_time, Share { yes: 1, of: 3 });
        assert_eq!(f.median_ack_days, Some(5.0));
        assert_eq!(f.median_close_days, Some(80.0));
        let csv = to_csv(&f);
        assert!(csv.contains("received_in_month,2026-01,2\n"));
        assert!(csv.contains("acknowledged_within_7_days,yes,2\n"));
    }
}
