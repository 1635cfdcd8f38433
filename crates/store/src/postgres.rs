//! PostgreSQL: for deployments that outgrow one machine. Several `roster serve` nodes
//! share one database; every node reads what any node committed, because nothing of the
//! record data is cached in a node.

use std::str::FromStr;

use roster_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};

use crate::migrations::{migrator, Embedded};

const MIGRATIONS: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "saleschat",
        include_str!("../migrations/postgres/0002_saleschat.sql"),
    ),
    (
        3,
        "changes",
        include_str!("../migrations/postgres/0003_changes.sql"),
    ),
    (
        4,
        "chatwoot",
        include_str!("../migrations/postgres/0004_chatwoot.sql"),
    ),
    (
        5,
        "lookup indexes",
        include_str!("../migrations/postgres/0005_lookup_indexes.sql"),
    ),
    (
        6,
        "retries and versions",
        include_str!("../migrations/postgres/0006_retries_and_versions.sql"),
    ),
    (
        7,
        "events",
        include_str!("../migrations/postgres/0007_events.sql"),
    ),
    (
        8,
        "expiries",
        include_str!("../migrations/postgres/0008_expiries.sql"),
    ),
    (
        9,
        "history",
        include_str!("../migrations/postgres/0009_history.sql"),
    ),
];

const MAX_CONNECTIONS: u32 = 16;

pub struct PostgresStore {
    pool: Pool<Postgres>,
    clock: crate::clock::ClockCell,
}

impl PostgresStore {
    /// Connects and applies pending migrations (under sqlx's advisory lock, so nodes
    /// starting together migrate once).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("database_url", format!("is not a PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| Error::internal(format!("connecting to PostgreSQL: {e}")))?;
        migrator(MIGRATIONS)
            .await?
            .run(&pool)
            .await
            .map_err(|e| Error::internal(format!("migrating PostgreSQL database: {e}")))?;
        Ok(Self {
            pool,
            clock: Default::default(),
        })
    }

    fn writer(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    /// A PostgreSQL commit is on disk when it returns (and the server groups concurrent
    /// commits' flushes itself).
    async fn durable(&self) -> Result<()> {
        Ok(())
    }

    /// What writes are stamped with (see `Store::use_clock`).
    fn now(&self) -> roster_core::domain::Timestamp {
        self.clock.now()
    }
}

/// The shared queries, compiled for this backend.
mod queries {
    use super::PostgresStore as StoreImpl;
    type Db = sqlx::Postgres;
    type DbRow = sqlx::postgres::PgRow;

    /// The SQL that differs between the backends.
    mod dialect {
        use sqlx::QueryBuilder;

        /// Text sorts compare bytes, whatever the database's collation, so both backends
        /// order alike.
        pub(super) const TEXT_ORDER: &str = " COLLATE \"C\"";

        /// A top-level key of a JSONB column as text.
        pub(super) fn push_json_text(
            query: &mut QueryBuilder<'_, sqlx::Postgres>,
            column: &str,
            key: &str,
        ) {
            query
                .push(format!("({column} ->> "))
                .push_bind(key.to_owned())
                .push("::text)");
        }

        /// A top-level key of a JSONB column as a number; NULL unless it holds one.
        pub(super) fn push_json_number(
            query: &mut QueryBuilder<'_, sqlx::Postgres>,
            column: &str,
            key: &str,
        ) {
            query.push(format!("(CASE WHEN jsonb_typeof({column} -> "));
            query.push_bind(key.to_owned());
            query.push(format!("::text) = 'number' THEN ({column} ->> "));
            query.push_bind(key.to_owned());
            query.push("::text)::double precision END)");
        }

        /// The distinct top-level keys of a JSONB column over a workspace's contacts.
        pub(super) fn attribute_keys_sql(column: &str) -> String {
            format!(
                "SELECT DISTINCT jsonb_object_keys({column}) AS key FROM contacts \
                 WHERE workspace_id = $1 ORDER BY 1"
            )
        }

        /// Contacts as a single JSON text (an array of rows in `CONTACT_COLUMNS` order):
        /// one row to fetch instead of one per contact. The caller writes the `WHERE`
        /// conditions (and any `ORDER BY … LIMIT`) between the two parts.
        pub(super) fn contacts_json_parts() -> (String, &'static str) {
            (
                format!(
                    "SELECT COALESCE(json_agg(json_build_array({}) ORDER BY id), '[]')::text \
                     FROM (SELECT * FROM contacts WHERE ",
                    crate::rows::contact_column_list().join(", ")
                ),
                ") page",
            )
        }

        /// Memberships as one JSON text of `[contact_id, organization_id]` pairs; the
        /// caller writes the conditions after the prefix.
        pub(super) const MEMBERSHIPS_JSON_PREFIX: &str =
            "SELECT COALESCE(json_agg(json_build_array(contact_id, organization_id)), '[]')::text \
             FROM contact_organizations WHERE ";
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
