//! Airflow disaster recovery proven with the real Airflow 3 CLI and models (tests/airflow/af.py):
//! backup of a populated metadata DB, restore into another server as a standby (same Fernet key,
//! and another key with re-encryption), every DAG paused there, promote unpauses exactly the DAGs
//! that were active at the source and reruns interrupted runs, a new run can be triggered, and the
//! primary is fenced and promoted back (failback). Bad input changes nothing.

mod common;

use std::collections::BTreeMap;

use common::airflow::{fernet_key, Site};
use common::*;

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
    let running_before: Vec<String> = populated["dag_runs"].as_array().unwrap().iter().filter(|r| r["state"] == "running" || r["state"] == "queued").map(|r| r["run_id"].as_str().unwrap().to_string()).collect();
    let promoted = tandem(&["promote", "--target", &dr_server.url(&dr.db), "--json"]).ok().json();
    let unpaused: Vec<String> = promoted["unpaused"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    let active: Vec<String> = at_source.iter().filter(|(_, p)| !**p).map(|(d, _)| d.clone()).collect();
    assert_eq!(unpaused, active, "{promoted}");
    let changed: Vec<String> = promoted["runs"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(changed.len(), running_before.len(), "{promoted}");
    assert!(promoted["runs"].as_array().unwrap().iter().all(|r| r["to"] == "queued"), "{promoted}");
    let after = dr.run("read", &[]);
    assert_eq!(paused(&after), at_source, "promote restores the source's pause states exactly");
    assert!(after["task_instances"].as_array().unwrap().iter().all(|t| t["state"] != "running"), "interrupted tasks were cleared");
    let triggered = dr.run("trigger", &["--dag", "tandem_etl"]);
    assert_eq!(triggered["state"], "queued", "{triggered}");
    tandem(&["promote", "--target", &dr_server.url(&dr.db)]).fails_with(5, "not a standby");
    tandem(&["promote", "--target", &dr_server.url(&dr.db), "--force", "--interrupted", "leave"]).ok();

    // Failback: fence the old primary (everything paused, the active set remembered), promote it.
    let fenced = tandem(&["fence", "--target", &primary_server.url(&primary.db), "--json"]).ok().json();
    let paused_now: Vec<String> = fenced["paused"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
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
    tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--fernet-key-from", "short", "--fernet-key-to", &key]).fails_with(2, "is not a Fernet key");

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

    // Standby and keys are refused where the system has neither.
    let plain = server.create_database("afplain");
    server.sql(&plain, "CREATE TABLE t (id int PRIMARY KEY);");
    let generic = backup(&server.url(&plain), repo.path());
    tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--backup", &generic, "--standby"]).fails_with(6, "no standby mode");
    tandem(&["restore", "--target", &server.url(&never), "--repo", r, "--backup", &generic, "--fernet-key-from", &key, "--fernet-key-to", &other])
        .fails_with(2, "keeps no encrypted secrets");
    tandem(&["fence", "--target", &server.url(&plain)]).fails_with(6, "cannot be fenced");
    assert!(!exists(&never));
}
