//! Crash points for the failpoint crash matrix (docs/ARCHITECTURE.md, "Crash safety").
//!
//! [`failpoint!`](crate::failpoint) marks a step where a crash or an error must leave everything
//! consistent. It is the `fail` crate's `fail_point!`, so it compiles to nothing unless that
//! crate's `failpoints` feature is on, which only the test builds switch on (a dev-dependency of
//! the `tandem` crate). A test then sets `FAILPOINTS=<name>=<action>` for a tandem process:
//!
//! - `return(abort)`: the process aborts on the spot, like `kill -9` (no destructor, no cleanup);
//! - `return` or `return(error)`: the enclosing function fails with an Internal error;
//! - `return(transient)`: it fails with a [transient](crate::Error::transient) Unreachable error,
//!   as a reset connection does (`1*return(transient)`: only the first time);
//! - any other action of the `fail` crate (`sleep(ms)`, `panic`, `1*return(abort)`, ...).

#[doc(hidden)]
pub use fail;

/// The error a failpoint returns (or, for `abort`, the abort it performs).
#[doc(hidden)]
pub fn fire(name: &str, arg: Option<String>) -> crate::Error {
    if arg.as_deref() == Some("abort") {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
    match arg.as_deref() {
        Some("transient") => crate::Error::unreachable(format!("failpoint {name} fired (transient)")).transient(),
        _ => crate::Error::internal(format!("failpoint {name} fired")),
    }
}

/// Marks a crash point named `$name` (see the module doc). With one argument the enclosing
/// function must return `tandem_error::Result`; with a second, `$map` turns the
/// `tandem_error::Error` into the function's error type.
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        $crate::failpoint!($name, |e: $crate::Error| e)
    };
    ($name:literal, $map:expr) => {
        $crate::failpoint::fail::fail_point!($name, |arg: Option<String>| Err(($map)($crate::failpoint::fire($name, arg))))
    };
}

/// Arms the crash points named in `FAILPOINTS` when they are compiled in (test builds); does
/// nothing otherwise. Call once at process start.
pub fn setup() {
    if fail::has_failpoints() {
        // The scenario's drop would disarm them again: keep it for the life of the process.
        std::mem::forget(fail::FailScenario::setup());
    }
}
