//! `tandem backups list|show|prune`.

use serde_json::json;
use tandem_core::RetentionPolicy;
use tandem_error::Result;
use tandem_repo::BackupId;

use super::Ctx;
use crate::cli::PruneArgs;
use crate::output;

pub async fn list(ctx: &Ctx) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    let mut manifests = Vec::new();
    for id in repo.list_backups().await? {
        manifests.push(repo.read_manifest(&id).await?);
    }
    if ctx.json {
        output::json(&manifests.iter().map(output::backup_summary).collect::<Vec<_>>())?;
        return Ok(0);
    }
    if manifests.is_empty() {
        println!("no backups in {}", repo.url());
        return Ok(0);
    }
    println!("{:<22} {:<20} {:<10} {:<15} {:<9} {:>7} {:>12} {:>10}", "ID", "CREATED", "SITE", "SYSTEM", "ENGINE", "TABLES", "ROWS", "BYTES");
    for m in &manifests {
        println!(
            "{:<22} {:<20} {:<10} {:<15} {:<9} {:>7} {:>12} {:>10}",
            m.id.as_str(),
            m.started.format("%Y-%m-%d %H:%M:%S"),
            if m.site.is_empty() { "-" } else { &m.site },
            m.system.name,
            m.snapshot.engine,
            m.tables.len(),
            m.rows(),
            output::bytes(m.bytes())
        );
    }
    Ok(0)
}

pub async fn show(ctx: &Ctx, id: &str) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    let id = if id == "latest" {
        repo.latest_backup().await?.ok_or_else(|| tandem_error::Error::bad_input(format!("repository {} has no backups", repo.url())))?
    } else {
        id.parse::<BackupId>()?
    };
    let m = repo.read_manifest(&id).await?;
    let duration = (m.finished - m.started).num_milliseconds() as f64 / 1000.0;
    if ctx.json {
        let mut v = output::backup_summary(&m);
        v["finished"] = json!(m.finished);
        v["duration_s"] = json!(duration);
        v["source"] = json!(m.source);
        v["system_summary"] = json!(m.system.summary);
        v["snapshot"] = json!(m.snapshot);
        v["skipped"] = json!(m.schema.skipped);
        v["stored_bytes"] = json!(m.stored_bytes());
        v["table_list"] = json!(m
            .tables
            .iter()
            .map(|t| json!({"name": t.table.display_name(), "rows": t.rows, "bytes": t.bytes, "chunks": t.chunks.len()}))
            .collect::<Vec<_>>());
        output::json(&v)?;
        return Ok(0);
    }
    println!("backup      {}", m.id);
    println!("site        {}", if m.site.is_empty() { "-" } else { &m.site });
    println!("source      {}", m.source);
    let label = match (crate::registry::registry().system_named(&m.system.name), &m.system.version) {
        (Some(system), Some(v)) => system.version_label(v),
        (_, v) => v.clone().unwrap_or_default(),
    };
    println!("system      {} {label}", m.system.name);
    for (k, v) in &m.system.summary {
        println!("  {k:<10} {v}");
    }
    println!("engine      {} {} (database {})", m.snapshot.engine, m.snapshot.server_version, m.snapshot.database);
    let gtid = m.snapshot.position.gtid.as_deref().map(|g| format!(" gtid {g}")).unwrap_or_default();
    println!("position    {} {}{}", m.snapshot.position.kind, m.snapshot.position.value, gtid);
    println!("consistency {}", m.snapshot.consistency);
    println!("started     {}", m.started.to_rfc3339());
    println!("duration    {duration:.1}s");
    println!("totals      {} tables, {} rows, {}", m.tables.len(), m.rows(), output::bytes(m.bytes()));
    for (i, s) in m.schema.skipped.iter().enumerate() {
        println!("{:<11} {s}", if i == 0 { "skipped" } else { "" });
    }
    println!();
    println!("{:<40} {:>12} {:>10} {:>7}", "TABLE", "ROWS", "BYTES", "CHUNKS");
    for t in &m.tables {
        println!("{:<40} {:>12} {:>10} {:>7}", t.table.display_name(), t.rows, output::bytes(t.bytes), t.chunks.len());
    }
    Ok(0)
}

pub async fn prune(ctx: &Ctx, args: PruneArgs) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    let policy = RetentionPolicy { keep_last: args.keep_last, keep_daily: args.keep_daily };
    let report = tandem_core::prune(&repo, policy, args.grace, args.dry_run, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
        return Ok(0);
    }
    let verb = if report.dry_run { "would remove" } else { "removed" };
    for id in &report.removed {
        println!("{verb} backup {id}");
    }
    println!(
        "{verb} {} backups and {} unreferenced chunks ({}); kept {} backups",
        report.removed.len(),
        report.chunks_deleted,
        output::bytes(report.bytes_freed),
        report.kept.len()
    );
    Ok(0)
}
