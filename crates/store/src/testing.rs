//! Fresh stores for tests: SQLite in a temporary directory, PostgreSQL in a database of
//! its own that is dropped when the test's store is.
//!
//! PostgreSQL is reached through `ROSTER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); a test that cannot reach it fails
//! rather than skipping, so CI cannot go green without having run the PostgreSQL half.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use roster_core::Store;
use sqlx::{Connection, PgConnection};

use crate::{PostgresStore, SqliteStore};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("ROSTER_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A store that lives as long as this value, and the URL a server process can use to
/// reach the same data.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub database_url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Database { admin_url: String, name: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::Database { admin_url, name } = self {
            let (admin_url, database) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; a thread with its own runtime can block.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for cleanup");
                runtime.block_on(async {
                    let mut conn = PgConnection::connect(&admin_url).await?;
                    sqlx::query(&format!(
                        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn)
                    .await
                    .map(drop)
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("could not drop test database {name}");
            }
        }
    }
}

/// A new, migrated SQLite store in a temporary directory.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(crate::SQLITE_FILE);
    let store = SqliteStore::open(&path).await.expect("SQLite store opens");
    TestStore {
        store: Arc::new(store),
        database_url: format!("sqlite://{}", path.display()),
        _cleanup: Cleanup::Directory(dir),
    }
}

/// A new, migrated PostgreSQL store in a database created for this test alone.
pub async fn postgres() -> TestStore {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin_url = postgres_admin_url();
    let name = format!(
        "roster_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        roster_core::domain::Timestamp::now().micros() % 1_000_000
    );
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed for this test: {e}"));
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .expect("test database is created");
    let database_url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("ROSTER_TEST_POSTGRES_URL must end in /<database>"),
    };
    let cleanup = Cleanup::Database { admin_url, name };
    let store = PostgresStore::connect(&database_url)
        .await
        .expect("PostgreSQL store connects");
    TestStore {
        store: Arc::new(store),
        database_url,
        _cleanup: cleanup,
    }
}
