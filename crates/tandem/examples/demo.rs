//! The README demo: a Hive Metastore on a primary site (a throwaway MariaDB server) is backed up
//! and restored into a DR site on another engine (a throwaway PostgreSQL server) with its storage
//! locations moved to the DR region's bucket, then verified object by object. Each step is shown
//! as the `tandem` command it runs; a drill ends it.
//!
//! The metastore is the "retail" sample of `tests/hms/gen.py` (Hive's 3.1 layout): databases
//! `retail` and `staging`, tables departments, categories, products, customers, orders and
//! order_items (partitioned), an external table, a Spark datasource table, the view
//! `completed_orders`, a function, statistics, privileges.

use std::path::Path;
use std::process::Command;

use tandem_testkit::{tandem_bin, Flavor, Server};

fn main() {
    println!("== starting two throwaway database servers on 127.0.0.1");
    let primary = Server::start(Flavor::MariaDb);
    let dr = Server::start(Flavor::Postgres);
    println!("   primary site: MariaDB on port {}; DR site: PostgreSQL on port {}", primary.port(), dr.port());

    println!("== creating a Hive Metastore (layout 3.1) with the retail sample on the primary");
    primary.sql("mysql", "CREATE DATABASE metastore");
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hms/gen.py");
    let out = Command::new("python3")
        .arg(&gen)
        .args(["--url", &primary.url("metastore"), "--layout", "3.1", "--sample", "retail"])
        .args(["--warehouse", "gs://lake-us/warehouse", "--external", "gs://lake-us/external"])
        .output()
        .expect("run tests/hms/gen.py");
    if !out.status.success() {
        eprintln!("demo: gen.py failed: {}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    println!(
        "   {} databases, {} tables and views, {} partitions, locations under gs://lake-us/",
        summary["databases"], summary["tables"], summary["partitions"]
    );

    let work = tempfile::Builder::new().prefix("tandem-demo-").tempdir().expect("temp dir");
    let repo = work.path().join("repo");
    let config = work.path().join("tandem.toml");
    std::fs::write(
        &config,
        format!(
            "repo = \"{}\"\n\n[sites.primary]\ndb = \"{}\"\nsystem = \"hive-metastore\"\n\n\
             [sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nmap-location = [\"gs://lake-us/=gs://lake-eu/\"]\n",
            repo.display(),
            primary.url("metastore"),
            dr.url("metastore")
        ),
    )
    .expect("write config");
    println!("== config {}:\n{}", config.display(), std::fs::read_to_string(&config).unwrap_or_default());

    let tandem = |args: &[&str]| -> bool {
        println!("$ tandem {}", args.join(" "));
        let status = Command::new(tandem_bin()).arg("--config").arg(&config).args(args).status().expect("run tandem");
        println!();
        status.success()
    };
    let must = |args: &[&str]| {
        if !tandem(args) {
            eprintln!("demo: `tandem {}` failed", args.join(" "));
            std::process::exit(1);
        }
    };
    must(&["backup", "primary"]);
    must(&["backups", "show", "latest"]);
    must(&["restore", "dr", "--dry-run"]);
    must(&["restore", "dr"]);

    println!("== a few storage locations on the DR site (PostgreSQL):");
    let rows = dr.sql("metastore", r#"SELECT "LOCATION" FROM "SDS" WHERE "LOCATION" LIKE 'gs://%' ORDER BY "SD_ID" LIMIT 4"#);
    for line in rows.lines() {
        println!("   {line}");
    }
    println!();

    let equal = tandem(&["verify", "--source", "primary", "--target", "dr"]);
    // A drill: the DR copy rebuilt from the repository in a scratch database, measured, dropped.
    let drilled = tandem(&["drill", "dr"]);
    println!("== stopping both servers");
    drop((primary, dr));
    if !equal {
        eprintln!("demo: the DR site differs from the primary");
        std::process::exit(1);
    }
    if !drilled {
        eprintln!("demo: the drill failed");
        std::process::exit(1);
    }
    println!("demo OK");
}
