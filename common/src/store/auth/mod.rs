//! Who may do what, as stored: API keys with sealed secrets, the replay memory of signed
//! requests, login attempts, and console sessions.
//!
//! - [`apikeys`]: API keys with sealed secrets and permissions; replay memory.
//! - [`key_uses`]: when this process last wrote each key's `last_used` (once a minute).
//! - [`sessions`]: console sessions (by cookie digest), ended at once when their key is revoked.

pub mod apikeys;
pub mod key_uses;
pub mod sessions;
