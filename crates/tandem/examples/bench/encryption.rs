//! `bench --encryption`: the cost of an encrypted repository. On the same generated database,
//! in the same run, tandem backs up into a fresh plain and a fresh encrypted repository and
//! restores from each, `ROUNDS` times, the order alternating per round so that drift in the
//! machine's load hits both alike. Prints per engine and step the times, their medians and the
//! ratio encrypted / plain (goal ≤ 1.10). Every restored copy is checked against the source.

use std::collections::BTreeMap;

use super::*;

/// Measured rounds (each: one backup and one restore per repository kind).
const ROUNDS: usize = 5;
/// The repository key of the encrypted runs (given as `TANDEM_REPO_KEY`).
const KEY: &str = "bench passphrase, not a secret";

/// `(step, encrypted)` → (wall time, client CPU seconds) of the rounds.
type Times = BTreeMap<(&'static str, bool), Vec<(f64, f64)>>;

struct EngineTimes {
    name: &'static str,
    version: String,
    rows: u64,
    times: Times,
    /// Repository size after the first backup: plain, encrypted.
    sizes: (u64, u64),
    /// Peak RSS MB of the encrypted backups and restores.
    rss: f64,
}

/// Runs the comparison; prints the Markdown table on stdout. False if any run failed or a
/// restored copy differs.
pub fn run(opts: &Opts, shape: &Shape, runner: &mut Runner) -> bool {
    let mut ok = true;
    let mut results = Vec::new();
    for flavor in [Flavor::MariaDb, Flavor::Postgres] {
        if opts.only.is_some_and(|o| o != flavor) {
            continue;
        }
        let (r, fine) = engine(flavor, opts, shape, runner);
        ok &= fine;
        results.push(r);
    }
    println!("\n{}", table(&results, opts));
    ok
}

fn engine(flavor: Flavor, opts: &Opts, shape: &Shape, runner: &mut Runner) -> (EngineTimes, bool) {
    let db = "metastore";
    let Generated { name, server, version, src, .. } = generate(flavor, db, shape);
    let rows = src.iter().map(|(_, n, _)| n).sum();
    let work = runner.work.join(format!("encryption-{}", name.to_lowercase()));
    std::fs::create_dir_all(&work).expect("work dir");
    let mut r = EngineTimes { name, version, rows, times: Times::new(), sizes: (0, 0), rss: 0.0 };
    let mut ok = true;
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for enc in order {
            let repo = work.join(format!("{}-{round}", kind(enc)));
            let mut cmd = tandem_backup_cmd(&server.url(db), &repo, opts.parallel);
            keyed(&mut cmd, enc);
            let run = runner.run(&format!("{name}: backup, {} repository, round {}", kind(enc), round + 1), cmd, None, None, &server);
            ok &= run.ok;
            r.times.entry(("backup", enc)).or_default().push((run.secs, run.cpu_client));
            if enc {
                r.rss = r.rss.max(run.rss_mb);
            }
            if round == 0 {
                let size = dir_size(&repo);
                if enc {
                    r.sizes.1 = size;
                } else {
                    r.sizes.0 = size;
                }
            }
        }
        for enc in order {
            let repo = work.join(format!("{}-{round}", kind(enc)));
            let target = format!("restored_{}_{round}", kind(enc));
            let mut cmd = tandem_restore_cmd(&server.url(&target), &repo);
            keyed(&mut cmd, enc);
            let run = runner.run(&format!("{name}: restore, {} repository, round {}", kind(enc), round + 1), cmd, None, None, &server);
            ok &= run.ok;
            r.times.entry(("restore", enc)).or_default().push((run.secs, run.cpu_client));
            if enc {
                r.rss = r.rss.max(run.rss_mb);
            }
            if run.ok {
                let m = compare(&src, &server, &target);
                log(format!("  restored copy matches: {} {}", match_str(&Some(m.clone())), m.detail));
                ok &= m.content;
            }
            drop_database(&server, &target);
            let _ = std::fs::remove_dir_all(&repo);
        }
    }
    (r, ok)
}

fn kind(encrypted: bool) -> &'static str {
    if encrypted {
        "encrypted"
    } else {
        "plain"
    }
}

/// The key for an encrypted run; none for a plain one (whatever the environment holds).
fn keyed(cmd: &mut Command, encrypted: bool) {
    match encrypted {
        true => cmd.env("TANDEM_REPO_KEY", KEY),
        false => cmd.env_remove("TANDEM_REPO_KEY"),
    };
}

fn drop_database(server: &Server, db: &str) {
    match server.flavor() {
        Flavor::MariaDb => server.sql("mysql", &format!("DROP DATABASE IF EXISTS `{db}`")),
        Flavor::Postgres => server.sql("postgres", &format!("DROP DATABASE IF EXISTS \"{db}\"")),
    };
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn table(results: &[EngineTimes], opts: &Opts) -> String {
    let mut s = format!(
        "- date: {}\n- rows per engine: {} (--rows {}), {ROUNDS} rounds, order alternating\n",
        chrono_now(),
        results.first().map_or(0, |r| r.rows),
        opts.rows
    );
    for r in results {
        s += &format!(
            "- {}: {}; repository after one backup: plain {} / encrypted {}; peak RSS of encrypted runs {:.0} MB\n",
            r.name,
            r.version,
            mb(r.sizes.0),
            mb(r.sizes.1),
            r.rss
        );
    }
    s += "\n| engine | step | plain s (rounds) | encrypted s (rounds) | median plain s | median encrypted s | encrypted / plain (≤ 1.10) | median client CPU s plain / encrypted |\n|---|---|---|---|---:|---:|---:|---:|\n";
    for r in results {
        for step in ["backup", "restore"] {
            let (p, e) = (&r.times[&(step, false)], &r.times[&(step, true)]);
            let wall = |v: &[(f64, f64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
            let cpu = |v: &[(f64, f64)]| median(&v.iter().map(|x| x.1).collect::<Vec<_>>());
            let list = |v: &[(f64, f64)]| v.iter().map(|x| format!("{:.1}", x.0)).collect::<Vec<_>>().join(", ");
            let (mp, me) = (median(&wall(p)), median(&wall(e)));
            let ratio = me / mp;
            let mark = if ratio <= 1.10 { "✓" } else { "✗" };
            s += &format!("| {} | {step} | {} | {} | {mp:.1} | {me:.1} | {ratio:.3} {mark} | {:.2} / {:.2} |\n", r.name, list(p), list(e), cpu(p), cpu(e));
        }
    }
    s
}

fn chrono_now() -> String {
    Command::new("date").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}
