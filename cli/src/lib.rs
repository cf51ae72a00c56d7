//! The `baton` command's command line, also read by the test that checks its documented
//! environment variables.

pub mod args;
