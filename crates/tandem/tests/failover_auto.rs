//! `tandem serve` guards the platform's roles: a standby with `failover = "auto"` is promoted when
//! its source is gone (a MariaDB primary killed with SIGKILL, a PostgreSQL primary shut down), its `on-promote` hook runs and the
//! webhook hears of it; the old primary is fenced (read-only) as soon as it is seen again, whether
//! it held no role (a primary from before roles) or the active role of an older epoch (a network
//! cut between the daemon and a live primary: split brain). Exactly one site is active after.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::serve::{Daemon, Webhook};
use common::*;

/// The daemon's config: `primary` (probed on `probe_port` too) replicated into `dr`, which fails
/// over on its own after 3 s of failed probes and runs a hook that writes its environment to
/// `dir/hook.out`.
fn config(dir: &Path, primary: &str, dr: &str, probe_port: u16, webhook: &str) -> std::path::PathBuf {
    let hook = format!("env | grep ^TANDEM_ | sort > {}", p(&dir.join("hook.out")));
    let text = format!(
        "repo = \"{repo}\"\n\
         [serve]\nwebhook = \"{webhook}\"\nhealth-interval = \"2s\"\n\
         [sites.primary]\ndb = \"{primary}\"\nprobe = [\"tcp://127.0.0.1:{probe_port}\"]\n\
         [sites.dr]\ndb = \"{dr}\"\nsource = \"primary\"\nreplicate = true\n\
         failover = \"auto\"\nfailover-after = \"3s\"\nfailover-cooldown = \"1m\"\non-promote = \"{hook}\"\n",
        repo = p(&dir.join("repo")),
    );
    let cfg = dir.join("tandem.toml");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// A site of the daemon's `/api/status`.
fn site<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["sites"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()
}

fn platform(cfg: &Path) -> serde_json::Value {
    tandem(&["--config", p(cfg), "--json", "status"]).json()
}

fn site_role<'a>(status: &'a serde_json::Value, site: &str) -> &'a serde_json::Value {
    &status["sites"].as_array().unwrap().iter().find(|s| s["site"] == site).unwrap()["role"]
}

fn events(hook: &Webhook, event: &str, site: &str) -> Vec<serde_json::Value> {
    hook.events().into_iter().filter(|e| e["event"] == event && e["site"] == site).collect()
}

/// Waits until the replica `dr` holds `rows` rows of `t`.
fn wait_rows(server: &Server, db: &str, rows: u32, daemon: &Daemon) {
    let end = Instant::now() + Duration::from_secs(120);
    while server.try_sql(db, "SELECT COUNT(*) FROM t").ok() != Some(rows.to_string()) {
        assert!(Instant::now() < end, "the replica never held {rows} rows; daemon log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether `db` on `server` refuses an application's writes: MariaDB's server-wide `read_only`,
/// PostgreSQL's `default_transaction_read_only` of the database (what a new session gets).
fn read_only(server: &Server, db: &str) -> bool {
    match server.flavor() {
        Flavor::MariaDb => server.sql("mysql", "SELECT @@global.read_only") == "1",
        Flavor::Postgres => server.sql(db, "SHOW default_transaction_read_only") == "on",
    }
}

/// A platform to fail over: a primary server of its own (the test stops it) whose database
/// `<prefix>_p` holds table `t` with one row, an empty database `<prefix>_dr` on the shared server
/// of the same engine, a directory and a webhook receiver.
struct Setup {
    primary_server: Server,
    dr_server: &'static Server,
    primary: String,
    dr: String,
    dir: tempfile::TempDir,
    webhook: Webhook,
}

fn setup(flavor: Flavor, prefix: &str) -> Setup {
    let primary_server = Server::start(flavor);
    let dr_server = Server::shared(flavor);
    let primary = primary_server.create_database(&format!("{prefix}_p"));
    primary_server.sql(&primary, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a');");
    let dr = dr_server.create_database(&format!("{prefix}_dr"));
    Setup { primary_server, dr_server, primary, dr, dir: tempfile::tempdir().unwrap(), webhook: Webhook::start() }
}

#[test]
fn a_daemon_fails_over_from_a_killed_mariadb_primary_and_fences_it_on_its_return() {
    fails_over_from_a_stopped_primary(Flavor::MariaDb);
}

#[test]
fn a_daemon_fails_over_from_a_stopped_postgres_primary_and_fences_it_on_its_return() {
    fails_over_from_a_stopped_primary(Flavor::Postgres);
}

/// The primary's server is stopped (MariaDB: SIGKILL; PostgreSQL: a fast shutdown, see
/// [`Server::stop`]) under a daemon whose standby fails over on its own.
fn fails_over_from_a_stopped_primary(flavor: Flavor) {
    let Setup { mut primary_server, dr_server, primary, dr, dir, webhook } = setup(flavor, "af");
    let cfg = config(dir.path(), &primary_server.url(&primary), &dr_server.url(&dr), primary_server.port(), &webhook.url);
    tandem(&["--config", p(&cfg), "repo", "init"]).ok();
    let daemon = Daemon::start(&cfg, &dir.path().join("serve.log"));
    primary_server.sql(&primary, "INSERT INTO t VALUES (2, 'b');");
    wait_rows(dr_server, &dr, 2, &daemon);
    let watching = daemon.wait_for("the source probed", Duration::from_secs(30), |s| site(s, "dr")["failover"]["failed_probes"] == 0);
    assert!(site(&watching, "dr")["failover"]["source_failing_since"].is_null(), "{watching}");
    assert!(platform(&cfg)["epoch"].is_null(), "no failover while the primary answers");
    tandem(&["--config", p(&cfg), "rejoin", "primary"]).fails_with(2, "the repository names no active site");

    assert_eq!(daemon.metric("tandem_failover_source_failing_seconds", "site=\"dr\""), Some(0.0));

    primary_server.stop(); // SIGKILL
    let killed = Instant::now();
    let done = daemon.wait_for("the automatic failover", Duration::from_secs(60), |s| {
        site(s, "dr")["failover"]["last_result"].as_str().is_some_and(|r| r.contains("failed over from primary to dr at epoch 1"))
    });
    let rto = killed.elapsed();
    eprintln!("automatic failover {:.1} s after the primary's death: {}", rto.as_secs_f64(), site(&done, "dr")["failover"]["last_result"]);
    assert!(rto < Duration::from_secs(30), "the failover took {rto:?}; daemon log:\n{}", daemon.log_text());
    let after = platform(&cfg);
    assert_eq!((after["epoch"]["epoch"].as_u64(), after["epoch"]["active"].as_str()), (Some(1), Some("dr")), "{after}");
    assert_eq!(site_role(&after, "dr")["role"], "active", "{after}");
    assert_eq!(dr_server.sql(&dr, "SELECT COUNT(*) FROM t"), "2", "every row the replica held before the death is there");
    dr_server.sql(&dr, "INSERT INTO t VALUES (3, 'written at dr');");

    let hook = std::fs::read_to_string(dir.path().join("hook.out")).expect("the on-promote hook ran");
    for line in ["TANDEM_EVENT=failover", "TANDEM_SITE=dr", "TANDEM_FROM=primary", "TANDEM_EPOCH=1", &format!("TANDEM_DB_NAME={dr}")] {
        assert!(hook.lines().any(|l| l == line), "{line} missing in the hook's environment:\n{hook}");
    }
    let wait_event = |event: &str, site: &str| {
        let end = Instant::now() + Duration::from_secs(30);
        while events(&webhook, event, site).is_empty() {
            assert!(Instant::now() < end, "no {event} alert for {site}: {:?}", webhook.events());
            std::thread::sleep(Duration::from_millis(200));
        }
        events(&webhook, event, site).remove(0)
    };
    assert!(wait_event("failover", "dr")["message"].as_str().unwrap().contains("RPO at most"));
    daemon.wait_for("replication to stop into the promoted site", Duration::from_secs(30), |s| {
        site(s, "dr")["replication"]["idle"].as_str().is_some_and(|i| i.contains("the site is active"))
    });

    // The old primary comes back writable, with no role: fenced before the operator acts.
    primary_server.start_again();
    let back = Instant::now();
    let end = back + Duration::from_secs(30);
    while !read_only(&primary_server, &primary) {
        assert!(Instant::now() < end, "the returned primary was not fenced; daemon log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("the returned primary was fenced {:.1} s after it answered again", back.elapsed().as_secs_f64());
    assert!(wait_event("site_fenced", "primary")["message"].as_str().unwrap().contains("no role"));
    let settled = tandem(&["--config", p(&cfg), "--json", "status"]);
    assert_eq!(settled.code, 0, "no problem left: {}", settled.stdout);
    let settled = settled.json();
    assert_eq!((site_role(&settled, "primary")["role"].as_str(), site_role(&settled, "primary")["epoch"].as_u64()), (Some("fenced"), Some(1)), "{settled}");
    assert_eq!(primary_server.sql(&primary, "SELECT COUNT(*) FROM t"), "2", "the fence changed no row");
    assert!(events(&webhook, "failover", "dr").len() == 1, "one failover: {:?}", webhook.events());
    drop(daemon);

    // Everything the primary committed had reached dr: it rejoins with nothing to discard.
    let cfg2 = dir.path().join("after.toml");
    let flipped = format!(
        "repo = \"{}\"\n[sites.dr]\ndb = \"{}\"\n[sites.primary]\ndb = \"{}\"\nsource = \"dr\"\n",
        p(&dir.path().join("repo")),
        dr_server.url(&dr),
        primary_server.url(&primary)
    );
    std::fs::write(&cfg2, flipped).unwrap();
    let rejoined = tandem(&["--config", p(&cfg2), "rejoin", "primary"]).ok();
    assert!(rejoined.stdout.contains("stray writes of primary: none"), "{}", rejoined.stdout);
    assert_eq!(primary_server.sql(&primary, "SELECT COUNT(*) FROM t"), "3", "the old primary holds dr's content");
}

/// A TCP proxy the test can cut (every connection closed, new ones refused) and heal.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    fn start(to: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else { continue };
                for (mut from, mut into) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        use std::io::{Read, Write};
                        let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
                        loop {
                            if flag.load(Ordering::SeqCst) {
                                break;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if into.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

#[test]
fn split_brain_the_cut_off_primary_is_fenced_when_the_network_heals() {
    let Setup { primary_server, dr_server, primary, dr, dir, webhook } = setup(Flavor::MariaDb, "sb");
    // The daemon (and its replication) reaches the primary only through the proxy.
    let proxy = Proxy::start(primary_server.port());
    let through_proxy = primary_server.url(&primary).replace(&format!(":{}/", primary_server.port()), &format!(":{}/", proxy.port));
    assert_ne!(through_proxy, primary_server.url(&primary));
    let cfg = config(dir.path(), &through_proxy, &dr_server.url(&dr), proxy.port, &webhook.url);
    tandem(&["--config", p(&cfg), "repo", "init"]).ok();
    // The primary holds the active role of epoch 1.
    tandem(&["--config", p(&cfg), "promote", "primary", "--force"]).ok();
    let daemon = Daemon::start(&cfg, &dir.path().join("serve.log"));
    primary_server.sql(&primary, "INSERT INTO t VALUES (2, 'b');");
    wait_rows(dr_server, &dr, 2, &daemon);

    // Cut: the primary lives on for its own clients, but the DR side sees it gone.
    proxy.set_cut(true);
    daemon.wait_for("the failover across the cut", Duration::from_secs(60), |s| {
        site(s, "dr")["failover"]["last_result"].as_str().is_some_and(|r| r.contains("failed over from primary to dr at epoch 2"))
    });
    primary_server.sql(&primary, "INSERT INTO t VALUES (3, 'stray write');");
    let during = platform(&cfg);
    assert_eq!(site_role(&during, "dr")["role"], "active", "{during}");

    // Heal: the daemon sees the primary active at an old epoch and fences it.
    proxy.set_cut(false);
    let end = Instant::now() + Duration::from_secs(30);
    while !read_only(&primary_server, &primary) {
        assert!(Instant::now() < end, "the healed primary was not fenced; daemon log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let fenced = events(&webhook, "site_fenced", "primary");
    assert!(fenced.iter().any(|e| e["message"].as_str().unwrap().contains("it was active at epoch 1")), "{:?}", webhook.events());
    let settled = tandem(&["--config", p(&cfg), "--json", "status"]);
    assert_eq!(settled.code, 0, "{}", settled.stdout);
    let settled = settled.json();
    let active: Vec<&str> =
        settled["sites"].as_array().unwrap().iter().filter(|s| s["role"]["role"] == "active").map(|s| s["site"].as_str().unwrap()).collect();
    assert_eq!(active, ["dr"], "exactly one active site: {settled}");
    assert_eq!(settled["epoch"]["epoch"], 2, "one epoch won: {settled}");
    assert_eq!(site_role(&settled, "primary")["epoch"], 2, "{settled}");
    // The stray write stays at the old primary only, for the operator to look at.
    assert_eq!(primary_server.sql(&primary, "SELECT v FROM t WHERE id = 3"), "stray write");
    assert_eq!(dr_server.sql(&dr, "SELECT COUNT(*) FROM t WHERE id = 3"), "0");
    drop(daemon);

    // Rejoin: the old primary becomes dr's standby, its stray write listed before it goes.
    dr_server.sql(&dr, "INSERT INTO t VALUES (4, 'written at dr');");
    tandem(&["--config", p(&cfg), "rejoin", "primary"]).fails_with(2, "set `source = \"dr\"` in [sites.primary]");
    let cfg2 = dir.path().join("after.toml");
    let flipped = format!(
        "repo = \"{}\"\n[sites.dr]\ndb = \"{}\"\n[sites.primary]\ndb = \"{through_proxy}\"\nsource = \"dr\"\n",
        p(&dir.path().join("repo")),
        dr_server.url(&dr)
    );
    std::fs::write(&cfg2, flipped).unwrap();
    tandem(&["--config", p(&cfg2), "rejoin", "dr"]).fails_with(5, "dr is the platform's active site (epoch 2)");
    tandem(&["--config", p(&cfg2), "rejoin", "nowhere"]).fails_with(2, "unknown site \"nowhere\"");
    let refused = tandem(&["--config", p(&cfg2), "rejoin", "primary"]).fails_with(5, "primary committed 1 transaction(s) that dr never got");
    assert!(refused.stderr.contains("--discard-stray-writes"), "{}", refused.stderr);
    assert!(refused.stdout.lines().any(|l| l.contains("t insert 1")), "the stray write is listed:\n{}", refused.stdout);
    assert_eq!(primary_server.sql(&primary, "SELECT COUNT(*) FROM t"), "3", "a refused rejoin changes nothing");
    let rejoined = tandem(&["--config", p(&cfg2), "rejoin", "primary", "--discard-stray-writes"]).ok();
    assert!(rejoined.stdout.contains("primary rejoined as a standby of dr (epoch 2)"), "{}", rejoined.stdout);
    assert_eq!(primary_server.sql(&primary, "SELECT GROUP_CONCAT(id ORDER BY id) FROM t"), "1,2,4", "the old primary holds dr's content");
    let after = platform(&cfg2);
    assert_eq!((site_role(&after, "primary")["role"].as_str(), site_role(&after, "primary")["epoch"].as_u64()), (Some("standby"), Some(2)), "{after}");
    let again = tandem(&["--config", p(&cfg2), "rejoin", "primary"]).ok();
    assert!(again.stdout.contains("primary is a standby in the platform's epoch already"), "{}", again.stdout);
}

#[test]
fn bad_failover_settings_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = "repo = \"/nonexistent\"\n[sites.primary]\ndb = \"mysql://u@127.0.0.1:1/p\"\n";
    let cases = [
        (
            "[sites.dr]\ndb = \"mysql://u@127.0.0.1:1/d\"\nsource = \"primary\"\nfailover = \"sometimes\"\n",
            "line 7: sites.dr.failover: \"sometimes\" is neither",
        ),
        (
            "[sites.dr]\ndb = \"mysql://u@127.0.0.1:1/d\"\nfailover = \"auto\"\n",
            "sites.dr.failover: an automatic failover promotes the site when its source is gone; add `source",
        ),
        (
            "[sites.dr]\ndb = \"mysql://u@127.0.0.1:1/d\"\nsource = \"primary\"\nfailover = \"auto\"\nfailover-after = \"0s\"\n",
            "failover-after must be at least 1s",
        ),
        ("[sites.dr]\ndb = \"mysql://u@127.0.0.1:1/d\"\nsource = \"primary\"\nfailover-after = \"30s\"\n", "apply to `failover = \"auto\"` only"),
        (
            "[sites.dr]\ndb = \"mysql://u@127.0.0.1:1/d\"\nsource = \"primary\"\nfailover = \"auto\"\nfailover-max-lag = \"soon\"\n",
            "sites.dr.failover-max-lag: invalid duration",
        ),
        ("[sites.dr]\ndb = \"mysql://u@127.0.0.1:1/d\"\nprobe = [\"udp://u:secret@h:1\"]\n", "sites.dr.probe: probe udp://h:1: scheme udp:// is neither"),
    ];
    for (site, needle) in cases {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, format!("{base}{site}")).unwrap();
        let run = tandem(&["--config", p(&cfg), "serve"]).fails_with(2, needle);
        assert!(!run.stderr.contains("secret"), "{}", run.stderr);
    }
}

/// Two daemons watch the same platform (one repository, one config): only the lease holder
/// fails over, so the primary's death gives exactly one failover and one epoch; when the holder
/// dies too, the other daemon takes the lease and finds nothing left to do.
#[test]
fn two_daemons_one_failover() {
    let Setup { mut primary_server, dr_server, primary, dr, dir, webhook } = setup(Flavor::MariaDb, "two");
    let cfg = config(dir.path(), &primary_server.url(&primary), &dr_server.url(&dr), primary_server.port(), &webhook.url);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen("[serve]\n", "[serve]\nlease-ttl = \"3s\"\n", 1);
    std::fs::write(&cfg, text).unwrap();
    tandem(&["--config", p(&cfg), "repo", "init"]).ok();
    let first = Daemon::start(&cfg, &dir.path().join("first.log"));
    first.wait_for("the lease", Duration::from_secs(30), |s| s["lease"]["held"] == true);
    let second = Daemon::start(&cfg, &dir.path().join("second.log"));
    primary_server.sql(&primary, "INSERT INTO t VALUES (2, 'b');");
    wait_rows(dr_server, &dr, 2, &first);
    first.wait_for("the source probed", Duration::from_secs(30), |s| site(s, "dr")["failover"]["failed_probes"] == 0);
    assert_eq!(second.status()["lease"]["held"], false, "one holder");

    primary_server.stop();
    first.wait_for("the automatic failover", Duration::from_secs(60), |s| {
        site(s, "dr")["failover"]["last_result"].as_str().is_some_and(|r| r.contains("failed over from primary to dr at epoch 1"))
    });
    // Longer than failover-after again: the daemon without the lease never tried.
    std::thread::sleep(Duration::from_secs(5));
    let idle = second.status();
    assert_eq!(idle["lease"]["held"], false, "{idle}");
    assert!(site(&idle, "dr")["failover"]["last_attempt"].is_null(), "the daemon without the lease does not fail over: {idle}");

    // The holder dies: the other takes the lease, sees dr active at epoch 1, and does nothing.
    drop(first);
    second.wait_for("the lease to move", Duration::from_secs(30), |s| s["lease"]["held"] == true);
    std::thread::sleep(Duration::from_secs(6));
    let after = second.status();
    assert!(site(&after, "dr")["failover"]["last_attempt"].is_null(), "nothing to fail over from any more: {after}");
    let status = platform(&cfg);
    assert_eq!((status["epoch"]["epoch"].as_u64(), status["epoch"]["active"].as_str()), (Some(1), Some("dr")), "one epoch won: {status}");
    assert_eq!(events(&webhook, "failover", "dr").len(), 1, "one failover: {:?}", webhook.events());
    assert_eq!(dr_server.sql(&dr, "SELECT COUNT(*) FROM t"), "2");
}
