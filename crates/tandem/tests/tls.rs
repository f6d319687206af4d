//! `tandem backup` through TLS URLs: a backup over `verify-full` works against servers whose
//! user may only connect over TLS; a wrong CA fails with exit 3 naming the reason.

mod common;

use common::{p, tandem};
use tandem_testkit::certs::TestPki;
use tandem_testkit::{Flavor, Options, Server};

#[test]
fn backup_over_tls_and_a_wrong_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "unused");
    let repo = tempfile::tempdir().unwrap();
    for flavor in [Flavor::MariaDb, Flavor::Postgres] {
        let opts = Options { tls: Some(pki.server.clone()), client_ca: None, pg_hba: vec!["hostnossl all tls_only 127.0.0.1/32 reject".into()] };
        let s = Server::start_with(flavor, &opts);
        let db = s.create_database("tls_cli");
        let create = match flavor {
            Flavor::MariaDb => "CREATE USER 'tls_only'@'%' IDENTIFIED BY 'tls-secret' REQUIRE SSL; GRANT ALL ON *.* TO 'tls_only'@'%';",
            Flavor::Postgres => "CREATE ROLE tls_only LOGIN SUPERUSER PASSWORD 'tls-secret';",
        };
        s.sql(if flavor == Flavor::MariaDb { "mysql" } else { "postgres" }, create);
        s.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
        let url =
            |ca: &std::path::Path| format!("{}://tls_only:tls-secret@127.0.0.1:{}/{db}?sslmode=verify-full&sslrootcert={}", s.scheme(), s.port(), ca.display());
        let run = tandem(&["backup", "--source", &url(&pki.ca.cert), "--repo", p(repo.path()), "--json"]).ok();
        assert_eq!(run.json()["tables"].as_u64(), Some(1), "{flavor:?}: {}", run.stdout);
        let run = tandem(&["backup", "--source", &url(&pki.other_ca.cert), "--repo", p(repo.path())]).fails_with(3, "not signed by a trusted CA");
        assert!(!run.stderr.contains("tls-secret"), "password leaked: {}", run.stderr);
    }
}
