//! Spark (PySpark 4.0, Hive 2.3 metastore client) as the real client of a metastore, through
//! `tests/hms/hms.py`. Needs the environment of `scripts/hms-env.sh` (`SPARK_PY`,
//! `HMS_JDBC_MARIADB`, `HMS_JDBC_POSTGRES`); `scripts/test.sh` provides it. A missing
//! environment fails the test: it is never skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::{Flavor, Server};

/// The repository root (for `tests/hms/hms.py`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn python() -> String {
    std::env::var("SPARK_PY")
        .unwrap_or_else(|_| panic!("SPARK_PY is not set: run the tests with ./scripts/test.sh (it sources scripts/hms-env.sh, which installs PySpark)"))
}

/// One metastore database as Spark sees it.
pub struct Metastore<'a> {
    pub server: &'a Server,
    pub db: String,
    pub warehouse: PathBuf,
}

impl<'a> Metastore<'a> {
    pub fn new(server: &'a Server, db: &str, warehouse: &Path) -> Metastore<'a> {
        Metastore { server, db: db.to_string(), warehouse: warehouse.to_path_buf() }
    }

    fn engine(&self) -> &'static str {
        match self.server.flavor() {
            Flavor::MariaDb => "mariadb",
            Flavor::Postgres => "postgres",
        }
    }

    fn jdbc(&self) -> String {
        match self.server.flavor() {
            Flavor::MariaDb => format!("jdbc:mysql://127.0.0.1:{}/{}", self.server.port(), self.db),
            Flavor::Postgres => format!("jdbc:postgresql://127.0.0.1:{}/{}", self.server.port(), self.db),
        }
    }

    fn command(&self, cmd: &str, args: &[&str]) -> Command {
        let mut c = Command::new(python());
        c.arg(root().join("tests/hms/hms.py"))
            .arg(cmd)
            .args(["--engine", self.engine(), "--jdbc-url", &self.jdbc(), "--user", tandem_testkit::USER, "--password", tandem_testkit::PASSWORD])
            .env("SPARK_LOCAL_IP", "127.0.0.1");
        if cmd != "create-schema" {
            c.arg("--warehouse").arg(&self.warehouse);
        }
        c.args(args);
        c
    }

    /// Runs an `hms.py` command and returns its JSON; panics with its stderr on failure.
    pub fn run(&self, cmd: &str, args: &[&str]) -> serde_json::Value {
        let out: Output = self.command(cmd, args).output().expect("run hms.py");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "hms.py {cmd} {args:?} failed on {}:\n{}", self.jdbc(), tail(&stderr, 60));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("hms.py {cmd}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Starts an `hms.py` command in the background (stdout piped: one JSON object a line).
    pub fn spawn(&self, cmd: &str, args: &[&str]) -> Child {
        self.command(cmd, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start hms.py")
    }

    /// Creates the Hive 2.3 schema with DataNucleus SchemaTool.
    pub fn create_schema(&self) -> serde_json::Value {
        self.run("create-schema", &[])
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Copies a directory tree (the "data files" a DR site has in its own bucket).
pub fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(status.success(), "cp -a {} {}", from.display(), to.display());
}

/// `(k, m)`: the `writer.t_N` tables and `writer.log` partitions Spark reads in a copy of the
/// writer's metastore, asserted whole: tables exactly 1..k, partitions exactly batch=1..m, and
/// m = k or k−1 (each step commits its table, then its partition).
pub fn writer_steps(copy: &serde_json::Value) -> (u64, u64) {
    let mut tables: Vec<u64> = copy["tables"].as_object().unwrap().keys().filter_map(|k| k.strip_prefix("writer.t_").and_then(|n| n.parse().ok())).collect();
    tables.sort();
    let k = tables.len() as u64;
    assert_eq!(tables, (1..=k).collect::<Vec<_>>(), "writer tables must be 1..k without gaps");
    let mut specs: Vec<u64> = copy["partition_specs"]["writer.log"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()?.strip_prefix("batch=")?.parse().ok()).collect())
        .unwrap_or_default();
    specs.sort();
    let m = specs.len() as u64;
    assert_eq!(specs, (1..=m).collect::<Vec<_>>(), "writer partitions must be 1..m without gaps");
    assert!(m == k || m + 1 == k, "a step is its table then its partition: k={k} m={m}");
    (k, m)
}
