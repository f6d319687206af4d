//! The operator files in `ops/`: the Grafana dashboard and the Prometheus alert rules use only
//! metrics a real `tandem serve` exports, and `promtool` accepts the rules and passes their unit
//! tests; the status page, in Chromium, shows drills (one by the CLI, one on the daemon's
//! schedule).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::serve::Daemon;
use common::*;

fn ops() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops")
}

/// promtool: the one scripts/test.sh unpacked into `.cache/promtool`, else the one on PATH.
fn promtool() -> PathBuf {
    let cached = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/promtool/usr/bin/promtool");
    if cached.exists() {
        cached
    } else {
        PathBuf::from("promtool")
    }
}

/// Every `tandem_…` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).filter(|w| w.starts_with("tandem_")).map(str::to_string).collect()
}

/// The metric names a daemon exports, from the `# TYPE` lines of its `/metrics` (a counter's
/// samples carry `_total`).
fn exported(daemon: &Daemon) -> BTreeSet<String> {
    let (code, body) = daemon.get("/metrics");
    assert_eq!(code, 200, "{body}");
    let mut names = BTreeSet::new();
    for line in body.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { continue };
        names.insert(name.to_string());
        if kind == "counter" {
            names.insert(format!("{name}_total"));
        }
    }
    names
}

#[test]
fn the_dashboard_and_the_alert_rules_use_only_exported_metrics_and_promtool_accepts_the_rules() {
    // A daemon with every kind of site, so that every metric has a sample (a family without
    // one is not exported): a primary backed up, a standby refreshed, a replica of MariaDB and
    // one of PostgreSQL (the WAL its slot keeps).
    let my = Server::shared(Flavor::MariaDb);
    let pg = Server::shared(Flavor::Postgres);
    let (primary, dr, replica) = (my.create_database("ops"), my.create_database("ops_dr"), my.create_database("ops_rep"));
    let (pg_primary, pg_replica) = (pg.create_database("ops_pg"), pg.create_database("ops_pg_rep"));
    my.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
    pg.sql(&pg_primary, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tandem.toml");
    let site = |name: &str, url: String, extra: &str| format!("[sites.{name}]\ndb = \"{url}\"\n{extra}\n");
    let text = [
        format!("repo = \"{}\"\n", p(&dir.path().join("repo"))),
        site("primary", my.url(&primary), "backup = \"*/2 * * * * *\"\ndrill = \"*/3 * * * * *\""),
        site("dr", my.url(&dr), "source = \"primary\"\nrefresh = \"*/2 * * * * *\""),
        site("rep", my.url(&replica), "source = \"primary\"\nreplicate = true\nfailover = \"auto\""),
        site("pg", pg.url(&pg_primary), ""),
        site("pgrep", pg.url(&pg_replica), "source = \"pg\"\nreplicate = true"),
    ];
    std::fs::write(&cfg, text.concat()).unwrap();
    // A drill made with the CLI shows on the page and in the metrics.
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();
    tandem(&["--config", p(&cfg), "drill", "dr"]).ok();
    let mut daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    let running =
        |s: &serde_json::Value, site: &str| s["sites"].as_array().into_iter().flatten().any(|x| x["name"] == site && x["replication"]["running"] == true);
    daemon.wait_for("a backup, a refresh and both replicas running", Duration::from_secs(120), |s| {
        !daemon.job("dr", "refresh")["last_success"].is_null()
            && !daemon.job("primary", "backup")["last_success"].is_null()
            && !daemon.job("primary", "drill")["last_success"].is_null()
            && running(s, "rep")
            && running(s, "pgrep")
            && s["sites"].as_array().into_iter().flatten().any(|x| x["name"] == "rep" && x["failover"]["failed_probes"] == 0)
    });
    let exported = exported(&daemon);
    let dom = daemon.browser_dom();
    // A drill made with the CLI and one the daemon ran on its schedule.
    assert!(dom.contains("<tr id=\"drill-dr\" data-ok=\"true\">") && dom.contains("<tr id=\"drill-primary\" data-ok=\"true\">"), "{dom}");
    assert!(dom.contains("id=\"job-primary-drill\""), "{dom}");
    let drill = daemon.job("primary", "drill");
    assert!(drill["last_success"]["summary"].as_str().is_some_and(|s| s.starts_with("RPO ") && s.contains("RTO ")), "{drill}");
    for wanted in [
        "tandem_drill_last_success_timestamp_seconds",
        "tandem_standby_staleness_seconds",
        "tandem_backup_size_bytes",
        "tandem_replication_lag_seconds",
        "tandem_replication_log_kept_bytes",
        "tandem_failover_source_failing_seconds",
    ] {
        assert!(exported.contains(wanted), "{wanted} is exported: {exported:?}");
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ops().join("grafana/tandem.json")).unwrap()).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let exprs: Vec<&str> = panels.iter().flat_map(|p| p["targets"].as_array().into_iter().flatten()).filter_map(|t| t["expr"].as_str()).collect();
    assert!(panels.iter().all(|p| p["targets"].as_array().is_some_and(|t| t.iter().any(|t| t["expr"].is_string()))), "every panel queries something");
    let rules = std::fs::read_to_string(ops().join("prometheus/tandem-rules.yml")).unwrap();
    for (what, text) in [("the dashboard", exprs.join("\n")), ("the alert rules", rules)] {
        let used = metric_names(&text);
        assert!(used.len() >= 5, "{what} uses metrics: {used:?}");
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(unknown.is_empty(), "{what} uses metrics the daemon does not export: {unknown:?}");
    }

    for args in [&["check", "rules", "tandem-rules.yml"][..], &["test", "rules", "tandem-rules.test.yml"][..]] {
        let out = Command::new(promtool())
            .args(args)
            .current_dir(ops().join("prometheus"))
            .output()
            .expect("promtool (unpacked into .cache/promtool by scripts/test.sh)");
        assert!(out.status.success(), "promtool {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log_text());
    // What the replicas hold at their sources (a PostgreSQL slot keeps WAL) goes.
    for site in ["rep", "pgrep"] {
        tandem(&["--config", p(&cfg), "replicate", "drop", site]).ok();
    }
}
