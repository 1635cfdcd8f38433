//! SalesChat expiry: a contact expires when its opt-in date plus its governance level's
//! retention passes, and `contact.expired` fires then, once. The store claims each firing
//! in the transaction that writes the event, so several nodes (or a restart halfway) never
//! fire one expiry twice; a node that was down fires what passed meanwhile when it is back.

use std::time::Duration;

use crate::service::Roster;
use crate::write::Write;
use crate::Result;

/// How often the scheduler looks for expiries that passed.
pub const ROUND: Duration = Duration::from_secs(1);
/// Contacts fired per store transaction.
const BATCH: u32 = 500;

impl Roster {
    /// Fires `contact.expired` for every contact whose expiry passed and has not fired yet.
    pub async fn fire_expiries(&self) -> Result<()> {
        loop {
            let fired = self.store.fire_expiries(BATCH).await?;
            if fired.is_empty() {
                return Ok(());
            }
            for workspace in fired {
                self.committed(workspace, Write::ContactsExpired).await;
            }
        }
    }

    /// Fires expiries every [`ROUND`], and at once after a retention change, until
    /// `stopped`.
    pub async fn run_expiries(&self, stopped: impl std::future::Future<Output = ()>) {
        tokio::pin!(stopped);
        let mut rounds = tokio::time::interval(ROUND);
        rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                _ = rounds.tick() => {}
                _ = self.expiries_due.notified() => {}
            }
            if let Err(err) = self.fire_expiries().await {
                tracing::warn!(%err, "could not fire contact expiries");
            }
        }
    }
}
