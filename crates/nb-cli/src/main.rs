//! The `nb` command.
fn main() {}
