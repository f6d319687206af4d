//! `tandem repo check`.

use tandem_error::Result;

use super::Ctx;
use crate::output;

/// Exit code of a check that found problems.
const CORRUPT: i32 = 4;

pub async fn check(ctx: &Ctx, read_data: bool) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    let report = tandem_core::check(&repo, read_data, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
    } else {
        println!(
            "{} backups, {} chunks referenced{}, {} unreferenced",
            report.backups,
            report.chunks_referenced,
            if read_data { format!(", {} read and verified ({})", report.chunks_read, output::bytes(report.bytes_read)) } else { String::new() },
            report.chunks_unreferenced
        );
        for e in &report.errors {
            println!("error: {e}");
        }
        println!("{}", if report.errors.is_empty() { "repository OK" } else { "repository has errors" });
    }
    Ok(if report.errors.is_empty() { 0 } else { CORRUPT })
}
