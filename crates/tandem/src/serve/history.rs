//! What the daemon shows over time: the recent runs of each job (persisted with the job's
//! history, so a restarted daemon or the other region's draws the same), the staleness of a
//! refreshed standby derived from its refreshes, and replication lag sampled in memory.
//!
//! Staleness needs no sampling: between two refreshes it grows by a second per second, and a
//! successful refresh sets it to the age of the snapshot it restored. So the curve over the
//! window is exact from the refreshes alone (and the last one before the window).

use std::collections::VecDeque;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::state::{Run, RunState};

/// How far back the page looks.
pub const WINDOW: Duration = Duration::hours(24);

/// Runs kept per job: one a minute for the window. A job scheduled more often than that shows
/// the most recent ones only.
const MAX_RUNS: usize = 1440;

/// A finished run, as drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPoint {
    pub finished: DateTime<Utc>,
    pub duration_s: f64,
    pub ok: bool,
    /// Backup: stored size of the backup; refresh: bytes of row data restored.
    pub bytes: u64,
    /// Backup: stored bytes of chunks the repository did not hold before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub new_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// When the snapshot of that backup started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RunPoint {
    /// The point of a finished run (`None` while it runs).
    pub fn of(run: &Run) -> Option<RunPoint> {
        let finished = run.finished.filter(|_| run.state != RunState::Running)?;
        let ok = run.state == RunState::Succeeded;
        Some(RunPoint {
            finished,
            duration_s: run.duration_s.unwrap_or_default(),
            ok,
            bytes: run.stored_bytes.unwrap_or(run.bytes),
            new_bytes: if run.stored_bytes.is_some() { run.bytes } else { 0 },
            backup: run.backup.clone().filter(|_| ok),
            snapshot_at: run.snapshot_at.filter(|_| ok),
        })
    }
}

/// The recent runs of a job, oldest first: those that finished within the window of the newest,
/// and the newest success before it (the staleness at the window's start depends on it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Recent(VecDeque<RunPoint>);

impl Recent {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &RunPoint> {
        self.0.iter()
    }

    /// Adds a finished run (in finishing order) and forgets what falls out of the window.
    pub fn push(&mut self, point: RunPoint) {
        let start = point.finished - WINDOW;
        self.0.push_back(point);
        // The newest success before the window stays; everything older goes.
        let before = self.0.iter().take_while(|p| p.finished < start).count();
        let keep_from = self.0.range(..before).rposition(|p| p.ok).unwrap_or(before);
        self.0.drain(..keep_from);
        let excess = self.0.len().saturating_sub(MAX_RUNS);
        self.0.drain(..excess);
    }
}

/// Staleness of a refreshed standby over `[now - WINDOW, now]` as the vertices of its sawtooth,
/// oldest first: from the first moment a refresh is known to have held a snapshot.
pub fn staleness(refreshes: &Recent, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, f64)> {
    let start = now - WINDOW;
    let age = |at: DateTime<Utc>, snapshot: DateTime<Utc>| (at - snapshot).num_milliseconds().max(0) as f64 / 1000.0;
    let mut held: Option<DateTime<Utc>> = None;
    let mut out = Vec::new();
    for p in refreshes.iter().filter(|p| p.ok && p.finished <= now) {
        let Some(snapshot) = p.snapshot_at else { continue };
        if p.finished <= start {
            held = Some(snapshot);
            continue;
        }
        if let Some(h) = held {
            if out.is_empty() {
                out.push((start, age(start, h)));
            }
            out.push((p.finished, age(p.finished, h)));
        }
        out.push((p.finished, age(p.finished, snapshot)));
        held = Some(snapshot);
    }
    if let Some(h) = held {
        if out.is_empty() {
            out.push((start, age(start, h)));
        }
        out.push((now, age(now, h)));
    }
    out
}

/// Replication lag sampled as the replica reports it: the highest value of each minute of the
/// window (memory only: a restarted daemon starts a new curve).
#[derive(Debug, Clone, Default)]
pub struct LagSamples(VecDeque<(DateTime<Utc>, f64)>);

impl LagSamples {
    pub fn observe(&mut self, now: DateTime<Utc>, lag_s: f64) {
        let minute = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
        match self.0.back_mut() {
            Some((t, v)) if *t == minute => *v = v.max(lag_s),
            _ => self.0.push_back((minute, lag_s)),
        }
        while self.0.front().is_some_and(|(t, _)| *t < now - WINDOW) {
            self.0.pop_front();
        }
    }

    pub fn points(&self) -> Vec<(DateTime<Utc>, f64)> {
        self.0.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: f64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::milliseconds((h * 3_600_000.0) as i64)
    }

    fn refresh(finished: f64, snapshot: f64, ok: bool) -> RunPoint {
        RunPoint { finished: at(finished), duration_s: 1.0, ok, bytes: 10, new_bytes: 0, backup: ok.then(|| "b".into()), snapshot_at: ok.then(|| at(snapshot)) }
    }

    fn hours(series: &[(DateTime<Utc>, f64)]) -> Vec<(f64, f64)> {
        series.iter().map(|(t, v)| (((*t - at(0.0)).num_seconds() as f64 / 3600.0), v / 3600.0)).collect()
    }

    #[test]
    fn staleness_is_a_sawtooth_from_the_refreshes() {
        let mut r = Recent::default();
        // Held before the window (snapshot at -3 h), refreshed at 10 h (snapshot 9 h) and 20 h
        // (snapshot 19.5 h); a failed refresh at 15 h changes nothing.
        r.push(refresh(-2.0, -3.0, true));
        r.push(refresh(10.0, 9.0, true));
        r.push(refresh(15.0, 0.0, false));
        r.push(refresh(20.0, 19.5, true));
        let s = hours(&staleness(&r, at(24.0)));
        assert_eq!(s, vec![(0.0, 3.0), (10.0, 13.0), (10.0, 1.0), (20.0, 11.0), (20.0, 0.5), (24.0, 4.5)]);
    }

    #[test]
    fn staleness_starts_at_the_first_refresh_and_is_empty_without_one() {
        let mut r = Recent::default();
        assert!(staleness(&r, at(24.0)).is_empty());
        r.push(refresh(5.0, 4.0, false));
        assert!(staleness(&r, at(24.0)).is_empty());
        r.push(refresh(6.0, 5.0, true));
        assert_eq!(hours(&staleness(&r, at(24.0))), vec![(6.0, 1.0), (24.0, 19.0)]);
    }

    #[test]
    fn recent_keeps_the_window_and_the_last_success_before_it() {
        let mut r = Recent::default();
        r.push(refresh(0.0, 0.0, true));
        r.push(refresh(1.0, 1.0, true));
        r.push(refresh(2.0, 0.0, false));
        r.push(refresh(30.0, 29.0, true));
        // Window of the newest: [6 h, 30 h]; the success at 1 h stays, the failure after it too.
        let kept: Vec<f64> = r.iter().map(|p| (p.finished - at(0.0)).num_minutes() as f64 / 60.0).collect();
        assert_eq!(kept, vec![1.0, 2.0, 30.0]);
        for i in 0..2 * MAX_RUNS {
            r.push(refresh(30.0 + i as f64 / 3600.0, 29.0, true));
        }
        assert_eq!(r.iter().count(), MAX_RUNS);
    }

    #[test]
    fn lag_keeps_the_highest_sample_of_each_minute_for_the_window() {
        let mut l = LagSamples::default();
        l.observe(at(0.0), 1.0);
        l.observe(at(0.0) + Duration::seconds(30), 3.0);
        l.observe(at(0.0) + Duration::seconds(50), 2.0);
        l.observe(at(1.0), 0.5);
        assert_eq!(l.points().iter().map(|p| p.1).collect::<Vec<_>>(), vec![3.0, 0.5]);
        l.observe(at(25.5), 7.0);
        assert_eq!(l.points().iter().map(|p| p.1).collect::<Vec<_>>(), vec![7.0]);
    }
}
