//! Secrets stay secret: a password full of URL syntax works from a `${VAR}` and from a
//! `password-file` on both engines, and no output of tandem shows a secret: not the trace-level
//! log, `--json`, errors, the daemon's page, API, metrics and alerts, nor any repository object.

mod common;

use std::path::Path;
use std::time::Duration;

use common::serve::{http, Daemon};
use common::*;

/// A password with every character that means something in a URL.
const PW: &str = "Sx/#?%@: &=+%41;zq";
/// A wrong password, as distinctive.
const WRONG: &str = "Wr0ng/#?@pw-77";
/// The API token and the secret part of the webhook URL.
const TOKEN: &str = "T0ken-5f1c9a3e";
const HOOK_SECRET: &str = "H00k-b7e2d4";
/// A valid Fernet key (base64 of 32 bytes) that must not show either.
const FERNET: &str = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";

/// `s` percent-encoded as a URL's user info holds it.
fn encoded(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Panics if `text` (named `what`) holds any secret, plain or percent-encoded.
fn assert_clean(what: &str, text: &str) {
    for secret in [PW, WRONG, TOKEN, HOOK_SECRET, FERNET] {
        for form in [secret.to_string(), encoded(secret)] {
            assert!(!text.contains(&form), "{what} shows a secret ({form}):\n{text}");
        }
    }
}

/// Every file under `dir`, zstd frames decompressed, checked for secrets.
fn assert_repo_clean(dir: &Path) {
    let mut checked = 0;
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = match bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            true => zstd::decode_all(&bytes[..]).unwrap_or(bytes),
            false => bytes,
        };
        assert_clean(&entry.display().to_string(), &String::from_utf8_lossy(&text));
        checked += 1;
    }
    assert!(checked > 3, "the repository holds files ({checked})");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A login user with password [`PW`] on `server` (which must check passwords: scram for
/// PostgreSQL's TCP connections, native passwords for MariaDB).
fn secret_user(server: &Server) -> &'static str {
    let user = "tandem_secret_user";
    match server.flavor() {
        Flavor::MariaDb => server.sql(
            "mysql",
            &format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{PW}'; GRANT ALL ON *.* TO '{user}'@'%' WITH GRANT OPTION;"),
        ),
        Flavor::Postgres => server.sql(
            "postgres",
            &format!("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{PW}'; END IF; END $$"),
        ),
    };
    user
}

/// Runs tandem with the trace-level log on and the secrets in the environment; every output
/// is checked for secrets.
fn run(args: &[&str]) -> Run {
    let env = [("TANDEM_LOG", "trace"), ("TANDEM_TEST_SECRET_PW", PW), ("TANDEM_TEST_WRONG_PW", WRONG)].map(|(k, v)| (k.to_string(), v.to_string()));
    let r = tandem_env(args, &env);
    assert_clean(&format!("stdout of {args:?}"), &r.stdout);
    assert_clean(&format!("stderr of {args:?}"), &r.stderr);
    r
}

#[test]
fn passwords_with_url_syntax_work_from_variables_and_files_and_no_output_shows_a_secret() {
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        let user = secret_user(server);
        let src = server.create_database("secret_src");
        common::hms::generate(server, &src, "3.1", &["--sample", "retail"]);
        let tables = server.sql(&src, &format!("SELECT count(*) FROM {}", common::hms::q(server, "TBLS")));
        let dst = server.create_database("secret_dst");
        let dir = tempfile::tempdir().unwrap();
        let (pw_file, key_file) = (dir.path().join("pw"), dir.path().join("fernet"));
        std::fs::write(&pw_file, format!("{PW}\n")).unwrap();
        std::fs::write(&key_file, FERNET).unwrap();
        let (scheme, port, repo) = (server.scheme(), server.port(), dir.path().join("repo"));
        let cfg = dir.path().join("tandem.toml");
        std::fs::write(
            &cfg,
            format!(
                "repo = \"{}\"\n\
                 [sites.primary]\ndb = \"{scheme}://{user}:${{TANDEM_TEST_SECRET_PW}}@127.0.0.1:{port}/{src}\"\n\
                 [sites.dr]\ndb = \"{scheme}://{user}@127.0.0.1:{port}/{dst}\"\npassword-file = \"{}\"\nsource = \"primary\"\n\
                 [sites.wrong]\ndb = \"{scheme}://{user}:${{TANDEM_TEST_WRONG_PW}}@127.0.0.1:{port}/{src}?retry_max_retries=0\"\n\
                 [sites.airflow]\ndb = \"{scheme}://{user}:${{TANDEM_TEST_SECRET_PW}}@127.0.0.1:{port}/{src}\"\nfernet-key-file = \"{}\"\n",
                p(&repo),
                p(&pw_file),
                p(&key_file)
            ),
        )
        .unwrap();
        let c = p(&cfg);

        let backup = run(&["--config", c, "--json", "backup", "primary"]).ok().json();
        let id = backup["id"].as_str().unwrap_or_else(|| panic!("{backup}")).to_string();
        run(&["--config", c, "--json", "restore", "dr"]).ok();
        assert_eq!(
            server.sql(&dst, &format!("SELECT count(*) FROM {}", common::hms::q(server, "TBLS"))),
            tables,
            "{flavor:?}: restored through the password file"
        );
        run(&["--config", c, "verify", "--source", "primary", "--target", "dr"]).ok();
        run(&["--config", c, "--json", "backups", "list"]).ok();
        run(&["--config", c, "--json", "backups", "show", &id]).ok();
        run(&["--config", c, "backups", "show", &id]).ok();

        // A wrong password: refused by the server, and the error names neither password.
        let failed = run(&["--config", c, "backup", "wrong"]);
        assert_ne!(failed.code, 0, "{flavor:?}: a wrong password connects:\n{}", failed.stderr);
        assert!(failed.stderr.contains(user), "{flavor:?}: the error names the user: {}", failed.stderr);
        run(&["--config", c, "--json", "backup", "wrong"]);

        // A URL that does not parse once the variable is in: the message hides the password.
        std::fs::write(dir.path().join("bad.toml"), format!("[sites.a]\ndb = \"{scheme}://{user}:${{TANDEM_TEST_SECRET_PW}}@127.0.0.1:99999/x\"\n")).unwrap();
        run(&["--config", p(&dir.path().join("bad.toml")), "backup", "a", "--repo", p(&repo)]).fails_with(2, "invalid database URL");

        assert_repo_clean(&repo);
    }
}

#[test]
fn bad_secret_sources_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tandem.toml");
    let check = |text: String, needle: &str| {
        std::fs::write(&cfg, text).unwrap();
        run(&["--config", p(&cfg), "backups", "list", "--repo", p(&dir.path().join("r"))]).fails_with(2, needle);
    };
    let missing = dir.path().join("missing");
    check(format!("[sites.a]\ndb = \"mysql://u@h/db\"\npassword-file = \"{}\"\n", p(&missing)), "sites.a.password-file: cannot read");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "\n").unwrap();
    check(format!("[sites.a]\ndb = \"mysql://u@h/db\"\npassword-file = \"{}\"\n", p(&pw)), "is empty");
    std::fs::write(&pw, PW).unwrap();
    check(format!("[sites.a]\ndb = \"mysql://u:x@h/db\"\npassword-file = \"{}\"\n", p(&pw)), "not both");
    check(format!("[sites.a]\ndb = \"mysql://h/db\"\npassword-file = \"{}\"\n", p(&pw)), "names no user");
    check(format!("[sites.a]\ndb = \"mysql://u@h/db\"\nfernet-key = \"{FERNET}\"\nfernet-key-file = \"{}\"\n", p(&pw)), "not both");
    check(format!("[sites.a]\ndb = \"mysql://u@h/db\"\nfernet-key-file = \"{}\"\n", p(&pw)), "sites.a.fernet-key");
    check("[sites.a]\ndb = \"mysql://u:${TANDEM_SURELY_UNSET_PW}@h/db\"\n".into(), "TANDEM_SURELY_UNSET_PW is not set");
}

#[test]
fn the_daemon_shows_no_secret_on_its_page_api_metrics_or_log() {
    let server = Server::shared(Flavor::MariaDb);
    let user = secret_user(server);
    let src = server.create_database("secret_serve");
    server.sql(&src, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    // Nothing listens at the webhook: its failures are logged, without the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"mysql://{user}:${{TANDEM_TEST_SECRET_PW}}@127.0.0.1:{}/{src}\"\nbackup = \"*/2 * * * * *\"\n\
             [sites.wrong]\ndb = \"mysql://{user}:${{TANDEM_TEST_WRONG_PW}}@127.0.0.1:{}/{src}?retry_max_retries=0\"\nbackup = \"*/2 * * * * *\"\n\
             [serve]\ntoken-file = \"{}\"\nwebhook = \"http://127.0.0.1:{closed}/hooks/{HOOK_SECRET}\"\nhealth-interval = \"1s\"\n",
            p(&dir.path().join("repo")),
            server.port(),
            server.port(),
            p(&token_file)
        ),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    let mut daemon = Daemon::start_with_env(&cfg, &log, &[("TANDEM_LOG", "trace"), ("TANDEM_TEST_SECRET_PW", PW), ("TANDEM_TEST_WRONG_PW", WRONG)]);
    daemon.wait_for("a backup of primary and a failed one of wrong", Duration::from_secs(60), |s| {
        let job = |site: &str, field: &str| s["sites"].as_array().into_iter().flatten().filter(|x| x["name"] == site).any(|x| x["jobs"][0][field].is_object());
        job("primary", "last_success") && job("wrong", "last_failure")
    });
    let (code, _) = daemon.post("/api/v1/sites/primary/backup", Some("wrong-token"));
    assert_eq!(code, 401);
    for path in ["/", "/api/status", "/metrics"] {
        let (code, body) = daemon.get(path);
        assert_eq!(code, 200, "{path}");
        assert_clean(path, &body);
    }
    assert!(http(&daemon.addr, "GET", "/api/status", None).1.contains("wrong"), "the failing site is shown");
    daemon.terminate(Duration::from_secs(30));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("webhook failed"), "the webhook was tried:\n{text}");
    assert_clean("the daemon's trace-level log", &text);
    assert_repo_clean(&dir.path().join("repo"));
}
