//! Moving contacts in and out of Roster in bulk: CSV import (Roster's own columns or
//! Chatwoot's contact layout) with per-row outcomes, and streamed CSV/NDJSON export. The
//! CLI and the admin API both drive these.

pub mod columns;
pub mod export;
pub mod import;
