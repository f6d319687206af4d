//! `/metrics` in the OpenMetrics text format (prometheus-client), computed from the status at
//! each scrape:
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `tandem_job_last_success_timestamp_seconds` | site, job | end of the last successful run |
//! | `tandem_job_last_duration_seconds` | site, job | duration of the last run |
//! | `tandem_job_last_bytes` | site, job | bytes of the last successful run (backup: new stored; refresh: row data) |
//! | `tandem_job_runs_total` / `tandem_job_failures_total` | site, job | runs and failed or aborted runs, kept across restarts |
//! | `tandem_job_running` | site, job | 1 while a run is busy |
//! | `tandem_standby_staleness_seconds` | site | how far a standby is behind its source: the RPO if the source died now |
//! | `tandem_backup_age_seconds` | site | age of the newest backup's snapshot |
//! | `tandem_backup_size_bytes` | site | stored size of the newest backup (all its chunks, compressed) |
//! | `tandem_drill_last_success_timestamp_seconds` | site | start of the site's latest successful drill |
//! | `tandem_drill_last_rto_seconds` / `tandem_drill_last_rpo_seconds` | site | what that drill measured |
//! | `tandem_site_healthy` | site | 1 healthy, 0 not (last probe) |
//! | `tandem_lease_held` | | 1 if this daemon runs the jobs |
//! | `tandem_replication_running` | site | 1 while continuous replication into the site runs |
//! | `tandem_replication_lag_seconds` | site | how far the replica trails its source (0 when caught up at the last heartbeat) |
//! | `tandem_replication_log_at_risk` | site | 1 when the source has purged, or may purge within the last quarter of its retention, the log the replica needs |
//! | `tandem_replication_log_purge_seconds` | site | seconds until the source may purge that log (only when it purges by itself and it is not the log being written) |
//! | `tandem_replication_log_kept_bytes` | site | bytes of log the source keeps for the replica (a PostgreSQL slot's WAL) |
//! | `tandem_failover_source_failing_seconds` | site | how long the source of a standby with `failover = "auto"` has failed every probe (0 while it answers) |
//! | `tandem_replication_rows_total` / `tandem_replication_failures_total` | site | rows applied since the daemon started; attempts that ended in an error |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::state::JobKind;
use super::status::Status;

type Labels = Vec<(String, String)>;
type FGauge = Family<Labels, Gauge<f64, AtomicU64>>;

fn labels(site: &str, job: Option<&str>) -> Labels {
    let mut l = vec![("site".to_string(), site.to_string())];
    if let Some(j) = job {
        l.push(("job".to_string(), j.to_string()));
    }
    l
}

fn gauge(registry: &mut Registry, name: &str, help: &str) -> FGauge {
    let g = FGauge::default();
    registry.register(name, help, g.clone());
    g
}

/// Renders the status as OpenMetrics text.
pub fn render(status: &Status) -> String {
    let mut r = Registry::default();
    let last_success = gauge(&mut r, "tandem_job_last_success_timestamp_seconds", "End of the last successful run (Unix time)");
    let duration = gauge(&mut r, "tandem_job_last_duration_seconds", "Duration of the last run");
    let bytes = gauge(&mut r, "tandem_job_last_bytes", "Bytes of the last successful run (backup: new stored bytes; refresh: row data)");
    let running = gauge(&mut r, "tandem_job_running", "1 while a run of the job is busy");
    let runs = Family::<Labels, Counter>::default();
    r.register("tandem_job_runs", "Finished runs", runs.clone());
    let failures = Family::<Labels, Counter>::default();
    r.register("tandem_job_failures", "Failed or aborted runs", failures.clone());
    let staleness = gauge(&mut r, "tandem_standby_staleness_seconds", "How far the standby is behind its source (the RPO if the source died now)");
    let backup_age = gauge(&mut r, "tandem_backup_age_seconds", "Age of the snapshot of the site's newest backup");
    let backup_size = gauge(&mut r, "tandem_backup_size_bytes", "Stored size of the site's newest backup (all its chunks, compressed)");
    let drill_ok = gauge(&mut r, "tandem_drill_last_success_timestamp_seconds", "Start of the site's latest successful drill (Unix time)");
    let drill_rto = gauge(&mut r, "tandem_drill_last_rto_seconds", "RTO the site's latest successful drill measured");
    let drill_rpo = gauge(&mut r, "tandem_drill_last_rpo_seconds", "RPO the site's latest successful drill measured");
    let healthy = gauge(&mut r, "tandem_site_healthy", "1 if the last probe found the site healthy");
    let lease = Gauge::<f64, AtomicU64>::default();
    r.register("tandem_lease_held", "1 if this daemon holds the lease and runs the jobs", lease.clone());

    let repl_running = gauge(&mut r, "tandem_replication_running", "1 while continuous replication into the site runs");
    let repl_lag = gauge(&mut r, "tandem_replication_lag_seconds", "How far the replica trails its source");
    let repl_risk = gauge(&mut r, "tandem_replication_log_at_risk", "1 when the log the replica needs is purged or may be soon");
    let repl_purge = gauge(&mut r, "tandem_replication_log_purge_seconds", "Seconds until the source may purge the log the replica needs");
    let repl_kept = gauge(&mut r, "tandem_replication_log_kept_bytes", "Bytes of log the source keeps for the replica (a PostgreSQL slot's WAL)");
    let repl_rows = Family::<Labels, Counter>::default();
    r.register("tandem_replication_rows", "Rows applied by continuous replication", repl_rows.clone());
    let repl_failures = Family::<Labels, Counter>::default();
    r.register("tandem_replication_failures", "Replication attempts that ended in an error", repl_failures.clone());

    let source_failing = gauge(&mut r, "tandem_failover_source_failing_seconds", "How long the source of an automatic-failover standby has failed every probe");

    lease.set(if status.lease.held { 1.0 } else { 0.0 });
    for site in &status.sites {
        if let Some(f) = &site.failover {
            let failing = f.source_failing_since.map_or(0.0, |t| (status.now - t).num_milliseconds() as f64 / 1000.0);
            source_failing.get_or_create(&labels(&site.name, None)).set(failing.max(0.0));
        }
        if let Some(v) = &site.replication {
            let l = labels(&site.name, None);
            repl_running.get_or_create(&l).set(if v.running { 1.0 } else { 0.0 });
            repl_lag.get_or_create(&l).set(v.status.lag_seconds);
            repl_risk.get_or_create(&l).set(if v.status.log_at_risk { 1.0 } else { 0.0 });
            if let Some(t) = v.status.log.as_ref().and_then(|l| l.purge_after) {
                repl_purge.get_or_create(&l).set((t - chrono::Utc::now()).num_seconds() as f64);
            }
            if let Some(b) = v.status.log.as_ref().and_then(|l| l.retained_bytes) {
                repl_kept.get_or_create(&l).set(b as f64);
            }
            repl_rows.get_or_create(&l).inc_by(v.status.rows);
            repl_failures.get_or_create(&l).inc_by(v.failures_total);
        }
        if let Some(s) = site.staleness_s {
            staleness.get_or_create(&labels(&site.name, None)).set(s);
        }
        if let Some(d) = site.last_drill.as_ref().filter(|d| d.ok) {
            let l = labels(&site.name, None);
            drill_ok.get_or_create(&l).set(d.started.timestamp_millis() as f64 / 1000.0);
            drill_rto.get_or_create(&l).set(d.rto_s.unwrap_or_default());
            drill_rpo.get_or_create(&l).set(d.rpo_s.unwrap_or_default());
        }
        if let Some(h) = &site.health {
            healthy.get_or_create(&labels(&site.name, None)).set(if h.healthy { 1.0 } else { 0.0 });
        }
        for job in &site.jobs {
            let l = labels(&site.name, Some(job.job.as_str()));
            let h = &job.history;
            runs.get_or_create(&l).inc_by(h.runs_total);
            failures.get_or_create(&l).inc_by(h.failures_total);
            running.get_or_create(&l).set(if job.running.is_some() { 1.0 } else { 0.0 });
            if let Some(run) = &h.last_run {
                duration.get_or_create(&l).set(run.duration_s.unwrap_or_default());
            }
            if let Some(ok) = &h.last_success {
                if let Some(end) = ok.finished {
                    last_success.get_or_create(&l).set(end.timestamp_millis() as f64 / 1000.0);
                }
                bytes.get_or_create(&l).set(ok.bytes as f64);
                if let (JobKind::Backup, Some(at)) = (job.job, ok.snapshot_at) {
                    backup_age.get_or_create(&labels(&site.name, None)).set((status.now - at).num_milliseconds() as f64 / 1000.0);
                }
                if let (JobKind::Backup, Some(size)) = (job.job, ok.stored_bytes) {
                    backup_size.get_or_create(&labels(&site.name, None)).set(size as f64);
                }
            }
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &r);
    out
}
