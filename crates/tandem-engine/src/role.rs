//! A site's role in the platform (active, standby, fenced) and the epoch it was given: one row
//! per database in `tandem_role.roles`, a schema of tandem's own (PostgreSQL: inside the site's
//! database; MySQL/MariaDB: a database on the site's server, keyed by the site's database). It
//! is never part of a backup, of a restore's content or of a verify, so a restore replaces the
//! site's content and never its role.
//!
//! **Lock order.** Every tandem write into a site locks the site's row first
//! ([`SiteRole::lock_sql`], before it touches anything else) and checks the role under that
//! lock: promote, fence, a restore's swap, each transaction of a replication's apply. The row
//! lock orders them: a promote that lands while a refresh or an apply is in flight waits for it,
//! and whatever comes after the promote finds the site active. Locking anything before the row
//! could deadlock with a restore's swap (MySQL's `RENAME` waits for table locks, not row locks).
//!
//! All statements are plain SQL that both engines run (spelled with their [`Dialect`]).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tandem_error::{Error, Result};

use crate::Dialect;

/// The schema (PostgreSQL) or database (MySQL/MariaDB) of the role table.
pub const ROLE_SCHEMA: &str = "tandem_role";
/// The role table in [`ROLE_SCHEMA`].
pub const ROLE_TABLE: &str = "roles";

/// What a site is to the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The site the platform runs on: writable, never overwritten by tandem.
    Active,
    /// A copy kept current from the active site (refresh or replication).
    Standby,
    /// A former active site made passive (by a switchover, or on sight after a failover):
    /// nothing of tandem writes into it until it rejoins as a standby.
    Fenced,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Active => "active",
            Role::Standby => "standby",
            Role::Fenced => "fenced",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Role, String> {
        match s {
            "active" => Ok(Role::Active),
            "standby" => Ok(Role::Standby),
            "fenced" => Ok(Role::Fenced),
            other => Err(format!("{other:?}: expected active, standby or fenced")),
        }
    }
}

/// A site's role row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRole {
    pub role: Role,
    /// The platform epoch the role was given in (0: no epoch was ever claimed).
    pub epoch: u64,
    /// When it was given.
    pub since: DateTime<Utc>,
    /// Why, in the words of the move that gave it (`promote`, `switchover from us`).
    pub note: String,
}

/// Longest note stored (the column's width).
const NOTE_MAX: usize = 400;

fn table(d: &dyn Dialect) -> String {
    format!("{}.{}", d.ident(ROLE_SCHEMA), d.ident(ROLE_TABLE))
}

impl SiteRole {
    pub fn new(role: Role, epoch: u64, note: &str) -> SiteRole {
        let note: String = note.chars().take(NOTE_MAX).collect();
        SiteRole { role, epoch, since: Utc::now(), note }
    }

    /// The statements that make the role table if it is missing (DDL: run them outside the
    /// transactions that use the table).
    pub fn create_sql(d: &dyn Dialect) -> [String; 2] {
        [
            format!("CREATE SCHEMA IF NOT EXISTS {}", d.ident(ROLE_SCHEMA)),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (site_database VARCHAR(128) NOT NULL PRIMARY KEY, role VARCHAR(16) NOT NULL, \
                 epoch BIGINT NOT NULL, since VARCHAR(40) NOT NULL, note VARCHAR({NOTE_MAX}) NOT NULL)",
                table(d)
            ),
        ]
    }

    /// The query whose one row says whether the role table exists (`1`) or not (`0`).
    pub fn exists_sql(d: &dyn Dialect) -> String {
        format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {} AND table_name = {}", d.literal(ROLE_SCHEMA), d.literal(ROLE_TABLE))
    }

    /// The query of `database`'s role row (none when it has no role), read as [`Self::from_row`].
    pub fn read_sql(d: &dyn Dialect, database: &str) -> String {
        format!("SELECT role, epoch, since, note FROM {} WHERE site_database = {}", table(d), d.literal(database))
    }

    /// [`Self::read_sql`] locking the row for the rest of the transaction (see the module doc).
    pub fn lock_sql(d: &dyn Dialect, database: &str) -> String {
        format!("{} FOR UPDATE", Self::read_sql(d, database))
    }

    /// The statements that store `self` as `database`'s role (in the transaction holding its
    /// lock).
    pub fn store_sql(&self, d: &dyn Dialect, database: &str) -> [String; 2] {
        let t = table(d);
        [
            format!("DELETE FROM {t} WHERE site_database = {}", d.literal(database)),
            format!(
                "INSERT INTO {t} (site_database, role, epoch, since, note) VALUES ({}, {}, {}, {}, {})",
                d.literal(database),
                d.literal(self.role.as_str()),
                self.epoch,
                d.literal(&self.since.to_rfc3339_opts(SecondsFormat::Secs, true)),
                d.literal(&self.note)
            ),
        ]
    }

    /// Reads a row of [`Self::read_sql`] (every value as text). Errors: Corrupt naming the
    /// value that is not a role, an epoch or a time.
    pub fn from_row(row: &[Option<String>]) -> Result<SiteRole> {
        let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let bad = |what: &str, v: String| Error::corrupt(format!("{ROLE_SCHEMA}.{ROLE_TABLE} holds {v:?} as a site's {what}"));
        let role = text(0).parse().map_err(|_| bad("role", text(0)))?;
        let epoch = text(1).parse().map_err(|_| bad("epoch", text(1)))?;
        let since = DateTime::parse_from_rfc3339(&text(2)).map_err(|_| bad("time", text(2)))?.with_timezone(&Utc);
        Ok(SiteRole { role, epoch, since, note: text(3) })
    }

    /// `role at epoch N since T`, for messages.
    pub fn describe(&self) -> String {
        format!("{} at epoch {} since {}", self.role, self.epoch, self.since.format("%Y-%m-%d %H:%M:%S UTC"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_and_broken_rows_are_refused() {
        let r = SiteRole::new(Role::Fenced, 7, "switchover to eu");
        let row = vec![Some("fenced".into()), Some("7".into()), Some(r.since.to_rfc3339_opts(SecondsFormat::Secs, true)), Some(r.note.clone())];
        let back = SiteRole::from_row(&row).unwrap();
        assert_eq!((back.role, back.epoch, back.note.as_str()), (Role::Fenced, 7, "switchover to eu"));
        for (i, broken) in [(0, "primary"), (1, "-1"), (1, "seven"), (2, "yesterday")] {
            let mut bad = row.clone();
            bad[i] = Some(broken.into());
            let e = SiteRole::from_row(&bad).unwrap_err();
            assert_eq!(e.kind(), tandem_error::Kind::Corrupt, "{broken}");
            assert!(e.to_string().contains(broken), "{e}");
        }
        assert_eq!(SiteRole::new(Role::Active, 1, &"x".repeat(1000)).note.len(), NOTE_MAX);
    }
}
