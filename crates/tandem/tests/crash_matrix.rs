//! The crash matrix: tandem is aborted (like `kill -9`: no destructor, no cleanup) or failed at
//! every step that matters, through the crash points the test build compiles in
//! (`tandem_error::failpoint`, `FAILPOINTS=<point>=<action>`). Each time: the point was reached
//! (the abort says so on stderr), `repo check --read-data` passes, no partial backup is listed, a
//! restore target holds its old or its new content, and the next run succeeds.
//!
//! `soak` (ignored here; `bench/crash-soak.sh` runs it) draws random points and actions in a loop
//! and prints the tally.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::serve::Daemon;
use common::*;

/// A database of a few chunks whose content `round` changes.
fn fill(server: &Server, db: &str, round: u32) {
    let sql = match server.flavor() {
        Flavor::MariaDb => format!(
            "DROP TABLE IF EXISTS t; CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(200), b BIGINT, KEY (b));
             INSERT INTO t SELECT seq, CONCAT(REPEAT('x', 150), seq), seq * {round} FROM seq_1_to_20000;"
        ),
        Flavor::Postgres => format!(
            "DROP TABLE IF EXISTS t; CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(200), b BIGINT); CREATE INDEX ON t (b);
             INSERT INTO t SELECT g, repeat('x', 150) || g, g * {round} FROM generate_series(1, 20000) g;"
        ),
    };
    server.sql(db, &sql);
}

/// Runs tandem with the crash point `point` armed with `action`; asserts that it failed and
/// that it failed there (not earlier, for another reason).
fn crashed(point: &str, action: &str, args: &[&str]) -> Run {
    let run = tandem_env(args, &[("FAILPOINTS".into(), format!("{point}=return({action})"))]);
    assert_ne!(run.code, 0, "{point}={action}: tandem {args:?} succeeded\n{}", run.stderr);
    let marker = match action {
        "abort" => format!("failpoint {point}: aborting"),
        _ => format!("failpoint {point} fired"),
    };
    assert!(run.stderr.contains(&marker), "{point}={action}: never reached (exit {}):\n{}", run.code, run.stderr);
    run
}

fn listed(repo: &Path) -> Vec<String> {
    let list = tandem(&["backups", "list", "--repo", p(repo), "--json"]).ok().json();
    list.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
}

/// `repo check --read-data` finds no error; returns the report.
fn sound(repo: &Path) -> serde_json::Value {
    let check = tandem(&["repo", "check", "--read-data", "--repo", p(repo), "--json"]).ok().json();
    assert!(check["errors"].as_array().unwrap().is_empty(), "{check}");
    check
}

/// The next backup and a prune to one backup succeed, and leave no garbage.
fn next_runs_succeed(server: &Server, db: &str, repo: &Path) {
    backup(&server.url(db), repo);
    tandem(&["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", p(repo)]).ok();
    assert_eq!(sound(repo)["chunks_unreferenced"], 0);
}

/// A backup that dies before its manifest is not listed; one that dies right after it is
/// complete (committed, only unreported). Either way the repository is sound.
#[test]
fn backup_crash_points() {
    let server = Server::shared(Flavor::Postgres);
    let db = server.create_database("cm_backup");
    for (point, committed) in [("backup-before-manifest", false), ("lock-ensure-held", false), ("backup-after-manifest", true)] {
        for action in ["abort", "error"] {
            let dir = tempfile::tempdir().unwrap();
            let repo = dir.path().join("repo");
            fill(server, &db, 1);
            let first = backup(&server.url(&db), &repo);
            fill(server, &db, 2);
            crashed(point, action, &["backup", "--source", &server.url(&db), "--repo", p(&repo)]);
            let ids = listed(&repo);
            assert_eq!(ids.len(), if committed { 2 } else { 1 }, "{point}={action}: {ids:?}");
            assert_eq!(ids[0], first);
            let check = sound(&repo);
            if !committed {
                assert!(check["chunks_unreferenced"].as_u64().unwrap() > 0, "{point}={action}: the dead backup's chunks are garbage: {check}");
            }
            next_runs_succeed(server, &db, &repo);
        }
    }
}

/// A prune that dies between its phases, or after some chunks, leaves every kept backup whole;
/// the next prune finishes the job.
#[test]
fn prune_crash_points() {
    let server = Server::shared(Flavor::MariaDb);
    let db = server.create_database("cm_prune");
    for point in ["prune-between-phases", "prune-chunk-deleted"] {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        for round in 1..=3 {
            fill(server, &db, round);
            backup(&server.url(&db), &repo);
        }
        let newest = listed(&repo).pop().unwrap();
        let kept = fingerprint(server, &db);
        crashed(point, "abort", &["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", p(&repo)]);
        assert_eq!(listed(&repo), vec![newest.clone()], "{point}: phase 1 had removed the manifests");
        sound(&repo);
        tandem(&["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", p(&repo)]).ok();
        assert_eq!(sound(&repo)["chunks_unreferenced"], 0);
        let target = server.create_database("cm_prune_target");
        tandem(&["restore", "--repo", p(&repo), &newest, "--target", &server.url(&target), "--force"]).ok();
        assert_eq!(fingerprint(server, &target), kept, "{point}: the kept backup restores whole");
    }
}

/// A restore that dies right before or right after its atomic step leaves the target with its
/// old or its new content, and the next restore succeeds and cleans up.
#[test]
fn restore_crash_points() {
    for (flavor, before, after) in
        [(Flavor::MariaDb, "mysql-before-rename", "mysql-after-rename"), (Flavor::Postgres, "postgres-before-commit", "postgres-after-commit")]
    {
        let server = Server::shared(flavor);
        let source = server.create_database("cm_restore_src");
        fill(server, &source, 7);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        backup(&server.url(&source), &repo);
        let new = fingerprint(server, &source);
        for (point, lands) in [(before, false), (after, true)] {
            let target = server.create_database("cm_restore_dst");
            fill(server, &target, 3);
            let old = fingerprint(server, &target);
            crashed(point, "abort", &["restore", "--repo", p(&repo), "--target", &server.url(&target), "--force"]);
            let seen = fingerprint(server, &target);
            assert_eq!(seen, if lands { new.clone() } else { old }, "{point}: the target after the crash");
            tandem(&["restore", "--repo", p(&repo), "--target", &server.url(&target), "--force"]).ok();
            assert_eq!(fingerprint(server, &target), new, "{point}: the next restore");
            if flavor == Flavor::MariaDb {
                let leftovers =
                    server.sql("mysql", &format!("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{target}\\_\\_tandem%'"));
                assert_eq!(leftovers, "0", "{point}: the crashed restore's helper databases were dropped");
            }
        }
    }
}

/// A transient failure (a reset connection, a failover) before a restore's commit or a backup's
/// manifest redoes the whole operation, which then succeeds; one during the commit is not
/// retried (its outcome is unknown) and says so, and the target keeps its old content.
#[test]
fn transient_failures_redo_the_whole_operation_but_never_a_commit() {
    for (flavor, commit_point) in [(Flavor::MariaDb, "mysql-before-rename"), (Flavor::Postgres, "postgres-before-commit")] {
        let server = Server::shared(flavor);
        let source = server.create_database("cm_transient_src");
        fill(server, &source, 5);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let once = |point: &str| [("FAILPOINTS".to_string(), format!("{point}=1*return(transient)"))];

        let run = tandem_env(&["backup", "--source", &server.url(&source), "--repo", p(&repo)], &once("backup-before-manifest")).ok();
        assert!(run.stderr.contains("failpoint backup-before-manifest fired (transient)") && run.stderr.contains("retry 1 of"), "{flavor:?}:\n{}", run.stderr);
        assert_eq!(listed(&repo).len(), 1, "{flavor:?}: one backup, from the second attempt");
        sound(&repo);
        let new = fingerprint(server, &source);

        let target = server.create_database("cm_transient_dst");
        fill(server, &target, 3);
        let old = fingerprint(server, &target);
        let args = ["restore", "--repo", p(&repo), "--target", &server.url(&target), "--force"];
        let run = tandem_env(&args, &once(commit_point));
        assert_eq!(run.code, 3, "{flavor:?}: a transient failure in the commit is reported, not retried:\n{}", run.stderr);
        assert!(run.stderr.contains("while committing") && !run.stderr.contains("retry 1 of"), "{flavor:?}:\n{}", run.stderr);
        assert_eq!(fingerprint(server, &target), old, "{flavor:?}: {commit_point} fired before the atomic step");

        let run = tandem_env(&args, &once("restore-before-commit")).ok();
        assert!(run.stderr.contains("failpoint restore-before-commit fired (transient)") && run.stderr.contains("retry 1 of"), "{flavor:?}:\n{}", run.stderr);
        assert_eq!(fingerprint(server, &target), new, "{flavor:?}: the retried restore");
    }
}

/// The lock's refresher dies with the process: the backup it guarded is not listed and its dead
/// lock does not block the next run (same boot, same pid namespace, pid gone).
#[test]
fn crash_in_the_middle_of_a_lock_refresh() {
    let server = Server::shared(Flavor::MariaDb);
    let db = server.create_database("cm_lock");
    fill(server, &db, 1);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let first = backup(&server.url(&db), &repo);
    fill(server, &db, 2);
    // The first refresh comes after 30 s: hold the backup before its manifest until then.
    let run = tandem_env(
        &["backup", "--source", &server.url(&db), "--repo", p(&repo)],
        &[("FAILPOINTS".into(), "backup-before-manifest=sleep(45000);lock-refresh=return(abort)".into())],
    );
    assert!(run.stderr.contains("failpoint lock-refresh: aborting"), "exit {}:\n{}", run.code, run.stderr);
    assert_eq!(listed(&repo), vec![first]);
    assert_eq!(std::fs::read_dir(repo.join("locks")).unwrap().count(), 1, "the dead backup's lock is still there");
    sound(&repo);
    next_runs_succeed(server, &db, &repo);
}

/// A backup whose lock expired (its refreshes failing) while a prune deleted the chunks it
/// reuses stops before its manifest: no committed backup references a deleted chunk.
#[test]
fn a_backup_that_lost_its_lock_commits_nothing() {
    let server = Server::shared(Flavor::Postgres);
    let (a, b) = (server.create_database("cm_lost_a"), server.create_database("cm_lost_b"));
    fill(server, &a, 1);
    fill(server, &b, 2);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&server.url(&a), &repo);
    let of_b = backup(&server.url(&b), &repo);

    // A third backup, of `a` again: every chunk it needs is one of the first backup's.
    let child = std::process::Command::new(tandem_bin())
        .args(["backup", "--source", &server.url(&a), "--repo", p(&repo)])
        .env("FAILPOINTS", "lock-refresh=return(error);backup-before-manifest=sleep(8000)")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its lock expires: rewritten as if its last refresh had been long ago.
    let deadline = Instant::now() + Duration::from_secs(30);
    let lock = loop {
        if let Some(e) = std::fs::read_dir(repo.join("locks")).ok().and_then(|mut d| d.next()) {
            break e.unwrap().path();
        }
        assert!(Instant::now() < deadline, "the backup never took its lock");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(100));
    let mut info: serde_json::Value = serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
    info["expires"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&lock, serde_json::to_vec(&info).unwrap()).unwrap();
    // A prune elsewhere sees a stale lock, removes the first backup and deletes its chunks.
    let pruned = tandem(&["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", p(&repo), "--json"]).ok().json();
    assert!(pruned["chunks_deleted"].as_u64().unwrap() > 0, "{pruned}");

    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("lost the repository lock"), "{stderr}");
    assert_eq!(listed(&repo), vec![of_b]);
    sound(&repo);
}

/// The daemon dies between the steps of a job (after the backup, before retention and the
/// record; after the job, before the record): the repository is sound and the restarted daemon
/// carries on.
#[test]
fn daemon_crash_points() {
    let server = Server::shared(Flavor::MariaDb);
    let db = server.create_database("cm_daemon");
    fill(server, &db, 1);
    for point in ["daemon-after-backup", "daemon-job-done"] {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let cfg = dir.path().join("tandem.toml");
        std::fs::write(
            &cfg,
            format!(
                "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/2 * * * * *\"\n[retention]\nkeep-last = 1\ngrace = \"0s\"\n",
                p(&repo),
                server.url(&db)
            ),
        )
        .unwrap();
        let log = dir.path().join("daemon.log");
        let failpoints = format!("{point}=return(abort)");
        let mut daemon = Daemon::start_with_env(&cfg, &log, &[("FAILPOINTS", &failpoints)]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while daemon.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{point}: the daemon never reached it:\n{}", daemon.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(std::fs::read_to_string(&log).unwrap().contains(&format!("failpoint {point}: aborting")), "{}", daemon.log_text());
        assert_eq!(listed(&repo).len(), 1, "{point}: the backup itself was committed");
        sound(&repo);

        let daemon = Daemon::start(&cfg, &log);
        daemon.wait_for("a backup after the restart", Duration::from_secs(60), |_| !daemon.job("primary", "backup")["last_success"].is_null());
        drop(daemon);
        assert_eq!(sound(&repo)["chunks_unreferenced"], 0);
    }
}

/// Random points and actions in a loop (`SOAK_ROUNDS`, default 100): run by bench/crash-soak.sh.
#[test]
#[ignore = "a soak, not a test: bench/crash-soak.sh"]
fn soak() {
    let rounds: usize = std::env::var("SOAK_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(100);
    let server = Server::shared(Flavor::MariaDb);
    let (db, target) = (server.create_database("soak_src"), server.create_database("soak_dst"));
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let points = [
        ("backup", "backup-before-manifest"),
        ("backup", "lock-ensure-held"),
        ("backup", "backup-after-manifest"),
        ("prune", "prune-between-phases"),
        ("prune", "prune-chunk-deleted"),
        ("restore", "mysql-before-rename"),
        ("restore", "mysql-after-rename"),
    ];
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("crash soak: seed {seed} (SOAK_SEED repeats a run)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut tally: std::collections::BTreeMap<String, u32> = Default::default();
    for round in 0..rounds {
        let (step, point) = points[rng.random_range(0..points.len())];
        let action = if rng.random_bool(0.5) { "abort" } else { "error" };
        fill(server, &db, round as u32 + 1);
        backup(&server.url(&db), &repo);
        let old = fingerprint(server, &target);
        let args: Vec<String> = match step {
            "backup" => vec!["backup".into(), "--source".into(), server.url(&db), "--repo".into(), p(&repo).into()],
            "prune" => {
                vec!["backups".into(), "prune".into(), "--keep-last".into(), "1".into(), "--grace".into(), "0s".into(), "--repo".into(), p(&repo).into()]
            }
            _ => vec!["restore".into(), "--repo".into(), p(&repo).into(), "--target".into(), server.url(&target), "--force".into()],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crashed(point, action, &args);
        sound(&repo);
        if step == "restore" {
            let seen = fingerprint(server, &target);
            assert!(seen == old || seen == fingerprint(server, &db), "round {round}: {point}={action} left a mixed target");
        }
        next_runs_succeed(server, &db, &repo);
        *tally.entry(format!("{point}={action}")).or_default() += 1;
    }
    println!("crash soak: {rounds} rounds, every one consistent and recovered");
    for (k, n) in tally {
        println!("  {k:<40} {n:>4}");
    }
}
