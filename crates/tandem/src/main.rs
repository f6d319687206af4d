//! The `tandem` command: parses flags and the config file, runs one flow of `tandem-core`, and
//! reports in text or JSON. Errors print one line `error: …` on stderr; the exit code follows the
//! error kind (2 bad input, 3 unreachable, 4 corrupt, 5 conflict, 6 unsupported, 10 internal).

mod cli;
mod commands;
mod config;
mod hints;
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
/// rows, where glibc's allocator spends a third of the time (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
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
