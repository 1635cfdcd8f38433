//! The `roster` binary: reads the config file into the environment, parses the command
//! line and hands over to `roster::run`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any thread exists: the file's values become environment variables.
    let args: Vec<String> = std::env::args().collect();
    let loaded = match roster::config::load(&args) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("roster: {err}");
            return ExitCode::FAILURE;
        }
    };
    let cli = roster::cli::Cli::parse();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(roster::run(cli, loaded)),
        Err(err) => {
            eprintln!("roster: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}
