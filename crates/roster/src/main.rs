//! The `roster` binary: parses the command line and hands over to `roster::run`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    roster::run(roster::cli::Cli::parse()).await
}
