//! `cargo xtask`: project jobs that are more than one command.
fn main() {}
