//! The platform's roles: which site is active, and since which epoch. A create-only chain
//! ([`crate::chain`]) in the repository, which both regions reach:
//!
//! ```text
//! roles/<epoch>.json   RoleRecord; create-only; the highest epoch is the platform's now
//! ```
//!
//! Moving the platform (a switchover, a failover) claims the next epoch with one conditional
//! create: of two operators or daemons that race to promote, exactly one gets the epoch and the
//! other a Conflict naming the winner, so the repository is the witness that keeps two sites
//! from both being active. A site whose database holds an older epoch than the repository's is
//! stale and must be fenced. Records are never deleted: they are the platform's history.

use chrono::{DateTime, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use tandem_error::{Error, Result};

use crate::repository::Repository;

/// Prefix of the role records.
const ROLES: &str = "roles";

/// One epoch of the platform: from it on, `active` is the one active site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleRecord {
    /// The epoch (the object's name), from 1.
    pub epoch: u64,
    /// The site that is active from this epoch on.
    pub active: String,
    /// The site that was active in the epoch before, if any.
    pub previous: Option<String>,
    /// Why the platform moved, in the claimer's words (`switchover`, `failover: …`).
    pub reason: String,
    /// Who claimed it.
    pub hostname: String,
    pub pid: u32,
    /// When it was claimed.
    pub written: DateTime<Utc>,
}

impl crate::chain::Link for RoleRecord {
    fn seq(&self) -> u64 {
        self.epoch
    }
}

fn roles_prefix() -> Path {
    Path::from(ROLES)
}

const WHAT: &str = "role record";

impl Repository {
    /// The platform's current epoch, if one was ever claimed. Errors: Corrupt naming the record
    /// when it does not parse or holds another epoch than its name.
    pub async fn current_roles(&self) -> Result<Option<RoleRecord>> {
        self.chain_newest(&roles_prefix(), WHAT).await
    }

    /// Every epoch, oldest first.
    pub async fn role_history(&self) -> Result<Vec<RoleRecord>> {
        let mut out = Vec::new();
        for epoch in self.chain_seqs(&roles_prefix()).await? {
            out.extend(self.chain_read(&roles_prefix(), epoch, WHAT).await?);
        }
        Ok(out)
    }

    /// Claims epoch `seen + 1` for site `active`, where `seen` is the epoch the caller acts on
    /// (0 when there was none). Errors: Conflict when that epoch is claimed already (another
    /// operator or daemon won the race) or the caller's view is stale (the platform is past
    /// `seen`), naming the current epoch and its active site; nothing is written then.
    pub async fn claim_epoch(&self, seen: u64, active: &str, reason: &str) -> Result<RoleRecord> {
        let current = self.current_roles().await?;
        let current_epoch = current.as_ref().map_or(0, |c| c.epoch);
        let stale = |now: Option<RoleRecord>| {
            let now = now.map(|c| format!("epoch {} ({} active since {}, {})", c.epoch, c.active, c.written.format("%Y-%m-%d %H:%M:%S UTC"), c.reason));
            Error::conflict(format!(
                "the platform is no longer at epoch {seen}: it is at {}; nothing was claimed",
                now.unwrap_or_else(|| "an epoch that cannot be read".into())
            ))
        };
        if current_epoch != seen {
            return Err(stale(current));
        }
        let epoch = seen.checked_add(1).ok_or_else(|| Error::corrupt(format!("epoch {seen} is the last possible one")))?;
        let record = RoleRecord {
            epoch,
            active: active.to_string(),
            previous: current.map(|c| c.active),
            reason: reason.to_string(),
            hostname: crate::lock::hostname(),
            pid: std::process::id(),
            written: Utc::now(),
        };
        if self.chain_append(&roles_prefix(), &record, WHAT).await? {
            return Ok(record);
        }
        Err(stale(self.current_roles().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn of_racing_claimers_of_one_epoch_exactly_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let r = Repository::open_or_create(dir.path().to_str().unwrap()).await.unwrap();
        r.claim_epoch(0, "us", "initial").await.unwrap();
        for round in 1..=10u64 {
            let claims = futures::future::join_all((0..8).map(|i| {
                let r = r.clone();
                async move { r.claim_epoch(round, &format!("site{i}"), "failover").await }
            }))
            .await;
            let won: Vec<_> = claims.iter().filter_map(|c| c.as_ref().ok()).collect();
            assert_eq!(won.len(), 1, "round {round}: {claims:?}");
            assert!(claims.iter().filter_map(|c| c.as_ref().err()).all(|e| e.kind() == tandem_error::Kind::Conflict));
            assert_eq!(r.current_roles().await.unwrap().unwrap().active, won[0].active);
        }
        assert_eq!(r.role_history().await.unwrap().len(), 11);
    }
}
