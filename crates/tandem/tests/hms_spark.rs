//! Hive Metastore disaster recovery proven with a real client: Spark (PySpark 4.0, Hive 2.3
//! metastore client) creates a metastore, tandem backs it up and restores it into another server
//! (same engine and the other engine) with a location map, the data files are copied to the
//! mapped place and the originals moved away, and Spark then reads every table with the right row
//! counts and creates new databases, tables and partitions (which needs DataNucleus' ids past the
//! restored ones). A backup taken while Spark keeps writing restores to one consistent instant.

mod common;

use std::path::Path;

use common::spark::{copy_tree, writer_steps, Metastore};
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

    // The copy was equal to the backup before Spark wrote to it; now it is not.
    let before = tandem(&["verify", "--source", &src_server.url(&src.db), "--target", &dr_server.url(&dr_db), "--map-location", &map]);
    assert_eq!(before.code, 1, "{}", before.stdout);
    assert!(before.stdout.contains("database more_dr: only in target"), "{}", before.stdout);
}

#[test]
fn mariadb_to_mariadb_with_location_map() {
    dr_round_trip(Flavor::MariaDb, Flavor::MariaDb);
}

#[test]
fn postgres_to_postgres_with_location_map() {
    dr_round_trip(Flavor::Postgres, Flavor::Postgres);
}

#[test]
fn mariadb_to_postgres_with_location_map() {
    dr_round_trip(Flavor::MariaDb, Flavor::Postgres);
}

#[test]
fn postgres_to_mariadb_with_location_map() {
    dr_round_trip(Flavor::Postgres, Flavor::MariaDb);
}

/// Spark keeps creating tables and partitions while tandem backs the metastore up; the restore
/// holds every step that finished before the backup began, and no half step: the `writer.t_N`
/// tables are exactly 1..k and the `writer.log` partitions exactly batch=1..m with m = k or k−1
/// (each step commits its table, then its partition).
#[test]
fn backup_while_spark_writes_restores_one_instant() {
    use std::io::BufRead;
    let server = Server::start(Flavor::Postgres);
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let src = Metastore::new(&server, &server.create_database("hmsw"), &work.path().join("warehouse"));
    src.create_schema();
    let mut writer = src.spawn("writer", &["--duration", "45", "--metadata-only"]);
    let stdout = writer.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    // Wait for a few finished steps, then back up while the writer goes on.
    let mut done_before = 0u64;
    while done_before < 3 {
        let v = rx.recv_timeout(std::time::Duration::from_secs(240)).expect("writer progress");
        assert!(v.get("errors").is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty())), "{v}");
        if let Some(n) = v["progress"].as_u64() {
            done_before = n;
        }
    }
    while let Ok(v) = rx.try_recv() {
        if let Some(n) = v["progress"].as_u64() {
            done_before = n;
        }
    }
    let id = backup(&server.url(&src.db), &repo);
    let status = writer.wait().unwrap();
    reader.join().unwrap();
    let mut last = serde_json::Value::Null;
    while let Ok(v) = rx.try_recv() {
        last = v;
    }
    assert!(status.success(), "writer failed: {last}");
    let total = last["iterations"].as_u64().unwrap();
    assert!(total > done_before, "the writer must keep writing after the backup began ({total} steps, {done_before} before)");

    let dr_db = format!("{}_dr", src.db);
    tandem(&["restore", "--target", &server.url(&dr_db), "--repo", p(&repo), "--backup", &id]).ok();
    let verify = tandem(&["verify", "--repo", p(&repo), "--backup", &id, "--target", &server.url(&dr_db)]);
    assert_eq!(verify.code, 0, "the restore equals its backup:\n{}\n{}", verify.stdout, verify.stderr);
    let copy = Metastore::new(&server, &dr_db, &work.path().join("warehouse")).run("read", &["--no-details"]);
    let (k, m) = writer_steps(&copy);
    assert!(m >= done_before, "every step finished before the backup began is in it: m={m}, before={done_before}");
    assert!(k < total, "steps after the backup began are not: k={k}, total={total}");
}

/// `tandem serve` backs up a PostgreSQL metastore that Spark keeps writing and refreshes a
/// MariaDB standby of it again and again (seconds-level schedules). While the writer runs, the
/// standby always holds one whole earlier state (each look is one SQL statement, one snapshot:
/// writer tables 1..k, partitions 1..m, m = k or k−1), moving forward; once the writer is done
/// and a refresh has caught up, Spark reads the standby and finds exactly the final state.
#[test]
fn daemon_keeps_a_standby_that_spark_reads_whole() {
    use common::serve::Daemon;
    use std::io::BufRead;
    let src_server = Server::start(Flavor::Postgres);
    let dr_server = Server::start(Flavor::MariaDb);
    let work = tempfile::tempdir().unwrap();
    let warehouse = work.path().join("warehouse");
    let src = Metastore::new(&src_server, &src_server.create_database("hmsd"), &warehouse);
    src.create_schema();
    let dr_db = format!("{}_dr", src.db);
    let cfg = work.path().join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/2 * * * * *\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\nrefresh = \"*/3 * * * * *\"\n",
            p(&work.path().join("repo")),
            src_server.url(&src.db),
            dr_server.url(&dr_db)
        ),
    )
    .unwrap();
    let mut daemon = Daemon::start(&cfg, &work.path().join("daemon.log"));
    daemon.wait_for("a first refresh", std::time::Duration::from_secs(60), |_| !daemon.job("dr", "refresh")["last_success"].is_null());
    let mut writer = src.spawn("writer", &["--duration", "40", "--metadata-only"]);
    let stdout = writer.stdout.take().unwrap();
    let drain = std::thread::spawn(move || std::io::BufReader::new(stdout).lines().map_while(Result::ok).last());

    let look = || -> (u64, u64) {
        let out = dr_server.sql(
            &dr_db,
            "SELECT (SELECT COUNT(*) FROM TBLS t JOIN DBS d ON d.DB_ID = t.DB_ID WHERE d.NAME = 'writer' AND t.TBL_NAME LIKE 't\\_%'), \
                    (SELECT COALESCE(MAX(CAST(SUBSTRING(t.TBL_NAME, 3) AS UNSIGNED)), 0) FROM TBLS t JOIN DBS d ON d.DB_ID = t.DB_ID WHERE d.NAME = 'writer' AND t.TBL_NAME LIKE 't\\_%'), \
                    (SELECT COUNT(*) FROM PARTITIONS p JOIN TBLS t ON t.TBL_ID = p.TBL_ID JOIN DBS d ON d.DB_ID = t.DB_ID WHERE d.NAME = 'writer' AND t.TBL_NAME = 'log'), \
                    (SELECT COALESCE(MAX(CAST(SUBSTRING(p.PART_NAME, 7) AS UNSIGNED)), 0) FROM PARTITIONS p JOIN TBLS t ON t.TBL_ID = p.TBL_ID JOIN DBS d ON d.DB_ID = t.DB_ID WHERE d.NAME = 'writer' AND t.TBL_NAME = 'log')",
        );
        let v: Vec<u64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
        let (k, kmax, m, mmax) = (v[0], v[1], v[2], v[3]);
        assert!(k == kmax && m == mmax, "the standby has gaps: {k} tables up to t_{kmax}, {m} partitions up to batch={mmax}");
        assert!(m == k || m + 1 == k, "the standby holds half a step: k={k} m={m}");
        (k, m)
    };
    let mut states = vec![look()];
    while writer.try_wait().unwrap().is_none() {
        let now = look();
        assert!(now.0 >= states.last().unwrap().0, "the standby went back: {states:?} then {now:?}");
        if now != *states.last().unwrap() {
            states.push(now);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let status = writer.wait().unwrap();
    let last: serde_json::Value = serde_json::from_str(&drain.join().unwrap().unwrap_or_default()).unwrap_or_default();
    assert!(status.success(), "writer failed: {last}");
    let total = last["iterations"].as_u64().unwrap();
    assert!(states.len() >= 3, "the standby followed the writer: {states:?} ({total} steps)");

    // Caught up: a refresh of a backup taken after the writer stopped; Spark reads it whole.
    let done = chrono::Utc::now();
    daemon.wait_for("a refresh after the writer", std::time::Duration::from_secs(60), |_| {
        let job = daemon.job("dr", "refresh");
        job["running"].is_null()
            && job["last_success"]["snapshot_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_some_and(|t| t > done)
    });
    // The daemon stops first: the next refresh's swap (a new backup every 2 s, though nothing
    // changed) could pick Spark's reading transaction as a deadlock victim (MariaDB 1213 while
    // RENAME TABLE waits for its metadata locks), which is a reader's retry, not this test's point.
    let job = daemon.job("dr", "refresh");
    assert_eq!(daemon.terminate(std::time::Duration::from_secs(60)), Some(0), "{}", daemon.log_text());
    let copy = Metastore::new(&dr_server, &dr_db, &warehouse).run("read", &["--no-details"]);
    assert_eq!(writer_steps(&copy), (total, total), "Spark reads the final state on the standby");
    // Only a refresh before the first backup may have failed (nothing to restore yet).
    let failed = job["last_failure"]["error"].as_str().unwrap_or("no backup of site");
    assert!(
        failed.contains("no backup of site") && job["last_success"]["finished"].as_str() > job["last_failure"]["finished"].as_str(),
        "{job}\n{}",
        daemon.log_text()
    );
}
