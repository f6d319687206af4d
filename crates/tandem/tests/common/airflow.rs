//! Airflow 3 as the real client of a metadata database, through `tests/airflow/af.py`. Needs the
//! environment of `scripts/airflow-env.sh` (`AIRFLOW_PY`); `scripts/test.sh` provides it. A
//! missing environment fails the test: it is never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::Server;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn python() -> String {
    std::env::var("AIRFLOW_PY")
        .unwrap_or_else(|_| panic!("AIRFLOW_PY is not set: run the tests with ./scripts/test.sh (it sources scripts/airflow-env.sh, which installs Airflow)"))
}

/// A new Fernet key, as Airflow makes them.
pub fn fernet_key() -> String {
    let out = Command::new(python()).args(["-c", "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"]).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One Airflow metadata database (PostgreSQL) as Airflow sees it with one Fernet key.
pub struct Site<'a> {
    pub server: &'a Server,
    pub db: String,
    pub key: String,
    /// The role Airflow connects as (user, password); the test kit's superuser when `None`.
    pub role: Option<(String, String)>,
}

/// The outcome of an af.py command.
pub struct Af {
    pub code: i32,
    pub json: serde_json::Value,
    pub stderr: String,
}

impl<'a> Site<'a> {
    pub fn new(server: &'a Server, db: &str, key: &str) -> Site<'a> {
        Site { server, db: db.to_string(), key: key.to_string(), role: None }
    }

    /// The same site as Airflow sees it connecting as its own role.
    pub fn connecting_as(mut self, user: &str, password: &str) -> Site<'a> {
        self.role = Some((user.to_string(), password.to_string()));
        self
    }

    fn db_url(&self) -> String {
        let (user, password) = self.role.clone().unwrap_or_else(|| (tandem_testkit::USER.to_string(), tandem_testkit::PASSWORD.to_string()));
        format!("postgresql://{user}:{password}@127.0.0.1:{}/{}", self.server.port(), self.db)
    }

    /// Runs an af.py command; returns its exit code, JSON and stderr.
    pub fn try_run(&self, cmd: &str, args: &[&str]) -> Af {
        let out: Output = Command::new(python())
            .arg(root().join("tests/airflow/af.py"))
            .arg(cmd)
            // `=`: a Fernet key may start with `-`.
            .arg(format!("--db-url={}", self.db_url()))
            .arg(format!("--fernet-key={}", self.key))
            .args(args)
            .output()
            .expect("run af.py");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        Af { code: out.status.code().unwrap_or(-1), json, stderr }
    }

    /// Runs an af.py command that must succeed.
    pub fn run(&self, cmd: &str, args: &[&str]) -> serde_json::Value {
        let r = self.try_run(cmd, args);
        let tail: Vec<&str> = r.stderr.lines().rev().take(40).collect();
        assert_eq!(r.code, 0, "af.py {cmd} {args:?} on {} failed:\n{}", self.db, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        r.json
    }
}
