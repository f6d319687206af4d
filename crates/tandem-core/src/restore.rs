//! Restore: a backup into a target database, all-or-nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tandem_engine::{DbUrl, Engine, RestoreSession};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, LockMode, Manifest, Repository, TableEntry};

use crate::{Events, Plan, Unit};

/// Chunks fetched ahead of the one being loaded, per table.
const PREFETCH: usize = 2;

/// Everything a restore needs.
pub struct RestoreRequest<'a> {
    pub engine: &'a dyn Engine,
    pub target: DbUrl,
    pub repo: Repository,
    /// The backup to restore; the newest when `None`.
    pub backup: Option<BackupId>,
    /// Replace a non-empty target (only once the new content is complete).
    pub force: bool,
    /// Only compute and return the plan.
    pub dry_run: bool,
}

/// What a restore did (or would do, with `dry_run`).
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: BackupId,
    pub target: String,
    pub plan: Plan,
    pub executed: bool,
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
    #[serde(with = "secs")]
    pub duration: Duration,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Restores a backup. Checks that every chunk of the backup is present before touching the
/// target; any later error (a corrupt chunk, a failing load) aborts the session so the target
/// keeps its old content.
pub async fn restore(req: RestoreRequest<'_>, events: Arc<dyn Events>) -> Result<RestoreReport> {
    let start = Instant::now();
    let id = match &req.backup {
        Some(id) => id.clone(),
        None => req
            .repo
            .latest_backup()
            .await?
            .ok_or_else(|| Error::bad_input(format!("repository {} has no backups", req.repo.url())))?,
    };
    let lock = req.repo.lock(LockMode::Shared, "restore").await?;
    let result = run(&req, &id, start, events).await;
    let released = lock.release().await;
    let report = result.with_context(|| format!("restore of backup {id} into {}", req.target))?;
    released?;
    Ok(report)
}

async fn run(req: &RestoreRequest<'_>, id: &BackupId, start: Instant, events: Arc<dyn Events>) -> Result<RestoreReport> {
    let manifest = req.repo.read_manifest(id).await?;
    check_compatible(&manifest, req.engine)?;

    events.phase("checking the backup's chunks", None, Unit::Items);
    let present = req.repo.chunk_ids().await?;
    for t in &manifest.tables {
        if let Some(c) = t.chunks.iter().find(|c| !present.contains(&c.id)) {
            return Err(Error::corrupt(format!(
                "backup {id} is incomplete: chunk {} of table {} is missing (run `tandem repo check`)",
                c.id,
                t.table.display_name()
            )));
        }
    }
    events.phase_done();

    let target = req.engine.target(&req.target).await?;
    let state = target.inspect().await?;
    if !state.relations.is_empty() && !req.force {
        return Err(Error::conflict(format!(
            "target database {} is not empty ({} relations, e.g. {}); use --force to replace its content",
            req.target.database,
            state.relations.len(),
            state.relations[0]
        )));
    }
    let schema = manifest.full_schema();
    let plan = make_plan(&manifest, &req.target, state.relations.len());
    let mut report = RestoreReport {
        backup: id.clone(),
        target: req.target.to_string(),
        plan,
        executed: false,
        tables: manifest.tables.len(),
        rows: manifest.rows(),
        bytes: manifest.bytes(),
        duration: Duration::ZERO,
    };
    if req.dry_run {
        report.duration = start.elapsed();
        return Ok(report);
    }

    events.phase("creating the schema", None, Unit::Items);
    let session = target.begin(&schema, req.force).await?;
    events.phase_done();
    match load_all(session.as_ref(), &req.repo, &manifest, events.clone()).await {
        Ok(()) => {
            events.phase("building indexes and constraints, committing", None, Unit::Items);
            session.commit().await?;
            events.phase_done();
        }
        Err(e) => {
            if let Err(abort) = session.abort().await {
                events.warn(&format!("cleaning up the unfinished restore failed: {abort}"));
            }
            return Err(e);
        }
    }
    report.executed = true;
    report.duration = start.elapsed();
    Ok(report)
}

fn check_compatible(manifest: &Manifest, engine: &dyn Engine) -> Result<()> {
    if manifest.snapshot.row_encoding != engine.row_encoding() {
        return Err(Error::unsupported(format!(
            "backup {} was taken from {} ({} rows) and cannot be restored into {} as a {} backup; \
             cross-engine restore needs a system that converts between engines",
            manifest.id,
            manifest.snapshot.engine,
            manifest.snapshot.row_encoding.as_str(),
            engine.name(),
            manifest.system.name
        )));
    }
    Ok(())
}

fn make_plan(m: &Manifest, target: &DbUrl, existing: usize) -> Plan {
    let mut plan = Plan::default();
    plan.step(format!("verify that all {} chunks of backup {} ({} {}) are present", m.tables.iter().map(|t| t.chunks.len()).sum::<usize>(), m.id, m.system.name, m.source));
    plan.step(format!("create {} schema object(s) in a staging area of {target}", m.schema.pre_data.len()));
    plan.step(format!("load {} tables ({} rows, {} bytes), verifying every chunk hash", m.tables.len(), m.rows(), m.bytes()));
    plan.step(format!("run {} post-load statement(s): constraints, indexes, sequences, views", m.schema.post_data.len()));
    if existing > 0 {
        plan.step(format!("replace the {existing} current relations of {target} with the restored ones in one step"));
    } else {
        plan.step(format!("make the restored content of {target} visible in one step"));
    }
    plan
}

async fn load_all(session: &dyn RestoreSession, repo: &Repository, m: &Manifest, events: Arc<dyn Events>) -> Result<()> {
    events.phase(&format!("loading {} tables", m.tables.len()), Some(m.bytes()), Unit::Bytes);
    futures::stream::iter(m.tables.iter())
        .map(|t| load_table(session, repo, t, events.clone()))
        .buffer_unordered(session.parallelism().max(1))
        .try_collect::<Vec<()>>()
        .await?;
    events.phase_done();
    Ok(())
}

async fn load_table(session: &dyn RestoreSession, repo: &Repository, t: &TableEntry, events: Arc<dyn Events>) -> Result<()> {
    let name = t.table.display_name();
    let repo = repo.clone();
    let progress = events.clone();
    let rows = futures::stream::iter(t.chunks.clone())
        .map(move |c| {
            let repo = repo.clone();
            async move { repo.get_chunk(&c).await }
        })
        .buffered(PREFETCH)
        .inspect_ok(move |b| progress.advance(b.len() as u64))
        .boxed();
    let loaded = session.copy_in(&t.table, rows).await.with_context(|| format!("table {name}"))?;
    if loaded != t.rows {
        return Err(Error::corrupt(format!("table {name}: loaded {loaded} rows but the backup holds {}", t.rows)));
    }
    events.info(&format!("table {name}: {loaded} rows"));
    Ok(())
}
