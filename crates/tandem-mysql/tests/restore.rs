//! All-or-nothing restores: conflicts, replace, abort, dropped sessions, failing streams, and
//! bad input.

mod common;

use bytes::Bytes;
use common::*;
use futures::stream::{self, StreamExt};
use tandem_engine::{DbUrl, Engine, Replace, SnapshotOptions};
use tandem_error::{Error, Kind};
use tandem_mysql::MySql;

fn small_source(prefix: &str, rows: u32) -> String {
    let s = server();
    let db = s.create_database(prefix);
    s.sql(
        &db,
        &format!(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB;
             INSERT INTO items SELECT seq, CONCAT('new-', seq) FROM seq_1_to_{rows};
             CREATE VIEW item_names AS SELECT name FROM items;"
        ),
    );
    db
}

fn old_target(prefix: &str) -> String {
    let s = server();
    let db = s.create_database(prefix);
    s.sql(
        &db,
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB;
         INSERT INTO items VALUES (1, 'old');
         CREATE TABLE legacy (x INT) ENGINE=InnoDB; INSERT INTO legacy VALUES (42);
         CREATE TABLE legacy_log (x INT) ENGINE=InnoDB;
         CREATE TRIGGER legacy_trg AFTER INSERT ON legacy FOR EACH ROW INSERT INTO legacy_log VALUES (NEW.x);
         CREATE VIEW old_view AS SELECT x FROM legacy;",
    );
    db
}

fn state(db: &str) -> String {
    let s = server();
    s.sql(
        db,
        "SELECT GROUP_CONCAT(TABLE_NAME, ':', TABLE_TYPE ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE();
         SELECT GROUP_CONCAT(id, name ORDER BY id) FROM items;",
    )
}

#[tokio::test]
async fn non_empty_target_needs_replace() {
    let s = server();
    let src = small_source("ne_src", 3);
    let dst = old_target("ne_dst");
    let b = backup(&src, 2).await;
    let before = state(&dst);

    let target = MySql.target(&url(&dst)).await.expect("target");
    let rel = target.inspect().await.expect("inspect").relations;
    assert_eq!(rel, vec!["items", "legacy", "legacy_log", "old_view"]);
    let err = target.begin(&b.schema, Replace::Never).await.err().expect("refused");
    assert_eq!(err.kind(), Kind::Conflict);
    assert!(err.to_string().contains(&format!("target database {dst} is not empty (4 relations, e.g. items)")), "{err}");
    assert_eq!(err.hint(), Some(tandem_error::Hint::ReplaceTarget), "{err}");
    assert_eq!(state(&dst), before);

    restore(&b, &dst, true).await.expect("restore with replace");
    let mut rel = MySql.target(&url(&dst)).await.expect("target").inspect().await.expect("inspect").relations;
    rel.sort();
    assert_eq!(rel, vec!["item_names", "items"]);
    assert_eq!(s.sql(&dst, "SELECT GROUP_CONCAT(name ORDER BY name) FROM item_names"), "new-1,new-2,new-3");
    assert_eq!(s.sql(&dst, &format!("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{dst}'")), "0");
    assert!(databases_like(&format!("{dst}__tandem")).is_empty());
}

#[tokio::test]
async fn abort_and_drop_leave_the_target_unchanged() {
    let src = small_source("ab_src", 100);
    let dst = old_target("ab_dst");
    let b = backup(&src, 1).await;
    let before = state(&dst);
    let target = MySql.target(&url(&dst)).await.expect("target");

    // Abort after loading: target unchanged, staging gone.
    let session = target.begin(&b.schema, Replace::Always).await.expect("begin");
    assert_eq!(databases_like(&format!("{dst}__tandem_stage_")).len(), 1);
    let (t, chunks, _) = &b.data[0];
    let n = session.copy_in(t, stream::iter(chunks.clone().into_iter().map(Ok)).boxed()).await.expect("copy_in");
    assert_eq!(n, 100);
    session.abort().await.expect("abort");
    assert_eq!(state(&dst), before);
    assert!(databases_like(&format!("{dst}__tandem")).is_empty());

    // Dropped without commit: nothing visible; the leftover goes away at the latest with the next begin.
    let session = target.begin(&b.schema, Replace::Always).await.expect("begin");
    session.copy_in(t, stream::iter(chunks.clone().into_iter().map(Ok)).boxed()).await.expect("copy_in");
    drop(session);
    assert_eq!(state(&dst), before);
    // A leftover of a crashed restore (as after kill -9) is cleaned up by the next begin.
    server().sql("mysql", &format!("CREATE DATABASE IF NOT EXISTS `{dst}__tandem_stage_deadbeef`; CREATE DATABASE `{dst}__tandem_old_deadbeef`"));
    let session = target.begin(&b.schema, Replace::Always).await.expect("begin");
    assert_eq!(databases_like(&format!("{dst}__tandem")).len(), 1, "only the new staging database is left");
    // A second restore into the same target is refused while this one runs.
    let err = target.begin(&b.schema, Replace::Always).await.err().expect("second begin refused");
    assert_eq!(err.kind(), Kind::Conflict, "{err}");
    session.abort().await.expect("abort");
    assert!(databases_like(&format!("{dst}__tandem")).is_empty());
    assert_eq!(state(&dst), before);
}

#[tokio::test]
async fn stream_error_fails_the_load_and_changes_nothing() {
    let src = small_source("se_src", 5000);
    let dst = old_target("se_dst");
    let b = backup(&src, 2).await;
    let before = state(&dst);
    let target = MySql.target(&url(&dst)).await.expect("target");
    let session = target.begin(&b.schema, Replace::Always).await.expect("begin");
    let (t, chunks, _) = &b.data[0];
    let first = chunks[0].clone();
    let rows: Vec<tandem_error::Result<Bytes>> = vec![Ok(first), Err(Error::corrupt("chunk 3fa2 is corrupt"))];
    let err = session.copy_in(t, stream::iter(rows).boxed()).await.expect_err("load fails");
    assert_eq!(err.kind(), Kind::Corrupt, "{err}");
    assert!(err.to_string().contains("table items") && err.to_string().contains("chunk 3fa2 is corrupt"), "{err}");
    session.abort().await.expect("abort");
    assert_eq!(state(&dst), before);
    assert!(databases_like(&format!("{dst}__tandem")).is_empty());
}

#[tokio::test]
async fn lossy_load_is_an_error() {
    let src = small_source("lw_src", 2);
    let dst = server().create_database("lw_dst");
    let mut b = backup(&src, 1).await;
    // Rows whose values do not fit the column must not load silently.
    b.data[0].1 = vec![Bytes::from_static(b"1\tthis value is far too long for a varchar of fifty characters, really\n")];
    let target = MySql.target(&url(&dst)).await.expect("target");
    let session = target.begin(&b.schema, Replace::Never).await.expect("begin");
    let err = session.copy_in(&b.data[0].0, stream::iter(b.data[0].1.clone().into_iter().map(Ok)).boxed()).await.expect_err("warning");
    assert!(err.to_string().contains("table items") && err.to_string().contains("1265"), "{err}");
    session.abort().await.expect("abort");
    assert_eq!(server().sql(&dst, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"), "0");
}

#[tokio::test]
async fn bad_input_and_unreachable_servers() {
    let s = server();
    let port = s.port();
    let wrong_pw = DbUrl::parse(&format!("mysql://tandem:nope@127.0.0.1:{port}/x")).expect("url");
    let e = MySql.snapshot(&wrong_pw, &SnapshotOptions::default()).await.err().expect("refused");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")) && e.to_string().contains("Access denied"), "{e}");
    assert!(!e.to_string().contains("nope"));
    assert!(!e.to_string().contains('\n'));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let down = DbUrl::parse(&format!("mysql://tandem:x@127.0.0.1:{closed}/x")).expect("url");
    let e = MySql.target(&down).await.err().expect("unreachable");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{closed}")), "{e}");

    let e = MySql.snapshot(&url("no_such_db"), &SnapshotOptions::default()).await.err().expect("missing db");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    assert_eq!(e.to_string(), format!("database no_such_db does not exist on 127.0.0.1:{port}"));

    // A missing target database is created by begin, not by target/inspect.
    let fresh = format!("fresh_{}", std::process::id());
    let t = MySql.target(&url(&fresh)).await.expect("target");
    assert!(t.inspect().await.expect("inspect").relations.is_empty());
    let exists = format!("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{fresh}'");
    assert_eq!(server().sql("mysql", &exists), "0");
    let session = t.begin(&tandem_engine::SchemaDump::default(), tandem_engine::Replace::Never).await.expect("begin");
    session.abort().await.expect("abort");
    assert_eq!(server().sql("mysql", &exists), "1");
}
