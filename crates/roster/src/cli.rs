//! The command line: `roster serve` and the admin operations, which print JSON.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Self-hosted contact and organization hub for conversational platforms"
)]
pub struct Cli {
    /// Configuration file (keys as the environment variables, lower case, without
    /// `ROSTER_`); default `./roster.toml` when present.
    #[arg(long, env = "ROSTER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; every command takes these.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for Roster's files (the SQLite database by default).
    #[arg(
        long,
        env = "ROSTER_DATA_DIR",
        default_value = "./roster-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// postgres://user@host/db to use PostgreSQL; default: SQLite in the data directory.
    #[arg(
        long,
        env = "ROSTER_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The key webhook secrets are sealed with (any text; every node of a shared database
    /// needs the same). Default: a key kept in `webhook.key` in the data directory.
    #[arg(
        long,
        env = "ROSTER_WEBHOOK_KEY",
        global = true,
        hide_env_values = true
    )]
    pub webhook_key: Option<String>,
    /// Let webhooks call loopback, private and link-local addresses (refused by default).
    #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP APIs.
    Serve(ServeArgs),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage SalesChat assignment users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage SalesChat assignment groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage SalesChat governance levels.
    #[command(subcommand, name = "governance-level")]
    GovernanceLevel(GovernanceLevelCommand),
    /// Manage Chatwoot inboxes.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Manage webhook endpoints (Roster's and SalesChat's form).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// One contact's data (privacy requests).
    #[command(subcommand)]
    Contact(ContactCommand),
    /// List the contact merges of a workspace (Chatwoot `contact_merge`), oldest first.
    Merges {
        #[arg(long)]
        workspace: String,
    },
    /// Import contacts from a CSV file (`-` for stdin): one JSON line per row on stdout
    /// (created, updated, unchanged or rejected with the reason), then a summary.
    Import {
        #[arg(long)]
        workspace: String,
        /// Fields that find the contact a row updates, tried in order.
        #[arg(
            long = "match",
            value_delimiter = ',',
            default_value = "external_id,email,phone"
        )]
        keys: Vec<String>,
        file: PathBuf,
    },
    /// Export every contact (or organization) of a workspace to stdout.
    Export {
        #[arg(long)]
        workspace: String,
        /// csv (the columns import reads) or ndjson.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Export organizations instead of contacts.
        #[arg(long)]
        organizations: bool,
    },
    /// Print the effective configuration (secrets redacted) and where each value came from.
    Config,
    /// Probe a running server's health (for container and service health checks):
    /// exits 0 when `GET /healthz` answers 200.
    Healthcheck {
        /// The server's address; default the configured listen address.
        #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Rebuild the search index from the store (stop `roster serve` on this data
    /// directory first; a running server rebuilds by itself when its index is lost).
    Reindex,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Token for the admin API (`Authorization: Bearer …`); without it the admin API is off.
    #[arg(long, env = "ROSTER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The request rate limit of keys created without one (as `key create --rate-limit`);
    /// default: none. Counted per node.
    #[arg(long, env = "ROSTER_RATE_LIMIT")]
    pub rate_limit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace and print it.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List all workspaces.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; its secret is printed once, here.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        /// A permission or wildcard; repeat or separate with commas (e.g. `*`).
        #[arg(long = "permission", required = true, value_delimiter = ',')]
        permissions: Vec<String>,
        /// Its request rate limit: `<requests>/<window>` (`100/s`, `600/10m`, `5000/h`),
        /// `saleschat` (SalesChat's 5/s per key and 10/s per org, per endpoint) or `none`;
        /// without it, the server's default (`--rate-limit` of `roster serve`).
        #[arg(long)]
        rate_limit: Option<String>,
    },
    /// List a workspace's keys (never their secrets).
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a key: it stops working at once.
    Revoke {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Print everything Roster holds about a contact as one JSON document: its record,
    /// history, stage history, merges and retained events (as the admin API's export).
    Export {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        contact: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create an endpoint; its signing secret is printed once, here.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        url: String,
        /// An event type to send (repeat or separate with commas); default: all.
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        /// Send `contact.updated` only when one of these contact fields changed.
        #[arg(long = "field", value_delimiter = ',')]
        fields: Vec<String>,
        /// `roster` (the event as the feed shows it) or `saleschat` (its envelope).
        #[arg(long, default_value = "roster")]
        format: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List a workspace's endpoints (never their secrets).
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Change an endpoint.
    Update {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        webhook: i64,
        #[arg(long)]
        url: Option<String>,
        /// The event types to send from now on (repeat or separate with commas).
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        /// The fields `contact.updated` is narrowed to from now on.
        #[arg(long = "field", value_delimiter = ',')]
        fields: Vec<String>,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete an endpoint and what was queued for it.
    Delete {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        webhook: i64,
    },
    /// Give an endpoint a new secret (printed once); the old one stops signing at once.
    RotateSecret {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        webhook: i64,
    },
    /// An endpoint's latest delivery attempts, newest first.
    Deliveries {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        webhook: i64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Send an event to an endpoint again (by a running server).
    Redeliver {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        webhook: i64,
        #[arg(long)]
        event: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (an id of yours, at most 128 characters).
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
    },
    /// List a workspace's users.
    List {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group; assignments rotate through its members in the order given.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// A member's user id; repeat or separate with commas.
        #[arg(long = "member", value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Replace a group's members.
    SetMembers {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        id: String,
        #[arg(long = "member", value_delimiter = ',')]
        members: Vec<String>,
    },
    /// List a workspace's groups.
    List {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GovernanceLevelCommand {
    /// Create a governance level: contacts expire this many days after opting in.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        retention_days: i64,
    },
    /// Change a level's name or retention.
    Update {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        retention_days: Option<i64>,
    },
    /// List a workspace's governance levels.
    List {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// Create an inbox that contacts can be linked to (Chatwoot `inbox_id`).
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        /// Chatwoot's channel class, e.g. `Channel::Api`, `Channel::Email`, `Channel::Whatsapp`.
        #[arg(long)]
        channel_type: String,
        /// The provider behind the channel, e.g. `whatsapp_cloud`.
        #[arg(long)]
        provider: Option<String>,
    },
    /// List a workspace's inboxes.
    List {
        #[arg(long)]
        workspace: String,
    },
}
