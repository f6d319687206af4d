//! Hive Metastore support on synthetic metastores of every supported layout (2.3, 3.1, 4.0) and
//! engine: detection, restore with a location map, fix-ups, semantic verify, and bad input.

mod common;

use common::hms::{generate, q, LAYOUTS};
use common::*;

const US: &str = "gs://lake-us/warehouse";
const EU: &str = "gs://lake-eu/warehouse";

/// Backs up a retail sample of `layout`, restores it with a location map, verifies it equal,
/// then breaks the copy and checks that verify names what differs.
fn restore_and_verify(flavor: Flavor, layout: &str) {
    let server = Server::shared(flavor);
    let repo = tempfile::tempdir().unwrap();
    let db = server.create_database("hmsv");
    let gen = generate(server, &db, layout, &["--sample", "retail", "--warehouse", US, "--external", "gs://lake-us/external"]);
    let out = tandem(&["backup", "--source", &server.url(&db), "--repo", p(repo.path()), "--json"]).ok().json();
    assert_eq!(out["system"], "hive-metastore");
    assert!(out["schema_version"].as_str().unwrap().starts_with(layout), "{out}");

    let dr = format!("{db}_dr");
    let maps = [format!("{US}={EU}"), "gs://lake-us/external=gs://lake-eu/external".to_string()];
    let restored =
        tandem(&["restore", "--target", &server.url(&dr), "--repo", p(repo.path()), "--map-location", &maps[0], "--map-location", &maps[1], "--json"])
            .ok()
            .json();
    assert_eq!(restored["locations"]["unmapped_total"], 0, "{restored}");
    let sds = restored["locations"]["columns"]["SDS.LOCATION"]["rewritten"].as_u64().unwrap();
    assert!(sds >= gen["tables"].as_u64().unwrap(), "{restored}");
    let (t, c) = (q(server, "SDS"), q(server, "LOCATION"));
    let left = server.sql(&dr, &format!("SELECT COUNT(*) FROM {t} WHERE {c} LIKE 'gs://lake-us/%'"));
    assert_eq!(left, "0", "every location moved");

    let (src_url, dr_url) = (server.url(&db), server.url(&dr));
    let verify = || {
        let mut args = vec!["verify", "--source", &src_url, "--target", &dr_url, "--json"];
        args.extend(maps.iter().flat_map(|m| ["--map-location", m.as_str()]));
        tandem(&args)
    };
    let run = verify();
    assert_eq!(run.code, 0, "verify of an exact restore must be equal:\n{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let kinds = report["kinds"].as_array().unwrap();
    let good = |kind: &str| kinds.iter().find(|k| k["kind"] == kind).map(|k| k["good"].as_u64().unwrap()).unwrap_or(0);
    assert_eq!(good("partitions"), gen["partitions"].as_u64().unwrap(), "{report}");
    assert_eq!(good("databases"), gen["databases"].as_u64().unwrap(), "{report}");
    assert_eq!(good("views") + good("materialized views"), gen["views"].as_u64().unwrap(), "{report}");
    assert_eq!(good("functions"), gen["functions"].as_u64().unwrap(), "{report}");
    assert!(good("tables") > 0, "{report}");

    // Without the map every location differs.
    let plain = tandem(&["verify", "--source", &server.url(&db), "--target", &server.url(&dr)]);
    assert_eq!(plain.code, 1, "{}", plain.stdout);
    assert!(plain.stdout.contains("location differs: source \"gs://lake-us/"), "{}", plain.stdout);

    // Break the copy: one partition moves, one loses a parameter, one disappears.
    let (parts, name, sd, id) = (q(server, "PARTITIONS"), q(server, "PART_NAME"), q(server, "SD_ID"), q(server, "PART_ID"));
    let first = server.sql(&dr, &format!("SELECT {id}, {name}, {sd} FROM {parts} ORDER BY {id} LIMIT 3"));
    let rows: Vec<Vec<&str>> = first.lines().map(|l| l.split('\t').collect()).collect();
    server.sql(&dr, &format!("UPDATE {t} SET {c} = 'gs://lake-eu/elsewhere' WHERE {sd} = {}", rows[0][2]));
    let (pp, key) = (q(server, "PARTITION_PARAMS"), q(server, "PARAM_KEY"));
    server.sql(&dr, &format!("DELETE FROM {pp} WHERE {id} = {} AND {key} = 'numRows'", rows[1][0]));
    for child in ["PARTITION_PARAMS", "PARTITION_KEY_VALS", "PART_COL_STATS", "PART_PRIVS", "PART_COL_PRIVS"] {
        let _ = server.try_sql(&dr, &format!("DELETE FROM {} WHERE {id} = {}", q(server, child), rows[2][0]));
    }
    server.sql(&dr, &format!("DELETE FROM {parts} WHERE {id} = {}", rows[2][0]));
    let run = verify();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let lines: Vec<String> =
        report["differences"].as_array().unwrap().iter().map(|d| format!("{}: {}", d["object"].as_str().unwrap(), d["detail"].as_str().unwrap())).collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has(&format!("partition {}: location differs", rows[0][1])), "{lines:#?}");
    assert!(has(&format!("partition {}: param numRows only in source", rows[1][1])), "{lines:#?}");
    assert!(has(&format!("partition {}: only in source", rows[2][1])), "{lines:#?}");
    assert_eq!(report["differences_total"], 3, "{lines:#?}");
    let text = tandem(&["verify", "--source", &server.url(&db), "--target", &server.url(&dr), "--map-location", &maps[0], "--map-location", &maps[1]]);
    assert!(text.stdout.contains("ONLY_IN_SOURCE") && text.stdout.contains("RESULT: DIFFERENT"), "{}", text.stdout);
}

#[test]
fn mariadb_layouts_restore_with_map_and_verify() {
    for layout in LAYOUTS {
        restore_and_verify(Flavor::MariaDb, layout);
    }
}

#[test]
fn postgres_layouts_restore_with_map_and_verify() {
    for layout in LAYOUTS {
        restore_and_verify(Flavor::Postgres, layout);
    }
}

/// A metastore of `layout` generated on `from` is restored into the other engine with a
/// location map, then verified equal object by object across the two engines.
fn cross_engine(from: Flavor, to: Flavor, layout: &str) {
    let (src, dst) = (Server::shared(from), Server::shared(to));
    let repo = tempfile::tempdir().unwrap();
    let db = src.create_database("hmsx");
    generate(src, &db, layout, &["--sample", "retail", "--warehouse", US, "--external", "gs://lake-us/external"]);
    backup(&src.url(&db), repo.path());
    let target = dst.url(&format!("{db}_x"));
    let map = format!("gs://lake-us/={}", "gs://lake-eu/");
    let report = tandem(&["restore", "--target", &target, "--repo", p(repo.path()), "--map-location", &map, "--json"]).ok().json();
    assert_eq!(report["cross_engine"], true, "{report}");
    assert_eq!(report["locations"]["unmapped_total"], 0, "{report}");
    let run = tandem(&["verify", "--source", &src.url(&db), "--target", &target, "--map-location", &map]);
    assert_eq!(run.code, 0, "cross-engine copy must verify equal:\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("RESULT: EQUAL"), "{}", run.stdout);
}

#[test]
fn mariadb_to_postgres_every_layout() {
    for layout in LAYOUTS {
        cross_engine(Flavor::MariaDb, Flavor::Postgres, layout);
    }
}

#[test]
fn postgres_to_mariadb_every_layout() {
    for layout in LAYOUTS {
        cross_engine(Flavor::Postgres, Flavor::MariaDb, layout);
    }
}

/// The restored metastore can take new ids at once and carries no state of the dead source: id
/// counters behind the restored ids are raised, locks dropped, open transactions aborted.
#[test]
fn fixups_make_the_restore_usable() {
    let server = Server::shared(Flavor::MariaDb);
    let repo = tempfile::tempdir().unwrap();
    let db = server.create_database("hmsfix");
    generate(server, &db, "3.1", &["--sample", "retail"]);
    // A source whose counters lag behind its ids (what breaks the next CREATE TABLE).
    server.sql(&db, "UPDATE SEQUENCE_TABLE SET NEXT_VAL = 1 WHERE SEQUENCE_NAME = 'org.apache.hadoop.hive.metastore.model.MTable'; UPDATE NOTIFICATION_SEQUENCE SET NEXT_EVENT_ID = 1;");
    assert_ne!(server.sql(&db, "SELECT COUNT(*) FROM HIVE_LOCKS"), "0", "the sample holds locks");
    assert_ne!(server.sql(&db, "SELECT COUNT(*) FROM TXNS WHERE TXN_STATE = 'o'"), "0", "the sample has open transactions");
    backup(&server.url(&db), repo.path());
    let dr = format!("{db}_dr");
    let report = tandem(&["restore", "--target", &server.url(&dr), "--repo", p(repo.path()), "--json"]).ok().json();
    let rows =
        |what: &str| report["fixups"].as_array().unwrap().iter().find(|f| f["what"].as_str().unwrap().contains(what)).map(|f| f["rows"].as_u64().unwrap());
    assert_eq!(rows("MTable"), Some(1), "{report}");
    assert_eq!(rows("NOTIFICATION_SEQUENCE"), Some(1), "{report}");
    assert!(rows("drop locks").unwrap() > 0 && rows("abort transactions").unwrap() > 0, "{report}");
    let next = server.sql(&dr, "SELECT NEXT_VAL FROM SEQUENCE_TABLE WHERE SEQUENCE_NAME = 'org.apache.hadoop.hive.metastore.model.MTable'");
    let max = server.sql(&dr, "SELECT MAX(TBL_ID) FROM TBLS");
    assert!(next.parse::<i64>().unwrap() > max.parse::<i64>().unwrap(), "NEXT_VAL {next} past max id {max}");
    assert!(server.sql(&dr, "SELECT NEXT_EVENT_ID > (SELECT MAX(EVENT_ID) FROM NOTIFICATION_LOG) FROM NOTIFICATION_SEQUENCE") == "1");
    assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM HIVE_LOCKS"), "0");
    assert_eq!(server.sql(&dr, "SELECT COUNT(*) FROM TXNS WHERE TXN_STATE = 'o'"), "0");
    // Write ids are kept: the data directories are named by them.
    assert_eq!(
        server.sql(&dr, "SELECT COUNT(*), COALESCE(SUM(T2W_WRITEID), 0) FROM TXN_TO_WRITE_ID"),
        server.sql(&db, "SELECT COUNT(*), COALESCE(SUM(T2W_WRITEID), 0) FROM TXN_TO_WRITE_ID")
    );
    // The copy of the dead source's state is the only difference a verify would see.
    let run = tandem(&["verify", "--source", &server.url(&db), "--target", &server.url(&dr)]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// Bad input gets a clear error, a non-zero exit and changes nothing.
#[test]
fn bad_input_changes_nothing() {
    let server = Server::shared(Flavor::MariaDb);
    let repo = tempfile::tempdir().unwrap();
    let r = p(repo.path());
    let db = server.create_database("hmsbad");
    generate(server, &db, "2.3", &["--sample", "retail", "--warehouse", US]);
    let id = backup(&server.url(&db), repo.path());
    let missing = format!("{db}_never");
    let exists = |name: &str| server.sql("mysql", &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'")) == "1";

    tandem(&["restore", "--target", &server.url(&missing), "--repo", r, "--map-location", "gs://lake-us/warehouse"]).fails_with(2, "has no '='");
    tandem(&["restore", "--target", &server.url(&missing), "--repo", r, "--map-location", "=gs://x/"]).fails_with(2, "empty FROM side");
    tandem(&["restore", "--target", &server.url(&missing), "--repo", r, "--map-location", "gs://a/=gs://b/", "--map-location", "gs://a=gs://c"])
        .fails_with(2, "map the same location");
    assert!(!exists(&missing), "a refused restore creates nothing");

    // A map that matches nothing is a warning, not silence.
    let dr = format!("{db}_dr");
    let run = tandem(&[
        "restore",
        "--target",
        &server.url(&dr),
        "--repo",
        r,
        "--map-location",
        &format!("{US}={EU}"),
        "--map-location",
        "s3://nothing-here/=s3://x/",
    ])
    .ok();
    assert!(run.stdout.contains("warning: location rule s3://nothing-here/=s3://x/ matched no location"), "{}", run.stdout);

    // A target that already holds a metastore is not overwritten without --force.
    let fingerprint = "SELECT COUNT(*), SUM(LOCATION LIKE 'gs://lake-eu/%') FROM SDS";
    let before = server.sql(&dr, fingerprint);
    tandem(&["restore", "--target", &server.url(&dr), "--repo", r])
        .fails_with(5, "already holds a Hive Metastore")
        .fails_with(5, "; use --force to replace its content");
    // --require-mapped refuses to make a restore visible that still points at the source bucket.
    let run = tandem(&[
        "restore",
        "--target",
        &server.url(&dr),
        "--repo",
        r,
        "--force",
        "--map-location",
        "gs://lake-us/warehouse/retail.db=gs://lake-eu/retail.db",
        "--require-mapped",
    ]);
    let run = run.fails_with(2, "still point at a mapped-from bucket").fails_with(2, "add --map-location rules for them or drop --require-mapped");
    assert!(run.stderr.contains("gs://lake-us/warehouse"), "{}", run.stderr);
    assert_eq!(server.sql(&dr, fingerprint), before, "the earlier restore is intact");

    // An unsupported schema version is refused by name; --system generic still copies it.
    let old = server.create_database("hmsold");
    generate(server, &old, "2.3", &["--schema-only"]);
    server.sql(&old, "UPDATE VERSION SET SCHEMA_VERSION = '1.2.0'");
    tandem(&["backup", "--source", &server.url(&old), "--repo", r])
        .fails_with(2, "schema version 1.2.0 is not supported")
        .fails_with(2, "; use --system generic to copy the database as it is");
    tandem(&["backup", "--source", &server.url(&old), "--repo", r, "--system", "generic"]).ok();
    // ... and so is a backup that claims one (a newer tandem's, or an edited manifest).
    let manifest = repo.path().join("backups").join(format!("{id}.json"));
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"version\": \"2.3.0\"", "\"version\": \"9.9.0\"")).unwrap();
    tandem(&["restore", "--target", &server.url(&missing), "--repo", r, "--backup", &id]).fails_with(2, "schema version 9.9.0 is not supported");
    assert!(!exists(&missing));
    std::fs::write(&manifest, text).unwrap();

    // A map on a backup that stores no locations, verify against a non-metastore.
    let plain = server.create_database("plain");
    server.sql(&plain, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
    let generic = backup(&server.url(&plain), repo.path());
    tandem(&["restore", "--target", &server.url(&missing), "--repo", r, "--backup", &generic, "--map-location", "gs://a/=gs://b/"])
        .fails_with(2, "stores no storage locations");
    tandem(&["verify", "--source", &server.url(&db), "--target", &server.url(&plain)]).fails_with(2, "is not a Hive Metastore like the source");
    tandem(&["verify", "--source", &server.url(&plain), "--target", &server.url(&plain)])
        .fails_with(6, "compares the systems that describe their objects (hive-metastore, airflow)");
    tandem(&["verify", "--target", &server.url(&plain)]).fails_with(2, "--source");
}

/// Text that the MySQL layout (Latin-1) cannot hold stops a restore from PostgreSQL, naming the
/// row, and the target keeps what it had.
#[test]
fn cross_engine_refuses_text_latin1_cannot_hold() {
    let (pg, my) = (Server::shared(Flavor::Postgres), Server::shared(Flavor::MariaDb));
    let repo = tempfile::tempdir().unwrap();
    let db = pg.create_database("hmsjp");
    generate(pg, &db, "4.0", &["--sample", "retail"]);
    pg.sql(&db, r#"UPDATE "PARTITIONS" SET "PART_NAME" = 'city=東京' WHERE "PART_ID" = (SELECT MIN("PART_ID") FROM "PARTITIONS")"#);
    let part = pg.sql(&db, r#"SELECT MIN("PART_ID") FROM "PARTITIONS""#);
    backup(&pg.url(&db), repo.path());
    let target = my.create_database("hmsjp_dr");
    my.sql(&target, "CREATE TABLE keep (id INT PRIMARY KEY); INSERT INTO keep VALUES (42);");
    let run = tandem(&["restore", "--target", &my.url(&target), "--repo", p(repo.path()), "--force"]);
    let run = run.fails_with(2, &format!("table PARTITIONS row PART_ID={part}"));
    assert!(run.stderr.contains("cannot be stored in Latin-1"), "{}", run.stderr);
    assert_eq!(my.sql(&target, "SELECT id FROM keep"), "42");
}
