//! A parallel snapshot taken while a writer commits transactions sees each transaction whole.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mysql_async::prelude::Queryable;
use tandem_engine::{Engine, SnapshotOptions};
use tandem_mysql::MySql;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_snapshot_sees_whole_transactions() {
    let s = server();
    let src = s.create_database("cs_src");
    s.sql(
        &src,
        "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB;
         INSERT INTO accounts SELECT seq, 1000 FROM seq_1_to_100;
         CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, nlines INT NOT NULL) ENGINE=InnoDB;
         CREATE TABLE order_lines (id BIGINT AUTO_INCREMENT PRIMARY KEY, order_id BIGINT NOT NULL,
           FOREIGN KEY (order_id) REFERENCES orders (id)) ENGINE=InnoDB;",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, commits) = (stop.clone(), commits.clone());
        let url = s.url(&src);
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::from_url(url).await.expect("writer connects");
            let mut i: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (a, b) = (i % 100 + 1, (i * 7) % 100 + 1);
                let lines = i % 5 + 1;
                let sql = format!(
                    "START TRANSACTION; UPDATE accounts SET balance = balance - {i} WHERE id = {a};
                     UPDATE accounts SET balance = balance + {i} WHERE id = {b};
                     INSERT INTO orders (nlines) VALUES ({lines}); SET @o = LAST_INSERT_ID();
                     INSERT INTO order_lines (order_id) SELECT @o FROM seq_1_to_{lines}; COMMIT;"
                );
                conn.query_drop(sql).await.expect("writer transaction");
                commits.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while commits.load(Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let snap = MySql.snapshot(&url(&src), &SnapshotOptions::parallel(2)).await.expect("snapshot");
    assert_eq!(snap.info().position.kind, tandem_engine::PositionKind::Binlog);
    assert!(!snap.info().position.value.is_empty());
    assert!(snap.info().position.gtid.is_some(), "{:?}", snap.info().position);
    let at_snapshot = commits.load(Ordering::Relaxed);
    let mut data = Vec::new();
    let tables = snap.schema().tables.clone();
    // Copy the tables at once on both workers, after the writer moved on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let copies = futures::future::join_all(tables.iter().map(|t| {
        let snap = &snap;
        async move {
            let mut sink = MemSink::default();
            let n = snap.copy_out(t, &mut sink).await.expect("copy_out");
            (t.clone(), sink.0, n)
        }
    }))
    .await;
    data.extend(copies);
    let b = Backup { info: snap.info().clone(), schema: snap.schema().clone(), data };
    snap.close().await.expect("close");
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    assert!(commits.load(Ordering::Relaxed) > at_snapshot + 5, "the writer kept committing during the copy");

    let dst = s.create_database("cs_dst");
    restore(&b, &dst, false).await.expect("restore");
    assert_eq!(s.sql(&dst, "SELECT SUM(balance) FROM accounts"), "100000");
    assert_eq!(s.sql(&dst, "SELECT COUNT(*) FROM order_lines l LEFT JOIN orders o ON o.id = l.order_id WHERE o.id IS NULL"), "0");
    assert_eq!(s.sql(&dst, "SELECT COUNT(*) FROM orders o WHERE o.nlines <> (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id)"), "0");
    let copied: u64 = s.sql(&dst, "SELECT COUNT(*) FROM orders").parse().expect("count");
    let now: u64 = s.sql(&src, "SELECT COUNT(*) FROM orders").parse().expect("count");
    assert!(copied >= 50 && copied < now, "copied {copied} of {now} orders");
}

#[tokio::test]
async fn without_reload_privilege_one_connection_is_used() {
    let s = server();
    let src = s.create_database("nr_src");
    let user = format!("noreload{}", std::process::id());
    s.sql(
        &src,
        &format!(
            "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB; CREATE TABLE b (id INT PRIMARY KEY) ENGINE=InnoDB;
             INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (3);
             CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, SHOW VIEW, TRIGGER ON `{src}`.* TO '{user}'@'%';"
        ),
    );
    let u = tandem_engine::DbUrl::parse(&format!("mysql://{user}:pw@127.0.0.1:{}/{src}", s.port())).expect("url");
    let snap = MySql.snapshot(&u, &SnapshotOptions::parallel(2)).await.expect("snapshot");
    assert!(snap.info().consistency.contains("single"), "{}", snap.info().consistency);
    assert_eq!(snap.info().position.kind, tandem_engine::PositionKind::Binlog, "{:?}", snap.info().position);
    let tables = snap.schema().tables.clone();
    let counts = futures::future::join_all(tables.iter().map(|t| {
        let snap = &snap;
        async move { snap.copy_out(t, &mut MemSink::default()).await.expect("copy_out") }
    }))
    .await;
    assert_eq!(counts, vec![2, 1]);
    snap.close().await.expect("close");
}
