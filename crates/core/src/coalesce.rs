//! One run of a piece of work on behalf of many callers: a caller is served by any run
//! that began after it asked. Group commit uses it twice, for the WAL flush (store) and
//! for reading the change log's position (read-your-writes).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Result;

#[derive(Default)]
pub struct Coalesced {
    /// Callers counted so far; each takes the next ticket.
    asked: AtomicU64,
    /// Every ticket up to this one was served by a finished run.
    served: AtomicU64,
    /// One run at a time; waiters queue here and usually find themselves served.
    turn: tokio::sync::Mutex<()>,
}

impl Coalesced {
    /// Answers once a run of `work` that began after this call has succeeded, running
    /// it here if no other caller's run covers this one. A failed run serves nobody.
    pub async fn run<F, Fut>(&self, work: F) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let ticket = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        if self.served.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let _turn = self.turn.lock().await;
        if self.served.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        // Every caller counted by now asked before this run began: it serves them.
        let covers = self.asked.load(Ordering::Acquire);
        work().await?;
        self.served.fetch_max(covers, Ordering::AcqRel);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[tokio::test]
    async fn concurrent_callers_share_runs_and_a_later_caller_gets_its_own() {
        let coalesced = Arc::new(Coalesced::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..32)
            .map(|_| {
                let (coalesced, runs) = (Arc::clone(&coalesced), Arc::clone(&runs));
                tokio::spawn(async move {
                    coalesced
                        .run(|| async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap().unwrap();
        }
        let shared = runs.load(Ordering::SeqCst);
        assert!((1..32).contains(&shared), "{shared} runs for 32 callers");
        coalesced
            .run(|| async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            shared + 1,
            "a later caller runs"
        );
    }
}
