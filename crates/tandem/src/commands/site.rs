//! `tandem promote`, `tandem fence`, `tandem health`.

use tandem_core::{HealthReport, SiteAction, SiteReport};
use tandem_error::Result;
use tandem_system::{Interrupted, PromoteOptions};

use super::Ctx;
use crate::cli::{FenceArgs, HealthArgs, PromoteArgs};
use crate::output;
use crate::registry;

/// Exit code of an unhealthy site.
const UNHEALTHY: i32 = 1;

pub async fn promote(ctx: &Ctx, args: PromoteArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.target.as_deref(), "--target")?;
    let (engine, url) = registry::engine_for(&url)?;
    let interrupted: Interrupted = args.interrupted.parse().map_err(tandem_error::Error::bad_input)?;
    let epoch = match (args.site.as_deref(), args.target.is_none()) {
        (Some(site), true) => claim_epoch(ctx, site).await?,
        _ => None,
    };
    let opts = PromoteOptions { interrupted, force: args.force };
    let report = tandem_core::promote(registry::registry(), engine, &url, opts, epoch, ctx.progress.clone()).await?;
    print_change(ctx, &report)
}

pub async fn fence(ctx: &Ctx, args: FenceArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.target.as_deref(), "--target")?;
    let (engine, url) = registry::engine_for(&url)?;
    let epoch = match ctx.has_repo() {
        true => ctx.open_repo().await?.current_roles().await?.map(|r| r.epoch),
        false => None,
    };
    let report = tandem_core::fence(registry::registry(), engine, &url, epoch, args.read_only, ctx.progress.clone()).await?;
    print_change(ctx, &report)
}

/// The epoch a promote of `site` gives it: the next one, claimed in the repository (a promote
/// run again after a failure reuses the epoch it claimed); `None` without a repository.
async fn claim_epoch(ctx: &Ctx, site: &str) -> Result<tandem_core::Epoch> {
    if !ctx.has_repo() {
        return Ok(None);
    }
    let repo = ctx.open_repo().await?;
    let current = repo.current_roles().await?;
    if let Some(c) = current.as_ref().filter(|c| c.active == site) {
        return Ok(Some(c.epoch));
    }
    let record = repo.claim_epoch(current.map_or(0, |c| c.epoch), site, "promote").await?;
    Ok(Some(record.epoch))
}

fn print_change(ctx: &Ctx, r: &SiteReport) -> Result<i32> {
    if ctx.json {
        output::json(r)?;
        return Ok(0);
    }
    let c = &r.change;
    let verb = match r.action {
        SiteAction::Fence => "fenced",
        SiteAction::Promote => "promoted",
    };
    let kept = match c.kept.len() {
        0 => String::new(),
        n => format!(", {n} kept as they were at the source"),
    };
    println!("{verb} {} ({}): {} change(s){kept}", r.site, r.system, c.changed.len());
    for ch in &c.changed {
        let dependents = match ch.dependents {
            0 => String::new(),
            n => format!(" ({n} dependent object(s) changed with it)"),
        };
        println!("  {} {}: {} -> {}{dependents}", ch.kind, ch.name, ch.from, ch.to);
    }
    for ch in &c.kept {
        println!("  {} {}: stays {}", ch.kind, ch.name, ch.to);
    }
    for n in &c.notes {
        println!("note: {n}");
    }
    Ok(0)
}

pub async fn health(ctx: &Ctx, args: HealthArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.db.as_deref(), "--db")?;
    let (engine, url) = registry::engine_for(&url)?;
    let report = tandem_core::health(registry::registry(), engine, &url, args.threshold.as_secs_f64()).await;
    if ctx.json {
        output::json(&report)?;
    } else {
        print_health(&report);
    }
    Ok(if report.healthy { 0 } else { UNHEALTHY })
}

fn print_health(r: &HealthReport) {
    println!("{} {}: {}", if r.healthy { "HEALTHY" } else { "UNHEALTHY" }, r.site, r.system.as_deref().unwrap_or("?"));
    for c in &r.health.checks {
        println!("  [{}] {}: {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail);
    }
}
