//! Roster's core: the one model behind every dialect.
//!
//! Values enter the core only through parsing (`domain`), so everything past the HTTP
//! boundary can trust them. The `Store` trait is the only way to persistence; `Roster`
//! holds the services the dialects call. Nothing here knows about HTTP or SQL.

pub mod actor;
pub mod assign;
pub mod clock;
pub mod coalesce;
pub mod domain;
pub mod error;
pub mod events;
pub mod expiry;
pub mod feed;
mod group_commit;
pub mod idempotency;
pub mod import;
pub mod import_plan;
pub mod inbox;
pub mod keys;
pub mod merge;
pub mod model;
pub mod permission;
pub mod query;
pub mod rate_limit;
pub mod search;
pub mod service;
pub mod store;
pub mod view;
pub mod webhooks;
pub mod write;

pub use error::{Error, Result};
pub use service::Roster;
pub use store::Store;
