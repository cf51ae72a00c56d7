//! Who may do what, as stored: API keys with sealed secrets, the replay memory of signed
//! requests, login attempts, and console sessions.
//!
//! - [`apikeys`]: API keys with sealed secrets and permissions; replay memory.
//! - [`sessions`]: console sessions (by cookie digest), ended at once when their key is revoked.

pub mod apikeys;
pub mod sessions;
