//! The Release Coordinator's domain: ids, the task and release state machines, the protocol
//! actions sent to task services, and semantic versions.
//!
//! A release is a Baton-coordinated set of tasks, one per enabled task service. Each protocol
//! phase (`initialize`, `start`, `publish`, `cancel`) is a Baton run whose tasks call the
//! services; the states below are what the coordinator records of each.

pub mod call;
pub mod dataservice;
pub mod records;
pub mod task_service;

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use strum::{Display, EnumString, IntoStaticStr, VariantArray, VariantNames};

use crate::error::{InvalidInput, unknown_name};

/// The characters of an id's random part.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Length of an id's random part.
const ID_LEN: usize = 8;

/// The kinds of records, each with its id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `RE_`: a release.
    Release,
    /// `TA_`: a task.
    Task,
    /// `TS_`: a task service.
    TaskService,
    /// `RN_`: a release note.
    Note,
    /// `SD_`: a study.
    Study,
    /// `EV_`: an event.
    Event,
}

impl IdKind {
    /// The prefix of ids of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Release => "RE_",
            Self::Task => "TA_",
            Self::TaskService => "TS_",
            Self::Note => "RN_",
            Self::Study => "SD_",
            Self::Event => "EV_",
        }
    }

    /// A fresh random id (`RE_` and 8 uppercase letters or digits).
    pub fn new_id(self) -> String {
        let mut rng = rand::rng();
        let random: String = (0..ID_LEN)
            .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
            .collect();
        format!("{}{random}", self.prefix())
    }

    /// True when `id` has this kind's form. Ids end up inside Redis keys, so anything else is
    /// refused before it reaches the store.
    pub fn is_valid(self, id: &str) -> bool {
        id.strip_prefix(self.prefix()).is_some_and(|rest| {
            rest.len() == ID_LEN
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
    }
}

/// Length of the secret part of a task service's token (256 bits in base64url).
const TOKEN_SECRET_LEN: usize = 43;

/// A task service's token, as registration answers it once: `TS_XXXXXXXX.SECRET`. The
/// service's id in front names the one record to check it against, so checking a token costs
/// one read; only the SHA-256 of `SECRET` ([`ServiceToken::digest`]) is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceToken {
    /// The service it belongs to.
    pub service: String,
    /// The random part.
    secret: String,
}

impl ServiceToken {
    /// A fresh token for service `service` (256 random bits).
    pub fn issue(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            secret: crate::auth::api_key::random_token(),
        }
    }

    /// Reads a token as presented, when it has a token's form (nothing is looked up).
    pub fn parse(text: &str) -> Option<Self> {
        let (service, secret) = text.trim().split_once('.')?;
        let well_formed = IdKind::TaskService.is_valid(service)
            && secret.len() == TOKEN_SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self {
            service: service.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The same token naming `service` instead: registration issues the token before it
    /// knows whether the service is new or registered again under its old id.
    pub fn naming(self, service: &str) -> Self {
        Self {
            service: service.to_owned(),
            ..self
        }
    }

    /// What is stored in its place: the SHA-256 of its secret, in hex.
    pub fn digest(&self) -> String {
        crate::auth::api_key::token_digest(&self.secret)
    }

    /// The token as handed to its service.
    pub fn reveal(&self) -> String {
        format!("{}.{}", self.service, self.secret)
    }
}

/// A task's state: `waiting → initialized → running → staged → publishing → published`;
/// `waiting → rejected`; any unfinished state `→ failed` or `→ canceled`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = InvalidInput, parse_err_fn = unknown_name::<Self>)]
pub enum TaskState {
    /// Created; the service has not accepted it yet.
    Waiting,
    /// The service accepted it (answered `pending` to `initialize`).
    Initialized,
    /// The service is working on it.
    Running,
    /// The service's work is ready to publish.
    Staged,
    /// The service is publishing it.
    Publishing,
    /// Published.
    Published,
    /// The service refused it at `initialize`.
    Rejected,
    /// It failed.
    Failed,
    /// It was canceled.
    Canceled,
}

impl TaskState {
    /// The name as stored in Redis and shown to clients.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every state.
    pub const ALL: &'static [Self] = <Self as VariantArray>::VARIANTS;

    /// Every state's name, as stored and shown.
    pub const NAMES: &'static [&'static str] = <Self as VariantNames>::VARIANTS;

    /// True once the task can no longer change.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Published | Self::Rejected | Self::Failed | Self::Canceled
        )
    }

    /// The states from which a task may move to `self`.
    pub fn predecessors(self) -> &'static [TaskState] {
        use TaskState::*;
        match self {
            Waiting => &[],
            Initialized | Rejected => &[Waiting],
            Running => &[Initialized],
            Staged => &[Running],
            Publishing => &[Staged],
            Published => &[Publishing],
            Failed | Canceled => &[Waiting, Initialized, Running, Staged, Publishing],
        }
    }

    /// True when a task may move from `self` to `next`.
    pub fn may_become(self, next: TaskState) -> bool {
        next.predecessors().contains(&self)
    }

    /// The steps from `self` to `target` when a service reports a state further along than
    /// the coordinator has recorded (an answer or a report was lost, or a call was repeated
    /// after a crash): `initialized → running → staged`, or `publishing → published`. Never
    /// across `staged → publishing`, which only the release's publish starts. `None` when
    /// `target` is not ahead of `self` on one of those paths.
    pub fn steps_to(self, target: TaskState) -> Option<Vec<TaskState>> {
        use TaskState::*;
        const PATHS: [&[TaskState]; 2] =
            [&[Initialized, Running, Staged], &[Publishing, Published]];
        PATHS.iter().find_map(|path| {
            let from = path.iter().position(|state| *state == self)?;
            let to = path.iter().position(|state| *state == target)?;
            (to > from).then(|| path[from + 1..=to].to_vec())
        })
    }
}

/// A release's state: `waiting → initializing → initialized → running → staged →
/// publishing → published`; `canceling → canceled` from any unfinished state; `failed`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = InvalidInput, parse_err_fn = unknown_name::<Self>)]
pub enum ReleaseState {
    /// Created; its tasks are being made.
    Waiting,
    /// Its tasks are being initialized.
    Initializing,
    /// Every task is initialized; they are being started.
    Initialized,
    /// Its tasks are running.
    Running,
    /// Every task is staged: ready to publish.
    Staged,
    /// Its tasks are publishing.
    Publishing,
    /// Every task is published.
    Published,
    /// Being canceled.
    Canceling,
    /// Canceled.
    Canceled,
    /// A task failed or was rejected.
    Failed,
}

impl ReleaseState {
    /// The name as stored in Redis and shown to clients.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every state.
    pub const ALL: &'static [Self] = <Self as VariantArray>::VARIANTS;

    /// Every state's name, as stored and shown.
    pub const NAMES: &'static [&'static str] = <Self as VariantNames>::VARIANTS;

    /// True once the release can no longer change by itself.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Published | Self::Canceled | Self::Failed)
    }

    /// The protocol phase due in this state, if any.
    pub fn due_phase(self) -> Option<Action> {
        match self {
            Self::Waiting | Self::Initializing => Some(Action::Initialize),
            Self::Initialized => Some(Action::Start),
            Self::Publishing => Some(Action::Publish),
            Self::Canceling | Self::Failed => Some(Action::Cancel),
            Self::Running | Self::Staged | Self::Published | Self::Canceled => None,
        }
    }
}

/// A protocol action sent to a task service (`POST /tasks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Offer the task; the service answers `pending` when it takes it.
    Initialize,
    /// Start working; the service answers `running`.
    Start,
    /// Publish the staged work; the service answers `publishing`.
    Publish,
    /// Ask for the task's state.
    GetStatus,
    /// Stop; the service answers `canceled`.
    Cancel,
}

impl Action {
    /// The action as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::Start => "start",
            Self::Publish => "publish",
            Self::GetStatus => "get_status",
            Self::Cancel => "cancel",
        }
    }

    /// The task states this action is sent in (a task elsewhere is skipped).
    pub fn sent_in(self) -> &'static [TaskState] {
        use TaskState::*;
        match self {
            Self::Initialize => &[Waiting],
            Self::Start => &[Initialized],
            Self::Publish => &[Staged],
            Self::GetStatus => &[Running, Publishing],
            Self::Cancel => &[Waiting, Initialized, Running, Staged, Publishing],
        }
    }

    /// The state the service must answer with, and the task state it means.
    pub fn expected_answer(self) -> Option<(&'static str, TaskState)> {
        match self {
            Self::Initialize => Some(("pending", TaskState::Initialized)),
            Self::Start => Some(("running", TaskState::Running)),
            Self::Publish => Some(("publishing", TaskState::Publishing)),
            Self::Cancel => Some(("canceled", TaskState::Canceled)),
            Self::GetStatus => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of the Baton run executing `action` for `release`: fixed, so creating it twice
/// makes one run.
pub fn phase_run_id(release: &str, action: Action) -> String {
    format!("release-{release}-{}", action.as_str())
}

/// A semantic version `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
}

/// A release's version while it runs: the next patch of the latest published one. The
/// version it is published as (the next minor, or major) is taken by the publishing step
/// itself, atomically with the publication (`lua/release_step.lua`), so two releases
/// published at once never get the same one.
impl Version {
    /// The next patch version.
    pub fn next_patch(self) -> Self {
        Self {
            patch: self.patch + 1,
            ..self
        }
    }
}

impl FromStr for Version {
    type Err = InvalidInput;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidInput::new(format!("'{text}' is not a version MAJOR.MINOR.PATCH"));
        let parts: Vec<u64> = text
            .split('.')
            .map(|part| part.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match parts.as_slice() {
            [major, minor, patch] => Ok(Self {
                major: *major,
                minor: *minor,
                patch: *patch,
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_seed_form() {
        for kind in [
            IdKind::Release,
            IdKind::Task,
            IdKind::TaskService,
            IdKind::Note,
            IdKind::Study,
            IdKind::Event,
        ] {
            let id = kind.new_id();
            assert!(kind.is_valid(&id), "{id}");
            assert_eq!(id.len(), 11);
        }
        assert!(!IdKind::Release.is_valid("RE_abc12345"));
        assert!(!IdKind::Release.is_valid("TA_ABC12345"));
        assert!(!IdKind::Release.is_valid("RE_ABC1234"));
        assert!(!IdKind::Release.is_valid("RE_ABC1234}"));
    }

    #[test]
    fn service_tokens_name_their_service_and_are_stored_as_digests() {
        let token = ServiceToken::issue("TS_ABCD1234");
        let text = token.reveal();
        assert!(text.starts_with("TS_ABCD1234."), "{text}");
        let parsed = ServiceToken::parse(&text).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.digest(), token.digest());
        assert_eq!(token.digest().len(), 64);
        assert_ne!(ServiceToken::issue("TS_ABCD1234").digest(), token.digest());
        for bad in [
            "",
            "TS_ABCD1234",
            "TS_ABCD1234.short",
            "XX_ABCD1234.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "TS_ABCD1234.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        ] {
            assert_eq!(ServiceToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn task_transitions_follow_the_protocol() {
        use TaskState::*;
        assert!(Waiting.may_become(Initialized));
        assert!(Waiting.may_become(Rejected));
        assert!(Running.may_become(Staged));
        assert!(Publishing.may_become(Published));
        assert!(Staged.may_become(Canceled));
        assert!(!Waiting.may_become(Staged));
        assert!(!Running.may_become(Published));
        assert!(!Published.may_become(Failed));
        assert!(!Canceled.may_become(Running));
        assert!("bogus".parse::<TaskState>().is_err());
    }

    #[test]
    fn versions_parse_and_bump_their_patch() {
        let v: Version = "1.2.3".parse().unwrap();
        assert_eq!(v.next_patch().to_string(), "1.2.4");
        assert_eq!(Version::default().next_patch().to_string(), "0.0.1");
        assert!("1.2".parse::<Version>().is_err());
    }

    #[test]
    fn phase_runs_have_fixed_ids() {
        assert_eq!(
            phase_run_id("RE_X", Action::Initialize),
            "release-RE_X-initialize"
        );
        assert_eq!(ReleaseState::Initialized.due_phase(), Some(Action::Start));
        assert_eq!(ReleaseState::Staged.due_phase(), None);
    }

    #[test]
    fn states_further_along_are_reached_step_by_step_but_never_past_staged() {
        use TaskState::*;
        assert_eq!(Initialized.steps_to(Staged), Some(vec![Running, Staged]));
        assert_eq!(Running.steps_to(Staged), Some(vec![Staged]));
        assert_eq!(Publishing.steps_to(Published), Some(vec![Published]));
        assert_eq!(Staged.steps_to(Published), None);
        assert_eq!(Staged.steps_to(Running), None);
        assert_eq!(Waiting.steps_to(Running), None);
    }
}
