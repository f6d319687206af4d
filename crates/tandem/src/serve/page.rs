//! The status page: one self-contained HTML document rendered from the status (no scripts; it
//! reloads itself every 15 s). Elements carry ids and `data-` attributes so a browser test can
//! read it: `#lease`, `#site-<name>` with `data-role`, `data-healthy`, `data-staleness`, and
//! `#job-<name>-<job>` with `data-state` (idle, running, ok, failed) and `data-last` (the last
//! finished run: none, ok, failed). Under "Last 24 hours", `#rpo-<name>` charts a standby's
//! staleness (or a replica's lag) and `#backups-<name>` a site's backups (see `chart`), with
//! `#backup-list-<name>` listing the newest. `#drill-<name>` (with `data-ok`) shows a site's
//! latest drill.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::chart;
use super::history::{self, RunPoint};
use super::state::JobKind;
use super::status::{JobStatus, SiteStatus, Status};

/// Backups listed under a site's backup chart.
const LISTED_BACKUPS: usize = 10;

/// HTML-escapes text.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "-".into())
}

fn ago(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => format!("{} ago", human((now - t).num_seconds().max(0) as f64)),
        None => "never".into(),
    }
}

fn human(secs: f64) -> String {
    match secs {
        s if s < 120.0 => format!("{s:.0}s"),
        s if s < 7200.0 => format!("{:.0}m", s / 60.0),
        s if s < 172_800.0 => format!("{:.1}h", s / 3600.0),
        s => format!("{:.1}d", s / 86400.0),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}\
.ok{color:#186a3b}.bad{color:#b03a2e;font-weight:bold}.muted{color:#777}code{font-size:90%}";

/// Renders the page.
pub fn render(s: &Status) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"15\">\
         <title>tandem serve</title><style>{STYLE}</style></head><body><h1>tandem serve</h1>"
    );
    let lease = match (&s.lease.held, &s.lease.record) {
        (true, _) => "<span class=\"ok\">held by this daemon: jobs run here</span>".to_string(),
        (false, Some(r)) => {
            format!("<span class=\"bad\">held by {} on {} until {}</span>: this daemon waits", esc(&r.holder), esc(&r.hostname), time(Some(r.expires)))
        }
        (false, None) => "<span class=\"bad\">not held</span>".to_string(),
    };
    let _ = write!(
        h,
        "<p id=\"lease\" data-held=\"{}\">Repository <code>{}</code> · lease {lease} · daemon <code>{}</code> (tandem {}, up since {}) · page rendered {}</p>",
        s.lease.held,
        esc(&s.repository),
        esc(&s.holder),
        s.version,
        time(Some(s.started)),
        time(Some(s.now))
    );
    h.push_str("<h2>Sites</h2><table><tr><th>site</th><th>role</th><th>database</th><th>health</th><th>standby staleness</th></tr>");
    for site in &s.sites {
        site_row(&mut h, site);
    }
    h.push_str("</table><h2>Jobs</h2><table><tr><th>site</th><th>job</th><th>schedule</th><th>next run</th><th>state</th><th>last success</th><th>last failure</th><th>runs / failures</th></tr>");
    for site in &s.sites {
        for job in &site.jobs {
            job_row(&mut h, s.now, site, job);
        }
    }
    h.push_str("</table>");
    drills(&mut h, s);
    history(&mut h, s);
    h.push_str("<h2>Recent errors</h2>");
    if s.recent_errors.is_empty() {
        h.push_str("<p id=\"errors\" class=\"muted\">none since the daemon started</p>");
    } else {
        h.push_str("<table id=\"errors\"><tr><th>when</th><th>site</th><th>job</th><th>error</th></tr>");
        for r in &s.recent_errors {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                time(r.finished.or(Some(r.started))),
                esc(&r.site),
                r.job.as_str(),
                esc(r.error.as_deref().unwrap_or_default())
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"muted\">JSON: <a href=\"/api/status\">/api/status</a> · Prometheus: <a href=\"/metrics\">/metrics</a></p></body></html>");
    h
}

fn site_row(h: &mut String, site: &SiteStatus) {
    let (healthy, health) = match &site.health {
        None => ("unknown", "<span class=\"muted\">not probed yet</span>".to_string()),
        Some(x) if x.healthy => {
            ("true", format!("<span class=\"ok\">healthy</span> <span class=\"muted\">({} ms, {})</span>", x.report.probe_ms, time(Some(x.checked_at))))
        }
        Some(x) => {
            let failed: Vec<String> = x.report.health.checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.detail)).collect();
            ("false", format!("<span class=\"bad\">unhealthy</span> {}", esc(&failed.join("; "))))
        }
    };
    let source = esc(site.source.as_deref().unwrap_or("its source"));
    let staleness = match (&site.replication, site.staleness_s) {
        (Some(r), _) if r.running => format!(
            "replicating: {} behind {source} <span class=\"muted\">({} at {}, {} rows applied)</span>",
            human(r.status.lag_seconds),
            esc(&r.status.state),
            esc(r.status.position.as_deref().unwrap_or("-")),
            r.status.rows
        ),
        (Some(r), _) => match (&r.idle, &r.last_error) {
            (Some(why), _) => format!("<span class=\"muted\">{}</span>", esc(why)),
            (None, Some((_, e))) => format!("<span class=\"bad\">replication stopped</span> {}", esc(e)),
            (None, None) => "<span class=\"muted\">replication starting</span>".into(),
        },
        (None, Some(s)) => format!("{} behind {source}", human(s)),
        (None, None) if site.role == "standby" => "<span class=\"muted\">not refreshed yet</span>".into(),
        (None, None) => "<span class=\"muted\">-</span>".into(),
    };
    let staleness = match &site.failover {
        Some(f) => format!("{staleness}<br>{}", failover(f, &source)),
        None => staleness,
    };
    let _ = write!(
        h,
        "<tr id=\"site-{}\" data-role=\"{}\" data-healthy=\"{healthy}\" data-staleness=\"{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{health}</td><td>{staleness}</td></tr>",
        esc(&site.name),
        site.role,
        site.staleness_s.map(|s| format!("{s:.0}")).unwrap_or_default(),
        esc(&site.name),
        match &site.source {
            Some(src) => format!("standby of {}", esc(src)),
            None => "primary".into(),
        },
        esc(&site.db)
    );
}

fn job_row(h: &mut String, now: DateTime<Utc>, site: &SiteStatus, job: &JobStatus) {
    let hist = &job.history;
    let state = match (&job.running, &hist.last_run) {
        (Some(_), _) => "running",
        (None, Some(r)) if r.error.is_some() => "failed",
        (None, Some(_)) => "ok",
        (None, None) => "idle",
    };
    // The outcome of the last finished run, also while the next one runs.
    let last = match &hist.last_run {
        Some(r) if r.error.is_some() => "failed",
        Some(_) => "ok",
        None => "none",
    };
    let last_success = match &hist.last_success {
        Some(r) => format!(
            "{} <span class=\"muted\">({:.1}s{})</span>",
            ago(now, r.finished),
            r.duration_s.unwrap_or_default(),
            r.backup.as_deref().map(|b| format!(", backup {}", esc(b))).unwrap_or_default()
        ),
        None => "never".into(),
    };
    let last_failure = match &hist.last_failure {
        Some(r) => format!("{}: <span class=\"bad\">{}</span>", ago(now, r.finished), esc(r.error.as_deref().unwrap_or_default())),
        None => "-".into(),
    };
    let _ = write!(
        h,
        "<tr id=\"job-{}-{}\" data-state=\"{state}\" data-last=\"{last}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{state}{}</td><td>{last_success}</td><td>{last_failure}</td><td>{} / {}</td></tr>",
        esc(&site.name),
        job.job.as_str(),
        esc(&site.name),
        job.job.as_str(),
        esc(job.schedule.as_deref().unwrap_or("on demand")),
        time(job.next_run),
        job.running.as_ref().map(|r| format!(" <span class=\"muted\">({})</span>", esc(&r.id))).unwrap_or_default(),
        hist.runs_total,
        hist.failures_total
    );
}

/// A chart's seconds label: tenths below 10 s (a chart of sub-second lag).
/// A standby's automatic failover, in a line.
fn failover(f: &super::guard::FailoverView, source: &str) -> String {
    let state = match (f.source_failing_since, &f.last_probe_error) {
        (Some(t), Some(e)) => format!("<span class=\"bad\">{source} failing its probes since {}</span> {}", time(Some(t)), esc(e)),
        _ => format!("automatic failover armed, {source} answers"),
    };
    match (&f.last_attempt, &f.last_result) {
        (Some(t), Some(r)) => format!("{state} <span class=\"muted\">(last failover {}: {})</span>", time(Some(*t)), esc(r)),
        _ => state,
    }
}

fn secs(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}s")
    } else {
        human(v)
    }
}

fn bytes(n: f64) -> String {
    crate::output::bytes(n as u64)
}

/// Each site's latest drill (`#drill-<name>` with `data-ok`).
fn drills(h: &mut String, s: &Status) {
    h.push_str("<h2>Drills</h2>");
    if s.sites.iter().all(|site| site.last_drill.is_none()) {
        h.push_str("<p id=\"drills\" class=\"muted\">none yet: <code>tandem drill SITE</code> restores a site's backup into a scratch database and measures RPO and RTO</p>");
        return;
    }
    h.push_str("<table id=\"drills\"><tr><th>site</th><th>latest drill</th><th>result</th><th>RPO</th><th>RTO</th><th>backup</th></tr>");
    for site in &s.sites {
        let Some(d) = &site.last_drill else { continue };
        let result = match &d.error {
            None => "<span class=\"ok\">ok</span>".to_string(),
            Some(e) => format!("<span class=\"bad\">failed</span> {}", esc(e)),
        };
        let _ = write!(
            h,
            "<tr id=\"drill-{}\" data-ok=\"{}\"><td>{}</td><td>{} <span class=\"muted\">({})</span></td><td>{result}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&site.name),
            d.ok,
            esc(&site.name),
            ago(s.now, Some(d.started)),
            time(Some(d.started)),
            crate::output::seconds(d.rpo_s),
            crate::output::seconds(d.rto_s),
            d.backup.as_deref().map(esc).unwrap_or_else(|| "-".into())
        );
    }
    h.push_str("</table>");
}

/// The charts of the last 24 h: each standby's staleness (a replica's lag), each site's backups.
fn history(h: &mut String, s: &Status) {
    h.push_str("<h2>Last 24 hours</h2>");
    let mut drawn = false;
    for site in &s.sites {
        let job = |kind: JobKind| site.jobs.iter().find(|j| j.job == kind);
        let source = esc(site.source.as_deref().unwrap_or("its source"));
        let name = esc(&site.name);
        let rpo = match (&site.replication, job(JobKind::Refresh)) {
            (Some(r), _) => Some((format!("replication lag of {name} behind {source}"), r.lag_history.points())),
            (None, Some(j)) => Some((format!("staleness of {name}: the RPO if {source} died"), history::staleness(&j.history.recent, s.now))),
            (None, None) => None,
        };
        if let Some((title, points)) = rpo {
            let highest = points.iter().map(|p| p.1).fold(0.0, f64::max);
            let _ = write!(
                h,
                "<figure>{}<figcaption>{title}: now {}, highest {}</figcaption></figure>",
                chart::line(&format!("rpo-{name}"), &title, &points, s.now, s.staleness_alert_s, secs),
                points.last().map(|p| human(p.1)).unwrap_or_else(|| "-".into()),
                human(highest)
            );
            drawn = true;
        }
        if let Some(j) = job(JobKind::Backup).filter(|j| !j.history.recent.is_empty()) {
            backups(h, s.now, &name, j.history.recent.iter().collect());
            drawn = true;
        }
    }
    if !drawn {
        h.push_str("<p class=\"muted\">nothing yet: no standby and no backup by this daemon's sites</p>");
    }
}

/// A site's backups: sizes as bars, the newest in a table.
fn backups(h: &mut String, now: DateTime<Utc>, name: &str, runs: Vec<&RunPoint>) {
    let points: Vec<_> = runs.iter().map(|r| (r.finished, r.bytes as f64, r.ok)).collect();
    let title = format!("backups of {name}: stored size");
    let _ = write!(
        h,
        "<figure>{}<figcaption>{title} ({} runs)</figcaption></figure>",
        chart::bars(&format!("backups-{name}"), &title, &points, now, bytes),
        runs.len()
    );
    let _ = write!(h, "<table id=\"backup-list-{name}\"><tr><th>finished</th><th>backup</th><th>size</th><th>new</th><th>duration</th></tr>");
    for r in runs.iter().rev().take(LISTED_BACKUPS) {
        let backup = match (&r.backup, r.ok) {
            (Some(b), _) => format!("<code>{}</code>", esc(b)),
            (None, false) => "<span class=\"bad\">failed</span>".into(),
            (None, true) => "-".into(),
        };
        let (size, new) = if r.ok { (crate::output::bytes(r.bytes), crate::output::bytes(r.new_bytes)) } else { ("-".into(), "-".into()) };
        let _ = write!(h, "<tr><td>{}</td><td>{backup}</td><td>{size}</td><td>{new}</td><td>{:.1}s</td></tr>", time(Some(r.finished)), r.duration_s);
    }
    h.push_str("</table>");
}
