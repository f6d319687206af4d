//! The system conformance suite (see the crate docs).
