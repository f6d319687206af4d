//! The jobs a site has, shared by the one-shot commands (`tandem backup SITE`,
//! `tandem refresh SITE`) and the daemon (`tandem serve`): what a job does is decided here once,
//! from the site's config.

use std::sync::Arc;

use tandem_core::{
    BackupReport, DrillReport, DrillRequest, Events, Held, PruneReport, RefreshReport, RefreshRequest, ReplicaStatus, ReplicateReport, ReplicateRequest, Seed,
    SourceFilter, SystemChoice,
};
use tandem_error::{Error, Result};
use tandem_repo::Repository;
use tandem_system::SiteKeys;

use crate::config::Config;
use crate::registry;

/// Tables a scheduled backup copies at once.
pub const PARALLEL: usize = 2;

/// The system a site's `system` names (`auto` when absent).
pub fn system_choice(name: Option<&str>) -> SystemChoice {
    match name {
        None | Some("auto") => SystemChoice::Auto,
        Some(name) => SystemChoice::Named(name.to_string()),
    }
}

/// Backs `url` up as site `site` (empty: a bare URL).
pub async fn backup(url: &str, system: SystemChoice, site: &str, parallel: usize, repo: Repository, events: Arc<dyn Events>) -> Result<BackupReport> {
    let (engine, source) = registry::engine_for(url)?;
    let req = tandem_core::BackupRequest {
        engine,
        registry: registry::registry(),
        source,
        repo,
        system,
        site: site.to_string(),
        parallelism: parallel,
        snapshot: None,
    };
    tandem_core::backup(req, events).await
}

/// Backs up the configured site `name`.
pub async fn backup_site(config: &Config, name: &str, repo: Repository, events: Arc<dyn Events>) -> Result<BackupReport> {
    let site = config.site(name)?;
    backup(site.db_url(), system_choice(site.system.as_deref()), name, PARALLEL, repo, events).await
}

/// Applies the config's `[retention]` policy, if any.
pub async fn apply_retention(config: &Config, repo: &Repository, events: Arc<dyn Events>) -> Result<Option<PruneReport>> {
    let Some(r) = &config.retention else { return Ok(None) };
    let policy = tandem_core::RetentionPolicy { keep_last: *r.keep_last.get_ref(), keep_daily: r.keep_daily };
    tandem_core::prune(repo, policy, r.grace_duration, false, events).await.map(Some)
}

/// Restores the newest backup of the site's `source` into site `name` (see
/// [`tandem_core::refresh`]); nothing when the site `held` it, or its content, with the same
/// settings.
pub async fn refresh_site(config: &Config, name: &str, held: Option<Held>, repo: Repository, events: Arc<dyn Events>) -> Result<RefreshReport> {
    let source_name = source_of(config, name, "a refresh restores the newest backup of the site's source")?;
    let target = tandem_engine::DbUrl::parse(config.site(name)?.db_url())?;
    let req = RefreshRequest { held, ..restore_as(config, name, source_name, target, repo)? };
    tandem_core::refresh(req, events).await
}

/// Drills site `name` (see [`tandem_core::drill`]): the backup a refresh would restore into it
/// (a site without a `source`: its own newest), restored into `scratch` (default: the site's
/// `drill-scratch`, else `<database>_tandem_drill` next to the site's), checked and dropped; the
/// report is recorded in the repository. `scratch` may not be a configured site's database.
pub async fn drill_site(config: &Config, name: &str, scratch: Option<&str>, keep: bool, repo: Repository, events: Arc<dyn Events>) -> Result<DrillReport> {
    let site = config.site(name)?;
    let (engine, site_db) = registry::engine_for(site.db_url())?;
    let scratch = registry::scratch_url(scratch.or(site.drill_scratch_url()), engine, &site_db, "_tandem_drill", &format!("site {name}"))?;
    for (other, site) in &config.sites {
        if tandem_engine::DbUrl::parse(site.db_url()).is_ok_and(|u| u.same_database(&scratch)) {
            return Err(Error::bad_input(format!("the scratch database of a drill is site {other}'s database {scratch}: a drill needs a database of its own")));
        }
    }
    let source_name = site.source().unwrap_or(name);
    let refresh = restore_as(config, name, source_name, scratch, repo.clone())?;
    let report = tandem_core::drill(DrillRequest { site: name.to_string(), refresh, keep }, events).await?;
    tandem_core::drill::record(&repo, &report).await?;
    Ok(report)
}

/// Drills a switchover of site `name` (a replica of its `source`, the active site) and back (see
/// [`tandem_core::drill::switchover_drill`]): a backup of the site first (the way back's table
/// definitions), the way back's location map the inverse of the site's; the report is recorded
/// in the repository.
pub async fn switchover_drill_site(
    config: &Config,
    name: &str,
    timing: (std::time::Duration, std::time::Duration),
    repo: Repository,
    events: Arc<dyn Events>,
) -> Result<DrillReport> {
    let site = config.site(name)?;
    let source_name = source_of(config, name, "a switchover drill moves the platform from the site's source to the site and back")?;
    let back_locations = config.location_map(Some(name), &[])?.inverse()?;
    let back = reverse_into_source(config, name, repo.clone(), events.clone()).await?;
    let (stay, max_lag) = timing;
    let req = tandem_core::drill::SwitchoverDrill {
        registry: registry::registry(),
        repo: repo.clone(),
        active: registry::move_side(config, source_name)?,
        replica: registry::move_side(config, name)?,
        capture: site.capture(name),
        back,
        back_locations,
        back_keys: site_keys(config, name, source_name)?,
        back_owner: config.site(source_name)?.owner.clone(),
        stay,
        max_lag,
        interrupted: tandem_system::Interrupted::Leave,
    };
    let report = tandem_core::drill::switchover_drill(req, events).await?;
    tandem_core::drill::record(&repo, &report).await?;
    Ok(report)
}

/// How the source of site `name` becomes `name`'s replica at a switchover (see
/// [`tandem_core::Reverse`]): a backup of `name` taken now (its table definitions), the
/// replication of `name` into its source, the rows of `name`'s scope.
pub async fn reverse_into_source(config: &Config, name: &str, repo: Repository, events: Arc<dyn Events>) -> Result<tandem_core::Reverse> {
    let site = config.site(name)?;
    let source_name = source_of(config, name, "only a site with a source can make it its replica")?;
    let backup = backup_site(config, name, repo, events).await?;
    Ok(tandem_core::Reverse {
        capture: tandem_engine::changes::Capture::new(source_name, name, None),
        backup: backup.manifest.id.to_string(),
        scope: site.scope.clone(),
    })
}

/// How the newest backup of `source_name` is restored as site `name` (its location map, keys,
/// scope and owner) into `target`.
fn restore_as<'a>(config: &Config, name: &str, source_name: &str, target: tandem_engine::DbUrl, repo: Repository) -> Result<RefreshRequest<'a>> {
    let site = config.site(name)?;
    let (engine, _) = registry::engine_for(site.db_url())?;
    let source_url = tandem_engine::DbUrl::parse(config.site(source_name)?.db_url())?;
    Ok(RefreshRequest {
        engine,
        registry: registry::registry(),
        target,
        repo,
        source: SourceFilter { site: source_name.to_string(), url: Some(source_url) },
        locations: config.location_map(Some(name), &[])?,
        require_mapped: false,
        keys: site_keys(config, source_name, name)?,
        held: None,
        scope: site.scope.clone(),
        owner: site.owner.clone(),
    })
}

/// The site's `source`, or BadInput saying what `job` needs it for.
fn source_of<'c>(config: &'c Config, name: &str, job: &str) -> Result<&'c str> {
    config.site(name)?.source().ok_or_else(|| Error::bad_input(format!("site {name} has no `source`: {job} (add `source = \"SITE\"` to [sites.{name}])")))
}

/// Streams the changes of the site's `source` into site `name` until `stop` turns true (see
/// [`tandem_core::replicate`]).
/// How a replication run starts (see [`ReplicateRequest`]); the default goes on from the
/// replica's checkpoint, or bootstraps as the site's config says.
#[derive(Debug, Default)]
pub struct ReplicaStart {
    pub rebootstrap: bool,
    /// Overrides the site's `seed`.
    pub seed: Option<Seed>,
}

pub async fn replicate_site(
    config: &Config,
    name: &str,
    start: ReplicaStart,
    repo: Repository,
    events: Arc<dyn Events>,
    stop: tokio::sync::watch::Receiver<bool>,
    status: tokio::sync::watch::Sender<ReplicaStatus>,
) -> Result<ReplicateReport> {
    let site = config.site(name)?;
    let source_name = source_of(config, name, "replication streams the changes of the site's source")?;
    let source = config.site(source_name)?;
    let req = ReplicateRequest {
        registry: registry::registry(),
        site: source_name.to_string(),
        source: tandem_engine::DbUrl::parse(source.db_url())?,
        target: tandem_engine::DbUrl::parse(site.db_url())?,
        repo,
        locations: config.location_map(Some(name), &[])?,
        keys: site_keys(config, source_name, name)?,
        rebootstrap: start.rebootstrap,
        seed: start.seed.unwrap_or_else(|| site.seed()),
        scope: site.scope.clone(),
        capture: site.capture(name),
        owner: site.owner.clone(),
        stop,
    };
    tandem_core::replicate(req, events, status).await
}

/// The keys of a refresh from one site into another: both or neither must be configured.
fn site_keys(config: &Config, source_name: &str, target_name: &str) -> Result<SiteKeys> {
    let key = |n: &str| config.site_key(Some(n), None, "-");
    let keys = SiteKeys { source: key(source_name), target: key(target_name) };
    if keys.source.is_some() != keys.target.is_some() {
        return Err(Error::bad_input(format!(
            "sites {source_name} and {target_name}: give both sites a fernet-key (secrets are re-encrypted from one to the other) or neither"
        )));
    }
    Ok(keys)
}
