//! Site roles and epochs through the real binary, on both engines, with a database of no known
//! system (the generic path, which a Hive Metastore takes too): a refresh makes a standby, a
//! promote claims the platform's next epoch, refresh, restore and replication never write into
//! an active site, and `tandem status` names a stale active site until it is fenced.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::replica::*;
use common::*;

/// `dir/tandem.toml`: a repository, site `primary` and its standby `dr`.
fn config(dir: &Path, primary: &str, dr: &str) -> PathBuf {
    let cfg = dir.join("tandem.toml");
    let text = format!("repo = \"{}\"\n[sites.primary]\ndb = \"{primary}\"\n[sites.dr]\ndb = \"{dr}\"\nsource = \"primary\"\n", p(&dir.join("repo")));
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// `tandem status --json` and its exit code.
fn status(cfg: &Path) -> (i32, serde_json::Value) {
    let run = tandem(&["--config", p(cfg), "--json", "status"]);
    (run.code, run.json())
}

fn site<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["sites"].as_array().unwrap().iter().find(|s| s["site"] == name).unwrap_or_else(|| panic!("no site {name}: {status}"))
}

#[test]
fn promote_claims_an_epoch_and_nothing_overwrites_an_active_site() {
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        let primary = server.create_database("roles_p");
        server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a');");
        let dr = server.create_database("roles_dr");
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &server.url(&primary), &server.url(&dr));
        let c = p(&cfg);

        // A refresh makes a standby.
        tandem(&["--config", c, "backup", "primary"]).ok();
        tandem(&["--config", c, "refresh", "dr"]).ok();
        let (code, s) = status(&cfg);
        assert_eq!(code, 0, "{s}");
        assert!(s["epoch"].is_null(), "{s}");
        assert_eq!(site(&s, "dr")["role"]["role"], "standby", "{s}");
        assert!(site(&s, "primary")["role"].is_null(), "{s}");

        // A promote claims epoch 1 in the repository and gives it to the site.
        let promoted = tandem(&["--config", c, "promote", "dr"]).ok();
        assert!(promoted.stdout.contains("standby (epoch 0) -> active (epoch 1)"), "{}", promoted.stdout);
        // The primary, active before roles existed, is named until it is fenced.
        let (code, s) = status(&cfg);
        assert_eq!(code, 1, "{s}");
        assert!(s["problems"].to_string().contains("primary has no role but the platform is at epoch 1 with dr active"), "{s}");
        assert_eq!((s["epoch"]["epoch"].as_u64(), s["epoch"]["active"].as_str()), (Some(1), Some("dr")), "{s}");
        assert_eq!((site(&s, "dr")["role"]["role"].as_str(), site(&s, "dr")["role"]["epoch"].as_u64()), (Some("active"), Some(1)), "{s}");

        // Nothing of tandem overwrites the active site; its own writes stay.
        server.sql(&dr, "INSERT INTO t VALUES (2, 'written at dr');");
        tandem(&["--config", c, "backup", "primary"]).ok();
        tandem(&["--config", c, "refresh", "dr"]).fails_with(5, "is an active site");
        tandem(&["--config", c, "restore", "--target", &server.url(&dr), "--force"]).fails_with(5, "is an active site");
        tandem(&["--config", c, "promote", "dr"]).fails_with(5, "active already");
        assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM t"), "2", "{flavor:?}: the active site keeps its writes");

        // Promoted by hand at an old epoch, it is still named until it is fenced.
        tandem(&["promote", "--target", &server.url(&primary)]).ok();
        let (code, s) = status(&cfg);
        assert_eq!(code, 1, "{s}");
        let problems = s["problems"].to_string();
        assert!(problems.contains("primary is active (epoch 0) but the platform is at epoch 1 with dr active"), "{problems}");
        let fenced = tandem(&["--config", c, "fence", "primary"]).ok();
        assert!(fenced.stdout.contains("active (epoch 0) -> fenced (epoch 1)"), "{}", fenced.stdout);
        let (code, s) = status(&cfg);
        assert_eq!(code, 0, "{s}");
        assert_eq!(site(&s, "primary")["role"]["role"], "fenced", "{s}");

        // It rejoins as a standby of dr: a restore as a standby of dr's newest backup.
        tandem(&["--config", c, "backup", "dr"]).ok();
        tandem(&["--config", c, "restore", "--target", &server.url(&primary), "--force", "--standby"]).ok();
        assert_eq!(server.sql(&primary, "SELECT COUNT(*) FROM t"), "2");
        let (code, s) = status(&cfg);
        assert_eq!(code, 0, "{s}");
        assert_eq!((site(&s, "primary")["role"]["role"].as_str(), site(&s, "primary")["role"]["epoch"].as_u64()), (Some("standby"), Some(1)), "{s}");
    }
}

#[test]
fn a_promote_stops_the_replication_into_the_site() {
    let server = Server::shared(Flavor::MariaDb);
    let source = server.create_database("roles_src");
    server.sql(&source, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a');");
    let dr = server.create_database("roles_rep");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &server.url(&source), &[("dr", &server.url(&dr), "")]);
    let mut replica = Replica::start(&cfg, "dr", &[], dir.path());
    server.sql(&source, "INSERT INTO t VALUES (2, 'b');");
    wait_until("the replica to catch up", Duration::from_secs(120), &mut [&mut replica], || {
        bootstrapped(&cfg, "dr") && server.sql(&dr, "SELECT COUNT(*) FROM t") == "2"
    });
    let (_, s) = status(&cfg);
    assert_eq!(site(&s, "dr")["role"]["role"], "standby", "a replica is a standby: {s}");

    tandem(&["--config", p(&cfg), "promote", "dr"]).ok();
    server.sql(&source, "INSERT INTO t VALUES (3, 'after the promote');");
    let code = replica.wait(Duration::from_secs(60));
    assert_ne!(code, 0, "{}", replica.log());
    assert!(replica.log().contains("no standby any more"), "{}", replica.log());
    assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM t WHERE id = 3"), "0", "nothing is applied into the promoted site");
}

#[test]
fn a_promote_wins_against_a_refresh_in_flight() {
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        let primary = server.create_database("race_p");
        server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a');");
        let dr = server.create_database("race_dr");
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &server.url(&primary), &server.url(&dr));
        let c = p(&cfg);
        tandem(&["--config", c, "backup", "primary"]).ok();
        tandem(&["--config", c, "refresh", "dr"]).ok();
        server.sql(&primary, "INSERT INTO t VALUES (2, 'b');");
        tandem(&["--config", c, "backup", "primary"]).ok();

        // The refresh loads the new backup and waits before its commit; the promote comes then.
        let refresh = std::process::Command::new(tandem_bin())
            .args(["--config", c, "refresh", "dr"])
            .env("FAILPOINTS", "restore-before-commit=sleep(8000)")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(3));
        let started = std::time::Instant::now();
        tandem(&["--config", c, "promote", "dr"]).ok();
        let took = started.elapsed();
        let out = refresh.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{flavor:?}: promote took {:.2} s during the refresh; the refresh: {stderr}", took.as_secs_f64());
        assert!(took < Duration::from_secs(4), "{flavor:?}: the promote waited for the refresh ({took:?})");
        assert!(!out.status.success(), "{flavor:?}: the refresh must not land on the promoted site: {stderr}");
        assert!(stderr.contains("is an active site") || stderr.contains("nothing was replaced: the restore failed before its commit"), "{flavor:?}: {stderr}");
        assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM t"), "1", "{flavor:?}: the promoted site holds what it held at the promote");
        let (_, s) = status(&cfg);
        assert_eq!(site(&s, "dr")["role"]["role"], "active", "{s}");
    }
}
