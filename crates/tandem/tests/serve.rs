//! `tandem serve` end to end: real servers, the real binary as a daemon process, HTTP.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::airflow::{fernet_key, Site};
use common::serve::{Daemon, Webhook};
use common::*;

/// A primary whose every transaction inserts the same id into `a` and `b`: any consistent
/// state has equal, gap-free ids in both.
fn pair_db(server: &Server, rows: u64) -> String {
    let db = server.create_database("serve");
    server.sql(&db, "CREATE TABLE a (id BIGINT PRIMARY KEY, pad VARCHAR(200)); CREATE TABLE b (id BIGINT PRIMARY KEY, pad VARCHAR(200));");
    if rows > 0 {
        let pad = "REPEAT('x', 150)";
        server.sql(&db, &format!("INSERT INTO a SELECT seq, {pad} FROM seq_1_to_{rows}; INSERT INTO b SELECT seq, {pad} FROM seq_1_to_{rows};"));
    }
    db
}

/// `(count a, count b, max id of a)` in one statement (one snapshot).
fn pair_state(server: &Server, db: &str) -> (u64, u64, u64) {
    let out = server.sql(db, "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT coalesce(max(id), 0) FROM a)");
    let v: Vec<u64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (v[0], v[1], v[2])
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let cfg = dir.join("tandem.toml");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn backups(repo: &Path) -> Vec<serde_json::Value> {
    tandem(&["backups", "list", "--repo", p(repo), "--json"]).ok().json().as_array().unwrap().clone()
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

#[test]
fn scheduled_backups_and_refreshes_keep_a_consistent_standby_under_a_writer() {
    let my = Server::shared(Flavor::MariaDb);
    let pg = Server::shared(Flavor::Postgres);
    let primary = pair_db(my, 1000);
    let dr = pg.create_database("serve_dr");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let cfg = write_config(
        dir.path(),
        &format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/3 * * * * *\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nrefresh = \"*/4 * * * * *\"\n\
             [serve]\nhealth-interval = \"2s\"\nlease-ttl = \"6s\"\n[retention]\nkeep-last = 4\ngrace = \"0s\"\n",
            p(&repo),
            my.url(&primary),
            pg.url(&dr)
        ),
    );
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, primary) = (stop.clone(), primary.clone());
        std::thread::spawn(move || {
            let mut id = 1000;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                id += 1;
                my.sql(&primary, &format!("START TRANSACTION; INSERT INTO a VALUES ({id}, 'w'); INSERT INTO b VALUES ({id}, 'w'); COMMIT;"));
                std::thread::sleep(Duration::from_millis(20));
            }
            id
        })
    };
    daemon.wait_for("a first refresh", Duration::from_secs(90), |_| !daemon.job("dr", "refresh")["last_success"].is_null());

    // Watch the standby for a while: always a complete state of the primary, never going back.
    let (mut last, mut max_staleness, mut states) = (0, 0.0f64, std::collections::BTreeSet::new());
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let (ca, cb, max) = pair_state(pg, &dr);
        assert!(ca == cb && ca == max, "the standby shows a torn state: a={ca} b={cb} max={max}\n{}", daemon.log_text());
        assert!(max >= last, "the standby went back from {last} to {max}");
        last = max;
        states.insert(max);
        if let Some(s) = daemon.metric("tandem_standby_staleness_seconds", "site=\"dr\"") {
            max_staleness = max_staleness.max(s);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(states.len() >= 3, "the standby moved forward several times while the writer ran: {states:?}");
    assert!(last < written, "the standby shows an earlier state than the primary's last write");

    let backup_job = daemon.job("primary", "backup");
    let refresh_job = daemon.job("dr", "refresh");
    assert_eq!(u(&backup_job["failures_total"]), 0, "{backup_job}\n{}", daemon.log_text());
    // Only a refresh before the first backup may have failed (nothing to restore yet).
    let failed = refresh_job["last_failure"]["error"].as_str().unwrap_or("no backup of site");
    assert!(
        failed.contains("no backup of site") && refresh_job["last_success"]["finished"].as_str() > refresh_job["last_failure"]["finished"].as_str(),
        "{refresh_job}\n{}",
        daemon.log_text()
    );
    // Staleness is bounded by both schedule intervals plus the time of both jobs (and the probe).
    let took = |j: &serde_json::Value| j["last_success"]["duration_s"].as_f64().unwrap();
    let bound = 3.0 + 4.0 + took(&backup_job) + took(&refresh_job) + 3.0;
    assert!(max_staleness > 0.0 && max_staleness < bound, "staleness {max_staleness:.1}s, bound {bound:.1}s");

    // Retention ran after the backups; metrics and health are there.
    let listed = backups(&repo);
    assert!(listed.len() <= 5 && u(&backup_job["runs_total"]) > listed.len() as u64, "{} listed after {} backups", listed.len(), backup_job["runs_total"]);
    let (code, metrics) = daemon.get("/metrics");
    assert_eq!(code, 200);
    for name in [
        "tandem_job_last_success_timestamp_seconds{",
        "tandem_job_last_duration_seconds{",
        "tandem_job_failures_total{",
        "tandem_job_last_bytes{",
        "tandem_lease_held 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    assert_eq!(daemon.metric("tandem_site_healthy", "site=\"primary\""), Some(1.0), "{metrics}");
    let (code, body) = daemon.get("/healthz");
    assert!(code == 200 && body.contains("\"ok\""), "{body}");

    // Once the writer stopped, each new backup has the content the standby holds: a refresh
    // then restores nothing (no swap under the standby's readers) and counts the newest as held.
    daemon.wait_for("a refresh that found the same content", Duration::from_secs(30), |_| {
        daemon.job("dr", "refresh")["last_success"]["summary"].as_str().is_some_and(|s| s.contains("has the same content as the held"))
    });

    // The backup history: every run with its stored size (the whole backup, at least its new
    // chunks), on the page as bars and the newest in the list.
    let recent = backup_job["recent"].as_array().unwrap_or_else(|| panic!("{backup_job}"));
    assert_eq!(recent.len() as u64, u(&backup_job["runs_total"]), "{backup_job}");
    assert!(recent.iter().all(|r| r["ok"] == true && u(&r["bytes"]) > 0 && u(&r["bytes"]) >= r["new_bytes"].as_u64().unwrap_or(0)), "{recent:?}");
    let (_, page) = daemon.get("/");
    let bars = page.split("<svg id=\"backups-primary\"").nth(1).and_then(|s| s.split("</svg>").next()).unwrap_or_else(|| panic!("{page}"));
    // (More backups may have finished since the job was read.)
    assert!(bars.matches("class=\"bar\"").count() >= recent.len(), "{bars}");
    let newest = backup_job["last_success"]["backup"].as_str().unwrap();
    assert!(page.split("id=\"backup-list-primary\"").nth(1).is_some_and(|l| l.contains(newest)), "{newest} listed in {page}");
}

#[test]
fn a_standby_whose_settings_changed_is_restored_again_though_it_holds_the_newest_backup() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 20);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let config = |standby: &str| {
        write_config(
            dir.path(),
            &format!(
                "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nrefresh = \"*/2 * * * * *\"\n",
                p(&repo),
                my.url(&primary),
                my.url(standby)
            ),
        )
    };
    let first = my.create_database("serve_moved_a");
    let cfg = config(&first);
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();
    let summary = |d: &Daemon| d.job("dr", "refresh")["last_success"]["summary"].as_str().unwrap_or_default().to_string();
    let mut daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    daemon.wait_for("a restore", Duration::from_secs(60), |_| summary(&daemon).starts_with("restored backup"));
    daemon.wait_for("a refresh with nothing to do", Duration::from_secs(30), |_| summary(&daemon).starts_with("already holds"));
    assert_eq!(daemon.terminate(Duration::from_secs(30)), Some(0));

    // Site dr now names another (empty) database: the history says it holds the newest backup,
    // but it was made for the old database, so the next refresh restores.
    let second = my.create_database("serve_moved_b");
    let cfg = config(&second);
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon2.log"));
    let holder = daemon.status()["holder"].clone();
    daemon.wait_for("a refresh by the new daemon", Duration::from_secs(60), |_| daemon.job("dr", "refresh")["last_success"]["daemon"] == holder);
    assert!(summary(&daemon).starts_with("restored backup"), "{}", daemon.log_text());
    assert_eq!(pair_state(my, &second), (20, 20, 20), "{}", daemon.log_text());
}

#[test]
fn kill_9_in_the_middle_of_a_backup_and_of_a_refresh_leaves_nothing_half_done() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 150_000);
    let standby = my.create_database("serve_kill_dr");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let log = dir.path().join("daemon.log");
    let config = |backup: &str, refresh: &str| {
        write_config(
            dir.path(),
            &format!(
                "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\n{backup}\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n{refresh}\n[serve]\nlease-ttl = \"30s\"\n",
                p(&repo),
                my.url(&primary),
                my.url(&standby)
            ),
        )
    };

    // A backup killed halfway is not listed; the repository stays sound.
    let cfg = config("backup = \"*/2 * * * * *\"", "");
    let mut daemon = Daemon::start(&cfg, &log);
    daemon.wait_for("a running backup", Duration::from_secs(30), |_| !daemon.job("primary", "backup")["running"].is_null());
    std::thread::sleep(Duration::from_millis(700));
    daemon.kill9();
    let listed_after_kill = backups(&repo).len();
    tandem(&["repo", "check", "--repo", p(&repo)]).ok();
    // Restarted, it takes the lease of its dead predecessor at once and backs up again.
    let daemon = Daemon::start(&cfg, &log);
    daemon.wait_for("a backup after the restart", Duration::from_secs(60), |_| !daemon.job("primary", "backup")["last_success"].is_null());
    assert!(backups(&repo).len() > listed_after_kill);
    drop(daemon);
    tandem(&["repo", "check", "--repo", p(&repo)]).ok();

    // The standby holds the newest backup (state 1); the primary moves on (state 2).
    tandem(&["--config", p(&cfg), "refresh", "dr"]).ok();
    let state1 = pair_state(my, &standby);
    assert_eq!(state1, pair_state(my, &primary));
    my.sql(&primary, "INSERT INTO a SELECT 1000000 + seq, 'y' FROM seq_1_to_5000; INSERT INTO b SELECT 1000000 + seq, 'y' FROM seq_1_to_5000;");
    let state2 = pair_state(my, &primary);
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();

    // A refresh killed halfway leaves the old state; the next one brings the new.
    let cfg = config("", "refresh = \"*/2 * * * * *\"");
    let mut daemon = Daemon::start(&cfg, &log);
    daemon.wait_for("a running refresh", Duration::from_secs(30), |_| !daemon.job("dr", "refresh")["running"].is_null());
    std::thread::sleep(Duration::from_millis(1500));
    daemon.kill9();
    let seen = pair_state(my, &standby);
    assert!(seen == state1 || seen == state2, "after kill -9 the standby is neither the old nor the new state: {seen:?}");
    let daemon = Daemon::start(&cfg, &log);
    daemon.wait_for("a refresh after the restart", Duration::from_secs(90), |_| !daemon.job("dr", "refresh")["last_success"].is_null());
    assert_eq!(pair_state(my, &standby), state2);
    let leftovers = my.sql("mysql", &format!("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{standby}\\_\\_tandem%'"));
    assert_eq!(leftovers, "0", "the killed refresh's staging database was cleaned up");
}

#[test]
fn a_second_daemon_waits_for_the_lease_and_takes_over_when_the_first_is_killed() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 10);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/2 * * * * *\"\n[serve]\nlease-ttl = \"6s\"\ntoken-file = \"{}\"\n",
            p(&repo),
            my.url(&primary),
            p(&token)
        ),
    );
    let mut first = Daemon::start(&cfg, &dir.path().join("first.log"));
    first.wait_for("the first daemon to hold the lease", Duration::from_secs(10), |s| s["lease"]["held"] == true);
    let second = Daemon::start(&cfg, &dir.path().join("second.log"));
    let first_holder = first.status()["holder"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs(7));
    let s = second.status();
    assert_eq!(s["lease"]["held"], false, "{s}");
    assert_eq!(s["lease"]["record"]["holder"], first_holder.as_str());
    assert_eq!(second.metric("tandem_lease_held", ""), Some(0.0));
    let (code, body) = second.post("/api/v1/sites/primary/backup", Some("s3cret-token"));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("does not hold the lease"), "{body}");
    assert!(u(&first.job("primary", "backup")["runs_total"]) >= 2);
    let by_first = backups(&repo).len();

    first.kill9();
    let second_holder = s["holder"].as_str().unwrap().to_string();
    let killed = Instant::now();
    second.wait_for("the second daemon to take the lease", Duration::from_secs(8), |s| s["lease"]["held"] == true);
    assert!(killed.elapsed() < Duration::from_secs(7), "took over within the lease TTL");
    second.wait_for("a backup by the second daemon", Duration::from_secs(20), |_| daemon_of(&second.job("primary", "backup")["last_success"]) == second_holder);
    assert!(backups(&repo).len() > by_first);
}

fn daemon_of(run: &serde_json::Value) -> String {
    run["daemon"].as_str().unwrap_or_default().to_string()
}

#[test]
fn http_triggers_need_the_bearer_token_and_report_their_job() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 10);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let body = |token: &str| format!("repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"0 0 1 1 *\"\n[serve]\n{token}\n", p(&repo), my.url(&primary));
    std::env::set_var("TANDEM_TEST_SERVE_TOKEN", "tok-123");
    let cfg = write_config(dir.path(), &body("token-env = \"TANDEM_TEST_SERVE_TOKEN\""));
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    daemon.wait_for("the lease", Duration::from_secs(10), |s| s["lease"]["held"] == true);
    for token in [None, Some("wrong"), Some("tok-1234"), Some("")] {
        let (code, answer) = daemon.post("/api/v1/sites/primary/backup", token);
        assert_eq!(code, 401, "token {token:?}: {answer}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(u(&daemon.job("primary", "backup")["runs_total"]), 0, "a refused request started nothing");
    assert!(daemon.job("primary", "backup")["running"].is_null());
    assert!(!repo.join("backups").exists() || backups(&repo).is_empty());

    assert_eq!(daemon.post("/api/v1/sites/nope/backup", Some("tok-123")).0, 404);
    assert_eq!(daemon.post("/api/v1/sites/primary/refresh", Some("tok-123")).0, 404, "a site without source cannot be refreshed");
    assert_eq!(daemon.post("/api/v1/sites/primary/vacuum", Some("tok-123")).0, 404);
    let (code, answer) = daemon.post("/api/v1/sites/primary/backup", Some("tok-123"));
    assert_eq!(code, 202, "{answer}");
    let id = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["job"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let (code, run) = daemon.get(&format!("/api/v1/jobs/{id}"));
        assert_eq!(code, 200, "{run}");
        let run: serde_json::Value = serde_json::from_str(&run).unwrap();
        if run["state"] != "running" {
            break run;
        }
        assert!(Instant::now() < deadline, "job {id} still running");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "api");
    let listed = backups(&repo);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], run["backup"], "{run}");
    assert_eq!(daemon.get("/api/v1/jobs/primary.backup.nope").0, 404);
    drop(daemon);

    // No token configured: mutating endpoints are off.
    let cfg = write_config(dir.path(), &body(""));
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon2.log"));
    let (code, answer) = daemon.post("/api/v1/sites/primary/backup", Some("tok-123"));
    assert_eq!(code, 403, "{answer}");
    assert_eq!(backups(&repo).len(), 1);
}

#[test]
fn sigterm_lets_a_running_job_finish_or_aborts_it_without_a_trace() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 100_000);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let cfg = |grace: &str| {
        write_config(
            dir.path(),
            &format!(
                "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/1 * * * * *\"\n[serve]\nshutdown-grace = \"{grace}\"\n",
                p(&repo),
                my.url(&primary)
            ),
        )
    };
    // With time to finish: the backup completes and is listed.
    let mut daemon = Daemon::start(&cfg("60s"), &dir.path().join("a.log"));
    daemon.wait_for("a running backup", Duration::from_secs(20), |_| !daemon.job("primary", "backup")["running"].is_null());
    let before = backups(&repo).len();
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log_text());
    assert_eq!(backups(&repo).len(), before + 1, "the running backup finished before the exit");

    // Without: the backup is aborted, not listed, recorded as aborted; the lease is released.
    let mut daemon = Daemon::start(&cfg("0s"), &dir.path().join("b.log"));
    daemon.wait_for("a running backup", Duration::from_secs(20), |_| !daemon.job("primary", "backup")["running"].is_null());
    let before = backups(&repo).len();
    assert_eq!(daemon.terminate(Duration::from_secs(20)), Some(0), "{}", daemon.log_text());
    let after = backups(&repo).len();
    assert!(after == before || after == before + 1, "{before} -> {after}");
    tandem(&["repo", "check", "--repo", p(&repo)]).ok();
    let daemon = Daemon::start(&cfg("60s"), &dir.path().join("c.log"));
    let s = daemon.status();
    assert_eq!(s["lease"]["held"], true, "the stopped daemon released its lease: {s}");
    let job = daemon.job("primary", "backup");
    if after == before {
        assert_eq!(job["last_failure"]["state"], "aborted", "{job}");
    }
}

#[test]
fn failures_unhealthy_sites_and_a_stale_standby_are_alerted_and_shown_on_the_page() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 10);
    let standby = my.create_database("serve_alert_dr");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    // An old backup for the standby (so that it is stale at once); then the primary goes away.
    let url = my.url(&primary);
    let hook = Webhook::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = write_config(
        dir.path(),
        &format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{url}\"\n[sites.gone]\ndb = \"mysql://root@127.0.0.1:{closed}/nothing?retry_max_retries=1\"\nbackup = \"*/2 * * * * *\"\n\
             [sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nrefresh = \"*/2 * * * * *\"\n[serve]\nwebhook = \"{}\"\nhealth-interval = \"1s\"\nstaleness-alert = \"1s\"\n",
            p(&repo),
            my.url(&standby),
            hook.url
        ),
    );
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();
    std::thread::sleep(Duration::from_secs(2));
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let wanted = ["job_failed", "site_unhealthy", "standby_stale"];
    loop {
        let events = hook.events();
        if wanted.iter().all(|w| events.iter().any(|e| e["event"] == *w)) {
            let failed = events.iter().find(|e| e["event"] == "job_failed").unwrap();
            assert_eq!(failed["site"], "gone");
            assert!(failed["text"].as_str().unwrap().starts_with("tandem: gone backup failed"), "{failed}");
            assert!(events.iter().any(|e| e["event"] == "site_unhealthy" && e["site"] == "gone"), "{events:?}");
            assert!(!events.iter().any(|e| e["event"] == "site_unhealthy" && e["site"] == "primary"), "{events:?}");
            break;
        }
        assert!(Instant::now() < deadline, "alerts {wanted:?} not all received: {events:?}\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }

    // One alert per failure streak, not one per failed run.
    daemon.wait_for("more failed backups", Duration::from_secs(20), |_| u(&daemon.job("gone", "backup")["failures_total"]) >= 3);
    let failed: Vec<_> = hook.events().into_iter().filter(|e| e["event"] == "job_failed").collect();
    assert_eq!(failed.len(), 1, "{failed:?}");

    // The status page, in a real browser.
    let dom = daemon.browser_dom();
    assert!(dom.contains("<h1>tandem serve</h1>"), "{dom}");
    assert!(dom.contains("id=\"site-dr\" data-role=\"standby\" data-healthy=\"true\""), "{dom}");
    assert!(dom.contains("id=\"site-gone\" data-role=\"primary\" data-healthy=\"false\""), "{dom}");
    // The job may be running its next attempt when the page is drawn: its last run failed either way.
    assert!(
        dom.contains("id=\"job-gone-backup\" data-state=\"failed\"") || dom.contains("id=\"job-gone-backup\" data-state=\"running\" data-last=\"failed\""),
        "{dom}"
    );
    assert!(dom.contains("id=\"lease\" data-held=\"true\""), "{dom}");
    let staleness = dom.split("id=\"site-dr\"").nth(1).and_then(|s| s.split("data-staleness=\"").nth(1)).and_then(|s| s.split('"').next()).unwrap_or("");
    assert!(staleness.parse::<f64>().is_ok_and(|s| s >= 2.0), "staleness {staleness:?} in {dom}");
    assert!(dom.contains("Recent errors") && dom.contains("cannot connect") || dom.contains("unreachable"), "{dom}");

    // The last 24 hours: the standby's staleness drawn from its refreshes (a sawtooth: at least
    // a start and a now), the failing site's backups as failure marks and in the list.
    let svg = |id: &str| {
        dom.split(&format!("<svg id=\"{id}\"")).nth(1).and_then(|s| s.split("</svg>").next()).unwrap_or_else(|| panic!("no chart {id} in {dom}")).to_string()
    };
    let attr = |svg: &str, name: &str| svg.split(&format!("{name}=\"")).nth(1).and_then(|s| s.split('"').next()).and_then(|v| v.parse::<f64>().ok());
    let rpo = svg("rpo-dr");
    assert!(attr(&rpo, "data-points").is_some_and(|n| n >= 2.0), "{rpo}");
    assert!(attr(&rpo, "data-max").is_some_and(|m| m >= 2.0), "the standby was stale by seconds: {rpo}");
    assert!(rpo.contains("class=\"series\"") && rpo.contains("class=\"threshold\""), "{rpo}");
    let backups = svg("backups-gone");
    assert!(backups.matches("class=\"failed\"").count() >= 3 && !backups.contains("class=\"bar\""), "{backups}");
    let list = dom.split("id=\"backup-list-gone\"").nth(1).and_then(|s| s.split("</table>").next()).unwrap_or_else(|| panic!("no backup list in {dom}"));
    assert!(list.matches("failed").count() >= 3, "{list}");
}

#[test]
fn bad_config_is_refused_at_start_with_the_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |text: &str| {
        let cfg = write_config(dir.path(), text);
        tandem(&["--config", p(&cfg), "serve", "--listen", "127.0.0.1:0"])
    };
    let repo = dir.path().join("repo");
    let site = "[sites.primary]\ndb = \"mysql://root@127.0.0.1:1/x\"\n";
    let head = format!("repo = \"{}\"\n{site}", p(&repo));
    serve(&format!("{head}backup = \"61 * * * *\"\n")).fails_with(2, "line 4: sites.primary.backup: invalid cron pattern");
    serve(&format!("{head}backup = \"every hour\"\n")).fails_with(2, "line 4");
    serve(&format!("{head}[sites.dr]\ndb = \"mysql://h/dr\"\nsource = \"primry\"\nrefresh = \"* * * * *\"\n"))
        .fails_with(2, "line 6: sites.dr.source: there is no site \"primry\"");
    serve(&format!("{head}backup = \"* * * * *\"\n[serve]\nlisten = \"nowhere\"\n")).fails_with(2, "line 6: serve.listen");
    serve(&format!("{head}backup = \"* * * * *\"\n[serve]\ntoken-file = \"/nonexistent/token\"\n")).fails_with(2, "line 6: serve.token-file: cannot read");
    serve(&format!("{head}backup = \"* * * * *\"\n[serve]\nlease-tll = \"5s\"\n")).fails_with(2, "line 6");
    serve(&format!("{head}backup = \"* * * * *\"\n[serve]\nlease-ttl = \"300000y\"\n"))
        .fails_with(2, "line 6: serve.lease-ttl: duration \"300000y\" is too long");
    serve(&format!("{head}backup = \"* * * * *\"\n[retention]\nkeep-last = 1\ngrace = \"300000y\"\n")).fails_with(2, "retention.grace: duration");
    serve(&format!("{site}backup = \"* * * * *\"\n")).fails_with(2, "no repository given");
    serve(&head).fails_with(2, "no site has a `backup` or `refresh` schedule");
    serve(&format!("{head}[sites.dr]\ndb = \"mysql://h/dr\"\nreplicate = true\n")).fails_with(2, "sites.dr.replicate: replication streams the changes");
    serve(&format!("{head}[sites.dr]\ndb = \"mysql://h/dr\"\nsource = \"primary\"\nreplicate = true\nrefresh = \"* * * * *\"\n"))
        .fails_with(2, "kept current by `replicate = true`");
    serve(&format!("{head}[sites.dr]\ndb = \"mysql://h/dr\"\nsource = \"primary\"\nreplicate = true\nseed = \"yesterday\"\n"))
        .fails_with(2, "line 8: sites.dr.seed: \"yesterday\" is neither");
    serve(&format!("{head}backup = \"* * * * *\"\nexclude = [\"audit\"]\n")).fails_with(2, "sites.primary.include/exclude: a scope chooses");
    // A refresh-only daemon needs an existing repository.
    serve(&format!("repo = \"{}\"\n{site}[sites.dr]\ndb = \"mysql://h/dr\"\nsource = \"primary\"\nrefresh = \"* * * * *\"\n", p(&dir.path().join("missing"))))
        .fails_with(2, "missing");
    assert!(!dir.path().join("missing").exists() && !repo.exists(), "nothing was created");
}

#[test]
fn a_daemon_refreshes_an_airflow_standby_and_never_overwrites_a_promoted_site() {
    let pg = Server::shared(Flavor::Postgres);
    let key = fernet_key();
    let primary = Site::new(pg, &pg.create_database("af_serve"), &key);
    primary.run("migrate", &[]);
    let populated = primary.run("populate", &[]);
    let dr = Site::new(pg, &pg.create_database("af_serve_dr"), &key);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/3 * * * * *\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nrefresh = \"*/3 * * * * *\"\n",
            p(&dir.path().join("repo")),
            pg.url(&primary.db),
            pg.url(&dr.db)
        ),
    );
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    daemon.wait_for("a refresh", Duration::from_secs(120), |_| !daemon.job("dr", "refresh")["last_success"].is_null());
    let read = dr.run("read", &[]);
    let paused: Vec<bool> = read["dags"].as_object().unwrap().values().map(|d| d["is_paused"].as_bool().unwrap()).collect();
    assert!(!paused.is_empty() && paused.iter().all(|p| *p), "the refreshed standby has every DAG paused: {}", read["dags"]);
    assert_eq!(read["variables"], populated["variables"], "Airflow reads the same variables on the standby");

    // Promoted, the DR site is where the platform runs: the daemon's next refreshes refuse it.
    tandem(&["promote", "--target", &pg.url(&dr.db)]).ok();
    let triggered = dr.run("trigger", &["--dag", "tandem_etl"]);
    let failures = u(&daemon.job("dr", "refresh")["failures_total"]);
    daemon.wait_for("a refused refresh", Duration::from_secs(30), |_| u(&daemon.job("dr", "refresh")["failures_total"]) > failures);
    let job = daemon.job("dr", "refresh");
    assert!(job["last_failure"]["error"].as_str().unwrap().contains("is an active site"), "{job}");
    let runs = dr.run("read", &[])["dag_runs"].clone();
    assert!(runs.as_array().unwrap().iter().any(|r| r["run_id"] == triggered["run_id"]), "the promoted site kept its new run: {runs}");
    tandem(&["--config", p(&cfg), "refresh", "dr"]).fails_with(5, "is an active site");
}

#[test]
fn a_daemon_that_loses_its_lease_stops_running_jobs_and_alerts() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 10);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let hook = Webhook::start();
    let cfg = write_config(
        dir.path(),
        &format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/1 * * * * *\"\n[serve]\nlease-ttl = \"3s\"\nwebhook = \"{}\"\n",
            p(&repo),
            my.url(&primary),
            hook.url
        ),
    );
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    daemon.wait_for("backups", Duration::from_secs(20), |_| u(&daemon.job("primary", "backup")["runs_total"]) >= 2);
    // Another daemon elsewhere (another host) takes the lease, as after a network partition.
    let current = daemon.status()["lease"]["record"]["seq"].as_u64().unwrap();
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    let record =
        serde_json::json!({"seq": current + 1, "holder": "thief", "hostname": "elsewhere", "pid": 1, "written": chrono::Utc::now(), "expires": expires});
    std::fs::write(repo.join(format!("daemon/lease/{:020}.json", current + 1)), record.to_string()).unwrap();
    daemon.wait_for("the lost lease", Duration::from_secs(10), |s| s["lease"]["held"] == false && s["lease"]["record"]["holder"] == "thief");
    std::thread::sleep(Duration::from_millis(1500));
    let runs = u(&daemon.job("primary", "backup")["runs_total"]);
    std::thread::sleep(Duration::from_secs(3));
    let job = daemon.job("primary", "backup");
    assert_eq!(u(&job["runs_total"]), runs, "no job runs without the lease: {job}");
    assert!(job["running"].is_null(), "{job}");
    assert_eq!(daemon.metric("tandem_lease_held", ""), Some(0.0));
    assert!(hook.events().iter().any(|e| e["event"] == "lease_lost"), "{:?}", hook.events());
}

#[test]
fn a_daemon_on_an_encrypted_repository_reads_its_key_from_the_config_and_seals_its_records() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 300);
    let dr = my.create_database("serve_enc_dr");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let key = dir.path().join("repo-key");
    std::fs::write(&key, "daemon passphrase\n").unwrap();
    tandem(&["repo", "init", "--encrypt", "--repo", p(&repo), "--repo-key-file", p(&key)]).ok();
    let body = format!(
        "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/2 * * * * *\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nrefresh = \"*/3 * * * * *\"\n",
        p(&repo),
        my.url(&primary),
        my.url(&dr)
    );
    // Without the key the daemon does not start, and says how to give it.
    let cfg = write_config(dir.path(), &body);
    tandem(&["--config", p(&cfg), "serve", "--listen", "127.0.0.1:0"]).fails_with(2, "is encrypted and no repository key was given");
    let cfg = write_config(dir.path(), &format!("repo-key-file = \"{}\"\n{body}", p(&key)));
    let daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    daemon.wait_for("a backup and a refresh", Duration::from_secs(90), |_| {
        !daemon.job("primary", "backup")["last_success"].is_null() && !daemon.job("dr", "refresh")["last_success"].is_null()
    });
    drop(daemon);
    assert_eq!(pair_state(my, &dr).0, 300, "the standby was refreshed from the encrypted repository");
    // The job history and the lease are there, sealed: no field name of theirs is readable.
    for (dir, needle) in [("daemon/jobs", "runs_total"), ("daemon/lease", "holder")] {
        let files: Vec<_> = std::fs::read_dir(repo.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(!files.is_empty(), "{dir} is empty");
        for f in files {
            let data = std::fs::read(&f).unwrap();
            assert!(data.starts_with(b"TDE\x01") && !data.windows(needle.len()).any(|w| w == needle.as_bytes()), "{} is not sealed", f.display());
        }
    }
    let list = tandem(&["backups", "list", "--repo", p(&repo), "--repo-key-file", p(&key), "--json"]).ok().json();
    assert!(!list.as_array().unwrap().is_empty());
}

/// The daemon keeps SIGPIPE ignored: a log reader that goes away (journald restarting, a closed
/// stderr pipe) costs it failed writes, not its life. A command still ends quietly when its
/// reader goes (`tandem backups list | head`).
#[test]
fn a_closed_pipe_ends_a_command_quietly_but_not_the_daemon() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 10);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let cfg = write_config(dir.path(), &format!("repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/1 * * * * *\"\n", p(&repo), my.url(&primary)));
    let mut daemon = Command::new(tandem_bin())
        .args(["--config", p(&cfg), "-v", "serve", "--listen", "127.0.0.1:0"])
        .env_remove("TANDEM_REPO")
        .env_remove("TANDEM_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut line).unwrap();
    drop(daemon.stderr.take());
    let addr = line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    // Every run logs: the daemon writes into the closed pipe again and again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            panic!("the daemon died when its stderr reader went away: {status:?}");
        }
        let (_, body) = common::serve::http(&addr, "GET", "/api/status", None);
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        if u(&status["sites"][0]["jobs"][0]["runs_total"]) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no backups: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();

    let mut list = Command::new(tandem_bin()).args(["backups", "list", "--repo", p(&repo)]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(list.stdout.take());
    let out = list.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert!(out.status.success() || out.status.signal() == Some(libc::SIGPIPE), "{:?}: {stderr}", out.status);
}

/// A job whose thread panics is a failed run (the next one starts), not a slot busy forever.
#[test]
fn a_job_that_panics_fails_and_the_next_one_runs() {
    let my = Server::shared(Flavor::MariaDb);
    let primary = pair_db(my, 10);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!("repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/1 * * * * *\"\n", p(&dir.path().join("repo")), my.url(&primary)),
    );
    let daemon = Daemon::start_with_env(&cfg, &dir.path().join("daemon.log"), &[("FAILPOINTS", "daemon-after-backup=panic(boom)")]);
    daemon.wait_for("two failed runs", Duration::from_secs(30), |_| u(&daemon.job("primary", "backup")["failures_total"]) >= 2);
    let job = daemon.job("primary", "backup");
    let error = job["last_failure"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("the job panicked: boom"), "{job}");
}
