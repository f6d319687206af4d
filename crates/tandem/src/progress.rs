//! Progress display: indicatif bars on a terminal, nothing when piped or with `--json`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tandem_core::{Events, Unit};

/// [`Events`] shown as progress bars on stderr when it is a terminal.
pub struct Progress {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
    bytes: AtomicU64,
}

impl Progress {
    /// Bars only when stderr is a terminal and the output is not JSON.
    pub fn new(json: bool) -> Progress {
        Progress { enabled: !json && std::io::stderr().is_terminal(), bar: Mutex::new(None), bytes: AtomicU64::new(0) }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(guard) = self.bar.lock() {
            if let Some(bar) = guard.as_ref() {
                f(bar);
            }
        }
    }
}

impl Events for Progress {
    fn phase(&self, name: &str, total: Option<u64>, unit: Unit) {
        tracing::info!("{name}");
        if !self.enabled {
            return;
        }
        self.bytes.store(0, Ordering::Relaxed);
        let bar = match total {
            Some(n) => {
                let template = match unit {
                    Unit::Bytes => "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                    Unit::Items => "{spinner} {prefix} [{bar:30}] {pos}/{len} {msg}",
                };
                ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                    .with_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "))
            }
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_style(ProgressStyle::with_template("{spinner} {prefix} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())),
        };
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(old) = guard.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, n: u64) {
        self.with_bar(|b| b.inc(n));
    }

    fn bytes(&self, n: u64) {
        let total = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
        self.with_bar(|b| b.set_message(format!("{} read", HumanBytes(total))));
    }

    fn phase_done(&self) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }

    fn warn(&self, message: &str) {
        let line = format!("warning: {message}");
        let mut printed = false;
        self.with_bar(|b| {
            b.println(&line);
            printed = true;
        });
        if !printed {
            eprintln!("{line}");
        }
    }

    fn info(&self, message: &str) {
        tracing::info!("{message}");
    }
}
