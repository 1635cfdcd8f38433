//! Group commit for SQLite. The writer commits with `synchronous = NORMAL` (the commit is
//! in the WAL file but not yet flushed), then waits here until an `fdatasync` of the WAL
//! that began after its commit has finished. One flush covers every commit made before it
//! started, so concurrent writers share flushes instead of paying one each, and still no
//! write is acknowledged before it is on disk. (SQLite flushes the WAL before each
//! checkpoint and the database after it, so a commit that was checkpointed meanwhile is
//! durable too.)

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use roster_core::{Error, Result};

pub(crate) struct GroupSync {
    wal: PathBuf,
    /// Commits counted so far (each takes a ticket once its commit returned).
    committed: AtomicU64,
    /// Every ticket up to this one is on disk.
    flushed: AtomicU64,
    /// One flush at a time; waiters queue here and usually find themselves covered.
    flushing: tokio::sync::Mutex<()>,
}

impl GroupSync {
    pub(crate) fn new(database: &std::path::Path) -> GroupSync {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        GroupSync {
            wal: wal.into(),
            committed: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// Answers once the commit that just returned on the writer is on disk.
    pub(crate) async fn committed(&self) -> Result<()> {
        let ticket = self.committed.fetch_add(1, Ordering::AcqRel) + 1;
        loop {
            if self.flushed.load(Ordering::Acquire) >= ticket {
                return Ok(());
            }
            let _turn = self.flushing.lock().await;
            if self.flushed.load(Ordering::Acquire) >= ticket {
                return Ok(());
            }
            // Every commit counted by now has written its frames: this flush covers them.
            let covered = self.committed.load(Ordering::Acquire);
            let wal = self.wal.clone();
            tokio::task::spawn_blocking(move || flush(&wal))
                .await
                .map_err(|err| Error::internal(format!("WAL flush task: {err}")))??;
            self.flushed.fetch_max(covered, Ordering::AcqRel);
        }
    }
}

fn flush(wal: &std::path::Path) -> Result<()> {
    let file = std::fs::File::open(wal)
        .map_err(|err| Error::internal(format!("opening {}: {err}", wal.display())))?;
    file.sync_data()
        .map_err(|err| Error::internal(format!("flushing {}: {err}", wal.display())))
}
