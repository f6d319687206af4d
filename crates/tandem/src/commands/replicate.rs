//! `tandem replicate SITE` and its subcommands (`status`, `pause`, `resume`, `drop`).

use std::time::Duration;

use tandem_core::{ReplicaStatus, Seed};
use tandem_error::{Error, Result};
use tokio::sync::watch;

use super::Ctx;
use crate::cli::{ReplicateArgs, ReplicateCommand};
use crate::{jobs, output, registry};

/// How often the foreground run prints where it stands.
const PRINT_EVERY: Duration = Duration::from_secs(5);

pub async fn run(ctx: &Ctx, args: ReplicateArgs) -> Result<i32> {
    match (args.command, args.site) {
        (Some(ReplicateCommand::Status { site }), _) => status(ctx, &site).await,
        (Some(ReplicateCommand::Pause { site, reason }), _) => switch(ctx, &site, Some(&reason)).await,
        (Some(ReplicateCommand::Resume { site }), _) => switch(ctx, &site, None).await,
        (Some(ReplicateCommand::Drop { site }), _) => drop_capture(ctx, &site).await,
        (None, Some(site)) => stream(ctx, &site, args.rebootstrap, args.from_backup.as_deref()).await,
        (None, None) => Err(Error::bad_input("give the site to replicate into")),
    }
}

async fn stream(ctx: &Ctx, site: &str, rebootstrap: bool, from_backup: Option<&str>) -> Result<i32> {
    let seed = match from_backup {
        None => None,
        Some("latest") => Some(Seed::Backup(None)),
        Some(id) => Some(Seed::Backup(Some(id.parse().map_err(|e: Error| e.context("--from-backup"))?))),
    };
    // The bootstrap's backup goes into the repository, created on first use as by `backup`.
    let repo = ctx.open_or_create_repo().await?;
    let (stop_tx, stop) = watch::channel(false);
    let (status_tx, status_rx) = watch::channel(ReplicaStatus::default());
    let signals = tokio::spawn(async move {
        let signal = crate::serve::shutdown_signal().await;
        eprintln!("{signal}: stopping at the next transaction boundary");
        let _ = stop_tx.send(true);
    });
    let printer = (!ctx.json).then(|| tokio::spawn(print_status(site.to_string(), status_rx)));
    let result = jobs::replicate_site(&ctx.config, site, jobs::ReplicaStart { rebootstrap, seed }, repo, ctx.progress.clone(), stop, status_tx).await;
    signals.abort();
    if let Some(p) = printer {
        p.abort();
    }
    let report = result?;
    if ctx.json {
        output::json(&report)?;
    } else {
        let s = &report.status;
        println!(
            "replication into {site} stopped at {}: {} transactions, {} rows applied{}",
            s.position.as_deref().unwrap_or("?"),
            s.transactions,
            s.rows,
            report.bootstrapped.as_ref().map(|b| format!(" (bootstrapped from backup {b})")).unwrap_or_default()
        );
    }
    Ok(0)
}

/// Prints a status line whenever the state changes, and every [`PRINT_EVERY`].
async fn print_status(site: String, mut rx: watch::Receiver<ReplicaStatus>) {
    let mut last_state = String::new();
    let mut tick = tokio::time::interval(PRINT_EVERY);
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
                if rx.borrow().state == last_state {
                    continue;
                }
            }
            _ = tick.tick() => {}
        }
        let s = rx.borrow().clone();
        last_state = s.state.clone();
        if s.state.is_empty() {
            continue;
        }
        eprintln!(
            "{site}: {} at {}, lag {:.1} s{}, {} transactions / {} rows applied ({:.0} rows/s){}",
            s.state,
            s.position.as_deref().unwrap_or("-"),
            s.lag_seconds,
            s.heartbeat_at.map(|t| format!(" (heartbeat of {})", t.format("%H:%M:%S%.3f"))).unwrap_or_default(),
            s.transactions,
            s.rows,
            s.rows_per_second,
            s.behind_bytes.map(|b| format!(", {b} bytes of log behind")).unwrap_or_default()
        );
    }
}

/// Removes what the site's replica keeps on its source (a PostgreSQL slot and publication).
async fn drop_capture(ctx: &Ctx, site: &str) -> Result<i32> {
    let source = ctx.config.site(site)?.source().ok_or_else(|| Error::bad_input(format!("site {site} has no source: it is no replica")))?;
    let (engine, url) = registry::engine_for(ctx.config.site(source)?.db_url())?;
    let dropped = engine.drop_capture(&url, &ctx.config.site(site)?.capture(site)).await?;
    match (ctx.json, dropped.is_empty()) {
        (true, _) => output::json(&serde_json::json!({ "site": site, "source": source, "dropped": dropped }))?,
        (false, true) => println!("{source} keeps nothing for the replica {site}"),
        (false, false) => {
            println!("dropped {} on {source}; the replica {site} can only go on after `tandem replicate {site} --rebootstrap`", dropped.join(" and "))
        }
    }
    Ok(0)
}

/// Pauses (`reason`) or resumes the site's replication.
async fn switch(ctx: &Ctx, site: &str, reason: Option<&str>) -> Result<i32> {
    let (engine, target) = registry::engine_for(ctx.config.site(site)?.db_url())?;
    tandem_core::set_replica_paused(engine, &target, reason).await?;
    match reason {
        Some(r) => println!("replication into {site} paused ({r}); `tandem replicate resume {site}` goes on from the kept position"),
        None => println!("replication into {site} resumed"),
    }
    Ok(0)
}

/// The replica's checkpoint and pause switch, as stored in it.
async fn status(ctx: &Ctx, site: &str) -> Result<i32> {
    let url = ctx.config.site(site)?.db_url().to_string();
    let (engine, target) = registry::engine_for(&url)?;
    let checkpoint = tandem_core::replica_checkpoint(engine, &target).await?;
    let paused = match checkpoint {
        Some(_) => tandem_core::replica_paused(engine, &target).await?,
        None => None,
    };
    // How long the source keeps the log the replica needs (when the source answers).
    let capture = ctx.config.site(site)?.capture(site);
    let log = match (&checkpoint, ctx.config.site(site)?.source()) {
        (Some(c), Some(source)) => {
            let (engine, url) = registry::engine_for(ctx.config.site(source)?.db_url())?;
            engine.log_retention(&url, &c.position, &capture).await.map_err(|e| e.to_string())
        }
        _ => Ok(None),
    };
    let now = chrono::Utc::now();
    if ctx.json {
        let (log, log_error) = match &log {
            Ok(l) => (l.clone(), None),
            Err(e) => (None, Some(e.clone())),
        };
        let risk = log.as_ref().is_some_and(|l| tandem_core::log_at_risk(l, now));
        output::json(&serde_json::json!({ "site": site, "checkpoint": checkpoint, "paused": paused, "log": log, "log_at_risk": risk, "log_error": log_error,
                "lag_seconds": checkpoint.as_ref().and_then(|c| c.heartbeat_at).map(|t| (now - t).num_milliseconds() as f64 / 1000.0) }))?;
        return Ok(if checkpoint.as_ref().is_some_and(|c| c.stopped.is_none()) { 0 } else { 1 });
    }
    let Some(c) = checkpoint else {
        println!("{site} is no replica (no {} table): run `tandem replicate {site}`", tandem_engine::changes::CHECKPOINT_TABLE);
        return Ok(1);
    };
    let age = |t: chrono::DateTime<chrono::Utc>| (chrono::Utc::now() - t).num_milliseconds() as f64 / 1000.0;
    println!("{site}: replica of {}", c.source);
    println!("  bootstrapped from backup {}", c.backup);
    println!("  position          {}", c.position.value);
    println!("  last source commit applied {} ({:.1} s ago)", c.committed_at.format("%Y-%m-%d %H:%M:%S UTC"), age(c.committed_at));
    println!("  last written      {} ({:.1} s ago)", c.applied_at.format("%Y-%m-%d %H:%M:%S UTC"), age(c.applied_at));
    if let Some(beat) = c.heartbeat_at {
        println!("  lag               at most {:.1} s (it holds what the source committed before its heartbeat of {})", age(beat), beat.format("%H:%M:%S%.3f"));
    }
    match &log {
        Ok(Some(l)) => println!("  source log        {}", tandem_core::describe_log(l, now)),
        Ok(None) => {}
        Err(e) => println!("  source log        unknown ({e})"),
    }
    match &c.stopped {
        Some(why) => {
            println!("  state             stopped: {why}");
            Ok(1)
        }
        None => {
            match paused {
                Some(p) => println!("  state             paused since {}: {}", p.at.format("%Y-%m-%d %H:%M:%S UTC"), p.paused),
                None => println!("  state             resumable"),
            }
            Ok(0)
        }
    }
}
