//! Transient failures: the classification of real server errors ([`is_transient`]), a
//! connection retried while the server is down and starting, and a refused password failing
//! at once (one aborted connect on the server).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tandem_engine::{DbUrl, Engine};
use tandem_error::Kind;
use tandem_mysql::{is_transient, MySql};
use tandem_testkit::{Flavor, Server, PASSWORD, USER};

async fn conn(s: &Server, db: &str) -> Conn {
    Conn::new(Opts::from_url(&format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", s.port())).unwrap()).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_errors_are_classified() {
    let s = Server::shared(Flavor::MariaDb);
    let db = s.create_database("retry_cls");
    s.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO t VALUES (1, 0), (2, 0);");
    let (mut a, mut b) = (conn(s, &db).await, conn(s, &db).await);
    // Deadlock (1213).
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    b.query_drop("UPDATE t SET v = 2 WHERE id = 2").await.unwrap();
    let (ra, rb) = tokio::join!(a.query_drop("UPDATE t SET v = 1 WHERE id = 2"), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.query_drop("UPDATE t SET v = 2 WHERE id = 1").await
    });
    let deadlock = ra.err().or(rb.err()).expect("one of them is the deadlock victim");
    assert!(matches!(&deadlock, mysql_async::Error::Server(e) if e.code == 1213), "{deadlock}");
    assert!(is_transient(&deadlock));
    a.query_drop("ROLLBACK").await.unwrap();
    b.query_drop("ROLLBACK").await.unwrap();
    // Lock wait timeout (1205).
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE t SET v = 3 WHERE id = 1").await.unwrap();
    b.query_drop("SET SESSION innodb_lock_wait_timeout = 1").await.unwrap();
    let timeout = b.query_drop("UPDATE t SET v = 4 WHERE id = 1").await.expect_err("lock wait timeout");
    assert!(matches!(&timeout, mysql_async::Error::Server(e) if e.code == 1205), "{timeout}");
    assert!(is_transient(&timeout));
    a.query_drop("ROLLBACK").await.unwrap();
    // Not transient: a SQL error.
    let syntax = a.query_drop("SELEC 1").await.expect_err("syntax");
    assert!(!is_transient(&syntax), "{syntax}");
    // A session killed from another one.
    let id = b.id();
    a.query_drop(format!("KILL {id}")).await.unwrap();
    let killed = b.query_drop("SELECT 1").await.expect_err("killed");
    assert!(is_transient(&killed), "{killed:?}");
    // Bad password (1045): not transient.
    let bad = Conn::new(Opts::from_url(&format!("mysql://{USER}:wrong@127.0.0.1:{}/{db}", s.port())).unwrap()).await.expect_err("bad password");
    assert!(!is_transient(&bad), "{bad}");
}

/// A bad password fails at once: one aborted connect on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_password_is_not_retried() {
    let s = Server::start(Flavor::MariaDb);
    let aborted =
        || s.sql("mysql", "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'ABORTED_CONNECTS'").parse::<u64>().unwrap();
    let before = aborted();
    let url = DbUrl::parse(&format!("mysql://{USER}:wrong@127.0.0.1:{}/mysql?retry_max_retries=5&sslmode=disable", s.port())).unwrap();
    let e = MySql.transaction(&url).await.err().expect("refused");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    assert!(e.to_string().contains("Access denied"), "{e}");
    assert_eq!(aborted() - before, 1, "one attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_waits_for_a_starting_server() {
    let mut s = Server::start(Flavor::MariaDb);
    let url = |params: &str| DbUrl::parse(&format!("{}?{params}", s.url("mysql"))).unwrap();
    let (patient, impatient) = (url("retry_max_retries=30&retry_timeout=60"), url("retry_max_retries=0"));
    s.stop();
    let e = MySql.transaction(&impatient).await.err().expect("the server is down");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    let started = Instant::now();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        s.start_again();
        s
    });
    let t = MySql.transaction(&patient).await.expect("connected once the server was back");
    assert!(started.elapsed() >= Duration::from_secs(2), "connected while the server was down?");
    assert_eq!(t.query("SELECT 1").await.unwrap()[0][0].as_deref(), Some("1"));
    t.rollback().await.unwrap();
    drop(restarter.join().unwrap());
}
