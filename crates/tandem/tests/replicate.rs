//! `tandem replicate`: a MariaDB source streamed into a MariaDB and a PostgreSQL replica
//! through the real binary, with kill -9, schema changes and bad input.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::replica::*;
use common::*;

const SCHEMA: &str = "
CREATE TABLE items (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  location VARCHAR(200),
  price DECIMAL(10,2),
  created DATETIME(3),
  happened TIMESTAMP(6) NULL,
  day DATE,
  took TIME,
  kind ENUM('small','large'),
  tags SET('x','y','z'),
  big BIGINT UNSIGNED,
  ratio FLOAT,
  score DOUBLE,
  payload BLOB
);
CREATE TABLE loose (a INT, b VARCHAR(10));
INSERT INTO items (name, location, price, created, happened, day, took, kind, tags, big, ratio, score, payload) VALUES
  ('first', 'hdfs://nn/warehouse/first', 1.50, '2024-01-02 03:04:05.678', '2024-01-02 03:04:05.123456', '2024-01-02', '12:34:56', 'small', 'x,z',
   18446744073709551615, 0.25, 1e-7, X'00FF0A09'),
  ('second', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL);
INSERT INTO loose VALUES (1, 'a'), (1, 'a'), (2, NULL);
";

/// The rows of the replicated tables of a MariaDB database, as one comparable text.
fn my_rows(server: &Server, db: &str) -> String {
    let cols = "id, name, location, price, created, happened, day, took, kind, tags, big, ratio, score, HEX(payload)";
    format!("{}\n--\n{}", server.sql(db, &format!("SELECT {cols} FROM items ORDER BY id")), server.sql(db, "SELECT a, b FROM loose ORDER BY a, b"))
}

/// The replica's checkpoint position, or None before bootstrap.
fn checkpoint(cfg: &Path, site: &str) -> Option<serde_json::Value> {
    let s = status(cfg, site);
    (!s["checkpoint"].is_null()).then(|| s["checkpoint"].clone())
}

/// `tandem verify` of a replica against its source; the report when they differ.
fn verify(src: &str, dst: &str, map: &str) -> Result<(), String> {
    let run = tandem(&["verify", "--source", src, "--target", dst, "--map-location", map]);
    match run.code {
        0 => Ok(()),
        _ => Err(format!("{}\n{}", run.stdout, run.stderr)),
    }
}

#[test]
fn replicas_follow_a_mariadb_source_across_engines_resume_after_kill_9_and_stop_at_ddl() {
    let my = Server::shared(Flavor::MariaDb);
    let pg = Server::shared(Flavor::Postgres);
    let src = my.create_database("repl_src");
    my.sql(&src, SCHEMA);
    let dr = my.create_database("repl_dr");
    let drpg = pg.create_database("repl_pg");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), ""), ("drpg", &pg.url(&drpg), "")]);
    assert_eq!(status(&cfg, "dr")["checkpoint"], serde_json::Value::Null, "no replica before the first run");

    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    let mut b = Replica::start(&cfg, "drpg", &[], dir.path());
    wait_until("both bootstraps", Duration::from_secs(120), &mut [&mut a, &mut b], || checkpoint(&cfg, "dr").is_some() && checkpoint(&cfg, "drpg").is_some());
    assert_eq!(my_rows(my, &dr), my_rows(my, &src), "the bootstrap copied the source");

    // Changes of every kind, in several transactions, one of them multi-statement.
    my.sql(
        &src,
        "INSERT INTO items (name, location, price, created, happened, kind, tags, big, ratio, score, payload)
           VALUES ('third', 'hdfs://nn/warehouse/third', 99999998.99, '1999-12-31 23:59:59.999', '2038-01-19 03:14:07.5', 'large', 'y', 0, -1.5, 2.5e300, X'');
         UPDATE items SET name = 'First', location = 'hdfs://nn/warehouse/moved', tags = 'x,y,z' WHERE id = 1;
         START TRANSACTION; DELETE FROM items WHERE id = 2; INSERT INTO items (id, name) VALUES (2, 'again'); UPDATE items SET price = price + 1; COMMIT;
         UPDATE loose SET b = 'z' WHERE a = 1 LIMIT 1; DELETE FROM loose WHERE a = 2; INSERT INTO loose VALUES (3, 'tab\there');",
    );
    wait_until("the MariaDB replica to catch up", Duration::from_secs(60), &mut [&mut a, &mut b], || my_rows(my, &dr) == my_rows(my, &src));
    let pg_items = "SELECT string_agg(concat_ws('|', id, name, location, price, created, happened, day, took, kind, tags, big, ratio, score, \
                    encode(payload, 'hex')), E'\\n' ORDER BY id) FROM items";
    wait_until("the PostgreSQL replica to catch up", Duration::from_secs(60), &mut [&mut a, &mut b], || {
        pg.sql(&drpg, "SELECT name FROM items WHERE id = 1") == "First" && pg.sql(&drpg, "SELECT count(*) FROM loose") == "3"
    });
    let converted = pg.sql(&drpg, pg_items);
    let lines: Vec<&str> = converted.lines().collect();
    assert_eq!(
        lines[..2],
        ["1|First|hdfs://nn/warehouse/moved|2.50|2024-01-02 03:04:05.678|2024-01-02 03:04:05.123456+00|2024-01-02|12:34:56|small|x,y,z|18446744073709551615|0.25|1e-07|00ff0a09", "2|again"],
        "every value converted; the delete, insert and update of one transaction applied: {converted}"
    );
    assert!(
        lines[2].starts_with("3|third|hdfs://nn/warehouse/third|99999999.99|1999-12-31 23:59:59.999|2038-01-19 03:14:07.5+00|large|y|0|-1.5|"),
        "{converted}"
    );
    assert_eq!(pg.sql(&drpg, "SELECT string_agg(a || ':' || coalesce(b, '-'), ',' ORDER BY a, b) FROM loose"), "1:a,1:z,3:tab\there");

    // A writer keeps going while the MariaDB replica is killed five times (TANDEM_KILLS times:
    // bench/replication-soak.sh runs this with 50 and more).
    kill_9_under_writer(&mut a, (&cfg, "dr", dir.path()), kills(5), |i| {
        my.sql(
            &src,
            &format!(
                "START TRANSACTION; INSERT INTO items (name, location, price) VALUES ('w{i}', 'hdfs://nn/w/{i}', {i}); \
                 UPDATE items SET score = {i} WHERE id = 1; DELETE FROM items WHERE name = 'w{}'; COMMIT;",
                i.saturating_sub(5)
            ),
        );
    });
    wait_until("the MariaDB replica to catch up after kill -9", Duration::from_secs(90), &mut [&mut a, &mut b], || my_rows(my, &dr) == my_rows(my, &src));
    wait_until("the PostgreSQL replica to verify equal", Duration::from_secs(90), &mut [&mut a, &mut b], || {
        pg.sql(&drpg, "SELECT count(*) FROM items") == my.sql(&src, "SELECT count(*) FROM items")
    });
    assert_eq!(
        pg.sql(&drpg, "SELECT string_agg(id || ':' || name || ':' || coalesce(price::text, '-'), ',' ORDER BY id) FROM items"),
        my.sql(&src, "SELECT GROUP_CONCAT(CONCAT(id, ':', name, ':', COALESCE(price, '-')) ORDER BY id) FROM items")
    );

    // A schema change stops both replicas, naming the statement; the checkpoint remembers it.
    my.sql(&src, "ALTER TABLE items ADD COLUMN extra INT");
    let code = a.wait(Duration::from_secs(30));
    assert_eq!(code, 5, "{}", a.log());
    assert!(a.log().contains("schema changed at") && a.log().contains("ADD COLUMN extra"), "{}", a.log());
    assert!(a.log().contains("--rebootstrap"), "the error says how to go on: {}", a.log());
    let stopped = checkpoint(&cfg, "dr").unwrap();
    assert!(stopped["stopped"].as_str().unwrap().contains("ADD COLUMN extra"), "{stopped}");
    tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(5, "schema changed at");
    drop(b);

    // --rebootstrap copies afresh (with the new column) and streams on.
    let mut a = Replica::start(&cfg, "dr", &["--rebootstrap"], dir.path());
    my.sql(&src, "UPDATE items SET extra = 7 WHERE id = 1");
    wait_until("the rebootstrapped replica", Duration::from_secs(90), &mut [&mut a], || {
        my.try_sql(&dr, "SELECT extra FROM items WHERE id = 1").ok().as_deref() == Some("7")
    });
    assert_eq!(a.sigterm(), 0, "SIGTERM stops cleanly: {}", a.log());
    assert!(checkpoint(&cfg, "dr").unwrap()["stopped"].is_null());
}

/// One source transaction of 300 000 rows (≈ 120 MB of row images) reaches the replica whole:
/// killed while applying it, the replica shows none of it, and the restarted replica applies it
/// exactly once with its peak memory far below the transaction's size.
#[test]
fn a_huge_source_transaction_is_applied_whole_once_with_flat_memory() {
    let my = Server::shared(Flavor::MariaDb);
    let src = my.create_database("repl_huge_src");
    my.sql(&src, "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(400) NOT NULL); INSERT INTO big VALUES (0, 'seed');");
    let dr = my.create_database("repl_huge_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), "")]);
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    let huge = Huge {
        source: (my, &src),
        replica: (my, &dr),
        digest: "SELECT count(*), COALESCE(SUM(CRC32(CONCAT(id, pad))), 0) FROM big",
        insert: "INSERT INTO big SELECT seq, REPEAT(CHAR(65 + seq % 26), 400) FROM seq_1_to_300000",
        kill_after: Duration::from_millis(1500),
        peak_limit_mib: 100.0,
    };
    huge_transaction_is_applied_whole_once(&cfg, "dr", dir.path(), a, huge);
}

/// `--from-backup` bootstraps from a backup already in the repository (no new backup of the
/// source) and streams what the source committed after it; once the source has purged the
/// backup's binlog, it is refused with the way out and the replica stays untouched.
#[test]
fn a_replica_seeded_from_an_existing_backup_streams_what_came_after_it() {
    let my = Server::start(Flavor::MariaDb);
    let src = my.create_database("repl_seed_src");
    my.sql(&src, SCHEMA);
    let dr = my.create_database("repl_seed_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), "seed = \"backup\"\n")]);
    let backups = || tandem(&["--config", p(&cfg), "--json", "backups", "list"]).json().as_array().map(Vec::len).unwrap_or(0);
    tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(2, "holds no backup of site primary");
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();
    my.sql(&src, "INSERT INTO items (name) VALUES ('after the backup'); DELETE FROM loose WHERE a = 2;");
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the seeded bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    wait_until("the seeded replica to catch up", Duration::from_secs(120), &mut [&mut a], || my_rows(&my, &dr) == my_rows(&my, &src));
    assert_eq!(backups(), 1, "the seed was the backup in the repository: {}", a.log());
    assert!(a.log().contains("bootstrapping from backup"), "{}", a.log());
    assert_eq!(a.sigterm(), 0, "{}", a.log());

    // The binlog of the backup's position is purged: refused, nothing written.
    let purged = my.create_database("repl_seed_purged");
    // (The server keeps a log while a dump thread reads it: wait until the replica's is gone.)
    let dumps = "SELECT count(*) FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'";
    wait_until("the replica's dump thread to end", Duration::from_secs(30), &mut [], || my.sql(&src, dumps) == "0");
    // (Nor before its binlog checkpoint is written, some time after the flush: purge until gone.)
    let oldest = my.sql(&src, "SHOW BINARY LOGS");
    let first = oldest.split_whitespace().next().unwrap();
    wait_until("the binlog to be purged", Duration::from_secs(30), &mut [], || {
        my.sql(&src, "FLUSH BINARY LOGS");
        let current = my.sql(&src, "SHOW MASTER STATUS");
        my.sql(&src, &format!("PURGE BINARY LOGS TO '{}'", current.split_whitespace().next().unwrap()));
        !my.sql(&src, "SHOW BINARY LOGS").contains(first)
    });
    let cfg = replica_config(dir.path(), &my.url(&src), &[("late", &my.url(&purged), "")]);
    let run = tandem(&["--config", p(&cfg), "replicate", "late", "--from-backup"]).fails_with(2, "purged");
    assert!(run.stderr.contains("--rebootstrap") && run.stderr.contains("backup"), "{}", run.stderr);
    assert_eq!(my.sql(&purged, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"), "0");
    tandem(&["--config", p(&cfg), "replicate", "late", "--from-backup", "nonsense"]).fails_with(2, "--from-backup");
}

/// Replication outlives its servers: with the replica's server down for a while (the source
/// writing on) and then the source crashed and started again, `tandem replicate` keeps running,
/// says it is retrying, and catches up exactly.
#[test]
fn replication_rides_out_a_replica_outage_and_a_source_crash() {
    let (mut my, mut pg) = (Server::start(Flavor::MariaDb), Server::start(Flavor::Postgres));
    let src = my.create_database("repl_outage_src");
    my.sql(&src, SCHEMA);
    let dr = pg.create_database("repl_outage_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &pg.url(&dr), "")]);
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    let digest = "SELECT count(*), COALESCE(SUM(id), 0), COALESCE(SUM(LENGTH(name)), 0) FROM items";
    let write = |server: &Server, from: u32| {
        for i in from..from + 20 {
            server.sql(&src, &format!("INSERT INTO items (name) VALUES ('outage {i}'); UPDATE items SET price = {i} WHERE id = 1;"));
        }
    };
    let (down, my_ref) = (Duration::from_secs(8), &my);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            write(my_ref, 0)
        });
        pg.restart_after(down);
        writer.join().unwrap();
    });
    wait_until("the replica to catch up after its outage", Duration::from_secs(90), &mut [&mut a], || {
        pg.try_sql(&dr, &digest.replace("LENGTH", "char_length")).ok() == Some(my.sql(&src, digest))
    });
    assert!(a.log().contains("trying again"), "the outage was reported: {}", a.log());

    my.restart_after(Duration::from_secs(1));
    write(&my, 100);
    wait_until("the replica to catch up after the source's crash", Duration::from_secs(90), &mut [&mut a], || {
        pg.try_sql(&dr, &digest.replace("LENGTH", "char_length")).ok() == Some(my.sql(&src, digest))
    });
    assert_eq!(pg.sql(&dr, "SELECT price FROM items WHERE id = 1"), "119.00");
    assert_eq!(a.sigterm(), 0, "{}", a.log());
}

/// `replicate status` tells how long the source keeps the binlog a paused replica needs, raises
/// the alarm in the last part of the source's retention, and says when it is gone; replication
/// then refuses with the way out.
#[test]
fn status_warns_before_the_source_purges_the_log_a_paused_replica_needs() {
    let my = Server::start(Flavor::MariaDb);
    let src = my.create_database("repl_log_src");
    my.sql(&src, SCHEMA);
    let dr = my.create_database("repl_log_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), "")]);
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    tandem(&["--config", p(&cfg), "replicate", "pause", "dr"]).ok();
    assert_eq!(a.sigterm(), 0, "{}", a.log());
    // The needed binlog is the one being written: kept.
    let s = status(&cfg, "dr");
    assert_eq!((s["log"]["kept"].as_bool(), s["log"]["purge_after"].is_null(), s["log_at_risk"].as_bool()), (Some(true), true, Some(false)), "{s}");
    // The source moves on to a new binlog and keeps old ones an hour: no alarm yet.
    my.sql(&src, "SET GLOBAL binlog_expire_logs_seconds = 3600; INSERT INTO items (name) VALUES ('while paused'); FLUSH BINARY LOGS;");
    let s = status(&cfg, "dr");
    let purge = chrono::DateTime::parse_from_rfc3339(s["log"]["purge_after"].as_str().unwrap_or_else(|| panic!("{s}"))).unwrap();
    let left = (purge.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!((3500..=3600).contains(&left), "the binlog may go in {left} s: {s}");
    assert_eq!(s["log_at_risk"].as_bool(), Some(false), "{s}");
    // Ten minutes' retention: within the warning window.
    my.sql(&src, "SET GLOBAL binlog_expire_logs_seconds = 600");
    assert_eq!(status(&cfg, "dr")["log_at_risk"].as_bool(), Some(true));
    let text = tandem(&["--config", p(&cfg), "replicate", "status", "dr"]).ok().stdout;
    assert!(text.contains("resume replication before then"), "{text}");
    // A daemon keeping the (paused) replica raises the alarm: webhook and metrics.
    let hook = common::serve::Webhook::start();
    let served = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), &format!("replicate = true\n[serve]\nwebhook = \"{}\"\n", hook.url))]);
    let mut daemon = common::serve::Daemon::start(&served, &dir.path().join("daemon.log"));
    let site = |s: &serde_json::Value| s["sites"].as_array().and_then(|a| a.iter().find(|x| x["name"] == "dr").cloned()).unwrap_or_default();
    daemon.wait_for("the log alarm", Duration::from_secs(60), |s| site(s)["replication"]["status"]["log_at_risk"] == true);
    assert_eq!(daemon.metric("tandem_replication_log_at_risk", "site=\"dr\""), Some(1.0));
    let left = daemon.metric("tandem_replication_log_purge_seconds", "site=\"dr\"").unwrap_or(-1.0);
    assert!((1.0..=600.0).contains(&left), "{left}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !hook.events().iter().any(|e| e["event"] == "replication_log_at_risk") {
        assert!(std::time::Instant::now() < deadline, "no replication_log_at_risk webhook: {:?}\n{}", hook.events(), daemon.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(daemon.terminate(Duration::from_secs(30)), Some(0));
    // Purged: said so, and replication refuses with the way out.
    let first = my.sql(&src, "SHOW BINARY LOGS");
    let first = first.split_whitespace().next().unwrap();
    wait_until("the binlog to be purged", Duration::from_secs(30), &mut [], || {
        my.sql(&src, "FLUSH BINARY LOGS");
        let current = my.sql(&src, "SHOW MASTER STATUS");
        my.sql(&src, &format!("PURGE BINARY LOGS TO '{}'", current.split_whitespace().next().unwrap()));
        !my.sql(&src, "SHOW BINARY LOGS").contains(first)
    });
    let s = status(&cfg, "dr");
    assert_eq!((s["log"]["kept"].as_bool(), s["log_at_risk"].as_bool()), (Some(false), Some(true)), "{s}");
    let text = tandem(&["--config", p(&cfg), "replicate", "status", "dr"]).ok().stdout;
    assert!(text.contains("must be bootstrapped again"), "{text}");
    tandem(&["--config", p(&cfg), "replicate", "resume", "dr"]).ok();
    tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(2, "purged");
    assert_eq!(my.sql(&dr, "SELECT count(*) FROM items WHERE name = 'while paused'"), "0");
}

/// Scopes: a replica excluding some tables holds them empty and never gets their changes;
/// a scope that cuts a foreign key, or matches nothing, is refused with nothing written; a
/// scope changed after the bootstrap is refused until a rebootstrap.
#[test]
fn scopes_choose_the_tables_a_replica_holds() {
    let my = Server::shared(Flavor::MariaDb);
    let src = my.create_database("repl_scope_src");
    my.sql(
        &src,
        "CREATE TABLE orders (id INT PRIMARY KEY, who VARCHAR(20)); \
         CREATE TABLE order_lines (id INT PRIMARY KEY, order_id INT NOT NULL, FOREIGN KEY (order_id) REFERENCES orders (id)); \
         CREATE TABLE audit_log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(50)); \
         INSERT INTO orders VALUES (1, 'ann'); INSERT INTO order_lines VALUES (10, 1); INSERT INTO audit_log (what) VALUES ('first');",
    );
    let (dr, bad) = (my.create_database("repl_scope_dr"), my.create_database("repl_scope_bad"));
    let dir = tempfile::tempdir().unwrap();
    let sites = |dr_extra: &str| {
        replica_config(
            dir.path(),
            &my.url(&src),
            &[("dr", &my.url(&dr), dr_extra), ("cut", &my.url(&bad), "include = [\"order_lines\"]\n"), ("none", &my.url(&bad), "include = [\"nothing*\"]\n")],
        )
    };
    let cfg = sites("exclude = [\"AUDIT_*\"]\n");
    tandem(&["--config", p(&cfg), "replicate", "cut"]).fails_with(2, "table order_lines references table orders (foreign key");
    tandem(&["--config", p(&cfg), "replicate", "none"]).fails_with(2, "no table matches");
    assert_eq!(my.sql(&bad, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"), "0");

    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    my.sql(&src, "INSERT INTO audit_log (what) VALUES ('second'); INSERT INTO orders VALUES (2, 'bob'); INSERT INTO order_lines VALUES (20, 2);");
    wait_until("the orders", Duration::from_secs(60), &mut [&mut a], || my.sql(&dr, "SELECT count(*) FROM order_lines") == "2");
    assert_eq!(my.sql(&dr, "SELECT count(*) FROM audit_log"), "0", "the excluded table is there, empty");
    assert_eq!(my.sql(&dr, "SELECT GROUP_CONCAT(who ORDER BY id) FROM orders"), "ann,bob");
    assert_eq!(status(&cfg, "dr")["checkpoint"]["scope"]["exclude"][0], "AUDIT_*");
    assert_eq!(a.sigterm(), 0, "{}", a.log());

    let cfg = sites("");
    tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(5, "bootstrapped with the rows of every table but AUDIT_*");

    // A refreshed standby honours its scope too.
    let standby = my.create_database("repl_scope_standby");
    let cfg = replica_config(dir.path(), &my.url(&src), &[("std", &my.url(&standby), "exclude = [\"audit_log\"]\n")]);
    tandem(&["--config", p(&cfg), "backup", "primary"]).ok();
    tandem(&["--config", p(&cfg), "refresh", "std"]).ok();
    assert_eq!(my.sql(&standby, "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM order_lines)"), "0\t2");
}

#[test]
fn a_hive_metastore_replica_in_postgresql_maps_locations_as_rows_arrive_and_verifies_good() {
    let my = Server::shared(Flavor::MariaDb);
    let pg = Server::shared(Flavor::Postgres);
    let src = my.create_database("repl_hms");
    common::hms::generate(my, &src, "2.3", &["--sample", "retail", "--warehouse", "gs://lake-us/warehouse", "--external", "gs://lake-us/external"]);
    let dr = pg.create_database("repl_hms_dr");
    let dir = tempfile::tempdir().unwrap();
    let map = "gs://lake-us/=gs://lake-eu/";
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &pg.url(&dr), &format!("map-location = [\"{map}\"]\n"))]);
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    verify(&my.url(&src), &pg.url(&dr), map).unwrap();
    // The metastore moves tables, changes an owner and drops table parameters (one multi-row
    // delete on a two-column key), as ALTER TABLE does.
    let params_before = my.sql(&src, "SELECT count(*) FROM TABLE_PARAMS");
    my.sql(
        &src,
        "UPDATE SDS SET LOCATION = CONCAT(LOCATION, '_v2') ORDER BY SD_ID LIMIT 3; UPDATE TBLS SET OWNER = 'etl' ORDER BY TBL_ID LIMIT 1; \
         DELETE FROM TABLE_PARAMS ORDER BY TBL_ID, PARAM_KEY LIMIT 3;",
    );
    wait_until("the replica to verify good", Duration::from_secs(60), &mut [&mut a], || verify(&my.url(&src), &pg.url(&dr), map).is_ok());
    assert_eq!(pg.sql(&dr, "SELECT count(*) FROM \"SDS\" WHERE \"LOCATION\" LIKE 'gs://lake-us/%'"), "0", "every location is mapped");
    assert_eq!(pg.sql(&dr, "SELECT count(*) FROM \"SDS\" WHERE \"LOCATION\" LIKE 'gs://lake-eu/%\\_v2' ESCAPE '\\'"), "3");
    let params_after = my.sql(&src, "SELECT count(*) FROM TABLE_PARAMS");
    assert_eq!(params_before.parse::<u64>().unwrap(), params_after.parse::<u64>().unwrap() + 3, "the source lost 3 parameters");
    assert_eq!(pg.sql(&dr, "SELECT count(*) FROM \"TABLE_PARAMS\""), params_after, "so did the replica");

    // verify --replica while the source keeps changing: the replica is held at the source
    // snapshot's position, so both sides are read at one point and agree every time.
    let writing = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut i = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                my.sql(
                    &src,
                    &format!(
                        "UPDATE TBLS SET OWNER = 'writer{i}' ORDER BY TBL_ID LIMIT 2; UPDATE SDS SET LOCATION = 'gs://lake-us/w/{i}' ORDER BY SD_ID LIMIT 1;"
                    ),
                );
                i += 1;
            }
            i
        });
        let runs: Vec<_> =
            (0..3).map(|_| tandem(&["--json", "verify", "--source", &my.url(&src), "--target", &pg.url(&dr), "--map-location", map, "--replica"])).collect();
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
        for run in runs {
            assert_eq!(run.code, 0, "verify --replica under writes:\n{}\n{}\n{}", run.stdout, run.stderr, a.log());
            let report = run.json();
            assert!(report["equal"] == true && report["held_at"].as_str().is_some_and(|p| p.starts_with("binlog.")), "{report}");
        }
        assert!(writer.join().unwrap() > 3, "the source kept changing");
    });
    // Released: replication goes on.
    let owner = "SELECT string_agg(\"OWNER\", ',' ORDER BY \"TBL_ID\") FROM \"TBLS\"";
    wait_until("the replica to follow again", Duration::from_secs(60), &mut [&mut a], || {
        pg.sql(&dr, owner) == my.sql(&src, "SELECT GROUP_CONCAT(OWNER ORDER BY TBL_ID) FROM TBLS")
    });
    assert!(status(&cfg, "dr")["paused"].is_null(), "the hold was released");
    assert_eq!(a.sigterm(), 0, "{}", a.log());
}

#[test]
fn bad_sources_and_targets_are_refused_with_nothing_written() {
    let my = Server::shared(Flavor::MariaDb);
    let src = my.create_database("repl_bad_src");
    my.sql(&src, SCHEMA);
    let full = my.create_database("repl_bad_full");
    my.sql(&full, "CREATE TABLE keep (a INT); INSERT INTO keep VALUES (1);");
    let dir = tempfile::tempdir().unwrap();
    let write = |extra: &str| replica_config(dir.path(), &my.url(&src), &[("full", &my.url(&full), extra)]);
    let cfg = write("[sites.lonely]\ndb = \"mysql://root@127.0.0.1:1/x\"\n");
    // A database that is no replica is not overwritten.
    tandem(&["--config", p(&cfg), "replicate", "full"]).fails_with(5, "is no replica");
    assert_eq!(my.sql(&full, "SELECT a FROM keep"), "1");
    // A site without a source, an unknown site, no site.
    tandem(&["--config", p(&cfg), "replicate", "lonely"]).fails_with(2, "has no `source`");
    tandem(&["--config", p(&cfg), "replicate", "nowhere"]).fails_with(2, "nowhere");
    assert_ne!(tandem(&["--config", p(&cfg), "replicate"]).code, 0);
    // A source that logs statements, not rows (its own server: the setting is global): refused
    // before anything is written.
    let other = Server::start(Flavor::MariaDb);
    let osrc = other.create_database("repl_stmt_src");
    other.sql(&osrc, SCHEMA);
    let odr = other.create_database("repl_stmt_dr");
    write(&format!("[sites.stmt]\ndb = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"stmt\"\n", other.url(&osrc), other.url(&odr)));
    other.sql("mysql", "SET GLOBAL binlog_format = 'STATEMENT'");
    tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(2, "binlog_format = STATEMENT");
    assert_eq!(other.sql(&odr, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"), "0");
    other.kill();
    // A checkpoint that cannot be read.
    my.sql(&full, "CREATE TABLE tandem_replication (id INT PRIMARY KEY, checkpoint TEXT); INSERT INTO tandem_replication VALUES (1, '{not json');");
    tandem(&["--config", p(&cfg), "replicate", "full"]).fails_with(4, "checkpoint in database");
    tandem(&["--config", p(&cfg), "replicate", "status", "full"]).fails_with(4, "cannot be read");
}

#[test]
fn the_daemon_keeps_a_replica_streaming_reports_its_lag_and_stops_it_cleanly() {
    use common::serve::Daemon;
    let my = Server::shared(Flavor::MariaDb);
    let src = my.create_database("repl_serve_src");
    my.sql(&src, SCHEMA);
    let dr = my.create_database("repl_serve_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), "replicate = true\n")]);
    let mut daemon = Daemon::start(&cfg, &dir.path().join("daemon.log"));
    let site = |s: &serde_json::Value| s["sites"].as_array().and_then(|a| a.iter().find(|x| x["name"] == "dr").cloned()).unwrap_or_default();
    daemon.wait_for("replication to stream", Duration::from_secs(120), |s| site(s)["replication"]["status"]["state"] == "streaming");
    my.sql(&src, "INSERT INTO items (name) VALUES ('via the daemon')");
    let deadline = Instant::now() + Duration::from_secs(30);
    while my.sql(&dr, "SELECT count(*) FROM items WHERE name = 'via the daemon'") != "1" {
        assert!(Instant::now() < deadline, "the row never reached the replica:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(daemon.metric("tandem_replication_running", "site=\"dr\""), Some(1.0));
    let status = daemon.wait_for("the applied row in the status", Duration::from_secs(10), |s| site(s)["replication"]["status"]["rows"].as_u64() >= Some(1));
    assert!(site(&status)["replication"]["status"]["lag_seconds"].as_f64().is_some_and(|l| l < 60.0), "{status}");
    assert!(daemon.metric("tandem_replication_lag_seconds", "site=\"dr\"").is_some());
    // The heartbeat tandem writes at the source every second comes back through the stream:
    // the lag is its age, and it lives outside the replicated database.
    let beating = |s: &serde_json::Value| {
        let at = site(s)["replication"]["status"]["heartbeat_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        at.is_some_and(|at| (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_milliseconds() < 5_000)
    };
    let status = daemon.wait_for("a recent heartbeat", Duration::from_secs(15), beating);
    assert!(site(&status)["replication"]["status"]["lag_seconds"].as_f64().is_some_and(|l| l < 5.0), "{status}");
    // Another process reads the lag from the replica's checkpoint, where the newest heartbeat is
    // stored every few seconds.
    std::thread::sleep(Duration::from_secs(6));
    let cli = common::replica::status(&cfg, "dr");
    assert!(cli["lag_seconds"].as_f64().is_some_and(|l| l < 10.0), "{cli}");
    // Heartbeats keep the stored position recent too: the binlog moves on (another database of
    // the server, the heartbeats themselves) while the replicated tables do not, and the
    // checkpoint follows within seconds, not only at the idle minute.
    let before = checkpoint(&cfg, "dr").expect("checkpoint")["position"]["value"].clone();
    let elsewhere = my.create_database("repl_serve_other");
    my.sql(&elsewhere, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while checkpoint(&cfg, "dr").expect("checkpoint")["position"]["value"] == before {
        assert!(Instant::now() < deadline, "the stored position stayed at {before}:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(my.sql(&src, &format!("SELECT count(*) FROM tandem_heartbeat.heartbeat WHERE replica = 'tandem_primary_to_dr@{src}'")), "1");
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'tandem%heartbeat'";
    assert_eq!((my.sql(&src, tables), my.sql(&dr, tables)), ("0".into(), "0".into()), "no heartbeat table in the replicated database or the replica");
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log_text());
    // Stopped between transactions: the next run resumes from the checkpoint.
    assert!(checkpoint(&cfg, "dr").is_some_and(|c| c["stopped"].is_null()));
}

#[test]
fn the_kill_switch_holds_a_replica_durably_and_resume_catches_up() {
    let my = Server::shared(Flavor::MariaDb);
    let src = my.create_database("repl_pause_src");
    my.sql(&src, SCHEMA);
    let dr = my.create_database("repl_pause_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &my.url(&src), &[("dr", &my.url(&dr), "")]);
    tandem(&["--config", p(&cfg), "replicate", "pause", "dr"]).fails_with(2, "is no replica");
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || checkpoint(&cfg, "dr").is_some());
    let count = |db: &str| my.sql(db, "SELECT count(*) FROM items");
    tandem(&["--config", p(&cfg), "replicate", "pause", "dr", "--reason", "drill"]).ok();
    assert_eq!(status(&cfg, "dr")["paused"]["paused"], "drill");
    std::thread::sleep(Duration::from_millis(1500));
    my.sql(&src, "INSERT INTO items (name) VALUES ('while paused')");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(&dr), "2", "nothing is applied while paused");
    // Durable: a restart stays paused.
    a.kill9();
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    std::thread::sleep(Duration::from_secs(3));
    a.check_running();
    assert_eq!(count(&dr), "2", "a restarted replication stays paused");
    assert!(a.log().contains("paused: drill"), "the run says it is paused: {}", a.log());
    tandem(&["--config", p(&cfg), "replicate", "resume", "dr"]).ok();
    wait_until("the replica to catch up after resume", Duration::from_secs(30), &mut [&mut a], || count(&dr) == "3");
    assert!(status(&cfg, "dr")["paused"].is_null());
    // A hold (verify --replica) not renewed for over a minute is ignored: its verify died.
    let position = checkpoint(&cfg, "dr").unwrap()["position"].clone();
    let stale = serde_json::json!({"paused": "held for verify", "at": (chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339(), "until": position});
    my.sql(&dr, &format!("INSERT INTO tandem_replication VALUES (2, '{stale}')"));
    my.sql(&src, "INSERT INTO items (name) VALUES ('past a stale hold')");
    wait_until("the replica to go past a stale hold", Duration::from_secs(30), &mut [&mut a], || count(&dr) == "4");
    assert!(status(&cfg, "dr")["paused"].is_null(), "a stale hold is no pause");
    assert_eq!(a.sigterm(), 0, "{}", a.log());
}

/// Two MariaDB sites streaming into each other after a failback: what tandem applies, and the
/// bootstrap it restores (its swap), are logged with a server id named after the replication
/// they belong to, and each binlog reader skips what its own replica wrote into its source:
/// writes on either side reach the other once, nothing comes back.
#[test]
fn two_mariadb_sites_replicating_into_each_other_echo_nothing() {
    let my = Server::shared(Flavor::MariaDb);
    let (a, b) = (my.create_database("repl_a"), my.create_database("repl_b"));
    my.sql(&a, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a1'), (2, 'a2');");
    let dir = tempfile::tempdir().unwrap();
    let rows = "SELECT GROUP_CONCAT(CONCAT(id, '=', v) ORDER BY id) FROM t";
    // b streams on while a is bootstrapped from it: the bootstrap's swap is skipped too.
    two_sites_echo_nothing(my, (&a, &b), "", rows, false, dir.path());
}

#[test]
fn a_source_that_refuses_the_heartbeat_is_still_replicated_with_lag_from_commit_times() {
    let my = Server::shared(Flavor::MariaDb);
    let src = my.create_database("repl_nobeat_src");
    my.sql(&src, SCHEMA);
    let dr = my.create_database("repl_nobeat_dr");
    // May read and stream, not create or write anything.
    let user = format!("nobeat{}", std::process::id());
    my.sql(&src, &format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, RELOAD, LOCK TABLES, SHOW VIEW, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '{user}'@'%'"));
    let source = format!("mysql://{user}:pw@127.0.0.1:{}/{src}", my.port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &source, &[("dr", &my.url(&dr), "")]);
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || bootstrapped(&cfg, "dr"));
    my.sql(&src, "INSERT INTO items (name) VALUES ('without heartbeats')");
    wait_until("the row", Duration::from_secs(30), &mut [&mut a], || my.sql(&dr, "SELECT count(*) FROM items WHERE name = 'without heartbeats'") == "1");
    assert_eq!(a.sigterm(), 0, "{}", a.log());
    let log = a.log();
    assert!(log.contains("no heartbeat at the source") && log.contains(&user), "the refusal is said once, naming why:\n{log}");
    assert_eq!(log.matches("no heartbeat at the source").count(), 1, "{log}");
    assert!(!log.contains("(heartbeat of"), "{log}");
}
