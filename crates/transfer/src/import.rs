//! CSV import: the file is read on a blocking thread and parsed into batches; each batch is
//! written by the store in one transaction, so an interrupted import keeps what it wrote
//! and a second run of the same file ends in the same state (rows then match the
//! contacts they created and come out `unchanged`).

use std::io::Read;

use roster_core::domain::{
    bounded_text, Email, ExternalId, Language, PhoneE164, WebUrl, WorkspaceId, MAX_TEXT_LEN,
};
use roster_core::import::{ImportOutcome, ImportRow, ImportSummary, MatchKey};
use roster_core::model::{check_attributes_size, Attributes, AttributesPatch, ContactPatch, Patch};
use roster_core::{Error, Roster};
use serde_json::{json, Value};

use crate::columns::{
    column, AddressLine, Column, IDENTIFYING_COLUMNS, ORGANIZATION_SEPARATOR, OTHER_COLUMNS,
};

/// Rows per transaction: large enough that per-statement costs vanish, small enough that
/// an interruption loses little work.
pub const BATCH_ROWS: usize = 25_000;

/// Most columns a file may have.
const MAX_COLUMNS: usize = 500;

/// What became of one row of the file (`line` counts from the header's line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    pub line: u64,
    pub outcome: ImportOutcome,
}

impl RowReport {
    /// The report as one JSON line: `{"line", "outcome", "id"}` or `{…, "reason"}`.
    pub fn to_json(&self) -> Value {
        match &self.outcome {
            ImportOutcome::Created(id)
            | ImportOutcome::Updated(id)
            | ImportOutcome::Unchanged(id) => {
                json!({"line": self.line, "outcome": self.outcome.name(), "id": id.get()})
            }
            ImportOutcome::Rejected(reason) => {
                json!({"line": self.line, "outcome": "rejected", "reason": reason})
            }
        }
    }
}

/// The closing line of an import report.
pub fn summary_json(summary: &ImportSummary) -> Value {
    json!({"summary": {
        "rows": summary.rows(),
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
    }})
}

/// Why an import stopped before the end of the file. Rows of earlier batches are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The file itself cannot be read as a CSV with a usable header.
    File(String),
    Store(Error),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::File(reason) => write!(f, "cannot import this file: {reason}"),
            ImportError::Store(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// A row of the file: its line, and its data or why it was refused.
type ParsedRow = (u64, Result<ImportRow, String>);

/// A parsed batch.
struct Batch {
    rows: Vec<ParsedRow>,
    bytes_read: u64,
}

/// The columns of a file, from its header.
struct Header {
    names: Vec<String>,
    columns: Vec<Column>,
}

fn header(record: &csv::ByteRecord) -> Result<Header, String> {
    if record.len() > MAX_COLUMNS {
        return Err(format!("it has more than {MAX_COLUMNS} columns"));
    }
    let mut names = Vec::with_capacity(record.len());
    let mut columns: Vec<Column> = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| format!("the header of column {} is not UTF-8", i + 1))?
            .trim_start_matches('\u{feff}')
            .trim()
            .to_owned();
        if name.is_empty() {
            return Err(format!("column {} has no name in the header", i + 1));
        }
        let meaning = column(&name);
        if meaning != Column::Ignored && columns.contains(&meaning) {
            return Err(format!("two columns mean the same ({name:?})"));
        }
        names.push(name);
        columns.push(meaning);
    }
    if !columns.iter().any(Column::identifies) {
        return Err(format!(
            "none of its columns ({}) names a contact: the header needs at least one of {} \
             (other columns Roster reads: {}; any other name becomes a custom attribute)",
            names.join(", "),
            IDENTIFYING_COLUMNS.join(", "),
            OTHER_COLUMNS.join(", "),
        ));
    }
    Ok(Header { names, columns })
}

/// One record into a row; a value that does not parse refuses the row, naming the column.
fn parse_row(header: &Header, record: &csv::ByteRecord) -> Result<ImportRow, String> {
    if record.len() != header.columns.len() {
        return Err(format!(
            "has {} fields where the header has {}",
            record.len(),
            header.columns.len()
        ));
    }
    let mut row = ImportRow::default();
    let mut custom = Attributes::new();
    let mut additional = Attributes::new();
    for ((meaning, name), raw) in header.columns.iter().zip(&header.names).zip(record) {
        let cell = std::str::from_utf8(raw)
            .map_err(|_| format!("{name}: is not UTF-8 text"))?
            .trim();
        if cell.is_empty() {
            continue;
        }
        let invalid = |reason: String| format!("{name}: {reason}");
        let text = || bounded_text(cell, MAX_TEXT_LEN).map_err(invalid);
        let patch = &mut row.patch;
        match meaning {
            Column::Name => patch.name = Patch::Set(text()?),
            Column::FirstName => patch.first_name = Patch::Set(text()?),
            Column::LastName => patch.last_name = Patch::Set(text()?),
            Column::Email => {
                patch.email = Patch::Set(Email::parse(cell).map_err(|r| invalid(r.into()))?)
            }
            Column::Phone => patch.phone = Patch::Set(phone(cell).map_err(|r| invalid(r.into()))?),
            Column::ExternalId => {
                patch.external_id = Patch::Set(ExternalId::parse(cell).map_err(invalid)?)
            }
            Column::Language => {
                patch.language = Patch::Set(Language::parse(cell).map_err(invalid)?)
            }
            Column::AvatarUrl => {
                patch.avatar_url = Patch::Set(WebUrl::parse(cell).map_err(invalid)?)
            }
            Column::Blocked => {
                patch.blocked = Some(match cell.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(invalid("must be true or false".into())),
                })
            }
            Column::Channel(channel) => patch.channels.push((*channel, Patch::Set(text()?))),
            Column::Organizations => {
                for organization in cell.split(ORGANIZATION_SEPARATOR) {
                    let organization = bounded_text(organization, MAX_TEXT_LEN).map_err(invalid)?;
                    if !organization.is_empty() {
                        row.organizations.push(organization);
                    }
                }
            }
            Column::Address(line) => {
                let value = Patch::Set(text()?);
                let address = &mut patch.address;
                match line {
                    AddressLine::Street => address.street = value,
                    AddressLine::HouseNumber => address.house_number = value,
                    AddressLine::Zipcode => address.zipcode = value,
                    AddressLine::Location => address.location = value,
                    AddressLine::Country => address.country = value,
                }
            }
            Column::Additional(key) => {
                additional.insert(key.clone(), Value::String(cell.to_owned()));
            }
            Column::Custom(key) => {
                custom.insert(key.clone(), Value::String(cell.to_owned()));
            }
            Column::Ignored => {}
        }
    }
    if !custom.is_empty() {
        check_attributes_size(&custom).map_err(|reason| format!("custom attributes: {reason}"))?;
        row.patch.custom_attributes = AttributesPatch::Merge(custom);
    }
    if !additional.is_empty() {
        check_attributes_size(&additional)
            .map_err(|reason| format!("additional attributes: {reason}"))?;
        row.patch.additional_attributes = AttributesPatch::Merge(additional);
    }
    if row.patch == ContactPatch::default() && row.organizations.is_empty() {
        return Err("has no value to import".to_owned());
    }
    if !row.patch.sets_identity() {
        return Err(
            "has no name, email, phone, external id or channel id: nothing identifies the contact"
                .to_owned(),
        );
    }
    Ok(row)
}

/// A phone in E.164 or with its country code; without a `+`, one is prepended (as
/// Chatwoot's import does).
fn phone(cell: &str) -> Result<PhoneE164, &'static str> {
    PhoneE164::parse(cell).or_else(|reason| {
        let digits: String = cell.chars().filter(char::is_ascii_digit).collect();
        if cell.trim_start().starts_with('+') || digits.is_empty() {
            Err(reason)
        } else {
            PhoneE164::parse(&format!("+{digits}"))
        }
    })
}

/// Reads the whole file, handing over one parsed batch at a time; stops early when
/// `deliver` returns false.
fn read_csv<R: Read>(input: R, mut deliver: impl FnMut(Batch) -> bool) -> Result<(), ImportError> {
    // Records end at `\n`; a Windows `\r` before it is trimmed with the cell (csv's own
    // CRLF handling would count lines one short).
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let file_error = |err: csv::Error| ImportError::File(err.to_string());
    if !reader.read_byte_record(&mut record).map_err(file_error)? {
        return Err(ImportError::File(
            "it is empty (a header line is needed)".to_owned(),
        ));
    }
    let header = header(&record).map_err(ImportError::File)?;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            // A blank line (perhaps just a Windows `\r`) is no row.
            Ok(true) if record.len() == 1 && record[0].trim_ascii().is_empty() => continue,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                batch.push((line, parse_row(&header, &record)));
            }
            Err(err) if err.is_io_error() => return Err(file_error(err)),
            // A malformed record is that row's problem; the reader goes on after it.
            Err(err) => batch.push((line, Err(format!("is not valid CSV ({err})")))),
        }
        if batch.len() == BATCH_ROWS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            let bytes_read = reader.position().byte();
            if !deliver(Batch {
                rows: full,
                bytes_read,
            }) {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let bytes_read = reader.position().byte();
        deliver(Batch {
            rows: batch,
            bytes_read,
        });
    }
    Ok(())
}

/// Imports a CSV file into a workspace, batch by batch. `on_batch` hears every row's
/// outcome, in file order, with how many bytes of the file were read so far; the import
/// waits for the future it returns (so a slow listener slows the import, not memory).
pub async fn import_csv<R, F>(
    roster: Roster,
    workspace: WorkspaceId,
    keys: Vec<MatchKey>,
    input: R,
    mut on_batch: impl FnMut(&[RowReport], u64) -> F,
) -> Result<ImportSummary, ImportError>
where
    R: Read + Send + 'static,
    F: std::future::Future<Output = ()>,
{
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Batch>(2);
    let reader = tokio::task::spawn_blocking(move || {
        read_csv(input, |batch| sender.blocking_send(batch).is_ok())
    });
    let mut summary = ImportSummary::default();
    let mut failure = None;
    while let Some(batch) = batches.recv().await {
        let valid: Vec<ImportRow> = batch
            .rows
            .iter()
            .filter_map(|(_, row)| row.as_ref().ok().cloned())
            .collect();
        let outcomes = match roster.import_contacts(workspace, &valid, &keys).await {
            Ok(outcomes) => outcomes,
            Err(err) => {
                failure = Some(ImportError::Store(err));
                break;
            }
        };
        let mut outcomes = outcomes.into_iter();
        let reports: Vec<RowReport> = batch
            .rows
            .into_iter()
            .map(|(line, row)| RowReport {
                line,
                outcome: match row {
                    Ok(_) => outcomes
                        .next()
                        .unwrap_or_else(|| ImportOutcome::Rejected("not imported".into())),
                    Err(reason) => ImportOutcome::Rejected(reason),
                },
            })
            .collect();
        for report in &reports {
            summary.add(&report.outcome);
        }
        on_batch(&reports, batch.bytes_read).await;
    }
    drop(batches);
    let read = reader
        .await
        .map_err(|err| ImportError::File(format!("the reader stopped: {err}")))?;
    match failure {
        Some(err) => Err(err),
        None => read.map(|()| summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(csv: &str) -> Result<Vec<ParsedRow>, ImportError> {
        let mut all = Vec::new();
        read_csv(csv.as_bytes(), |batch| {
            all.extend(batch.rows);
            true
        })?;
        Ok(all)
    }

    #[test]
    fn a_bom_and_windows_line_ends_read_like_any_file() {
        let parsed = rows("\u{feff}name,email\r\nAnn,ann@example.com\r\n\r\nBob,\r\n").unwrap();
        assert_eq!(parsed.len(), 2);
        let ann = parsed[0].1.as_ref().unwrap();
        assert_eq!(ann.patch.name, Patch::Set("Ann".into()));
        assert_eq!((parsed[0].0, parsed[1].0), (2, 4));
        assert_eq!(parsed[1].1.as_ref().unwrap().patch.email, Patch::Keep);
    }

    #[test]
    fn bad_rows_are_refused_with_the_column_and_the_rest_read_on() {
        let parsed = rows(
            "name,email,phone\nAnn,nope,\nBob,,0176 1234\nCy,cy@example.com\nDi,,4917612345678\n",
        )
        .unwrap();
        assert!(parsed[0].1.as_ref().unwrap_err().starts_with("email:"));
        assert!(parsed[1].1.as_ref().unwrap_err().starts_with("phone:"));
        assert!(parsed[2].1.as_ref().unwrap_err().contains("2 fields"));
        let di = parsed[3].1.as_ref().unwrap();
        assert_eq!(
            di.patch.phone,
            Patch::Set(PhoneE164::parse("+4917612345678").unwrap())
        );
    }

    #[test]
    fn unusable_files_are_refused_as_a_whole() {
        assert!(matches!(rows(""), Err(ImportError::File(_))));
        assert!(matches!(rows("name,,email\n"), Err(ImportError::File(_))));
        assert!(matches!(rows("email,Email\n"), Err(ImportError::File(_))));
        let Err(ImportError::File(reason)) = rows("foo,bar\n1,2\n") else {
            panic!("a header naming no contact column is refused");
        };
        assert!(
            reason.starts_with("none of its columns (foo, bar) names a contact")
                && reason.contains("name, first_name, last_name, email, phone, external_id"),
            "{reason}"
        );
    }

    #[test]
    fn attributes_over_the_size_cap_are_rejected() {
        let big = "x".repeat(70_000);
        let parsed = rows(&format!("name,custom.notes\nAnn,{big}\nBob,short\n")).unwrap();
        assert_eq!(
            parsed[0].1.as_ref().unwrap_err(),
            "custom attributes: must be at most 65536 bytes as JSON"
        );
        assert!(parsed[1].1.is_ok());
    }

    #[test]
    fn a_row_with_nothing_that_identifies_a_contact_is_rejected() {
        let parsed = rows("email,language,organizations\n,EN,Acme\nann@example.com,EN,\n").unwrap();
        assert_eq!(
            parsed[0].1.as_ref().unwrap_err(),
            "has no name, email, phone, external id or channel id: nothing identifies the contact"
        );
        assert!(parsed[1].1.is_ok());
    }
}
