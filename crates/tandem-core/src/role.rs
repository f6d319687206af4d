//! A site's role row, read and written through an engine (the row and its lock order:
//! [`tandem_engine::role`]).

use tandem_engine::role::{Role, SiteRole, ROLE_SCHEMA, ROLE_TABLE};
use tandem_engine::{DbUrl, Engine, Transaction};
use tandem_error::{Result, ResultExt};

/// Makes the role table if the site's server lacks it. DDL, in a transaction of its own.
pub async fn ensure_table(engine: &dyn Engine, url: &DbUrl) -> Result<()> {
    let tx = engine.transaction(url).await?;
    for sql in SiteRole::create_sql(tx.dialect()) {
        tx.ddl(&sql).await.with_context(|| {
            format!("making tandem's role table {ROLE_SCHEMA}.{ROLE_TABLE} (the site's user needs the privilege to create {ROLE_SCHEMA} and write in it)")
        })?;
    }
    tx.commit().await
}

/// The site's role; `None` when it has none (never given one, or its server has no role table).
pub async fn read(engine: &dyn Engine, url: &DbUrl) -> Result<Option<SiteRole>> {
    let tx = engine.transaction(url).await?;
    let role = match table_exists(tx.as_ref()).await? {
        true => parse(tx.query(&SiteRole::read_sql(tx.dialect(), &url.database)).await?),
        false => Ok(None),
    };
    let _ = tx.rollback().await;
    role.with_context(|| format!("reading the role of database {}", url.database))
}

async fn table_exists(tx: &dyn Transaction) -> Result<bool> {
    let rows = tx.query(&SiteRole::exists_sql(tx.dialect())).await?;
    Ok(rows.first().and_then(|r| r.first().cloned().flatten()).is_some_and(|n| n != "0"))
}

fn parse(rows: Vec<Vec<Option<String>>>) -> Result<Option<SiteRole>> {
    rows.first().map(|r| SiteRole::from_row(r)).transpose()
}

/// Locks `database`'s role row in `tx` and returns it. Must be the transaction's first
/// statement (see the lock order in [`tandem_engine::role`]); the table must exist
/// ([`ensure_table`]).
pub async fn lock(tx: &dyn Transaction, database: &str) -> Result<Option<SiteRole>> {
    parse(tx.query(&SiteRole::lock_sql(tx.dialect(), database)).await.context("locking the site's role")?)
}

/// Stores `role` as `database`'s in `tx` (which holds its lock).
pub async fn store(tx: &dyn Transaction, database: &str, role: &SiteRole) -> Result<()> {
    for sql in role.store_sql(tx.dialect(), database) {
        tx.execute(&sql).await.context("storing the site's role")?;
    }
    Ok(())
}

/// Makes the site a standby (after a restore or bootstrap made it one), keeping its epoch,
/// unless it is active (a promote that landed after the restore wins); makes the table if
/// needed. The role it has now.
pub async fn make_standby(engine: &dyn Engine, url: &DbUrl, note: &str) -> Result<SiteRole> {
    ensure_table(engine, url).await?;
    let tx = engine.transaction(url).await?;
    let held = lock(tx.as_ref(), &url.database).await?;
    if let Some(active) = held.as_ref().filter(|h| h.role == Role::Active) {
        return Ok(active.clone());
    }
    let role = SiteRole::new(Role::Standby, held.map_or(0, |h| h.epoch), note);
    store(tx.as_ref(), &url.database, &role).await?;
    tx.commit().await?;
    Ok(role)
}

/// Why a site must be fenced at sight, given the platform's current epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stray {
    /// It holds the active role of an older epoch (a failover happened while it was away).
    OldActive { epoch: u64 },
    /// It holds no role but feeds another site, so it was the active one before roles existed.
    Unfenced,
}

/// Whether `site` (holding `held`; `feeds_another`: it is another site's source) is a former
/// active site the platform has moved away from, and so must be fenced before it takes writes.
/// An active role of a newer epoch than the platform's is not judged (no repository claimed
/// it): it is left to the operator.
pub fn stray(platform: &tandem_repo::RoleRecord, site: &str, held: Option<&SiteRole>, feeds_another: bool) -> Option<Stray> {
    if site == platform.active {
        return None;
    }
    match held {
        Some(h) if h.role == Role::Active && h.epoch <= platform.epoch => Some(Stray::OldActive { epoch: h.epoch }),
        None if feeds_another => Some(Stray::Unfenced),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_former_active_sites_are_stray() {
        let platform = tandem_repo::RoleRecord {
            epoch: 3,
            active: "dr".into(),
            previous: Some("us".into()),
            reason: "failover".into(),
            hostname: "h".into(),
            pid: 1,
            written: chrono::Utc::now(),
        };
        let role = |r, epoch| SiteRole::new(r, epoch, "test");
        assert_eq!(stray(&platform, "us", Some(&role(Role::Active, 2)), false), Some(Stray::OldActive { epoch: 2 }));
        assert_eq!(stray(&platform, "us", Some(&role(Role::Active, 3)), true), Some(Stray::OldActive { epoch: 3 }));
        assert_eq!(stray(&platform, "us", None, true), Some(Stray::Unfenced));
        assert_eq!(stray(&platform, "dr", Some(&role(Role::Active, 3)), true), None, "the platform's active site");
        assert_eq!(stray(&platform, "us", Some(&role(Role::Fenced, 3)), true), None);
        assert_eq!(stray(&platform, "us", Some(&role(Role::Standby, 1)), true), None);
        assert_eq!(stray(&platform, "us", None, false), None, "a site that feeds nobody was never active");
        assert_eq!(stray(&platform, "us", Some(&role(Role::Active, 4)), true), None, "a newer epoch than the repository's is the operator's");
    }
}
