//! Who may do what: API keys and their permissions, HTTP signatures (signing and verifying
//! requests) and secrets sealed at rest under the master key.

pub mod api_key;
pub mod permissions;
pub mod sealing;
pub mod signing;
