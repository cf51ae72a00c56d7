//! See the module list in `security.rs`.
