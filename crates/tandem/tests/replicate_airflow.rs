//! Airflow continuous standby: an Airflow 3 metadata database on PostgreSQL replicated into a
//! DR database with its own Fernet key while the real Airflow CLI works on the primary. The
//! standby keeps every DAG paused and remembers the primary's pause changes; after a switchover
//! (the primary fenced: every DAG paused, writes stopped) the
//! Airflow CLI on the DR site sees the runs, variables and decrypted connections and schedules.
//! A second standby on MariaDB (in Airflow's MySQL layout, where this CLI cannot run) follows
//! the same primary and is checked by SQL and `tandem verify`.

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
    let maria = Server::start(Flavor::MariaDb);
    let my_db = maria.create_database("afrepl_my");
    let dir = tempfile::tempdir().unwrap();
    let keyed = format!("fernet-key = \"{dr_key}\"\n");
    let cfg = replica_config(dir.path(), &server.url(&primary.db), &[("dr", &server.url(&dr.db), &keyed), ("dr_my", &maria.url(&my_db), &keyed)]);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen("[sites.primary]\n", &format!("[sites.primary]\nfernet-key = \"{key}\"\n"), 1);
    std::fs::write(&cfg, text).unwrap();

    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    let mut m = Replica::start(&cfg, "dr_my", &[], dir.path());
    wait_until("the bootstraps", Duration::from_secs(240), &mut [&mut a, &mut m], || bootstrapped(&cfg, "dr") && bootstrapped(&cfg, "dr_my"));
    let all_paused = "SELECT count(*) FROM dag WHERE NOT is_paused";
    assert_eq!(server.sql(&dr.db, all_paused), "0", "the standby has every DAG paused");
    assert_eq!(maria.sql(&my_db, all_paused), "0", "the MariaDB standby has every DAG paused");
    let assets = |on: &Server, db: &str| on.sql(db, "SELECT count(*) FROM asset_active a JOIN asset b ON a.name = b.name AND a.uri = b.uri");
    assert_ne!(assets(&server, &primary.db), "0", "the primary has active assets");
    assert_eq!(assets(&maria, &my_db), assets(&server, &primary.db), "the assets crossed with their keys");
    let charset = "SELECT GROUP_CONCAT(DISTINCT CHARACTER_SET_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                   AND TABLE_NAME = 'asset_active' AND COLUMN_NAME IN ('name', 'uri')";
    assert_eq!(maria.sql(&my_db, charset), "latin1", "asset names and URIs as Airflow lays them out on MySQL");

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
    let my_digest = "SELECT CONCAT((SELECT count(*) FROM dag_run), ':', (SELECT count(*) FROM variable), ':', (SELECT count(*) FROM connection), \
                     ':', (SELECT count(*) FROM task_instance))";
    wait_until("the standbys to catch up", Duration::from_secs(90), &mut [&mut a, &mut m], || {
        let want = server.sql(&primary.db, digest);
        server.sql(&dr.db, digest) == want && maria.sql(&my_db, my_digest) == want
    });
    assert_eq!(server.sql(&dr.db, all_paused), "0", "the standby still has every DAG paused");
    assert_eq!(maria.sql(&my_db, all_paused), "0", "the MariaDB standby still has every DAG paused");
    let remembered = server.sql(&dr.db, "SELECT string_agg(dag_id || '=' || was_paused, ',' ORDER BY dag_id) FROM tandem_standby");
    let expected: Vec<String> = source_paused.iter().map(|(d, p)| format!("{d}={}", u8::from(*p))).collect();
    assert_eq!(remembered, expected.join(","), "the standby remembers the primary's pause states as they are now");
    let my_remembered = maria.sql(&my_db, "SELECT GROUP_CONCAT(dag_id, '=', was_paused ORDER BY dag_id SEPARATOR ',') FROM tandem_standby");
    assert_eq!(my_remembered, expected.join(","), "so does the MariaDB standby");
    let secret = "SELECT password FROM connection WHERE conn_id = 'replicated_conn'";
    let token = server.sql(&primary.db, secret);
    assert_ne!(server.sql(&dr.db, secret), token, "re-encrypted with the DR key");
    assert_ne!(maria.sql(&my_db, secret), token, "re-encrypted with the DR key");
    assert_eq!(m.sigterm(), 0, "{}", m.log());
    // Decrypted, the MariaDB standby holds what the primary holds (pause states aside: kept for promote).
    let verify =
        tandem(&["verify", "--source", &server.url(&primary.db), "--target", &maria.url(&my_db), "--fernet-key-source", &key, "--fernet-key-target", &dr_key]);
    assert_eq!(verify.code, 0, "{}\n{}", verify.stdout, verify.stderr);
    assert!(verify.stdout.contains("RESULT: EQUAL"), "{}", verify.stdout);

    // Switchover with the run still queued: the primary is fenced (every DAG paused, writes
    // stopped), dr gets all of it and becomes what the primary was, and Airflow works on it.
    let moved = tandem(&["--config", p(&cfg), "switchover", "--to", "dr", "--interrupted", "leave"]).ok();
    assert!(moved.stdout.contains("switched over from primary to dr at epoch 1: RPO 0"), "{}", moved.stdout);
    assert_ne!(a.wait(Duration::from_secs(60)), 0, "replication into the promoted site stops: {}", a.log());
    assert_eq!(server.sql(&primary.db, all_paused), "0", "the old primary has every DAG paused");
    assert!(server.try_sql(&primary.db, "UPDATE dag SET is_paused = false").is_err(), "the old primary takes no writes");
    let after = dr.run("read", &[]);
    assert_eq!(paused(&after), source_paused, "promote restores the primary's pause states");
    assert_eq!(after["variables"]["replicated_var"], "über", "{}", after["variables"]);
    assert_eq!(after["connections"]["replicated_conn"]["password"], "s3crét", "{}", after["connections"]["replicated_conn"]);
    assert!(after["dag_runs"].as_array().unwrap().iter().any(|r| r["run_id"] == run["run_id"]), "the run triggered at the primary is there");
    let triggered = dr.run("trigger", &["--dag", &inactive]);
    assert_eq!(triggered["state"], "queued", "{triggered}");

    // The MariaDB standby promotes the same way (checked by SQL).
    let promoted = tandem(&["promote", "--target", &maria.url(&my_db), "--interrupted", "leave"]);
    assert!(promoted.code == 0, "{}", promoted.stderr);
    let flags = maria.sql(&my_db, "SELECT GROUP_CONCAT(dag_id, '=', is_paused + 0 ORDER BY dag_id SEPARATOR ',') FROM dag");
    assert_eq!(flags, expected.join(","), "promote gives the MariaDB site the primary's pause states");
    let marker = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'tandem_standby'";
    assert_eq!(maria.sql(&my_db, marker), "0", "the promoted site is no standby");
}

/// The primary's database answers all along, but its scheduler stops beating: a daemon whose
/// standby has `failover = "auto"` fails over on the system's own heartbeat (as MWAA's design
/// watches it), fences the primary it can still reach (every DAG paused, writes stopped) and
/// gives dr the primary's pause states.
#[test]
fn a_daemon_fails_over_when_the_primary_scheduler_stops_beating() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    let server = Server::start(Flavor::Postgres);
    let (key, dr_key) = (fernet_key(), fernet_key());
    let primary = Site::new(&server, &server.create_database("afbeat"), &key);
    primary.run("migrate", &[]);
    let source_paused = paused(&primary.run("populate", &[]));
    let dr = Site::new(&server, &server.create_database("afbeat_dr"), &dr_key);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "repo = \"{repo}\"\n[serve]\nhealth-interval = \"1s\"\nhealth-threshold = \"3s\"\n\
         [sites.primary]\ndb = \"{primary}\"\nfernet-key = \"{key}\"\n\
         [sites.dr]\ndb = \"{dr}\"\nsource = \"primary\"\nfernet-key = \"{dr_key}\"\nreplicate = true\n\
         failover = \"auto\"\nfailover-after = \"3s\"\n",
        repo = p(&dir.path().join("repo")),
        primary = server.url(&primary.db),
        dr = server.url(&dr.db),
    );
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(&cfg, text).unwrap();
    tandem(&["--config", p(&cfg), "repo", "init"]).ok();

    // The scheduler beats every half second until the test stops it.
    let beating = AtomicBool::new(true);
    let beat = "UPDATE job SET latest_heartbeat = now() WHERE job_type = 'SchedulerJob' AND state = 'running'";
    assert_ne!(server.sql(&primary.db, &format!("WITH u AS ({beat} RETURNING 1) SELECT count(*) FROM u")), "0", "populate left a running scheduler");
    let site = |s: &serde_json::Value, name: &str| s["sites"].as_array().unwrap().iter().find(|x| x["name"] == name).cloned().unwrap();
    let daemon = common::serve::Daemon::start(&cfg, &dir.path().join("serve.log"));
    let done = std::thread::scope(|scope| {
        let scheduler = scope.spawn(|| {
            while beating.load(Ordering::SeqCst) {
                server.sql(&primary.db, beat);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        daemon.wait_for("the standby's bootstrap", Duration::from_secs(240), |s| site(s, "dr")["replication"]["status"]["state"] == "streaming");
        // Alive for longer than failover-after and the threshold together: no failover.
        std::thread::sleep(Duration::from_secs(8));
        let quiet = daemon.status();
        assert_eq!(site(&quiet, "dr")["failover"]["failed_probes"], 0, "{quiet}");
        assert!(site(&quiet, "dr")["failover"]["last_attempt"].is_null(), "no failover while the scheduler beats: {quiet}");
        beating.store(false, Ordering::SeqCst);
        scheduler.join().unwrap();
        let stopped = Instant::now();
        let done = daemon.wait_for("the failover on the stale heartbeat", Duration::from_secs(60), |s| {
            site(s, "dr")["failover"]["last_result"].as_str().is_some_and(|r| r.contains("failed over from primary to dr at epoch 1"))
        });
        eprintln!("failed over {:.1} s after the last heartbeat: {}", stopped.elapsed().as_secs_f64(), site(&done, "dr")["failover"]["last_result"]);
        done
    });
    let why = site(&done, "dr")["failover"]["last_probe_error"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("scheduler"), "the probes failed on the scheduler's heartbeat, not on the database: {why}");
    drop(daemon);

    // The primary's database was reachable: it is fenced, not just left behind.
    let status = tandem(&["--config", p(&cfg), "--json", "status"]).json();
    let role = |name: &str| status["sites"].as_array().unwrap().iter().find(|s| s["site"] == name).unwrap()["role"]["role"].clone();
    assert_eq!((role("dr"), role("primary")), ("active".into(), "fenced".into()), "{status}");
    assert_eq!(server.sql(&primary.db, "SELECT count(*) FROM dag WHERE NOT is_paused"), "0", "the old primary has every DAG paused");
    assert!(server.try_sql(&primary.db, "UPDATE variable SET val = val").is_err(), "the old primary takes no writes");
    let after = dr.run("read", &[]);
    assert_eq!(paused(&after), source_paused, "dr runs what the primary ran, paused as it was");
}

/// `tandem drill dr --switchover` on Airflow: while dr is active the Airflow CLI pauses a DAG,
/// sets a variable and triggers a run there; the way back brings all of it home (the variable
/// re-encrypted with the primary's key, the pause state kept for the primary's promote), the
/// primary is active with what dr had, and dr is a standby again with every DAG paused.
#[test]
fn an_airflow_switchover_drill_brings_home_what_dr_did() {
    let server = Server::start(Flavor::Postgres);
    let (key, dr_key) = (fernet_key(), fernet_key());
    let primary = Site::new(&server, &server.create_database("afdrill"), &key);
    primary.run("migrate", &[]);
    let before = paused(&primary.run("populate", &[]));
    let dr = Site::new(&server, &server.create_database("afdrill_dr"), &dr_key);
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &server.url(&primary.db), &[("dr", &server.url(&dr.db), &format!("fernet-key = \"{dr_key}\"\n"))]);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen("[sites.primary]\n", &format!("[sites.primary]\nfernet-key = \"{key}\"\n"), 1);
    std::fs::write(&cfg, text).unwrap();
    tandem(&["--config", p(&cfg), "repo", "init"]).ok();
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(240), &mut [&mut a], || bootstrapped(&cfg, "dr"));
    let (active, inactive) = (before.iter().find(|(_, p)| !**p).unwrap().0.clone(), before.iter().find(|(_, p)| **p).unwrap().0.clone());

    let role = |db: &str| server.sql(db, "SELECT role FROM tandem_role.roles");
    let (drill, run) = std::thread::scope(|scope| {
        let drill = scope.spawn(|| tandem(&["--config", p(&cfg), "drill", "dr", "--switchover", "--stay", "60s"]));
        wait_until("dr to be active", Duration::from_secs(120), &mut [], || role(&dr.db) == "active");
        // Airflow works on dr while it is the active site.
        dr.run("pause", &["--dag", &active]);
        dr.run("cli", &["--", "variables", "set", "drill_var", "set at dr"]);
        let run = dr.run("trigger", &["--dag", &inactive]);
        assert_eq!(role(&dr.db), "active", "the Airflow CLI took longer than the drill's stay: raise --stay");
        (drill.join().unwrap(), run)
    });
    eprintln!("Airflow switchover drill:\n{}\n{}", drill.stdout, drill.stderr);
    let drill = drill.ok();
    assert!(drill.stdout.contains("RESULT: OK"), "{}", drill.stdout);
    assert!(drill.stdout.contains("verify") && drill.stdout.contains("objects GOOD"), "the old primary was verified against dr: {}", drill.stdout);
    assert_eq!((role(&primary.db), role(&dr.db)), ("active".to_string(), "standby".to_string()));

    let home = primary.run("read", &[]);
    let mut expected = before.clone();
    expected.insert(active.clone(), true);
    assert_eq!(paused(&home), expected, "the primary has the pause states dr had");
    assert_eq!(home["variables"]["drill_var"], "set at dr", "decrypted with the primary's key: {}", home["variables"]);
    assert!(home["dag_runs"].as_array().unwrap().iter().any(|r| r["run_id"] == run["run_id"]), "the run triggered at dr is at the primary");
    assert_eq!(server.sql(&dr.db, "SELECT count(*) FROM dag WHERE NOT is_paused"), "0", "dr is a standby again: every DAG paused");
    assert!(server.try_sql(&dr.db, "UPDATE dag SET is_paused = false").is_err(), "dr takes no application writes");

    // dr's replication goes on from where the way back left it: a pause change at the primary
    // reaches dr's memory of the pause states, without a bootstrap.
    a.sigterm();
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    primary.run("unpause", &["--dag", &active]);
    let remembered = format!("SELECT was_paused FROM tandem_standby WHERE dag_id = '{active}'");
    wait_until("dr to follow the primary again", Duration::from_secs(90), &mut [&mut a], || server.sql(&dr.db, &remembered) == "0");
    assert!(!a.log().contains("bootstrapping"), "{}", a.log());
}
