//! The canonical views of records, in the admin API's snake_case: what
//! `GET /admin/v1/workspaces/{id}/contacts/{contactId}` answers, what every dialect's ETag
//! hashes, and what events carry (an event shows its record as the operator's view does).

use crate::domain::Timestamp;
use crate::model::{Address, Channel, Organization};
use crate::service::ContactRecord;
use serde_json::{json, Value};

/// The top-level fields of [`contact_record`], in its order.
pub const CONTACT_FIELDS: [&str; 31] = [
    "id",
    "created",
    "updated",
    "name",
    "display_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "external_id",
    "channels",
    "language",
    "avatar_url",
    "address",
    "custom_attributes",
    "additional_attributes",
    "blocked",
    "last_activity_at",
    "organizations",
    "labels",
    "inbox_links",
    "opt_in_at",
    "is_inbound",
    "source",
    "governance_level",
    "expiry",
    "is_expired",
    "stage",
    "disposition",
    "disposition_fields",
    "assignment",
];

/// An optional time as JSON: RFC 3339, or `null`.
pub fn time(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |at| Value::String(at.to_rfc3339()))
}

fn render_address(address: &Address) -> Value {
    json!({
        "street": address.street,
        "house_number": address.house_number,
        "zipcode": address.zipcode,
        "location": address.location,
        "country": address.country,
    })
}

/// The canonical record, in the admin API's snake_case.
pub fn contact_record(record: &ContactRecord) -> Value {
    let contact = &record.contact;
    let data = &contact.data;
    let channels: serde_json::Map<String, Value> = Channel::ALL
        .iter()
        .map(|&channel| {
            (
                channel.as_str().to_owned(),
                json!(data.channels.get(channel)),
            )
        })
        .collect();
    let assignment = &data.assignment;
    let assigned = assignment.user_id.is_some() || assignment.group_id.is_some();
    json!({
        "id": contact.id.get(),
        "created": contact.created.to_rfc3339(),
        "updated": contact.updated.to_rfc3339(),
        "name": data.name,
        "display_name": data.display_name(),
        "first_name": data.first_name,
        "last_name": data.last_name,
        "email": data.email.as_ref().map(|email| email.as_str()),
        "phone": data.phone.as_ref().map(|phone| phone.as_str()),
        "external_id": data.external_id.as_ref().map(|id| id.as_str()),
        "channels": channels,
        "language": data.language.as_ref().map(|language| language.as_str()),
        "avatar_url": data.avatar_url.as_ref().map(|url| url.as_str()),
        "address": render_address(&data.address),
        "custom_attributes": data.custom_attributes,
        "additional_attributes": data.additional_attributes,
        "blocked": data.blocked,
        "last_activity_at": time(data.last_activity_at),
        "organizations": record.organizations.iter().map(|organization| json!({
            "id": organization.id.get(),
            "name": organization.data.name,
        })).collect::<Vec<_>>(),
        "labels": record.labels,
        "inbox_links": record.inbox_links.iter().map(|link| json!({
            "inbox_id": link.inbox.id,
            "inbox_name": link.inbox.name,
            "channel_type": link.inbox.channel.as_str(),
            "source_id": link.source_id,
            "linked": link.created.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "opt_in_at": time(data.opt_in_at),
        "is_inbound": data.is_inbound,
        "source": data.source,
        "governance_level": data.governance_level_id.as_ref().map(|id| json!({
            "id": id,
            "name": record.governance_level.as_ref().map(|level| &level.name),
            "retention_days": record.governance_level.as_ref().map(|level| level.retention_days),
        })),
        "expiry": time(record.expiry),
        "is_expired": record.is_expired,
        "stage": data.stage,
        "disposition": data.disposition,
        "disposition_fields": data.disposition_fields,
        "assignment": assigned.then(|| json!({
            "user_id": assignment.user_id,
            "group_id": assignment.group_id,
            "pending_handover": assignment.pending,
            "remote_waba_id": assignment.remote_waba_id,
            "remote_phone_id": assignment.remote_phone_id,
            "assigned_at": time(assignment.at),
        })),
    })
}

/// An organization with every field it holds.
pub fn organization(organization: &Organization) -> Value {
    let data = &organization.data;
    json!({
        "id": organization.id.get(),
        "created": organization.created.to_rfc3339(),
        "updated": organization.updated.to_rfc3339(),
        "name": data.name,
        "email": data.email.as_ref().map(|email| email.as_str()),
        "website": data.website.as_ref().map(|url| url.as_str()),
        "size": data.size,
        "industry": data.industry,
        "phone": data.phone.as_ref().map(|phone| phone.as_str()),
        "address": render_address(&data.address),
        "custom_attributes": data.custom_attributes,
    })
}

/// Whether a value of a record view holds something: not null, false, empty, or an
/// object of such (a contact's `channels` with none set).
pub fn held(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(set) => *set,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => fields.values().any(held),
        Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContactId, Timestamp};
    use crate::model::{Contact, ContactData};

    #[test]
    fn the_field_list_is_the_record_s() {
        let contact = Contact {
            id: ContactId::new(1).unwrap(),
            created: Timestamp::from_micros(0),
            updated: Timestamp::from_micros(0),
            data: ContactData::default(),
        };
        let record = ContactRecord::assemble(
            contact,
            vec![],
            vec![],
            vec![],
            &[],
            Timestamp::from_micros(0),
        );
        let shown = contact_record(&record);
        let keys: Vec<&str> = shown
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, CONTACT_FIELDS);
    }
}
