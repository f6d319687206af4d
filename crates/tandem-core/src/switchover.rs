//! A planned switchover with no data lost: the active site is fenced (role, system, writes
//! stopped), its replica streams up to the source's final log position, and the replica is
//! promoted at the platform's next epoch. Each step is timed: the time from the fence to the
//! promote is the outage the platform saw (its RTO); nothing committed at the old site is
//! missing at the new one (RPO 0).
//!
//! With a [`Reverse`], the old site becomes the new one's replica without a copy: the new
//! site's log position is marked once it holds the final position and before its promote, and
//! the old site gets a checkpoint there and the standby role ([`crate::replicate::reverse`]).
//!
//! A standby kept by refresh (no replica checkpoint) is brought to the final state by a
//! [`FinalCopy`] instead: a backup of the fenced site, restored into the standby; the RTO then
//! includes that copy. When the replica does not reach the final position in time, or the copy
//! fails, the fence is undone (the old site is promoted back at its epoch) and the switchover
//! fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use tandem_engine::role::Role;
use tandem_engine::{DbUrl, Engine, SnapshotOptions};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::Repository;
use tandem_system::{Interrupted, PromoteOptions};

use crate::replicate::control::Hold;
use crate::replicate::reverse::{self, Reverse};
use crate::site::{fence_for_move, fence_system};
use crate::verify::Align;
use crate::{promote, role, Events, Registry};

/// How a front end copies the fenced site's final state into a standby kept by refresh (a
/// backup of `from` restored into `to` with `to`'s settings); what it did, in words.
pub type FinalCopy<'a> = Box<dyn FnOnce() -> futures::future::LocalBoxFuture<'a, Result<String>> + 'a>;

/// Why the replica is held during a switchover (`replicate status` shows it).
const HELD: &str = "held at its source's final position for a switchover";

/// One site of a switchover.
#[derive(Clone)]
pub struct SwitchoverSite<'a> {
    pub name: String,
    pub engine: &'a dyn Engine,
    pub url: DbUrl,
}

pub struct SwitchoverRequest<'a> {
    pub registry: &'a Registry,
    pub repo: Repository,
    /// The active site, `to`'s source.
    pub from: SwitchoverSite<'a>,
    /// The replica that becomes active.
    pub to: SwitchoverSite<'a>,
    /// The most `to` may trail `from` before anything is changed.
    pub max_lag: Duration,
    /// How `to`'s interrupted work is treated at promote.
    pub interrupted: Interrupted,
    /// Check only.
    pub dry_run: bool,
    /// For a standby that is no replica: how to copy the final state into it (`None`: such a
    /// standby is refused).
    pub copy: Option<FinalCopy<'a>>,
    /// Make `from` a replica of `to` without a copy (a replica `to` only).
    pub reverse: Option<Reverse>,
    /// The stop of a replication into `to` that the caller runs: told to stop once `to` holds
    /// the final position (its promote would end it with an error).
    pub feeding: Option<&'a tokio::sync::watch::Sender<bool>>,
}

/// One timed step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: String,
    /// Milliseconds since the switchover started, at the step's start.
    pub at_ms: u64,
    pub took_ms: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SwitchoverReport {
    pub from: String,
    pub to: String,
    /// The epoch `to` is active in (the one it would get, on a dry run).
    pub epoch: u64,
    pub dry_run: bool,
    /// `to`'s lag when the switchover began, in seconds; `None` for a standby kept by refresh.
    pub lag_seconds: Option<f64>,
    /// The source's log position after the fence, which `to` reached before its promote.
    pub final_position: Option<String>,
    /// From the fence of `from` to the end of `to`'s promote: no site took writes meanwhile.
    pub rto_ms: Option<u64>,
    /// `to`'s log position that `from` streams from, when it became `to`'s replica.
    pub reversed_at: Option<String>,
    pub steps: Vec<Step>,
}

pub(crate) struct Timeline {
    /// The move (`switchover`), for messages.
    pub what: &'static str,
    pub start: Instant,
    pub steps: Vec<Step>,
}

impl Timeline {
    /// Runs one step, timed; its detail is what `work` says.
    pub(crate) async fn step<T>(&mut self, name: &str, events: &dyn Events, work: impl std::future::Future<Output = Result<(T, String)>>) -> Result<T> {
        events.info(&format!("{}: {name}", self.what));
        let at = self.start.elapsed();
        let (value, detail) = work.await.with_context(|| format!("{} step {name:?}", self.what))?;
        self.steps.push(Step { step: name.into(), at_ms: at.as_millis() as u64, took_ms: (self.start.elapsed() - at).as_millis() as u64, detail });
        Ok(value)
    }
}

/// Moves the platform from `from` to `to` (see the module doc).
pub async fn switchover(mut req: SwitchoverRequest<'_>, events: Arc<dyn Events>) -> Result<SwitchoverReport> {
    let copy = req.copy.take();
    let (from, to) = (&req.from, &req.to);
    let mut t = Timeline { what: "switchover", start: Instant::now(), steps: Vec::new() };
    let (epoch, lag) = t.step("check", events.as_ref(), check(&req, copy.is_some())).await?;
    let mut report = SwitchoverReport {
        from: from.name.clone(),
        to: to.name.clone(),
        epoch: epoch + 1,
        dry_run: req.dry_run,
        lag_seconds: lag,
        final_position: None,
        rto_ms: None,
        reversed_at: None,
        steps: Vec::new(),
    };
    if req.dry_run {
        report.steps = t.steps;
        return Ok(report);
    }
    let fenced_at = Instant::now();
    let fence_work = async {
        let r = fence_for_move(req.registry, from.engine, &from.url, epoch, events.clone()).await?;
        Ok(((), r.change.notes.join("; ")))
    };
    t.step(&format!("fence {}", from.name), events.as_ref(), fence_work).await?;
    let caught_up = match (lag, copy) {
        (None, Some(copy)) => t.step(&format!("copy {}'s final state into {}", from.name, to.name), events.as_ref(), async { Ok((None, copy().await?)) }).await,
        _ => {
            let caught_up = async {
                let position = final_position(from).await?;
                let hold = Hold::new(to.engine, to.url.clone(), from.engine, HELD);
                hold.hold_at(&position).await?;
                Ok::<_, Error>(position)
            };
            let name = format!("wait for {} to reach the final position", to.name);
            t.step(&name, events.as_ref(), async { caught_up.await.map(|p| (Some(p.value.clone()), p.value)) }).await
        }
    };
    report.final_position = match caught_up {
        Ok(p) => p,
        Err(e) => return Err(undo(&req, epoch, e, events).await),
    };
    if let Some(feeding) = &req.feeding {
        let _ = feeding.send(true);
    }
    let mark = match &req.reverse {
        None => None,
        Some(r) => {
            let marking = async { reverse::mark(to.engine, &to.url, &r.capture, &r.scope).await.map(|p| (p.clone(), p.value)) };
            match t.step(&format!("mark where {} will stream from", from.name), events.as_ref(), marking).await {
                Ok(p) => Some(p),
                Err(e) => return Err(undo(&req, epoch, e, events).await),
            }
        }
    };
    let next = t
        .step("claim the next epoch", events.as_ref(), async {
            let r = req.repo.claim_epoch(epoch, &to.name, &format!("switchover from {}", from.name)).await?;
            Ok((r.epoch, format!("epoch {}: {} active", r.epoch, r.active)))
        })
        .await?;
    let promote_work = async {
        let opts = PromoteOptions { interrupted: req.interrupted, force: false };
        let r = promote(req.registry, to.engine, &to.url, opts, Some(next), events.clone()).await?;
        let _ = Hold::new(to.engine, to.url.clone(), from.engine, HELD).release().await;
        Ok(((), r.change.notes.join("; ")))
    };
    t.step(&format!("promote {}", to.name), events.as_ref(), promote_work).await?;
    report.rto_ms = Some(fenced_at.elapsed().as_millis() as u64);
    // The old site's system stops now that nothing streams from it (see `fence_for_move`).
    t.step(&format!("stop {}'s system", from.name), events.as_ref(), async { Ok(((), fence_system(req.registry, from.engine, &from.url).await?)) }).await?;
    report.epoch = next;
    if let (Some(r), Some(position)) = (&req.reverse, mark) {
        let start = async {
            let cp = reverse::start(req.registry, &req.repo, (to.engine, &to.url), (from.engine, &from.url), r, position, next).await?;
            Ok((cp.position.value.clone(), format!("{} is a standby streaming from {}'s position {}", from.name, to.name, cp.position.value)))
        };
        let reversed = t.step(&format!("make {} a replica of {}", from.name, to.name), events.as_ref(), start).await.map_err(|e| {
            e.context(format!(
                "the switchover to {} at epoch {next} is done, but {} stays fenced and is no replica: rejoin it as a standby",
                to.name, from.name
            ))
        })?;
        report.reversed_at = Some(reversed);
    }
    report.steps = t.steps;
    Ok(report)
}

/// The platform's epoch and `to`'s lag (`None`: no replica, and `copyable`); errors when the
/// move is not safe to start: `from` is not the platform's active site, `to` is active, no
/// replica and not `copyable`, stopped, or further behind than allowed.
async fn check(req: &SwitchoverRequest<'_>, copyable: bool) -> Result<((u64, Option<f64>), String)> {
    let (from, to) = (&req.from, &req.to);
    let current = req.repo.current_roles().await?;
    if let Some(c) = current.as_ref().filter(|c| c.active != from.name) {
        return Err(Error::conflict(format!("the platform's active site is {} (epoch {}), not {}; nothing was changed", c.active, c.epoch, from.name)));
    }
    let epoch = current.map_or(0, |c| c.epoch);
    let held = role::read(to.engine, &to.url).await?;
    if let Some(r) = held.as_ref().filter(|r| r.role == Role::Active) {
        return Err(Error::conflict(format!("{} is active already ({}); nothing was changed", to.name, r.describe())));
    }
    let standby = held.is_some_and(|r| r.role == Role::Standby);
    let checkpoint = match crate::replica_checkpoint(to.engine, &to.url).await? {
        Some(c) => c,
        None if copyable && standby => {
            let detail = format!("platform at epoch {epoch}; {} is no replica: the final state is copied after the fence (backup, restore)", to.name);
            return Ok(((epoch, None), detail));
        }
        None => {
            return Err(Error::bad_input(format!(
                "{} is neither a replica (it has no replication checkpoint) nor a standby kept by refresh (its role is not standby): \
                 make it one with `replicate` or `refresh` first",
                to.name
            )))
        }
    };
    if let Some(why) = &checkpoint.stopped {
        return Err(Error::conflict(format!("replication into {} stopped ({why}); nothing was changed", to.name)));
    }
    let lag = checkpoint.behind(Utc::now());
    if lag > req.max_lag.as_secs_f64() {
        return Err(Error::conflict(format!(
            "{} trails {} by {lag:.1} s, more than the {} s allowed: is its replication running? nothing was changed",
            to.name,
            from.name,
            req.max_lag.as_secs()
        )));
    }
    let detail = format!("platform at epoch {epoch}; {} is a replica {lag:.1} s behind", to.name);
    Ok(((epoch, Some(lag)), detail))
}

/// The source's log position once its writes stopped.
async fn final_position(from: &SwitchoverSite<'_>) -> Result<tandem_engine::Position> {
    let snapshot = from.engine.snapshot(&from.url, &SnapshotOptions::parallel(1)).await?;
    let position = snapshot.info().position.clone();
    let _ = snapshot.close().await;
    Ok(position)
}

/// Gives `from` back its active role and its writes after a failed wait; the error to report.
async fn undo(req: &SwitchoverRequest<'_>, epoch: u64, e: Error, events: Arc<dyn Events>) -> Error {
    let from = &req.from;
    let _ = Hold::new(req.to.engine, req.to.url.clone(), from.engine, HELD).release().await;
    let opts = PromoteOptions { interrupted: Interrupted::Leave, force: true };
    match promote(req.registry, from.engine, &from.url, opts, Some(epoch), events).await {
        Ok(_) => e.context(format!("the switchover was undone: {} is active again", from.name)),
        Err(u) => e.context(format!("undoing the switchover failed too ({u}): {} stays fenced; promote it or retry", from.name)),
    }
}
