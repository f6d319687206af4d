//! The shared conformance suites of tandem: the contracts every [`Engine`](tandem_engine::Engine)
//! and every [`System`](tandem_system::System) must keep, checked against real throwaway servers
//! through the traits only.
//!
//! A new engine or system gets the whole suite by adding one line to `tests/engines.rs` or
//! `tests/systems.rs` (see docs/ARCHITECTURE.md, "Adding an engine" / "Adding a system").

pub mod engine;
pub mod system;
