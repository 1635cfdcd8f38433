//! Streamed export: contacts (or organizations) are read from the store a page at a time
//! and written as they come, so memory stays flat whatever the workspace's size. The CSV
//! columns are the ones import reads, so an export imports back into the same data.

use std::collections::HashMap;
use std::io::Write;

use roster_core::domain::{OrganizationId, WorkspaceId};
use roster_core::model::{Address, Channel, Contact};
use roster_core::{Error, Store};
use serde_json::{json, Map, Value};

use crate::columns::{channel_column, AddressLine, ORGANIZATION_SEPARATOR};

/// Records read from the store at a time.
const PAGE: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// One JSON object per line; attribute values keep their JSON types.
    Ndjson,
}

impl Format {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "csv" => Ok(Format::Csv),
            "ndjson" => Ok(Format::Ndjson),
            other => Err(format!("unknown format {other:?}; use csv or ndjson")),
        }
    }
}

fn io_error(err: impl std::fmt::Display) -> Error {
    Error::internal(format!("writing the export: {err}"))
}

/// Where records go, in the chosen format.
enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Ndjson(W),
}

impl<W: Write> Sink<W> {
    fn new(format: Format, out: W) -> Self {
        match format {
            Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
            Format::Ndjson => Sink::Ndjson(out),
        }
    }

    fn header(&mut self, header: &[String]) -> Result<(), Error> {
        match self {
            Sink::Csv(csv) => csv.write_record(header).map_err(io_error),
            Sink::Ndjson(_) => Ok(()),
        }
    }

    /// Writes one record: CSV takes the fields, NDJSON the object.
    fn record(
        &mut self,
        fields: impl FnOnce() -> Vec<String>,
        object: impl FnOnce() -> Value,
    ) -> Result<(), Error> {
        match self {
            Sink::Csv(csv) => csv.write_record(fields()).map_err(io_error),
            Sink::Ndjson(out) => {
                serde_json::to_writer(&mut *out, &object()).map_err(io_error)?;
                out.write_all(b"\n").map_err(io_error)
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self {
            Sink::Csv(mut csv) => csv.flush().map_err(io_error),
            Sink::Ndjson(mut out) => out.flush().map_err(io_error),
        }
    }
}

/// A CSV cell for an attribute value: strings as they are, anything else as JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn address_line(address: &Address, line: AddressLine) -> Option<&str> {
    match line {
        AddressLine::Street => address.street.as_deref(),
        AddressLine::HouseNumber => address.house_number.as_deref(),
        AddressLine::Zipcode => address.zipcode.as_deref(),
        AddressLine::Location => address.location.as_deref(),
        AddressLine::Country => address.country.as_deref(),
    }
}

/// Organization names by id, for the contacts' `organizations` column.
async fn organization_names(
    store: &dyn Store,
    workspace: WorkspaceId,
) -> Result<HashMap<OrganizationId, String>, Error> {
    let mut names = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.scan_organizations(workspace, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.get();
        names.extend(page.into_iter().map(|o| (o.id, o.data.name)));
    }
    Ok(names)
}

/// Writes every contact of the workspace; returns how many.
pub async fn export_contacts(
    store: &dyn Store,
    workspace: WorkspaceId,
    format: Format,
    out: impl Write,
) -> Result<u64, Error> {
    let organizations = organization_names(store, workspace).await?;
    let (custom_keys, additional_keys) = store.attribute_keys(workspace).await?;
    let mut sink = Sink::new(format, out);
    {
        let mut header: Vec<String> = [
            "id",
            "name",
            "first_name",
            "last_name",
            "email",
            "phone_number",
            "external_id",
            "language",
            "avatar_url",
            "blocked",
        ]
        .map(str::to_owned)
        .to_vec();
        header.extend(Channel::ALL.map(|c| channel_column(c).to_owned()));
        header.push("organizations".to_owned());
        header.extend(AddressLine::ALL.map(|l| format!("address.{}", l.name())));
        header.extend(additional_keys.iter().map(|k| format!("additional.{k}")));
        header.extend(custom_keys.iter().map(|k| format!("custom.{k}")));
        header.extend(["created", "updated"].map(str::to_owned));
        sink.header(&header)?;
    }
    let mut written = 0;
    let mut after = 0;
    loop {
        let page = store.scan_contacts(workspace, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.get();
        for contact in &page {
            let names: Vec<&str> = contact
                .data
                .organization_ids
                .iter()
                .filter_map(|id| organizations.get(id).map(String::as_str))
                .collect();
            sink.record(
                || contact_record(contact, &names, &custom_keys, &additional_keys),
                || contact_json(contact, &names),
            )?;
            written += 1;
        }
    }
    sink.finish()?;
    Ok(written)
}

fn contact_record(
    contact: &Contact,
    organizations: &[&str],
    custom_keys: &[String],
    additional_keys: &[String],
) -> Vec<String> {
    let data = &contact.data;
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    let mut record = vec![
        contact.id.to_string(),
        text(data.name.as_deref()),
        text(data.first_name.as_deref()),
        text(data.last_name.as_deref()),
        text(data.email.as_ref().map(|e| e.as_str())),
        text(data.phone.as_ref().map(|p| p.as_str())),
        text(data.external_id.as_ref().map(|x| x.as_str())),
        text(data.language.as_ref().map(|l| l.as_str())),
        text(data.avatar_url.as_ref().map(|u| u.as_str())),
        data.blocked.to_string(),
    ];
    record.extend(Channel::ALL.map(|c| text(data.channels.get(c))));
    record.push(organizations.join(&ORGANIZATION_SEPARATOR.to_string()));
    record.extend(AddressLine::ALL.map(|l| text(address_line(&data.address, l))));
    record.extend(
        additional_keys
            .iter()
            .map(|k| cell(data.additional_attributes.get(k))),
    );
    record.extend(
        custom_keys
            .iter()
            .map(|k| cell(data.custom_attributes.get(k))),
    );
    record.push(contact.created.to_rfc3339());
    record.push(contact.updated.to_rfc3339());
    record
}

fn contact_json(contact: &Contact, organizations: &[&str]) -> Value {
    let data = &contact.data;
    let mut channels = Map::new();
    for channel in Channel::ALL {
        if let Some(id) = data.channels.get(channel) {
            channels.insert(channel_column(channel).to_owned(), json!(id));
        }
    }
    let mut out = json!({
        "id": contact.id.get(),
        "name": data.name,
        "first_name": data.first_name,
        "last_name": data.last_name,
        "email": data.email.as_ref().map(|e| e.as_str()),
        "phone_number": data.phone.as_ref().map(|p| p.as_str()),
        "external_id": data.external_id.as_ref().map(|x| x.as_str()),
        "language": data.language.as_ref().map(|l| l.as_str()),
        "avatar_url": data.avatar_url.as_ref().map(|u| u.as_str()),
        "blocked": data.blocked,
        "organizations": organizations,
        "address": address_json(&data.address),
        "additional_attributes": data.additional_attributes,
        "custom_attributes": data.custom_attributes,
        "created": contact.created.to_rfc3339(),
        "updated": contact.updated.to_rfc3339(),
    });
    if let Value::Object(object) = &mut out {
        object.extend(channels);
    }
    out
}

fn address_json(address: &Address) -> Value {
    let lines: Map<String, Value> = AddressLine::ALL
        .into_iter()
        .filter_map(|l| address_line(address, l).map(|v| (l.name().to_owned(), json!(v))))
        .collect();
    Value::Object(lines)
}

/// Writes every organization of the workspace; returns how many.
pub async fn export_organizations(
    store: &dyn Store,
    workspace: WorkspaceId,
    format: Format,
    out: impl Write,
) -> Result<u64, Error> {
    let mut sink = Sink::new(format, out);
    // The CSV header needs every custom key first: one pass for the keys, one to write.
    let mut custom_keys = std::collections::BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.scan_organizations(workspace, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.get();
        for organization in page {
            custom_keys.extend(
                organization
                    .data
                    .custom_attributes
                    .into_iter()
                    .map(|(k, _)| k),
            );
        }
    }
    {
        let mut header: Vec<String> = [
            "id",
            "name",
            "email",
            "website",
            "size",
            "industry",
            "phone_number",
        ]
        .map(str::to_owned)
        .to_vec();
        header.extend(AddressLine::ALL.map(|l| format!("address.{}", l.name())));
        header.extend(custom_keys.iter().map(|k| format!("custom.{k}")));
        header.extend(["created", "updated"].map(str::to_owned));
        sink.header(&header)?;
    }
    let mut written = 0;
    let mut after = 0;
    loop {
        let page = store.scan_organizations(workspace, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.get();
        for organization in &page {
            let data = &organization.data;
            let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
            let fields = || {
                let mut record = vec![
                    organization.id.to_string(),
                    data.name.clone(),
                    text(data.email.as_ref().map(|e| e.as_str())),
                    text(data.website.as_ref().map(|w| w.as_str())),
                    data.size.map(|s| s.to_string()).unwrap_or_default(),
                    text(data.industry.as_deref()),
                    text(data.phone.as_ref().map(|p| p.as_str())),
                ];
                record.extend(AddressLine::ALL.map(|l| text(address_line(&data.address, l))));
                record.extend(
                    custom_keys
                        .iter()
                        .map(|k| cell(data.custom_attributes.get(k.as_str()))),
                );
                record.push(organization.created.to_rfc3339());
                record.push(organization.updated.to_rfc3339());
                record
            };
            let object = || {
                json!({
                    "id": organization.id.get(),
                    "name": data.name,
                    "email": data.email.as_ref().map(|e| e.as_str()),
                    "website": data.website.as_ref().map(|w| w.as_str()),
                    "size": data.size,
                    "industry": data.industry,
                    "phone_number": data.phone.as_ref().map(|p| p.as_str()),
                    "address": address_json(&data.address),
                    "custom_attributes": data.custom_attributes,
                    "created": organization.created.to_rfc3339(),
                    "updated": organization.updated.to_rfc3339(),
                })
            };
            sink.record(fields, object)?;
            written += 1;
        }
    }
    sink.finish()?;
    Ok(written)
}
