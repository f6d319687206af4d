//! Transient failures: the classification of real server errors ([`is_transient`]), a
//! connection retried while the server is down and starting, and a refused password failing
//! at once (one attempt in the server's log).

use std::time::{Duration, Instant};

use tandem_engine::{DbUrl, Engine};
use tandem_error::Kind;
use tandem_postgres::{is_transient, Postgres};
use tandem_testkit::{Flavor, Server, PASSWORD, USER};
use tokio_postgres::{Client, NoTls};

async fn client(s: &Server, db: &str) -> Client {
    let (c, conn) =
        tokio_postgres::connect(&format!("host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname={db}", s.port()), NoTls).await.expect("connect");
    tokio::spawn(conn);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_errors_are_classified() {
    let s = Server::shared(Flavor::Postgres);
    let db = s.create_database("retry_cls");
    s.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0), (2, 0);");
    let (a, b) = (client(s, &db).await, client(s, &db).await);
    // Deadlock (40P01): each holds one row and waits for the other's.
    a.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    b.batch_execute("BEGIN; UPDATE t SET v = 2 WHERE id = 2").await.unwrap();
    let (ra, rb) = tokio::join!(a.batch_execute("UPDATE t SET v = 1 WHERE id = 2"), b.batch_execute("UPDATE t SET v = 2 WHERE id = 1"));
    let deadlock = ra.err().or(rb.err()).expect("one of them is chosen as the deadlock victim");
    assert_eq!(deadlock.code().map(|c| c.code()), Some("40P01"), "{deadlock}");
    assert!(is_transient(&deadlock));
    a.batch_execute("ROLLBACK").await.unwrap();
    b.batch_execute("ROLLBACK").await.unwrap();
    // Lock not available (55P03).
    a.batch_execute("BEGIN; UPDATE t SET v = 3 WHERE id = 1").await.unwrap();
    let locked = b.batch_execute("SET lock_timeout = '50ms'; UPDATE t SET v = 4 WHERE id = 1").await.expect_err("lock timeout");
    assert_eq!(locked.code().map(|c| c.code()), Some("55P03"), "{locked}");
    assert!(is_transient(&locked));
    a.batch_execute("ROLLBACK").await.unwrap();
    // Not transient: a SQL error.
    let syntax = a.batch_execute("SELEC 1").await.expect_err("syntax");
    assert!(!is_transient(&syntax), "{syntax}");
    // A backend terminated from another session (57P01, or the connection gone).
    let pid: i32 = b.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    a.batch_execute(&format!("SELECT pg_terminate_backend({pid})")).await.unwrap();
    let killed = b.batch_execute("SELECT 1").await.expect_err("terminated");
    assert!(is_transient(&killed), "{killed}");
    // Bad password (28P01): not transient.
    let bad =
        tokio_postgres::connect(&format!("host=127.0.0.1 port={} user={USER} password=wrong dbname={db}", s.port()), NoTls).await.err().expect("bad password");
    assert!(!is_transient(&bad), "{bad}");
}

/// A bad password fails at once: one attempt reaches the server (its log has one refusal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_password_is_not_retried() {
    let s = Server::start(Flavor::Postgres);
    let url = DbUrl::parse(&format!("postgres://{USER}:wrong@127.0.0.1:{}/postgres?retry_max_retries=5", s.port())).unwrap();
    let e = Postgres.transaction(&url).await.err().expect("refused");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    assert!(e.to_string().contains("password authentication failed"), "{e}");
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_to_string(s.dir().join("server.log")).unwrap();
    assert_eq!(log.matches("password authentication failed").count(), 1, "{log}");
}

/// A connection attempted while the server is down is retried until the server is back; with
/// no retries it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_waits_for_a_starting_server() {
    let mut s = Server::start(Flavor::Postgres);
    let url = |params: &str| DbUrl::parse(&format!("{}?{params}", s.url("postgres"))).unwrap();
    let (patient, impatient) = (url("retry_max_retries=30&retry_timeout=60"), url("retry_max_retries=0"));
    s.stop();
    let e = Postgres.transaction(&impatient).await.err().expect("the server is down");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        s.start_again();
        tx.send(Instant::now()).unwrap();
        s
    });
    let t = Postgres.transaction(&patient).await.expect("connected once the server was back");
    let up = rx.recv().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2), "connected while the server was down?");
    assert!(up.duration_since(started) >= Duration::from_secs(2));
    assert_eq!(t.query("SELECT 1").await.unwrap()[0][0].as_deref(), Some("1"));
    t.rollback().await.unwrap();
    drop(restarter.join().unwrap());
}
