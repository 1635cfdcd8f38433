//! The threads searches run on: a fixed pool, one thread per core, so scoring and
//! highlighting never occupy the async runtime's workers (on 2 cores, two slow searches
//! would otherwise stall every other request, health checks included) and the per-thread
//! score arrays exist once per pool thread, not once per blocking task.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use roster_core::{Error, Result};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Jobs waiting for a thread, beyond those running: enough to absorb a burst, bounded
/// so a flood waits in the async callers instead of in memory.
const QUEUE: usize = 1_024;

pub struct SearchPool {
    jobs: SyncSender<Job>,
}

impl SearchPool {
    /// A pool of `threads` threads (at least one), named `search-N`.
    pub fn new(threads: usize) -> SearchPool {
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("search-{n}"))
                .spawn(move || work(&queue))
                .expect("a search thread starts");
        }
        SearchPool { jobs }
    }

    /// One thread per core the process may use.
    pub fn sized_to_machine() -> SearchPool {
        SearchPool::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Runs `job` on a pool thread and waits for its result without blocking the runtime.
    /// A job that panics is an internal error; the thread goes on with the next job.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .unwrap_or_else(|_| Err(Error::internal("a search job panicked")));
            let _ = done.send(outcome);
        });
        let stopped = || Error::internal("the search pool has stopped");
        match self.jobs.try_send(job) {
            Ok(()) => {}
            // A full queue: the caller waits for a place, off the runtime.
            Err(TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job))
                    .await
                    .map_err(Error::internal)?
                    .map_err(|_| stopped())?;
            }
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        result
            .await
            .map_err(|_| Error::internal("a search job was dropped"))?
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while taking the next job.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_off_the_runtime_and_a_panic_is_an_error() {
        let pool = SearchPool::new(2);
        let name = pool
            .run(|| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("search-"));
        let failed: Result<()> = pool.run(|| panic!("boom")).await;
        assert!(matches!(failed, Err(Error::Internal(_))));
        // The pool goes on after a panicking job.
        assert_eq!(pool.run(|| Ok(41 + 1)).await.unwrap(), 42);
    }
}
