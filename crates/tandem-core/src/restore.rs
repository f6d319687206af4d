//! Restore: a backup into a target database, all-or-nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tandem_engine::{DbUrl, Engine, RestoreSession};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, LockMode, Manifest, Repository, TableEntry};
use tandem_system::{LocationMap, System};

use crate::transform::{LocationReport, Rewriter, TableTransform};
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
    /// Storage locations to rewrite (systems that store locations only).
    pub locations: LocationMap,
    /// Refuse to make the restore visible while some location still points at a FROM.
    pub require_mapped: bool,
}

/// One post-restore fix-up that ran, and how many rows it changed.
#[derive(Debug, Clone, Serialize)]
pub struct FixupReport {
    pub what: String,
    pub rows: u64,
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
    /// System of the backup (`hive-metastore`) and its schema version.
    pub system: String,
    pub system_version: Option<String>,
    /// What the location map did (absent without `--map-location`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locations: Option<LocationReport>,
    /// Fix-ups that ran on the restored content before it became visible.
    pub fixups: Vec<FixupReport>,
    /// Things the user should read (a rule that matched nothing).
    pub warnings: Vec<String>,
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
    let system = tandem_system::by_name(&manifest.system.name).ok_or_else(|| {
        Error::unsupported(format!("backup {id} is of system {:?}, which this tandem does not know; upgrade tandem", manifest.system.name))
    })?;
    system.check_version(manifest.system.version.as_deref()).with_context(|| format!("backup {id} cannot be restored"))?;
    if !req.locations.is_empty() && system.location_columns().is_empty() {
        return Err(Error::bad_input(format!(
            "backup {id} is {} ({}), which stores no storage locations: --map-location applies to Hive Metastore backups",
            system.describe(),
            system.name()
        )));
    }

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
        let holds = tandem_system::all()
            .into_iter()
            .find(|s| s.recognizes(&state.relations))
            .map(|s| format!("already holds {}", s.describe()))
            .unwrap_or_else(|| "is not empty".into());
        return Err(Error::conflict(format!(
            "target database {} {holds} ({} relations, e.g. {}); use --force to replace its content",
            req.target.database,
            state.relations.len(),
            state.relations[0]
        )));
    }
    let schema = manifest.full_schema();
    let plan = make_plan(&manifest, &req.target, state.relations.len(), system.as_ref(), &req.locations);
    let mut report = RestoreReport {
        backup: id.clone(),
        target: req.target.to_string(),
        plan,
        executed: false,
        tables: manifest.tables.len(),
        rows: manifest.rows(),
        bytes: manifest.bytes(),
        duration: Duration::ZERO,
        system: manifest.system.name.clone(),
        system_version: manifest.system.version.clone(),
        locations: None,
        fixups: Vec::new(),
        warnings: Vec::new(),
    };
    if req.dry_run {
        report.duration = start.elapsed();
        return Ok(report);
    }

    let rewriter = (!req.locations.is_empty()).then(|| Arc::new(Rewriter::new(req.locations.clone())));
    let job = Job { session: None, repo: &req.repo, manifest: &manifest, system: system.as_ref(), rewriter: rewriter.clone() };
    events.phase("creating the schema", None, Unit::Items);
    let session = target.begin(&schema, req.force).await?;
    events.phase_done();
    let job = Job { session: Some(session.as_ref()), ..job };
    let prepared = async {
        job.load_all(events.clone()).await?;
        if let Some(rw) = &rewriter {
            let r = rw.report();
            if req.require_mapped && r.unmapped_total > 0 {
                return Err(Error::bad_input(format!(
                    "{} location(s) still point at a mapped-from bucket (e.g. {}); add --map-location rules for them \
                     or drop --require-mapped (nothing was changed)",
                    r.unmapped_total,
                    r.unmapped.first().map(String::as_str).unwrap_or("?")
                )));
            }
        }
        job.fixups(events.clone()).await
    };
    match prepared.await {
        Ok(fixups) => {
            events.phase("building indexes and constraints, committing", None, Unit::Items);
            session.commit().await?;
            events.phase_done();
            report.fixups = fixups;
        }
        Err(e) => {
            if let Err(abort) = session.abort().await {
                events.warn(&format!("cleaning up the unfinished restore failed: {abort}"));
            }
            return Err(e);
        }
    }
    if let Some(rw) = &rewriter {
        let r = rw.report();
        for rule in r.rules.iter().filter(|r| r.rewritten == 0) {
            let w = format!("--map-location {}={} matched no location", rule.from, rule.to);
            events.warn(&w);
            report.warnings.push(w);
        }
        report.locations = Some(r);
    }
    report.executed = true;
    report.duration = start.elapsed();
    Ok(report)
}

/// The loading part of one restore.
struct Job<'a> {
    session: Option<&'a dyn RestoreSession>,
    repo: &'a Repository,
    manifest: &'a Manifest,
    system: &'a dyn System,
    rewriter: Option<Arc<Rewriter>>,
}

impl Job<'_> {
    fn session(&self) -> Result<&dyn RestoreSession> {
        self.session.ok_or_else(|| Error::internal("restore job without a session"))
    }

    async fn load_all(&self, events: Arc<dyn Events>) -> Result<()> {
        let m = self.manifest;
        let session = self.session()?;
        events.phase(&format!("loading {} tables", m.tables.len()), Some(m.bytes()), Unit::Bytes);
        futures::stream::iter(m.tables.iter())
            .map(|t| self.load_table(t, events.clone()))
            .buffer_unordered(session.parallelism().max(1))
            .try_collect::<Vec<()>>()
            .await?;
        events.phase_done();
        Ok(())
    }

    async fn load_table(&self, t: &TableEntry, events: Arc<dyn Events>) -> Result<()> {
        let name = t.table.display_name();
        let encoding = self.manifest.snapshot.row_encoding;
        let transform: Option<Arc<TableTransform>> = self
            .rewriter
            .as_ref()
            .and_then(|rw| rw.for_table(self.system, &t.table, encoding, self.manifest.schema.charset.as_deref()))
            .map(Arc::new);
        let repo = self.repo.clone();
        let progress = events.clone();
        let chunks = futures::stream::iter(t.chunks.clone())
            .map(move |c| {
                let repo = repo.clone();
                async move { repo.get_chunk(&c).await }
            })
            .buffered(PREFETCH)
            .inspect_ok(move |b| progress.advance(b.len() as u64));
        let rows = match (transform, self.rewriter.clone()) {
            (Some(tf), Some(rw)) => chunks
                .and_then(move |b| {
                    let (tf, rw) = (tf.clone(), rw.clone());
                    async move {
                        tokio::task::spawn_blocking(move || rw.apply(&tf, &b)).await.map_err(|e| Error::internal(format!("rewriting rows: {e}")))?
                    }
                })
                .boxed(),
            _ => chunks.boxed(),
        };
        let loaded = self.session()?.copy_in(&t.table, rows).await.with_context(|| format!("table {name}"))?;
        if loaded != t.rows {
            return Err(Error::corrupt(format!("table {name}: loaded {loaded} rows but the backup holds {}", t.rows)));
        }
        events.info(&format!("table {name}: {loaded} rows"));
        Ok(())
    }

    /// Runs the system's post-restore fix-ups on the loaded content.
    async fn fixups(&self, events: Arc<dyn Events>) -> Result<Vec<FixupReport>> {
        let session = self.session()?;
        let tables: Vec<_> = self.manifest.tables.iter().map(|t| t.table.clone()).collect();
        let fixups = self.system.post_restore(&tables, session.dialect());
        if fixups.is_empty() {
            return Ok(Vec::new());
        }
        events.phase(&format!("fixing up the restored {}", self.system.name()), Some(fixups.len() as u64), Unit::Items);
        let mut out = Vec::with_capacity(fixups.len());
        for f in fixups {
            let rows = session.execute(&f.sql).await.with_context(|| format!("fix-up {:?}", f.what))?;
            events.info(&format!("{}: {rows} rows", f.what));
            out.push(FixupReport { what: f.what, rows });
            events.advance(1);
        }
        events.phase_done();
        Ok(out)
    }
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

fn make_plan(m: &Manifest, target: &DbUrl, existing: usize, system: &dyn System, map: &LocationMap) -> Plan {
    let mut plan = Plan::default();
    plan.step(format!("verify that all {} chunks of backup {} ({} {}) are present", m.tables.iter().map(|t| t.chunks.len()).sum::<usize>(), m.id, m.system.name, m.source));
    plan.step(format!("create {} schema object(s) in a staging area of {target}", m.schema.pre_data.len()));
    plan.step(format!("load {} tables ({} rows, {} bytes), verifying every chunk hash", m.tables.len(), m.rows(), m.bytes()));
    if !map.is_empty() {
        let rules: Vec<String> = map.rules().iter().map(|r| format!("{} -> {}", r.from, r.to)).collect();
        let columns: Vec<String> = system.location_columns().iter().map(|c| format!("{}.{}", c.table, c.column)).collect();
        plan.step(format!("rewrite storage locations ({}) in {} while loading", rules.join(", "), columns.join(", ")));
    }
    let tables: Vec<_> = m.tables.iter().map(|t| t.table.clone()).collect();
    for f in system.post_restore(&tables, &PlanDialect) {
        plan.step(format!("fix up: {}", f.what));
    }
    plan.step(format!("run {} post-load statement(s): constraints, indexes, sequences, views", m.schema.post_data.len()));
    if existing > 0 {
        plan.step(format!("replace the {existing} current relations of {target} with the restored ones in one step"));
    } else {
        plan.step(format!("make the restored content of {target} visible in one step"));
    }
    plan
}

/// Spells SQL for plans only (the statements are not run).
struct PlanDialect;

impl tandem_engine::Dialect for PlanDialect {
    fn ident(&self, name: &str) -> String {
        name.to_string()
    }
    fn literal(&self, s: &str) -> String {
        format!("'{s}'")
    }
    fn text_order(&self, expr: &str) -> String {
        expr.to_string()
    }
    fn agg_tuples(&self, exprs: &[String]) -> String {
        exprs.join(", ")
    }
}
