//! Command-line syntax (clap). Every read command takes `--json`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;
use secrecy::SecretString;

mod moves;
pub use moves::*;

/// tandem: disaster recovery for the metadata databases of a data platform (Hive Metastore,
/// Airflow, or any MySQL/MariaDB or PostgreSQL database): consistent backups into an
/// object-store repository, all-or-nothing restores into another region.
#[derive(Debug, Parser)]
#[command(name = "tandem", version = env!("TANDEM_VERSION"), propagate_version = true, max_term_width = 100, after_help = EXAMPLES)]
pub struct Cli {
    /// Configuration file naming sites and the repository (see README).
    #[arg(long, global = true, env = "TANDEM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Repository: a local path, file://, s3://bucket/prefix, gs://bucket/prefix or
    /// az://container/prefix (credentials from the usual environment variables). Overrides the
    /// config's `repo`.
    #[arg(long, global = true, env = "TANDEM_REPO", value_name = "REPO")]
    pub repo: Option<String>,

    /// Read the key of an encrypted repository from FILE (less one trailing newline).
    /// Default: the variable TANDEM_REPO_KEY, then the config's `repo-key-file` or
    /// `repo-key-command`.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "repo_key_command")]
    pub repo_key_file: Option<PathBuf>,

    /// Run CMD with `sh -c` and use its output (less one trailing newline) as the key of an
    /// encrypted repository, e.g. `pass show tandem` or a secret manager's CLI.
    #[arg(long, global = true, value_name = "CMD")]
    pub repo_key_command: Option<String>,

    /// Print results as JSON on stdout (no progress bars).
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  tandem backup --source mysql://hive:pw@db-us:3306/metastore --repo s3://dr-bucket/tandem
  tandem backups list --repo s3://dr-bucket/tandem
  tandem restore --target mysql://hive:pw@db-eu/metastore --repo s3://dr-bucket/tandem --dry-run
  tandem restore --target postgres://hive:pw@db-eu/metastore --repo s3://dr-bucket/tandem \\
      --map-location gs://lake-us/=gs://lake-eu/ --require-mapped
  tandem --config tandem.toml backup primary
  tandem --config tandem.toml restore dr --standby      # Airflow: a passive DR site
  tandem --config tandem.toml promote dr --interrupted rerun
  tandem repo init --repo s3://dr-bucket/tandem --encrypt --repo-key-file /etc/tandem/key
  tandem backup --source mysql://hive:pw@db-us/metastore --repo s3://dr-bucket/tandem \\
      --repo-key-command 'pass show tandem/repo'

Exit codes: 0 ok, 2 bad input, 3 unreachable, 4 corrupt data, 5 conflict, 6 unsupported,
10 internal error.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take one consistent snapshot of a database into the repository; prints the backup id last.
    Backup(BackupArgs),
    /// Restore a backup (the newest by default) into a database, all-or-nothing.
    Restore(RestoreArgs),
    /// Make a standby site active: its role becomes active at the next epoch (claimed in the
    /// repository when the site is named and a repository given); for Airflow, unpause exactly
    /// the DAGs that were active at the source and treat interrupted runs by policy. Replication
    /// and refreshes into the site stop. Prints what it changed.
    Promote(PromoteArgs),
    /// Make an active site passive: its role becomes fenced (tandem writes nothing into it until
    /// a refresh or bootstrap makes it a standby again); for Airflow, pause every DAG,
    /// remembering which were active, so a later `promote` of this site restores them exactly.
    Fence(FenceArgs),
    /// Probe a site: database reachable, scheduler heartbeat age. Exit 0 healthy, 1 unhealthy.
    Health(HealthArgs),
    /// Move the platform to a replica of the active site with nothing lost: check the replica
    /// (replicating, within --max-lag), fence the active site (its role, its system, its writes:
    /// read-only and its sessions ended), wait until the replica holds the site's final log
    /// position, claim the next epoch, promote the replica. Prints the timed steps, the RPO (0)
    /// and the RTO. When the replica does not catch up, the old site is made active again. A
    /// standby kept by refresh gets the fenced site's final state by a backup and a refresh.
    /// Then runs the new site's `on-promote` hook (exit 5 if it fails; the move stays done).
    Switchover(SwitchoverArgs),
    /// Move the platform to a standby when the active site is gone: claim the next epoch (of two
    /// racing failovers exactly one goes on), fence the old site if it can be reached, promote
    /// the standby. Refuses a standby further behind than --max-lag unless --force. Prints the
    /// timed steps, the RPO it got (the standby's lag) and the RTO, then runs the standby's
    /// `on-promote` hook (exit 5 if it fails; the move stays done). `tandem serve` does this on
    /// its own for a site with `failover = "auto"`.
    Failover(FailoverArgs),
    /// Make a site that a switchover or failover left behind a standby of the platform's active
    /// site (its `source` must name it): fence it if needed, list the writes it committed that
    /// the active site never got (from its log, after the position the active site had applied
    /// as its replica), refuse while there are any unless --discard-stray-writes, then back the
    /// active site up and restore that backup into it as a standby.
    Rejoin(RejoinArgs),
    /// The platform at a glance: its epoch in the repository (which site is active, since when)
    /// and every configured site's role, epoch, reachability and freshness. Exit 0 when all is
    /// well, 1 when a site cannot be reached or is active when it must not be (fence it).
    Status,
    /// Compare two databases of one system object by object (a metastore's databases, tables,
    /// partitions, functions, privileges, statistics), or a backup with a database. Exit 0 iff
    /// equal, 1 if they differ.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// List, show and prune backups.
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// Inspect the repository itself.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Restore the newest backup of a site's `source` into it (a standby), replacing its content
    /// only once the new one is complete. What `tandem serve` runs on the `refresh` schedule.
    Refresh(RefreshArgs),
    /// Prove that a site can be rebuilt from the repository, and measure how fast: restore the
    /// backup a refresh of the site would restore (a site without `source`: its own newest)
    /// into a scratch database, check that the system recognises the copy, drop it. Prints the
    /// timeline, the RPO (the snapshot's age) and the RTO (the time to a usable copy), and keeps
    /// the report in the repository. With `--switchover`: move the platform to the site (a
    /// replica) and back instead, without a copy either way, verifying the old site before the
    /// way back. Exit 0 if every step succeeded, 1 if one failed.
    Drill(DrillArgs),
    /// List and show the reports of past drills (kept in the repository).
    #[command(subcommand)]
    Drills(DrillsCommand),
    /// Keep a site within seconds of its `source` by streaming the source's committed changes
    /// (MySQL/MariaDB binlog, PostgreSQL logical decoding) into it, until Ctrl-C/SIGTERM (which
    /// stops between transactions). The first run bootstraps the replica from a fresh backup
    /// (or one in the repository).
    #[command(after_help = REPLICATE_HELP, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Replicate(ReplicateArgs),
    /// Run the daemon: every site's scheduled backups, refreshes and drills, the retention
    /// policy, health probes, alerts, Prometheus metrics and a status page over HTTP.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Print the shell completion script: `source <(tandem completions bash)`, or save it as
    /// bash-completion/completions/tandem (zsh: a `_tandem` on $fpath; fish:
    /// ~/.config/fish/completions/tandem.fish). It asks `tandem` for each completion, so site
    /// names come from the config given with --config or TANDEM_CONFIG.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: String,
    },
    /// Write the man pages (tandem.1 and one per subcommand) into DIR.
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Site from the config file to refresh (it names its `source`).
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: String,
}

#[derive(Debug, Args)]
pub struct ReplicateArgs {
    /// Site from the config file to keep current (it names its `source`).
    #[arg(required = true, add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: Option<String>,
    /// Copy the source afresh (a new backup, restored over the replica's content) and stream
    /// from there: after a schema change, a purged binlog or a divergence.
    #[arg(long)]
    pub rebootstrap: bool,
    /// Bootstrap from a backup already in the repository (its ID, or the newest of the source
    /// when no ID is given) instead of taking a new one: no full read of the source, which must
    /// still keep its log from the backup's position. Default: the site's `seed`.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "latest")]
    pub from_backup: Option<String>,
    #[command(subcommand)]
    pub command: Option<ReplicateCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ReplicateCommand {
    /// Where a replica stands, from its checkpoint: source, position, last applied source commit,
    /// when it was last written, whether replication stopped or is paused and why. Exit 1 when
    /// the site is no replica or replication stopped.
    Status {
        /// Site from the config file.
        #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
        site: String,
    },
    /// The kill switch: stop applying changes to the replica, durably (a running `replicate`
    /// or daemon stops within a second and waits; restarts stay paused). The position is kept.
    Pause {
        /// Site from the config file.
        #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
        site: String,
        /// Why, shown by `status` and the daemon.
        #[arg(long, default_value = "paused by hand")]
        reason: String,
    },
    /// Undo `pause`: replication goes on from the kept position.
    Resume {
        /// Site from the config file.
        #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
        site: String,
    },
    /// Remove what the replica keeps on its source: a PostgreSQL source's replication slot
    /// and tandem's publication, so an abandoned replica no longer makes the source keep WAL.
    /// The replica's content stays; streaming into it again needs `--rebootstrap`.
    Drop {
        /// Site from the config file (the replica).
        #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
        site: String,
    },
}

const REPLICATE_HELP: &str = "\
A MySQL/MariaDB source must log row images: log_bin on, binlog_format = ROW, binlog_row_image =
FULL, and tandem's user needs REPLICATION SLAVE (MariaDB: also BINLOG MONITOR). A PostgreSQL
source needs wal_level = logical, a free replication slot and wal sender, and a user with the
REPLICATION attribute that owns the replicated tables: the bootstrap makes a publication and a
slot named tandem_<replica site> (or streams the publication named by the site's
`publication`), and every replicated table needs a primary key or REPLICA IDENTITY FULL. The
slot keeps the WAL the replica has not applied: `replicate status` shows how much, and
`replicate drop` removes slot and publication of a replica given up. The replica holds its
position in table tandem_replication, written in the same transaction as the rows it applies, so
a crash or kill resumes exactly where it stopped. A schema change (DDL) at the source stops
replication with the statement named; `--rebootstrap` continues. An unreachable source or replica
is retried (1 s, doubling to 30 s). The replica site's `include` / `exclude` table patterns choose
the tables whose rows are replicated. `replicate status` tells how long the source still keeps the
binlog the replica needs; `tandem verify ... --replica` compares a live replica with its source
at one point.

Examples:
  tandem --config tandem.toml replicate dr
  tandem --config tandem.toml replicate dr --from-backup
  tandem --config tandem.toml replicate dr --rebootstrap
  tandem --config tandem.toml verify --source primary --target dr --replica
  tandem --config tandem.toml replicate status dr --json
  tandem --config tandem.toml replicate drop dr
  tandem --config tandem.toml replicate pause dr --reason \"failover drill\"
  tandem --config tandem.toml replicate resume dr";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTP address (default: `listen` of [serve], else 127.0.0.1:9187; port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
}

const SERVE_HELP: &str = "\
Configuration (tandem.toml, see README):
  repo = \"s3://dr-bucket/tandem\"
  [sites.primary]
  db = \"mysql://hive:${PW}@db-us/metastore\"
  backup = \"*/15 * * * *\"            # cron in UTC; 6 fields = seconds first
  [sites.dr]
  db = \"postgres://hive:${PW_DR}@db-eu/metastore\"
  source = \"primary\"
  refresh = \"*/30 * * * *\"
  map-location = [\"gs://lake-us/=gs://lake-eu/\"]
  [serve]
  token-file = \"/etc/tandem/token\"   # enables POST /api/v1/sites/{site}/backup|refresh|drill
  webhook = \"https://hooks.example.com/tandem\"
  [retention]
  keep-last = 96

HTTP: / (status page), /healthz, /metrics (Prometheus), /api/status (JSON),
POST /api/v1/sites/{site}/backup and /refresh (Authorization: Bearer TOKEN), GET /api/v1/jobs/{id}.
Only the daemon holding the repository's lease runs jobs; run a second one in the other region
and it takes over within lease-ttl. SIGTERM lets running jobs finish (shutdown-grace), then
aborts them: no half backup is listed and no standby is left half refreshed.";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Site from the config file whose database to back up.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: Option<String>,
    /// Database URL: mysql://, mariadb://, postgres:// or postgresql://
    /// user:password@host:port/database. Overrides the site's `db`.
    #[arg(long, value_name = "DB_URL")]
    pub source: Option<String>,
    /// What the database is: auto (recognise it), generic (any schema, copied as it is),
    /// hive-metastore or airflow (refused if the database is not one).
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,
    /// Tables copied at once (all on one snapshot).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Site from the config file to restore into.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: Option<String>,
    /// Database URL to restore into (created if missing). Overrides the site's `db`.
    #[arg(long, value_name = "DB_URL")]
    pub target: Option<String>,
    /// Backup id to restore (default: the newest).
    #[arg(long, value_name = "ID")]
    pub backup: Option<String>,
    /// Replace the content of a non-empty target (only once the new content is complete).
    #[arg(long)]
    pub force: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite storage locations that start with FROM to start with TO (Hive Metastore backups:
    /// database, table and partition locations, Spark `path` properties, function jars, Avro
    /// schema URLs). Prefixes match at path boundaries; the longest FROM wins. Repeatable; adds
    /// to the site's `map-location` list.
    #[arg(long = "map-location", value_name = "FROM=TO")]
    pub map_location: Vec<String>,
    /// Fail (changing nothing) if any location still points at the bucket of a FROM after the
    /// map.
    #[arg(long)]
    pub require_mapped: bool,
    /// Make the restored site a passive standby (Airflow: every DAG paused, the ones active at
    /// the source remembered for `tandem promote`).
    #[arg(long)]
    pub standby: bool,
    /// PostgreSQL targets: give every restored object to this role (which must exist), instead
    /// of the owners recorded in the backup. Without it, each object gets its recorded owner and
    /// grants when that role exists on the target (else it stays the restoring user's, with a
    /// warning). Default: the site's `owner` in the config.
    #[arg(long, value_name = "ROLE")]
    pub owner: Option<String>,
    /// Fernet key (or comma-separated keys) of the source site: with --fernet-key-to, secrets
    /// are re-encrypted for the target (Airflow connections, variables, triggers). Default: the
    /// `fernet-key` of the site's `source` in the config.
    #[arg(long, env = "TANDEM_FERNET_KEY_FROM", value_name = "KEY", hide_env_values = true, allow_hyphen_values = true, value_parser = secret)]
    pub fernet_key_from: Option<SecretString>,
    /// Fernet key of the target site. Default: the site's `fernet-key` in the config.
    #[arg(long, env = "TANDEM_FERNET_KEY_TO", value_name = "KEY", hide_env_values = true, allow_hyphen_values = true, value_parser = secret)]
    pub fernet_key_to: Option<SecretString>,
}

const VERIFY_EXAMPLES: &str = "\
Examples:
  tandem verify --source mysql://hive:pw@db-us/metastore --target postgres://hive:pw@db-eu/metastore \\
      --map-location gs://lake-us/=gs://lake-eu/
  tandem verify --repo s3://dr-bucket/tandem --backup latest --target mysql://hive:pw@db-eu/metastore
  tandem --config tandem.toml verify --source primary --target dr

Output: per kind of object the counts GOOD, BAD, ONLY_IN_SOURCE, ONLY_IN_TARGET, then the first
differences by name, e.g. `retail.orders partition order_status=COMPLETE: location differs: ...`.
Exit codes: 0 equal, 1 different, 2 bad input, 3 unreachable, 6 unsupported system.";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Database URL or site name of the source (the side the backup was taken from).
    #[arg(long, value_name = "DB_URL|SITE", conflicts_with = "backup")]
    pub source: Option<String>,
    /// Compare this backup (an id, or `latest`) of the repository instead of a source database:
    /// it is restored into a scratch database first (see --scratch) and dropped afterwards.
    #[arg(long, value_name = "ID")]
    pub backup: Option<String>,
    /// Database URL or site name of the target (the restored copy).
    #[arg(long, value_name = "DB_URL|SITE")]
    pub target: String,
    /// Where --backup is restored to be compared (default: database `<target>_tandem_verify` on
    /// the target's server); replaced if it exists, dropped at the end.
    #[arg(long, value_name = "DB_URL", requires = "backup")]
    pub scratch: Option<String>,
    /// Map the source's storage locations as the restore did (FROM=TO, repeatable; adds to the
    /// target site's `map-location` list).
    #[arg(long = "map-location", value_name = "FROM=TO")]
    pub map_location: Vec<String>,
    /// How many differences to list by name (all are counted).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_differences: usize,
    /// The target is a live replica of the source (`tandem replicate`): it is held at the
    /// position of the source's snapshot while both are read (it applies everything up to
    /// there, then waits), so they are compared at one point of the source's history; released
    /// at the end. Needs `tandem replicate` running for it.
    #[arg(long, requires = "source")]
    pub replica: bool,
    /// Fernet key of the source, to compare encrypted values decrypted (Airflow). Default: the
    /// source site's `fernet-key`.
    #[arg(long, env = "TANDEM_FERNET_KEY_SOURCE", value_name = "KEY", hide_env_values = true, allow_hyphen_values = true, value_parser = secret)]
    pub fernet_key_source: Option<SecretString>,
    /// Fernet key of the target. Default: the target site's `fernet-key`.
    #[arg(long, env = "TANDEM_FERNET_KEY_TARGET", value_name = "KEY", hide_env_values = true, allow_hyphen_values = true, value_parser = secret)]
    pub fernet_key_target: Option<SecretString>,
}

#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// List backups, oldest first.
    List,
    /// Show one backup: tables, rows, bytes, snapshot position, duration, system.
    Show {
        /// Backup id, or `latest`.
        id: String,
    },
    /// Delete backups a retention policy does not keep, then chunks nothing references.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep the newest N backups.
    #[arg(long, value_name = "N")]
    pub keep_last: usize,
    /// Also keep the newest backup of each of the newest N days (UTC).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_daily: usize,
    /// Only delete unreferenced chunks older than this (protects backups running elsewhere).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::config::parse_duration)]
    pub grace: std::time::Duration,
    /// Print what would be deleted and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository: plain, or with --encrypt encrypted with the repository key
    /// (TANDEM_REPO_KEY, --repo-key-file or --repo-key-command) as its first key. (`backup`
    /// creates a missing repository too: encrypted if a key is given.)
    #[command(after_help = ENCRYPTION_HELP)]
    Init {
        /// Encrypt everything tandem writes there (needs a repository key).
        #[arg(long)]
        encrypt: bool,
        /// Label of the first key, shown by `repo key list`.
        #[arg(long, value_name = "TEXT", requires = "encrypt")]
        label: Option<String>,
    },
    /// Check that every manifest parses and every chunk it references exists.
    Check {
        /// Also read every chunk and verify its hash (and, encrypted, its authentication tag).
        #[arg(long)]
        read_data: bool,
    },
    /// The keys of an encrypted repository: each opens it; the data is not re-encrypted.
    #[command(subcommand, after_help = ENCRYPTION_HELP)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the keys (id, when and where added, label); `*` marks the one given.
    List,
    /// Add a key: the repository is opened with the current key, the new one comes from
    /// --new-key-file or --new-key-command.
    Add {
        /// File holding the new key (less one trailing newline).
        #[arg(long, value_name = "FILE", required_unless_present = "new_key_command", conflicts_with = "new_key_command")]
        new_key_file: Option<PathBuf>,
        /// Command (`sh -c`) printing the new key.
        #[arg(long, value_name = "CMD")]
        new_key_command: Option<String>,
        /// Label shown by `repo key list`.
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
    /// Remove a key by its id. Refused for the last key and for the key given to open the
    /// repository (open it with another key to remove that one).
    Remove {
        /// Key id, as `repo key list` shows it.
        id: String,
    },
}

const ENCRYPTION_HELP: &str = "\
An encrypted repository seals chunks, manifests, locks and the daemon's records with
XChaCha20-Poly1305 under a random data key; chunk names are keyed hashes. Only tandem-repo.json
and the key slots (keys/<id>.json: the data key wrapped by an Argon2id-derived key per
passphrase) are plain text. Every command needs one of its keys: --repo-key-file FILE,
--repo-key-command CMD, TANDEM_REPO_KEY, or `repo-key-file` / `repo-key-command` in tandem.toml.
A lost key cannot be recovered: add a second one and keep it elsewhere.

Examples:
  TANDEM_REPO_KEY=\"$(cat key)\" tandem repo init --repo s3://dr-bucket/tandem --encrypt
  tandem repo key add --repo s3://dr-bucket/tandem --repo-key-file key --new-key-file key2 --label vault
  tandem repo key list --repo s3://dr-bucket/tandem --repo-key-file key2
  tandem repo key remove 3f2a9c0b1d2e4f56 --repo s3://dr-bucket/tandem --repo-key-file key2";

/// A secret flag value: held so that no `Debug` of the arguments shows it.
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fernet_keys_may_start_with_a_dash() {
        let key = "-Kx3-uoB8xkD0VNkqWEzLG5l0qZOWw9a3yZcsoRnuI0=";
        let cli = Cli::try_parse_from(["tandem", "restore", "--fernet-key-from", key, "--fernet-key-to", key]).unwrap();
        let Command::Restore(args) = cli.command else { panic!("not a restore") };
        use secrecy::ExposeSecret;
        assert_eq!(args.fernet_key_from.as_ref().map(|k| k.expose_secret()), Some(key));
        assert_eq!(args.fernet_key_to.as_ref().map(|k| k.expose_secret()), Some(key));
        assert!(!format!("{args:?}").contains(key), "Debug hides the keys");
    }
}
