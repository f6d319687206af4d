//! Small helpers for human output.

/// `1.2 GiB`-style sizes.
pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// Measured seconds in tenths (`12.3s`), `-` when there is no measure.
pub fn seconds(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.1}s")).unwrap_or_else(|| "-".into())
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> tandem_error::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| tandem_error::Error::internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// The JSON fields every listing of a backup has (`backups list`, `backups show`, `backup`).
pub fn backup_summary(m: &tandem_repo::Manifest) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "created": m.started,
        "site": m.site,
        "system": m.system.name,
        "schema_version": m.system.version,
        "engine": m.snapshot.engine,
        "database": m.snapshot.database,
        "tables": m.tables.len(),
        "rows": m.rows(),
        "bytes": m.bytes(),
    })
}
