//! Who may do what: HTTP signatures (signing and verifying requests) and secrets sealed at
//! rest under the master key.

pub mod sealing;
pub mod signing;
