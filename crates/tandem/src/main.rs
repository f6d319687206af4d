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

use clap::Parser;

/// mimalloc: the verify and restore paths allocate a few small strings per field of millions of
/// rows, where glibc's allocator spends a third of the time (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Like any Unix tool: a closed pipe (`tandem backups list | head`) ends the process quietly
    // instead of a panic on the next print.
    // SAFETY: setting a signal disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tandem_error::failpoint::setup();
    let cli = cli::Cli::parse();
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
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
