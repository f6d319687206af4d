//! What each kind of job does when the daemon runs it.

use std::sync::Arc;

use tandem_core::{Events, Held};
use tandem_error::{Error, Result};
use tandem_repo::Repository;

use super::super::state::{JobKind, Run};
use super::super::LogEvents;
use super::{lock, Daemon};
use crate::jobs;

impl Daemon {
    /// The work of a run; `Ok` carries the fields of the finished run.
    pub(super) async fn execute(&self, repo: &Repository, run: &Run, held: Option<(String, String)>) -> Result<Run> {
        let events: Arc<dyn Events> = Arc::new(LogEvents { run: run.id.clone() });
        let mut out = run.clone();
        match run.job {
            JobKind::Backup => {
                let report = {
                    let _shared = self.gate.clone().read_owned().await;
                    jobs::backup_site(&self.config, &run.site, repo.clone(), events.clone()).await?
                };
                tandem_error::failpoint!("daemon-after-backup");
                let m = &report.manifest;
                out.bytes = report.new_bytes;
                out.stored_bytes = Some(m.stored_bytes());
                out.backup = Some(m.id.to_string());
                out.snapshot_at = Some(m.started);
                out.summary = format!("{} tables, {} rows, {} new bytes", m.tables.len(), m.rows(), report.new_bytes);
                if !m.schema.skipped.is_empty() {
                    out.summary.push_str(&format!("; {} object(s) skipped", m.schema.skipped.len()));
                }
                out.skipped = m.schema.skipped.clone();
                if self.config.retention.is_some() {
                    out.summary.push_str(&match self.gate.clone().try_write_owned() {
                        Ok(_exclusive) => match jobs::apply_retention(&self.config, repo, events).await {
                            Ok(Some(p)) => format!("; retention removed {} backup(s)", p.removed.len()),
                            Ok(None) => String::new(),
                            Err(e) => format!("; retention deferred: {e}"),
                        },
                        Err(_) => "; retention deferred: another job is using the repository".into(),
                    });
                }
            }
            JobKind::Refresh => {
                let held = held.map(|(b, settings)| b.parse().map(|backup| Held { backup, settings })).transpose()?;
                let _shared = self.gate.clone().read_owned().await;
                let report = jobs::refresh_site(&self.config, &run.site, held, repo.clone(), events).await?;
                out.backup = Some(report.backup.to_string());
                out.snapshot_at = Some(report.snapshot_at);
                out.settings = Some(report.settings.clone());
                out.summary = match &report.restore {
                    Some(r) => {
                        out.bytes = r.bytes;
                        format!("restored backup {} ({} tables, {} rows){}", report.backup, r.tables, r.rows, if report.standby { " as a standby" } else { "" })
                    }
                    None => match &report.same_content_as {
                        Some(held) => format!("the newest backup {} has the same content as the held {held}: nothing to restore", report.backup),
                        None => format!("already holds the newest backup {}", report.backup),
                    },
                };
            }
            JobKind::Drill => {
                let report = {
                    let _shared = self.gate.clone().read_owned().await;
                    jobs::drill_site(&self.config, &run.site, None, false, repo.clone(), events).await?
                };
                out.backup = report.backup.clone();
                out.snapshot_at = report.snapshot_at;
                out.bytes = 0;
                let rto = crate::output::seconds(report.rto_s);
                out.summary = format!("RPO {:.1}s, RTO {rto}: {} tables, {} rows", report.rpo_s.unwrap_or_default(), report.tables, report.rows);
                let failed = report.error.clone();
                lock(&self.drills).insert(run.site.clone(), report);
                if let Some(e) = failed {
                    // (The daemon shows the text; no exit code depends on the kind.)
                    return Err(Error::internal(format!("drill failed: {e}")));
                }
            }
        }
        tandem_error::failpoint!("daemon-job-done");
        Ok(out)
    }
}
