//! The `tandem` command: parses flags and the config file, runs one flow of `tandem-core`, and
//! reports in text or JSON. Errors print one line `error: …` on stderr; the exit code follows the
//! error kind (2 bad input, 3 unreachable, 4 corrupt, 5 conflict, 6 unsupported, 10 internal).

mod cli;
mod commands;
mod config;
mod hints;
mod hooks;
mod jobs;
mod output;
mod progress;
mod registry;
mod repokey;
mod secrets;
mod serve;
mod shell;

use clap::Parser;

/// mimalloc: the verify and restore paths allocate a few small strings per field of millions of
/// rows, where glibc's allocator spends a third of the time (measured in BENCHMARKS.md). Built
/// without transparent huge pages (`no_thp`), and see [`return_freed_memory_at_once`].
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (its index in mimalloc 3's `mi_option_e`; checked by a test).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once instead of after mimalloc's default second: a
/// restore frees a few MB of chunk buffers many times a second, and that second of retention
/// was 40 % of its peak RSS (BENCHMARKS.md, "Restore memory").
fn return_freed_memory_at_once() {
    // SAFETY: sets a plain integer option; mimalloc reads it at each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// The largest buffer mysql_async's process-wide buffer pool keeps (`MYSQL_ASYNC_BUFFER_SIZE_CAP`,
/// unless set). Its default, 4 MiB for each of up to 128 pooled buffers, let a restore's
/// `LOAD DATA` packets grow the pooled buffers until over 100 MB stayed held: a 1M-partition
/// bootstrap (backup, then restore, in one process) peaked at 201 MB instead of 85–91 MB
/// (BENCHMARKS.md, "Bootstrap + catch-up of a 1M-partition metastore"). A bigger packet gets a
/// buffer of its own, freed after use: no slower.
const MYSQL_BUFFER_SIZE_CAP: &str = "65536";

/// Caps mysql_async's pooled buffers (see [`MYSQL_BUFFER_SIZE_CAP`]) before any is made.
fn cap_pooled_mysql_buffers() {
    const VAR: &str = "MYSQL_ASYNC_BUFFER_SIZE_CAP";
    if std::env::var_os(VAR).is_none() {
        // Before the runtime starts: no other thread reads the environment yet.
        std::env::set_var(VAR, MYSQL_BUFFER_SIZE_CAP);
    }
}

fn main() {
    return_freed_memory_at_once();
    cap_pooled_mysql_buffers();
    shell::answer_completion_request();
    let cli = cli::Cli::parse();
    // Like any Unix tool: a closed pipe (`tandem backups list | head`) ends a command quietly
    // instead of a panic on the next print. Not the daemon: it keeps SIGPIPE ignored (Rust's
    // runtime ignores it before `main`, as systemd does for services by default), so a client or
    // a log reader (journald restarting, a closed stderr pipe) that goes away gives an EPIPE
    // error on that one write instead of killing the service with its running jobs.
    if !matches!(cli.command, cli::Command::Serve(_)) {
        // SAFETY: setting a signal disposition to the default before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    tandem_error::failpoint::setup();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(10);
        }
    };
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", hints::for_command(&e));
            e.kind().exit_code()
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},tandem={default}")));
    // A log line that cannot be written (stderr closed) is dropped: the default reports it with
    // `eprintln!`, which panics on the same closed stderr, in whatever thread logged (a daemon's
    // job thread, which then never finished its run).
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).log_internal_errors(false).init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc 3's default purge delay is 1000 ms, and no neighbouring option defaults to it.
        // SAFETY: reads an option.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 1000);
    }
}
