//! An unplanned failover: the active site is gone (or must be left). The standby claims the
//! platform's next epoch first (a conditional create in the repository: of two operators or
//! daemons failing over at once, exactly one goes on), the old site is fenced when it can be
//! reached, and the standby is promoted. The RPO it got is the standby's lag at the promote (the
//! age of the newest heartbeat or source commit it holds); the RTO is the failover's own time.
//!
//! A standby further behind than allowed is refused unless forced; one kept by refresh (no
//! replica checkpoint) has no measured lag and needs force too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use tandem_engine::role::Role;
use tandem_error::{Error, Result};
use tandem_repo::Repository;
use tandem_system::{Interrupted, PromoteOptions};

use crate::site::{fence_for_move, fence_system};
use crate::switchover::{Step, SwitchoverSite, Timeline};
use crate::{promote, role, Events, Registry};

/// How long the failover tries to reach the old site to fence it.
const FENCE_TIMEOUT: Duration = Duration::from_secs(15);

pub struct FailoverRequest<'a> {
    pub registry: &'a Registry,
    pub repo: Repository,
    /// The site that was active (fenced when reachable).
    pub from: SwitchoverSite<'a>,
    /// The standby that becomes active.
    pub to: SwitchoverSite<'a>,
    /// The most data (in seconds of the source's history) the failover may lose.
    pub max_lag: Duration,
    /// Fail over whatever the standby's lag (or when it is unknown).
    pub force: bool,
    pub interrupted: Interrupted,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailoverReport {
    pub from: String,
    pub to: String,
    pub epoch: u64,
    /// Whether the old site could be fenced (else: fence it on sight, `tandem status` names it).
    pub fenced: bool,
    /// The standby's lag at the promote, in seconds: what of the old site's history it lacks at
    /// most; `None` for a standby without a replica checkpoint.
    pub rpo_seconds: Option<f64>,
    pub rto_ms: u64,
    pub steps: Vec<Step>,
}

/// Moves the platform from `from` to `to` without `from`'s help (see the module doc).
pub async fn failover(req: FailoverRequest<'_>, events: Arc<dyn Events>) -> Result<FailoverReport> {
    let (from, to) = (&req.from, &req.to);
    let mut t = Timeline { what: "failover", start: Instant::now(), steps: Vec::new() };
    let seen = t.step("check", events.as_ref(), check(&req)).await?;
    let epoch = t
        .step("claim the next epoch", events.as_ref(), async {
            let r = req.repo.claim_epoch(seen, &to.name, &format!("failover from {}", from.name)).await?;
            Ok((r.epoch, format!("epoch {}: {} active", r.epoch, r.active)))
        })
        .await?;
    // The old site is likely gone: one quick try to connect, not the URL's usual retries.
    let old_url = quick(&from.url);
    let fenced = t
        .step(&format!("fence {}", from.name), events.as_ref(), async {
            let url = &old_url;
            let fencing = fence_for_move(req.registry, from.engine, url, epoch, events.clone());
            Ok(match tokio::time::timeout(FENCE_TIMEOUT, fencing).await {
                Ok(Ok(r)) => (true, r.change.notes.join("; ")),
                Ok(Err(e)) => (false, format!("not fenced ({e}): fence it before it takes writes again")),
                Err(_) => (false, format!("not reached within {} s: fence it before it takes writes again", FENCE_TIMEOUT.as_secs())),
            })
        })
        .await?;
    let rpo = t
        .step(&format!("promote {}", to.name), events.as_ref(), async {
            let opts = PromoteOptions { interrupted: req.interrupted, force: false };
            let r = promote(req.registry, to.engine, &to.url, opts, Some(epoch), events.clone()).await?;
            let lag = crate::replica_checkpoint(to.engine, &to.url).await.ok().flatten().map(|c| c.behind(Utc::now()));
            Ok((lag, r.change.notes.join("; ")))
        })
        .await?;
    if fenced {
        // The old site's system stops now that nothing streams from it (see `fence_for_move`).
        let stopping = tokio::time::timeout(FENCE_TIMEOUT, fence_system(req.registry, from.engine, &old_url));
        t.step(&format!("stop {}'s system", from.name), events.as_ref(), async {
            Ok((
                (),
                match stopping.await {
                    Ok(Ok(done)) => done,
                    Ok(Err(e)) => format!("not stopped ({e}): fence it again"),
                    Err(_) => format!("not reached within {} s: fence it again", FENCE_TIMEOUT.as_secs()),
                },
            ))
        })
        .await?;
    }
    Ok(FailoverReport {
        from: from.name.clone(),
        to: to.name.clone(),
        epoch,
        fenced,
        rpo_seconds: rpo,
        rto_ms: t.start.elapsed().as_millis() as u64,
        steps: t.steps,
    })
}

/// The epoch the failover acts on; errors when `to` is active already, or trails by more than
/// allowed (or by an unknown amount) without force.
async fn check(req: &FailoverRequest<'_>) -> Result<(u64, String)> {
    let (from, to) = (&req.from, &req.to);
    let seen = req.repo.current_roles().await?;
    if let Some(c) = seen.as_ref().filter(|c| c.active != to.name && c.active != from.name) {
        return Err(Error::conflict(format!("the platform's active site is {} (epoch {}), not {}; nothing was changed", c.active, c.epoch, from.name)));
    }
    if let Some(c) = seen.as_ref().filter(|c| c.active == to.name) {
        return Err(Error::conflict(format!("{} is the platform's active site already (epoch {}); nothing was changed", to.name, c.epoch)));
    }
    if let Some(r) = role::read(to.engine, &to.url).await?.filter(|r| r.role == Role::Active) {
        return Err(Error::conflict(format!("{} is active already ({}); nothing was changed", to.name, r.describe())));
    }
    let lag = crate::replica_checkpoint(to.engine, &to.url).await?.map(|c| c.behind(Utc::now()));
    let detail = match lag {
        Some(l) if l > req.max_lag.as_secs_f64() && !req.force => {
            return Err(Error::conflict(format!(
                "{} trails by {l:.1} s, more than the {} s allowed: failing over would lose that much; force it to accept the loss; nothing was changed",
                to.name,
                req.max_lag.as_secs()
            )))
        }
        None if !req.force => {
            return Err(Error::conflict(format!(
                "{} is no replica: how much a failover to it would lose is unknown (its last refresh); force it to accept that; nothing was changed",
                to.name
            )))
        }
        Some(l) => format!("{} is {l:.1} s behind", to.name),
        None => format!("{} is no replica (forced)", to.name),
    };
    let seen = seen.map_or(0, |c| c.epoch);
    Ok((seen, format!("platform at epoch {seen}; {detail}")))
}

/// `url` with at most one retry of connecting.
fn quick(url: &tandem_engine::DbUrl) -> tandem_engine::DbUrl {
    let mut url = url.clone();
    url.retry.max_retries = url.retry.max_retries.min(1);
    url
}
