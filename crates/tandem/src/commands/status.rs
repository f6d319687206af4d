//! `tandem status`: the platform's epoch in the repository, and each configured site's role,
//! epoch, reachability and freshness, with what is wrong among them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_core::role::Stray;
use tandem_engine::role::{Role, SiteRole};
use tandem_error::Result;
use tandem_repo::RoleRecord;

use super::Ctx;
use crate::output;
use crate::registry;

/// Exit code when something is wrong (a site unreachable, a stale or second active site).
const PROBLEMS: i32 = 1;

/// How long one site may take to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
struct SiteStatus {
    site: String,
    /// The site's `source`, if it is kept from one.
    source: Option<String>,
    reachable: bool,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Its role row; `None` when it has none.
    role: Option<SiteRole>,
    /// A replica's freshness, from its checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<Replica>,
}

#[derive(Debug, Serialize)]
struct Replica {
    position: String,
    last_commit_applied: DateTime<Utc>,
    /// At most this many seconds behind its source (heartbeat, else last applied commit).
    lag_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<String>,
}

#[derive(Debug, Serialize)]
struct PlatformStatus {
    /// The newest epoch claimed in the repository, if any.
    epoch: Option<RoleRecord>,
    sites: Vec<SiteStatus>,
    problems: Vec<String>,
}

pub async fn run(ctx: &Ctx) -> Result<i32> {
    // An unreadable repository is one more problem: the sites are still shown.
    let (epoch, repo_problem) = match ctx.has_repo() {
        true => match async { ctx.open_repo().await?.current_roles().await }.await {
            Ok(e) => (e, None),
            Err(e) => (None, Some(format!("the platform's epoch cannot be read: {e}"))),
        },
        false => (None, None),
    };
    let sites = futures::future::join_all(ctx.config.sites.keys().map(|name| probe(ctx, name))).await;
    // The epoch is about the sites linked to its active site (a repository may serve several
    // platforms).
    let linked = epoch.as_ref().map(|e| ctx.config.linked_sites(&e.active)).unwrap_or_default();
    let mut problems = problems(epoch.as_ref(), &sites, &linked);
    problems.extend(repo_problem);
    let status = PlatformStatus { epoch, sites, problems };
    if ctx.json {
        output::json(&status)?;
    } else {
        print(&status);
    }
    Ok(if status.problems.is_empty() { 0 } else { PROBLEMS })
}

async fn probe(ctx: &Ctx, name: &str) -> SiteStatus {
    let source = ctx.config.site(name).ok().and_then(|s| s.source().map(str::to_string));
    let mut status = SiteStatus { site: name.to_string(), source, reachable: false, error: None, role: None, replica: None };
    let read = async {
        let (engine, url) = registry::engine_for(ctx.config.site(name)?.db_url())?;
        let role = tandem_core::role::read(engine, &url).await?;
        let checkpoint = tandem_core::replica_checkpoint(engine, &url).await.ok().flatten();
        Ok::<_, tandem_error::Error>((role, checkpoint))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, read).await {
        Ok(Ok((role, checkpoint))) => {
            status.reachable = true;
            status.role = role;
            status.replica = checkpoint.map(|c| Replica {
                position: c.position.value.clone(),
                last_commit_applied: c.committed_at,
                lag_seconds: c.behind(Utc::now()),
                stopped: c.stopped,
            });
        }
        Ok(Err(e)) => status.error = Some(e.to_string()),
        Err(_) => status.error = Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
    status
}

/// What an operator must act on: unreachable sites, active sites other than the platform's
/// current one (stale after a failover: fence them), and more than one active site.
fn problems(epoch: Option<&RoleRecord>, sites: &[SiteStatus], linked: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for s in sites.iter().filter(|s| !s.reachable) {
        out.push(format!("{} cannot be reached: {}", s.site, s.error.as_deref().unwrap_or("?")));
    }
    let active: Vec<&SiteStatus> = sites.iter().filter(|s| s.role.as_ref().is_some_and(|r| r.role == Role::Active)).collect();
    if let Some(e) = epoch {
        for s in sites.iter().filter(|s| s.reachable && linked.contains(&s.site)) {
            let feeds = sites.iter().any(|o| o.source.as_deref() == Some(&s.site));
            let fix = match tandem_core::role::stray(e, &s.site, s.role.as_ref(), feeds) {
                Some(Stray::Unfenced) => format!("{} has no role", s.site),
                Some(Stray::OldActive { epoch }) => format!("{} is active (epoch {epoch})", s.site),
                None => continue,
            };
            out.push(format!(
                "{fix} but the platform is at epoch {} with {} active: fence it (`tandem fence {} --read-only`) before it takes writes",
                e.epoch, e.active, s.site
            ));
        }
    } else if active.len() > 1 {
        let names: Vec<&str> = active.iter().map(|s| s.site.as_str()).collect();
        out.push(format!("{} sites are active ({}): fence all but one", active.len(), names.join(", ")));
    }
    out
}

fn print(status: &PlatformStatus) {
    match &status.epoch {
        Some(e) => println!("platform: epoch {}, {} active since {} ({})", e.epoch, e.active, e.written.format("%Y-%m-%d %H:%M:%S UTC"), e.reason),
        None => println!("platform: no epoch claimed in the repository yet"),
    }
    println!("{:<16} {:<9} {:>6}  {:<11} freshness", "SITE", "ROLE", "EPOCH", "REACHABLE");
    for s in &status.sites {
        let (role, epoch) = match &s.role {
            Some(r) => (r.role.to_string(), r.epoch.to_string()),
            None => ("-".into(), "-".into()),
        };
        let fresh = match (&s.replica, &s.source) {
            (Some(r), _) if r.stopped.is_some() => format!("replica stopped: {}", r.stopped.as_deref().unwrap_or_default()),
            (Some(r), Some(src)) => format!("replica of {src}, {:.1} s behind", r.lag_seconds),
            (Some(r), None) => format!("replica, {:.1} s behind", r.lag_seconds),
            (None, Some(src)) => format!("kept from {src} by refresh"),
            (None, None) => String::new(),
        };
        println!("{:<16} {:<9} {:>6}  {:<11} {fresh}", s.site, role, epoch, if s.reachable { "yes" } else { "NO" });
    }
    for p in &status.problems {
        println!("problem: {p}");
    }
}
