//! SQLite: the default store, one file in the data directory, nothing to install.
//!
//! WAL mode with `synchronous = FULL`, so a commit is on disk before the client hears
//! about it; one writer connection (SQLite allows one writer at a time anyway, and this
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
];

/// Readers: enough for the request concurrency of a small machine.
const READERS: u32 = 8;

pub struct SqliteStore {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| Error::internal(format!("sqlite options: {e}")))?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().create_if_missing(true))
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
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| Error::internal(format!("opening SQLite readers: {e}")))?;
        Ok(Self { writer, reader })
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }
}

/// The shared queries, compiled for this backend.
mod queries {
    use super::SqliteStore as StoreImpl;
    type Db = sqlx::Sqlite;
    type DbRow = sqlx::sqlite::SqliteRow;
    include!("sql_store.rs");
}
