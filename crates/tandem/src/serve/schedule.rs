//! Cron schedules of jobs: standard 5-field cron (`*/15 * * * *`), or 6 fields with seconds
//! first (`*/10 * * * * *`), evaluated in UTC.

use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A parsed cron pattern.
#[derive(Debug, Clone)]
pub struct Schedule {
    pattern: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(pattern: &str) -> Result<Schedule, String> {
        let fields = pattern.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!("cron pattern {pattern:?} has {fields} fields; use 5 (minute hour day month weekday) or 6 (second first)"));
        }
        let cron = croner::Cron::from_str(pattern).map_err(|e| format!("invalid cron pattern {pattern:?}: {e}"))?;
        // A pattern that never fires (`0 0 31 2 *`) is a mistake, not a schedule.
        cron.find_next_occurrence(&Utc::now(), false).map_err(|e| format!("cron pattern {pattern:?} never fires: {e}"))?;
        Ok(Schedule { pattern: pattern.to_string(), cron })
    }

    /// The first time strictly after `t` the schedule fires.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t, false).ok()
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_fields_and_errors() {
        let t: DateTime<Utc> = "2026-12-01T10:07:03Z".parse().unwrap();
        assert_eq!(Schedule::parse("*/15 * * * *").unwrap().next_after(t).unwrap().to_rfc3339(), "2026-12-01T10:15:00+00:00");
        assert_eq!(Schedule::parse("*/5 * * * * *").unwrap().next_after(t).unwrap().to_rfc3339(), "2026-12-01T10:07:05+00:00");
        assert!(Schedule::parse("every 5 minutes").unwrap_err().contains("fields"));
        assert!(Schedule::parse("61 * * * *").unwrap_err().contains("invalid cron pattern"));
        assert!(Schedule::parse("0 0 31 2 *").unwrap_err().contains("never fires"));
    }
}
