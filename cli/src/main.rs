//! `baton`: a signed HTTP client of Baton's API (see `baton --help`).

mod client;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use baton_cli::args;
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};
use crate::commands::Outcome;
use crate::config::Profile;
use crate::output::Format;

/// Exit status of a usage or HTTP error.
const EXIT_ERROR: u8 = 2;
/// Exit status of a waited-for run that failed or was canceled.
const EXIT_RUN_FAILED: u8 = 1;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        let mut command = Cli::command();
        clap_complete::generate(shell, &mut command, "baton", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let given = Profile {
        url: cli.url.clone(),
        key_id: cli.key_id.clone(),
        secret: cli.secret.clone(),
    };
    let path = cli.config.clone().or_else(config::default_path);
    let target = match config::resolve(&given, cli.profile.as_deref(), path.as_deref()) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("baton: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let client = match client::Client::new(&target) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("baton: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let format = if cli.json {
        Format::Json
    } else {
        Format::Human
    };
    match commands::run(&client, format, cli.command).await {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::RunFailed) => ExitCode::from(EXIT_RUN_FAILED),
        Err(error) => {
            eprintln!("baton: {error}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
