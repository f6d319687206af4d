//! Airflow disaster recovery proven with the real Airflow 3 CLI and models (tests/airflow/af.py):
//! backup of a populated metadata DB, restore into another server as a standby (same Fernet key,
//! and another key with re-encryption), every DAG paused there, promote unpauses exactly the DAGs
//! that were active at the source and reruns interrupted runs, a new run can be triggered, and the
//! primary is fenced and promoted back (failback). Bad input changes nothing.

mod common;

use std::collections::BTreeMap;

use common::airflow::{fernet_key, Site};
use common::*;

/// Names of the objects of `kind` a promote/fence `--json` report changed to state `to`.
fn changed(report: &serde_json::Value, kind: &str, to: &str) -> Vec<String> {
    let all = report["changed"].as_array().unwrap_or_else(|| panic!("no `changed` in {report}"));
    all.iter().filter(|c| c["kind"] == kind && c["to"] == to).map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

/// `dag_id → is_paused` of an af.py populate/read output.
fn paused(state: &serde_json::Value) -> BTreeMap<String, bool> {
    state["dags"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["is_paused"].as_bool().unwrap())).collect()
}

/// What af.py compares after a restore: everything but pause flags and what a restore resets on
/// purpose (the dead source's jobs and triggerers, the counts of emptied tables), which the test
/// checks on its own.
const IGNORE: &[&str] = &["--ignore-paused", "--ignore", "counts", "--ignore", "jobs", "--ignore", "triggers"];

#[test]
fn standby_promote_fence_failback_with_real_airflow() {
    let primary_server = Server::start(Flavor::Postgres);
    let dr_server = Server::start(Flavor::Postgres);
    let (key, dr_key) = (fernet_key(), fernet_key());
    let repo = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let r = p(repo.path());

    let primary = Site::new(&primary_server, &primary_server.create_database("af"), &key);
    primary.run("migrate", &[]);
    let populated = primary.run("populate", &[]);
    let expect = work.path().join("populate.json");
    std::fs::write(&expect, populated.to_string()).unwrap();
    let at_source = paused(&populated);
    assert!(at_source.values().any(|p| *p) && at_source.values().any(|p| !*p), "the sample has paused and active DAGs: {at_source:?}");

    let out = tandem(&["backup", "--source", &primary_server.url(&primary.db), "--repo", r, "--json"]).ok().json();
    assert_eq!(out["system"], "airflow", "{out}");
    let show = tandem(&["backups", "show", "latest", "--repo", r]).ok();
    assert!(show.stdout.contains("Airflow 3.3.0 or later"), "{}", show.stdout);

    // A standby with the same key: identical values, every DAG paused.
    let dr = Site::new(&dr_server, "af_dr", &key);
    let report = tandem(&["restore", "--target", &dr_server.url(&dr.db), "--repo", r, "--standby", "--json"]).ok().json();
    assert!(report["fixups"].as_array().unwrap().iter().any(|f| f["what"] == "pause every DAG (standby)"), "{report}");
    let mut args = vec!["--expect", expect.to_str().unwrap()];
    args.extend_from_slice(IGNORE);
    let read = dr.run("read", &args);
    assert!(paused(&read).values().all(|p| *p), "a standby has every DAG paused: {:?}", paused(&read));
    let jobs = read["jobs"].as_array().unwrap();
    assert!(!jobs.is_empty() && jobs.iter().all(|j| j["state"] != "running"), "the source's jobs are dead in the copy: {jobs:?}");
    assert!(read["triggers"].as_array().unwrap().iter().all(|t| t["triggerer_id"].is_null()), "triggers are released: {}", read["triggers"]);
    assert_eq!(read["triggers"].as_array().unwrap().len(), populated["triggers"].as_array().unwrap().len());

    // Another site with its own key: secrets re-encrypted, readable only with the DR key.
    let dr2 = Site::new(&dr_server, "af_dr2", &dr_key);
    tandem(&["restore", "--target", &dr_server.url(&dr2.db), "--repo", r, "--standby", "--fernet-key-from", &key, "--fernet-key-to", &dr_key]).ok();
    dr2.run("read", &args);
    let wrong = Site::new(&dr_server, "af_dr2", &key).try_run("read", &[]);
    assert_ne!(wrong.code, 0);
    assert!(wrong.stderr.contains("cannot decrypt"), "{}", wrong.stderr);
    let (src_url, dr2_url) = (primary_server.url(&primary.db), dr_server.url(&dr2.db));
    let verify = |keys: &[&str]| {
        let mut a = vec!["verify", "--source", &src_url, "--target", &dr2_url];
        a.extend_from_slice(keys);
        tandem(&a)
    };
    let same = verify(&["--fernet-key-source", &key, "--fernet-key-target", &dr_key]);
    assert_eq!(same.code, 0, "decrypted, the copies are equal:\n{}", same.stdout);
    assert!(same.stdout.contains("connections") && same.stdout.contains("RESULT: EQUAL"), "{}", same.stdout);
    let raw = verify(&[]);
    assert_eq!(raw.code, 1, "{}", raw.stdout);
    assert!(raw.stdout.contains("password differs"), "{}", raw.stdout);

    // The DR site is not healthy without a scheduler; promote makes it active exactly as the
    // source was, and interrupted runs are queued again.
    let health = tandem(&["health", "--db", &dr_server.url(&dr.db), "--json"]);
    assert_eq!(health.code, 1);
    assert_eq!(health.json()["standby"], true);
    let running_before: Vec<String> = populated["dag_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "running" || r["state"] == "queued")
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    let promoted = tandem(&["promote", "--target", &dr_server.url(&dr.db), "--json"]).ok().json();
    let unpaused = changed(&promoted, "dag", "active");
    let active: Vec<String> = at_source.iter().filter(|(_, p)| !**p).map(|(d, _)| d.clone()).collect();
    assert_eq!(unpaused, active, "{promoted}");
    let runs = changed(&promoted, "dag run", "queued");
    assert_eq!(runs.len(), running_before.len(), "{promoted}");
    assert!(running_before.iter().all(|id| runs.iter().any(|r| r.ends_with(&format!(" {id}")))), "{promoted}");
    let after = dr.run("read", &[]);
    assert_eq!(paused(&after), at_source, "promote restores the source's pause states exactly");
    assert!(after["task_instances"].as_array().unwrap().iter().all(|t| t["state"] != "running"), "interrupted tasks were cleared");
    let triggered = dr.run("trigger", &["--dag", "tandem_etl"]);
    assert_eq!(triggered["state"], "queued", "{triggered}");
    tandem(&["promote", "--target", &dr_server.url(&dr.db)]).fails_with(5, "is active already (active at epoch 0").fails_with(5, "force the promote");
    tandem(&["promote", "--target", &dr_server.url(&dr.db), "--force", "--interrupted", "leave"]).ok();

    // Failback: fence the old primary (everything paused, the active set remembered), promote it.
    let fenced = tandem(&["fence", "--target", &primary_server.url(&primary.db), "--json"]).ok().json();
    let paused_now = changed(&fenced, "dag", "paused");
    assert_eq!(paused_now, active, "{fenced}");
    assert!(paused(&primary.run("read", &[])).values().all(|p| *p));
    // Fencing twice forgets nothing.
    tandem(&["fence", "--target", &primary_server.url(&primary.db)]).ok();
    tandem(&["promote", "--target", &primary_server.url(&primary.db), "--interrupted", "leave"]).ok();
    assert_eq!(paused(&primary.run("read", &[])), at_source, "failback restores the pause states");
}

#[test]
fn bad_input_changes_nothing() {
    let server = Server::shared(Flavor::Postgres);
    let (key, other) = (fernet_key(), fernet_key());
    let repo = tempfile::tempdir().unwrap();
    let r = p(repo.path());
    let src = Site::new(server, &server.create_database("afbad"), &key);
    src.run("migrate", &[]);
    src.run("populate", &[]);
    backup(&server.url(&src.db), repo.path());
    let exists = |db: &str| server.sql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'")) == "1";

    // A key that cannot decrypt the data is reported before anything is written.
    let never = format!("{}_never", src.db);
    let run = tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--fernet-key-from", &other, "--fernet-key-to", &key]);
    let run = run.fails_with(2, "the source's Fernet key cannot decrypt");
    assert!(run.stderr.contains("connection ") || run.stderr.contains("variable "), "names the row: {}", run.stderr);
    assert!(!exists(&never), "nothing was created");
    tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--fernet-key-from", &key]).fails_with(2, "needs --fernet-key-to");
    tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--fernet-key-from", "short", "--fernet-key-to", &key])
        .fails_with(2, "is not a Fernet key");

    // A non-empty target, and a target on another Airflow version.
    let dr = Site::new(server, &server.create_database("afbad_dr"), &key);
    dr.run("migrate", &[]);
    tandem(&["restore", "--target", &server.url(&dr.db), "--repo", r]).fails_with(5, "already holds an Airflow metadata database");
    server.sql(&dr.db, "UPDATE alembic_version SET version_num = '5f2621c13b39'");
    let run = tandem(&["restore", "--target", &server.url(&dr.db), "--repo", r, "--force"]).fails_with(2, "must run the same version");
    assert!(run.stderr.contains("Airflow 2.10.3") && run.stderr.contains("Airflow 3.3.0"), "{}", run.stderr);
    assert_eq!(server.sql(&dr.db, "SELECT version_num FROM alembic_version"), "5f2621c13b39", "the target is untouched");

    // Promote of a site that is not a standby; fence and health of an unreachable site.
    tandem(&["promote", "--target", &server.url(&src.db)]).fails_with(5, "not a standby");
    tandem(&["fence", "--target", "postgres://tandem:x@127.0.0.1:1/af"]).fails_with(3, "127.0.0.1:1");
    let health = tandem(&["health", "--db", "postgres://tandem:x@127.0.0.1:1/af", "--json"]);
    assert_eq!(health.code, 1);
    assert_eq!(health.json()["reachable"], false);
    // A scheduler heartbeat makes a site healthy (the job row as Airflow's SchedulerJob writes it).
    server.sql(&src.db, "INSERT INTO job (state, job_type, start_date, latest_heartbeat, hostname, unixname) VALUES ('running', 'SchedulerJob', now(), now(), 'sched-1', 'airflow')");
    let health = tandem(&["health", "--db", &server.url(&src.db)]);
    assert_eq!(health.code, 0, "{}", health.stdout);
    assert!(health.stdout.contains("HEALTHY") && health.stdout.contains("sched-1"), "{}", health.stdout);
    let stale = tandem(&["health", "--db", &server.url(&src.db), "--threshold", "0s"]);
    assert_eq!(stale.code, 1, "{}", stale.stdout);

    // Keys are refused where the system has none; a system without a standby mode is fenced by
    // its role alone.
    let plain = server.create_database("afplain");
    server.sql(&plain, "CREATE TABLE t (id int PRIMARY KEY);");
    let generic = backup(&server.url(&plain), repo.path());
    tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--backup", &generic, "--fernet-key-from", &key, "--fernet-key-to", &other])
        .fails_with(2, "keeps no encrypted secrets");
    assert!(!exists(&never));
    let fenced = tandem(&["fence", "--target", &server.url(&plain)]).ok();
    assert!(fenced.stdout.contains("0 change(s)") && fenced.stdout.contains("none -> fenced"), "{}", fenced.stdout);
}

/// Airflow's MySQL layout (tinyint(1) flags, timestamp(6), DDL that commits): standby, promote,
/// fence, health and re-encryption on MariaDB, on the tables and columns they touch.
#[test]
fn mysql_layout_standby_promote_fence() {
    let server = Server::shared(Flavor::MariaDb);
    let (key, dr_key) = (fernet_key(), fernet_key());
    let encrypt = |k: &str, v: &str| {
        let py = std::env::var("AIRFLOW_PY").expect("AIRFLOW_PY");
        let out = std::process::Command::new(py)
            .args([
                "-c",
                "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).encrypt(sys.argv[2].encode()).decode())",
                k,
                v,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let db = server.create_database("afmy");
    server.sql(
        &db,
        &format!(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
             INSERT INTO alembic_version VALUES ('d2f4e1b3c5a7');
             CREATE TABLE dag (dag_id VARCHAR(250) NOT NULL PRIMARY KEY, is_paused TINYINT(1) NOT NULL, fileloc VARCHAR(2000));
             INSERT INTO dag VALUES ('etl', 0, '/dags/etl.py'), ('hourly', 0, '/dags/h.py'), ('off', 1, '/dags/off.py');
             CREATE TABLE dag_run (id INT AUTO_INCREMENT PRIMARY KEY, dag_id VARCHAR(250) NOT NULL, run_id VARCHAR(250) NOT NULL,
               state VARCHAR(50), end_date TIMESTAMP(6) NULL, UNIQUE KEY (dag_id, run_id));
             INSERT INTO dag_run (dag_id, run_id, state) VALUES ('etl', 'r1', 'success'), ('etl', 'r2', 'running'), ('hourly', 'h1', 'queued');
             CREATE TABLE task_instance (dag_id VARCHAR(250) NOT NULL, run_id VARCHAR(250) NOT NULL, task_id VARCHAR(250) NOT NULL,
               map_index INT NOT NULL DEFAULT -1, state VARCHAR(20), end_date TIMESTAMP(6) NULL, PRIMARY KEY (dag_id, task_id, run_id, map_index));
             INSERT INTO task_instance VALUES ('etl', 'r1', 'a', -1, 'success', NULL), ('etl', 'r2', 'a', -1, 'success', NULL), ('etl', 'r2', 'b', -1, 'running', NULL);
             CREATE TABLE job (id INT AUTO_INCREMENT PRIMARY KEY, job_type VARCHAR(30), state VARCHAR(20), latest_heartbeat TIMESTAMP(6) NULL, hostname VARCHAR(500));
             INSERT INTO job (job_type, state, latest_heartbeat, hostname) VALUES ('SchedulerJob', 'running', UTC_TIMESTAMP(6), 'old-region');
             CREATE TABLE connection (id INT AUTO_INCREMENT PRIMARY KEY, conn_id VARCHAR(250) NOT NULL UNIQUE, password TEXT, extra TEXT,
               is_encrypted TINYINT(1), is_extra_encrypted TINYINT(1));
             INSERT INTO connection (conn_id, password, extra, is_encrypted, is_extra_encrypted) VALUES ('pg', '{}', '{}', 1, 1);
             CREATE TABLE variable (id INT AUTO_INCREMENT PRIMARY KEY, `key` VARCHAR(250) UNIQUE, val MEDIUMTEXT, is_encrypted TINYINT(1));
             INSERT INTO variable (`key`, val, is_encrypted) VALUES ('city', '{}', 1), ('plain', 'x', 0);",
            encrypt(&key, "s3cret"),
            encrypt(&key, "{\"sslmode\": \"require\"}"),
            encrypt(&key, "Zürich")
        ),
    );
    let repo = tempfile::tempdir().unwrap();
    backup(&server.url(&db), repo.path());
    let dr = format!("{db}_dr");
    tandem(&["restore", "--target", &server.url(&dr), "--repo", p(repo.path()), "--standby", "--fernet-key-from", &key, "--fernet-key-to", &dr_key]).ok();
    assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM dag WHERE is_paused = 0"), "0");
    assert_eq!(server.sql(&dr, "SELECT GROUP_CONCAT(dag_id ORDER BY dag_id) FROM tandem_standby WHERE was_paused = 0"), "etl,hourly");
    assert_eq!(server.sql(&dr, "SELECT state FROM job"), "failed");
    let token = server.sql(&dr, "SELECT val FROM variable WHERE `key` = 'city'");
    let py = std::env::var("AIRFLOW_PY").unwrap();
    let out = std::process::Command::new(&py)
        .args([
            "-c",
            "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).decrypt(sys.argv[2].encode()).decode())",
            &dr_key,
            &token,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Zürich", "re-encrypted for the DR key: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.sql(&dr, "SELECT val FROM variable WHERE `key` = 'plain'"), "x");

    let promoted = tandem(&["promote", "--target", &server.url(&dr), "--json"]).ok().json();
    assert_eq!(changed(&promoted, "dag", "active"), ["etl", "hourly"], "{promoted}");
    assert_eq!(server.sql(&dr, "SELECT GROUP_CONCAT(dag_id ORDER BY dag_id) FROM dag WHERE is_paused = 0"), "etl,hourly");
    assert_eq!(server.sql(&dr, "SELECT GROUP_CONCAT(state ORDER BY run_id) FROM dag_run"), "queued,success,queued");
    assert_eq!(server.sql(&dr, "SELECT COALESCE(state, 'none') FROM task_instance WHERE run_id = 'r2' ORDER BY task_id"), "success\nnone");
    assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'tandem_standby'"), "0");

    let fenced = tandem(&["fence", "--target", &server.url(&db), "--json"]).ok().json();
    assert_eq!(changed(&fenced, "dag", "paused"), ["etl", "hourly"], "{fenced}");
    assert_eq!(server.sql(&db, "SELECT COUNT(*) FROM dag WHERE is_paused = 0"), "0");
    let run = tandem(&["promote", "--target", &server.url(&db), "--interrupted", "fail", "--json"]).ok().json();
    let runs: Vec<&serde_json::Value> = run["changed"].as_array().unwrap().iter().filter(|c| c["kind"] == "dag run").collect();
    assert!(!runs.is_empty() && runs.iter().all(|r| r["to"] == "failed"), "{run}");
    assert_eq!(server.sql(&db, "SELECT COUNT(*) FROM task_instance WHERE state = 'failed'"), "1");
    assert_eq!(server.sql(&db, "SELECT GROUP_CONCAT(dag_id ORDER BY dag_id) FROM dag WHERE is_paused = 0"), "etl,hourly");

    let health = tandem(&["health", "--db", &server.url(&db)]);
    assert_eq!(health.code, 0, "{}", health.stdout);
    assert!(health.stdout.contains("old-region"), "{}", health.stdout);
}
