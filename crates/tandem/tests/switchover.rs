//! `tandem switchover` through the real binary on both engines, while an application (a user
//! without admin privileges) keeps writing to the primary: the primary ends read-only, the
//! replica holds every row the application committed (RPO 0) and becomes active at the next
//! epoch, its replication stops, and the timeline is printed. Bad starts change nothing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::replica::*;
use common::*;

const APP: &str = "tandem_app";
const APP_PASSWORD: &str = "app-pw";

/// Makes the application's user (no admin privileges) with the rights to write `db`.
fn app_user(server: &Server, db: &str) {
    match server.flavor() {
        Flavor::MariaDb => {
            server.sql(db, &format!("CREATE USER IF NOT EXISTS '{APP}'@'%' IDENTIFIED BY '{APP_PASSWORD}'; GRANT SELECT, INSERT ON `{db}`.* TO '{APP}'@'%';"))
        }
        Flavor::Postgres => server.sql(
            db,
            &format!(
                "SET default_transaction_read_only = off; DO $$ BEGIN CREATE ROLE {APP} LOGIN PASSWORD '{APP_PASSWORD}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
                 GRANT CONNECT ON DATABASE \"{db}\" TO {APP}; GRANT SELECT, INSERT ON t TO {APP};"
            ),
        ),
    };
}

/// One INSERT as the application; the client's error text when it is refused.
fn app_insert(server: &Server, db: &str, id: u32) -> Result<(), String> {
    let mut cmd = match server.flavor() {
        Flavor::MariaDb => {
            let mut c = Command::new("mariadb");
            c.args(["--no-defaults", "-h127.0.0.1", "--protocol=tcp", "-N", "-B"])
                .arg(format!("-P{}", server.port()))
                .arg(format!("-u{APP}"))
                .arg(format!("-p{APP_PASSWORD}"))
                .arg(db);
            c
        }
        Flavor::Postgres => {
            let mut c = Command::new(tandem_testkit::pg_bin("psql"));
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &server.port().to_string(), "-U", APP, "-d", db])
                .env("PGPASSWORD", APP_PASSWORD);
            c
        }
    };
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("client");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("INSERT INTO t VALUES ({id}, 'app');").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

fn switch_over(flavor: Flavor, primary_server: &Server, dr_server: &Server, dir: &Path) {
    let primary = primary_server.create_database("so_p");
    primary_server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (0, 'seed');");
    app_user(primary_server, &primary);
    let dr = dr_server.create_database("so_dr");
    let cfg = replica_config(dir, &primary_server.url(&primary), &[("dr", &dr_server.url(&dr), "")]);
    let c = p(&cfg);

    tandem(&["--config", c, "repo", "init"]).ok();
    // Bad starts change nothing: no replica yet, an unknown site, a site with no source.
    tandem(&["--config", c, "switchover", "--to", "dr"]).fails_with(2, "neither a replica");
    tandem(&["--config", c, "switchover", "--to", "nowhere"]).fails_with(2, "nowhere");
    tandem(&["--config", c, "switchover", "--to", "primary"]).fails_with(2, "has no source");

    let mut replica = Replica::start(&cfg, "dr", &[], dir);
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut replica], || bootstrapped(&cfg, "dr"));
    let dry = tandem(&["--config", c, "switchover", "--to", "dr", "--dry-run"]).ok();
    assert!(dry.stdout.contains("dry run: dr") && dry.stdout.contains("at epoch 1"), "{}", dry.stdout);

    // The application writes all along.
    let (stop, committed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU32::new(0)));
    let refused = Arc::new(std::sync::Mutex::new(String::new()));
    let writer = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let mut id = 1;
            while !stop.load(Ordering::Relaxed) {
                match app_insert(primary_server, &primary, id) {
                    Ok(()) => committed.store(id, Ordering::Relaxed),
                    Err(e) => *refused.lock().unwrap() = e,
                }
                id += 1;
            }
        });
        std::thread::sleep(Duration::from_secs(2));
        let run = tandem(&["--config", c, "switchover", "--to", "dr"]);
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();
        run
    });
    let run = writer.ok();
    let out = &run.stdout;
    eprintln!("{flavor:?} switchover:\n{out}");
    for step in ["check", "fence primary", "wait for dr to reach the final position", "claim the next epoch", "promote dr"] {
        assert!(out.contains(step), "{flavor:?}: step {step:?} missing:\n{out}");
    }
    assert!(out.contains("switched over from primary to dr at epoch 1: RPO 0") && out.contains("RTO"), "{out}");

    // RPO 0: every row the application committed at the primary is at dr; later writes were refused.
    let n = committed.load(Ordering::Relaxed);
    assert!(n > 0, "the application wrote nothing");
    let count = |server: &Server, db: &str| server.sql(db, "SELECT COUNT(*) FROM t");
    assert_eq!(count(dr_server, &dr), count(primary_server, &primary), "{flavor:?}: dr holds what the primary committed");
    assert_eq!(dr_server.sql(&dr, &format!("SELECT COUNT(*) FROM t WHERE id = {n}")), "1", "{flavor:?}: the last committed row is at dr");
    let refusal = refused.lock().unwrap().to_lowercase();
    assert!(refusal.contains("read-only") || refusal.contains("read_only") || refusal.contains("read only"), "{flavor:?}: {refusal}");
    assert!(app_insert(primary_server, &primary, 1_000_000).is_err(), "the old primary takes no application writes");

    // Roles and epoch; the replication into dr stopped by itself.
    let status = tandem(&["--config", c, "--json", "status"]);
    let s = status.json();
    assert_eq!(status.code, 0, "{s}");
    assert_eq!((s["epoch"]["epoch"].as_u64(), s["epoch"]["active"].as_str()), (Some(1), Some("dr")), "{s}");
    let role = |name: &str| s["sites"].as_array().unwrap().iter().find(|x| x["site"] == name).unwrap()["role"]["role"].clone();
    assert_eq!((role("primary"), role("dr")), ("fenced".into(), "active".into()), "{s}");
    assert_ne!(replica.wait(Duration::from_secs(60)), 0, "{}", replica.log());
    assert!(replica.log().contains("no standby any more"), "{}", replica.log());
    tandem(&["--config", c, "switchover", "--to", "dr"]).fails_with(5, "active site is dr");

    // The old primary rejoins as dr's standby: it committed nothing dr lacks.
    let flipped = dir.join("rejoin.toml");
    let text = format!(
        "repo = \"{}\"\n[sites.dr]\ndb = \"{}\"\n[sites.primary]\ndb = \"{}\"\nsource = \"dr\"\n",
        p(&dir.join("repo")),
        dr_server.url(&dr),
        primary_server.url(&primary)
    );
    std::fs::write(&flipped, text).unwrap();
    let rejoined = tandem(&["--config", p(&flipped), "rejoin", "primary"]).ok();
    assert!(rejoined.stdout.contains("stray writes of primary: none"), "{flavor:?}: {}", rejoined.stdout);
    assert!(rejoined.stdout.contains("primary rejoined as a standby of dr (epoch 1)"), "{flavor:?}: {}", rejoined.stdout);
    assert_eq!(count(primary_server, &primary), count(dr_server, &dr), "{flavor:?}");

    // Failback by hand: a promote gives the old primary its writes back.
    tandem(&["--config", c, "promote", "primary"]).ok();
    app_insert(primary_server, &primary, 2_000_000).expect("the promoted site takes writes");
}

#[test]
fn switchover_loses_nothing_and_stops_the_old_primarys_writes() {
    // MariaDB's read_only is server-wide: the primary gets a server of its own.
    let (my_primary, my_dr) = (Server::start(Flavor::MariaDb), Server::shared(Flavor::MariaDb));
    let dir = tempfile::tempdir().unwrap();
    switch_over(Flavor::MariaDb, &my_primary, my_dr, dir.path());
    let pg = Server::shared(Flavor::Postgres);
    let dir = tempfile::tempdir().unwrap();
    switch_over(Flavor::Postgres, pg, pg, dir.path());
}

/// The primary's server dies: a failover refuses nothing it need not, promotes the replica at the
/// next epoch, reports the RPO it got and that the old site was not fenced; when the old primary
/// comes back, `tandem status` names it until it is fenced.
#[test]
fn failover_from_a_dead_primary_and_fence_on_its_return() {
    let mut primary_server = Server::start(Flavor::MariaDb);
    let dr_server = Server::shared(Flavor::MariaDb);
    let primary = primary_server.create_database("fo_p");
    primary_server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a');");
    let dr = dr_server.create_database("fo_dr");
    let dir = tempfile::tempdir().unwrap();
    // A client-redirection hook that fails after doing its part.
    let hook = format!(
        "on-promote = \"echo $TANDEM_EVENT $TANDEM_SITE $TANDEM_FROM $TANDEM_EPOCH > {}; echo DNS not updated >&2; exit 3\"\n",
        p(&dir.path().join("hook.out"))
    );
    let cfg = replica_config(dir.path(), &primary_server.url(&primary), &[("dr", &dr_server.url(&dr), &hook)]);
    let webhook = common::serve::Webhook::start();
    let text = std::fs::read_to_string(&cfg).unwrap() + &format!("[serve]\nwebhook = \"{}\"\n", webhook.url);
    std::fs::write(&cfg, text).unwrap();
    let c = p(&cfg);
    tandem(&["--config", c, "repo", "init"]).ok();
    tandem(&["--config", c, "failover", "--to", "dr"]).fails_with(5, "no replica");

    let mut replica = Replica::start(&cfg, "dr", &[], dir.path());
    primary_server.sql(&primary, "INSERT INTO t VALUES (2, 'b');");
    wait_until("the replica to catch up", Duration::from_secs(120), &mut [&mut replica], || {
        bootstrapped(&cfg, "dr") && dr_server.sql(&dr, "SELECT COUNT(*) FROM t") == "2"
    });
    primary_server.stop();
    std::thread::sleep(Duration::from_secs(2));
    tandem(&["--config", c, "failover", "--to", "dr", "--max-lag", "1s"]).fails_with(5, "more than the 1 s allowed");
    let run = tandem(&["--config", c, "failover", "--to", "dr"]);
    eprintln!("failover:\n{}", run.stdout);
    let run = run.fails_with(5, "the failover to dr at epoch 1 is done: the on-promote hook of site dr failed (exit status: 3): DNS not updated");
    assert_eq!(std::fs::read_to_string(dir.path().join("hook.out")).unwrap().trim(), "failover dr primary 1", "the hook saw the move");
    let told = webhook.events();
    assert!(
        told.iter().any(|e| e["event"] == "promoted" && e["move"] == "failover" && e["site"] == "dr" && e["from"] == "primary" && e["epoch"] == 1),
        "the webhook heard of the failover: {told:?}"
    );
    assert!(run.stdout.contains("failed over from primary to dr at epoch 1: RPO at most"), "{}", run.stdout);
    assert!(run.stdout.contains("primary was not fenced"), "{}", run.stdout);
    assert_eq!(dr_server.sql(&dr, "SELECT COUNT(*) FROM t"), "2");
    tandem(&["--config", c, "failover", "--to", "dr"]).fails_with(5, "active site already");
    replica.kill9();

    // The old primary comes back writable: status names it until it is fenced.
    primary_server.start_again();
    let status = tandem(&["--config", c, "--json", "status"]);
    assert_eq!(status.code, 1, "{}", status.stdout);
    assert!(status.json()["problems"].to_string().contains("primary has no role but the platform is at epoch 1 with dr active"), "{}", status.stdout);
    tandem(&["--config", c, "fence", "primary", "--read-only"]).ok();
    let status = tandem(&["--config", c, "--json", "status"]);
    assert_eq!(status.code, 0, "{}", status.stdout);
    assert_eq!(primary_server.sql("mysql", "SELECT @@global.read_only"), "1", "the fence stopped the old primary's writes");
}

#[test]
fn switchover_to_a_standby_kept_by_refresh_copies_the_final_state() {
    let pg = Server::shared(Flavor::Postgres);
    let (primary, dr) = (pg.create_database("sor_p"), pg.create_database("sor_dr"));
    pg.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (0, 'seed');");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &pg.url(&primary), &[("dr", &pg.url(&dr), "")]);
    let c = p(&cfg);
    tandem(&["--config", c, "repo", "init"]).ok();
    tandem(&["--config", c, "backup", "primary"]).ok();
    tandem(&["--config", c, "refresh", "dr"]).ok();
    // Written after the standby's last refresh: only the switchover's copy brings them.
    pg.sql(&primary, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');");
    let dry = tandem(&["--config", c, "switchover", "--to", "dr", "--dry-run"]).ok();
    assert!(dry.stdout.contains("kept by refresh: its final state would be copied"), "{}", dry.stdout);
    assert_eq!(pg.sql(&dr, "SELECT COUNT(*) FROM t"), "1", "a dry run copies nothing");

    let run = tandem(&["--config", c, "switchover", "--to", "dr"]).ok();
    eprintln!("switchover by copy:\n{}", run.stdout);
    assert!(run.stdout.contains("copy primary's final state into dr"), "{}", run.stdout);
    assert!(run.stdout.contains("switched over from primary to dr at epoch 1: RPO 0 (primary's final state was copied into dr)"), "{}", run.stdout);
    assert_eq!(pg.sql(&dr, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"), "0,1,2,3", "every committed row is at dr");
    let refused = pg.try_sql(&primary, "INSERT INTO t VALUES (4, 'late')").expect_err("the old primary takes no writes");
    assert!(refused.contains("read-only"), "{refused}");
    let s = tandem(&["--config", c, "--json", "status"]).json();
    let role = |name: &str| s["sites"].as_array().unwrap().iter().find(|x| x["site"] == name).unwrap()["role"]["role"].clone();
    assert_eq!((role("primary"), role("dr")), ("fenced".into(), "active".into()), "{s}");
}

/// `tandem drill dr --switchover` while an application writes wherever it is let: the platform
/// moves to dr and back, each move fenced and timed; the old primary follows dr without a copy
/// while dr is active, so every write the application saw committed, at either site, is at both
/// in the end; dr's replication goes on from where the way back left it (no bootstrap); the
/// report is in the repository.
fn drill_there_and_back(flavor: Flavor, primary_server: &Server, dr_server: &Server, dir: &Path) {
    let primary = primary_server.create_database("sd_p");
    primary_server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (0, 'seed');");
    app_user(primary_server, &primary);
    let dr = dr_server.create_database("sd_dr");
    let cfg = replica_config(dir, &primary_server.url(&primary), &[("dr", &dr_server.url(&dr), "")]);
    let c = p(&cfg);
    tandem(&["--config", c, "repo", "init"]).ok();
    // Bad starts change nothing: no replica yet, a site with no source, flags of the other drill.
    tandem(&["--config", c, "drill", "dr", "--switchover"]).fails_with(2, "no replica");
    tandem(&["--config", c, "drill", "primary", "--switchover"]).fails_with(2, "has no `source`");
    tandem(&["--config", c, "drill", "dr", "--switchover", "--keep"]).fails_with(2, "cannot be used with");

    let mut replica = Replica::start(&cfg, "dr", &[], dir);
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut replica], || bootstrapped(&cfg, "dr"));
    app_user(dr_server, &dr);
    if flavor == Flavor::MariaDb {
        // A MariaDB standby's server is read-only (the README's setup): read_only is server-wide,
        // so tandem leaves it to the operator until a move fences the server.
        dr_server.sql("mysql", "SET GLOBAL read_only = ON");
    }

    let (stop, committed) = (AtomicBool::new(false), std::sync::Mutex::new(Vec::<(u32, &str)>::new()));
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut id = 1;
            while !stop.load(Ordering::Relaxed) {
                for (site, server, db) in [("primary", primary_server, &primary), ("dr", dr_server, &dr)] {
                    if app_insert(server, db, id).is_ok() {
                        committed.lock().unwrap().push((id, site));
                        break;
                    }
                }
                id += 1;
            }
        });
        std::thread::sleep(Duration::from_secs(2));
        let run = tandem(&["--config", c, "drill", "dr", "--switchover", "--stay", "4s"]);
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
        run
    });
    eprintln!("{flavor:?} switchover drill:\n{}\n{}", run.stdout, run.stderr);
    let out = &run.ok().stdout;
    for step in [
        "there: fence primary",
        "there: mark where primary will stream from",
        "there: promote dr",
        "there: make primary a replica of dr",
        "stay",
        "verify",
        "back: fence dr",
        "back: promote primary",
        "back: make dr a replica of primary",
    ] {
        assert!(out.contains(step), "{flavor:?}: step {step:?} missing:\n{out}");
    }
    assert!(out.contains("RPO 0 both ways") && out.contains("RESULT: OK"), "{out}");

    // The application wrote at both sites. dr's replication, held through the drill, goes on
    // from where the way back left it; a new one does too.
    let committed = committed.into_inner().unwrap();
    let at = |site: &str| committed.iter().filter(|(_, s)| *s == site).count();
    assert!(at("primary") > 0 && at("dr") > 0, "{flavor:?}: the application wrote at primary {} and at dr {} times", at("primary"), at("dr"));
    replica.sigterm();
    let mut replica = Replica::start(&cfg, "dr", &[], dir);
    let ids = committed.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>().join(",");
    let held = |server: &Server, db: &str| server.sql(db, &format!("SELECT COUNT(*) FROM t WHERE id IN ({ids})"));
    let missing = |server: &Server, db: &str| {
        let have: std::collections::BTreeSet<String> = server.sql(db, "SELECT id FROM t").lines().map(str::to_string).collect();
        committed.iter().filter(|(id, _)| !have.contains(&id.to_string())).map(|(id, site)| format!("{id}@{site}")).collect::<Vec<_>>()
    };
    assert_eq!(
        held(primary_server, &primary),
        committed.len().to_string(),
        "{flavor:?}: every committed write is back at the primary; missing {:?}",
        missing(primary_server, &primary)
    );
    primary_server.sql(&primary, "INSERT INTO t VALUES (-1, 'after')");
    wait_until("dr to catch up without a copy", Duration::from_secs(60), &mut [&mut replica], || {
        dr_server.sql(&dr, "SELECT COUNT(*) FROM t WHERE id = -1") == "1"
    });
    assert_eq!(held(dr_server, &dr), committed.len().to_string(), "{flavor:?}: every committed write is at dr; missing {:?}", missing(dr_server, &dr));
    let count = |server: &Server, db: &str| server.sql(db, "SELECT COUNT(*) FROM t");
    assert_eq!(count(dr_server, &dr), count(primary_server, &primary), "{flavor:?}");
    assert!(!replica.log().contains("bootstrapping"), "{flavor:?}: dr went on without a copy:\n{}", replica.log());

    // Roles and epochs: primary active again at epoch 2, dr its standby; the report is kept.
    let s = tandem(&["--config", c, "--json", "status"]).json();
    assert_eq!((s["epoch"]["epoch"].as_u64(), s["epoch"]["active"].as_str()), (Some(2), Some("primary")), "{s}");
    let role = |name: &str| s["sites"].as_array().unwrap().iter().find(|x| x["site"] == name).unwrap()["role"]["role"].clone();
    assert_eq!((role("primary"), role("dr")), ("active".into(), "standby".into()), "{s}");
    let shown = tandem(&["--config", c, "--json", "drills", "show", "dr"]).json();
    assert_eq!((shown["kind"].as_str(), shown["ok"].as_bool(), shown["rpo_s"].as_f64()), (Some("switchover"), Some(true), Some(0.0)), "{shown}");
    assert!(shown["rto_s"].as_f64().is_some_and(|r| r > 0.0 && r < 30.0), "{shown}");
    app_insert(dr_server, &dr, 3_000_000).expect_err("dr is a standby again: it takes no application writes");
}

#[test]
fn switchover_drill_goes_there_and_back_without_a_copy() {
    // MariaDB's read_only is server-wide: each site gets a server of its own.
    let (my_primary, my_dr) = (Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb));
    let dir = tempfile::tempdir().unwrap();
    drill_there_and_back(Flavor::MariaDb, &my_primary, &my_dr, dir.path());
    // Slot names are the cluster's: the other tests of this file have a site "dr" on the shared server.
    let pg = Server::start(Flavor::Postgres);
    let dir = tempfile::tempdir().unwrap();
    drill_there_and_back(Flavor::Postgres, &pg, &pg, dir.path());
}

/// A switchover drill of a Hive metastore whose DR site maps its locations: the way back maps
/// them home (the inverse map) and the verify between the two finds every object GOOD. In a
/// second drill the old primary diverges while dr is active (a location changed behind
/// replication's back): the verify names it, the way back is not tried, the platform stays on
/// dr, and the report says so.
#[test]
fn a_switchover_drill_verifies_the_way_back_and_never_moves_onto_a_copy_that_differs() {
    const US: &str = "gs://lake-us/warehouse";
    const EU: &str = "gs://lake-eu/warehouse";
    // MariaDB: the metastore's tables without a primary key need no replica identity there.
    let (my, my_dr) = (Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb));
    let (primary, dr) = (my.create_database("sdv_p"), my_dr.create_database("sdv_dr"));
    common::hms::generate(&my, &primary, "2.3", &["--sample", "retail", "--warehouse", US]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&primary), &[("dr", &my_dr.url(&dr), &format!("map-location = [\"{US}={EU}\"]\n"))]);
    let c = p(&cfg);
    tandem(&["--config", c, "repo", "init"]).ok();
    let mut replica = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut replica], || bootstrapped(&cfg, "dr"));
    let locations = |server: &Server, db: &str, lake: &str| server.sql(db, &format!("SELECT count(*) FROM SDS WHERE LOCATION LIKE '{lake}%'"));
    let at_home = locations(&my, &primary, US);
    assert_ne!(at_home, "0");

    let good = tandem(&["--config", c, "drill", "dr", "--switchover", "--stay", "2s"]).ok();
    eprintln!("{}", good.stdout);
    assert!(good.stdout.contains("objects GOOD") && good.stdout.contains("RESULT: OK"), "{}", good.stdout);
    assert_eq!((locations(&my, &primary, US), locations(&my, &primary, EU)), (at_home.clone(), "0".to_string()), "the primary's locations are its own again");
    assert_eq!(locations(&my_dr, &dr, EU), at_home, "dr's are mapped");

    let role = |server: &Server, db: &str| server.sql(db, &format!("SELECT role FROM tandem_role.roles WHERE site_database = '{db}'"));
    replica.sigterm();
    let mut replica = Replica::start(&cfg, "dr", &[], dir.path());
    let run = std::thread::scope(|scope| {
        let drill = scope.spawn(|| tandem(&["--config", c, "drill", "dr", "--switchover", "--stay", "8s"]));
        wait_until("dr to be active", Duration::from_secs(60), &mut [], || role(&my_dr, &dr) == "active");
        // As an administrator: the fenced server's read_only does not stop SUPER.
        my.sql(&primary, "UPDATE SDS SET LOCATION = 'gs://lake-us/stray' ORDER BY SD_ID LIMIT 1");
        drill.join().unwrap()
    });
    eprintln!("{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "a failed drill exits 1: {}", run.stdout);
    assert!(run.stdout.contains("primary differs from dr") && run.stdout.contains("the way back was not tried"), "{}", run.stdout);
    assert!(run.stdout.contains("dr stays active"), "{}", run.stdout);
    let s = tandem(&["--config", c, "--json", "status"]).json();
    assert_eq!((s["epoch"]["epoch"].as_u64(), s["epoch"]["active"].as_str()), (Some(3), Some("dr")), "{s}");
    let shown = tandem(&["--config", c, "--json", "drills", "show", "dr"]).json();
    assert_eq!((shown["kind"].as_str(), shown["ok"].as_bool()), (Some("switchover"), Some(false)), "{shown}");
    replica.sigterm();
}
