//! `tandem refresh`.

use tandem_error::Result;

use super::Ctx;
use crate::cli::RefreshArgs;
use crate::jobs;
use crate::output;

pub async fn run(ctx: &Ctx, args: RefreshArgs) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    let report = jobs::refresh_site(&ctx.config, &args.site, None, repo, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
        return Ok(0);
    }
    let as_standby = if report.standby { " as a standby" } else { "" };
    match &report.restore {
        Some(r) => println!(
            "refreshed {} with backup {} (snapshot {}){as_standby}: {} tables, {} rows in {:.1}s",
            args.site,
            report.backup,
            report.snapshot_at.format("%Y-%m-%d %H:%M:%S UTC"),
            r.tables,
            r.rows,
            r.duration.as_secs_f64()
        ),
        None => println!("{} already holds the newest backup {}", args.site, report.backup),
    }
    Ok(0)
}
