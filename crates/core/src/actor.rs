//! Who makes a write, and through which API: a contact's history names both. The actor is
//! set once where a request or a job enters (the API's guard, the console, an import, the
//! CLI, the expiry scheduler) and read by the store where the write's events are recorded,
//! so no write path can forget to say who it was. A task-local, like a write's
//! precondition (`write::Expected`), carried by hand into the tasks a write spawns.

use serde_json::{json, Value};

use crate::domain::KeyId;
use crate::service::Caller;

/// Who changed a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    /// An API key, by its id and name.
    Key { id: KeyId, name: String },
    /// The operator's admin token.
    Admin,
    /// A CSV import (through the admin API, the console or the CLI).
    Import,
    /// The `roster` command on the server's machine.
    Cli,
    /// Roster itself: a SalesChat expiry passing.
    Roster,
}

/// Who, and through which API (`chatcaptain`, `chatwoot`, `saleschat`, `admin`,
/// `console`, `cli`); `None` for Roster's own jobs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    pub who: Who,
    pub via: Option<&'static str>,
}

impl Actor {
    pub fn new(who: Who, via: &'static str) -> Actor {
        Actor {
            who,
            via: Some(via),
        }
    }

    /// A caller (a key, or the admin token acting in a workspace) through `via`.
    pub fn caller(caller: &Caller, via: &'static str) -> Actor {
        let who = match caller.is_admin() {
            true => Who::Admin,
            false => Who::Key {
                id: caller.key.id,
                name: caller.key.name.clone(),
            },
        };
        Actor::new(who, via)
    }

    pub const ROSTER: Actor = Actor {
        who: Who::Roster,
        via: None,
    };

    /// `{"by": {"type": "key", "id", "name"} | {"type": "admin"|"import"|"cli"|"roster"},
    /// "via": …}`, as a history entry shows it.
    pub fn render(&self) -> Value {
        let by = match &self.who {
            Who::Key { id, name } => json!({"type": "key", "id": id.get(), "name": name}),
            Who::Admin => json!({"type": "admin"}),
            Who::Import => json!({"type": "import"}),
            Who::Cli => json!({"type": "cli"}),
            Who::Roster => json!({"type": "roster"}),
        };
        json!({"by": by, "via": self.via})
    }
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Runs `work` as `actor`: the writes it makes are on record as its.
pub async fn acting<T>(actor: Actor, work: impl std::future::Future<Output = T>) -> T {
    ACTOR.scope(actor, work).await
}

/// The actor of the running task; Roster itself when none was set (its own jobs).
pub fn current() -> Actor {
    ACTOR.try_with(Actor::clone).unwrap_or(Actor::ROSTER)
}
