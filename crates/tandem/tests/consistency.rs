//! A backup taken while writers run transactions that keep invariants across tables restores to
//! a state where the invariants hold: one snapshot for the whole database, shared by the parallel
//! table readers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;

const ACCOUNTS: i64 = 200;
const BALANCE: i64 = 1000;

fn setup(server: &Server) -> String {
    let db = server.create_database("cons");
    let sql = match server.flavor() {
        Flavor::MariaDb => format!(
            "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
             INSERT INTO accounts SELECT seq, {BALANCE} FROM seq_1_to_{ACCOUNTS};
             CREATE TABLE filler (id INT PRIMARY KEY, pad VARCHAR(200));
             INSERT INTO filler SELECT seq, REPEAT('f', 180) FROM seq_1_to_150000;
             CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20));
             CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, FOREIGN KEY (parent_id) REFERENCES parent(id));"
        ),
        Flavor::Postgres => format!(
            "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
             INSERT INTO accounts SELECT g, {BALANCE} FROM generate_series(1, {ACCOUNTS}) g;
             CREATE TABLE filler (id INT PRIMARY KEY, pad VARCHAR(200));
             INSERT INTO filler SELECT g, repeat('f', 180) FROM generate_series(1, 150000) g;
             CREATE TABLE parent (id SERIAL PRIMARY KEY, note VARCHAR(20));
             CREATE TABLE child (id SERIAL PRIMARY KEY, parent_id INT NOT NULL REFERENCES parent(id));"
        ),
    };
    server.sql(&db, &sql);
    db
}

/// One transaction: a transfer between two accounts and a parent with two children.
fn transaction(flavor: Flavor, i: usize) -> String {
    let a = 1 + (i as i64 * 7) % ACCOUNTS;
    let b = 1 + (i as i64 * 13 + 5) % ACCOUNTS;
    let amount = 1 + i % 50;
    match flavor {
        Flavor::MariaDb => format!(
            "START TRANSACTION; UPDATE accounts SET balance = balance - {amount} WHERE id = {a};
             INSERT INTO parent (note) VALUES ('tx{i}'); SET @p = LAST_INSERT_ID();
             INSERT INTO child (parent_id) VALUES (@p); INSERT INTO child (parent_id) VALUES (@p);
             UPDATE accounts SET balance = balance + {amount} WHERE id = {b}; COMMIT;"
        ),
        Flavor::Postgres => format!(
            "BEGIN; UPDATE accounts SET balance = balance - {amount} WHERE id = {a};
             WITH p AS (INSERT INTO parent (note) VALUES ('tx{i}') RETURNING id)
               INSERT INTO child (parent_id) SELECT id FROM p UNION ALL SELECT id FROM p;
             UPDATE accounts SET balance = balance + {amount} WHERE id = {b}; COMMIT;"
        ),
    }
}

fn backup_under_writers(flavor: Flavor) {
    let server = Server::shared(flavor);
    let db = setup(server);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, done, db) = (stop.clone(), done.clone(), db.clone());
            std::thread::spawn(move || {
                let server = Server::shared(flavor);
                let mut i = w * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    // Several transactions per client call keep the write rate up.
                    let batch: String = (0..20).map(|k| transaction(flavor, i + k)).collect();
                    server.sql(&db, &batch);
                    i += 20;
                    done.fetch_add(20, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while done.load(Ordering::Relaxed) < 100 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = done.load(Ordering::Relaxed);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(backup(&server.url(&db), &repo));
    }
    let during = done.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(during > 0, "writers were running during the backups");

    for (n, id) in ids.iter().enumerate() {
        let target = format!("{db}_r{n}");
        tandem(&["restore", "--repo", p(&repo), "--backup", id, "--target", &server.url(&target)]).ok();
        let sum = server.sql(&target, "SELECT sum(balance) FROM accounts");
        assert_eq!(sum, (ACCOUNTS * BALANCE).to_string(), "{flavor:?} backup {id}: money created or lost");
        let parents: u64 = server.sql(&target, "SELECT count(*) FROM parent").parse().unwrap();
        let orphans = server.sql(&target, "SELECT count(*) FROM parent p WHERE (SELECT count(*) FROM child c WHERE c.parent_id = p.id) <> 2");
        assert_eq!(orphans, "0", "{flavor:?} backup {id}: a parent without both children");
        let notes = server.sql(&target, "SELECT count(*) FROM parent WHERE note LIKE 'tx%'");
        assert_eq!(notes, parents.to_string());
        assert!(parents > 0);
    }
}

#[test]
fn backup_under_writers_mariadb() {
    backup_under_writers(Flavor::MariaDb);
}

#[test]
fn backup_under_writers_postgres() {
    backup_under_writers(Flavor::Postgres);
}
