//! Synthetic Hive Metastores from `tests/hms/gen.py` (Hive's 2.3 / 3.1 / 4.0 layouts on
//! MariaDB or PostgreSQL, filled by bulk loads; plain `python3`, no Spark).

use std::path::Path;
use std::process::Command;

use super::Server;

/// The layouts tandem supports.
pub const LAYOUTS: [&str; 3] = ["2.3", "3.1", "4.0"];

/// Runs gen.py into database `db` of `server` with `args` (`--sample retail`, `--schema-only`,
/// `--databases N ...`); returns its JSON summary.
pub fn generate(server: &Server, db: &str, layout: &str, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hms/gen.py");
    let out = Command::new("python3").arg(script).args(["--url", &server.url(db), "--layout", layout]).args(args).output().expect("run gen.py");
    assert!(out.status.success(), "gen.py --layout {layout} {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("gen.py: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `"TABLE"` quoted for the server's engine.
pub fn q(server: &Server, name: &str) -> String {
    match server.flavor() {
        super::Flavor::MariaDb => format!("`{name}`"),
        super::Flavor::Postgres => format!("\"{name}\""),
    }
}
