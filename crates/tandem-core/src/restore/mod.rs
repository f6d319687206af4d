//! Restore: a backup into a target database, all-or-nothing, into the same engine (native rows
//! straight to the bulk loader) or another one (schema translated, every value converted).

use std::sync::Arc;
use std::time::{Duration, Instant};

mod foreign;
mod load;

use serde::Serialize;
use tandem_engine::changes::Checkpoint;
use tandem_engine::{DbUrl, Engine, LogicalType, Replace, SchemaDump, Scope, TargetState};
use tandem_error::{Error, Hint, Result, ResultExt};
use tandem_repo::{BackupId, LockMode, Manifest, Repository};
use tandem_system::{Fixup, LocationMap, Rekey, SiteKeys, System};

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
    /// Whether a non-empty target is replaced (only once the new content is complete).
    pub replace: Replace,
    /// Only compute and return the plan.
    pub dry_run: bool,
    /// Storage locations to rewrite (systems that store locations only).
    pub locations: LocationMap,
    /// Refuse to make the restore visible while some location still points at a FROM.
    pub require_mapped: bool,
    /// Make the restored site a passive standby (systems with a standby mode).
    pub standby: bool,
    /// The sites' keys: with both, the system's secrets are re-encrypted from the source's key
    /// to the target's.
    pub keys: SiteKeys,
    /// A replica's bootstrap: this checkpoint is stored with the restored content (created
    /// before it becomes visible), so the replica streams from exactly the backup's position.
    pub checkpoint: Option<Checkpoint>,
    /// The tables whose rows are loaded; the others are created empty (the schema stays whole).
    pub scope: Scope,
    /// A replica's bootstrap marks the restored content as its applied changes are marked (see
    /// [`tandem_engine::changes::Origin`]).
    pub origin: Option<tandem_engine::changes::Origin>,
    /// A role that owns every restored object, instead of the owners the backup recorded (engines
    /// with object owners; see [`tandem_engine::Privileges`]).
    pub owner: Option<String>,
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
            replace: Replace::Never,
            dry_run: false,
            locations: LocationMap::default(),
            require_mapped: false,
            standby: false,
            keys: SiteKeys::default(),
            checkpoint: None,
            scope: Scope::default(),
            origin: None,
            owner: None,
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
    /// The role the site has after a standby restore ([`tandem_engine::role`]): standby, or
    /// active when a promote landed right after the restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<tandem_engine::role::SiteRole>,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Restores a backup. Checks that every chunk of the backup is present before touching the
/// target; any later error (a corrupt chunk, a failing load) aborts the session so the target
/// keeps its old content. A transient database error before the commit (a reset connection, a
/// server failing over, a deadlock) redoes the whole restore as the target URL's retry policy
/// says; one during the commit is not retried (its outcome is unknown).
pub async fn restore(req: RestoreRequest<'_>, events: Arc<dyn Events>) -> Result<RestoreReport> {
    let start = Instant::now();
    let id = match &req.backup {
        Some(id) => id.clone(),
        None => req.repo.latest_backup().await?.ok_or_else(|| Error::bad_input(format!("repository {} has no backups", req.repo.url())))?,
    };
    let lock = req.repo.lock(LockMode::Shared, "restore").await?;
    let what = format!("restore of backup {id} into {}", req.target);
    let result = req.target.retry.run_whole(&what, || run(&req, &id, start, events.clone())).await;
    let released = lock.release().await;
    let report = result.with_context(|| format!("restore of backup {id} into {}", req.target))?;
    released?;
    Ok(report)
}

/// What a restore decided before touching the target.
pub(crate) struct Prepared<'a> {
    pub manifest: Manifest,
    pub system: &'a dyn System,
    /// The schema the target gets (translated for another engine).
    pub schema: SchemaDump,
    /// For a restore into another engine: the backup's engine and each table's column types.
    pub foreign: Option<(&'a dyn Engine, Vec<Vec<LogicalType>>)>,
    pub rekey: Option<Rekey>,
}

async fn run(req: &RestoreRequest<'_>, id: &BackupId, start: Instant, events: Arc<dyn Events>) -> Result<RestoreReport> {
    let p = prepare(req, id).await?;
    check_chunks(&req.repo, &p.manifest, events.as_ref()).await?;
    if let Some(rekey) = &p.rekey {
        load::check_secrets(&req.repo, &p.manifest, p.system, rekey, events.clone()).await?;
    }
    let target = req.engine.target(&req.target).await?;
    let state = target.inspect().await?;
    check_target(req, &p, &state).await?;
    if !state.relations.is_empty() && req.replace.allowed() {
        if let Some(active) = crate::role::read(req.engine, &req.target).await?.filter(|r| r.role == tandem_engine::role::Role::Active) {
            return Err(Replace::active_site(&req.target.database, &active));
        }
    }
    let mut report = RestoreReport {
        backup: id.clone(),
        target: req.target.to_string(),
        plan: make_plan(req, &p, state.relations.len())?,
        executed: false,
        tables: p.manifest.tables.len(),
        rows: p.manifest.rows(),
        bytes: p.manifest.bytes(),
        duration: Duration::ZERO,
        system: p.manifest.system.name.clone(),
        system_version: p.manifest.system.version.clone(),
        locations: None,
        fixups: Vec::new(),
        warnings: Vec::new(),
        source_engine: p.manifest.snapshot.engine.clone(),
        cross_engine: p.foreign.is_some(),
        role: None,
    };
    if !req.dry_run {
        execute(req, &p, target.as_ref(), &mut report, events).await?;
        report.executed = true;
    }
    report.duration = start.elapsed();
    Ok(report)
}

/// Reads the manifest and decides what the restore does: the backup's system (known, at a
/// supported version, and able to take the location map and keys given), the target's schema,
/// and the secret codecs.
pub(crate) async fn prepare<'a>(req: &RestoreRequest<'a>, id: &BackupId) -> Result<Prepared<'a>> {
    let manifest = req.repo.read_manifest(id).await?;
    let system = req
        .registry
        .system_named(&manifest.system.name)
        .ok_or_else(|| Error::unsupported(format!("backup {id} is of system {:?}, which this tandem does not know; upgrade tandem", manifest.system.name)))?;
    system.check_version(manifest.system.version.as_deref()).with_context(|| format!("backup {id} cannot be restored"))?;
    if !req.locations.is_empty() && system.location_columns().is_empty() {
        return Err(Error::bad_input(format!(
            "backup {id} is {} ({}), which stores no storage locations: location maps apply to systems that do ({})",
            system.describe(),
            system.name(),
            names(req.registry.systems().filter(|s| !s.location_columns().is_empty()))
        )));
    }
    let rekey = rekey(system, &req.keys).with_context(|| format!("backup {id} is {} ({})", system.describe(), system.name()))?;
    check_scope(&manifest, &req.scope).with_context(|| format!("tables of backup {id} in scope ({})", req.scope))?;
    // Same engine: the backup's own DDL and rows. Another engine: a translated schema.
    let (mut schema, foreign) = match source_engine(&manifest, req)? {
        Some(from) => {
            let (dump, types) = foreign::translate(&manifest, from, req.engine, system)?;
            (dump, Some((from, types)))
        }
        None => (manifest.full_schema(), None),
    };
    schema.privileges.reassign_to = req.owner.clone();
    Ok(Prepared { manifest, system, schema, foreign, rekey })
}

/// Refuses a scope that selects no table, or a table whose foreign key references a table
/// outside the scope (its rows could not be loaded without their parents).
fn check_scope(manifest: &Manifest, scope: &Scope) -> Result<()> {
    if scope.is_all() {
        return Ok(());
    }
    let tables: Vec<_> = manifest.tables.iter().map(|t| &t.table).collect();
    if !tables.iter().any(|t| scope.contains(t)) {
        return Err(Error::bad_input("no table matches"));
    }
    for t in tables.iter().filter(|t| scope.contains(t)) {
        for fk in &t.foreign_keys {
            let parent = tables.iter().find(|p| p.schema == t.schema && p.name == fk.ref_table);
            if parent.is_some_and(|p| !scope.contains(p)) {
                return Err(Error::bad_input(format!(
                    "table {} references table {} (foreign key {}), which is outside the scope: include both, or neither",
                    t.display_name(),
                    fk.ref_table,
                    fk.name
                )));
            }
        }
    }
    Ok(())
}

/// `a, b` of the systems' names, for messages.
pub(crate) fn names<'s>(systems: impl Iterator<Item = &'s dyn System>) -> String {
    systems.map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

/// The secret codecs of a restore: both sites' keys or neither.
fn rekey(system: &dyn System, keys: &SiteKeys) -> Result<Option<Rekey>> {
    match (&keys.source, &keys.target) {
        (None, None) => Ok(None),
        (Some(from), Some(to)) => Ok(Some(Rekey { from: system.secret_codec(from)?, to: system.secret_codec(to)? })),
        (Some(k), None) | (None, Some(k)) => Err(Error::bad_input(format!(
            "{} given alone: secrets are re-encrypted from the source site's key to the target site's, so give both or neither",
            k.origin()
        ))),
    }
}

/// Fails (Corrupt) when a chunk of the backup is missing, before the target is touched.
async fn check_chunks(repo: &Repository, manifest: &Manifest, events: &dyn Events) -> Result<()> {
    events.phase("checking the backup's chunks", None, Unit::Items);
    let present = repo.chunk_ids().await?;
    for t in &manifest.tables {
        if let Some(c) = t.chunks.iter().find(|c| !present.contains(&c.id)) {
            return Err(Error::corrupt(format!(
                "backup {} is incomplete: chunk {} of table {} is missing (run `tandem repo check`)",
                manifest.id,
                c.id,
                t.table.display_name()
            )));
        }
    }
    events.phase_done();
    Ok(())
}

/// Refuses a target of the system at another schema version, and a non-empty target unless the
/// restore replaces it.
async fn check_target(req: &RestoreRequest<'_>, p: &Prepared<'_>, state: &TargetState) -> Result<()> {
    if p.system.recognizes(&state.relations) {
        check_target_version(req, &p.manifest, p.system).await?;
    }
    if !state.relations.is_empty() && !req.replace.allowed() {
        let found = req.registry.system_of(&state.relations);
        let holds = match found.marker_tables().is_empty() {
            true => "is not empty".to_string(),
            false => format!("already holds {}", found.describe()),
        };
        return Err(Error::conflict(format!(
            "target database {} {holds} ({} relations, e.g. {})",
            req.target.database,
            state.relations.len(),
            state.relations[0]
        ))
        .with_hint(Hint::ReplaceTarget));
    }
    Ok(())
}

/// Loads everything into a new session, runs the fix-ups and commits; aborts the session on any
/// error so the target keeps its old content.
async fn execute(
    req: &RestoreRequest<'_>,
    p: &Prepared<'_>,
    target: &dyn tandem_engine::Target,
    report: &mut RestoreReport,
    events: Arc<dyn Events>,
) -> Result<()> {
    let rewriter = (!req.locations.is_empty()).then(|| Rewriter::new(req.locations.clone()));
    events.phase("creating the schema", None, Unit::Items);
    // Whatever replaces the target's content never replaces an active site's.
    let replace = match &req.replace {
        Replace::Always => Replace::UnlessActive,
        other => other.clone(),
    };
    let session = target.begin(&p.schema, replace).await?;
    if let Some(origin) = &req.origin {
        if !session.mark(origin).await? {
            tracing::debug!("the restored content carries no origin mark ({})", origin.0);
        }
    }
    events.phase_done();
    let note = format!("standby restore of backup {} ({})", p.manifest.id, p.manifest.source);
    let mut standby_fixups = match req.standby && p.system.standby_table().is_some() {
        true => p.system.standby_fixups(&p.schema.tables, session.dialect(), &note)?,
        false => Vec::new(),
    };
    // A backup of a replica holds its checkpoint table, restored empty (see `load`): where that
    // replica stood means nothing here (a failback's old primary is bootstrapped from the
    // replica that replaced it).
    if let Some(c) = &req.checkpoint {
        let (d, schema) = (session.dialect(), p.schema.tables.first().and_then(|t| t.schema.as_deref()));
        let what = format!("store the replication checkpoint ({})", c.position.value);
        if !p.schema.tables.iter().any(Checkpoint::is_table) {
            standby_fixups.push(Fixup { what: what.clone(), sql: Checkpoint::create_sql(d, schema) });
        }
        standby_fixups.push(Fixup { what, sql: c.insert_sql(d, schema) });
    }
    let load = load::Load {
        session: session.as_ref(),
        repo: &req.repo,
        manifest: &p.manifest,
        system: p.system,
        rewriter: rewriter.as_ref(),
        targets: &p.schema.tables,
        foreign: p.foreign.as_ref().map(|(from, types)| load::Foreign { from: *from, to: req.engine, types }),
        rekey: p.rekey.as_ref(),
        standby: &standby_fixups,
        scope: &req.scope,
    };
    let prepared = async {
        load.load_all(events.clone()).await?;
        if let Some(rw) = &rewriter {
            require_mapped(req, rw)?;
        }
        let fixups = load.fixups(events.clone()).await?;
        tandem_error::failpoint!("restore-before-commit");
        Ok::<_, Error>(fixups)
    };
    match prepared.await {
        Ok(fixups) => {
            events.phase("building indexes and constraints, committing", None, Unit::Items);
            session.commit().await.map_err(|e| match e.is_transient() {
                true => e
                    .permanent()
                    .context("the connection failed while committing: the target holds its old or the new content; check which before running again"),
                false => e,
            })?;
            events.phase_done();
            report.fixups = fixups;
            if req.standby {
                match crate::role::make_standby(req.engine, &req.target, &note).await {
                    Ok(role) => report.role = Some(role),
                    Err(e) => {
                        let w = format!("the restore is done, but the site has no standby role (nothing guards it against a promote in flight): {e}");
                        events.warn(&w);
                        report.warnings.push(w);
                    }
                }
                // A standby refuses application writes where the engine switches them per
                // database ([`tandem_engine::Engine::writable_per_database`]); an active site
                // (a promote that landed first) keeps its writes.
                let standby = report.role.as_ref().is_some_and(|r| r.role == tandem_engine::role::Role::Standby);
                if standby && req.engine.writable_per_database() {
                    if let Err(e) = req.engine.set_writable(&req.target, false).await {
                        let w = format!("the restore is done, but the standby still takes application writes: {e}");
                        events.warn(&w);
                        report.warnings.push(w);
                    }
                }
            }
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
            let w = format!("location rule {}={} matched no location", rule.from, rule.to);
            events.warn(&w);
            report.warnings.push(w);
        }
        report.locations = Some(r);
    }
    Ok(())
}

/// Refuses (BadInput) to make the restore visible while a location still points at a mapped-from
/// prefix, when the request requires every location mapped.
fn require_mapped(req: &RestoreRequest<'_>, rw: &Rewriter) -> Result<()> {
    let r = rw.report();
    if req.require_mapped && r.unmapped_total > 0 {
        return Err(Error::bad_input(format!(
            "{} location(s) still point at a mapped-from bucket (e.g. {}); nothing was changed",
            r.unmapped_total,
            r.unmapped.first().map(String::as_str).unwrap_or("?")
        ))
        .with_hint(Hint::AddLocationRules));
    }
    Ok(())
}

/// Refuses a target that already holds the backup's system at another schema version: the
/// software of the DR site is made for its own version (even `--force` would leave it broken).
async fn check_target_version(req: &RestoreRequest<'_>, m: &Manifest, system: &dyn System) -> Result<()> {
    let snapshot = req.engine.snapshot(&req.target, &tandem_engine::SnapshotOptions::parallel(1)).await?;
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

/// The steps of a restore, in the order they run.
fn make_plan(req: &RestoreRequest<'_>, p: &Prepared<'_>, existing: usize) -> Result<Plan> {
    let (m, schema, target, engine) = (&p.manifest, &p.schema, &req.target, req.engine);
    let mut plan = Plan::default();
    plan.step(format!(
        "verify that all {} chunks of backup {} ({} {}) are present",
        m.tables.iter().map(|t| t.chunks.len()).sum::<usize>(),
        m.id,
        m.system.name,
        m.source
    ));
    if p.foreign.is_some() {
        plan.step(format!("translate the {} schema of {} tables into {} types, keys and indexes", m.snapshot.engine, m.tables.len(), engine.name()));
    }
    plan.step(format!("create {} schema object(s) in a staging area of {target}", schema.pre_data.len()));
    if p.rekey.is_some() {
        plan.step("re-encrypt secrets from the source site's key to the target site's while loading");
    }
    let convert = match p.foreign {
        Some(_) => format!(", converting every value from {} to {}", m.snapshot.engine, engine.name()),
        None => String::new(),
    };
    plan.step(format!("load {} tables ({} rows, {} bytes), verifying every chunk hash{convert}", m.tables.len(), m.rows(), m.bytes()));
    if !req.locations.is_empty() {
        let rules: Vec<String> = req.locations.rules().iter().map(|r| format!("{} -> {}", r.from, r.to)).collect();
        let columns: Vec<String> = p.system.location_columns().iter().map(|c| format!("{}.{}", c.table, c.column)).collect();
        plan.step(format!("rewrite storage locations ({}) in {} while loading", rules.join(", "), columns.join(", ")));
    }
    for f in p.system.post_restore(&schema.tables, &PlanDialect) {
        plan.step(format!("fix up: {}", f.what));
    }
    if req.standby {
        if p.system.standby_table().is_some() {
            for f in p.system.standby_fixups(&schema.tables, &PlanDialect, "")? {
                plan.step(format!("standby: {}", f.what));
            }
        }
        plan.step(format!("give {target} the role standby ({}.{})", tandem_engine::role::ROLE_SCHEMA, tandem_engine::role::ROLE_TABLE));
    }
    plan.step(format!("run {} post-load statement(s): constraints, indexes, sequences, views", schema.post_data.len()));
    if existing > 0 {
        plan.step(format!("replace the {existing} current relations of {target} with the restored ones in one step"));
    } else {
        plan.step(format!("make the restored content of {target} visible in one step"));
    }
    Ok(plan)
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
