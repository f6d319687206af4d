//! `tandem replicate` from a PostgreSQL source (pgoutput through tandem's slot) into a
//! PostgreSQL and a MariaDB replica, through the real binary: every kind of change, unchanged
//! TOASTed values, TRUNCATE, kill -9, a schema change, slot hygiene and refused sources.

mod common;

use std::time::Duration;

use common::replica::*;
use common::*;

const SCHEMA: &str = "
CREATE TABLE items (
  id SERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  location VARCHAR(200),
  price NUMERIC(10,2),
  created TIMESTAMP(3),
  happened TIMESTAMPTZ,
  day DATE,
  big BIGINT,
  ratio REAL,
  score DOUBLE PRECISION,
  payload BYTEA,
  doc TEXT
);
CREATE TABLE loose (a INT, b VARCHAR(10));
ALTER TABLE loose REPLICA IDENTITY FULL;
INSERT INTO items (name, location, price, created, happened, day, big, ratio, score, payload) VALUES
  ('first', 'hdfs://nn/warehouse/first', 1.50, '2024-01-02 03:04:05.678', '2024-01-02 03:04:05.123456+00', '2024-01-02',
   9223372036854775807, 0.25, 1e-7, '\\x00ff0a09'),
  ('second', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO loose VALUES (1, 'a'), (1, 'a'), (2, NULL);
";

/// The replicated rows of a PostgreSQL database as one comparable text (the doc by digest).
fn pg_rows(server: &Server, db: &str) -> String {
    server.sql(
        db,
        "SELECT string_agg(concat_ws('|', id, name, location, price, created, happened, day, big, ratio, score, encode(payload, 'hex'), md5(doc)), E'\\n' ORDER BY id) FROM items;
         SELECT string_agg(a || ':' || coalesce(b, '-'), ',' ORDER BY a, b) FROM loose",
    )
}

/// The same rows of a MariaDB replica, spelled as PostgreSQL spells them where the test needs it.
fn my_digest(server: &Server, db: &str) -> String {
    server.sql(db, "SELECT GROUP_CONCAT(CONCAT_WS('|', id, name, COALESCE(price, '-'), COALESCE(MD5(doc), '-')) ORDER BY id SEPARATOR '\\n') FROM items")
}

fn pg_digest(server: &Server, db: &str) -> String {
    server.sql(db, "SELECT string_agg(concat_ws('|', id, name, coalesce(price::text, '-'), coalesce(md5(doc), '-')), E'\\n' ORDER BY id) FROM items")
}

/// `tandem`'s slots on the server.
fn slots(pg: &Server) -> String {
    pg.sql("postgres", "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'tandem%'")
}

#[test]
fn replicas_follow_a_postgres_source_across_engines_resume_after_kill_9_and_stop_at_ddl() {
    let pg = Server::start(Flavor::Postgres);
    let my = Server::shared(Flavor::MariaDb);
    let src = pg.create_database("pgrepl_src");
    pg.sql(&src, SCHEMA);
    let dr = pg.create_database("pgrepl_dr");
    let drmy = my.create_database("pgrepl_my");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &pg.url(&src), &[("dr", &pg.url(&dr), ""), ("drmy", &my.url(&drmy), "")]);

    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    let mut b = Replica::start(&cfg, "drmy", &[], dir.path());
    wait_until("both bootstraps", Duration::from_secs(120), &mut [&mut a, &mut b], || bootstrapped(&cfg, "dr") && bootstrapped(&cfg, "drmy"));
    assert_eq!(slots(&pg), "tandem_dr,tandem_drmy", "one slot per replica, named after it");
    assert_eq!(pg_rows(&pg, &dr), pg_rows(&pg, &src), "the bootstrap copied the source");

    // Changes of every kind, one transaction of several statements, a value stored out of line
    // (TOAST) that a later update of another column leaves unchanged, and a TRUNCATE.
    pg.sql(
        &src,
        "INSERT INTO items (name, location, price, created, happened, big, ratio, score, payload, doc)
           VALUES ('third', 'hdfs://nn/warehouse/third', 99999998.99, '1999-12-31 23:59:59.999', '2038-01-19 03:14:07.5+00', 0, -1.5, 2.5e300, '\\x',
                   (SELECT string_agg(md5(i::text || random()::text), '') FROM generate_series(1, 2000) i));
         UPDATE items SET name = 'First', location = 'hdfs://nn/warehouse/moved' WHERE id = 1;
         BEGIN; DELETE FROM items WHERE id = 2; INSERT INTO items (id, name) VALUES (2, 'again'); UPDATE items SET price = price + 1; COMMIT;
         UPDATE items SET price = 7 WHERE id = 3;
         DELETE FROM loose WHERE a = 2; INSERT INTO loose VALUES (3, E'tab\\there');
         UPDATE loose SET b = 'z' WHERE a = 3;",
    );
    assert_eq!(pg.sql(&src, "SELECT length(doc) > 60000, pg_column_size(doc) < length(doc) OR pg_column_size(doc) > 2000 FROM items WHERE id = 3"), "t\tt");
    wait_until("the PostgreSQL replica to catch up", Duration::from_secs(60), &mut [&mut a, &mut b], || pg_rows(&pg, &dr) == pg_rows(&pg, &src));
    wait_until("the MariaDB replica to catch up", Duration::from_secs(60), &mut [&mut a, &mut b], || my_digest(my, &drmy) == pg_digest(&pg, &src));
    assert!(pg_digest(&pg, &src).contains("3|third|7.00|"), "the TOASTed doc survived the update of price: {}", pg_digest(&pg, &src));
    pg.sql(&src, "TRUNCATE loose");
    wait_until("the TRUNCATE", Duration::from_secs(60), &mut [&mut a, &mut b], || {
        pg.sql(&dr, "SELECT count(*) FROM loose") == "0" && my.sql(&drmy, "SELECT count(*) FROM loose") == "0"
    });
    // The heartbeats tandem logs at the source (messages: no table there) come back through
    // each stream, and the lag printed is their age.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(a.log().contains("(heartbeat of") && b.log().contains("(heartbeat of")) {
        assert!(std::time::Instant::now() < deadline, "no heartbeat in the status:\n{}\n{}", a.log(), b.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(pg.sql(&src, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'tandem%'"), "0", "no table of tandem's at the source");

    // A writer keeps going while the PostgreSQL replica is killed at random moments.
    kill_9_under_writer(&mut a, (&cfg, "dr", dir.path()), kills(4), |i| {
        pg.sql(
            &src,
            &format!(
                "BEGIN; INSERT INTO items (name, location, price) VALUES ('w{i}', 'hdfs://nn/w/{i}', {i}); \
                 UPDATE items SET score = {i} WHERE id = 1; DELETE FROM items WHERE name = 'w{}'; COMMIT;",
                i.saturating_sub(5)
            ),
        );
    });
    wait_until("the PostgreSQL replica to catch up after kill -9", Duration::from_secs(90), &mut [&mut a, &mut b], || pg_rows(&pg, &dr) == pg_rows(&pg, &src));
    wait_until("the MariaDB replica to catch up", Duration::from_secs(90), &mut [&mut a, &mut b], || my_digest(my, &drmy) == pg_digest(&pg, &src));

    // The slot keeps only what the replica has not applied: its confirmed position follows.
    let s = status(&cfg, "dr");
    assert!(s["log"]["kept"].as_bool() == Some(true) && s["log"]["retained_bytes"].as_u64().is_some(), "{s}");
    let applied = s["checkpoint"]["position"]["value"].as_str().unwrap().to_string();
    let confirmed = format!("SELECT confirmed_flush_lsn >= '{applied}' FROM pg_replication_slots WHERE slot_name = 'tandem_dr'");
    wait_until("the slot to be told what the replica applied", Duration::from_secs(10), &mut [&mut a, &mut b], || pg.sql("postgres", &confirmed) == "t");

    // A schema change stops both replicas at the table's next change, naming the new column.
    pg.sql(&src, "ALTER TABLE items ADD COLUMN extra INT; INSERT INTO items (name, extra) VALUES ('after', 1);");
    assert_eq!(a.wait(Duration::from_secs(30)), 5, "{}", a.log());
    assert!(a.log().contains("extra") && a.log().contains("--rebootstrap"), "{}", a.log());
    assert_eq!(b.wait(Duration::from_secs(30)), 5, "{}", b.log());
    assert!(status(&cfg, "dr")["checkpoint"]["stopped"].as_str().unwrap().contains("extra"));

    // --rebootstrap makes the slot anew and streams on.
    let mut a = Replica::start(&cfg, "dr", &["--rebootstrap"], dir.path());
    pg.sql(&src, "UPDATE items SET extra = 7 WHERE name = 'after'");
    wait_until("the rebootstrapped replica", Duration::from_secs(90), &mut [&mut a], || {
        pg.try_sql(&dr, "SELECT extra FROM items WHERE name = 'after'").ok().as_deref() == Some("7")
    });
    assert_eq!(a.sigterm(), 0, "SIGTERM stops cleanly: {}", a.log());

    // `replicate drop` removes slot and publication; the replica then says how to go on.
    let dropped = tandem(&["--config", p(&cfg), "replicate", "drop", "dr"]).ok();
    assert!(dropped.stdout.contains("replication slot tandem_dr") && dropped.stdout.contains("publication tandem_dr"), "{}", dropped.stdout);
    assert_eq!(slots(&pg), "tandem_drmy");
    assert_eq!(pg.sql(&src, "SELECT count(*) FROM pg_publication WHERE pubname = 'tandem_dr'"), "0");
    let run = tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(2, "does not exist");
    assert!(run.stderr.contains("--rebootstrap"), "{}", run.stderr);
    tandem(&["--config", p(&cfg), "replicate", "drop", "drmy"]).ok();
    assert_eq!(slots(&pg), "");
}

/// Sources tandem cannot stream from are refused before anything is made on them or written
/// into the replica: a table without a key (its updates would fail at the source once
/// published), a user without the REPLICATION attribute, a publication that does not exist.
#[test]
fn a_postgres_source_that_cannot_be_streamed_is_refused_with_nothing_made() {
    let pg = Server::shared(Flavor::Postgres);
    let src = pg.create_database("pgrepl_bad_src");
    pg.sql(&src, "CREATE TABLE keyed (id INT PRIMARY KEY); CREATE TABLE bare (a INT); INSERT INTO bare VALUES (1);");
    let dr = pg.create_database("pgrepl_bad_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &pg.url(&src), &[("bad1", &pg.url(&dr), ""), ("bad2", &pg.url(&dr), "publication = \"nope\"\n")]);
    let run = tandem(&["--config", p(&cfg), "replicate", "bad1"]).fails_with(2, "no primary key");
    assert!(run.stderr.contains("bare") && run.stderr.contains("REPLICA IDENTITY FULL"), "{}", run.stderr);
    assert_eq!(pg.sql(&src, "SELECT count(*) FROM pg_publication"), "0", "no publication was made");
    assert!(!slots(pg).contains("tandem_bad1"), "no slot was made");
    assert_eq!(pg.sql(&dr, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0", "the replica was not touched");
    pg.sql(&src, "UPDATE bare SET a = 2");
    tandem(&["--config", p(&cfg), "replicate", "bad2"]).fails_with(2, "publication nope does not exist");

    // Out of the scope, the bare table is no obstacle; a user without REPLICATION is.
    pg.sql("postgres", &format!("DROP ROLE IF EXISTS norepl; CREATE ROLE norepl LOGIN PASSWORD 'pw'; GRANT ALL ON DATABASE \"{src}\" TO norepl;"));
    let url = pg.url(&src).replacen(&format!("{}:{}", tandem_testkit::USER, tandem_testkit::PASSWORD), "norepl:pw", 1);
    let cfg = replica_config(dir.path(), &url, &[("bad3", &pg.url(&dr), "exclude = [\"bare\"]\n")]);
    tandem(&["--config", p(&cfg), "replicate", "bad3"]).fails_with(2, "REPLICATION");
    assert!(!slots(pg).contains("tandem_bad3"));

    // A replica whose user may not set replication origins (no superuser) is still bootstrapped
    // and streamed into; its writes carry no mark, and it says so.
    let ok = pg.create_database("pgrepl_ok_dr");
    pg.sql("postgres", &format!("DROP ROLE IF EXISTS plain_owner; CREATE ROLE plain_owner LOGIN PASSWORD 'pw'; ALTER DATABASE \"{ok}\" OWNER TO plain_owner;"));
    let ok_url = pg.url(&ok).replacen(&format!("{}:{}", tandem_testkit::USER, tandem_testkit::PASSWORD), "plain_owner:pw", 1);
    let cfg = replica_config(dir.path(), &pg.url(&src), &[("ok", &ok_url, "exclude = [\"bare\"]\n")]);
    let mut r = Replica::start(&cfg, "ok", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(60), &mut [&mut r], || bootstrapped(&cfg, "ok"));
    pg.sql(&src, "INSERT INTO keyed VALUES (42)");
    wait_until("the insert", Duration::from_secs(30), &mut [&mut r], || pg.sql(&ok, "SELECT count(*) FROM keyed WHERE id = 42") == "1");
    assert!(r.log().contains("carry no replication origin"), "{}", r.log());

    // A table dropped and made again at the source is no longer in tandem's publication: the
    // replica refuses to go on instead of missing its changes.
    assert_eq!(r.sigterm(), 0, "{}", r.log());
    pg.sql(&src, "DROP TABLE keyed; CREATE TABLE keyed (id INT PRIMARY KEY); INSERT INTO keyed VALUES (1);");
    let run = tandem(&["--config", p(&cfg), "replicate", "ok"]).fails_with(2, "does not publish public.keyed");
    assert!(run.stderr.contains("--rebootstrap"), "{}", run.stderr);
    tandem(&["--config", p(&cfg), "replicate", "drop", "ok"]).ok();
}

/// One source transaction of 1 000 000 rows reaches the replica whole: killed while applying
/// it, the replica shows none of it, and the restarted replica applies it exactly once with
/// its peak memory far below the transaction's size (PostgreSQL decodes it after its commit;
/// tandem takes it in parts).
#[test]
fn a_million_row_postgres_transaction_is_applied_whole_once_with_flat_memory() {
    let pg = Server::shared(Flavor::Postgres);
    let src = pg.create_database("pgrepl_huge_src");
    pg.sql(&src, "CREATE TABLE big (id INT PRIMARY KEY, pad TEXT NOT NULL); INSERT INTO big VALUES (0, 'seed');");
    let dr = pg.create_database("pgrepl_huge_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &pg.url(&src), &[("huge", &pg.url(&dr), "")]);
    let mut a = Replica::start(&cfg, "huge", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(120), &mut [&mut a], || bootstrapped(&cfg, "huge"));
    let huge = Huge {
        source: (pg, &src),
        replica: (pg, &dr),
        digest: "SELECT count(*), COALESCE(sum(hashtext(id || pad)::int8), 0) FROM big",
        insert: "INSERT INTO big SELECT i, repeat(chr(65 + i % 26), 100) FROM generate_series(1, 1000000) i",
        kill_after: Duration::from_secs(4),
        peak_limit_mib: 120.0,
    };
    huge_transaction_is_applied_whole_once(&cfg, "huge", dir.path(), a, huge);
    tandem(&["--config", p(&cfg), "replicate", "drop", "huge"]).ok();
}

/// After a failback the old primary replicates from the new one while the new one still
/// replicates from it: two sites streaming into each other. What tandem applies (and the
/// bootstrap it restores) carries a replication origin named after where it came from, and a
/// stream skips what came from its own replica: writes on either side reach the other once,
/// nothing comes back (an echo would be a duplicate key and stop replication).
#[test]
fn two_postgres_sites_replicating_into_each_other_echo_nothing() {
    let pg = Server::shared(Flavor::Postgres);
    let (a, b) = (pg.create_database("pgrepl_a"), pg.create_database("pgrepl_b"));
    pg.sql(&a, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a1'), (2, 'a2'); CREATE PUBLICATION everything FOR ALL TABLES;");
    pg.sql(&b, "CREATE PUBLICATION everything FOR ALL TABLES;");
    let dir = tempfile::tempdir().unwrap();
    let rows = "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM t";
    // b is stopped while a is bootstrapped from it: the bootstrap recreates a's tables.
    let cfg = two_sites_echo_nothing(pg, (&a, &b), "publication = \"everything\"\n", rows, true, dir.path());
    let origins =
        pg.sql("postgres", "SELECT string_agg(roname, ',' ORDER BY roname) FROM pg_replication_origin WHERE roname IN ('tandem_a_to_b', 'tandem_b_to_a')");
    assert_eq!(origins, "tandem_a_to_b,tandem_b_to_a", "each direction's writes carry the origin of the replication they came from");
    for site in ["a", "b"] {
        tandem(&["--config", p(&cfg), "replicate", "drop", site]).ok();
    }
}

/// A slot the source gave up (it kept more WAL than `max_slot_wal_keep_size` while the replica
/// was stopped) is a clear error with the way out, in `replicate status` first and then when
/// replication starts; the replica is left as it was.
#[test]
fn a_slot_the_source_gave_up_is_reported_with_the_way_out() {
    let pg = Server::start(Flavor::Postgres);
    let src = pg.create_database("pgrepl_lost_src");
    pg.sql(&src, "CREATE TABLE t (id INT PRIMARY KEY, pad TEXT); INSERT INTO t VALUES (1, 'a');");
    let dr = pg.create_database("pgrepl_lost_dr");
    let dir = tempfile::tempdir().unwrap();
    let cfg = replica_config(dir.path(), &pg.url(&src), &[("dr", &pg.url(&dr), "")]);
    let mut a = Replica::start(&cfg, "dr", &[], dir.path());
    wait_until("the bootstrap", Duration::from_secs(60), &mut [&mut a], || bootstrapped(&cfg, "dr"));
    assert_eq!(a.sigterm(), 0, "{}", a.log());
    let before = pg.sql(&dr, "SELECT count(*) FROM t");

    pg.sql("postgres", "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'; SELECT pg_reload_conf();");
    wait_until("the slot to be given up", Duration::from_secs(60), &mut [], || {
        pg.sql(&src, "INSERT INTO t SELECT i, repeat('x', 1000) FROM generate_series((SELECT max(id) + 1 FROM t), (SELECT max(id) + 5000 FROM t)) i; SELECT pg_switch_wal(); CHECKPOINT;");
        pg.sql("postgres", "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'tandem_dr'") == "lost"
    });
    let s = status(&cfg, "dr");
    assert_eq!((s["log"]["kept"].as_bool(), s["log_at_risk"].as_bool()), (Some(false), Some(true)), "{s}");
    let run = tandem(&["--config", p(&cfg), "replicate", "dr"]).fails_with(2, "was invalidated");
    assert!(run.stderr.contains("--rebootstrap"), "{}", run.stderr);
    assert_eq!(pg.sql(&dr, "SELECT count(*) FROM t"), before, "the replica is left as it was");
}
