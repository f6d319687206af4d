//! Refresh: bring a standby site up to the newest backup of its source.
//!
//! A refresh is a restore with `--force` (the old content is replaced only once the new one is
//! complete: the target shows either the old or the new state, never a mix) and, for systems
//! with a standby mode (Airflow), `--standby` semantics. It refuses a target that is an
//! *active* site of such a system (promoted, or never made a standby): overwriting the site the
//! platform runs on would lose its work. Fence it first to make it a standby again. The check
//! is made again atomically with the replacement (the standby marker is the restore's
//! [`Replace::IfHolds`] guard), so a promote that lands while a refresh runs always wins.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_engine::role::Role;
use tandem_engine::{DbUrl, Engine, Replace};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, Manifest, Repository};
use tandem_system::{LocationMap, SiteKeys};

use crate::{restore, Events, Registry, RestoreReport, RestoreRequest};

/// Which backups count as the source's.
#[derive(Debug, Clone)]
pub struct SourceFilter {
    /// Backups taken of this site (by name)...
    pub site: String,
    /// ...or of this database (same server and database, whatever the credentials), when given.
    pub url: Option<DbUrl>,
}

impl SourceFilter {
    fn matches(&self, m: &Manifest) -> bool {
        let same_db = || self.url.as_ref().is_some_and(|u| DbUrl::parse(&m.source).is_ok_and(|s| s.same_database(u)));
        (!self.site.is_empty() && m.site == self.site) || same_db()
    }
}

/// Everything a refresh needs.
pub struct RefreshRequest<'a> {
    pub engine: &'a dyn Engine,
    pub registry: &'a Registry,
    pub target: DbUrl,
    pub repo: Repository,
    pub source: SourceFilter,
    pub locations: LocationMap,
    pub require_mapped: bool,
    /// The source's and the standby's keys for the system's secrets (both or neither).
    pub keys: SiteKeys,
    /// What the standby holds: nothing is restored if the newest backup of the source is that
    /// backup or has the same content (see [`Manifest::same_content`]), and the standby's
    /// content was made with the same settings (see [`RefreshRequest::settings_digest`]).
    pub held: Option<Held>,
    /// The tables whose rows the standby holds (the others are created empty).
    pub scope: tandem_engine::Scope,
    /// The role that owns the restored objects (see [`RestoreRequest::owner`]).
    pub owner: Option<String>,
}

/// The backup a standby holds and the settings its content was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub backup: BackupId,
    /// [`RefreshRequest::settings_digest`] of the refresh that restored it.
    pub settings: String,
}

impl RefreshRequest<'_> {
    /// A digest of everything besides the backup that decides what the standby holds: the
    /// target database and engine, the source, the location map, the scope, the owner and the
    /// keys. A standby whose settings changed (another database, a new map) is restored again
    /// even if it holds the newest backup. The keys are hashed in, never stored: the digest
    /// goes into the daemon's job history.
    pub fn settings_digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        let parts = [
            self.engine.name().to_string(),
            format!("{:?}", self.target),
            format!("{:?}", self.source),
            format!("{:?}", self.locations),
            self.require_mapped.to_string(),
            format!("{:?}", self.scope),
            format!("{:?}", self.owner),
        ];
        let keys = [&self.keys.source, &self.keys.target].map(|k| k.as_ref().map(|k| k.expose().to_string()).unwrap_or_default());
        for part in parts.iter().chain(keys.iter()) {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().to_hex()[..32].to_string()
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// The backup the standby holds now.
    pub backup: BackupId,
    /// When that backup's snapshot started: the standby shows the source as of (just after) then.
    pub snapshot_at: DateTime<Utc>,
    /// Whether the target's system was made passive (systems with a standby mode); its role is
    /// standby in any case.
    pub standby: bool,
    /// The restore, or `None` when the standby already held the newest backup or its content.
    pub restore: Option<RestoreReport>,
    /// The backup the standby held when the newest has the same content: nothing was restored
    /// (no swap under the standby's readers), and the standby now counts as holding the newest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_content_as: Option<BackupId>,
    /// The refresh's [`RefreshRequest::settings_digest`].
    pub settings: String,
}

/// The newest backup of the source, if any. Reads manifests newest first until one matches.
pub async fn newest_backup_of(repo: &Repository, source: &SourceFilter) -> Result<Option<Manifest>> {
    for id in repo.list_backups().await?.iter().rev() {
        let m = repo.read_manifest(id).await?;
        if source.matches(&m) {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// Restores the newest backup of the source into the standby (see the module doc).
pub async fn refresh(req: RefreshRequest<'_>, events: Arc<dyn Events>) -> Result<RefreshReport> {
    let what = format!("refresh of {} from site {}", req.target, req.source.site);
    let manifest = newest_backup_of(&req.repo, &req.source)
        .await
        .with_context(|| what.clone())?
        .ok_or_else(|| Error::bad_input(format!("{what}: repository {} holds no backup of site {} yet", req.repo.url(), req.source.site)))?;
    let system = req.registry.system_named(&manifest.system.name).filter(|s| s.standby_table().is_some());
    // An unknown system: restore names it.
    let standby = system.is_some();
    // The site's role decides (the restore refuses an active site, also at its swap); a site
    // without one made by an older tandem is judged by its system's standby marker.
    let mut replace = Replace::Always;
    let state = req.engine.target(&req.target).await?.inspect().await.with_context(|| what.clone())?;
    let role = match state.relations.is_empty() {
        true => None,
        false => crate::role::read(req.engine, &req.target).await.with_context(|| what.clone())?,
    };
    if let Some(active) = role.as_ref().filter(|r| r.role == Role::Active) {
        return Err(Replace::active_site(&req.target.database, active).context(what));
    }
    if let Some((system, marker)) = system.and_then(|s| Some((s, s.standby_table()?))).filter(|_| role.is_none()) {
        if refuse_active_site(req.engine, &req.target, system, marker, "").await.with_context(|| what.clone())? {
            replace = Replace::IfHolds(marker.to_string());
        }
    }
    let snapshot_at = manifest.started;
    let settings = req.settings_digest();
    if let Some(held) = req.held.as_ref().filter(|h| h.settings == settings) {
        let skip =
            |same_content_as| RefreshReport { backup: manifest.id.clone(), snapshot_at, standby, restore: None, same_content_as, settings: settings.clone() };
        if held.backup == manifest.id {
            return Ok(skip(None));
        }
        // A held backup that is gone (pruned) or unreadable: restore as usual.
        if req.repo.read_manifest(&held.backup).await.is_ok_and(|m| m.same_content(&manifest)) {
            return Ok(skip(Some(held.backup.clone())));
        }
    }
    let (engine, target) = (req.engine, req.target.clone());
    let restored = restore(
        RestoreRequest {
            backup: Some(manifest.id.clone()),
            replace: replace.clone(),
            locations: req.locations,
            require_mapped: req.require_mapped,
            standby: true,
            keys: req.keys,
            scope: req.scope,
            owner: req.owner,
            ..RestoreRequest::new(req.engine, req.registry, req.target, req.repo)
        },
        events,
    )
    .await;
    let restored = match (restored, system, replace.guard()) {
        // The guard was lost: say why in the system's words when the site is active now.
        (Err(e), Some(system), Some(marker)) if e.kind() == tandem_error::Kind::Conflict => {
            refuse_active_site(engine, &target, system, marker, " while this refresh ran").await.with_context(|| what.clone())?;
            return Err(e);
        }
        (r, ..) => r?,
    };
    Ok(RefreshReport { backup: manifest.id, snapshot_at, standby, restore: Some(restored), same_content_as: None, settings })
}

/// Conflict if the target holds the system but not its standby marker: an active site
/// (`when` tells since when, for the message). Whether the target holds the marker.
async fn refuse_active_site(engine: &dyn Engine, url: &DbUrl, system: &dyn tandem_system::System, marker: &str, when: &str) -> Result<bool> {
    let state = engine.target(url).await?.inspect().await?;
    let has_marker = state.relations.iter().any(|r| r.rsplit('.').next().is_some_and(|n| n.eq_ignore_ascii_case(marker)));
    if system.recognizes(&state.relations) && !has_marker {
        return Err(Error::conflict(format!(
            "database {} holds {} that is active (it has no {marker} table: it was promoted{when}, or never restored as a standby); \
             a refresh would overwrite the site the platform runs on. Fence it first (`tandem fence`) if it should be a \
             standby again; nothing was changed",
            url.database,
            system.describe()
        )));
    }
    Ok(has_marker)
}
