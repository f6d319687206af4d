//! `tandem backup`.

use serde_json::json;
use tandem_core::{BackupRequest, SystemChoice};
use tandem_error::Result;
use tandem_repo::Repository;

use super::Ctx;
use crate::cli::BackupArgs;
use crate::output;
use crate::registry;

pub async fn run(ctx: &Ctx, args: BackupArgs) -> Result<i32> {
    let url = ctx.db_url(args.site.as_deref(), args.source.as_deref(), "--source")?;
    let (engine, source) = registry::engine_for(&url)?;
    let site_system = args.site.as_deref().and_then(|s| ctx.config.sites.get(s)).and_then(|s| s.system.clone());
    let system = match args.system.or(site_system).as_deref() {
        None | Some("auto") => SystemChoice::Auto,
        Some(name) => SystemChoice::Named(name.to_string()),
    };
    let repo = Repository::open_or_create(ctx.repo_url()?).await?;
    let req = BackupRequest {
        engine: engine.as_ref(),
        source,
        repo,
        system,
        site: args.site.unwrap_or_default(),
        parallelism: args.parallel as usize,
    };
    let report = tandem_core::backup(req, ctx.progress.clone()).await?;
    let m = &report.manifest;
    let duration = (m.finished - m.started).num_milliseconds() as f64 / 1000.0;
    if ctx.json {
        let mut v = output::backup_summary(m);
        v["position"] = json!(m.snapshot.position);
        v["new_chunks"] = json!(report.new_chunks);
        v["new_bytes"] = json!(report.new_bytes);
        v["duration_s"] = json!(duration);
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
        println!("{}", m.id);
    }
    Ok(0)
}
