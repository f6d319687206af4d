//! The arguments of the commands that move the platform or drill a move: promote, fence,
//! health, switchover, failover, rejoin, drill.

use clap::{Args, Subcommand};
use clap_complete::engine::ArgValueCompleter;

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Site from the config file to drill.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: String,
    /// The scratch database: missing or empty, on the site's engine, not a site's database.
    /// Default: the site's `drill-scratch`, else `<database>_tandem_drill` on the site's server.
    #[arg(long, value_name = "DB_URL")]
    pub scratch: Option<String>,
    /// Leave the scratch database in place to look at it (drop it before the next drill).
    #[arg(long)]
    pub keep: bool,
    /// Drill a switchover instead: the site (a replica of the active site, kept current by a
    /// running replication) becomes active and its source its replica, without a copy; after
    /// `--stay` the platform moves back the same way. Both moves are fenced and timed (RPO 0,
    /// RTO of each); the site's replication then goes on from where the way back left it.
    #[arg(long, conflicts_with_all = ["scratch", "keep"])]
    pub switchover: bool,
    /// How long the site stays active in a switchover drill (clients may write there: the way
    /// back brings their writes home).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::config::parse_duration, requires = "switchover")]
    pub stay: std::time::Duration,
    /// Refuse either move of a switchover drill when its replica trails by more than this.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::config::parse_duration, requires = "switchover")]
    pub max_lag: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum DrillsCommand {
    /// List the drills of every configured site (or of SITE), oldest first.
    List {
        #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
        site: Option<String>,
    },
    /// Show one drill's report and timeline.
    Show {
        /// Drill id (`tandem drills list`), or a site's name for its latest drill.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Site from the config file to promote.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: Option<String>,
    /// Database URL of the site. Overrides the site's `db`.
    #[arg(long, value_name = "DB_URL")]
    pub target: Option<String>,
    /// What to do with runs the disaster interrupted (queued or running in the copy): rerun
    /// (clear their unfinished tasks so the scheduler runs them again), fail, or leave.
    #[arg(long, value_name = "POLICY", default_value = "rerun", value_parser = ["rerun", "fail", "leave"])]
    pub interrupted: String,
    /// Promote a site that is not a standby (no DAG is unpaused then).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SwitchoverArgs {
    /// The site to make active: a replica or refreshed standby of the active site (its `source`).
    #[arg(long, value_name = "SITE", add = ArgValueCompleter::new(crate::shell::site_names))]
    pub to: String,
    /// Refuse when the replica trails its source by more than this.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub max_lag: std::time::Duration,
    /// What to do with the new site's interrupted runs (Airflow; see `promote`).
    #[arg(long, value_name = "POLICY", default_value = "leave", value_parser = ["rerun", "fail", "leave"])]
    pub interrupted: String,
    /// Check that the switchover can start; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Make the old active site a replica of the new one without a copy (a backup of the new
    /// site is taken first, for its table definitions). Set its `source` to the new site and
    /// replicate it: it goes on from the new site's position before the promote.
    #[arg(long, conflicts_with = "dry_run")]
    pub reverse: bool,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// The standby to make active (its `source` is the site that was active).
    #[arg(long, value_name = "SITE", add = ArgValueCompleter::new(crate::shell::site_names))]
    pub to: String,
    /// Refuse when the standby trails by more than this (what the failover would lose).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub max_lag: std::time::Duration,
    /// Fail over whatever the standby's lag, or when it is unknown (a standby kept by refresh).
    #[arg(long)]
    pub force: bool,
    /// What to do with the new site's interrupted runs (Airflow; see `promote`).
    #[arg(long, value_name = "POLICY", default_value = "rerun", value_parser = ["rerun", "fail", "leave"])]
    pub interrupted: String,
}

#[derive(Debug, Args)]
pub struct RejoinArgs {
    /// The former active site to make a standby.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: String,
    /// Replace what the site committed that the active site never got (listed first), or that
    /// cannot be listed (the active site was kept by refresh).
    #[arg(long)]
    pub discard_stray_writes: bool,
}

#[derive(Debug, Args)]
pub struct FenceArgs {
    /// Site from the config file to fence.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: Option<String>,
    /// Database URL of the site. Overrides the site's `db`.
    #[arg(long, value_name = "DB_URL")]
    pub target: Option<String>,
    /// Also stop its writes: MySQL/MariaDB `read_only` (server-wide) and PostgreSQL
    /// `default_transaction_read_only` on the database, and the sessions that could still write
    /// ended. `promote` allows writes again.
    #[arg(long)]
    pub read_only: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Site from the config file to probe.
    #[arg(add = ArgValueCompleter::new(crate::shell::site_names))]
    pub site: Option<String>,
    /// Database URL of the site. Overrides the site's `db`.
    #[arg(long, value_name = "DB_URL")]
    pub db: Option<String>,
    /// Oldest scheduler heartbeat that still counts as alive (Airflow's own check uses 30 s).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub threshold: std::time::Duration,
}
