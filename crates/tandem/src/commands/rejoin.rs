//! `tandem rejoin SITE`: a former active site becomes a standby of the platform's active site,
//! its stray writes listed and never dropped unseen (see the command's `--help`).

use serde::Serialize;
use tandem_core::rejoin::{StrayTransaction, StrayWrites};
use tandem_engine::changes::Capture;
use tandem_engine::role::Role;
use tandem_error::{Error, Result};

use super::Ctx;
use crate::cli::RejoinArgs;
use crate::{jobs, output, registry};

/// Stray transactions printed at most (the JSON has them all).
const LISTED: usize = 20;

#[derive(Debug, Serialize)]
struct RejoinReport {
    site: String,
    /// The platform's active site, which the site is now a standby of.
    active: String,
    epoch: u64,
    /// Whether rejoin fenced the site (it was still active, or had no role).
    fenced: bool,
    /// What the site committed that the active site never got; `None`: it cannot be told.
    stray_writes: Option<StrayWrites>,
    /// The backup of the active site restored into the site.
    backup: String,
}

pub async fn run(ctx: &Ctx, args: RejoinArgs) -> Result<i32> {
    let name = args.site.as_str();
    let repo = ctx.open_repo().await?;
    let platform = repo.current_roles().await?.ok_or_else(|| {
        Error::bad_input("the repository names no active site (no switchover or failover claimed an epoch): there is nothing to rejoin; nothing was changed")
    })?;
    let active = platform.active.clone();
    if active == name {
        return Err(Error::conflict(format!("{name} is the platform's active site (epoch {}): it cannot rejoin itself; nothing was changed", platform.epoch)));
    }
    let source = ctx.config.site(name)?.source();
    if source != Some(active.as_str()) {
        return Err(Error::bad_input(format!(
            "{name} would be a standby of {active}, the platform's active site, but its `source` is {}: set `source = \"{active}\"` in [sites.{name}] and run again; nothing was changed",
            source.map_or("not set".to_string(), |s| format!("{s:?}"))
        )));
    }
    let (old, new) = (registry::move_side(&ctx.config, name)?, registry::move_side(&ctx.config, &active)?);

    // Nothing may write into it from here on.
    let held = tandem_core::role::read(old.engine, &old.url).await?;
    if let Some(h) = held.as_ref().filter(|h| h.role == Role::Standby && h.epoch == platform.epoch) {
        if !ctx.json {
            println!("{name} is a standby in the platform's epoch already ({}): nothing to do", h.describe());
        }
        return Ok(0);
    }
    // A site with no role, or an active one (of whatever epoch), may still take writes.
    let was = match held.as_ref() {
        None => Some("without a role".to_string()),
        Some(h) if h.role == Role::Active => Some(format!("active at epoch {}", h.epoch)),
        Some(_) => None,
    };
    if let Some(was) = &was {
        tandem_core::fence(registry::registry(), old.engine, &old.url, Some(platform.epoch), true, ctx.progress.clone()).await?;
        if !ctx.json {
            println!("fenced {name} ({was}) at epoch {}: writes stopped", platform.epoch);
        }
    }

    // The replication that fed the active site read this site's log as `active`.
    let capture = Capture::new(&active, name, ctx.config.site(&active)?.publication.clone());
    let stray = tandem_core::rejoin::stray_writes(registry::registry(), &repo, &old, &new, &capture).await?;
    if !ctx.json {
        print_stray(name, &active, stray.as_ref());
    }
    match (&stray, args.discard_stray_writes) {
        (Some(s), false) if !s.is_empty() => {
            return Err(Error::conflict(format!(
                "{name} committed {} transaction(s){} that {active} never got (listed above): rejoining replaces them; copy what must be kept into {active}, then discard the rest",
                s.transactions.len(),
                if s.schema_change.is_some() { " and a schema change" } else { "" }
            ))
            .with_hint(tandem_error::Hint::DiscardStrayWrites));
        }
        (None, false) => {
            return Err(Error::conflict(format!(
                "what {name} committed that {active} never got cannot be listed ({active} holds no replica checkpoint): compare them (`tandem verify`), then discard it"
            ))
            .with_hint(tandem_error::Hint::DiscardStrayWrites));
        }
        _ => {}
    }

    // The copy: a new backup of the active site, restored as this site's standby content.
    let backup = jobs::backup_site(&ctx.config, &active, repo.clone(), ctx.progress.clone()).await?;
    let refreshed = jobs::refresh_site(&ctx.config, name, None, repo, ctx.progress.clone()).await?;
    let report = RejoinReport {
        site: name.to_string(),
        active: active.clone(),
        epoch: platform.epoch,
        fenced: was.is_some(),
        stray_writes: stray,
        backup: refreshed.backup.to_string(),
    };
    if ctx.json {
        output::json(&report)?;
    } else {
        println!(
            "{name} rejoined as a standby of {active} (epoch {}): backup {} restored (taken now, {} tables). Keep it current with `replicate = true` or a `refresh` schedule",
            platform.epoch,
            refreshed.backup,
            backup.manifest.tables.len()
        );
    }
    Ok(0)
}

fn print_stray(name: &str, active: &str, stray: Option<&StrayWrites>) {
    let Some(s) = stray else {
        println!("stray writes of {name}: cannot be listed ({active} holds no replica checkpoint)");
        return;
    };
    if s.is_empty() {
        println!("stray writes of {name}: none ({active} had applied its log up to {}, its end)", s.from);
        return;
    }
    println!("stray writes of {name} after {} (what {active} never got):", s.from);
    for t in s.transactions.iter().take(LISTED) {
        println!("  {}", describe(t));
    }
    if s.transactions.len() > LISTED {
        println!("  ... and {} more (--json lists them all)", s.transactions.len() - LISTED);
    }
    if let Some(ddl) = &s.schema_change {
        println!("  schema change {ddl} (nothing after it is listed)");
    }
}

fn describe(t: &StrayTransaction) -> String {
    let rows: Vec<String> = t.rows.iter().map(|(what, n)| format!("{what} {n}")).collect();
    format!("{} at {}: {}", t.committed_at.format("%Y-%m-%d %H:%M:%S UTC"), t.position, rows.join(", "))
}
