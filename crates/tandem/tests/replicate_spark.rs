//! `tandem replicate` proven with a real client: Spark (PySpark 4.0, Hive 2.3 metastore client)
//! keeps creating tables and partitions in a MariaDB (binlog) or PostgreSQL (pgoutput) metastore
//! while two `tandem replicate` processes stream its changes into a MariaDB replica and a
//! PostgreSQL replica (the one of the other engine with a location map). Every look at either replica (one SQL statement, one snapshot) finds one whole earlier
//! state of the writer, never going back; both reach its final state within seconds of its exit,
//! verify GOOD against the source, Spark reads exactly that state on each, and SIGTERM stops
//! both cleanly. From the PostgreSQL metastore, a switchover to its PostgreSQL replica while Spark
//! writes loses no table Spark saw created, refuses Spark at the old primary, and Spark writes
//! at the new one.

mod common;

use std::io::{BufRead, Read};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::replica::*;
use common::spark::{copy_tree, writer_steps, Metastore};
use common::*;

/// `(k, m)` of the writer in a metastore, read in ONE statement (one snapshot), asserted whole:
/// tables `t_1..t_k` and partitions `batch=1..m` without gaps, m = k or k−1.
fn look(server: &Server, db: &str) -> (u64, u64) {
    let (sql, int) = (
        r#"WITH t AS (SELECT t."TBL_ID", t."TBL_NAME" FROM "TBLS" t JOIN "DBS" d ON d."DB_ID" = t."DB_ID" WHERE d."NAME" = 'writer'),
                p AS (SELECT p."PART_NAME" FROM "PARTITIONS" p JOIN t ON t."TBL_ID" = p."TBL_ID" WHERE t."TBL_NAME" = 'log')
           SELECT (SELECT COUNT(*) FROM t WHERE t."TBL_NAME" LIKE 't\_%'),
                  (SELECT COALESCE(MAX(CAST(SUBSTRING(t."TBL_NAME", 3) AS INT_TYPE)), 0) FROM t WHERE t."TBL_NAME" LIKE 't\_%'),
                  (SELECT COUNT(*) FROM p), (SELECT COALESCE(MAX(CAST(SUBSTRING(p."PART_NAME", 7) AS INT_TYPE)), 0) FROM p)"#,
        match server.flavor() {
            Flavor::MariaDb => "UNSIGNED",
            Flavor::Postgres => "BIGINT",
        },
    );
    let sql = sql.replace("INT_TYPE", int);
    let sql = if server.flavor() == Flavor::MariaDb { sql.replace('"', "`") } else { sql };
    let v: Vec<u64> = server.sql(db, &sql).split_whitespace().map(|x| x.parse().unwrap()).collect();
    let (k, kmax, m, mmax) = (v[0], v[1], v[2], v[3]);
    assert!(k == kmax && m == mmax, "{db} has gaps: {k} tables up to t_{kmax}, {m} partitions up to batch={mmax}");
    assert!(m == k || m + 1 == k, "{db} holds half a step: k={k} m={m}");
    (k, m)
}

fn epoch() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
fn spark_writes_a_mariadb_metastore_and_mariadb_and_postgres_replicas_follow_it_whole() {
    follow(Flavor::MariaDb);
}

#[test]
fn spark_writes_a_postgres_metastore_and_mariadb_and_postgres_replicas_follow_it_whole() {
    follow(Flavor::Postgres);
}

/// Spark writes a metastore on `source`; the replica on the other engine maps locations.
fn follow(source: Flavor) {
    let (src_server, my, pg) = (Server::start(source), Server::start(Flavor::MariaDb), Server::start(Flavor::Postgres));
    let pg_mapped = source == Flavor::MariaDb;
    let work = tempfile::tempdir().unwrap();
    let (us, eu) = (work.path().join("lake-us"), work.path().join("lake-eu"));
    let src = Metastore::new(&src_server, &src_server.create_database("hms_src"), &us.join("warehouse"));
    src.create_schema();
    // A first Spark write makes DataNucleus create its SEQUENCE_TABLE (SchemaTool does not, Hive's
    // schema scripts do): DDL, which would stop replication. It is done before the bootstrap.
    let warm = src.spawn("writer", &["--duration", "0", "--metadata-only"]).wait_with_output().unwrap();
    assert!(warm.status.success(), "{}", String::from_utf8_lossy(&warm.stderr));
    let (my_db, pg_db) = (my.create_database("hms_my"), pg.create_database("hms_pg"));
    let map = format!("file:{}=file:{}", us.display(), eu.display());
    let (src_url, my_url, pg_url) = (src_server.url(&src.db), my.url(&my_db), pg.url(&pg_db));
    let mapped = format!("map-location = [\"{map}\"]\n");
    let (my_extra, pg_extra) = if pg_mapped { ("", mapped.as_str()) } else { (mapped.as_str(), "") };
    let cfg = replica_config(work.path(), &src_url, &[("dr_my", &my_url, my_extra), ("dr_pg", &pg_url, pg_extra)]);
    let mut a = Replica::start(&cfg, "dr_my", &[], work.path());
    let mut b = Replica::start(&cfg, "dr_pg", &[], work.path());
    wait_until("both bootstraps", Duration::from_secs(120), &mut [&mut a, &mut b], || bootstrapped(&cfg, "dr_my") && bootstrapped(&cfg, "dr_pg"));

    let mut writer = src.spawn("writer", &["--duration", "30", "--metadata-only"]);
    let (stdout, mut stderr) = (writer.stdout.take().unwrap(), writer.stderr.take().unwrap());
    let lines = std::thread::spawn(move || {
        std::io::BufReader::new(stdout).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok()).collect::<Vec<_>>()
    });
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let exit = std::thread::spawn(move || (writer.wait().unwrap(), Instant::now()));

    // While Spark writes: each replica always holds one whole step, moving forward.
    let replicas = [(&my, &my_db), (&pg, &pg_db)];
    let mut seen: Vec<Vec<(u64, u64)>> = replicas.iter().map(|(s, d)| vec![look(s, d)]).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !exit.is_finished() {
        for (states, (server, db)) in seen.iter_mut().zip(replicas) {
            let (now, last) = (look(server, db), *states.last().unwrap());
            assert!(now.0 >= last.0 && now.1 >= last.1, "{db} went back: {states:?} then {now:?}");
            if now != last {
                states.push(now);
            }
        }
        a.check_running();
        b.check_running();
        assert!(Instant::now() < deadline, "the writer did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, exited) = exit.join().unwrap();
    let lines = lines.join().unwrap();
    let last = lines.last().cloned().unwrap_or_default();
    assert!(status.success(), "writer failed: {last}\n{}", errors.join().unwrap());
    let total = last["iterations"].as_u64().unwrap();
    let last_commit = lines.iter().rev().find_map(|l| l["table"].is_string().then(|| l["at"].as_f64()).flatten()).unwrap();
    for (states, (_, db)) in seen.iter().zip(replicas) {
        assert!(states.len() >= 3, "{db} followed the writer through at least 3 states: {states:?} ({total} steps)");
    }

    // Caught up: both replicas reach the final state soon after the writer exits (measured by
    // polling, so to within one look).
    let mut caught: [Option<(Duration, f64)>; 2] = [None, None];
    while caught.iter().any(Option::is_none) {
        for (c, (server, db)) in caught.iter_mut().zip(replicas) {
            if c.is_none() && look(server, db) == (total, total) {
                *c = Some((exited.elapsed(), epoch() - last_commit));
            }
        }
        let late = exited.elapsed() > Duration::from_secs(10) && caught.iter().any(Option::is_none);
        assert!(!late, "not caught up 10 s after the writer exited ({total} steps): {caught:?}\n{}\n----\n{}", a.log(), b.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let [(my_exit, my_commit), (pg_exit, pg_commit)] = caught.map(Option::unwrap);
    println!(
        "{total} steps; states seen: dr_my {}, dr_pg {}; caught up after the writer exited: dr_my {:.3} s, dr_pg {:.3} s \
         (after its last commit: dr_my {my_commit:.3} s, dr_pg {pg_commit:.3} s)",
        seen[0].len(),
        seen[1].len(),
        my_exit.as_secs_f64(),
        pg_exit.as_secs_f64()
    );

    // Equal to the source, object by object; Spark reads exactly the final state on each.
    let verify = |target: &str, extra: &[&str]| {
        let run = tandem(&[&["--json", "verify", "--source", &src_url, "--target", target], extra].concat());
        assert_eq!(run.code, 0, "{target} verifies equal:\n{}\n{}", run.stdout, run.stderr);
        let report = run.json();
        let kinds = report["kinds"].as_array().unwrap();
        assert!(kinds.iter().all(|k| k["bad"] == 0 && k["only_in_source"] == 0 && k["only_in_target"] == 0), "every object GOOD: {report}");
        let good = |kind: &str| kinds.iter().find(|k| k["kind"] == kind).and_then(|k| k["good"].as_u64());
        assert_eq!((good("tables"), good("partitions")), (Some(total + 1), Some(total)), "{report}");
    };
    let with_map = ["--map-location", map.as_str()];
    let (my_args, pg_args): (&[&str], &[&str]) = if pg_mapped { (&[], &with_map) } else { (&with_map, &[]) };
    verify(&my_url, my_args);
    verify(&pg_url, pg_args);
    let (mapped_server, mapped_db) = if pg_mapped { (&pg, &pg_db) } else { (&my, &my_db) };
    let unmapped = format!("SELECT count(*) FROM \"SDS\" WHERE \"LOCATION\" LIKE 'file:{}%'", us.display());
    let unmapped = if pg_mapped { unmapped } else { unmapped.replace('"', "`") };
    assert_eq!(mapped_server.sql(mapped_db, &unmapped), "0", "every location of the mapped replica is mapped");
    copy_tree(&us, &eu);
    let (my_lake, pg_lake) = if pg_mapped { (&us, &eu) } else { (&eu, &us) };
    for (server, db, lake) in [(&my, &my_db, my_lake), (&pg, &pg_db, pg_lake)] {
        let copy = Metastore::new(server, db, &lake.join("warehouse")).run("read", &["--no-details"]);
        assert_eq!(writer_steps(&copy), (total, total), "Spark reads the final state on {db}");
    }
    assert_eq!(a.sigterm(), 0, "SIGTERM stops dr_my cleanly: {}", a.log());
    if source == Flavor::Postgres {
        return switch_over_under_spark(&src, &cfg, (&pg, &pg_db), &us, b);
    }
    assert_eq!(b.sigterm(), 0, "SIGTERM stops dr_pg cleanly: {}", b.log());
}

/// A switchover from the PostgreSQL metastore to its replica while Spark keeps writing: every
/// table Spark saw created is at the new primary (RPO 0), Spark's next writes to the old one are
/// refused, and Spark creates a table at the new one. The old primary became the new one's
/// replica without a copy (`--reverse`): it follows Spark's writes there, and a switchover back
/// (the failback) makes it active again with all of them, where Spark writes once more.
fn switch_over_under_spark(src: &Metastore, cfg: &std::path::Path, (pg, pg_db): (&Server, &str), lake: &std::path::Path, mut replica: Replica) {
    let writer = src.spawn("writer", &["--duration", "60", "--metadata-only", "--interval", "0.2"]);
    std::thread::sleep(Duration::from_secs(20)); // Spark starts, then writes
    let moved = tandem(&["--config", p(cfg), "switchover", "--to", "dr_pg", "--reverse"]).ok();
    eprintln!("switchover under Spark:\n{}", moved.stdout);
    assert!(moved.stdout.contains("switched over from primary to dr_pg at epoch 1: RPO 0"), "{}", moved.stdout);
    assert!(moved.stdout.contains("primary is a standby of dr_pg streaming from"), "{}", moved.stdout);
    let out = writer.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "Spark's writes to the fenced primary are refused:\n{stdout}\n{stderr}");
    let created: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| l["table"].as_str().map(|t| t.trim_start_matches("writer.").to_string()))
        .collect();
    assert!(!created.is_empty(), "Spark wrote before the switchover:\n{stdout}");
    let at_dr = pg.sql(pg_db, r#"SELECT string_agg("TBL_NAME", ',' ORDER BY "TBL_NAME") FROM "TBLS" WHERE "TBL_NAME" LIKE 't\_%'"#);
    for t in &created {
        assert!(at_dr.split(',').any(|x| x == t), "{t}, committed at the primary, is at dr_pg: {at_dr}");
    }
    // Nothing streams from the old primary any more (what it gets from dr_pg carries dr_pg's mark).
    replica.sigterm();
    let new = Metastore::new(pg, pg_db, &lake.join("warehouse")).spawn("writer", &["--duration", "1", "--metadata-only"]).wait_with_output().unwrap();
    assert!(new.status.success(), "Spark writes at the new primary: {}", String::from_utf8_lossy(&new.stderr));
    let tables = r#"SELECT count(*) FROM "TBLS" WHERE "TBL_NAME" LIKE 't\_%'"#;
    let after = pg.sql(pg_db, tables);
    assert!(after.parse::<usize>().unwrap() > created.len(), "a new table at dr_pg: {after} tables, {} before", created.len());

    // Failback: the old primary, dr_pg's replica since the switchover, follows it, then takes over.
    let dir = cfg.parent().unwrap();
    let flipped = dir.join("failback.toml");
    let text = format!(
        "repo = \"{}\"\n[sites.dr_pg]\ndb = \"{}\"\n[sites.primary]\ndb = \"{}\"\nsource = \"dr_pg\"\n",
        p(&dir.join("repo")),
        pg.url(pg_db),
        src.server.url(&src.db)
    );
    std::fs::write(&flipped, text).unwrap();
    let mut back = Replica::start(&flipped, "primary", &[], dir);
    wait_until("the old primary to follow dr_pg", Duration::from_secs(60), &mut [&mut back], || src.server.sql(&src.db, tables) == after);
    assert!(!back.log().contains("bootstrapping"), "the old primary follows without a copy: {}", back.log());
    let moved = tandem(&["--config", p(&flipped), "switchover", "--to", "primary"]).ok();
    eprintln!("failback:\n{}", moved.stdout);
    assert!(moved.stdout.contains("switched over from dr_pg to primary at epoch 2: RPO 0"), "{}", moved.stdout);
    back.sigterm();
    let again = src.spawn("writer", &["--duration", "1", "--metadata-only"]).wait_with_output().unwrap();
    assert!(again.status.success(), "Spark writes at the primary after the failback: {}", String::from_utf8_lossy(&again.stderr));
    let home = src.server.sql(&src.db, tables);
    assert!(home.parse::<usize>().unwrap() > after.parse::<usize>().unwrap(), "a new table at the primary: {home} tables, {after} before");
}
