//! A replica's first copy: a backup of the source (a new one or one in the repository), restored with the
//! checkpoint at the backup's log position (see the module doc of [`super`]).

use std::sync::Arc;

use chrono::Utc;
use tandem_engine::changes::Checkpoint;
use tandem_engine::{DbUrl, Engine, PositionKind, Replace};
use tandem_error::{Error, Hint, Result, ResultExt};
use tandem_repo::Manifest;

use super::{ReplicateRequest, Seed};
use crate::refresh::{newest_backup_of, SourceFilter};
use crate::{backup, restore, BackupRequest, Events, RestoreRequest, SystemChoice};

/// Bootstraps the replica; returns the checkpoint it now holds. `replica` says whether the
/// target is a replica already (holds a checkpoint): any other non-empty target is refused
/// unless a rebootstrap was asked for. A failed bootstrap from a new backup removes what it made
/// on the source (a slot nobody streams from would keep the source's log forever).
pub(super) async fn bootstrap(
    req: &ReplicateRequest<'_>,
    source: &dyn Engine,
    target: &dyn Engine,
    replica: bool,
    events: Arc<dyn Events>,
) -> Result<Checkpoint> {
    let made = bootstrap_from_seed(req, source, target, replica, events).await;
    if made.is_err() && req.seed == Seed::Fresh {
        if let Err(e) = source.drop_capture(&req.source, &req.capture).await {
            tracing::warn!("removing what the failed bootstrap made on the source: {e}");
        }
    }
    made
}

async fn bootstrap_from_seed(
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
    let manifest = seed(req, source, events.clone()).await?;
    let position = manifest.snapshot.position.clone();
    if position.kind == PositionKind::None {
        return Err(Error::bad_input(format!("{} keeps no change log (binlog off): there is nothing to stream from", req.source)));
    }
    // The stream must open at the position (settings, privileges, log kept) before the replica
    // is touched.
    let tables = super::pipeline::replicated_tables(req.registry, &manifest, &req.scope);
    let stream = source
        .changes(&req.source, &position, &tables, &req.capture)
        .await
        .with_context(|| format!("streaming from the position of backup {}", manifest.id))?;
    let source_id = stream.source_id().to_string();
    let _ = stream.close().await;
    let checkpoint = Checkpoint {
        source: source_id,
        backup: manifest.id.to_string(),
        position,
        committed_at: manifest.started,
        applied_at: Utc::now(),
        stopped: None,
        scope: req.scope.clone(),
        heartbeat_at: None,
    };
    events.info(&format!("bootstrapping: restoring backup {} into {}", manifest.id, req.target));
    let restored = RestoreRequest {
        backup: Some(manifest.id.clone()),
        replace: Replace::Always,
        locations: req.locations.clone(),
        keys: req.keys.clone(),
        checkpoint: Some(checkpoint.clone()),
        scope: req.scope.clone(),
        // A replica is a standby: its role says so, a system with a standby mode is made
        // passive, and the stream keeps it so.
        standby: true,
        origin: Some(req.capture.marks.clone()),
        owner: req.owner.clone(),
        ..RestoreRequest::new(target, req.registry, req.target.clone(), req.repo.clone())
    };
    restore(restored, events).await?;
    Ok(checkpoint)
}

/// The backup the replica starts from: a new one, or the seed the request names.
async fn seed(req: &ReplicateRequest<'_>, source: &dyn Engine, events: Arc<dyn Events>) -> Result<Manifest> {
    let manifest = match &req.seed {
        Seed::Fresh => {
            // Where the stream will start, made on the source first when the engine needs it
            // (a PostgreSQL slot, whose snapshot the backup reads).
            let start = source.begin_capture(&req.source, &req.capture, &req.scope).await?;
            events.info(&format!("bootstrapping: a backup of {} into {}", req.source, req.repo.url()));
            let taken = BackupRequest {
                engine: source,
                registry: req.registry,
                source: req.source.clone(),
                repo: req.repo.clone(),
                system: SystemChoice::Auto,
                site: req.site.clone(),
                parallelism: 2,
                snapshot: start.as_ref().map(|s| s.snapshot.clone()),
            };
            let taken = backup(taken, events).await;
            drop(start);
            return Ok(taken?.manifest);
        }
        Seed::Backup(Some(id)) => req.repo.read_manifest(id).await?,
        Seed::Backup(None) => {
            let filter = SourceFilter { site: req.site.clone(), url: Some(req.source.clone()) };
            let newest = newest_backup_of(&req.repo, &filter).await?;
            newest.ok_or_else(|| Error::bad_input(format!("repository {} holds no backup of site {} to start from", req.repo.url(), req.site)))?
        }
    };
    let id = &manifest.id;
    if !DbUrl::parse(&manifest.source).is_ok_and(|u| u.same_database(&req.source)) && manifest.site != req.site {
        return Err(Error::bad_input(format!("backup {id} is of site {:?} ({}), not of site {}", manifest.site, manifest.source, req.site)));
    }
    events.info(&format!("bootstrapping from backup {id} of {} (taken {})", req.site, manifest.started.format("%Y-%m-%d %H:%M:%S UTC")));
    Ok(manifest)
}
