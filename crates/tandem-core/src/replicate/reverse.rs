//! A replica without a copy, for the way back of a switchover: the old active site already
//! holds exactly what the new one held when it reached the old site's final position, so it
//! becomes the new site's replica by a checkpoint alone, at the new site's log position of that
//! moment (taken before its promote wrote anything, [`mark`]).
//!
//! The checkpoint names a backup of the new site: only its table definitions are used (the
//! stream's rows are read with them), so it may be older than the switchover as long as the
//! new site's schema has not changed since.

use chrono::Utc;
use tandem_engine::changes::{Capture, Checkpoint, CHECKPOINT_TABLE};
use tandem_engine::role::{Role, SiteRole};
use tandem_engine::{DbUrl, Engine, Position, Scope, SnapshotOptions, Transaction};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::Repository;

use super::pipeline::replicated_tables;
use crate::Registry;

/// The replication that takes the old active site back as a replica of the new one.
#[derive(Debug, Clone)]
pub struct Reverse {
    /// Its names on the new site (slot, publication) and its origin marks.
    pub capture: Capture,
    /// A backup of the new site whose table definitions the stream is read with.
    pub backup: String,
    /// The tables whose rows are replicated (the new site's own scope as a replica).
    pub scope: Scope,
}

/// Where a stream from `url` must start to deliver everything the site commits from now on:
/// made on the site first when the engine keeps something there (a PostgreSQL slot), else its
/// current log position. Nothing may write into the site meanwhile (it is held or fenced).
pub async fn mark(engine: &dyn Engine, url: &DbUrl, capture: &Capture, scope: &Scope) -> Result<Position> {
    let start = engine.begin_capture(url, capture, scope).await?;
    let position = match &start {
        Some(s) => s.snapshot.position.clone(),
        None => {
            let snapshot = engine.snapshot(url, &SnapshotOptions::parallel(1)).await?;
            let position = snapshot.info().position.clone();
            let _ = snapshot.close().await;
            position
        }
    };
    drop(start);
    if position.kind == tandem_engine::PositionKind::None {
        return Err(Error::bad_input(format!("{url} keeps no change log (binlog off): nothing can stream from it")));
    }
    Ok(position)
}

/// Makes `replica` (a fenced former active site) a standby at `epoch` that streams from
/// `source` at `position` ([`mark`]): stores the checkpoint and the role in one transaction.
/// The checkpoint it stored.
pub async fn start(
    registry: &Registry,
    repo: &Repository,
    (source_engine, source): (&dyn Engine, &DbUrl),
    (replica_engine, replica): (&dyn Engine, &DbUrl),
    reverse: &Reverse,
    position: Position,
    epoch: u64,
) -> Result<Checkpoint> {
    let id = reverse.backup.parse().with_context(|| format!("backup {:?}", reverse.backup))?;
    let manifest = repo.read_manifest(&id).await?;
    let tables = replicated_tables(registry, &manifest, &reverse.scope);
    // The stream must open there (log kept, privileges) before the replica is told to use it.
    let stream =
        source_engine.changes(source, &position, &tables, &reverse.capture).await.with_context(|| format!("streaming from {source} at {}", position.value))?;
    let source_id = stream.source_id().to_string();
    let _ = stream.close().await;
    let now = Utc::now();
    let checkpoint = Checkpoint {
        source: source_id,
        backup: reverse.backup.clone(),
        position,
        committed_at: now,
        applied_at: now,
        stopped: None,
        scope: reverse.scope.clone(),
        heartbeat_at: None,
    };
    let what = || format!("making {} a replica of {source}", replica.database);
    crate::role::ensure_table(replica_engine, replica).await.with_context(what)?;
    ensure_checkpoint_table(replica_engine, replica).await.with_context(what)?;
    let tx = replica_engine.transaction(replica).await?;
    match store(tx.as_ref(), replica, &checkpoint, epoch).await {
        Ok(()) => tx.commit().await.with_context(what)?,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e.context(what()));
        }
    }
    Ok(checkpoint)
}

/// Makes the checkpoint table if the database lacks it. DDL, in a transaction of its own.
async fn ensure_checkpoint_table(engine: &dyn Engine, url: &DbUrl) -> Result<()> {
    let tx = engine.transaction(url).await?;
    let d = tx.dialect();
    let sql =
        format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = {} AND table_schema = {}", d.literal(CHECKPOINT_TABLE), d.current_schema());
    let exists = tx.query(&sql).await?.first().and_then(|r| r.first().cloned().flatten()).is_some_and(|n| n != "0");
    if !exists {
        tx.ddl(&Checkpoint::create_sql(d, None)).await?;
    }
    tx.commit().await
}

/// Stores the checkpoint (nothing else in the table: no pause, no hold) and the standby role,
/// unless the site is active.
async fn store(tx: &dyn Transaction, replica: &DbUrl, checkpoint: &Checkpoint, epoch: u64) -> Result<()> {
    let held = crate::role::lock(tx, &replica.database).await?;
    if let Some(active) = held.as_ref().filter(|h| h.role == Role::Active) {
        return Err(Error::conflict(format!("it is active ({}): it takes writes of its own", active.describe())));
    }
    let d = tx.dialect();
    tx.execute(&format!("DELETE FROM {}", d.ident(CHECKPOINT_TABLE))).await?;
    tx.execute(&checkpoint.insert_sql(d, None)).await?;
    let note = format!("replica from {} (switchover)", checkpoint.position.value);
    crate::role::store(tx, &replica.database, &SiteRole::new(Role::Standby, epoch, &note)).await
}
