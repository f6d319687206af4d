//! Backup: one consistent snapshot of a database into the repository.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use tandem_engine::{DbUrl, Engine, ImportSnapshot, Snapshot, SnapshotOptions};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, LockMode, Manifest, RepoLock, Repository, SystemInfo, TableEntry, FORMAT_VERSION};
use tandem_system::System;

use crate::{ChunkWriter, Events, Registry, Unit};

/// Which system a backup treats the database as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemChoice {
    /// Recognise it (most specific system first; `generic` if nothing else matches).
    Auto,
    /// This system; an error if the database is not of it.
    Named(String),
}

/// Everything a backup needs.
pub struct BackupRequest<'a> {
    pub engine: &'a dyn Engine,
    /// The systems a database may belong to.
    pub registry: &'a Registry,
    pub source: DbUrl,
    pub repo: Repository,
    pub system: SystemChoice,
    /// Site name recorded in the manifest (empty for a bare URL).
    pub site: String,
    /// Tables copied at once, all on one snapshot.
    pub parallelism: usize,
    /// Read in this snapshot the engine prepared (a replica's capture start) instead of a new one.
    pub snapshot: Option<ImportSnapshot>,
}

/// A committed backup and what it cost.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub manifest: Manifest,
    /// Chunks this backup stored that the repository did not have.
    pub new_chunks: usize,
    /// Stored (compressed) bytes of those chunks.
    pub new_bytes: u64,
}

/// Takes a backup and returns it once it is committed (the manifest is written last).
/// On any error nothing is listed: chunks already stored stay as unreferenced garbage for prune.
/// The manifest is written only while the repository lock is still held (FORMAT.md, section 8):
/// a backup that lost it fails, so no committed backup can reference a chunk a prune deleted.
/// A transient database error (a reset connection, a server failing over) redoes the whole
/// backup on a new snapshot as the source URL's retry policy says, unless it reads in a
/// snapshot it was given ([`BackupRequest::snapshot`]), which is gone with its connection.
pub async fn backup(req: BackupRequest<'_>, events: Arc<dyn Events>) -> Result<BackupReport> {
    let lock = req.repo.lock(LockMode::Shared, "backup").await?;
    let policy = match req.snapshot {
        None => req.source.retry,
        Some(_) => tandem_error::RetryPolicy { max_retries: 0, ..req.source.retry },
    };
    let result = policy.run_whole(&format!("backup of {}", req.source), || run(&req, &lock, events.clone())).await;
    let released = lock.release().await;
    let manifest = result?;
    released?;
    Ok(manifest)
}

async fn run(req: &BackupRequest<'_>, lock: &RepoLock, events: Arc<dyn Events>) -> Result<BackupReport> {
    let started = Utc::now();
    events.phase("opening a consistent snapshot", None, Unit::Items);
    let snapshot = req
        .engine
        .snapshot(&req.source, &SnapshotOptions { parallelism: req.parallelism.max(1), import: req.snapshot.clone() })
        .await
        .with_context(|| format!("backup of {}", req.source))?;
    events.phase_done();
    let copied = copy_all(req, snapshot.as_ref(), events.clone()).await;
    let closed = snapshot.close().await;
    let (system, tables, schema, info, known) = copied?;
    closed?;
    let mut new = std::collections::HashSet::new();
    let new_bytes = tables.iter().flat_map(|t| &t.chunks).filter(|c| !known.contains(&c.id) && new.insert(c.id.clone())).map(|c| c.stored).sum();

    let mut schema = schema;
    schema.tables.clear();
    let manifest = Manifest {
        version: FORMAT_VERSION,
        id: BackupId::new(started),
        site: req.site.clone(),
        source: req.source.to_string(),
        system,
        snapshot: info,
        schema,
        tables,
        started,
        finished: Utc::now(),
        tool: format!("tandem {}", env!("CARGO_PKG_VERSION")),
    };
    events.phase("committing the manifest", None, Unit::Items);
    tandem_error::failpoint!("backup-before-manifest");
    lock.ensure_held().await?;
    req.repo.write_manifest(&manifest).await?;
    tandem_error::failpoint!("backup-after-manifest");
    events.phase_done();
    Ok(BackupReport { manifest, new_chunks: new.len(), new_bytes })
}

type Copied = (SystemInfo, Vec<TableEntry>, tandem_engine::SchemaDump, tandem_engine::SnapshotInfo, Arc<HashSet<String>>);

async fn copy_all(req: &BackupRequest<'_>, snapshot: &dyn Snapshot, events: Arc<dyn Events>) -> Result<Copied> {
    let (system, detected) = detect(req.registry, &req.system, snapshot, &req.source).await?;
    system.check_version(detected.version.as_deref()).with_context(|| format!("backup of {}", req.source))?;
    let known = Arc::new(req.repo.chunk_ids().await?);
    let tables = &snapshot.schema().tables;
    events.phase(&format!("copying {} tables", tables.len()), Some(tables.len() as u64), Unit::Items);
    let entries: Vec<TableEntry> = futures::stream::iter(tables.iter().cloned())
        .map(|table| {
            let known = known.clone();
            let events = events.clone();
            async move {
                let mut writer = ChunkWriter::new(req.repo.clone(), known, events.clone());
                let rows = snapshot.copy_out(&table, &mut writer).await.with_context(|| format!("table {}", table.display_name()))?;
                let (chunks, bytes) = writer.finish().await.with_context(|| format!("table {}", table.display_name()))?;
                events.info(&format!("table {}: {rows} rows, {bytes} bytes, {} chunks", table.display_name(), chunks.len()));
                events.advance(1);
                Ok::<_, Error>(TableEntry { table, rows, bytes, chunks })
            }
        })
        .buffered(req.parallelism.max(1))
        .try_collect()
        .await?;
    events.phase_done();
    let mut info = SystemInfo { name: detected.name, version: detected.version, summary: BTreeMap::new() };
    for (label, name) in system.summary_tables() {
        if let Some(e) = entries.iter().find(|e| e.table.name.eq_ignore_ascii_case(name)) {
            info.summary.insert(label.to_string(), e.rows);
        }
    }
    Ok((info, entries, snapshot.schema().clone(), snapshot.info().clone(), known))
}

async fn detect<'r>(
    registry: &'r Registry,
    choice: &SystemChoice,
    snapshot: &dyn Snapshot,
    source: &DbUrl,
) -> Result<(&'r dyn System, tandem_system::Detected)> {
    match choice {
        SystemChoice::Auto => {
            for system in registry.systems() {
                if let Some(d) = system.detect(snapshot).await? {
                    return Ok((system, d));
                }
            }
            Err(Error::internal("no system recognised the database (generic should always match)"))
        }
        SystemChoice::Named(name) => {
            let system = registry.system(name)?;
            match system.detect(snapshot).await? {
                Some(d) => Ok((system, d)),
                None => Err(Error::bad_input(format!(
                    "database {} is not {} (it lacks one of the tables {})",
                    source,
                    system.describe(),
                    system.marker_tables().join(", ")
                ))
                .with_hint(tandem_error::Hint::GenericSystem)),
            }
        }
    }
}
