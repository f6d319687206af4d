//! TLS of the MySQL engine against MariaDB servers started with certificates made in the test:
//! every `sslmode` (in both spellings), refusals naming their reason, client certificates
//! (`REQUIRE X509`), and binlog streaming. Users created `REQUIRE SSL` prove that a
//! connection which succeeds really is encrypted; `Ssl_cipher` says so too.

use std::sync::OnceLock;
use std::time::Duration;

use tandem_engine::changes::{Capture, ChangeEvent};
use tandem_engine::{DbUrl, Engine, SnapshotOptions};
use tandem_error::{Kind, Result};
use tandem_mysql::MySql;
use tandem_testkit::certs::TestPki;
use tandem_testkit::{Flavor, Options, Server};

const TLS_USER: &str = "tls_only";
const CERT_USER: &str = "cert_user";

struct Fixture {
    pki: TestPki,
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
            let opts = Options { tls: Some(cert.clone()), client_ca: Some(pki.ca.cert.clone()), pg_hba: vec![] };
            let s = Server::start_with(Flavor::MariaDb, &opts);
            s.sql(
                "mysql",
                &format!(
                    "CREATE USER '{TLS_USER}'@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL; GRANT ALL ON *.* TO '{TLS_USER}'@'%';
                     CREATE USER '{CERT_USER}'@'%' REQUIRE X509; GRANT ALL ON *.* TO '{CERT_USER}'@'%';"
                ),
            );
            s
        };
        let (good, wrong_host, expired) = (start(&pki.server), start(&pki.wrong_host), start(&pki.expired));
        Fixture { good, wrong_host, expired, pki, _dir: dir }
    })
}

fn url(server: &Server, user: &str, params: &str) -> DbUrl {
    let password = if user == TLS_USER { ":tls-pw" } else { "" };
    DbUrl::parse(&format!("mysql://{user}{password}@127.0.0.1:{}/mysql?{params}", server.port())).expect("url")
}

fn ca(f: &Fixture) -> String {
    format!("sslrootcert={}", f.pki.ca.cert.display())
}

/// Connects and answers whether the session is encrypted (`Ssl_cipher`).
async fn encrypted(url: &DbUrl) -> Result<bool> {
    let t = MySql.transaction(url).await?;
    let rows = t.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'").await?;
    t.rollback().await?;
    Ok(rows[0][1].as_deref().is_some_and(|c| !c.is_empty()))
}

async fn refused(url: &DbUrl, needle: &str) {
    let e = encrypted(url).await.err().unwrap_or_else(|| panic!("{:?}: connected", url.tls));
    assert_eq!(e.kind(), Kind::Unreachable, "{:?}: {e}", url.tls);
    assert_eq!(e.kind().exit_code(), 3);
    assert!(e.to_string().contains(needle), "{:?}: {e}", url.tls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_against_a_tls_server() {
    let f = fixture();
    let s = &f.good;
    for params in [
        "ssl-mode=PREFERRED".to_string(),
        "sslmode=require".into(),
        "ssl-mode=REQUIRED".into(),
        format!("sslmode=verify-ca&{}", ca(f)),
        format!("ssl-mode=VERIFY_CA&{}", ca(f)),
        format!("sslmode=verify-full&{}", ca(f)),
        format!("ssl-mode=VERIFY_IDENTITY&{}", ca(f)),
        String::new(),
    ] {
        assert!(encrypted(&url(s, TLS_USER, &params)).await.unwrap_or_else(|e| panic!("{params}: {e}")), "{params}: not encrypted");
    }
    refused(&url(s, TLS_USER, "ssl-mode=DISABLED"), "Access denied").await;
    let other = format!("sslrootcert={}", f.pki.other_ca.cert.display());
    refused(&url(s, TLS_USER, &format!("sslmode=verify-full&{other}")), "not signed by a trusted CA").await;
    refused(&url(s, TLS_USER, &format!("sslmode=verify-ca&{other}")), "not signed by a trusted CA").await;
    refused(&url(s, TLS_USER, "sslmode=verify-full"), "not signed by a trusted CA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls() {
    let s = Server::shared(Flavor::MariaDb);
    let plain = |params: &str| DbUrl::parse(&format!("{}?{params}", s.url("mysql"))).expect("url");
    assert!(!encrypted(&plain("sslmode=prefer")).await.expect("prefer falls back to plain"));
    assert!(!encrypted(&plain("sslmode=disable")).await.expect("disable"));
    refused(&plain("sslmode=require"), "does not offer TLS").await;
    let f = fixture();
    refused(&plain(&format!("sslmode=verify-ca&{}", ca(f))), "does not offer TLS").await;
    refused(&plain(&format!("sslmode=verify-full&{}", ca(f))), "does not offer TLS").await;
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
    assert!(encrypted(&url(&f.good, CERT_USER, &format!("sslmode=verify-full&{}&{client}", ca(f)))).await.expect("the client certificate is accepted"));
    refused(&url(&f.good, CERT_USER, &format!("sslmode=verify-full&{}", ca(f))), "Access denied").await;
}

/// Binlog streaming through TLS (the user may only connect over TLS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binlog_streaming_over_tls() {
    let f = fixture();
    for (server, mode) in [(&f.good, "verify-full"), (&f.wrong_host, "verify-ca")] {
        let db = server.create_database("tls_cdc");
        server.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY)");
        let url = url(server, TLS_USER, &format!("sslmode={mode}&{}", ca(f))).with_database(&db);
        let capture = Capture::new(&db, "tls", None);
        let snapshot = MySql.snapshot(&url, &SnapshotOptions::parallel(1)).await.expect("snapshot");
        let def = snapshot.schema().tables.iter().find(|t| t.name == "t").expect("table t").clone();
        let position = snapshot.info().position.clone();
        snapshot.close().await.expect("close");
        server.sql(&db, "INSERT INTO t VALUES (7)");
        let mut stream = MySql.changes(&url, &position, std::slice::from_ref(&def), &capture).await.expect("open the change stream");
        let commit = loop {
            match tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("an event within 30 s").expect("next") {
                ChangeEvent::Commit(t) => break t,
                _ => continue,
            }
        };
        assert_eq!(commit.changes.len(), 1, "{mode}");
        stream.close().await.expect("close");
    }
}
