//! The command line: global options and every command.

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

/// A signed client of Baton's API, for operators and scripts.
///
/// Reaches the API at --url (BATON_URL) signing with --key-id and --secret (BATON_KEY_ID,
/// BATON_SECRET), or with a profile of ~/.config/baton/config.toml (--profile). Exits 0 on
/// success, 1 when a waited-for run failed or was canceled, 2 on a usage or HTTP error.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, long_about)]
pub struct Cli {
    /// The API's base URL, e.g. http://127.0.0.1:8000.
    #[arg(long, env = "BATON_URL", global = true)]
    pub url: Option<String>,
    /// The id of the API key that signs.
    #[arg(long, env = "BATON_KEY_ID", global = true)]
    pub key_id: Option<String>,
    /// The key's secret.
    #[arg(long, env = "BATON_SECRET", global = true, hide_env_values = true)]
    pub secret: Option<String>,
    /// A profile of the config file, used instead of the flags and environment.
    #[arg(long, env = "BATON_PROFILE", global = true)]
    pub profile: Option<String>,
    /// The config file (default ~/.config/baton/config.toml).
    #[arg(long, env = "BATON_CONFIG", global = true)]
    pub config: Option<std::path::PathBuf>,
    /// Print the API's JSON unchanged instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Workflow runs: list, show, run, relaunch, cancel, logs.
    #[command(subcommand)]
    Workflows(WorkflowsCommand),
    /// The workflow definitions the API serves.
    Definitions,
    /// Every queue: waiting, running, delayed, dead, paused, jobs finished per minute.
    Queues,
    /// One queue: show, pause, resume.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Dead letters of a queue: list, requeue, delete.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLettersCommand),
    /// The workers, with the jobs they hold.
    Workers,
    /// API keys (admin): list, create, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Reports (OrderlyWeb's routes): run, status, log.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Releases (the Release Coordinator's routes): list, show, publish, cancel.
    #[command(subcommand)]
    Releases(ReleasesCommand),
    /// Projects (Orchestra's routes): show, end, pause, resume, assign, reassign, tasks,
    /// reviews.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Prints a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: Shell,
    },
}

/// `baton workflows ...`.
#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// Runs, newest first.
    List(ListArgs),
    /// One run with its tasks.
    Show {
        /// The run id.
        id: String,
    },
    /// Starts a workflow.
    Run {
        /// The workflow: PROJECT.NAME.
        workflow: String,
        /// The payload, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Wait for the run to finish, with a progress bar; exit 1 unless it succeeds.
        #[arg(long)]
        wait: bool,
    },
    /// Starts a run's workflow again with the same payload.
    Relaunch {
        /// The run id.
        id: String,
        /// Wait for the new run to finish; exit 1 unless it succeeds.
        #[arg(long)]
        wait: bool,
    },
    /// Cancels a run.
    Cancel {
        /// The run id.
        id: String,
    },
    /// A run's log.
    Logs {
        /// The run id.
        id: String,
        /// Only this task's lines.
        #[arg(long)]
        task: Option<String>,
        /// Keep printing new lines until the run finishes.
        #[arg(long, short)]
        follow: bool,
    },
}

/// Filters and paging of `baton workflows list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only runs of this workflow name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only runs of this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only runs in this status (pending, progress, success, error, canceled).
    #[arg(long)]
    pub status: Option<String>,
    /// Runs per page.
    #[arg(long, default_value_t = 50)]
    pub per_page: u32,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: u32,
}

/// `baton queue ...`.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// One queue's counts.
    Show {
        /// The queue.
        name: String,
    },
    /// Workers take no new job from the queue.
    Pause {
        /// The queue.
        name: String,
    },
    /// Workers take the queue's jobs again.
    Resume {
        /// The queue.
        name: String,
    },
}

/// Which dead letters a command acts on: one by id, or `--all`.
#[derive(Debug, Args)]
pub struct DeadLetterTarget {
    /// The queue.
    pub queue: String,
    /// The dead letter's id (from `baton dead-letters list`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub id: Option<String>,
    /// Every dead letter of the queue.
    #[arg(long)]
    pub all: bool,
}

/// `baton dead-letters ...`.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// A queue's dead letters, newest first.
    List {
        /// The queue.
        queue: String,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Dead letters per page.
        #[arg(long, default_value_t = 100)]
        per_page: u32,
    },
    /// Gives a dead letter's task (or every one's, with --all) a new attempt.
    Requeue(DeadLetterTarget),
    /// Deletes a dead letter (or all of them, with --all); its task stays failed.
    Delete(DeadLetterTarget),
}

/// `baton keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Every key, without secrets.
    List,
    /// Creates a key; prints its secret once.
    Create {
        /// The key id: letters, digits, '.', '_' or '-'.
        id: String,
        /// Comma-separated permissions: workflows.read, workflows.run, operator, admin, ...
        #[arg(long, value_delimiter = ',', required = true)]
        permissions: Vec<String>,
        /// Accept signatures over `date` alone (Orchestra's client).
        #[arg(long)]
        allow_date_only: bool,
    },
    /// Revokes a key.
    Revoke {
        /// The key id.
        id: String,
    },
}

/// `baton reports ...`.
#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Runs a report; prints the run's key.
    Run {
        /// The report.
        name: String,
        /// A parameter, NAME=VALUE (repeat for more).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// The git branch to run from.
        #[arg(long)]
        branch: Option<String>,
        /// The git commit to run at.
        #[arg(long)]
        commit: Option<String>,
    },
    /// A report run's status.
    Status {
        /// The run's key.
        key: String,
    },
    /// A report run's log.
    Log {
        /// The run's key.
        key: String,
    },
}

/// `baton releases ...`.
#[derive(Debug, Subcommand)]
pub enum ReleasesCommand {
    /// Releases, newest first.
    List {
        /// Only releases in this state.
        #[arg(long)]
        state: Option<String>,
        /// Most releases.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One release with its tasks.
    Show {
        /// The release id.
        id: String,
    },
    /// Publishes a staged release.
    Publish {
        /// The release id.
        id: String,
    },
    /// Cancels an unfinished release.
    Cancel {
        /// The release id.
        id: String,
    },
}

/// `baton projects ...`.
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// One project: its fields, then each step's task with its status and who holds it.
    Show {
        /// The project id.
        id: u64,
    },
    /// Ends a project: its unfinished tasks are aborted, its status is `aborted`.
    End {
        /// The project id.
        id: u64,
    },
    /// Pauses a project: its tasks are no longer offered to people.
    Pause {
        /// The project id.
        id: u64,
    },
    /// Resumes a paused project: its tasks are offered again.
    Resume {
        /// The project id.
        id: u64,
    },
    /// Gives a waiting human task to a person.
    Assign {
        /// The task id (from `baton projects show` or `baton projects tasks`).
        task_id: u64,
        /// The person: their key id.
        person: String,
    },
    /// Moves a claimed task, not yet submitted, to another person.
    Reassign {
        /// The assignment id (from `baton projects show`).
        assignment_id: u64,
        /// The person: their key id.
        person: String,
    },
    /// The human tasks nobody has claimed yet, highest priority first (none of a paused
    /// project).
    Tasks {
        /// Only the tasks of this human queue: `human` (the default) or `human.NAME`.
        #[arg(long)]
        queue: Option<String>,
        /// Most tasks listed (1 to 500; the API's default is 100).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// The tasks submitted for review and waiting for a reviewer (not the signing key's own
    /// work), highest priority first.
    Reviews {
        /// Most tasks listed (1 to 500; the API's default is 100).
        #[arg(long)]
        limit: Option<u32>,
    },
}
