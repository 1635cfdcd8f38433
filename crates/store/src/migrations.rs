//! Embedded migrations: plain SQL files per backend, compiled into the binary and applied
//! at start through sqlx's migrator (which records what ran and, on PostgreSQL, takes an
//! advisory lock so that several nodes starting at once migrate only once).

use std::borrow::Cow;

use futures_core::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// One migration: version, description, SQL.
pub(crate) type Embedded = (i64, &'static str, &'static str);

#[derive(Debug)]
pub(crate) struct EmbeddedMigrations(pub &'static [Embedded]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) async fn migrator(
    migrations: &'static [Embedded],
) -> Result<Migrator, roster_core::Error> {
    Migrator::new(EmbeddedMigrations(migrations))
        .await
        .map_err(|e| roster_core::Error::internal(format!("loading migrations: {e}")))
}
