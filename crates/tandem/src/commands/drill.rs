//! `tandem drill` and `tandem drills list|show`.

use tandem_core::drill::DrillKind;
use tandem_core::DrillReport;
use tandem_error::{Error, Result};

use super::Ctx;
use crate::cli::DrillArgs;
use crate::jobs;
use crate::output;

/// Exit code of a drill with a failed step.
const FAILED: i32 = 1;

pub async fn run(ctx: &Ctx, args: DrillArgs) -> Result<i32> {
    // An unknown site is named before the repository is opened.
    ctx.config.site(&args.site)?;
    let repo = ctx.open_repo().await?;
    let report = match args.switchover {
        true => jobs::switchover_drill_site(&ctx.config, &args.site, (args.stay, args.max_lag), repo, ctx.progress.clone()).await?,
        false => jobs::drill_site(&ctx.config, &args.site, args.scratch.as_deref(), args.keep, repo, ctx.progress.clone()).await?,
    };
    if ctx.json {
        output::json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.ok { 0 } else { FAILED })
}

/// The reports of `site` (every configured site when `None`), oldest first.
async fn reports(ctx: &Ctx, site: Option<&str>) -> Result<Vec<DrillReport>> {
    let repo = ctx.open_repo().await?;
    let sites: Vec<&str> = match site {
        Some(s) => vec![ctx.config.site(s).map(|_| s)?],
        None => ctx.config.sites.keys().map(String::as_str).collect(),
    };
    let mut all = Vec::new();
    for s in sites {
        all.extend(tandem_core::drill::history(&repo, s).await?);
    }
    all.sort_by_key(|r| r.started);
    Ok(all)
}

pub async fn list(ctx: &Ctx, site: Option<&str>) -> Result<i32> {
    let all = reports(ctx, site).await?;
    if ctx.json {
        output::json(&all)?;
        return Ok(0);
    }
    if all.is_empty() {
        println!("no drills yet{}: run `tandem drill SITE`", site.map(|s| format!(" of site {s}")).unwrap_or_default());
        return Ok(0);
    }
    println!("{:<32} {:<10} {:<20} {:<7} {:>9} {:>9} {:<22}", "ID", "SITE", "STARTED", "RESULT", "RPO", "RTO", "BACKUP");
    for r in &all {
        println!(
            "{:<32} {:<10} {:<20} {:<7} {:>9} {:>9} {:<22}",
            r.id,
            r.site,
            r.started.format("%Y-%m-%d %H:%M:%S"),
            if r.ok { "ok" } else { "FAILED" },
            output::seconds(r.rpo_s),
            output::seconds(r.rto_s),
            r.backup.as_deref().unwrap_or("-")
        );
    }
    Ok(0)
}

pub async fn show(ctx: &Ctx, id: &str) -> Result<i32> {
    // A site's name stands for its latest drill.
    let by_site = ctx.config.sites.contains_key(id);
    let all = reports(ctx, by_site.then_some(id)).await?;
    let found = if by_site { all.last() } else { all.iter().find(|r| r.id == id) };
    let report = found.ok_or_else(|| Error::bad_input(format!("no drill {id} in the repository (`tandem drills list` lists them)")))?;
    if ctx.json {
        output::json(report)?;
    } else {
        print_report(report);
    }
    Ok(0)
}

fn print_report(r: &DrillReport) {
    match r.kind {
        DrillKind::Scratch => println!("drill {} of site {} into {}", r.id, r.site, r.scratch),
        DrillKind::Switchover => println!("switchover drill {} of site {} (there and back)", r.id, r.site),
    }
    for s in &r.steps {
        println!("  {} {:<8} {:>7.3}s  {}{}", s.started.format("%H:%M:%S"), s.name, s.took_s, if s.ok { "" } else { "FAILED: " }, s.detail);
    }
    if r.kind == DrillKind::Switchover {
        match (&r.error, r.rto_s) {
            (None, Some(_)) => {
                println!("RPO 0 both ways (each move reached its source's final position); RTO {} (the longer outage)", output::seconds(r.rto_s))
            }
            _ => println!("RPO/RTO - (the drill did not complete)"),
        }
        print_result(r);
        return;
    }
    if let Some(at) = r.snapshot_at {
        println!("RPO {} (the restored snapshot, {}, was that old when the drill started)", output::seconds(r.rpo_s), at.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    match r.rto_s {
        Some(_) => println!("RTO {} (from the start to a usable copy: {} tables, {} rows)", output::seconds(r.rto_s), r.tables, r.rows),
        None => println!("RTO - (no usable copy)"),
    }
    print_result(r);
}

fn print_result(r: &DrillReport) {
    match &r.error {
        None => println!("RESULT: OK"),
        Some(e) => println!("RESULT: FAILED: {e}"),
    }
}
