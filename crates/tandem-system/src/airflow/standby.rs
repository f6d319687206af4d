//! Standby, fence, promote and health of an Airflow site.
//!
//! A passive site has every DAG paused. What was active before is remembered in the tandem-owned
//! table `tandem_standby` (`dag_id`, `was_paused` 0/1, `since`, `note`), in the site's own
//! database, so a promote unpauses exactly the DAGs that were active at the source, wherever and
//! whenever it runs:
//! - `restore --standby` and `fence` create the table if needed, add every DAG it does not list
//!   yet with its current pause flag, and pause every DAG. DAGs already listed keep what was
//!   remembered first, so fencing a standby twice (or restoring a standby's backup as a standby)
//!   never forgets which DAGs were active;
//! - `promote` unpauses the listed DAGs that were active, treats runs that are `queued` or
//!   `running` (interrupted by the disaster) by policy, and drops the table: the site is active.
//!
//! Health: a site is healthy when a `SchedulerJob` in state `running` heartbeated less than the
//! threshold ago (Airflow's own health check uses 30 s), measured on the database's clock.

use chrono::NaiveDateTime;
use tandem_engine::{Dialect, TableDef, Transaction};
use tandem_error::{Error, Result};

use crate::read::find_table;
use crate::{Change, Check, Fixup, Health, Interrupted, PromoteOptions, StateChange};

/// The tandem-owned table that makes a site a standby.
pub(crate) const TABLE: &str = "tandem_standby";

/// Task instance states of work in progress, cleared or failed at promote.
const UNFINISHED: &str = "'running', 'queued', 'scheduled', 'up_for_retry', 'up_for_reschedule', 'deferred', 'restarting'";

fn create(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (dag_id VARCHAR(250) NOT NULL, was_paused SMALLINT NOT NULL, \
         since VARCHAR(40) NOT NULL, note VARCHAR(400) NOT NULL, PRIMARY KEY (dag_id))"
    )
}

fn remember(table: &str, dag: &str, lit: &dyn Fn(&str) -> String, note: &str) -> String {
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    format!(
        "INSERT INTO {table} (dag_id, was_paused, since, note) \
         SELECT d.dag_id, CASE WHEN d.is_paused THEN 1 ELSE 0 END, {}, {} FROM {dag} d \
         WHERE NOT EXISTS (SELECT 1 FROM {table} s WHERE s.dag_id = d.dag_id)",
        lit(&since),
        lit(note)
    )
}

fn pause_all(dag: &str) -> String {
    format!("UPDATE {dag} SET is_paused = TRUE WHERE is_paused = FALSE")
}

/// Statements of `restore --standby` (names qualified like the restored `dag` table).
pub(super) fn fixups(tables: &[TableDef], d: &dyn Dialect, note: &str) -> Result<Vec<Fixup>> {
    let dag = find_table(tables, "dag").ok_or_else(|| Error::unsupported("the backup has no dag table: it cannot be restored as a standby"))?;
    let table = d.table(&TableDef { schema: dag.schema.clone(), name: TABLE.into(), ..Default::default() });
    let dag_sql = d.table(dag);
    let lit = |s: &str| d.literal(s);
    Ok(vec![
        Fixup { what: format!("create {TABLE} (the pause state each DAG had at the source)"), sql: create(&table) },
        Fixup { what: "remember which DAGs were active at the source".into(), sql: remember(&table, &dag_sql, &lit, note) },
        Fixup { what: "pause every DAG (standby)".into(), sql: pause_all(&dag_sql) },
    ])
}

/// A streaming replica keeps every DAG paused and remembers each DAG's pause flag at the source
/// as it changes (`since`: when it was last seen).
pub(super) fn passive(tables: &[TableDef]) -> Option<crate::Passive> {
    let dag = find_table(tables, "dag")?;
    let column = |name: &str, ty: &str| tandem_engine::ColumnDef { name: name.into(), sql_type: ty.into(), nullable: false, ..Default::default() };
    let record = TableDef {
        schema: dag.schema.clone(),
        name: TABLE.into(),
        columns: vec![column("dag_id", "varchar(250)"), column("was_paused", "smallint"), column("since", "varchar(40)"), column("note", "varchar(400)")],
        primary_key: vec!["dag_id".into()],
        ..Default::default()
    };
    Some(crate::Passive {
        table: dag.name.clone(),
        key: "dag_id".into(),
        column: "is_paused".into(),
        record,
        remember: |key, paused| {
            let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            vec![
                Some(key.to_vec()),
                Some(if paused { b"1".to_vec() } else { b"0".to_vec() }),
                Some(since.into_bytes()),
                Some(b"replicated from the source".to_vec()),
            ]
        },
    })
}

fn texts(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect()
}

/// Whether the site holds the standby table.
async fn is_standby(tx: &dyn Transaction) -> Result<bool> {
    let d = tx.dialect();
    let rows = tx
        .query(&format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = {} AND table_schema = {}", d.literal(TABLE), d.current_schema()))
        .await?;
    Ok(rows.first().and_then(|r| r.first().cloned().flatten()).is_some_and(|n| n != "0"))
}

/// The kinds and states of a [`StateChange`] of an Airflow site.
const DAG: &str = "dag";
const RUN: &str = "dag run";
const ACTIVE: &str = "active";
const PAUSED: &str = "paused";

pub(super) async fn fence(tx: &dyn Transaction, note: &str) -> Result<StateChange> {
    let d = tx.dialect();
    tx.ddl(&create(TABLE)).await?;
    let active = texts(tx.query("SELECT dag_id FROM dag WHERE is_paused = FALSE ORDER BY dag_id").await?);
    tx.execute(&remember(TABLE, "dag", &|s| d.literal(s), note)).await?;
    tx.execute(&pause_all("dag")).await?;
    Ok(StateChange { changed: active.into_iter().map(|d| Change::new(DAG, d, ACTIVE, PAUSED)).collect(), ..Default::default() })
}

pub(super) async fn promote(tx: &dyn Transaction, opts: &PromoteOptions) -> Result<StateChange> {
    let d = tx.dialect();
    let mut change = StateChange::default();
    let standby = is_standby(tx).await?;
    if standby {
        let unpause = format!("SELECT s.dag_id FROM {TABLE} s JOIN dag d ON d.dag_id = s.dag_id WHERE s.was_paused = 0 ORDER BY s.dag_id");
        change.changed = texts(tx.query(&unpause).await?).into_iter().map(|d| Change::new(DAG, d, PAUSED, ACTIVE)).collect();
        change.kept =
            texts(tx.query(&format!("SELECT s.dag_id FROM {TABLE} s JOIN dag d ON d.dag_id = s.dag_id WHERE s.was_paused <> 0 ORDER BY s.dag_id")).await?)
                .into_iter()
                .map(|d| Change::new(DAG, d, PAUSED, PAUSED))
                .collect();
        let new =
            texts(tx.query(&format!("SELECT dag_id FROM dag d WHERE NOT EXISTS (SELECT 1 FROM {TABLE} s WHERE s.dag_id = d.dag_id) ORDER BY dag_id")).await?);
        if !new.is_empty() {
            change.notes.push(format!("{} DAG(s) unknown when the site became a standby stay paused: {}", new.len(), new.join(", ")));
        }
        tx.execute(&format!("UPDATE dag SET is_paused = FALSE WHERE dag_id IN (SELECT dag_id FROM {TABLE} WHERE was_paused = 0)")).await?;
    } else if !opts.force {
        return Err(Error::conflict(format!(
            "the site is not a standby (it has no {TABLE} table: it was neither restored as a standby nor fenced, \
             so nothing is remembered to unpause)"
        ))
        .with_hint(tandem_error::Hint::PromoteAnyway));
    } else {
        change.notes.push(format!("not a standby (no {TABLE}): pause flags left as they are"));
    }

    let runs = tx.query("SELECT dag_id, run_id, state FROM dag_run WHERE state IN ('queued', 'running') ORDER BY dag_id, run_id").await?;
    for r in runs {
        let (dag_id, run_id, state) = (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default(), r[2].clone().unwrap_or_default());
        let run = format!("dag_id = {} AND run_id = {}", d.literal(&dag_id), d.literal(&run_id));
        let (to, tis) = match opts.interrupted {
            Interrupted::Leave => (state.clone(), 0),
            Interrupted::Rerun => {
                let n = tx.execute(&format!("UPDATE task_instance SET state = NULL WHERE {run} AND state IN ({UNFINISHED})")).await?;
                tx.execute(&format!("UPDATE dag_run SET state = 'queued' WHERE {run}")).await?;
                ("queued".to_string(), n)
            }
            Interrupted::Fail => {
                let n = tx
                    .execute(&format!("UPDATE task_instance SET state = 'failed', end_date = CURRENT_TIMESTAMP WHERE {run} AND state IN ({UNFINISHED})"))
                    .await?;
                tx.execute(&format!("UPDATE dag_run SET state = 'failed', end_date = CURRENT_TIMESTAMP WHERE {run}")).await?;
                ("failed".to_string(), n)
            }
        };
        change.changed.push(Change { dependents: tis, ..Change::new(RUN, format!("{dag_id} {run_id}"), &state, &to) });
    }
    if standby {
        // Last: on MySQL the DDL commits everything before it.
        tx.ddl(&format!("DROP TABLE {TABLE}")).await?;
    }
    Ok(change)
}

/// A timestamp as either engine prints it in UTC (`…+00`, `…+00:00` or none).
fn parse_utc(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let s = s.strip_suffix("+00:00").or_else(|| s.strip_suffix("+00")).unwrap_or(s);
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()
}

pub(super) async fn health(tx: &dyn Transaction, threshold_s: f64) -> Result<Health> {
    let mut health = Health { standby: is_standby(tx).await?, ..Default::default() };
    let rows = tx
        .query("SELECT latest_heartbeat, hostname, CURRENT_TIMESTAMP FROM job WHERE job_type = 'SchedulerJob' AND state = 'running' ORDER BY latest_heartbeat DESC LIMIT 1")
        .await?;
    let check = match rows.first() {
        None => Check { name: "scheduler".into(), ok: false, detail: "no running SchedulerJob in the job table".into() },
        Some(r) => {
            let beat = r.first().cloned().flatten().and_then(|s| parse_utc(&s));
            let now = r.get(2).cloned().flatten().and_then(|s| parse_utc(&s));
            let host = r.get(1).cloned().flatten().unwrap_or_default();
            match (beat, now) {
                (Some(b), Some(n)) => {
                    let age = (n - b).num_milliseconds() as f64 / 1000.0;
                    health.heartbeat_age_s = Some(age);
                    Check {
                        name: "scheduler".into(),
                        ok: age < threshold_s,
                        detail: format!("SchedulerJob on {host} heartbeat {age:.1} s ago (threshold {threshold_s} s)"),
                    }
                }
                _ => Check { name: "scheduler".into(), ok: false, detail: "the running SchedulerJob has no heartbeat".into() },
            }
        }
    };
    health.checks.push(check);
    if health.standby {
        health.checks.push(Check { name: "standby".into(), ok: true, detail: format!("passive: every DAG paused, the active ones remembered in {TABLE}") });
    }
    Ok(health)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_both_engines() {
        let a = parse_utc("2026-12-01 20:00:00.5+00").unwrap();
        let b = parse_utc("2026-12-01 20:00:30.500000").unwrap();
        assert_eq!((b - a).num_seconds(), 30);
        assert!(parse_utc("2026-12-01 20:00:00+00:00").is_some());
        assert!(parse_utc("yesterday").is_none());
    }
}
