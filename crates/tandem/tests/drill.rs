//! `tandem drill`: a site rebuilt from the repository into a scratch database, checked, dropped,
//! measured and recorded, on both engines; a scratch database that holds data or is a site's is
//! refused untouched; a failed step is reported and recorded; `tandem drills list|show`.

mod common;

use std::path::Path;

use common::*;

/// Whether database `db` exists on `server`.
fn exists(server: &Server, db: &str) -> bool {
    let (admin, sql) = match server.flavor() {
        Flavor::MariaDb => ("mysql", format!("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{db}'")),
        Flavor::Postgres => ("postgres", format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'")),
    };
    server.sql(admin, &sql) == "1"
}

/// A config with a primary on `server` (a table of `rows` rows, backed up) and a standby `dr`.
fn sites(server: &Server, dir: &Path, rows: usize) -> (std::path::PathBuf, String, String) {
    let primary = server.create_database("drill");
    let dr = server.create_database("drill_dr");
    server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))");
    let values: Vec<String> = (1..=rows).map(|i| format!("({i}, 'v{i}')")).collect();
    server.sql(&primary, &format!("INSERT INTO t VALUES {}", values.join(",")));
    let cfg = dir.join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\ndrill-scratch = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n[sites.lonely]\ndb = \"{}\"\nsource = \"nobody\"\n[sites.nobody]\ndb = \"{}\"\n",
            p(&dir.join("repo")),
            server.url(&primary),
            server.url(&format!("{primary}_elsewhere")),
            server.url(&dr),
            server.url(&server.create_database("drill_lonely")),
            server.url(&server.create_database("drill_nobody"))
        ),
    )
    .unwrap();
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();
    (cfg, primary, dr)
}

fn drill_rebuilds_measures_and_drops(flavor: Flavor) {
    let server = Server::shared(flavor);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, primary, dr) = sites(server, dir.path(), 50);
    let scratch = format!("{dr}_tandem_drill");

    let report = tandem(&["--config", p(&cfg), "--json", "drill", "dr"]).ok().json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!((report["tables"].as_u64(), report["rows"].as_u64()), (Some(1), Some(50)), "{report}");
    let steps: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(steps, ["restore", "check", "drop"], "{report}");
    let (rpo, rto) = (report["rpo_s"].as_f64().unwrap(), report["rto_s"].as_f64().unwrap());
    assert!(
        rpo >= 0.0 && rto > 0.0 && rto <= report["steps"][0]["took_s"].as_f64().unwrap() + report["steps"][1]["took_s"].as_f64().unwrap() + 1.0,
        "{report}"
    );
    assert!(report["scratch"].as_str().unwrap().ends_with(&scratch), "{report}");
    assert!(!exists(server, &scratch), "the scratch database is dropped");

    // Kept on request; the next drill then refuses the scratch database, which keeps its rows.
    tandem(&["--config", p(&cfg), "drill", "dr", "--keep"]).ok();
    assert_eq!(server.sql(&scratch, "SELECT count(*) FROM t"), "50");
    tandem(&["--config", p(&cfg), "drill", "dr"]).fails_with(5, "holds 1 relation(s)");
    assert_eq!(server.sql(&scratch, "SELECT count(*) FROM t"), "50", "a refused drill changes nothing");
    // A site's own database is never a scratch database.
    tandem(&["--config", p(&cfg), "drill", "dr", "--scratch", &server.url(&dr)]).fails_with(2, "site dr's database");

    // Both drills are recorded; `show` of a site is its latest.
    let listed = tandem(&["--config", p(&cfg), "--json", "drills", "list"]).ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let text = tandem(&["--config", p(&cfg), "drills", "show", "dr"]).ok().stdout;
    assert!(text.contains("kept") && text.contains("RESULT: OK") && text.contains("RTO"), "{text}");
    let first = listed[0]["id"].as_str().unwrap();
    assert_eq!(tandem(&["--config", p(&cfg), "--json", "drills", "show", first]).ok().json()["id"], first);

    // A site's `drill-scratch` is its drills' scratch database (a primary drills its own backup).
    let report = tandem(&["--config", p(&cfg), "--json", "drill", "primary"]).ok().json();
    assert!(report["ok"] == true && report["scratch"].as_str().unwrap().ends_with("_elsewhere"), "{report}");
    assert!(!exists(server, &format!("{primary}_elsewhere")), "the drill-scratch database is dropped");
}

#[test]
fn a_mariadb_site_is_rebuilt_into_a_scratch_database_measured_and_dropped() {
    drill_rebuilds_measures_and_drops(Flavor::MariaDb);
}

#[test]
fn a_postgres_site_is_rebuilt_into_a_scratch_database_measured_and_dropped() {
    drill_rebuilds_measures_and_drops(Flavor::Postgres);
}

#[test]
fn a_failed_drill_is_reported_recorded_and_leaves_no_scratch_database() {
    let server = Server::shared(Flavor::MariaDb);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _, _) = sites(server, dir.path(), 3);
    // Site lonely's source was never backed up: the restore step fails.
    let run = tandem(&["--config", p(&cfg), "--json", "drill", "lonely"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["ok"], false);
    assert!(report["error"].as_str().unwrap().contains("no backup of site nobody"), "{report}");
    assert!(report["rto_s"].is_null() && report["steps"][0]["ok"] == false, "{report}");
    let scratch = report["scratch"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert!(!exists(server, &scratch), "{scratch} is not left behind");
    let listed = tandem(&["--config", p(&cfg), "--json", "drills", "list", "lonely"]).ok().json();
    assert_eq!(listed[0]["ok"], false, "{listed}");

    // Bad input: an unknown site or drill, another engine's scratch, corrupt reports.
    tandem(&["--config", p(&cfg), "drill", "nosuch"]).fails_with(2, "unknown site \"nosuch\"");
    tandem(&["--config", p(&cfg), "drills", "show", "nothing-20260101T000000Z"]).fails_with(2, "no drill nothing-20260101T000000Z");
    tandem(&["--config", p(&cfg), "drill", "primary", "--scratch", "postgres://u@127.0.0.1:1/x"]).fails_with(2, "must be on site primary's engine");
    std::fs::write(dir.path().join("repo/daemon/drills/lonely.json"), "[{").unwrap();
    tandem(&["--config", p(&cfg), "drills", "list"]).fails_with(4, "daemon/drills/lonely.json");
}
