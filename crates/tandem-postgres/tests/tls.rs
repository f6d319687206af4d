//! TLS of the PostgreSQL engine against servers started with certificates made in the test:
//! every `sslmode`, refusals naming their reason, client certificates, and the replication
//! connection. Users only allowed over TLS (`hostssl`, `hostnossl … reject`) prove that a
//! connection which succeeds really is encrypted; `pg_stat_ssl` says so too.

use std::sync::OnceLock;
use std::time::Duration;

use tandem_engine::changes::{Capture, ChangeEvent};
use tandem_engine::{DbUrl, Engine, Scope, SnapshotOptions};
use tandem_error::{Kind, Result};
use tandem_postgres::Postgres;
use tandem_testkit::certs::TestPki;
use tandem_testkit::{Flavor, Options, Server};

/// A superuser that may only log in over TLS, and a user that logs in by client certificate.
const TLS_USER: &str = "tls_only";
const CERT_USER: &str = "cert_user";

struct Fixture {
    pki: TestPki,
    /// Certificate for localhost/127.0.0.1; `good`, `wrong_host` and `expired` differ only in it.
    good: Server,
    wrong_host: Server,
    expired: Server,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::new(dir.path(), CERT_USER);
        let start = |cert: &tandem_testkit::certs::CertFiles| {
            let opts = Options {
                tls: Some(cert.clone()),
                client_ca: Some(pki.ca.cert.clone()),
                pg_hba: vec![
                    format!("hostnossl all {TLS_USER},{CERT_USER} 127.0.0.1/32 reject"),
                    format!("hostssl all {TLS_USER} 127.0.0.1/32 scram-sha-256"),
                    format!("hostssl all {CERT_USER} 127.0.0.1/32 cert"),
                ],
            };
            let s = Server::start_with(Flavor::Postgres, &opts);
            s.sql("postgres", &format!("CREATE ROLE {TLS_USER} LOGIN SUPERUSER REPLICATION PASSWORD 'tls-pw'; CREATE ROLE {CERT_USER} LOGIN SUPERUSER;"));
            s
        };
        let (good, wrong_host, expired) = (start(&pki.server), start(&pki.wrong_host), start(&pki.expired));
        Fixture { good, wrong_host, expired, pki, _dir: dir }
    })
}

/// A URL of `server` as `user` with query `params`.
fn url(server: &Server, user: &str, params: &str) -> DbUrl {
    let password = if user == TLS_USER { ":tls-pw" } else { "" };
    DbUrl::parse(&format!("postgres://{user}{password}@127.0.0.1:{}/postgres?{params}", server.port())).expect("url")
}

fn ca(f: &Fixture) -> String {
    format!("sslrootcert={}", f.pki.ca.cert.display())
}

/// Connects and answers whether the session is encrypted (`pg_stat_ssl`).
async fn encrypted(url: &DbUrl) -> Result<bool> {
    let t = Postgres.transaction(url).await?;
    let rows = t.query("SELECT ssl::text FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()").await?;
    t.rollback().await?;
    Ok(rows[0][0].as_deref() == Some("true"))
}

/// Asserts that connecting fails as `Unreachable` with `needle` in the message.
async fn refused(url: &DbUrl, needle: &str) {
    let e = encrypted(url).await.err().unwrap_or_else(|| panic!("{url:?} {:?}: connected", url.tls));
    assert_eq!(e.kind(), Kind::Unreachable, "{:?}: {e}", url.tls);
    assert_eq!(e.kind().exit_code(), 3);
    assert!(e.to_string().contains(needle), "{:?}: {e}", url.tls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_against_a_tls_server() {
    let f = fixture();
    let s = &f.good;
    for params in [
        "sslmode=prefer".to_string(),
        "sslmode=require".into(),
        "sslmode=allow".into(),
        format!("sslmode=verify-ca&{}", ca(f)),
        format!("sslmode=verify-full&{}", ca(f)),
        format!("ssl-mode=VERIFY_IDENTITY&{}", ca(f)),
        format!("sslmode=require&{}", ca(f)),
        String::new(),
    ] {
        assert!(encrypted(&url(s, TLS_USER, &params)).await.unwrap_or_else(|e| panic!("{params}: {e}")), "{params}: not encrypted");
    }
    // The user may not log in without TLS: disable really is plain.
    refused(&url(s, TLS_USER, "sslmode=disable"), "no encryption").await;
    // Wrong CA, and no CA given (the built-in roots do not know the test CA).
    let other = format!("sslrootcert={}", f.pki.other_ca.cert.display());
    refused(&url(s, TLS_USER, &format!("sslmode=verify-full&{other}")), "not signed by a trusted CA").await;
    refused(&url(s, TLS_USER, &format!("sslmode=verify-ca&{other}")), "not signed by a trusted CA").await;
    refused(&url(s, TLS_USER, "sslmode=verify-full"), "not signed by a trusted CA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls() {
    let s = Server::shared(Flavor::Postgres);
    let plain = |params: &str| DbUrl::parse(&format!("{}?{params}", s.url("postgres"))).expect("url");
    assert!(!encrypted(&plain("sslmode=prefer")).await.expect("prefer falls back to plain"));
    assert!(!encrypted(&plain("sslmode=disable")).await.expect("disable"));
    refused(&plain("sslmode=require"), "TLS").await;
    let f = fixture();
    refused(&plain(&format!("sslmode=verify-full&{}", ca(f))), "TLS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_certificates_name_the_reason() {
    let f = fixture();
    let wrong = |mode: &str| url(&f.wrong_host, TLS_USER, &format!("sslmode={mode}&{}", ca(f)));
    refused(&wrong("verify-full"), "does not name the host").await;
    assert!(encrypted(&wrong("verify-ca")).await.expect("verify-ca ignores the host name"));
    assert!(encrypted(&url(&f.wrong_host, TLS_USER, "sslmode=require")).await.expect("require checks nothing"));
    let expired = |mode: &str| url(&f.expired, TLS_USER, &format!("sslmode={mode}&{}", ca(f)));
    refused(&expired("verify-full"), "has expired").await;
    refused(&expired("verify-ca"), "has expired").await;
    assert!(encrypted(&url(&f.expired, TLS_USER, "sslmode=require")).await.expect("require checks nothing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let f = fixture();
    let client = format!("sslcert={}&sslkey={}", f.pki.client.cert.display(), f.pki.client.key.display());
    let with = url(&f.good, CERT_USER, &format!("sslmode=verify-full&{}&{client}", ca(f)));
    assert!(encrypted(&with).await.expect("the client certificate is accepted"));
    refused(&url(&f.good, CERT_USER, &format!("sslmode=verify-full&{}", ca(f))), "certificate").await;
}

/// A short change capture through TLS: the replication connection honours the URL too (the
/// user may only connect over TLS, and the walsender's session is encrypted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_capture_over_tls() {
    let f = fixture();
    // verify-ca on the server whose certificate names another host: the replication client
    // connects under the certificate's own name.
    for (server, mode) in [(&f.good, "verify-full"), (&f.wrong_host, "verify-ca")] {
        let db = server.create_database("tls_cdc");
        server.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY)");
        let url = url(server, TLS_USER, &format!("sslmode={mode}&{}", ca(f))).with_database(&db);
        let capture = Capture::new(&db, "tls", None);
        let start = Postgres.begin_capture(&url, &capture, &Scope::default()).await.expect("begin_capture").expect("a capture start");
        let snapshot = Postgres.snapshot(&url, &SnapshotOptions { parallelism: 1, import: Some(start.snapshot.clone()) }).await.expect("snapshot");
        let def = snapshot.schema().tables.iter().find(|t| t.name == "t").expect("table t").clone();
        let position = snapshot.info().position.clone();
        snapshot.close().await.expect("close");
        drop(start);
        server.sql(&db, "INSERT INTO t VALUES (7)");
        let mut stream = Postgres.changes(&url, &position, std::slice::from_ref(&def), &capture).await.expect("open the change stream");
        let commit = loop {
            match tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("an event within 30 s").expect("next") {
                ChangeEvent::Commit(t) => break t,
                _ => continue,
            }
        };
        assert_eq!(commit.changes.len(), 1, "{mode}");
        let walsender = server.sql(
            "postgres",
            &format!("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.backend_type = 'walsender' AND a.usename = '{TLS_USER}'"),
        );
        assert_eq!(walsender, "t", "{mode}: the replication connection is encrypted");
        stream.close().await.expect("close");
        // The walsender ends a moment after the stream closes: the drop waits for it.
        Postgres.drop_capture(&url, &capture).await.expect("drop_capture");
    }
}
