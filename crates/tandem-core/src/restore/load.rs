//! Loading a backup's tables into an open restore session, and the system's fix-ups after the
//! load, before anything becomes visible.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, TryStreamExt};
use tandem_engine::{Engine, LogicalType, RestoreSession, Scope, TableDef};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{Manifest, Repository, TableEntry};
use tandem_system::{Fixup, Rekey, System};

use super::FixupReport;
use crate::transform::{Plan, Rewriter, TableTransform};
use crate::{Events, Unit};

/// Chunks fetched ahead of the one being loaded, per table.
const PREFETCH: usize = 1;

/// Converted chunks buffered ahead of the loader, per table.
const AHEAD: usize = 1;

/// The loading part of one restore.
pub(super) struct Load<'a> {
    pub session: &'a dyn RestoreSession,
    pub repo: &'a Repository,
    pub manifest: &'a Manifest,
    pub system: &'a dyn System,
    pub rewriter: Option<&'a Rewriter>,
    /// The tables as the target gets them (the manifest's for a same-engine restore), in the
    /// manifest's order.
    pub targets: &'a [TableDef],
    /// For a restore into another engine.
    pub foreign: Option<Foreign<'a>>,
    /// Keys to re-encrypt secrets with.
    pub rekey: Option<&'a Rekey>,
    /// Statements run after the system's fix-ups (`--standby`).
    pub standby: &'a [Fixup],
    /// The tables whose rows are loaded.
    pub scope: &'a Scope,
}

/// A restore into another engine: the engines, and each table's column types.
#[derive(Clone, Copy)]
pub(super) struct Foreign<'a> {
    pub from: &'a dyn Engine,
    pub to: &'a dyn Engine,
    pub types: &'a [Vec<LogicalType>],
}

impl Load<'_> {
    pub async fn load_all(&self, events: Arc<dyn Events>) -> Result<()> {
        let m = self.manifest;
        events.phase(&format!("loading {} tables", m.tables.len()), Some(m.bytes()), Unit::Bytes);
        // A backup of a replica holds where that replica stood: meaningless here, created empty.
        let loaded = |t: &tandem_repo::TableEntry| self.scope.contains(&t.table) && !tandem_engine::changes::Checkpoint::is_table(&t.table);
        futures::stream::iter(m.tables.iter().enumerate().filter(|(_, t)| loaded(t)))
            .map(|(i, t)| self.load_table(i, t, events.clone()))
            .buffer_unordered(self.session.parallelism().max(1))
            .try_collect::<Vec<()>>()
            .await?;
        events.phase_done();
        Ok(())
    }

    async fn load_table(&self, i: usize, t: &TableEntry, events: Arc<dyn Events>) -> Result<()> {
        let name = t.table.display_name();
        let target = self.targets.get(i).ok_or_else(|| Error::internal(format!("table {name}: no target definition")))?;
        let plan = Plan {
            system: self.system,
            rewriter: self.rewriter,
            source_encoding: self.manifest.snapshot.row_encoding,
            source_charset: self.manifest.schema.charset.as_deref(),
            engines: self.foreign.map(|f| (f.from, f.to)),
            rekey: self.rekey,
        };
        let types: &[LogicalType] = self.foreign.and_then(|f| f.types.get(i)).map(Vec::as_slice).unwrap_or(&[]);
        let transform = TableTransform::new(&plan, &t.table, target, types);
        let repo = self.repo.clone();
        let progress = events.clone();
        let mut chunks = futures::stream::iter(t.chunks.clone())
            .map(move |c| {
                let repo = repo.clone();
                async move { repo.get_chunk(&c).await }
            })
            .buffered(PREFETCH)
            .inspect_ok(move |b| progress.advance(b.len() as u64));
        let loaded = match transform {
            None => self.session.copy_in(target, chunks.boxed()).await,
            Some(tf) => {
                // The transform runs here, feeding the loader through a small channel.
                let (mut tx, rx) = mpsc::channel::<Result<bytes::Bytes>>(AHEAD);
                let feed = async move {
                    while let Some(chunk) = chunks.next().await {
                        let out = chunk.and_then(|b| tf.apply(&b));
                        let failed = out.is_err();
                        if tx.send(out).await.is_err() || failed {
                            break;
                        }
                    }
                };
                let (loaded, ()) = futures::join!(self.session.copy_in(target, rx.boxed()), feed);
                loaded
            }
        };
        let loaded = loaded.with_context(|| format!("table {name}"))?;
        if loaded != t.rows {
            return Err(Error::corrupt(format!("table {name}: loaded {loaded} rows but the backup holds {}", t.rows)));
        }
        events.info(&format!("table {name}: {loaded} rows"));
        Ok(())
    }

    /// Runs the system's post-restore fix-ups (and the standby statements) on the loaded content.
    pub async fn fixups(&self, events: Arc<dyn Events>) -> Result<Vec<FixupReport>> {
        let mut fixups = self.system.post_restore(self.targets, self.session.dialect());
        fixups.extend(self.standby.iter().cloned());
        if fixups.is_empty() {
            return Ok(Vec::new());
        }
        events.phase(&format!("fixing up the restored {}", self.system.name()), Some(fixups.len() as u64), Unit::Items);
        let mut out = Vec::with_capacity(fixups.len());
        for f in fixups {
            let rows = self.session.execute(&f.sql).await.with_context(|| format!("fix-up {:?}", f.what))?;
            events.info(&format!("{}: {rows} rows", f.what));
            out.push(FixupReport { what: f.what, rows });
            events.advance(1);
        }
        events.phase_done();
        Ok(out)
    }
}

/// Reads every table whose secrets the restore re-encrypts and re-encrypts them without loading
/// anything, so a key that cannot decrypt them is reported (naming the first row) before the
/// target is touched.
pub(super) async fn check_secrets(repo: &Repository, manifest: &Manifest, system: &dyn System, rekey: &Rekey, events: Arc<dyn Events>) -> Result<()> {
    events.phase("checking that the source site's key opens every secret", None, Unit::Items);
    let plan = Plan {
        system,
        rewriter: None,
        source_encoding: manifest.snapshot.row_encoding,
        source_charset: manifest.schema.charset.as_deref(),
        engines: None,
        rekey: Some(rekey),
    };
    for t in &manifest.tables {
        if system.secret_rewriter(&t.table, rekey).is_none() {
            continue;
        }
        let Some(tf) = TableTransform::new(&plan, &t.table, &t.table, &[]) else { continue };
        for c in &t.chunks {
            tf.apply(&repo.get_chunk(c).await?)?;
        }
    }
    events.phase_done();
    Ok(())
}
