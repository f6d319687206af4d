//! `tandem verify`.

use secrecy::ExposeSecret;
use tandem_core::{VerifyReport, VerifyRequest, VerifySource};
use tandem_error::Result;
use tandem_repo::BackupId;
use tandem_system::SiteKeys;

use super::Ctx;
use crate::cli::VerifyArgs;
use crate::output;
use crate::registry;

/// Exit code when the two sides differ.
const DIFFERENT: i32 = 1;

pub async fn run(ctx: &Ctx, args: VerifyArgs) -> Result<i32> {
    let target_site = (!args.target.contains("://")).then_some(args.target.as_str());
    let locations = ctx.config.location_map(target_site, &args.map_location)?;
    let (engine, target) = registry::engine_for(&ctx.url_or_site(&args.target)?)?;
    let source_engine;
    let source = match (&args.source, &args.backup) {
        (Some(src), _) => {
            let (e, url) = registry::engine_for(&ctx.url_or_site(src)?)?;
            source_engine = e;
            VerifySource::Db { engine: source_engine, url }
        }
        (None, Some(id)) => {
            let id = match id.as_str() {
                "latest" => None,
                other => Some(other.parse::<BackupId>()?),
            };
            let scratch = registry::scratch_url(args.scratch.as_deref(), engine, &target, "_tandem_verify", "the target")?;
            VerifySource::Backup { repo: ctx.open_repo().await?, id, scratch }
        }
        (None, None) => return Err(tandem_error::Error::bad_input("give --source DB_URL (or a site), or --backup ID with --repo")),
    };
    let source_site = args.source.as_deref().filter(|s| !s.contains("://"));
    let keys = SiteKeys {
        source: ctx.config.site_key(source_site, args.fernet_key_source.as_ref().map(ExposeSecret::expose_secret), "--fernet-key-source"),
        target: ctx.config.site_key(target_site, args.fernet_key_target.as_ref().map(ExposeSecret::expose_secret), "--fernet-key-target"),
    };
    let hold = match (&source, args.replica) {
        (VerifySource::Db { engine: source, .. }, true) => Some(tandem_core::Hold::new(engine, target.clone(), *source, "held for verify")),
        _ => None,
    };
    let align = hold.as_ref().map(|h| h as &dyn tandem_core::Align);
    let req = VerifyRequest { source, engine, registry: registry::registry(), target, locations, max_differences: args.max_differences, keys, align };
    let report = tandem_core::verify(req, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.equal { 0 } else { DIFFERENT })
}

fn print_report(r: &VerifyReport) {
    let v = |v: &Option<String>| v.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
    println!("verify {}: source {}{}, target {}{}", r.system, r.source, v(&r.source_version), r.target, v(&r.target_version));
    if let Some(at) = &r.held_at {
        println!("both read at the source's position {at} (the replica was held there)");
    }
    println!("{:<20} {:>10} {:>8} {:>15} {:>15}", "KIND", "GOOD", "BAD", "ONLY_IN_SOURCE", "ONLY_IN_TARGET");
    for k in &r.kinds {
        println!("{:<20} {:>10} {:>8} {:>15} {:>15}", k.kind, k.good, k.bad, k.only_in_source, k.only_in_target);
    }
    if r.differences_total > 0 {
        println!();
        println!("differences (first {} of {}):", r.differences.len(), r.differences_total);
        for d in &r.differences {
            println!("  {}: {}", d.object, d.detail);
        }
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    println!("{}", if r.equal { "RESULT: EQUAL" } else { "RESULT: DIFFERENT" });
}
