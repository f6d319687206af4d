//! `tandem restore`.

use tandem_core::RestoreRequest;
use tandem_error::Result;
use tandem_repo::BackupId;

use super::Ctx;
use crate::cli::RestoreArgs;
use crate::output;
use crate::registry;

pub async fn run(ctx: &Ctx, args: RestoreArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.target.as_deref(), "--target")?;
    let (engine, target) = registry::engine_for(&url)?;
    let backup = match args.backup.as_deref() {
        None | Some("latest") => None,
        Some(id) => Some(id.parse::<BackupId>()?),
    };
    let repo = ctx.open_repo().await?;
    let req = RestoreRequest { engine: engine.as_ref(), target, repo, backup, force: args.force, dry_run: args.dry_run };
    let report = tandem_core::restore(req, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
    } else if !report.executed {
        println!("plan for restoring backup {} into {} (dry run, nothing changed):", report.backup, report.target);
        print!("{}", report.plan);
    } else {
        println!(
            "restored backup {} into {}: {} tables, {} rows, {} in {:.1}s",
            report.backup,
            report.target,
            report.tables,
            report.rows,
            output::bytes(report.bytes),
            report.duration.as_secs_f64()
        );
    }
    Ok(0)
}
