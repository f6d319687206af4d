//! Databases of each system's real layouts: Hive Metastores from `tests/hms/gen.py` (Hive's own
//! schema scripts' layout, with the retail sample), Airflow from `airflow db migrate` and the
//! sample of `tests/airflow/af.py` (the real CLI, in the venv of `scripts/airflow-env.sh`), and
//! the engine suite's sample for `generic`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::engine::{load, sample, Subject};

/// How a case's database is made.
#[derive(Debug, Clone, Copy)]
pub enum Fixture {
    /// A Hive Metastore of this layout (`2.3`, `3.1`, `4.0`) with the retail sample.
    Hms(&'static str),
    /// An Airflow metadata DB, migrated and filled with the sample (PostgreSQL).
    Airflow,
    /// Any schema: the engine suite's sample table.
    Plain,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Fixture {
    /// The schema version a database of this fixture has, as the system detects it; `None`
    /// when the suite cannot know it in advance (Airflow: the venv's release).
    pub fn version_prefix(self) -> Option<&'static str> {
        match self {
            Fixture::Hms(layout) => Some(layout),
            Fixture::Airflow | Fixture::Plain => None,
        }
    }

    pub fn label(self) -> String {
        match self {
            Fixture::Hms(layout) => format!("layout {layout}"),
            Fixture::Airflow => "(migrated by the Airflow CLI)".into(),
            Fixture::Plain => "(sample schema)".into(),
        }
    }

    /// Makes a new database of this fixture on the subject's server; returns its name.
    pub fn make(self, s: Subject) -> String {
        match self {
            Fixture::Hms(layout) => {
                let db = s.server.create_database("conf_hms");
                let script = root().join("tests/hms/gen.py");
                run(Command::new("python3").arg(script).args(["--url", &s.server.url(&db), "--layout", layout, "--sample", "retail"]), "gen.py");
                db
            }
            Fixture::Airflow => {
                let py = std::env::var("AIRFLOW_PY").expect("AIRFLOW_PY is not set: run the tests with ./scripts/test.sh (it installs Airflow)");
                let db = s.server.create_database("conf_af");
                let key = run(Command::new(&py).args(["-c", "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"]), "a Fernet key");
                let url = format!("postgresql://{}:{}@127.0.0.1:{}/{db}", tandem_testkit::USER, tandem_testkit::PASSWORD, s.server.port());
                for cmd in ["migrate", "populate"] {
                    let args = [cmd.to_string(), format!("--db-url={url}"), format!("--fernet-key={}", key.trim())];
                    run(Command::new(&py).arg(root().join("tests/airflow/af.py")).args(args), &format!("af.py {cmd}"));
                }
                db
            }
            Fixture::Plain => {
                let (db, url) = s.database("conf_plain");
                // On a thread of its own: the caller may be inside a runtime already.
                std::thread::scope(|t| {
                    t.spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                        runtime.block_on(load(s, &url, &sample::schema(), &[sample::rows()])).expect("load the sample")
                    })
                    .join()
                    .expect("loader");
                });
                db
            }
        }
    }
}
