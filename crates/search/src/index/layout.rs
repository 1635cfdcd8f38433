//! The index on disk: opening (or starting over), and what each commit records — the
//! change-log position and the term layout — so that a start can tell an index that is up
//! to date from an unfinished, older or damaged one.

use super::*;

pub(super) fn open_or_create(dir: &Path, schema: Schema) -> Result<(Index, bool)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
    let directory = MmapDirectory::open(dir)
        .map_err(|e| Error::internal(format!("opening {}: {e}", dir.display())))?;
    let existing = Index::exists(&directory).unwrap_or(false);
    if existing {
        match Index::open(directory) {
            Ok(index) if index.schema() == schema => return Ok((index, false)),
            Ok(_) => tracing::warn!("search index schema changed; rebuilding"),
            Err(err) => tracing::warn!(%err, "search index unreadable; rebuilding"),
        }
        // Start over in a clean directory.
        std::fs::remove_dir_all(dir)
            .map_err(|e| Error::internal(format!("clearing {}: {e}", dir.display())))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
    }
    let directory = MmapDirectory::open(dir)
        .map_err(|e| Error::internal(format!("opening {}: {e}", dir.display())))?;
    let index = Index::create(directory, schema, tantivy::IndexSettings::default())
        .map_err(index_error("creating"))?;
    Ok((index, true))
}

/// What an index commit records: the change-log seq it applied, and the version of the
/// term layout it was written with. An index of another layout is rebuilt, even when its
/// schema looks the same.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Payload {
    layout: u32,
    seq: i64,
}

impl Payload {
    pub(super) fn new(seq: i64) -> Payload {
        Payload {
            layout: LAYOUT,
            seq,
        }
    }
}

impl std::fmt::Display for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// The seq the index last committed, if it was written with this layout.
/// What the index's last commit says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Committed {
    /// Complete and of this layout, up to this change-log seq.
    Current(i64),
    /// No commit of Roster's: the index was created but its first build never finished
    /// (the process was stopped or killed while building it).
    Nothing,
    /// Written with another term layout, by another version of Roster.
    OtherLayout(u32),
    /// The commit record is unreadable.
    Corrupt(String),
}

impl Committed {
    /// Why an index in this state is rebuilt, for the log.
    pub(super) fn reason(&self) -> String {
        match self {
            Committed::Current(_) => "up to date".to_owned(),
            Committed::Nothing => {
                "unfinished: an earlier build of the index was interrupted before it completed"
                    .to_owned()
            }
            Committed::OtherLayout(layout) => format!(
                "older layout: written with index layout {layout} by another version of \
                 roster, this one writes layout {LAYOUT}"
            ),
            Committed::Corrupt(why) => format!("corrupt: its commit record {why}"),
        }
    }
}

pub(super) fn committed(index: &Index) -> Committed {
    let metas = match index.load_metas() {
        Ok(metas) => metas,
        Err(err) => return Committed::Corrupt(format!("cannot be read ({err})")),
    };
    let Some(payload) = metas.payload else {
        return Committed::Nothing;
    };
    match serde_json::from_str::<Payload>(&payload) {
        Ok(payload) if payload.layout == LAYOUT => Committed::Current(payload.seq),
        Ok(payload) => Committed::OtherLayout(payload.layout),
        // The first layout recorded the bare seq.
        Err(_) if payload.trim().parse::<i64>().is_ok() => Committed::OtherLayout(0),
        Err(err) => Committed::Corrupt(format!("does not parse ({err})")),
    }
}
