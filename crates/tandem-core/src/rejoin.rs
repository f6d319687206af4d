//! What a former active site committed that the platform never got: its stray writes.
//!
//! The site that took over was the old site's replica; its checkpoint says up to which position
//! of the old site's log it applied. Every transaction in that log after the position (and
//! before the log's current end) was committed at the old site and never reached the new one.
//! They are read with the same change stream replication uses (from the tables of the backup the
//! replica was bootstrapped from), listed, and never applied anywhere: rejoining the old site as a
//! standby replaces them, so an operator must see them first.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_engine::changes::{Capture, ChangeEvent, RowChange};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::Repository;

use crate::switchover::SwitchoverSite;

/// The longest the old site's log is read.
const READ_LIMIT: Duration = Duration::from_secs(120);

/// One transaction the old site committed after the replica's last applied one.
#[derive(Debug, Clone, Serialize)]
pub struct StrayTransaction {
    pub committed_at: DateTime<Utc>,
    /// The log position after it.
    pub position: String,
    /// Rows changed, by table and operation (`hms.TBLS insert` → 3).
    pub rows: BTreeMap<String, u64>,
}

/// The old site's stray writes: transactions, and a schema change that ends the listing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StrayWrites {
    /// The position of the old site's log the replica had applied up to.
    pub from: String,
    pub transactions: Vec<StrayTransaction>,
    /// A schema change after the position (nothing after it is listed).
    pub schema_change: Option<String>,
}

impl StrayWrites {
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty() && self.schema_change.is_none()
    }
}

/// Lists what `old` committed after the position `new` (its replica until the move, streaming
/// as `capture`) applied. `Ok(None)`: `new` holds no replica checkpoint, so nothing can be
/// told.
pub async fn stray_writes(
    registry: &crate::Registry,
    repo: &Repository,
    old: &SwitchoverSite<'_>,
    new: &SwitchoverSite<'_>,
    capture: &Capture,
) -> Result<Option<StrayWrites>> {
    let Some(checkpoint) = crate::replica_checkpoint(new.engine, &new.url).await? else { return Ok(None) };
    let backup = checkpoint.backup.parse().with_context(|| format!("the backup named by {}'s replica checkpoint", new.name))?;
    let manifest = repo.read_manifest(&backup).await.with_context(|| format!("reading backup {backup}, which {} was bootstrapped from", new.name))?;
    let tables = crate::replicate::pipeline::replicated_tables(registry, &manifest, &checkpoint.scope);
    let names: Vec<String> = tables.iter().map(|t| t.schema.as_ref().map_or(t.name.clone(), |s| format!("{s}.{}", t.name))).collect();
    let mut stream = old
        .engine
        .changes(&old.url, &checkpoint.position, &tables, capture)
        .await
        .with_context(|| format!("reading {}'s log from {}, where {} stopped applying", old.name, checkpoint.position.value, new.name))?;
    let mut out = StrayWrites { from: checkpoint.position.value.clone(), ..StrayWrites::default() };
    let mut part: BTreeMap<String, u64> = BTreeMap::new();
    let count = |rows: &mut BTreeMap<String, u64>, changes: &[RowChange]| {
        for c in changes {
            let table = names.get(c.table).map_or("?", String::as_str);
            *rows.entry(format!("{table} {}", format!("{:?}", c.op).to_lowercase())).or_default() += 1;
        }
    };
    let read = async {
        loop {
            match stream.next().await? {
                ChangeEvent::Part(changes) => count(&mut part, &changes),
                ChangeEvent::Commit(tx) => {
                    let mut rows = std::mem::take(&mut part);
                    count(&mut rows, &tx.changes);
                    // A transaction of tandem's own (a heartbeat's) changes no listed table.
                    if !rows.is_empty() {
                        out.transactions.push(StrayTransaction { committed_at: tx.committed_at, position: tx.position.value, rows });
                    }
                }
                ChangeEvent::SchemaChange { position, statement } => {
                    out.schema_change = Some(format!("at {}: {statement}", position.value));
                    return Ok::<_, Error>(());
                }
                ChangeEvent::Heartbeat { .. } => {}
                ChangeEvent::Idle { .. } => return Ok(()),
            }
        }
    };
    let result = tokio::time::timeout(READ_LIMIT, read).await;
    let _ = stream.close().await;
    match result {
        Ok(r) => r.with_context(|| format!("reading {}'s log", old.name))?,
        Err(_) => return Err(Error::conflict(format!("{}'s log could not be read to its end within {} s", old.name, READ_LIMIT.as_secs()))),
    }
    Ok(Some(out))
}
