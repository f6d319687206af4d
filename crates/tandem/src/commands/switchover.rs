//! `tandem switchover --to SITE` and `tandem failover --to SITE`.

use tandem_core::{FailoverReport, FailoverRequest, FinalCopy, Step, SwitchoverReport, SwitchoverRequest, SwitchoverSite};
use tandem_error::{Error, Result};
use tandem_system::Interrupted;

use super::Ctx;
use crate::cli::{FailoverArgs, SwitchoverArgs};
use crate::hooks::{self, Promoted};
use crate::output;
use crate::{jobs, registry};

/// The two sites of a move to `to`: its `source`, and itself.
fn sites(ctx: &Ctx, to: &str) -> Result<(SwitchoverSite<'static>, SwitchoverSite<'static>)> {
    let from = ctx.config.site(to)?.source().ok_or_else(|| Error::bad_input(format!("site {to} has no source: there is no site to move from")))?;
    Ok((registry::move_side(&ctx.config, from)?, registry::move_side(&ctx.config, to)?))
}

pub async fn run(ctx: &Ctx, args: SwitchoverArgs) -> Result<i32> {
    let (from, to) = sites(ctx, &args.to)?;
    let interrupted: Interrupted = args.interrupted.parse().map_err(Error::bad_input)?;
    let db = to.url.clone();
    let repo = ctx.open_repo().await?;
    // A standby kept by refresh gets the fenced site's final state by a backup and a refresh.
    let (from_name, to_name, copy_repo) = (from.name.clone(), to.name.clone(), repo.clone());
    let copy: FinalCopy = Box::new(move || {
        Box::pin(async move {
            let backup = jobs::backup_site(&ctx.config, &from_name, copy_repo.clone(), ctx.progress.clone()).await?;
            let refreshed = jobs::refresh_site(&ctx.config, &to_name, None, copy_repo, ctx.progress.clone()).await?;
            Ok(format!("backup {} of {from_name} restored into {to_name} (as of {})", backup.manifest.id, refreshed.snapshot_at.format("%H:%M:%S UTC")))
        })
    });
    let reverse = match args.reverse {
        true => Some(jobs::reverse_into_source(&ctx.config, &args.to, repo.clone(), ctx.progress.clone()).await?),
        false => None,
    };
    let req = SwitchoverRequest {
        registry: registry::registry(),
        repo,
        from,
        to,
        max_lag: args.max_lag,
        interrupted,
        dry_run: args.dry_run,
        copy: Some(copy),
        reverse,
        feeding: None,
    };
    let report = tandem_core::switchover(req, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
    } else {
        print(&report);
    }
    if !report.dry_run {
        let moved = Promoted { event: "switchover", site: report.to.clone(), from: report.from.clone(), epoch: report.epoch, db };
        hook(ctx, &moved).await?;
    }
    Ok(0)
}

/// Posts the move to the webhook and runs the promoted site's `on-promote` hook; the hook's
/// failure is an error that says the move is done.
async fn hook(ctx: &Ctx, moved: &Promoted) -> Result<()> {
    if let Some(url) = &ctx.config.serve.webhook {
        if !hooks::post(url.get_ref(), moved).await {
            eprintln!("warning: the webhook could not be told of the {} (the move is done)", moved.event);
        }
    }
    let command = ctx.config.site(&moved.site)?.on_promote.as_deref();
    match hooks::on_promote(command, moved).await {
        Ok(Some(out)) if !ctx.json => {
            println!("on-promote hook of {} ran{}", moved.site, if out.is_empty() { String::new() } else { format!(": {out}") });
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e.context(format!("the {} to {} at epoch {} is done", moved.event, moved.site, moved.epoch))),
    }
}

pub async fn failover(ctx: &Ctx, args: FailoverArgs) -> Result<i32> {
    let (from, to) = sites(ctx, &args.to)?;
    let interrupted: Interrupted = args.interrupted.parse().map_err(Error::bad_input)?;
    let db = to.url.clone();
    let req = FailoverRequest { registry: registry::registry(), repo: ctx.open_repo().await?, from, to, max_lag: args.max_lag, force: args.force, interrupted };
    let r = tandem_core::failover(req, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&r)?;
    } else {
        print_steps(&r.steps);
        print_failover(&r);
    }
    hook(ctx, &Promoted { event: "failover", site: r.to.clone(), from: r.from.clone(), epoch: r.epoch, db }).await?;
    Ok(0)
}

pub(super) fn print_steps(steps: &[Step]) {
    for s in steps {
        println!("{:>8.3} s  {:<48} {:>7.3} s  {}", s.at_ms as f64 / 1000.0, s.step, s.took_ms as f64 / 1000.0, s.detail);
    }
}

fn print_failover(r: &FailoverReport) {
    let rpo = match r.rpo_seconds {
        Some(s) => format!("at most {s:.1} s of {}'s history", r.from),
        None => "unknown (a standby kept by refresh: what its last refresh held)".into(),
    };
    println!("failed over from {} to {} at epoch {}: RPO {rpo}, RTO {:.3} s", r.from, r.to, r.epoch, r.rto_ms as f64 / 1000.0);
    if !r.fenced {
        println!("{} was not fenced: fence it before it takes writes again (`tandem fence {} --read-only`)", r.from, r.from);
    }
}

fn print(r: &SwitchoverReport) {
    print_steps(&r.steps);
    if r.dry_run {
        let lag = r.lag_seconds.map_or("kept by refresh: its final state would be copied".to_string(), |l| format!("{l:.1} s behind"));
        println!("dry run: {} ({lag}) can take over from {} at epoch {}; nothing was changed", r.to, r.from, r.epoch);
        return;
    }
    let how = match &r.final_position {
        Some(p) => format!("{} reached {}'s final position {p}", r.to, r.from),
        None => format!("{}'s final state was copied into {}", r.from, r.to),
    };
    println!(
        "switched over from {} to {} at epoch {}: RPO 0 ({how}), RTO {:.3} s (writes stopped until the promote)",
        r.from,
        r.to,
        r.epoch,
        r.rto_ms.unwrap_or(0) as f64 / 1000.0
    );
    match &r.reversed_at {
        Some(at) => println!(
            "{} is a standby of {} streaming from {at} (no copy): set `source = \"{}\"` in its config section and replicate it (`tandem replicate {}` or `replicate = true`)",
            r.from, r.to, r.to, r.from
        ),
        None => println!(
            "{} is fenced (read-only). To make it a standby of {}: set `source = \"{}\"` in its config section and run `tandem rejoin {}`",
            r.from, r.to, r.to, r.from
        ),
    }
}
