//! Flows on a live site: fence (make it passive), promote (make it active), health.
//!
//! Each opens one transaction on the site's database, recognises its system by its tables, lets
//! the system do its part, and commits; on any error it rolls back, so a site is never left half
//! fenced or half promoted (engines without transactional DDL commit the system's table changes
//! around their DDL; the systems order their statements for that).

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tandem_engine::role::{Role, SiteRole};
use tandem_engine::{DbUrl, Engine, Transaction};
use tandem_error::{Error, Result, ResultExt};
use tandem_system::{Check, Health, PromoteOptions, StateChange, System};

use crate::{role, Events, Registry, Unit};

/// Which move a [`SiteReport`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteAction {
    Fence,
    Promote,
}

/// What fence or promote did to a site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    pub site: String,
    pub system: String,
    pub action: SiteAction,
    #[serde(flatten)]
    pub change: StateChange,
}

/// A site's health.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub site: String,
    pub system: Option<String>,
    pub healthy: bool,
    pub reachable: bool,
    #[serde(flatten)]
    pub health: Health,
    pub probe_ms: u64,
}

/// The system of the database of `url`, by its tables (the fallback when none recognises them).
async fn system_of<'r>(registry: &'r Registry, engine: &dyn Engine, url: &DbUrl) -> Result<&'r dyn System> {
    let state = engine.target(url).await?.inspect().await?;
    Ok(registry.system_of(&state.relations))
}

async fn in_transaction<'r, T>(
    registry: &'r Registry,
    engine: &dyn Engine,
    url: &DbUrl,
    work: impl for<'t> Fn(&'t dyn Transaction, &'t dyn System) -> futures::future::BoxFuture<'t, Result<T>>,
) -> Result<(T, &'r dyn System)> {
    let system = system_of(registry, engine, url).await?;
    // A transient failure (a lost connection, a deadlock, a concurrent restore's swap) rolls the
    // transaction back: it is done again whole. One in the commit is not (its outcome is unknown).
    let once = || async {
        let tx = engine.transaction(url).await?;
        match work(tx.as_ref(), system).await {
            Ok(v) => {
                tx.commit().await.map_err(|e| match e.is_transient() {
                    true => {
                        e.permanent().context("the connection failed while committing: the change may or may not be made; check the site before running again")
                    }
                    false => e,
                })?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    };
    let v = url.retry.run_whole(&format!("transaction on {url}"), once).await?;
    Ok((v, system))
}

/// The epoch a fence or promote gives the site's role: one claimed in the repository, or `None`
/// to keep the epoch the site has (no repository to claim one in).
pub type Epoch = Option<u64>;

/// Makes the site passive: its role becomes `fenced` at `epoch` (see [`crate::role`]), and its
/// system remembers what was active for a later promote ([`System::fence`]; systems without a
/// standby mode have nothing of their own to do).
pub async fn fence(registry: &Registry, engine: &dyn Engine, url: &DbUrl, epoch: Epoch, stop_writes: bool, events: Arc<dyn Events>) -> Result<SiteReport> {
    fence_parts(registry, engine, url, (epoch, stop_writes, true), events).await
}

/// The first half of a move's fence of the site it leaves: role and writes, not the system's
/// part. That part ([`fence_system`]) comes after the new site's promote: a replica still
/// streaming from this site would otherwise take the fence's changes (Airflow's pauses) for the
/// site's own and promote to them.
pub(crate) async fn fence_for_move(registry: &Registry, engine: &dyn Engine, url: &DbUrl, epoch: u64, events: Arc<dyn Events>) -> Result<SiteReport> {
    fence_parts(registry, engine, url, (Some(epoch), true, false), events).await
}

/// The system's part of a fence ([`System::fence`]) on a site whose role is fenced already;
/// what changed, in words.
pub(crate) async fn fence_system(registry: &Registry, engine: &dyn Engine, url: &DbUrl) -> Result<String> {
    let note = note("fence");
    let (change, _) = in_transaction(registry, engine, url, |tx, s| {
        let note = note.clone();
        Box::pin(async move { system_fence(tx, s, &note).await })
    })
    .await
    .with_context(|| format!("fence of {url}: the system's part"))?;
    Ok(match change.changed.len() {
        0 => "nothing of the system's to stop".to_string(),
        n => format!("{n} object(s) of the system stopped (paused)"),
    })
}

/// The system's part of a fence in `tx` ([`System::fence`]); nothing for systems without a
/// standby mode.
async fn system_fence(tx: &dyn Transaction, s: &dyn System, note: &str) -> Result<StateChange> {
    match s.standby_table() {
        Some(_) => s.fence(tx, note).await,
        None => Ok(StateChange::default()),
    }
}

/// The note a move leaves in the site's role and system: what, and when.
fn note(what: &str) -> String {
    format!("{what} at {}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"))
}

/// A fence at `epoch`, with the database's writes stopped and the system's part as asked.
async fn fence_parts(
    registry: &Registry,
    engine: &dyn Engine,
    url: &DbUrl,
    (epoch, stop_writes, with_system): (Epoch, bool, bool),
    events: Arc<dyn Events>,
) -> Result<SiteReport> {
    events.phase("fencing the site", None, Unit::Items);
    let note = note("fence");
    let no_role = role_table(engine, url, events.as_ref()).await;
    let db = url.database.clone();
    let (change, system) = in_transaction(registry, engine, url, |tx, s| {
        let (note, db, no_role) = (note.clone(), db.clone(), no_role.clone());
        Box::pin(async move {
            let db = db.as_str();
            // The role first (the lock order of tandem_engine::role): on engines whose DDL
            // commits, it is committed before the system's part.
            let role_note = give_role(tx, db, no_role, Role::Fenced, epoch, &note, |_| Ok(())).await?;
            let mut change = match with_system {
                true => system_fence(tx, s, &note).await?,
                false => StateChange::default(),
            };
            change.notes.push(role_note);
            Ok(change)
        })
    })
    .await
    .with_context(|| format!("fence of {url}"))?;
    let mut change = change;
    if stop_writes {
        let done = engine.set_writable(url, false).await.with_context(|| format!("fence of {url}: the role is fenced, but writes were not stopped"))?;
        change.notes.extend(done);
    }
    events.phase_done();
    Ok(SiteReport { site: url.to_string(), system: system.name().into(), action: SiteAction::Fence, change })
}

/// Makes a standby site active exactly as it was at the source, interrupted work treated by
/// policy ([`System::promote`]): its role becomes `active` at `epoch`. Errors (Conflict) for a
/// site that is active already unless forced, and for one that holds a newer epoch than `epoch`.
pub async fn promote(registry: &Registry, engine: &dyn Engine, url: &DbUrl, opts: PromoteOptions, epoch: Epoch, events: Arc<dyn Events>) -> Result<SiteReport> {
    events.phase("promoting the site", None, Unit::Items);
    let no_role = role_table(engine, url, events.as_ref()).await;
    let db = url.database.clone();
    let note = note("promote");
    let (change, system) = in_transaction(registry, engine, url, |tx, s| {
        let (note, db, no_role) = (note.clone(), db.clone(), no_role.clone());
        Box::pin(async move {
            let db = db.as_str();
            let role_note = give_role(tx, db, no_role, Role::Active, epoch, &note, |held| check_promotable(held, epoch, opts.force)).await?;
            // A replica's rows came with their ids: its id generators may lag behind them.
            let moved = tx.advance_id_generators().await?;
            let mut change = match s.standby_table() {
                Some(_) => s.promote(tx, &opts).await?,
                None => StateChange::default(),
            };
            if !moved.is_empty() {
                change.notes.push(format!("{} id generator(s) moved past the ids in their tables: {}", moved.len(), moved.join(", ")));
            }
            change.notes.push(role_note);
            Ok(change)
        })
    })
    .await
    .with_context(|| format!("promote of {url}"))?;
    // Promoted means writable: a fence may have stopped the database's writes.
    let mut change = change;
    match engine.set_writable(url, true).await {
        Ok(_) => {}
        Err(e) => change.notes.push(format!("the database could not be made writable (if a fence stopped its writes, allow them by hand): {e}")),
    }
    events.phase_done();
    Ok(SiteReport { site: url.to_string(), system: system.name().into(), action: SiteAction::Promote, change })
}

/// Makes the role table if needed, and ends the restores in flight that hold the role (a move
/// never waits for one: [`Engine::interrupt_restores`]); what to tell when the table cannot be
/// made (a site user without the privilege): the move goes on without a role, as before roles
/// existed.
async fn role_table(engine: &dyn Engine, url: &DbUrl, events: &dyn Events) -> Option<String> {
    let made = role::ensure_table(engine, url).await;
    match engine.interrupt_restores(url).await {
        Ok(0) => {}
        Ok(n) => events.warn(&format!("ended {n} restore(s) into {} in flight: they change nothing", url.database)),
        Err(e) => events.warn(&format!("restores in flight into {} could not be ended (the move waits for them): {e}", url.database)),
    }
    made.err().map(|e| format!("the site keeps no role (nothing guards it against a refresh or replication): {e}"))
}

/// Locks the site's role, lets `check` judge the role it holds, and gives it `to` at `epoch`
/// (the held epoch when `None`); what changed, in words. `no_role`: why the site keeps no role
/// (then nothing is locked or stored, and that is what is said).
async fn give_role(
    tx: &dyn Transaction,
    db: &str,
    no_role: Option<String>,
    to: Role,
    epoch: Epoch,
    note: &str,
    check: impl Fn(Option<&SiteRole>) -> Result<()>,
) -> Result<String> {
    if let Some(why) = no_role {
        return Ok(why);
    }
    let held = role::lock(tx, db).await?;
    check(held.as_ref())?;
    let epoch = epoch.or(held.as_ref().map(|h| h.epoch)).unwrap_or(0);
    role::store(tx, db, &SiteRole::new(to, epoch, note)).await?;
    Ok(match held {
        Some(h) => format!("role: {} (epoch {}) -> {to} (epoch {epoch})", h.role, h.epoch),
        None => format!("role: none -> {to} (epoch {epoch})"),
    })
}

fn check_promotable(held: Option<&SiteRole>, epoch: Epoch, force: bool) -> Result<()> {
    let Some(held) = held else { return Ok(()) };
    if let Some(epoch) = epoch.filter(|e| held.epoch > *e) {
        return Err(Error::conflict(format!(
            "the site holds a newer epoch ({}) than the one it would be promoted at ({epoch}): another move of the platform came after this one; nothing was changed",
            held.describe()
        )));
    }
    if held.role == Role::Active && !force {
        return Err(Error::conflict(format!("the site is active already ({}): nothing was changed (force the promote to run it again)", held.describe())));
    }
    Ok(())
}

/// Probes a site: reachable, and whatever its system checks (a scheduler heartbeat younger than
/// `threshold_s`). An unreachable site is a result (unhealthy), not an error.
pub async fn health(registry: &Registry, engine: &dyn Engine, url: &DbUrl, threshold_s: f64) -> HealthReport {
    let started = Instant::now();
    let mut report = HealthReport { site: url.to_string(), system: None, healthy: false, reachable: false, health: Health::default(), probe_ms: 0 };
    let probe = async {
        let system = system_of(registry, engine, url).await?;
        let tx = engine.transaction(url).await?;
        let health = system.health(tx.as_ref(), threshold_s).await;
        let _ = tx.rollback().await;
        Ok::<_, Error>((system, health?))
    };
    match probe.await {
        Ok((system, health)) => {
            report.system = Some(system.name().to_string());
            report.reachable = true;
            report.health = health;
            report.health.checks.insert(0, Check { name: "database".into(), ok: true, detail: format!("reachable ({})", system.describe()) });
        }
        Err(e) => {
            report.reachable = e.kind() != tandem_error::Kind::Unreachable;
            report.health.checks.push(Check { name: "database".into(), ok: false, detail: e.to_string() });
        }
    }
    report.healthy = report.health.healthy();
    report.probe_ms = started.elapsed().as_millis() as u64;
    report
}
