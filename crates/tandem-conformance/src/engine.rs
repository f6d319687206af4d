//! The engine conformance suite (see the crate docs).
