//! A switchover drill: the platform moves to a replica and back, both moves fenced and timed,
//! with no copy either way.
//!
//! 1. **There**: a switchover from the active site to the replica that makes the active site
//!    the replica's replica ([`Reverse`]).
//! 2. **Stay**: the replica is the active site for a while (clients may write there); this
//!    process streams its changes into the old active site. Then a verify compares the two at
//!    one position of the replica's log; the way back is only tried when they hold the same.
//! 3. **Back**: a switchover the other way, which stops that stream once it holds the final
//!    position and makes the replica a replica again, at the old active site's position before
//!    its promote. The replica's own replication then goes on from there.
//!
//! RPO is 0 when both moves reach their final positions; the report's RTO is the longer of the
//! two outages (each move's own is in its steps).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tandem_engine::changes::Capture;
use tandem_error::{Error, Result};
use tandem_repo::Repository;
use tandem_system::{Interrupted, LocationMap, SiteKeys};
use tokio::sync::watch;

use super::{DrillKind, DrillReport, Step};
use crate::switchover::{switchover, SwitchoverReport, SwitchoverRequest, SwitchoverSite};
use crate::{replicate, Events, Hold, Registry, ReplicaStatus, ReplicateRequest, Reverse, Seed, VerifyRequest, VerifySource};

/// How long the way back waits for the stream into the old active site to start.
const STREAM_START: Duration = Duration::from_secs(60);

/// Everything a switchover drill needs.
pub struct SwitchoverDrill<'a> {
    pub registry: &'a Registry,
    pub repo: Repository,
    /// The platform's active site, the replica's source.
    pub active: SwitchoverSite<'a>,
    /// The site drilled: a replica of `active`.
    pub replica: SwitchoverSite<'a>,
    /// The replica's own replication (its names on `active`).
    pub capture: Capture,
    /// `active` as `replica`'s replica while `replica` is active (its backup's table definitions
    /// also tell verify the system).
    pub back: Reverse,
    /// Locations and keys from `replica` into `active`, and the owner of what it writes.
    pub back_locations: LocationMap,
    pub back_keys: SiteKeys,
    pub back_owner: Option<String>,
    /// How long `replica` stays active.
    pub stay: Duration,
    /// The most a replica may trail before either move.
    pub max_lag: Duration,
    pub interrupted: Interrupted,
}

/// Runs a switchover drill (see the module doc). A failed move is in the report (`ok` false,
/// `error` saying where the platform stands); `Err` only when the drill could not start (the
/// site is no replica).
pub async fn switchover_drill(req: SwitchoverDrill<'_>, events: Arc<dyn Events>) -> Result<DrillReport> {
    let (active, replica) = (&req.active, &req.replica);
    let checkpoint = crate::replica_checkpoint(replica.engine, &replica.url).await?.ok_or_else(|| {
        Error::bad_input(format!("{} is no replica (it has no replication checkpoint): a switchover drill moves to a replica and back", replica.name))
    })?;
    let mut report = DrillReport::new(replica.name.clone(), DrillKind::Switchover, String::new());

    let there = timed(switchover(req.move_to(active, replica, req.back.clone(), None), events.clone())).await;
    let outage_there = match record(&mut report, "there", there) {
        Ok(ms) => ms,
        Err(why) => return Ok(finish(report, format!("the way there: {why}"))),
    };

    let (stop, stopped) = watch::channel(false);
    let (status, watched) = watch::channel(ReplicaStatus::default());
    let stream = ReplicateRequest {
        registry: req.registry,
        site: replica.name.clone(),
        source: replica.url.clone(),
        target: active.url.clone(),
        repo: req.repo.clone(),
        locations: req.back_locations.clone(),
        keys: req.back_keys.clone(),
        rebootstrap: false,
        seed: Seed::Backup(None),
        scope: req.back.scope.clone(),
        capture: req.back.capture.clone(),
        owner: req.back_owner.clone(),
        stop: stopped,
    };
    let back = async {
        let stay_started = Utc::now();
        let streaming = async {
            tokio::time::sleep(req.stay).await;
            streaming(watched).await
        };
        let stayed = streaming.await;
        let detail = match &stayed {
            Ok(lag) => format!("{} active for {} s; {} streamed its changes ({lag:.1} s behind)", replica.name, req.stay.as_secs(), active.name),
            Err(e) => e.to_string(),
        };
        let mut steps =
            vec![Step { name: "stay".into(), started: stay_started, took_s: super::seconds(Utc::now() - stay_started), ok: stayed.is_ok(), detail }];
        let checked = match stayed {
            Ok(_) => {
                let (step, equal) = verify_step(&req, events.clone()).await;
                steps.push(step);
                equal
            }
            Err(e) => Err(e),
        };
        let moved = match checked {
            Ok(_) => {
                let reverse = Reverse { capture: req.capture.clone(), backup: checkpoint.backup.clone(), scope: checkpoint.scope.clone() };
                timed(switchover(req.move_to(replica, active, reverse, Some(&stop)), events.clone())).await
            }
            Err(e) => Err(e),
        };
        let _ = stop.send(true);
        (steps, moved)
    };
    let (streamed, (steps, moved)) = tokio::join!(replicate(stream, events.clone(), status), back);
    report.steps.extend(steps);
    let outage_back = match record(&mut report, "back", moved) {
        Ok(ms) => ms,
        Err(why) => {
            let why = match streamed {
                Err(e) => format!("{why} (the stream into {} ended: {e})", active.name),
                Ok(_) => why,
            };
            return Ok(finish(report, format!("the way back: {why}; {} stays active", replica.name)));
        }
    };
    report.rpo_s = Some(0.0);
    report.rto_s = Some(outage_there.max(outage_back) as f64 / 1000.0);
    Ok(finish(report, String::new()))
}

impl<'a> SwitchoverDrill<'a> {
    /// The move from `from` to `to` that makes `from` `to`'s replica; `feeding` as in
    /// [`SwitchoverRequest`].
    fn move_to<'b>(
        &'b self,
        from: &SwitchoverSite<'b>,
        to: &SwitchoverSite<'b>,
        reverse: Reverse,
        feeding: Option<&'b watch::Sender<bool>>,
    ) -> SwitchoverRequest<'b>
    where
        'a: 'b,
    {
        SwitchoverRequest {
            registry: self.registry,
            repo: self.repo.clone(),
            from: from.clone(),
            to: to.clone(),
            max_lag: self.max_lag,
            interrupted: self.interrupted,
            dry_run: false,
            copy: None,
            reverse: Some(reverse),
            feeding,
        }
    }
}

/// Compares the old active site, the replica now, with the active replica site, both read at one
/// position of the replica site's log (the stream into the old site held there); the step, and
/// `Ok` only when they hold the same: the way back never moves onto a copy known to differ.
async fn verify_step(req: &SwitchoverDrill<'_>, events: Arc<dyn Events>) -> (Step, Result<()>) {
    let started = Utc::now();
    let (active, replica) = (&req.active, &req.replica);
    let system = match req.back.backup.parse() {
        Ok(id) => req.repo.read_manifest(&id).await.map(|m| m.system.name).unwrap_or_default(),
        Err(_) => String::new(),
    };
    // A plain database has no objects verify knows how to compare: nothing to hold the way back for.
    if req.registry.system_named(&system).is_none_or(|s| s.verify_views().is_empty()) {
        let what = if system.is_empty() { "of no known system" } else { system.as_str() };
        let detail = format!("skipped: {} is {what}; verify compares the systems that describe their objects", replica.name);
        return (Step { name: "verify".into(), started, took_s: 0.0, ok: true, detail }, Ok(()));
    }
    let hold = Hold::new(active.engine, active.url.clone(), replica.engine, "held for a switchover drill's verify");
    let verified = crate::verify(
        VerifyRequest {
            source: VerifySource::Db { engine: replica.engine, url: replica.url.clone() },
            engine: active.engine,
            registry: req.registry,
            target: active.url.clone(),
            locations: req.back_locations.clone(),
            max_differences: 10,
            keys: req.back_keys.clone(),
            align: Some(&hold),
        },
        events,
    )
    .await;
    let (ok, detail, outcome) = match verified {
        Ok(r) if r.equal => {
            let at = r.held_at.as_deref().unwrap_or("-");
            let good: u64 = r.kinds.iter().map(|k| k.good).sum();
            (true, format!("{} holds what {} holds at {at}: {good} objects GOOD", active.name, replica.name), Ok(()))
        }
        Ok(r) => {
            let first: Vec<String> = r.differences.iter().take(3).map(|d| format!("{}: {}", d.object, d.detail)).collect();
            let why = format!("{} differs from {} in {} object(s) ({})", active.name, replica.name, r.differences_total, first.join("; "));
            (false, why.clone(), Err(Error::conflict(format!("{why}: the way back was not tried"))))
        }
        Err(e) => (false, e.to_string(), Err(e.context("verify: the way back was not tried"))),
    };
    (Step { name: "verify".into(), started, took_s: super::seconds(Utc::now() - started), ok, detail }, outcome)
}

/// A switchover, with the wall-clock time it started.
async fn timed(moving: impl std::future::Future<Output = Result<SwitchoverReport>>) -> Result<(chrono::DateTime<Utc>, SwitchoverReport)> {
    let started = Utc::now();
    moving.await.map(|r| (started, r))
}

/// Adds a move's steps to the report (named `way: step`); its outage in milliseconds, or why it
/// failed.
fn record(report: &mut DrillReport, way: &str, moved: Result<(chrono::DateTime<Utc>, SwitchoverReport)>) -> std::result::Result<u64, String> {
    let (started, r) = moved.map_err(|e| e.to_string())?;
    for s in &r.steps {
        let at = started + chrono::Duration::milliseconds(s.at_ms as i64);
        report.steps.push(Step { name: format!("{way}: {}", s.step), started: at, took_s: s.took_ms as f64 / 1000.0, ok: true, detail: s.detail.clone() });
    }
    let rto = r.rto_ms.unwrap_or(0);
    let reached = r.final_position.as_deref().unwrap_or("-");
    let detail = format!("{} active at epoch {}: RPO 0 ({reached} reached), RTO {:.3} s", r.to, r.epoch, rto as f64 / 1000.0);
    report.steps.push(Step { name: format!("{way}: done"), started: Utc::now(), took_s: 0.0, ok: true, detail });
    Ok(rto)
}

/// Waits until the stream into the old active site runs; its lag then.
async fn streaming(mut status: watch::Receiver<ReplicaStatus>) -> Result<f64> {
    let deadline = tokio::time::Instant::now() + STREAM_START;
    loop {
        {
            let s = status.borrow_and_update();
            match s.state.as_str() {
                "streaming" => return Ok(s.lag_seconds),
                "stopped" => return Err(Error::conflict("the stream into the old active site stopped")),
                _ => {}
            }
        }
        match tokio::time::timeout_at(deadline, status.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Error::conflict("the stream into the old active site ended")),
            Err(_) => return Err(Error::unreachable(format!("the stream into the old active site did not start within {} s", STREAM_START.as_secs()))),
        }
    }
}

fn finish(mut report: DrillReport, error: String) -> DrillReport {
    report.ok = error.is_empty();
    report.error = (!error.is_empty()).then_some(error);
    report.finished = Utc::now();
    report
}
