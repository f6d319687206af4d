//! End-to-end conformance, run identically on MariaDB and PostgreSQL: backup → list/show →
//! restore into another server → the copy is identical (schema, every row, id generators);
//! a second backup of unchanged data stores almost nothing; --force replaces; --dry-run changes
//! nothing; prune and check.

mod common;

use common::*;

fn roundtrip(flavor: Flavor) {
    let primary = Server::shared(flavor);
    let dr = Server::start(flavor);
    let db = primary.create_database("rt");
    primary.sql(&db, &fidelity_fixture(flavor));
    let repo = tempfile::tempdir().unwrap();
    let repo_path = repo.path().join("repo");

    // Backup, JSON output.
    let out = tandem(&["backup", "--source", &primary.url(&db), "--repo", p(&repo_path), "--json"]).ok().json();
    let id = out["id"].as_str().expect("id").to_string();
    assert_eq!(out["system"], "generic");
    assert!(out["rows"].as_u64().unwrap() >= 10, "{out}");
    assert!(out["new_bytes"].as_u64().unwrap() > 0);
    let position = out["position"]["value"].as_str().unwrap_or("");
    assert!(!position.is_empty(), "snapshot position recorded: {out}");

    // List and show.
    let list = tandem(&["backups", "list", "--repo", p(&repo_path), "--json"]).ok().json();
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1);
    for key in ["id", "created", "site", "system", "bytes"] {
        assert!(list[0].get(key).is_some(), "list entry has {key}: {}", list[0]);
    }
    assert_eq!(list[0]["id"], id.as_str());
    let show = tandem(&["backups", "show", &id, "--repo", p(&repo_path), "--json"]).ok().json();
    let tables = show["table_list"].as_array().expect("tables");
    assert!(tables.iter().any(|t| t["name"].as_str().unwrap().ends_with("types") && t["rows"] == 4), "{show}");
    assert!(show["duration_s"].as_f64().is_some());
    let text = tandem(&["backups", "show", "latest", "--repo", p(&repo_path)]).ok().stdout;
    assert!(text.contains(&id) && text.contains("position"), "{text}");

    // Dry run changes nothing.
    let target_db = "restored";
    let plan = tandem(&["restore", "--repo", p(&repo_path), "--target", &dr.url(target_db), "--dry-run"]).ok().stdout;
    assert!(plan.contains("dry run") && plan.contains("load"), "{plan}");
    let exists = match flavor {
        Flavor::MariaDb => ("mysql", format!("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{target_db}'")),
        Flavor::Postgres => ("postgres", format!("SELECT count(*) FROM pg_database WHERE datname = '{target_db}'")),
    };
    assert_eq!(dr.sql(exists.0, &exists.1), "0", "a dry run does not create the target database");

    // Restore into another server; the copy is identical.
    tandem(&["restore", "--repo", p(&repo_path), "--target", &dr.url(target_db)]).ok();
    assert_eq!(fingerprint(primary, &db), fingerprint(&dr, target_db));

    // Id generators continue past the restored ids.
    match flavor {
        Flavor::MariaDb => {
            dr.sql(target_db, "INSERT INTO parent (name) VALUES ('p3')");
            assert_eq!(dr.sql(target_db, "SELECT max(id) FROM parent"), "3");
        }
        Flavor::Postgres => {
            dr.sql(target_db, "INSERT INTO parent (name) VALUES ('p3'); INSERT INTO ident (v) VALUES ('d')");
            assert_eq!(dr.sql(target_db, "SELECT max(id) FROM parent"), "3");
            assert_eq!(dr.sql(target_db, "SELECT max(id) FROM ident"), "4");
            assert_eq!(dr.sql(target_db, "SELECT nextval('free_seq')"), "102");
        }
    }

    // A second backup of unchanged data stores (almost) nothing new.
    let second = tandem(&["backup", "--source", &primary.url(&db), "--repo", p(&repo_path), "--json"]).ok().json();
    let (bytes, new) = (second["bytes"].as_u64().unwrap(), second["new_bytes"].as_u64().unwrap());
    assert_eq!(new, 0, "unchanged data must dedup fully (bytes {bytes})");

    // A non-empty target is refused without --force, replaced with it.
    primary.sql(&db, "INSERT INTO parent (name) VALUES ('changed')");
    let third = backup(&primary.url(&db), &repo_path);
    tandem(&["restore", "--repo", p(&repo_path), "--target", &dr.url(target_db)]).fails_with(5, "not empty");
    assert_eq!(dr.sql(target_db, "SELECT count(*) FROM parent"), "3", "refused restore changed nothing");
    tandem(&["restore", "--repo", p(&repo_path), "--target", &dr.url(target_db), "--backup", &third, "--force"]).ok();
    assert_eq!(fingerprint(primary, &db), fingerprint(&dr, target_db));

    // Check and prune.
    tandem(&["repo", "check", "--read-data", "--repo", p(&repo_path)]).ok();
    let pruned = tandem(&["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", p(&repo_path), "--json"]).ok().json();
    assert_eq!(pruned["removed"].as_array().unwrap().len(), 2);
    let list = tandem(&["backups", "list", "--repo", p(&repo_path), "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], third.as_str());
    let check = tandem(&["repo", "check", "--read-data", "--repo", p(&repo_path), "--json"]).ok().json();
    assert_eq!(check["errors"].as_array().unwrap().len(), 0);
    assert_eq!(check["chunks_unreferenced"], 0, "prune removed garbage: {check}");
    // The remaining backup still restores.
    tandem(&["restore", "--repo", p(&repo_path), "--target", &dr.url("after_prune")]).ok();
    assert_eq!(fingerprint(primary, &db), fingerprint(&dr, "after_prune"));
}

#[test]
fn roundtrip_mariadb() {
    roundtrip(Flavor::MariaDb);
}

#[test]
fn roundtrip_postgres() {
    roundtrip(Flavor::Postgres);
}

#[test]
fn config_sites_and_repo() {
    let server = Server::shared(Flavor::MariaDb);
    let db = server.create_database("cfg");
    server.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two');");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tandem.toml");
    std::fs::write(
        &config,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nsystem = \"generic\"\n[sites.dr]\ndb = \"{}\"\n",
            dir.path().join("repo").display(),
            server.url(&db),
            server.url(&format!("{db}_dr"))
        ),
    )
    .unwrap();
    let cfg = p(&config);
    let id = tandem(&["--config", cfg, "backup", "primary"]).ok().stdout.lines().last().unwrap().to_string();
    let list = tandem(&["--config", cfg, "backups", "list", "--json"]).ok().json();
    assert_eq!(list[0]["site"], "primary");
    assert_eq!(list[0]["id"], id.as_str());
    tandem(&["--config", cfg, "restore", "dr"]).ok();
    assert_eq!(server.sql(&format!("{db}_dr"), "SELECT v FROM t ORDER BY id"), "one\ntwo");
    tandem(&["--config", cfg, "backup", "nowhere"]).fails_with(2, "unknown site \"nowhere\" (configured: dr, primary)");
}

#[test]
fn system_detection() {
    let server = Server::shared(Flavor::Postgres);
    let repo = tempfile::tempdir().unwrap();
    let hms = server.create_database("hms");
    server.sql(
        &hms,
        r#"CREATE TABLE "VERSION" ("VER_ID" bigint PRIMARY KEY, "SCHEMA_VERSION" varchar(127) NOT NULL);
           CREATE TABLE "DBS" ("DB_ID" bigint PRIMARY KEY); CREATE TABLE "TBLS" ("TBL_ID" bigint PRIMARY KEY);
           INSERT INTO "VERSION" VALUES (1, '2.3.0'); INSERT INTO "DBS" VALUES (1), (2);"#,
    );
    let out = tandem(&["backup", "--source", &server.url(&hms), "--repo", p(repo.path()), "--json"]).ok().json();
    assert_eq!(out["system"], "hive-metastore");
    assert_eq!(out["schema_version"], "2.3.0");
    let show = tandem(&["backups", "show", "latest", "--repo", p(repo.path()), "--json"]).ok().json();
    assert_eq!(show["system_summary"]["databases"], 2);

    let plain = server.create_database("plain");
    server.sql(&plain, "CREATE TABLE t (id int PRIMARY KEY);");
    tandem(&["backup", "--source", &server.url(&plain), "--repo", p(repo.path()), "--system", "hive-metastore"])
        .fails_with(2, "is not a Hive Metastore (it lacks one of the tables VERSION, DBS, TBLS)");
    tandem(&["backup", "--source", &server.url(&plain), "--repo", p(repo.path()), "--system", "oracle-forms"]).fails_with(2, "unknown system \"oracle-forms\"");
}
