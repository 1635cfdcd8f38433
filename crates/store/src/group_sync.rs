//! Group commit for SQLite. The writer commits with `synchronous = NORMAL` (the commit is
//! in the WAL file but not yet flushed), then waits here until an `fdatasync` of the WAL
//! that began after its commit has finished. One flush covers every commit made before it
//! started, so concurrent writers share flushes instead of paying one each, and still no
//! write is acknowledged before it is on disk. (SQLite flushes the WAL before each
//! checkpoint and the database after it, so a commit that was checkpointed meanwhile is
//! durable too.)

use std::path::{Path, PathBuf};

use roster_core::coalesce::Coalesced;
use roster_core::{Error, Result};

pub(crate) struct GroupSync {
    wal: PathBuf,
    flushes: Coalesced,
}

impl GroupSync {
    pub(crate) fn new(database: &Path) -> GroupSync {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        GroupSync {
            wal: wal.into(),
            flushes: Coalesced::default(),
        }
    }

    /// Answers once the commit that just returned on the writer is on disk: a flush
    /// that began after it covers it.
    pub(crate) async fn committed(&self) -> Result<()> {
        self.flushes
            .run(|| async {
                let wal = self.wal.clone();
                tokio::task::spawn_blocking(move || flush(&wal))
                    .await
                    .map_err(|err| Error::internal(format!("WAL flush task: {err}")))?
            })
            .await
    }
}

fn flush(wal: &Path) -> Result<()> {
    let file = std::fs::File::open(wal)
        .map_err(|err| Error::internal(format!("opening {}: {err}", wal.display())))?;
    file.sync_data()
        .map_err(|err| Error::internal(format!("flushing {}: {err}", wal.display())))
}
