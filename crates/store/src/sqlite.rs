//! SQLite: the default store, one file in the data directory, nothing to install.
//!
//! WAL mode with group commit (`group_sync`): a commit is on disk before the client hears
//! about it, and concurrent commits share one flush; one writer connection (SQLite allows one writer at a time anyway, and this
//! way writers queue in the pool instead of failing with SQLITE_BUSY) and a pool of
//! read-only connections that WAL lets run beside it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use roster_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use crate::migrations::{migrator, Embedded};

const MIGRATIONS: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "saleschat",
        include_str!("../migrations/sqlite/0002_saleschat.sql"),
    ),
    (
        3,
        "changes",
        include_str!("../migrations/sqlite/0003_changes.sql"),
    ),
    (
        4,
        "chatwoot",
        include_str!("../migrations/sqlite/0004_chatwoot.sql"),
    ),
    (
        5,
        "lookup indexes",
        include_str!("../migrations/sqlite/0005_lookup_indexes.sql"),
    ),
    (
        6,
        "retries and versions",
        include_str!("../migrations/sqlite/0006_retries_and_versions.sql"),
    ),
    (
        7,
        "events",
        include_str!("../migrations/sqlite/0007_events.sql"),
    ),
    (
        8,
        "expiries",
        include_str!("../migrations/sqlite/0008_expiries.sql"),
    ),
    (
        9,
        "history",
        include_str!("../migrations/sqlite/0009_history.sql"),
    ),
];

/// Readers: enough for the request concurrency of a small machine.
const READERS: u32 = 8;

/// The writer's page cache.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// WAL pages between automatic checkpoints (SQLite's default is 1,000).
const WAL_CHECKPOINT_PAGES: u32 = 16_384;

pub struct SqliteStore {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    clock: crate::clock::ClockCell,
    sync: crate::group_sync::GroupSync,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| Error::internal(format!("sqlite options: {e}")))?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            // Commits are flushed by `GroupSync`, after the commit and shared between
            // the writers that committed meanwhile.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // The writer updates a dozen indexes per contact: a page cache that holds their
        // upper levels keeps bulk writes from re-reading them (SQLite's default is 2 MiB).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(|connection, _| Box::pin(unicode_lower(connection)))
            .connect_with(
                options
                    .clone()
                    .create_if_missing(true)
                    .pragma("cache_size", format!("-{}", WRITER_CACHE_KIB))
                    // Checkpoint less often: a page rewritten by many commits is then
                    // copied into the database once instead of once per checkpoint.
                    .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string()),
            )
            .await
            .map_err(|e| {
                Error::internal(format!("opening SQLite database {}: {e}", path.display()))
            })?;
        migrator(MIGRATIONS)
            .await?
            .run(&writer)
            .await
            .map_err(|e| Error::internal(format!("migrating SQLite database: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .after_connect(|connection, _| Box::pin(unicode_lower(connection)))
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| Error::internal(format!("opening SQLite readers: {e}")))?;
        Ok(Self {
            writer,
            reader,
            clock: Default::default(),
            sync: crate::group_sync::GroupSync::new(path),
        })
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }

    /// Answers once what the writer just committed is on disk.
    async fn durable(&self) -> Result<()> {
        self.sync.committed().await
    }

    /// What writes are stamped with (see `Store::use_clock`).
    fn now(&self) -> roster_core::domain::Timestamp {
        self.clock.now()
    }
}

/// Gives the connection the Unicode-aware `lower()` (see `sqlite_fold`).
async fn unicode_lower(connection: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    // Safe: the locked handle guarantees no other thread uses the connection meanwhile.
    let code = unsafe { crate::sqlite_fold::register_lower(handle.as_raw_handle().as_ptr()) };
    if code == libsqlite3_sys::SQLITE_OK {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "registering lower() failed with SQLite code {code}"
        )))
    }
}

/// The shared queries, compiled for this backend.
mod queries {
    use super::SqliteStore as StoreImpl;
    type Db = sqlx::Sqlite;
    type DbRow = sqlx::sqlite::SqliteRow;

    /// The SQL that differs between the backends.
    mod dialect {
        use sqlx::QueryBuilder;

        /// Text sorts compare bytes, like PostgreSQL's "C" collation.
        pub(super) const TEXT_ORDER: &str = "";

        /// The JSON path of a top-level key (quoted, so any key is safe).
        fn push_path(query: &mut QueryBuilder<'_, sqlx::Sqlite>, key: &str) {
            query
                .push("'$.' || json_quote(")
                .push_bind(key.to_owned())
                .push(")");
        }

        /// A top-level key of a JSON column as text; `true`/`false` spelled as PostgreSQL's
        /// `->>` does (SQLite would give 1/0).
        pub(super) fn push_json_text(
            query: &mut QueryBuilder<'_, sqlx::Sqlite>,
            column: &str,
            key: &str,
        ) {
            query.push(format!("(CASE json_type({column}, "));
            push_path(query, key);
            query.push(") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE json_extract(");
            query.push(column).push(", ");
            push_path(query, key);
            query.push(") END)");
        }

        /// A top-level key of a JSON column as a number; NULL unless it holds one.
        pub(super) fn push_json_number(
            query: &mut QueryBuilder<'_, sqlx::Sqlite>,
            column: &str,
            key: &str,
        ) {
            query.push(format!("(CASE WHEN json_type({column}, "));
            push_path(query, key);
            query.push(format!(
                ") IN ('integer', 'real') THEN json_extract({column}, "
            ));
            push_path(query, key);
            query.push(") END)");
        }

        /// The distinct top-level keys of a JSON column over a workspace's contacts.
        pub(super) fn attribute_keys_sql(column: &str) -> String {
            format!(
                "SELECT DISTINCT j.key FROM contacts, json_each(contacts.{column}) AS j \
                 WHERE contacts.workspace_id = $1 ORDER BY 1"
            )
        }

        /// Contacts as a single JSON text (an array of rows in `CONTACT_COLUMNS` order):
        /// one row for the driver to hand over instead of one per contact, which is what
        /// makes bulk reads (reindex, export, the index follower) fast. The caller writes
        /// the `WHERE` conditions (and any `ORDER BY … LIMIT`) between the two parts.
        pub(super) fn contacts_json_parts() -> (String, &'static str) {
            let values: Vec<String> = crate::rows::contact_column_list()
                .into_iter()
                .map(|column| {
                    if crate::rows::CONTACT_JSON_COLUMNS.contains(&column) {
                        format!("json({column})")
                    } else {
                        column.to_owned()
                    }
                })
                .collect();
            (
                format!(
                    "SELECT json_group_array(json_array({})) FROM (SELECT * FROM contacts WHERE ",
                    values.join(", ")
                ),
                ")",
            )
        }

        /// Memberships as one JSON text of `[contact_id, organization_id]` pairs; the
        /// caller writes the conditions after the prefix. Looked up by contact: without
        /// statistics SQLite's planner prefers the covering primary key (organization
        /// first) and reads every membership of the workspace, so the index is named.
        pub(super) const MEMBERSHIPS_JSON_PREFIX: &str =
            "SELECT json_group_array(json_array(contact_id, organization_id)) FROM contact_organizations \
             INDEXED BY contact_organizations_contact_idx WHERE ";
    }
    // The shared queries, area by area (each file one `impl` of a `Store` area trait).
    include!("sql/shared.rs");
    include!("sql/keys.rs");
    include!("sql/contacts.rs");
    include!("sql/organizations.rs");
    include!("sql/saleschat.rs");
    include!("sql/chatwoot.rs");
    include!("sql/bulk.rs");
    include!("sql/changes.rs");
    include!("sql/idempotency.rs");
    include!("sql/events.rs");
    include!("sql/webhooks.rs");
}
