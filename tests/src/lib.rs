//! Shared helpers for neuralbridge's cross-crate integration tests.
