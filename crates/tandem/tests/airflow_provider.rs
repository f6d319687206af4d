//! The Airflow provider (`integrations/airflow-provider-tandem`) end to end: installed with pip
//! from the repository into the Airflow venv of `scripts/airflow-env.sh`, its operators and sensor
//! run by the real `airflow dags test` against a real `tandem serve` that backs up a MariaDB
//! primary and refreshes a standby from it. Needs `AIRFLOW_PY` and `AIRFLOW_BIN`
//! (`scripts/test.sh` sources `scripts/airflow-env.sh`); never skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::serve::Daemon;
use common::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with ./scripts/test.sh, or `source scripts/airflow-env.sh` first (it installs Airflow into .cache/venv-airflow)"
        )
    })
}

/// The outcome of a command run to its end.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Out {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn tail(&self) -> String {
        let all = self.all();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }
}

/// Runs `cmd` with its output captured (see `run_limited`), timed.
fn run(cmd: &mut Command, limit: Duration) -> Out {
    let started = Instant::now();
    let r = run_limited(cmd, limit);
    Out { code: r.code, stdout: r.stdout, stderr: r.stderr, took: started.elapsed() }
}

/// What `install_provider` asks the venv's Python: whether it can build a wheel without build
/// isolation (setuptools >= 70.1 or the `wheel` package), a hash of the provider's sources and
/// the installed version (`-` if none).
const PROBE: &str = r#"
import hashlib, importlib.metadata, importlib.util, os, sys
root = sys.argv[1]
h = hashlib.sha256()
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x not in ("build", "__pycache__") and not x.endswith(".egg-info"))
    for f in sorted(files):
        path = os.path.join(d, f)
        with open(path, "rb") as fh:
            h.update(os.path.relpath(path, root).encode() + b"\0" + fh.read() + b"\0")
try:
    version = importlib.metadata.version("airflow-provider-tandem")
except importlib.metadata.PackageNotFoundError:
    version = "-"
wheel = bool(importlib.util.find_spec("wheel") or importlib.util.find_spec("setuptools.command.bdist_wheel"))
print(wheel, h.hexdigest(), version)
"#;

/// `pip install` of the provider from the repository into the Airflow venv, when the venv does
/// not hold these sources yet (a stamp in the venv records their hash, as scripts/airflow-env.sh
/// does for Airflow): reinstalling on every run would change the venv under other Airflow tests.
fn install_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let py = env_var("AIRFLOW_PY");
        let dir = root().join("integrations/airflow-provider-tandem");
        let stamp = Path::new(&py).parent().and_then(Path::parent).expect("AIRFLOW_PY is VENV/bin/python").join(".tandem-provider-stamp");
        let probe = run(Command::new(&py).args(["-c", PROBE, p(&dir)]), Duration::from_secs(60));
        assert_eq!(probe.code, 0, "{}", probe.tail());
        let fields: Vec<&str> = probe.stdout.split_whitespace().collect();
        let [can_build, hash, version] = fields[..] else { panic!("probe: {}", probe.all()) };
        if version != "-" && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash) {
            return;
        }
        // setuptools builds in the tree: leftovers of an earlier build could end up in the wheel.
        let clean = || {
            let _ = std::fs::remove_dir_all(dir.join("build"));
            let _ = std::fs::remove_dir_all(dir.join("airflow_provider_tandem.egg-info"));
        };
        clean();
        // Without build isolation when the venv can build a wheel by itself; else pip fetches
        // setuptools and wheel (PyPI) for the build.
        let mut pip = Command::new(&py);
        pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]);
        if can_build == "True" {
            pip.arg("--no-build-isolation");
        }
        let out = run(pip.arg(&dir), Duration::from_secs(300));
        clean();
        assert_eq!(out.code, 0, "pip install {} failed:\n{}", dir.display(), out.tail());
        std::fs::write(&stamp, hash).unwrap();
    });
}

/// Airflow with a temp AIRFLOW_HOME, a SQLite metadata database, a DAG folder and connections
/// given as `AIRFLOW_CONN_*` variables.
struct Airflow {
    bin: String,
    home: PathBuf,
    env: Vec<(String, String)>,
}

impl Airflow {
    /// Sets the environment up and migrates the metadata database.
    fn new(home: &Path, dags: &Path, connections: &[(&str, serde_json::Value)]) -> Airflow {
        std::fs::create_dir_all(home).unwrap();
        let mut env: Vec<(String, String)> = [
            ("AIRFLOW_HOME", p(home).to_string()),
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", format!("sqlite:///{}", p(&home.join("airflow.db")))),
            ("AIRFLOW__CORE__DAGS_FOLDER", p(dags).to_string()),
            ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
            ("AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS", "False".into()),
            ("AIRFLOW__CORE__DEFAULT_TASK_RETRIES", "0".into()),
            ("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "False".into()),
            ("AIRFLOW__METRICS__STATSD_ON", "False".into()),
            ("AIRFLOW__METRICS__OTEL_ON", "False".into()),
            ("AIRFLOW__TRACES__OTEL_ON", "False".into()),
            ("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO".into()),
            ("PYTHONWARNINGS", "ignore".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (id, conn) in connections {
            env.push((format!("AIRFLOW_CONN_{}", id.to_uppercase()), conn.to_string()));
        }
        let airflow = Airflow { bin: env_var("AIRFLOW_BIN"), home: home.to_path_buf(), env };
        let out = airflow.cli(&["db", "migrate"]);
        assert_eq!(out.code, 0, "airflow db migrate failed:\n{}", out.tail());
        airflow
    }

    fn cli(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(&self.home);
        // Settings of the caller's environment that would point Airflow elsewhere.
        for k in ["AIRFLOW_CONFIG", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET", "AIRFLOW__SECRETS__BACKEND"] {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        run(&mut cmd, Duration::from_secs(600))
    }

    /// `airflow dags test DAG`: its output and the run id (from the run's last log line, which
    /// also holds its state).
    fn dags_test(&self, dag: &str) -> (Out, String) {
        let out = self.cli(&["dags", "test", dag]);
        let all = out.all();
        let finished =
            all.lines().find(|l| l.contains(&format!("DagRun Finished: dag_id={dag},"))).unwrap_or_else(|| panic!("no finished run of {dag}:\n{}", out.tail()));
        let run_id = finished.split("run_id=").nth(1).and_then(|s| s.split(',').next()).unwrap_or_else(|| panic!("no run id in {finished}")).to_string();
        (out, run_id)
    }

    /// `task_id → state` of a run, from `airflow tasks states-for-dag-run`.
    fn states(&self, dag: &str, run_id: &str) -> std::collections::BTreeMap<String, String> {
        let out = self.cli(&["tasks", "states-for-dag-run", dag, run_id, "--output", "json"]);
        assert_eq!(out.code, 0, "{}", out.tail());
        let json = out.stdout.lines().rev().find(|l| l.starts_with('[')).unwrap_or_else(|| panic!("no JSON list in:\n{}", out.tail()));
        let rows: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        rows.iter().map(|r| (r["task_id"].as_str().unwrap().to_string(), r["state"].as_str().unwrap_or("none").to_string())).collect()
    }

    /// The `return_value` XComs of a run, `task_id → value`, read from the metadata database.
    fn xcoms(&self, dag: &str, run_id: &str) -> serde_json::Value {
        let db = self.home.join("airflow.db");
        let script = "import json, sqlite3, sys\n\
                      rows = sqlite3.connect(sys.argv[1]).execute(\"SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'\", sys.argv[2:4]).fetchall()\n\
                      print(json.dumps({t: json.loads(v) for t, v in rows}))";
        let mut cmd = Command::new(env_var("AIRFLOW_PY"));
        cmd.args(["-c", script, p(&db), dag, run_id]);
        let out = run(&mut cmd, Duration::from_secs(60));
        assert_eq!(out.code, 0, "{}", out.tail());
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }
}

/// The log lines of task `task` in `dags test` output (tasks run one after another there).
fn task_log(output: &str, task: &str) -> String {
    let start = format!("[DAG TEST] starting task_id={task} ");
    let end = format!("[DAG TEST] end task task_id={task} ");
    let from = output.find(&start).unwrap_or_else(|| panic!("task {task} did not run:\n{output}"));
    let to = output[from..].find(&end).map(|i| from + i).unwrap_or(output.len());
    output[from..to].to_string()
}

const DAGS: &str = r#"
"""DAGs of crates/tandem/tests/airflow_provider.rs."""
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from tandem_provider.operators import TandemBackupOperator, TandemDrillOperator, TandemRefreshOperator
from tandem_provider.sensors import TandemStalenessSensor

ARGS = dict(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, default_args={"retries": 0})

with DAG(dag_id="tandem_dr", **ARGS):
    backup = TandemBackupOperator(task_id="backup", site="primary", poll_interval=0.5, timeout=300)
    refresh = TandemRefreshOperator(task_id="refresh", site="dr", poll_interval=0.5, timeout=300)
    fresh = TandemStalenessSensor(task_id="fresh", site="dr", max_staleness=timedelta(hours=1), poke_interval=1, timeout=60)
    drill = TandemDrillOperator(task_id="drill", site="dr", poll_interval=0.5, timeout=300)
    backup >> refresh >> fresh >> drill

with DAG(dag_id="tandem_failures", **ARGS):
    TandemBackupOperator(task_id="unreachable", site="gone", poll_interval=0.5, timeout=300)
    TandemBackupOperator(task_id="wrong_token", site="primary", tandem_conn_id="tandem_wrong")
    TandemStalenessSensor(task_id="unknown_site", site="nope", max_staleness=60, poke_interval=1, timeout=600)
"#;

#[test]
fn airflow_dags_back_up_refresh_and_wait_for_the_standby_and_fail_with_the_jobs_error() {
    let t0 = Instant::now();
    install_provider();
    let my = Server::shared(Flavor::MariaDb);
    let primary = my.create_database("afp");
    my.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'Grüße');");
    let standby = my.create_database("afp_dr");
    assert!(my.try_sql(&standby, "SELECT count(*) FROM t").is_err(), "the standby starts empty");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let token = format!("afp-token-{nanos}");
    let wrong = format!("afp-wrong-{}", std::process::id());
    std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
    let cfg = dir.path().join("tandem.toml");
    // `tandem serve` needs a schedule: a yearly one that does not fire during the test.
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"0 0 1 1 *\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n\
             [sites.gone]\ndb = \"mysql://root@127.0.0.1:{closed}/nothing?retry_max_retries=1\"\n[serve]\ntoken-file = \"{}\"\n",
            p(&repo),
            my.url(&primary),
            my.url(&standby),
            p(&dir.path().join("token"))
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    daemon.wait_for("the lease", Duration::from_secs(20), |s| s["lease"]["held"] == true);
    let port: u16 = daemon.addr.rsplit(':').next().unwrap().parse().unwrap();

    let dags = dir.path().join("dags");
    std::fs::create_dir_all(&dags).unwrap();
    std::fs::write(dags.join("tandem_provider_test.py"), DAGS).unwrap();
    let conn = |password: &str| serde_json::json!({"conn_type": "tandem", "host": "127.0.0.1", "port": port, "schema": "http", "password": password});
    let airflow = Airflow::new(&dir.path().join("airflow-home"), &dags, &[("tandem_default", conn(&token)), ("tandem_wrong", conn(&wrong))]);

    // Airflow knows the provider and its connection type.
    let providers = airflow.cli(&["providers", "hooks", "--output", "json"]);
    assert!(providers.code == 0 && providers.stdout.contains("tandem_provider.hooks.TandemHook"), "provider not registered:\n{}", providers.tail());

    // Backup >> refresh >> staleness sensor: every task succeeds.
    let (out, run_id) = airflow.dags_test("tandem_dr");
    let states = airflow.states("tandem_dr", &run_id);
    let want: std::collections::BTreeMap<String, String> =
        ["backup", "refresh", "fresh", "drill"].iter().map(|t| (t.to_string(), "success".to_string())).collect();
    assert_eq!(states, want, "task states of tandem_dr\n{}\ndaemon:\n{}", out.tail(), daemon.log_text());
    assert_eq!(out.code, 0, "{}", out.tail());

    // The backup task returned the daemon's run: its backup is in the repository and the
    // daemon's history, and is the one the refresh put into the standby.
    let xcoms = airflow.xcoms("tandem_dr", &run_id);
    let (backup_run, refresh_run) = (&xcoms["backup"], &xcoms["refresh"]);
    assert_eq!(backup_run["state"], "succeeded", "{xcoms}");
    let backup_id = backup_run["backup"].as_str().unwrap_or_else(|| panic!("no backup id in the backup task's XCom: {xcoms}"));
    let listed = tandem(&["backups", "list", "--repo", p(&repo), "--json"]).ok().json();
    assert!(listed.as_array().unwrap().iter().any(|b| b["id"] == backup_id), "{backup_id} not in {listed}");
    let history = daemon.job("primary", "backup");
    assert_eq!(history["last_success"]["id"], backup_run["id"], "{history}");
    assert_eq!(history["last_success"]["backup"], backup_id, "{history}");
    assert_eq!(history["runs_total"], 1, "{history}");
    assert_eq!(refresh_run["state"], "succeeded", "{xcoms}");
    assert_eq!(refresh_run["backup"], backup_id, "the refresh restored the backup just taken: {xcoms}");
    assert_eq!(daemon.job("dr", "refresh")["last_success"]["backup"], backup_id);
    let rows = "SELECT id, v FROM t ORDER BY id";
    assert_eq!(my.sql(&standby, rows), my.sql(&primary, rows), "the standby holds the primary's rows");
    assert!(task_log(&out.all(), "fresh").contains("tandem: standby dr is "), "{}", out.tail());
    // The drill task returned the daemon's run, with what the drill measured; the report is in
    // the repository.
    let drill_run = &xcoms["drill"];
    assert!(drill_run["state"] == "succeeded" && drill_run["summary"].as_str().is_some_and(|s| s.starts_with("RPO ")), "{xcoms}");
    let drills = tandem(&["--config", p(&cfg), "--json", "drills", "list", "dr"]).ok().json();
    assert_eq!(drills.as_array().map(Vec::len), Some(1), "{drills}");

    // Failures fail their task with the reason: the job's error, the HTTP status, the unknown
    // site (at once: the sensor would wait 600 s).
    let (out, run_id) = airflow.dags_test("tandem_failures");
    let states = airflow.states("tandem_failures", &run_id);
    assert!(states.len() == 3 && states.values().all(|s| s == "failed"), "{states:?}\n{}", out.tail());
    assert_ne!(out.code, 0, "Airflow 3 `dags test` exits non-zero when a task failed:\n{}", out.tail());
    assert!(out.took < Duration::from_secs(300), "the failures took {:?}: the sensor did not fail at once", out.took);
    let all = out.all();
    let unreachable = task_log(&all, "unreachable");
    assert!(unreachable.contains("tandem backup of gone failed") && unreachable.contains("cannot connect"), "{unreachable}");
    let gone = daemon.job("gone", "backup");
    assert!(gone["last_failure"]["error"].as_str().is_some_and(|e| e.contains("cannot connect")), "{gone}");
    let wrong_token = task_log(&all, "wrong_token");
    assert!(wrong_token.contains("HTTP 401") && wrong_token.contains("missing or wrong bearer token"), "{wrong_token}");
    assert!(!all.contains(&wrong) && !all.contains(&token), "a token is in the output:\n{all}");
    // Nor masked: Airflow's secrets masker, where it applies, would print a leaked token as `***`.
    assert!(!wrong_token.contains("***"), "{wrong_token}");
    assert_eq!(daemon.job("primary", "backup")["runs_total"], 1, "a refused trigger started nothing");
    let unknown = task_log(&all, "unknown_site");
    assert!(unknown.contains("has no site 'nope' (configured: dr, gone, primary)"), "{unknown}");
    eprintln!("airflow_provider: {:.0?} in all", t0.elapsed());
}
