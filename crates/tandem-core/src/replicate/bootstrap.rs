//! A replica's first copy: a backup of the source (or an existing one), restored with the
//! checkpoint at the backup's log position (see the module doc of [`super`]).

use std::sync::Arc;

use chrono::Utc;
use tandem_engine::changes::Checkpoint;
use tandem_engine::{Engine, PositionKind, Replace};
use tandem_error::{Error, Hint, Result};

use super::ReplicateRequest;
use crate::{backup, restore, BackupRequest, Events, RestoreRequest, SystemChoice};

/// Bootstraps the replica; returns the checkpoint it now holds. `replica` says whether the
/// target is a replica already (holds a checkpoint): any other non-empty target is refused
/// unless a rebootstrap was asked for.
pub(super) async fn bootstrap(
    req: &ReplicateRequest<'_>,
    source: &dyn Engine,
    target: &dyn Engine,
    replica: bool,
    events: Arc<dyn Events>,
) -> Result<Checkpoint> {
    let state = target.target(&req.target).await?.inspect().await?;
    if !state.relations.is_empty() && !replica && !req.rebootstrap {
        return Err(Error::conflict(format!(
            "target database {} is not empty ({} relations) and is no replica (it has no {} table); nothing was changed",
            req.target.database,
            state.relations.len(),
            tandem_engine::changes::CHECKPOINT_TABLE
        ))
        .with_hint(Hint::Rebootstrap));
    }
    events.info(&format!("bootstrapping: a backup of {} into {}", req.source, req.repo.url()));
    let taken = BackupRequest {
        engine: source,
        registry: req.registry,
        source: req.source.clone(),
        repo: req.repo.clone(),
        system: SystemChoice::Auto,
        site: req.site.clone(),
        parallelism: 2,
    };
    let manifest = backup(taken, events.clone()).await?.manifest;
    if let Some(system) = req.registry.system_named(&manifest.system.name) {
        super::pipeline::refuse_standby_systems(system)?;
    }
    let position = manifest.snapshot.position.clone();
    if position.kind == PositionKind::None {
        return Err(Error::bad_input(format!("{} keeps no change log (binlog off): there is nothing to stream from", req.source)));
    }
    // The stream must open at the position (settings, privileges, log kept) before the replica
    // is touched.
    let tables: Vec<_> = manifest.tables.iter().map(|t| t.table.clone()).collect();
    let stream = source.changes(&req.source, &position, &tables).await?;
    let source_id = stream.source_id().to_string();
    let _ = stream.close().await;
    let checkpoint =
        Checkpoint { source: source_id, backup: manifest.id.to_string(), position, committed_at: manifest.started, applied_at: Utc::now(), stopped: None };
    events.info(&format!("bootstrapping: restoring backup {} into {}", manifest.id, req.target));
    let restored = RestoreRequest {
        backup: Some(manifest.id.clone()),
        replace: Replace::Always,
        locations: req.locations.clone(),
        keys: req.keys.clone(),
        checkpoint: Some(checkpoint.clone()),
        ..RestoreRequest::new(target, req.registry, req.target.clone(), req.repo.clone())
    };
    restore(restored, events).await?;
    Ok(checkpoint)
}
