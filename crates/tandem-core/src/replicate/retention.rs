//! "Logs kept until shipped": how long the source keeps the log a replica still needs, looked
//! at every minute while replication runs or is paused, and an alarm when it is about to be
//! purged (or is gone: the replica can then only be bootstrapped again).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tandem_engine::changes::{Capture, Checkpoint, LogRetention};
use tandem_engine::{DbUrl, Engine};
use tokio::sync::watch;

use super::ReplicaStatus;
use crate::Events;

/// How often the source's log retention is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// The alarm goes off when less than this share of the source's retention period is left
/// before the log may be purged (and at least [`AT_LEAST`]).
const RISK_SHARE: u32 = 4;
const AT_LEAST: Duration = Duration::from_secs(600);

/// The alarm goes off when the log kept for a replica passes this share (in percent) of the
/// most the source keeps before it gives the replica up.
const RISK_PERCENT: u64 = 80;

/// Whether the log a replica needs is purged, or may be soon (see [`RISK_SHARE`] and
/// [`RISK_PERCENT`]).
pub fn at_risk(log: &LogRetention, now: DateTime<Utc>) -> bool {
    if !log.kept {
        return true;
    }
    if let (Some(kept), Some(limit)) = (log.retained_bytes, log.limit_bytes) {
        if kept.saturating_mul(100) >= limit.saturating_mul(RISK_PERCENT) {
            return true;
        }
    }
    let (Some(purge), Some(period)) = (log.purge_after, log.retention_seconds) else { return false };
    let window = (Duration::from_secs(period) / RISK_SHARE).max(AT_LEAST);
    (purge - now).to_std().map_or(true, |left| left < window)
}

/// One line on the log a replica needs, for people.
pub fn describe(log: &LogRetention, now: DateTime<Utc>) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    if let (true, Some(kept)) = (log.kept, log.retained_bytes) {
        return match (log.limit_bytes, at_risk(log, now)) {
            (Some(limit), true) => format!(
                "the source keeps {:.0} MiB of log for this replica, near its limit of {:.0} MiB: resume replication before the source gives it up",
                mib(kept),
                mib(limit)
            ),
            (Some(limit), false) => format!("the source keeps {:.0} MiB of log for this replica (limit {:.0} MiB)", mib(kept), mib(limit)),
            (None, _) => format!("the source keeps {:.0} MiB of log for this replica (no limit: it grows until replication resumes)", mib(kept)),
        };
    }
    match (log.kept, log.purge_after) {
        (false, _) => "the source no longer has the log this replica needs (purged): it must be bootstrapped again".into(),
        (true, None) => "the source keeps the log this replica needs (no expiry, or it is the log being written)".into(),
        (true, Some(t)) => {
            let hours = (t - now).num_seconds() as f64 / 3600.0;
            let when = t.format("%Y-%m-%d %H:%M:%S UTC");
            match at_risk(log, now) {
                true => format!("the source may purge the log this replica needs from {when} (in {hours:.1} h): resume replication before then"),
                false => format!("the source keeps the log this replica needs until at least {when} (in {hours:.1} h)"),
            }
        }
    }
}

/// Looks at the source's log retention at most every [`CHECK_EVERY`]; publishes it in the
/// status and warns once when the replica's log becomes at risk.
#[derive(Default)]
pub(super) struct LogWatch {
    last: Option<Instant>,
    at_risk: bool,
}

impl LogWatch {
    pub async fn check(
        &mut self,
        (engine, source, capture): (&dyn Engine, &DbUrl, &Capture),
        cp: &Checkpoint,
        status: &watch::Sender<ReplicaStatus>,
        events: &dyn Events,
    ) {
        if self.last.is_some_and(|t| t.elapsed() < CHECK_EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        let log = match engine.log_retention(source, &cp.position, capture).await {
            Ok(log) => log,
            Err(e) => return events.warn(&format!("cannot tell how long the source keeps its log: {e}")),
        };
        let now = Utc::now();
        let risk = log.as_ref().is_some_and(|l| at_risk(l, now));
        if let (true, false, Some(l)) = (risk, self.at_risk, &log) {
            events.warn(&describe(l, now));
        }
        self.at_risk = risk;
        status.send_modify(|s| {
            s.log = log;
            s.log_at_risk = risk;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_goes_off_when_the_kept_log_nears_the_sources_limit() {
        let now = Utc::now();
        let log = |kept, limit| LogRetention { kept: true, retained_bytes: Some(kept), limit_bytes: limit, ..LogRetention::default() };
        assert!(!at_risk(&log(700, Some(1000)), now));
        assert!(at_risk(&log(800, Some(1000)), now));
        assert!(!at_risk(&log(u64::MAX / 2, None), now), "no limit: nothing is given up");
        assert!(describe(&log(900 << 20, Some(1000 << 20)), now).contains("near its limit"));
    }

    #[test]
    fn the_alarm_goes_off_in_the_last_quarter_of_the_retention_and_when_purged() {
        let now = Utc::now();
        let day = 86_400;
        let log = |kept, hours: Option<i64>| LogRetention {
            kept,
            purge_after: hours.map(|h| now + chrono::Duration::hours(h)),
            retention_seconds: Some(day),
            ..LogRetention::default()
        };
        assert!(!at_risk(&log(true, None), now));
        assert!(!at_risk(&log(true, Some(7)), now), "7 h of 24 left");
        assert!(at_risk(&log(true, Some(5)), now), "5 h of 24 left");
        assert!(at_risk(&log(true, Some(-1)), now), "past the purge time");
        assert!(at_risk(&log(false, None), now));
        let short =
            LogRetention { kept: true, purge_after: Some(now + chrono::Duration::minutes(9)), retention_seconds: Some(1200), ..LogRetention::default() };
        assert!(at_risk(&short, now), "never less than 10 minutes' warning");
        assert!(describe(&log(false, None), now).contains("bootstrapped again"));
        assert!(describe(&log(true, Some(5)), now).contains("resume replication before then"));
    }
}
