//! The change feed: a workspace's events, oldest first, read from a cursor. A read that
//! asks to `wait` long-polls until the next event: this node's own writes wake it at
//! once, other nodes' are seen at the next poll of the store.

use std::time::Duration;

use crate::domain::WorkspaceId;
use crate::error::Error;
use crate::events::Event;
use crate::service::Roster;
use crate::Result;

/// How long events are kept (the feed's promise is at least 7 days).
pub const EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest a feed read may wait for the next event.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1_000;
/// How often a waiting read looks for events other nodes wrote.
const POLL: Duration = Duration::from_millis(200);

/// A position in a workspace's feed: the events after it come next. Printed as the
/// decimal seq of the last event read (`0` before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor(pub i64);

impl Cursor {
    /// An empty cursor is the feed's start.
    pub fn parse(text: &str) -> Result<Cursor> {
        if text.is_empty() {
            return Ok(Cursor::default());
        }
        text.parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .map(Cursor)
            .ok_or_else(|| Error::invalid("after", "must be a cursor this feed answered as next"))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One read of the feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub events: Vec<Event>,
    /// Where the next read starts.
    pub next: Cursor,
}

impl Roster {
    /// Up to `limit` events after `after`; with none yet, waits up to `wait` for one.
    pub async fn events(
        &self,
        workspace: WorkspaceId,
        after: Cursor,
        limit: u32,
        wait: Duration,
    ) -> Result<FeedPage> {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            // Armed before the read, so a write committed after it still wakes us.
            let written = self.events_written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            let events = self.store.events_after(workspace, after.0, limit).await?;
            let now = tokio::time::Instant::now();
            if !events.is_empty() || now >= deadline {
                let next = events.last().map_or(after, |event| Cursor(event.seq));
                return Ok(FeedPage { events, next });
            }
            tokio::select! {
                _ = &mut written => {}
                _ = tokio::time::sleep(POLL.min(deadline - now)) => {}
            }
        }
    }

    /// Forgets events older than [`EVENT_RETENTION`]; returns how many.
    pub async fn prune_events(&self) -> Result<u64> {
        let retention = i64::try_from(EVENT_RETENTION.as_micros()).unwrap_or(i64::MAX);
        let before = crate::domain::Timestamp::from_micros(self.clock.now().micros() - retention);
        self.store.prune_events(before).await
    }
}
