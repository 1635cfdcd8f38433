//! Roster's storage: `roster_core::Store` on SQLite (the default, a file in the data
//! directory) and on PostgreSQL (shared by several `roster serve` nodes).
//!
//! Both backends run the same queries, written once in `sql/` (one file per area, each
//! included by both) and compiled for each backend's sqlx types; what differs (connection
//! setup, schema types, migrations) lives in `sqlite.rs` and `postgres.rs` and in
//! `migrations/<backend>/`. `cargo fmt` cannot see included files: `.ci/run` checks
//! `sql/*.rs` with rustfmt itself.

use std::path::Path;
use std::sync::Arc;

use roster_core::{Error, Result, Store};

mod clock;
mod errors;
mod group_sync;
mod migrations;
mod postgres;
mod rows;
mod sqlite;
mod sqlite_fold;
#[cfg(feature = "testing")]
pub mod testing;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The SQLite file name inside the data directory.
pub const SQLITE_FILE: &str = "roster.db";

/// Opens the store a deployment is configured for, and brings its schema up to date:
/// PostgreSQL for a `postgres://` URL, otherwise SQLite (at a `sqlite://` URL's path or,
/// with no URL, in `data_dir`).
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        Some(url) => {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .ok_or_else(|| {
                    Error::invalid(
                        "database_url",
                        "must start with postgres://, postgresql:// or sqlite://",
                    )
                })?;
            Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
        }
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                Error::internal(format!(
                    "cannot create data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
            Ok(Arc::new(
                SqliteStore::open(&data_dir.join(SQLITE_FILE)).await?,
            ))
        }
    }
}
