//! Hive Metastore disaster recovery proven with a real client: Spark (PySpark 4.0, Hive 2.3
//! metastore client) creates a metastore, tandem backs it up and restores it into another server
//! with a location map, the data files are copied to the mapped place and the originals moved
//! away, and Spark then reads every table with the right row counts and creates new databases,
//! tables and partitions (which needs DataNucleus' ids past the restored ones).

mod common;

use std::path::Path;

use common::spark::{copy_tree, Metastore};
use common::*;

/// `file:` form of a local directory, as Spark stores it (one slash).
fn file_uri(dir: &Path) -> String {
    format!("file:{}", dir.display())
}

/// Spark populates a metastore on `src`; tandem backs it up, restores it into `dr` with a location
/// map; Spark reads and writes the restored copy.
fn dr_round_trip(src_flavor: Flavor, dr_flavor: Flavor) {
    let src_server = Server::start(src_flavor);
    let dr_server = Server::start(dr_flavor);
    let work = tempfile::tempdir().unwrap();
    let (us, eu) = (work.path().join("lake-us"), work.path().join("lake-eu"));
    std::fs::create_dir_all(&us).unwrap();
    let repo = work.path().join("repo");

    let src = Metastore::new(&src_server, &src_server.create_database("hms"), &us.join("warehouse"));
    src.create_schema();
    let populated = src.run("populate", &[]);
    let expect = work.path().join("populate.json");
    std::fs::write(&expect, populated.to_string()).unwrap();

    let id = backup(&src_server.url(&src.db), &repo);
    let dr_db = format!("{}_dr", src.db);
    let map = format!("{}={}", file_uri(&us), file_uri(&eu));
    let run = tandem(&["restore", "--target", &dr_server.url(&dr_db), "--repo", p(&repo), "--backup", &id, "--map-location", &map, "--json"]).ok();
    let report = run.json();
    let locations = &report["locations"];
    assert!(locations["columns"]["SDS.LOCATION"]["rewritten"].as_u64().unwrap() > 10, "{report}");
    assert!(locations["columns"]["SERDE_PARAMS.PARAM_VALUE (path, avro.schema.url)"]["rewritten"].as_u64().unwrap() >= 3, "{report}");
    assert!(locations["columns"]["FUNC_RU.RESOURCE_URI"]["rewritten"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(locations["unmapped_total"], 0, "{report}");
    assert!(report["fixups"].as_array().unwrap().iter().any(|f| f["what"].as_str().unwrap().contains("MTable")), "{report}");

    // The DR site has its own copy of the data; the primary's files are gone.
    copy_tree(&us, &eu);
    std::fs::rename(&us, work.path().join("lake-us-lost")).unwrap();

    let dr = Metastore::new(&dr_server, &dr_db, &eu.join("warehouse"));
    let read = dr.run("read", &["--expect", expect.to_str().unwrap(), "--expect-map", &map]);
    assert_eq!(read["tables"]["retail.customers"], populated["tables"]["retail.customers"]);
    let more = dr.run("write-more", &["--tag", "dr"]);
    assert_eq!(more["tables"]["more_dr.items"], 3, "{more}");
    assert_eq!(more["partitions"]["retail.orders"], populated["partitions"]["retail.orders"].as_u64().unwrap() + 1, "{more}");
}

#[test]
fn mariadb_to_mariadb_with_location_map() {
    dr_round_trip(Flavor::MariaDb, Flavor::MariaDb);
}

#[test]
fn postgres_to_postgres_with_location_map() {
    dr_round_trip(Flavor::Postgres, Flavor::Postgres);
}
