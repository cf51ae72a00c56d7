//! When this process last wrote each key's `last_used`, so that a key signing many requests a
//! second costs one write a minute instead of one per request: `last_used` is exact to within
//! [`LAST_USED_RESOLUTION_MS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How stale a key's `last_used` may be (ms).
pub const LAST_USED_RESOLUTION_MS: u64 = 60_000;

/// The time this process last recorded each key's use. Only keys whose signature verified
/// reach it, so it holds no more entries than there are keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyUses {
    written_ms: Arc<Mutex<HashMap<String, u64>>>,
}

impl KeyUses {
    /// True when a use of key `id` at `now_ms` is to be written (this process wrote none in
    /// the last [`LAST_USED_RESOLUTION_MS`]); counts it as written.
    pub(crate) fn due(&self, id: &str, now_ms: u64) -> bool {
        let mut written = self
            .written_ms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match written.get_mut(id) {
            Some(last) if now_ms.saturating_sub(*last) < LAST_USED_RESOLUTION_MS => false,
            Some(last) => {
                *last = now_ms;
                true
            }
            None => {
                written.insert(id.to_owned(), now_ms);
                true
            }
        }
    }

    /// Forgets when key `id`'s use was written, so its next use is written at once.
    pub(crate) fn forget(&self, id: &str) {
        self.written_ms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_once_per_resolution_per_key() {
        let uses = KeyUses::default();
        assert!(uses.due("a", 1_000));
        assert!(!uses.due("a", 1_001));
        assert!(!uses.due("a", 1_000 + LAST_USED_RESOLUTION_MS - 1));
        assert!(uses.due("b", 1_001));
        assert!(uses.due("a", 1_000 + LAST_USED_RESOLUTION_MS));
        assert!(!uses.due("a", 1_000 + LAST_USED_RESOLUTION_MS + 5));
        uses.forget("a");
        assert!(uses.due("a", 1_000 + LAST_USED_RESOLUTION_MS + 6));
    }
}
