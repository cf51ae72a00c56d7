//! The identifiers OrderlyWeb clients know: version ids (`20161006-142357-e80edf58`) and run
//! keys (`adjective_animal`).

use chrono::{DateTime, Utc};

/// A version id: `YYYYMMDD-HHMMSS-`, then the milliseconds and 4 random digits, all 8 in hex
/// (as orderly makes them), so that ids sort in the order they were made, to the millisecond.
pub fn version_id(at: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}{:04x}",
        at.format("%Y%m%d-%H%M%S"),
        at.timestamp_subsec_millis().min(999),
        rand::random::<u16>()
    )
}

const ADJECTIVES: [&str; 24] = [
    "agile", "bashful", "brave", "calm", "clever", "cosy", "dapper", "eager", "fancy", "gentle",
    "happy", "jolly", "keen", "lively", "merry", "nimble", "plucky", "proud", "quiet", "rapid",
    "shy", "tidy", "witty", "zesty",
];
const ANIMALS: [&str; 24] = [
    "aardvark", "badger", "beaver", "bison", "camel", "crane", "dingo", "eagle", "ferret", "gecko",
    "heron", "ibis", "jackal", "koala", "lemur", "marmot", "newt", "otter", "panda", "quokka",
    "raven", "tapir", "walrus", "zebu",
];

/// A run key: `adjective_animal`. Collisions are possible; callers reserve keys atomically.
pub fn run_key() -> String {
    let adjective = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
    let animal = ANIMALS[rand::random_range(0..ANIMALS.len())];
    format!("{adjective}_{animal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_the_seed_shapes() {
        let at = DateTime::parse_from_rfc3339("2016-10-06T14:23:57Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = version_id(at);
        assert!(id.starts_with("20161006-142357-0000"));
        assert_eq!(id.len(), "20161006-142357-e80edf58".len());
        assert!(id[16..].chars().all(|c| c.is_ascii_hexdigit()));
        for _ in 0..20 {
            let later = version_id(at + chrono::Duration::milliseconds(1));
            assert!(later > version_id(at), "ids made later sort later");
        }
        let key = run_key();
        let (adjective, animal) = key.split_once('_').unwrap();
        assert!(ADJECTIVES.contains(&adjective) && ANIMALS.contains(&animal));
    }
}
