//! Restore: a backup into a target database, all-or-nothing, into the same engine (native rows
//! straight to the bulk loader) or another one (schema translated, every value converted).

use std::sync::Arc;
use std::time::{Duration, Instant};

mod foreign;
mod load;

use serde::Serialize;
use tandem_engine::{DbUrl, Engine};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, LockMode, Manifest, Repository};
use tandem_system::{LocationMap, Rekey, System};

use crate::transform::{LocationReport, Rewriter};
use crate::{Events, Plan, Registry, Unit};

/// Everything a restore needs.
pub struct RestoreRequest<'a> {
    /// The target's engine.
    pub engine: &'a dyn Engine,
    /// Every engine and system tandem has: the backup's engine is found by name for a
    /// cross-engine restore, its system by name.
    pub registry: &'a Registry,
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
    /// Make the restored site a passive standby (systems with a standby mode).
    pub standby: bool,
    /// Re-encrypt the system's secrets from the source's key to the target's.
    pub rekey: Option<Rekey>,
}

impl<'a> RestoreRequest<'a> {
    /// A plain restore of the newest backup (no map, no standby, no keys).
    pub fn new(engine: &'a dyn Engine, registry: &'a Registry, target: DbUrl, repo: Repository) -> RestoreRequest<'a> {
        RestoreRequest {
            engine,
            registry,
            target,
            repo,
            backup: None,
            force: false,
            dry_run: false,
            locations: LocationMap::default(),
            require_mapped: false,
            standby: false,
            rekey: None,
        }
    }
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
    /// Engine the backup was taken from, and whether the restore converted it to another one.
    pub source_engine: String,
    pub cross_engine: bool,
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
    let system = req.registry.system_named(&manifest.system.name).ok_or_else(|| {
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
    if req.rekey.is_some() && !system.has_secrets() {
        return Err(Error::bad_input(format!(
            "backup {id} is {} ({}), which keeps no encrypted secrets: --fernet-key-from/--fernet-key-to apply to Airflow backups",
            system.describe(),
            system.name()
        )));
    }
    // Same engine: the backup's own DDL and rows. Another engine: a translated schema.
    let source_engine = source_engine(&manifest, req)?;
    let foreign = match source_engine {
        Some(from) => Some(foreign::translate(&manifest, from, req.engine, system)?),
        None => None,
    };
    let schema = match &foreign {
        Some((dump, _)) => dump.clone(),
        None => manifest.full_schema(),
    };

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

    let standby = match req.standby {
        true => system.standby_fixups(&schema.tables, &PlanDialect, "")?.len(),
        false => 0,
    };
    if let Some(rekey) = &req.rekey {
        load::check_secrets(&req.repo, &manifest, system, rekey, events.clone()).await?;
    }

    let target = req.engine.target(&req.target).await?;
    let state = target.inspect().await?;
    if system.recognizes(&state.relations) {
        check_target_version(req, &manifest, system).await?;
    }
    if !state.relations.is_empty() && !req.force {
        let found = req.registry.system_of(&state.relations);
        let holds = match found.marker_tables().is_empty() {
            true => "is not empty".to_string(),
            false => format!("already holds {}", found.describe()),
        };
        return Err(Error::conflict(format!(
            "target database {} {holds} ({} relations, e.g. {}); use --force to replace its content",
            req.target.database,
            state.relations.len(),
            state.relations[0]
        )));
    }
    let mut plan = make_plan(&manifest, &schema, &req.target, state.relations.len(), system, &req.locations, req.engine);
    if req.rekey.is_some() {
        plan.steps.insert(3, "re-encrypt secrets from the source's Fernet key to the target's while loading".into());
    }
    if standby > 0 {
        let at = plan.steps.len() - 1;
        plan.steps.insert(at, "make the copy a standby: remember which DAGs are active, pause every DAG".into());
    }
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
        source_engine: manifest.snapshot.engine.clone(),
        cross_engine: foreign.is_some(),
    };
    if req.dry_run {
        report.duration = start.elapsed();
        return Ok(report);
    }

    let rewriter = (!req.locations.is_empty()).then(|| Rewriter::new(req.locations.clone()));
    events.phase("creating the schema", None, Unit::Items);
    let session = target.begin(&schema, req.force).await?;
    events.phase_done();
    let note = format!("restore --standby of backup {id} ({})", manifest.source);
    let standby_fixups = match req.standby {
        true => system.standby_fixups(&schema.tables, session.dialect(), &note)?,
        false => Vec::new(),
    };
    let load = load::Load {
        session: session.as_ref(),
        repo: &req.repo,
        manifest: &manifest,
        system: system,
        rewriter: rewriter.as_ref(),
        targets: &schema.tables,
        foreign: match (&foreign, source_engine) {
            (Some((_, types)), Some(from)) => Some(load::Foreign { from, to: req.engine, types }),
            _ => None,
        },
        rekey: req.rekey.as_ref(),
        standby: &standby_fixups,
    };
    let prepared = async {
        load.load_all(events.clone()).await?;
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
        load.fixups(events.clone()).await
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

/// Refuses a target that already holds the backup's system at another schema version: the
/// software of the DR site is made for its own version (even `--force` would leave it broken).
async fn check_target_version(req: &RestoreRequest<'_>, m: &Manifest, system: &dyn System) -> Result<()> {
    let snapshot = req.engine.snapshot(&req.target, &tandem_engine::SnapshotOptions { parallelism: 1 }).await?;
    let detected = system.detect(snapshot.as_ref()).await;
    let _ = snapshot.close().await;
    let target = detected?.and_then(|d| d.version);
    if let (Some(t), Some(b)) = (&target, &m.system.version) {
        if t.trim() != b.trim() {
            return Err(Error::bad_input(format!(
                "target database {} holds {} at schema {}, but backup {} is at schema {}: the target site must run the same \
                 version as the source (upgrade or downgrade it, or restore into an empty database); nothing was changed",
                req.target.database,
                system.describe(),
                system.version_label(t),
                m.id,
                system.version_label(b)
            )));
        }
    }
    Ok(())
}

/// The engine that took the backup when it is not the target's (`None`: same engine).
fn source_engine<'a>(m: &Manifest, req: &RestoreRequest<'a>) -> Result<Option<&'a dyn Engine>> {
    if m.snapshot.engine == req.engine.name() {
        if m.snapshot.row_encoding != req.engine.row_encoding() {
            return Err(Error::corrupt(format!("backup {} claims engine {} but holds {} rows", m.id, m.snapshot.engine, m.snapshot.row_encoding.as_str())));
        }
        return Ok(None);
    }
    let from = req.registry.engine_named(&m.snapshot.engine).ok_or_else(|| {
        Error::unsupported(format!("backup {} was taken by engine {:?}, which this tandem does not know; upgrade tandem", m.id, m.snapshot.engine))
    })?;
    Ok(Some(from))
}

fn make_plan(m: &Manifest, schema: &tandem_engine::SchemaDump, target: &DbUrl, existing: usize, system: &dyn System, map: &LocationMap, engine: &dyn Engine) -> Plan {
    let mut plan = Plan::default();
    plan.step(format!("verify that all {} chunks of backup {} ({} {}) are present", m.tables.iter().map(|t| t.chunks.len()).sum::<usize>(), m.id, m.system.name, m.source));
    if m.snapshot.engine != engine.name() {
        plan.step(format!("translate the {} schema of {} tables into {} types, keys and indexes", m.snapshot.engine, m.tables.len(), engine.name()));
    }
    plan.step(format!("create {} schema object(s) in a staging area of {target}", schema.pre_data.len()));
    let convert = if m.snapshot.engine != engine.name() { format!(", converting every value from {} to {}", m.snapshot.engine, engine.name()) } else { String::new() };
    plan.step(format!("load {} tables ({} rows, {} bytes), verifying every chunk hash{convert}", m.tables.len(), m.rows(), m.bytes()));
    if !map.is_empty() {
        let rules: Vec<String> = map.rules().iter().map(|r| format!("{} -> {}", r.from, r.to)).collect();
        let columns: Vec<String> = system.location_columns().iter().map(|c| format!("{}.{}", c.table, c.column)).collect();
        plan.step(format!("rewrite storage locations ({}) in {} while loading", rules.join(", "), columns.join(", ")));
    }
    for f in system.post_restore(&schema.tables, &PlanDialect) {
        plan.step(format!("fix up: {}", f.what));
    }
    plan.step(format!("run {} post-load statement(s): constraints, indexes, sequences, views", schema.post_data.len()));
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
    fn current_schema(&self) -> &'static str {
        "current_schema"
    }
    fn agg_tuples(&self, exprs: &[String]) -> String {
        exprs.join(", ")
    }
}
