//! Drill: prove that a site can be rebuilt from the repository, and measure how fast.
//!
//! A scratch drill restores the backup the site would get (the newest of its source, with the
//! site's location map, keys, scope and owner: exactly what a refresh would restore) into a
//! scratch database, checks that the system recognises the copy, drops the scratch database,
//! and reports a timeline with two measures:
//! - **RPO**: the age of the restored snapshot when the drill started (what a loss of the source
//!   at that moment would have cost with this repository);
//! - **RTO**: the time from the start to a usable copy (restore and check).
//!
//! A switchover drill moves the platform to the site and back ([`switchover`]).
//!
//! The scratch database must be missing or empty: a drill never overwrites data. Reports are
//! kept in the repository (`daemon/drills/<site>.json`, the newest [`KEPT`]), so the status
//! page and `tandem drills` of either region show them.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tandem_error::{Error, Result};
use tandem_repo::Repository;

use crate::{refresh, Events, RefreshRequest};

mod switchover;
pub use switchover::{switchover_drill, SwitchoverDrill};

/// Drill reports kept per site.
pub const KEPT: usize = 100;

/// One step of a drill's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub started: DateTime<Utc>,
    pub took_s: f64,
    pub ok: bool,
    pub detail: String,
}

/// What a drill exercises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillKind {
    /// A restore into a scratch database, checked and dropped.
    #[default]
    Scratch,
    /// A switchover to the site and back.
    Switchover,
}

/// What a drill did and measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    /// `<site>-<start time>`.
    pub id: String,
    pub site: String,
    #[serde(default)]
    pub kind: DrillKind,
    /// The scratch database (without password); empty for a switchover drill.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scratch: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// Every step succeeded: the copy was usable and the scratch database is gone (or kept).
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<DateTime<Utc>>,
    /// Seconds: the restored snapshot's age at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_s: Option<f64>,
    /// Seconds from the start to a usable copy (only when there was one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_s: Option<f64>,
    #[serde(default)]
    pub tables: usize,
    #[serde(default)]
    pub rows: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything a drill needs: the site, and the refresh it would run, aimed at the scratch
/// database (`refresh.target`).
pub struct DrillRequest<'a> {
    pub site: String,
    pub refresh: RefreshRequest<'a>,
    /// Leave the scratch database in place (to look at it); the next drill then refuses it.
    pub keep: bool,
}

/// Runs a scratch drill (see the module doc). A failed step is in the report (`ok` false,
/// `error`); `Err` only when the drill could not start: the scratch database is not empty
/// (Conflict) or unreachable.
pub async fn drill(req: DrillRequest<'_>, events: Arc<dyn Events>) -> Result<DrillReport> {
    let DrillRequest { site, refresh: refresh_req, keep } = req;
    let (engine, registry, scratch) = (refresh_req.engine, refresh_req.registry, refresh_req.target.clone());
    let state = engine.target(&scratch).await?.inspect().await?;
    if !state.relations.is_empty() {
        return Err(Error::conflict(format!(
            "scratch database {scratch} holds {} relation(s): a drill restores into a missing or empty database and drops it afterwards, \
             so it never overwrites data; drop it or name another scratch database",
            state.relations.len()
        )));
    }
    let clock = Instant::now();
    let mut report = DrillReport::new(site, DrillKind::Scratch, scratch.to_string());
    let started = report.started;
    let mut timeline = Timeline::default();

    let step = timeline.start("restore");
    let restored = refresh(refresh_req, events).await;
    match restored {
        Ok(r) => {
            report.rpo_s = Some(seconds(started - r.snapshot_at));
            report.backup = Some(r.backup.to_string());
            report.snapshot_at = Some(r.snapshot_at);
            let (tables, rows) = r.restore.as_ref().map(|x| (x.tables, x.rows)).unwrap_or_default();
            (report.tables, report.rows) = (tables, rows);
            timeline.end(step, true, format!("backup {} (snapshot {}): {tables} tables, {rows} rows", r.backup, r.snapshot_at.format("%Y-%m-%d %H:%M:%S UTC")));
        }
        Err(e) => {
            timeline.end(step, false, e.to_string());
            report.error = Some(format!("restore: {e}"));
        }
    }

    if report.error.is_none() {
        let step = timeline.start("check");
        let health = crate::health(registry, engine, &scratch, f64::INFINITY).await;
        report.system = health.system.clone();
        // A copy has no scheduler beating: the check is that the system recognises it and reads it.
        if health.reachable && health.system.is_some() {
            report.rto_s = Some(clock.elapsed().as_secs_f64());
            timeline.end(step, true, format!("{} recognises the copy and reads it", health.system.as_deref().unwrap_or_default()));
        } else {
            let why = health.health.checks.iter().map(|c| format!("{}: {}", c.name, c.detail)).collect::<Vec<_>>().join("; ");
            timeline.end(step, false, why.clone());
            report.error = Some(format!("check: the copy is not usable: {why}"));
        }
    }

    if keep {
        let step = timeline.start("keep");
        timeline.end(step, true, format!("scratch database {} kept; drop it before the next drill", scratch.database));
    } else {
        let step = timeline.start("drop");
        match engine.drop_database(&scratch).await {
            Ok(()) => timeline.end(step, true, format!("scratch database {} dropped", scratch.database)),
            Err(e) => {
                timeline.end(step, false, e.to_string());
                report.error.get_or_insert(format!("drop: {e}; drop {} by hand before the next drill", scratch.database));
            }
        }
    }
    report.ok = report.error.is_none();
    report.steps = timeline.steps;
    report.finished = Utc::now();
    Ok(report)
}

impl DrillReport {
    /// A drill of `site` starting now, nothing done yet.
    fn new(site: String, kind: DrillKind, scratch: String) -> DrillReport {
        let started = Utc::now();
        DrillReport {
            id: format!("{site}-{}", started.format("%Y%m%dT%H%M%SZ")),
            site,
            kind,
            scratch,
            started,
            finished: started,
            ok: false,
            backup: None,
            snapshot_at: None,
            rpo_s: None,
            rto_s: None,
            tables: 0,
            rows: 0,
            system: None,
            steps: Vec::new(),
            error: None,
        }
    }
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// Steps with their start and duration.
#[derive(Default)]
struct Timeline {
    steps: Vec<Step>,
}

impl Timeline {
    fn start(&mut self, name: &str) -> (String, DateTime<Utc>, Instant) {
        (name.to_string(), Utc::now(), Instant::now())
    }

    fn end(&mut self, (name, started, clock): (String, DateTime<Utc>, Instant), ok: bool, detail: String) {
        self.steps.push(Step { name, started, took_s: clock.elapsed().as_secs_f64(), ok, detail });
    }
}

fn object_name(site: &str) -> String {
    format!("drills/{site}.json")
}

/// The drill reports of `site`, oldest first (empty if none). Errors: Corrupt naming the object.
pub async fn history(repo: &Repository, site: &str) -> Result<Vec<DrillReport>> {
    repo.read_daemon_json(&object_name(site), "drill reports").await
}

/// Adds a report to its site's history (the newest [`KEPT`]).
pub async fn record(repo: &Repository, report: &DrillReport) -> Result<()> {
    let mut reports = history(repo, &report.site).await?;
    reports.push(report.clone());
    let excess = reports.len().saturating_sub(KEPT);
    reports.drain(..excess);
    repo.write_daemon_json(&object_name(&report.site), &reports, "drill reports").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(site: &str, n: usize) -> DrillReport {
        let started = DateTime::from_timestamp(1_800_000_000 + n as i64, 0).unwrap();
        DrillReport {
            id: format!("{site}-{n}"),
            site: site.into(),
            kind: DrillKind::Scratch,
            scratch: "mysql://h/x".into(),
            started,
            finished: started,
            ok: true,
            backup: None,
            snapshot_at: None,
            rpo_s: Some(1.0),
            rto_s: None,
            tables: 1,
            rows: 2,
            system: None,
            steps: vec![],
            error: None,
        }
    }

    #[tokio::test]
    async fn reports_are_kept_per_site_bounded_and_corruption_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::open_or_create(dir.path().to_str().unwrap()).await.unwrap();
        assert!(history(&repo, "dr").await.unwrap().is_empty());
        for n in 0..KEPT + 3 {
            record(&repo, &report("dr", n)).await.unwrap();
        }
        record(&repo, &report("other", 0)).await.unwrap();
        let kept = history(&repo, "dr").await.unwrap();
        assert_eq!(kept.len(), KEPT);
        assert_eq!((kept[0].id.as_str(), kept[KEPT - 1].id.as_str()), ("dr-3", format!("dr-{}", KEPT + 2).as_str()));
        assert_eq!(history(&repo, "other").await.unwrap().len(), 1);
        std::fs::write(dir.path().join("daemon/drills/dr.json"), "{").unwrap();
        let e = history(&repo, "dr").await.unwrap_err().to_string();
        assert!(e.contains("daemon/drills/dr.json") && e.contains("corrupt"), "{e}");
    }
}
