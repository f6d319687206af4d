//! Airflow continuous standby: an Airflow 3 metadata database on PostgreSQL replicated into a
//! DR database with its own Fernet key while the real Airflow CLI works on the primary. The
//! standby keeps every DAG paused and remembers the primary's pause changes; after promote the
//! Airflow CLI on the DR site sees the runs, variables and decrypted connections and schedules.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::airflow::*;
use common::replica::*;
use common::*;

fn paused(state: &serde_json::Value) -> BTreeMap<String, bool> {
    state["dags"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["is_paused"].as_bool().unwrap())).collect()
}

#[test]
fn an_airflow_standby_follows_its_primary_paused_and_promotes_to_what_the_primary_had() {
    let server = Server::start(Flavor::Postgres);
    let (key, dr_key) = (fernet_key(), fernet_key());
    let primary = Site::new(&server, &server.create_database("afrepl"), &key);
    primary.run("migrate", &[]);
    let populated = primary.run("populate", &[]);
    let dr = Site::new(&server, &server.create_database("afrepl_dr"), &dr_key);
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &server.url(&primary.db), &[("dr", &server.url(&dr.db), &format!("fernet-key = \"{dr_key}\"\n"))]);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen("[sites.primary]\n", &format!("[sites.primary]\nfernet-key = \"{key}\"\n"), 1);
    std::fs::write(&cfg, text).unwrap();

    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(180), &mut [&mut a], || bootstrapped(&cfg, "dr"));
    let all_paused = "SELECT count(*) FROM dag WHERE NOT is_paused";
    assert_eq!(server.sql(&dr.db, all_paused), "0", "the standby has every DAG paused");

    // The Airflow CLI works on the primary: a run, a pause change each way, a variable, a connection.
    let before = paused(&populated);
    let (active, inactive) = (before.iter().find(|(_, p)| !**p).unwrap().0.clone(), before.iter().find(|(_, p)| **p).unwrap().0.clone());
    let run = primary.run("trigger", &["--dag", &active]);
    primary.run("pause", &["--dag", &active]);
    primary.run("unpause", &["--dag", &inactive]);
    primary.run("cli", &["--", "variables", "set", "replicated_var", "über"]);
    primary.run("cli", &["--", "connections", "add", "replicated_conn", "--conn-uri", "postgres://u:s3cr%C3%A9t@db.example:5432/x"]);
    let source_paused = paused(&primary.run("read", &[]));
    assert_ne!(source_paused, before, "the pause changes happened at the primary");

    let digest = "SELECT (SELECT count(*) FROM dag_run) || ':' || (SELECT count(*) FROM variable) || ':' || (SELECT count(*) FROM connection) \
                  || ':' || (SELECT count(*) FROM task_instance)";
    wait_until("the standby to catch up", Duration::from_secs(90), &mut [&mut a], || server.sql(&dr.db, digest) == server.sql(&primary.db, digest));
    assert_eq!(server.sql(&dr.db, all_paused), "0", "the standby still has every DAG paused");
    let remembered = server.sql(&dr.db, "SELECT string_agg(dag_id || '=' || was_paused, ',' ORDER BY dag_id) FROM tandem_standby");
    let expected: Vec<String> = source_paused.iter().map(|(d, p)| format!("{d}={}", u8::from(*p))).collect();
    assert_eq!(remembered, expected.join(","), "the standby remembers the primary's pause states as they are now");
    let token = server.sql(&dr.db, "SELECT password FROM connection WHERE conn_id = 'replicated_conn'");
    assert_ne!(token, server.sql(&primary.db, "SELECT password FROM connection WHERE conn_id = 'replicated_conn'"), "re-encrypted with the DR key");
    assert_eq!(a.sigterm(), 0, "{}", a.log());

    // Promote: the DR site becomes what the primary was, and Airflow works on it.
    let promoted = tandem(&["promote", "--target", &server.url(&dr.db), "--interrupted", "leave"]).ok();
    assert!(promoted.code == 0, "{}", promoted.stderr);
    let after = dr.run("read", &[]);
    assert_eq!(paused(&after), source_paused, "promote restores the primary's pause states");
    assert_eq!(after["variables"]["replicated_var"], "über", "{}", after["variables"]);
    assert_eq!(after["connections"]["replicated_conn"]["password"], "s3crét", "{}", after["connections"]["replicated_conn"]);
    assert!(after["dag_runs"].as_array().unwrap().iter().any(|r| r["run_id"] == run["run_id"]), "the run triggered at the primary is there");
    let triggered = dr.run("trigger", &["--dag", &inactive]);
    assert_eq!(triggered["state"], "queued", "{triggered}");
}
