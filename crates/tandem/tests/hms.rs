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
    let restored = tandem(&["restore", "--target", &server.url(&dr), "--repo", p(repo.path()), "--map-location", &maps[0], "--map-location", &maps[1], "--json"])
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
    let lines: Vec<String> = report["differences"].as_array().unwrap().iter().map(|d| format!("{}: {}", d["object"].as_str().unwrap(), d["detail"].as_str().unwrap())).collect();
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
