//! The `roster` binary's library half: configuration, telemetry and the commands.
//! Everything here is thin glue over `roster-core`, `roster-store` and `roster-api`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use roster_api::{admin, AppState};
use roster_core::actor::{acting, Actor, Who};
use roster_core::domain::{KeyId, WorkspaceId};
use roster_core::error::Resource;
use roster_core::import::MatchKey;
use roster_core::rate_limit::RateLimit;
use roster_core::webhooks::WebhookKey;
use roster_core::{Error, Roster};
use roster_search::SearchIndex;
use roster_transfer::export::{export_contacts, export_organizations, Format};
use roster_transfer::import::{import_csv, ImportError};
use serde_json::Value;
use std::path::PathBuf;
use tokio::net::TcpListener;

pub mod cli;
pub mod config;

use cli::{
    Cli, Command, ContactCommand, GovernanceLevelCommand, GroupCommand, InboxCommand, KeyCommand,
    ServeArgs, StorageArgs, UserCommand, WebhookCommand, WorkspaceCommand,
};

pub async fn run(cli: Cli, config: config::Loaded) -> ExitCode {
    if let Err(err) = init_tracing() {
        eprintln!("roster: {err}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Config => {
            print(&config::effective(&config));
            Ok(())
        }
        Command::Healthcheck { listen, timeout } => healthcheck(&listen, timeout).await,
        Command::Serve(args) => serve(&cli.storage, args).await,
        Command::Workspace(command) => workspace(&cli.storage, command).await,
        Command::Key(command) => key(&cli.storage, command).await,
        Command::User(command) => user(&cli.storage, command).await,
        Command::Group(command) => group(&cli.storage, command).await,
        Command::GovernanceLevel(command) => governance_level(&cli.storage, command).await,
        Command::Inbox(command) => inbox(&cli.storage, command).await,
        Command::Webhook(command) => webhook(&cli.storage, command).await,
        Command::Merges { workspace } => merges(&cli.storage, &workspace).await,
        Command::Contact(command) => contact(&cli.storage, command).await,
        Command::Import {
            workspace,
            keys,
            file,
        } => import(&cli.storage, &workspace, &keys, &file).await,
        Command::Export {
            workspace,
            format,
            organizations,
        } => export(&cli.storage, &workspace, &format, organizations).await,
        Command::Reindex => reindex(&cli.storage).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // On the command line every failure is the operator's to read: no "internal error"
        // prefix for what is a refused connection or a locked index.
        Err(Error::Internal(message)) => {
            eprintln!("roster: {message}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("roster: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: readable text, or one JSON object per line with
/// `ROSTER_LOG_FORMAT=json`; `ROSTER_LOG` (else `RUST_LOG`) filters, default `info`.
fn init_tracing() -> Result<(), String> {
    let directives = std::env::var("ROSTER_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .map_err(|err| format!("ROSTER_LOG {directives:?} is not a log filter: {err}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = std::env::var("ROSTER_LOG_FORMAT").unwrap_or_default();
    let _ = match format.as_str() {
        "json" => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        "" | "text" => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        other => {
            return Err(format!(
                "ROSTER_LOG_FORMAT {other:?} is neither text nor json"
            ))
        }
    };
    Ok(())
}

/// `GET /healthz` on the local server, with a timeout; Ok only for a 200.
async fn healthcheck(listen: &str, timeout: u64) -> Result<(), Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server listening on every interface is reached on loopback.
    let target = listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(&target).await?;
        let request = format!("GET /healthz HTTP/1.0\r\nHost: {target}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(timeout), probe)
        .await
        .map_err(|_| Error::internal(format!("no answer from {target} within {timeout} s")))?
        .map_err(|err| {
            Error::internal(match err.kind() {
                std::io::ErrorKind::ConnectionRefused => format!(
                    "nothing answers at {target}: is `roster serve` running there? (connection refused)"
                ),
                _ => format!("cannot reach {target}: {err}"),
            })
        })?;
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("{}", serde_json::json!({"healthy": true, "server": target}));
        Ok(())
    } else {
        Err(Error::internal(format!(
            "{target} answered {status_line:?}"
        )))
    }
}

async fn open(storage: &StorageArgs) -> Result<Roster, Error> {
    let store = roster_store::open(storage.database_url.as_deref(), &storage.data_dir).await?;
    let key = match storage.webhook_key.as_deref().filter(|key| !key.is_empty()) {
        Some(text) => WebhookKey::from_text(text),
        None => webhook_key_file(&storage.data_dir)?,
    };
    Ok(Roster::new(store)
        .await?
        .with_webhooks(key, storage.webhook_allow_private))
}

/// The webhook key kept beside the database, made on first use: outside the database,
/// so that a dump of it alone cannot forge webhook signatures.
fn webhook_key_file(data_dir: &Path) -> Result<WebhookKey, Error> {
    let path = data_dir.join("webhook.key");
    let read = |path: &Path| -> Result<WebhookKey, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Error::internal(format!("cannot read {}: {err}", path.display())))?;
        Ok(WebhookKey::from_text(text.trim()))
    };
    if path.exists() {
        return read(&path);
    }
    std::fs::create_dir_all(data_dir).map_err(Error::internal)?;
    let key: String = WebhookKey::generate()?
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(key.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|err| {
                    Error::internal(format!("cannot write {}: {err}", path.display()))
                })?;
            Ok(WebhookKey::from_text(&key))
        }
        // Another process made it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(err) => Err(Error::internal(format!(
            "cannot create {}: {err}",
            path.display()
        ))),
    }
}

/// Where a node keeps its search index: always local, even when the store is shared.
fn index_dir(storage: &StorageArgs) -> PathBuf {
    storage.data_dir.join("index")
}

async fn serve(storage: &StorageArgs, args: ServeArgs) -> Result<(), Error> {
    let default_rate_limit = args
        .rate_limit
        .as_deref()
        .filter(|text| !text.is_empty())
        .map(|text| RateLimit::parse("--rate-limit", text))
        .transpose()?;
    let roster = open(storage).await?;
    let progress = progress_reporter("indexing");
    let search =
        SearchIndex::open_with_progress(&index_dir(storage), roster.store_handle(), &progress)
            .await?;
    let roster = roster.with_search(search.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let follower = search.follow(until_stopped());
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
    let cleaner = tokio::spawn(clean_up(roster.clone(), until_stopped()));
    let sender = tokio::spawn(roster_webhooks::run(roster.clone(), until_stopped()));
    let expiries = tokio::spawn({
        let roster = roster.clone();
        let stopped = until_stopped();
        async move { roster.run_expiries(stopped).await }
    });
    let state = AppState::new(
        roster,
        args.admin_token.filter(|t| !t.is_empty()).map(Arc::from),
    )
    .with_default_rate_limit(default_rate_limit);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let tasks = state.tasks.clone();
    roster_api::serve(listener, roster_api::router(state), until_stopped())
        .await
        .map_err(Error::internal)?;
    // Imports still running (their clients gone) finish their batches first.
    tasks.close();
    tasks.wait().await;
    let _ = follower.await;
    let _ = cleaner.await;
    let _ = sender.await;
    let _ = expiries.await;
    // Leave the index in step with every acknowledged write.
    search.catch_up().await?;
    tracing::info!("roster stopped");
    Ok(())
}

/// Once a minute, forgets expired `Idempotency-Key` answers (a bounded batch at a time by
/// the expiry index; several nodes may do it at once, each batch is its own statement) and
/// events past their retention.
async fn clean_up(roster: Roster, stopped: impl std::future::Future<Output = ()>) {
    const BATCH: u32 = 1000;
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = every_minute.tick() => {}
        }
        loop {
            match roster.prune_keys(BATCH).await {
                Ok(pruned) if pruned == u64::from(BATCH) => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(%err, "could not forget expired Idempotency-Keys");
                    break;
                }
            }
        }
        if let Err(err) = roster.prune_events().await {
            tracing::warn!(%err, "could not forget old events");
        }
    }
}

async fn import(
    storage: &StorageArgs,
    workspace: &str,
    keys: &[String],
    file: &Path,
) -> Result<(), Error> {
    let keys = keys
        .iter()
        .map(|key| MatchKey::parse(key).map_err(|reason| Error::invalid("--match", reason)))
        .collect::<Result<Vec<_>, _>>()?;
    let (roster, workspace) = open_workspace(storage, workspace).await?;
    let (input, size): (Box<dyn std::io::Read + Send>, u64) = if file == Path::new("-") {
        (Box::new(std::io::stdin()), 0)
    } else {
        let opened = std::fs::File::open(file).map_err(|err| {
            Error::invalid("FILE", format!("cannot open {}: {err}", file.display()))
        })?;
        let size = opened.metadata().map_or(0, |m| m.len());
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, opened)),
            size,
        )
    };
    let progress = progress_reporter("importing (bytes)");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_failed = None;
    let importing = import_csv(roster.clone(), workspace, keys, input, |reports, bytes| {
        for report in reports {
            if let Err(err) = writeln!(out, "{}", report.to_json()) {
                write_failed.get_or_insert(err);
            }
        }
        progress(bytes, size.max(bytes));
        std::future::ready(())
    });
    let summary = acting(Actor::new(Who::Import, "cli"), importing)
        .await
        .map_err(|err| match err {
            ImportError::Store(err) => err,
            file => Error::invalid("FILE", file.to_string()),
        })?;
    writeln!(out, "{}", roster_transfer::import::summary_json(&summary))
        .map_err(Error::internal)?;
    out.flush().map_err(Error::internal)?;
    if let Some(err) = write_failed {
        return Err(Error::internal(format!("writing the report: {err}")));
    }
    eprintln!(
        "imported {} rows: {} created, {} updated, {} unchanged, {} rejected",
        summary.rows(),
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.rejected
    );
    Ok(())
}

async fn export(
    storage: &StorageArgs,
    workspace: &str,
    format: &str,
    organizations: bool,
) -> Result<(), Error> {
    let format = Format::parse(format).map_err(|reason| Error::invalid("--format", reason))?;
    let (roster, workspace) = open_workspace(storage, workspace).await?;
    let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let written = if organizations {
        export_organizations(roster.store(), workspace, format, out).await?
    } else {
        export_contacts(roster.store(), workspace, format, out).await?
    };
    eprintln!("exported {written} records");
    Ok(())
}

async fn reindex(storage: &StorageArgs) -> Result<(), Error> {
    let roster = open(storage).await?;
    let progress = progress_reporter("reindexing");
    let search =
        SearchIndex::open_rebuilt(&index_dir(storage), roster.store_handle(), &progress).await?;
    println!(
        "{}",
        serde_json::json!({"reindexed": true, "applied_change": search.applied_seq().await})
    );
    Ok(())
}

/// Progress of long work: a bar on a terminal, a line per 10% otherwise.
fn progress_reporter(label: &'static str) -> impl Fn(u64, u64) + Send + Sync {
    let terminal = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec})")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(label);
    if !terminal {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let last_tenth = std::sync::atomic::AtomicU64::new(0);
    move |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
        if !terminal && total > 0 {
            let tenth = done * 10 / total;
            if last_tenth.fetch_max(tenth, std::sync::atomic::Ordering::Relaxed) < tenth {
                eprintln!("{label}: {done}/{total}");
            }
        }
    }
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
            rate_limit,
        } => {
            let rate_limit = rate_limit
                .as_deref()
                .map(|text| RateLimit::parse("--rate-limit", text))
                .transpose()?;
            let issued = roster
                .issue_key(workspace_id(&workspace)?, &name, permissions, rate_limit)
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

/// `--event` and `--field` lists: empty means "not given".
fn listed<T>(
    names: &[String],
    parse: impl Fn(&[String]) -> Result<T, Error>,
    flag: &str,
) -> Result<Option<T>, Error> {
    if names.is_empty() {
        return Ok(None);
    }
    parse(names).map(Some).map_err(|err| match err {
        Error::Invalid { reason, .. } => Error::invalid(flag, reason),
        other => other,
    })
}

async fn webhook(storage: &StorageArgs, command: WebhookCommand) -> Result<(), Error> {
    use roster_core::webhooks::{parse_event_types, parse_fields, WebhookFormat, WebhookPatch};
    let with_secret = |webhook: &roster_core::webhooks::Webhook, secret: String| {
        let mut shown = admin::render_webhook(webhook);
        shown["secret"] = Value::String(secret);
        shown
    };
    match command {
        WebhookCommand::Create {
            workspace,
            url,
            events,
            fields,
            format,
            description,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let format = match format.as_str() {
                "roster" => WebhookFormat::Roster,
                "saleschat" => WebhookFormat::SalesChat,
                _ => return Err(Error::invalid("--format", "must be roster or saleschat")),
            };
            let request = roster_core::webhooks::WebhookRequest {
                url,
                format,
                events: listed(&events, parse_event_types, "--event")?,
                fields: listed(&fields, parse_fields, "--field")?,
                subscriptions: None,
                description,
            };
            let (webhook, secret) = roster.create_webhook(workspace, request).await?;
            print(&with_secret(&webhook, secret));
        }
        WebhookCommand::List { workspace } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let webhooks = roster.store().webhooks(workspace).await?;
            print(&Value::Array(
                webhooks.iter().map(admin::render_webhook).collect(),
            ));
        }
        WebhookCommand::Update {
            workspace,
            webhook,
            url,
            events,
            fields,
            enabled,
            description,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let patch = WebhookPatch {
                url,
                events: listed(&events, parse_event_types, "--event")?.map(Some),
                fields: listed(&fields, parse_fields, "--field")?.map(Some),
                subscriptions: None,
                description: description.map(Some),
                enabled,
            };
            let updated = roster.update_webhook(workspace, webhook, patch).await?;
            print(&admin::render_webhook(&updated));
        }
        WebhookCommand::Delete { workspace, webhook } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let deleted = roster.store().delete_webhook(workspace, webhook).await?;
            print(&admin::render_webhook(&deleted));
        }
        WebhookCommand::RotateSecret { workspace, webhook } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let (webhook, secret) = roster.rotate_webhook_secret(workspace, webhook).await?;
            print(&with_secret(&webhook, secret));
        }
        WebhookCommand::Deliveries {
            workspace,
            webhook,
            limit,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let attempts = roster
                .store()
                .webhook_attempts(workspace, webhook, limit.clamp(1, 1_000))
                .await?;
            print(&Value::Array(
                attempts.iter().map(admin::render_attempt).collect(),
            ));
        }
        WebhookCommand::Redeliver {
            workspace,
            webhook,
            event,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            roster.redeliver(workspace, webhook, &event).await?;
            print(&serde_json::json!({"event_id": event, "queued": true}));
        }
    }
    Ok(())
}

/// Opens the store and checks that the named workspace exists.
async fn open_workspace(
    storage: &StorageArgs,
    workspace: &str,
) -> Result<(Roster, WorkspaceId), Error> {
    let roster = open(storage).await?;
    let workspace = roster
        .existing_workspace(workspace_id(workspace)?)
        .await?
        .id;
    Ok((roster, workspace))
}

async fn user(storage: &StorageArgs, command: UserCommand) -> Result<(), Error> {
    match command {
        UserCommand::Create {
            workspace,
            id,
            name,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            print(&admin::render_user(
                &roster.create_user(workspace, &id, &name).await?,
            ));
        }
        UserCommand::List { workspace } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let users = roster.store().users(workspace).await?;
            print(&Value::Array(
                users.iter().map(admin::render_user).collect(),
            ));
        }
    }
    Ok(())
}

async fn group(storage: &StorageArgs, command: GroupCommand) -> Result<(), Error> {
    match command {
        GroupCommand::Create {
            workspace,
            id,
            name,
            members,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            print(&admin::render_group(
                &roster.create_group(workspace, &id, &name, &members).await?,
            ));
        }
        GroupCommand::SetMembers {
            workspace,
            id,
            members,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            print(&admin::render_group(
                &roster.set_group_members(workspace, &id, &members).await?,
            ));
        }
        GroupCommand::List { workspace } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let groups = roster.store().groups(workspace).await?;
            print(&Value::Array(
                groups.iter().map(admin::render_group).collect(),
            ));
        }
    }
    Ok(())
}

async fn inbox(storage: &StorageArgs, command: InboxCommand) -> Result<(), Error> {
    match command {
        InboxCommand::Create {
            workspace,
            name,
            channel_type,
            provider,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let inbox = roster
                .create_inbox(workspace, &name, &channel_type, provider.as_deref())
                .await?;
            print(&admin::render_inbox(&inbox));
        }
        InboxCommand::List { workspace } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let inboxes = roster.store().inboxes(workspace).await?;
            print(&Value::Array(
                inboxes.iter().map(admin::render_inbox).collect(),
            ));
        }
    }
    Ok(())
}

async fn contact(storage: &StorageArgs, command: ContactCommand) -> Result<(), Error> {
    match command {
        ContactCommand::Export { workspace, contact } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let contact = contact
                .parse()
                .map_err(|reason: &str| Error::invalid("--contact", reason))?;
            print(&admin::privacy::contact_export(&roster, workspace, contact).await?);
        }
    }
    Ok(())
}

async fn merges(storage: &StorageArgs, workspace: &str) -> Result<(), Error> {
    let (roster, workspace) = open_workspace(storage, workspace).await?;
    let merges = roster.store().merges(workspace).await?;
    print(&Value::Array(
        merges.iter().map(admin::render_merge).collect(),
    ));
    Ok(())
}

async fn governance_level(
    storage: &StorageArgs,
    command: GovernanceLevelCommand,
) -> Result<(), Error> {
    match command {
        GovernanceLevelCommand::Create {
            workspace,
            id,
            name,
            retention_days,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let level = roster
                .create_governance_level(workspace, &id, &name, retention_days)
                .await?;
            print(&admin::render_governance_level(&level));
        }
        GovernanceLevelCommand::Update {
            workspace,
            id,
            name,
            retention_days,
        } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let level = roster
                .update_governance_level(workspace, &id, name.as_deref(), retention_days)
                .await?;
            print(&admin::render_governance_level(&level));
        }
        GovernanceLevelCommand::List { workspace } => {
            let (roster, workspace) = open_workspace(storage, &workspace).await?;
            let levels = roster.store().governance_levels(workspace).await?;
            print(&Value::Array(
                levels.iter().map(admin::render_governance_level).collect(),
            ));
        }
    }
    Ok(())
}
