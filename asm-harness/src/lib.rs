//! The register-test harness of `greenlet`'s own test suite: the archives
//! `greenlet_harness`, `greenlet_mutant1` and `greenlet_mutant2`, assembled
//! from this target's port by `build.rs` and found by the tests' `#[link]`
//! attributes through the search path it adds. Nothing to call from Rust
//! here; a test that depends on this crate gets the search path.
//!
//! Not published: a user of `greenlet` builds one assembly file, the switch.

#![no_std]
