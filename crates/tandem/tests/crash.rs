//! kill -9 in the middle of a restore leaves the target as it was; kill -9 in the middle of a
//! backup leaves a repository that passes check and lists no partial backup.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A database big enough that copying it takes a moment.
fn big_db(server: &Server) -> String {
    let db = server.create_database("crash");
    let sql = match server.flavor() {
        Flavor::MariaDb => {
            "CREATE TABLE big (id INT PRIMARY KEY, a VARCHAR(200), b BIGINT, KEY (b));
             INSERT INTO big SELECT seq, CONCAT(REPEAT('x', 150), seq), seq * 7 FROM seq_1_to_400000;
             CREATE TABLE small (id INT PRIMARY KEY); INSERT INTO small VALUES (1), (2);"
        }
        Flavor::Postgres => {
            "CREATE TABLE big (id INT PRIMARY KEY, a VARCHAR(200), b BIGINT); CREATE INDEX ON big (b);
             INSERT INTO big SELECT g, repeat('x', 150) || g, g * 7 FROM generate_series(1, 400000) g;
             CREATE TABLE small (id INT PRIMARY KEY); INSERT INTO small VALUES (1), (2);"
        }
    };
    server.sql(&db, sql);
    db
}

/// Starts tandem with its stderr in `log` (shown if it ends too early).
fn spawn(args: &[&str], log: &std::path::Path) -> Child {
    let err = std::fs::File::create(log).expect("log file");
    Command::new(tandem_bin()).args(args).stdout(Stdio::null()).stderr(err).spawn().expect("spawn tandem")
}

fn kill9(child: &mut Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

/// Polls `cond` every 10 ms for up to 60 s; panics if the child exits first.
fn wait_for(child: &mut Child, log: &std::path::Path, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("tandem exited ({status}) before {what}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn loading(server: &Server) -> bool {
    let q = match server.flavor() {
        Flavor::MariaDb => "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%'",
        Flavor::Postgres => "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%FROM STDIN%' AND pid <> pg_backend_pid()",
    };
    server.sql(if server.flavor() == Flavor::MariaDb { "mysql" } else { "postgres" }, q) != "0"
}

fn restore_killed_halfway(flavor: Flavor) {
    let server = Server::shared(flavor);
    let db = big_db(server);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&server.url(&db), &repo);

    let target = server.create_database("crash_target");
    server.sql(&target, "CREATE TABLE big (id INT PRIMARY KEY, old TEXT); INSERT INTO big VALUES (1, 'old content');");
    let before = fingerprint(server, &target);
    let log = dir.path().join("restore.log");
    let mut child = spawn(&["restore", "--repo", p(&repo), "--target", &server.url(&target), "--force"], &log);
    wait_for(&mut child, &log, "the load to start", || loading(server));
    kill9(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fingerprint(server, &target), before, "{flavor:?}: target changed by a killed restore");

    // The next restore cleans up and succeeds.
    tandem(&["restore", "--repo", p(&repo), "--target", &server.url(&target), "--force"]).ok();
    assert_eq!(fingerprint(server, &db), fingerprint(server, &target));
}

#[test]
fn restore_killed_halfway_mariadb() {
    restore_killed_halfway(Flavor::MariaDb);
}

#[test]
fn restore_killed_halfway_postgres() {
    restore_killed_halfway(Flavor::Postgres);
}

#[test]
fn backup_killed_halfway() {
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        let db = big_db(server);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let first = backup(&server.url(&db), &repo);
        server.sql(&db, "UPDATE big SET b = b + 1");
        let log = dir.path().join("backup.log");
        let mut child = spawn(&["backup", "--source", &server.url(&db), "--repo", p(&repo)], &log);
        let count_chunk_files = || -> usize {
            std::fs::read_dir(repo.join("chunks"))
                .map(|d| d.filter_map(|e| e.ok()).map(|e| std::fs::read_dir(e.path()).map(|f| f.count()).unwrap_or(0)).sum())
                .unwrap_or(0)
        };
        let before = count_chunk_files();
        wait_for(&mut child, &log, "a new chunk", || count_chunk_files() > before);
        kill9(&mut child);

        let list = tandem(&["backups", "list", "--repo", p(&repo), "--json"]).ok().json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{flavor:?}: only the complete backup is listed");
        assert_eq!(list[0]["id"], first.as_str());
        let check = tandem(&["repo", "check", "--read-data", "--repo", p(&repo), "--json"]).ok().json();
        assert!(check["errors"].as_array().unwrap().is_empty(), "{check}");
        // The dead backup's lock does not block the next backup or a prune.
        backup(&server.url(&db), &repo);
        tandem(&["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", p(&repo)]).ok();
        let check = tandem(&["repo", "check", "--read-data", "--repo", p(&repo), "--json"]).ok().json();
        assert!(check["errors"].as_array().unwrap().is_empty(), "{check}");
        assert_eq!(check["chunks_unreferenced"], 0);
    }
}
