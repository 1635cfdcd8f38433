//! Group commit of concurrent creates. A store serialises its writes (SQLite's one writer,
//! PostgreSQL's workspace row lock), and a create spends most of its turn on round trips
//! and the commit, not on the row. So creates that arrive while one is being written
//! queue here and the next turn writes all of them in one transaction (one set of round
//! trips, one flush). Each caller still hears of its own contact only once the whole
//! batch is durable. If a batch fails (one contact collides with another's email, say),
//! nothing of it was written, and each of its creates is retried alone, so every caller
//! gets its own answer.

use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::actor::{self, Actor};
use crate::domain::WorkspaceId;
use crate::model::{Contact, ContactData};
use crate::store::Store;
use crate::Result;

/// Largest batch one transaction writes.
const MAX_BATCH: usize = 256;

struct Pending {
    workspace: WorkspaceId,
    /// Who creates it: a batch holds one workspace's creates by one actor, whose history
    /// entries they are.
    actor: Actor,
    data: ContactData,
    answer: oneshot::Sender<Result<Contact>>,
}

#[derive(Default)]
pub(crate) struct CreateQueue {
    waiting: Mutex<Vec<Pending>>,
    /// Held while a batch is written; whoever holds it writes what is waiting.
    turn: tokio::sync::Mutex<()>,
}

impl CreateQueue {
    /// Creates one contact, in a batch with whatever else is waiting; answers it as
    /// written (and durable).
    pub(crate) async fn create(
        self: &std::sync::Arc<Self>,
        store: &std::sync::Arc<dyn Store>,
        workspace: WorkspaceId,
        data: ContactData,
    ) -> Result<Contact> {
        let (answer, answered) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Pending {
                workspace,
                actor: actor::current(),
                data,
                answer,
            });
        // The batch runs in a task of its own: a caller that goes away (its client hung
        // up) must not abandon the others' creates halfway.
        let (queue, store) = (std::sync::Arc::clone(self), std::sync::Arc::clone(store));
        tokio::spawn(async move {
            let _turn = queue.turn.lock().await;
            loop {
                let batch = queue.take(MAX_BATCH);
                if batch.is_empty() {
                    break;
                }
                write(&store, batch).await;
            }
        });
        answered
            .await
            .unwrap_or_else(|_| Err(crate::Error::internal("a batched create was dropped")))
    }

    fn take(&self, most: usize) -> Vec<Pending> {
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let cut = waiting.len().min(most);
        let rest = waiting.split_off(cut);
        std::mem::replace(&mut *waiting, rest)
    }
}

/// Writes one batch, a transaction per workspace and actor, and answers every caller.
/// The transactions run at once: on PostgreSQL each holds only its workspace's row lock,
/// so different workspaces commit in parallel; SQLite's one writer takes them in turn and
/// flushes them together.
async fn write(store: &std::sync::Arc<dyn Store>, mut batch: Vec<Pending>) {
    let mut writes = tokio::task::JoinSet::new();
    while let Some((workspace, actor)) = batch
        .first()
        .map(|pending| (pending.workspace, pending.actor.clone()))
    {
        let (mine, rest): (Vec<Pending>, Vec<Pending>) = batch
            .into_iter()
            .partition(|pending| pending.workspace == workspace && pending.actor == actor);
        batch = rest;
        writes.spawn(actor::acting(
            actor,
            write_workspace(std::sync::Arc::clone(store), workspace, mine),
        ));
    }
    while writes.join_next().await.is_some() {}
}

/// One workspace's part of a batch, in one transaction.
async fn write_workspace(
    store: std::sync::Arc<dyn Store>,
    workspace: WorkspaceId,
    mine: Vec<Pending>,
) {
    let data: Vec<ContactData> = mine.iter().map(|pending| pending.data.clone()).collect();
    match store.create_contacts(workspace, &data).await {
        Ok(created) => {
            for (pending, contact) in mine.into_iter().zip(created) {
                let _ = pending.answer.send(Ok(contact));
            }
        }
        // Nothing of the batch was written: each create on its own gets its own
        // answer (one of them is the reason the batch failed).
        Err(_) if mine.len() > 1 => {
            for pending in mine {
                let alone = store
                    .create_contacts(workspace, std::slice::from_ref(&pending.data))
                    .await
                    .map(|mut created| created.remove(0));
                let _ = pending.answer.send(alone);
            }
        }
        Err(err) => {
            for pending in mine {
                let _ = pending.answer.send(Err(err.clone()));
            }
        }
    }
}
