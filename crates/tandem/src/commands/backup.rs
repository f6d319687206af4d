//! `tandem backup`.

use serde_json::json;
use tandem_error::Result;

use super::Ctx;
use crate::cli::BackupArgs;
use crate::jobs;
use crate::output;

/// Backs up; for a configured site, then applies the config's `[retention]` (as `tandem serve`).
pub async fn run(ctx: &Ctx, args: BackupArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.source.as_deref(), "--source")?;
    let site_system = args.site.as_deref().and_then(|s| ctx.config.sites.get(s)).and_then(|s| s.system.clone());
    let system = jobs::system_choice(args.system.or(site_system).as_deref());
    let repo = ctx.open_or_create_repo().await?;
    let site = args.site.unwrap_or_default();
    let report = jobs::backup(&url, system, &site, args.parallel as usize, repo.clone(), ctx.progress.clone()).await?;
    // The backup is committed: a retention that cannot run now (a restore holds the repository)
    // is a warning, and the next backup applies it.
    let pruned = match site.is_empty() {
        true => None,
        false => jobs::apply_retention(&ctx.config, &repo, ctx.progress.clone()).await.unwrap_or_else(|e| {
            tandem_core::Events::warn(ctx.progress.as_ref(), &format!("retention not applied: {e}"));
            None
        }),
    };
    let m = &report.manifest;
    let duration = (m.finished - m.started).num_milliseconds() as f64 / 1000.0;
    if ctx.json {
        let mut v = output::backup_summary(m);
        v["position"] = json!(m.snapshot.position);
        v["new_chunks"] = json!(report.new_chunks);
        v["new_bytes"] = json!(report.new_bytes);
        v["duration_s"] = json!(duration);
        v["skipped"] = json!(m.schema.skipped);
        if let Some(p) = &pruned {
            v["pruned"] = json!(p.removed);
        }
        output::json(&v)?;
    } else {
        let version = m.system.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        println!(
            "backed up {} ({}{}) at {} {}: {} tables, {} rows, {} of row data, {} new stored in {:.1}s",
            m.source,
            m.system.name,
            version,
            m.snapshot.position.kind,
            m.snapshot.position.value,
            m.tables.len(),
            m.rows(),
            output::bytes(m.bytes()),
            output::bytes(report.new_bytes),
            duration
        );
        if !m.schema.skipped.is_empty() {
            println!("skipped {} object(s) tandem does not copy:", m.schema.skipped.len());
            for s in &m.schema.skipped {
                println!("  {s}");
            }
        }
        if let Some(p) = pruned.as_ref().filter(|p| !p.removed.is_empty()) {
            println!("retention: removed {} backup(s), {} chunk(s), {} freed", p.removed.len(), p.chunks_deleted, output::bytes(p.bytes_freed));
        }
        println!("{}", m.id);
    }
    Ok(0)
}
