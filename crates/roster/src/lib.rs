//! The `roster` binary's library half: configuration, telemetry and the commands.
//! Everything here is thin glue over `roster-core`, `roster-store` and `roster-api`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use roster_api::{admin, AppState};
use roster_core::domain::{KeyId, WorkspaceId};
use roster_core::error::Resource;
use roster_core::{Error, Roster};
use serde_json::Value;
use tokio::net::TcpListener;

pub mod cli;

use cli::{Cli, Command, KeyCommand, ServeArgs, StorageArgs, WorkspaceCommand};

pub async fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let result = match cli.command {
        Command::Serve(args) => serve(&cli.storage, args).await,
        Command::Workspace(command) => workspace(&cli.storage, command).await,
        Command::Key(command) => key(&cli.storage, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("roster: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn open(storage: &StorageArgs) -> Result<Roster, Error> {
    let store = roster_store::open(storage.database_url.as_deref(), &storage.data_dir).await?;
    Roster::new(store).await
}

async fn serve(storage: &StorageArgs, args: ServeArgs) -> Result<(), Error> {
    let roster = open(storage).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::internal(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener.local_addr().map_err(Error::internal)?;
    let backend = if storage
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"))
    {
        "postgresql"
    } else {
        "sqlite"
    };
    tracing::info!(%address, backend, admin_api = args.admin_token.is_some(), "roster is serving");
    let state = AppState {
        roster,
        admin_token: args.admin_token.filter(|t| !t.is_empty()).map(Arc::from),
    };
    roster_api::serve(listener, roster_api::router(state), shutdown_signal())
        .await
        .map_err(Error::internal)?;
    tracing::info!("roster stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

fn workspace_id(raw: &str) -> Result<WorkspaceId, Error> {
    raw.parse()
        .map_err(|reason: &str| Error::invalid("--workspace", reason))
}

async fn workspace(storage: &StorageArgs, command: WorkspaceCommand) -> Result<(), Error> {
    let roster = open(storage).await?;
    match command {
        WorkspaceCommand::Create { name } => {
            print(&admin::render_workspace(
                &roster.create_workspace(&name).await?,
            ));
        }
        WorkspaceCommand::List => {
            let workspaces = roster.store().workspaces().await?;
            print(&Value::Array(
                workspaces.iter().map(admin::render_workspace).collect(),
            ));
        }
    }
    Ok(())
}

async fn key(storage: &StorageArgs, command: KeyCommand) -> Result<(), Error> {
    let roster = open(storage).await?;
    match command {
        KeyCommand::Create {
            workspace,
            name,
            permissions,
        } => {
            let issued = roster
                .issue_key(workspace_id(&workspace)?, &name, permissions)
                .await?;
            print(&admin::render_issued_key(&issued));
        }
        KeyCommand::List { workspace } => {
            let workspace = roster.existing_workspace(workspace_id(&workspace)?).await?;
            let keys = roster.store().api_keys(workspace.id).await?;
            print(&Value::Array(keys.iter().map(admin::render_key).collect()));
        }
        KeyCommand::Revoke { workspace, key } => {
            let key: KeyId = key.parse().map_err(|_| Error::NotFound(Resource::ApiKey))?;
            let revoked = roster.revoke_key(workspace_id(&workspace)?, key).await?;
            print(&admin::render_key(&revoked));
        }
    }
    Ok(())
}
