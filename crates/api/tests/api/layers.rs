//! The architecture, checked: no dialect, the admin API, the importer or the CLI calls a
//! store write directly. Every write goes through `Roster` (`core/src/write.rs`), the one
//! place that hears of each committed change.

use std::path::{Path, PathBuf};

/// The `Store` methods that change records (or the answers kept for retries); only the
/// core may call them.
const STORE_WRITES: [&str; 18] = [
    "create_contact",
    "create_contact_with",
    "create_contacts",
    "update_contact",
    "update_contact_with",
    "delete_contact",
    "create_organization",
    "update_organization",
    "delete_organization",
    "set_labels",
    "link_contact_inbox",
    "merge_contacts",
    "set_disposition",
    "assign_contact",
    "claim_idempotency_key",
    "complete_idempotency_key",
    "release_idempotency_key",
    "prune_idempotency_keys",
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn only_the_core_write_path_calls_store_writes() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for layer in ["api/src", "transfer/src", "roster/src"] {
        rust_files(&crates.join(layer), &mut files);
    }
    assert!(files.len() > 20, "the scan found the sources: {files:?}");
    let mut offenders = Vec::new();
    for file in files {
        // Without white space, so calls split over lines are seen too.
        let source: String = std::fs::read_to_string(&file)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for method in STORE_WRITES {
            for receiver in ["store.", "store().", "store_handle()."] {
                if source.contains(&format!("{receiver}{method}(")) {
                    offenders.push(format!("{}: {receiver}{method}", file.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "store writes outside the core: {offenders:?}"
    );
}
