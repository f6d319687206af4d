//! `tandem restore`.

use secrecy::ExposeSecret;
use tandem_core::{RestoreReport, RestoreRequest};
use tandem_error::{Error, Result};
use tandem_repo::BackupId;
use tandem_system::SiteKeys;

use super::Ctx;
use crate::cli::RestoreArgs;
use crate::output;
use crate::registry;

pub async fn run(ctx: &Ctx, args: RestoreArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.target.as_deref(), "--target")?;
    let locations = ctx.config.location_map(args.site.as_deref(), &args.map_location)?;
    let (engine, target) = registry::engine_for(&url)?;
    let backup = match args.backup.as_deref() {
        None | Some("latest") => None,
        Some(id) => Some(id.parse::<BackupId>()?),
    };
    let repo = ctx.open_repo().await?;
    let source_site = args.site.as_deref().and_then(|s| ctx.config.sites.get(s)).and_then(|s| s.source().map(str::to_string));
    let keys = SiteKeys {
        source: ctx.config.site_key(source_site.as_deref(), args.fernet_key_from.as_ref().map(ExposeSecret::expose_secret), "--fernet-key-from"),
        target: ctx.config.site_key(args.site.as_deref(), args.fernet_key_to.as_ref().map(ExposeSecret::expose_secret), "--fernet-key-to"),
    };
    match (&keys.source, &keys.target) {
        (Some(_), None) => return Err(Error::bad_input("--fernet-key-from needs --fernet-key-to (the target site's key)")),
        (None, Some(_)) => return Err(Error::bad_input("--fernet-key-to needs --fernet-key-from (the source site's key)")),
        _ => {}
    }
    let req = RestoreRequest {
        backup,
        replace: if args.force { tandem_engine::Replace::Always } else { tandem_engine::Replace::Never },
        dry_run: args.dry_run,
        locations,
        require_mapped: args.require_mapped,
        standby: args.standby,
        keys,
        owner: args.owner.clone().or_else(|| args.site.as_deref().and_then(|s| ctx.config.sites.get(s)).and_then(|s| s.owner.clone())),
        ..RestoreRequest::new(engine, registry::registry(), target, repo)
    };
    let report = tandem_core::restore(req, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
    } else if !report.executed {
        println!("plan for restoring backup {} into {} (dry run, nothing changed):", report.backup, report.target);
        print!("{}", report.plan);
    } else {
        print_report(&report);
    }
    Ok(0)
}

fn print_report(r: &RestoreReport) {
    let version = r.system_version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
    let converted = if r.cross_engine { format!(", converted from {}", r.source_engine) } else { String::new() };
    println!(
        "restored backup {} ({}{version}{converted}) into {}: {} tables, {} rows, {} in {:.1}s",
        r.backup,
        r.system,
        r.target,
        r.tables,
        r.rows,
        output::bytes(r.bytes),
        r.duration.as_secs_f64()
    );
    if let Some(loc) = &r.locations {
        println!("locations rewritten (of the values each column holds):");
        let width = loc.columns.keys().map(|c| c.chars().count()).max().unwrap_or(0);
        for (column, c) in loc.columns.iter().filter(|(_, c)| c.values > 0) {
            println!("  {column:<width$}  {:>9} of {:>9}", c.rewritten, c.values);
        }
        for rule in &loc.rules {
            println!("  rule {} -> {}: {} values", rule.from, rule.to, rule.rewritten);
        }
        if loc.unmapped_total > 0 {
            println!("{} location(s) still point at a mapped-from bucket:", loc.unmapped_total);
            for u in &loc.unmapped {
                println!("  {u}");
            }
            if loc.unmapped_total > loc.unmapped.len() as u64 {
                println!("  … and {} more", loc.unmapped_total - loc.unmapped.len() as u64);
            }
        }
    }
    if !r.fixups.is_empty() {
        let (done, idle): (Vec<_>, Vec<_>) = r.fixups.iter().partition(|f| f.rows > 0);
        println!("fix-ups: {} changed rows, {} had nothing to do (--json lists them all)", done.len(), idle.len());
        for f in done {
            println!("  {}: {} rows", f.what, f.rows);
        }
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
}
