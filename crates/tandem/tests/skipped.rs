//! What a backup skips is said, not only logged: `tandem backup` (text and --json),
//! `tandem backups show` (text and --json) and the daemon (the run record and one
//! `backup_skipped` alert per change of the list).

mod common;

use std::time::{Duration, Instant};

use common::serve::{Daemon, Webhook};
use common::*;

/// Objects each engine cannot copy, created in a new database next to a plain table; returns
/// the database and the `(kind, name)` each backup must report.
fn database_with_uncopied_objects(server: &Server) -> (String, Vec<(&'static str, String)>) {
    let db = server.create_database("skipped");
    match server.flavor() {
        Flavor::MariaDb => {
            server.sql(
                &db,
                "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1); \
                 CREATE PROCEDURE tidy() DELETE FROM t WHERE id < 0; \
                 CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN 2 * x; \
                 CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t WHERE id < 0;",
            );
            let objects = vec![("event", "nightly".to_string()), ("function", "twice".to_string()), ("procedure", "tidy".to_string())];
            (db, objects)
        }
        Flavor::Postgres => {
            server.sql(
                &db,
                "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1); \
                 CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw; \
                 CREATE FOREIGN TABLE remote (line TEXT) SERVER files OPTIONS (filename '/dev/null'); \
                 CREATE TABLE parted (id INT) PARTITION BY RANGE (id); \
                 CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (10); \
                 CREATE AGGREGATE total(INT) (SFUNC = int4pl, STYPE = INT, INITCOND = '0'); \
                 CREATE TYPE span AS RANGE (SUBTYPE = float8);",
            );
            let objects = vec![
                ("foreign-table", "public.remote".to_string()),
                ("partitioned-table", "public.parted".to_string()),
                ("aggregate", "public.total".to_string()),
                ("range-type", "public.span".to_string()),
            ];
            (db, objects)
        }
    }
}

/// The `(kind, name)` pairs of a JSON `skipped` list, sorted.
fn kinds_and_names(v: &serde_json::Value) -> Vec<(String, String)> {
    let list = v.as_array().unwrap_or_else(|| panic!("`skipped` is not a list: {v}"));
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|s| {
            assert!(!s["reason"].as_str().unwrap_or("").is_empty(), "every skipped object has a reason: {s}");
            (s["kind"].as_str().unwrap().to_string(), s["name"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

fn sorted(objects: &[(&str, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = objects.iter().map(|(k, n)| (k.to_string(), n.clone())).collect();
    out.sort();
    out
}

#[test]
fn backup_and_backups_show_name_the_objects_a_backup_skips() {
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        let (db, objects) = database_with_uncopied_objects(server);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");

        let text = tandem(&["backup", "--source", &server.url(&db), "--repo", p(&repo)]).ok();
        assert!(text.stdout.contains(&format!("skipped {} object(s)", objects.len())), "{flavor:?}: {}", text.stdout);
        for (kind, name) in &objects {
            let label = kind.replace('-', " ");
            assert!(text.stdout.lines().any(|l| l.contains(&format!("{label} {name} ("))), "{flavor:?}: {label} {name} not named in\n{}", text.stdout);
        }
        let id = text.stdout.lines().last().unwrap().to_string();
        assert_eq!(id.len(), 21, "the backup id is still the last line: {}", text.stdout);

        let json = tandem(&["backup", "--source", &server.url(&db), "--repo", p(&repo), "--json"]).ok().json();
        assert_eq!(kinds_and_names(&json["skipped"]), sorted(&objects), "{flavor:?}: {json}");

        let show = tandem(&["backups", "show", &id, "--repo", p(&repo)]).ok();
        let first = show.stdout.lines().find(|l| l.starts_with("skipped ")).unwrap_or_else(|| panic!("{flavor:?}: no skipped line in\n{}", show.stdout));
        assert!(objects.iter().any(|(_, name)| first.contains(name.as_str())), "{first}");
        for (_, name) in &objects {
            assert!(show.stdout.contains(&format!(" {name} (")), "{flavor:?}: {name} not named by backups show:\n{}", show.stdout);
        }
        let shown = tandem(&["backups", "show", "latest", "--repo", p(&repo), "--json"]).ok().json();
        assert_eq!(kinds_and_names(&shown["skipped"]), sorted(&objects), "{flavor:?}: {shown}");

        // The manifest holds the list (FORMAT.md: schema.skipped).
        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join(format!("backups/{id}.json"))).unwrap()).unwrap();
        assert_eq!(kinds_and_names(&manifest["schema"]["skipped"]), sorted(&objects));

        // A plain schema skips nothing, and says nothing about it.
        let plain = server.create_database("plain");
        server.sql(&plain, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
        let text = tandem(&["backup", "--source", &server.url(&plain), "--repo", p(&repo)]).ok();
        assert!(!text.stdout.contains("skipped"), "{flavor:?}: {}", text.stdout);
        let shown = tandem(&["backups", "show", "latest", "--repo", p(&repo), "--json"]).ok().json();
        assert_eq!(shown["skipped"], serde_json::json!([]), "{flavor:?}: {shown}");
        let manifest = std::fs::read_to_string(repo.join(format!("backups/{}.json", shown["id"].as_str().unwrap()))).unwrap();
        assert!(!manifest.contains("\"skipped\""), "an empty list is not written: {manifest}");
    }
}

fn events(hook: &Webhook, event: &str) -> Vec<serde_json::Value> {
    hook.events().into_iter().filter(|e| e["event"] == event).collect()
}

/// Waits until the site's backup has `n` more successful runs than `after`; returns the count.
fn wait_for_backups(daemon: &Daemon, after: u64, n: u64) -> u64 {
    daemon.wait_for("backups", Duration::from_secs(60), |_| {
        let job = daemon.job("primary", "backup");
        job["runs_total"].as_u64().unwrap_or(0) - job["failures_total"].as_u64().unwrap_or(0) >= after + n
    });
    let job = daemon.job("primary", "backup");
    job["runs_total"].as_u64().unwrap() - job["failures_total"].as_u64().unwrap()
}

#[test]
fn the_daemon_records_skipped_objects_and_alerts_once_per_change() {
    let my = Server::shared(Flavor::MariaDb);
    let db = my.create_database("skipped_serve");
    my.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY); CREATE PROCEDURE tidy() DELETE FROM t WHERE id < 0;");
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start();
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/1 * * * * *\"\n[serve]\nwebhook = \"{}\"\n",
            p(&dir.path().join("repo")),
            my.url(&db),
            hook.url
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));

    // Three backups skip the same procedure: one alert, and every run record names it.
    let done = wait_for_backups(&daemon, 0, 3);
    let job = daemon.job("primary", "backup");
    let record = &job["last_success"];
    assert_eq!(kinds_and_names(&record["skipped"]), vec![("procedure".to_string(), "tidy".to_string())], "{job}");
    assert!(record["summary"].as_str().unwrap().contains("1 object(s) skipped"), "{record}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while events(&hook, "backup_skipped").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let alerts = events(&hook, "backup_skipped");
    assert_eq!(alerts.len(), 1, "one alert for {done} backups skipping the same object: {alerts:?}\n{}", daemon.log_text());
    assert_eq!(alerts[0]["site"], "primary");
    assert!(alerts[0]["text"].as_str().unwrap().contains("procedure tidy"), "{}", alerts[0]);
    assert_eq!(kinds_and_names(&alerts[0]["skipped"]), vec![("procedure".to_string(), "tidy".to_string())]);

    // The list changes (nothing skipped any more): one more alert, then quiet again.
    my.sql(&db, "DROP PROCEDURE tidy;");
    // (The first run to end may have started before the drop.)
    let changed = wait_for_backups(&daemon, done, 1);
    wait_for_backups(&daemon, changed, 3);
    std::thread::sleep(Duration::from_secs(1));
    let alerts = events(&hook, "backup_skipped");
    assert_eq!(alerts.len(), 2, "{alerts:?}\n{}", daemon.log_text());
    assert!(alerts[1]["message"].as_str().unwrap().contains("skips nothing any more"), "{}", alerts[1]);
    assert!(daemon.job("primary", "backup")["last_success"].get("skipped").is_none(), "an empty list is not shown");
}
