//! Change events. Every committed change yields its events in the change's own
//! transaction (the store writes them beside the change, an outbox), so an event exists
//! exactly when its change committed; the change feed and webhooks read them from there.
//! A write that changes nothing yields none.

use serde_json::{json, Map, Value};

use crate::domain::{ContactId, Timestamp, WorkspaceId};
use crate::model::{Organization, RecordKind};
use crate::service::ContactRecord;
use crate::view;

/// What happened, as events and webhook subscriptions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    ContactMerged,
    ContactAssigned,
    ContactStageChanged,
    ContactExpired,
    OrganizationCreated,
    OrganizationUpdated,
    OrganizationDeleted,
    OrganizationMembersChanged,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::ContactCreated,
        EventType::ContactUpdated,
        EventType::ContactDeleted,
        EventType::ContactMerged,
        EventType::ContactAssigned,
        EventType::ContactStageChanged,
        EventType::ContactExpired,
        EventType::OrganizationCreated,
        EventType::OrganizationUpdated,
        EventType::OrganizationDeleted,
        EventType::OrganizationMembersChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ContactCreated => "contact.created",
            EventType::ContactUpdated => "contact.updated",
            EventType::ContactDeleted => "contact.deleted",
            EventType::ContactMerged => "contact.merged",
            EventType::ContactAssigned => "contact.assigned",
            EventType::ContactStageChanged => "contact.stage_changed",
            EventType::ContactExpired => "contact.expired",
            EventType::OrganizationCreated => "organization.created",
            EventType::OrganizationUpdated => "organization.updated",
            EventType::OrganizationDeleted => "organization.deleted",
            EventType::OrganizationMembersChanged => "organization.members_changed",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|event_type| event_type.as_str() == name)
    }
}

/// An event as a write yields it, before the store numbers and stamps it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: EventType,
    /// The record it is about: events of one record reach an endpoint in order.
    pub kind: RecordKind,
    pub record_id: i64,
    /// The event's `data`.
    pub data: Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its place in the workspace's feed (increasing; the feed's cursor).
    pub seq: i64,
    /// `evt_…`, the same in the feed and in every delivery of it.
    pub id: String,
    pub event_type: EventType,
    pub workspace: WorkspaceId,
    pub kind: RecordKind,
    pub record_id: i64,
    pub at: Timestamp,
    pub data: Value,
}

impl Event {
    /// The event as the feed and Roster's webhooks show it.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.event_type.as_str(),
            "timestamp": self.at.to_rfc3339(),
            "workspace_id": self.workspace.get(),
            "data": self.data,
        })
    }

    /// The fields a `contact.updated` (or any event with `changes`) changed.
    pub fn changed_fields(&self) -> impl Iterator<Item = &str> {
        self.data
            .get("changes")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|changes| changes.keys().map(String::as_str))
    }
}

/// What a contact's history keeps of one event: the contact, the event's type, and each
/// field's old and new value (organizations, labels and inbox links among them).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryChange {
    pub contact: i64,
    pub event_type: EventType,
    pub changes: Value,
}

/// One stored entry of a contact's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Increasing within the installation: the cursor of the next page.
    pub id: i64,
    pub at: Timestamp,
    pub event_type: EventType,
    /// `{"by", "via"}` (see `actor::Actor::render`).
    pub actor: Value,
    pub changes: Value,
}

impl HistoryEntry {
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "at": self.at.to_rfc3339(),
            "event": self.event_type.as_str(),
            "by": self.actor["by"],
            "via": self.actor["via"],
            "changes": self.changes,
        })
    }
}

impl NewEvent {
    /// The history entries this event makes: one for the contact it is about, and for a
    /// merge one more for the contact merged away. Organization events make none (a
    /// membership shows in the member's own `organizations` change).
    pub fn history(&self) -> Vec<HistoryChange> {
        if self.kind != RecordKind::Contact {
            return Vec::new();
        }
        let record = &self.data["contact"];
        let entry = |contact: i64, changes: Value| HistoryChange {
            contact,
            event_type: self.event_type,
            changes,
        };
        match self.event_type {
            EventType::ContactCreated => vec![entry(self.record_id, every_field(record, true))],
            EventType::ContactDeleted => vec![entry(self.record_id, every_field(record, false))],
            EventType::ContactMerged => {
                let mergee = &self.data["mergee"];
                let mut gone = every_field(mergee, false);
                gone["merged_into"] = json!({"old": null, "new": self.record_id});
                vec![
                    entry(self.record_id, self.data["changes"].clone()),
                    entry(mergee["id"].as_i64().unwrap_or_default(), gone),
                ]
            }
            _ => vec![entry(self.record_id, self.data["changes"].clone())],
        }
    }
}

/// Every field of a record view that holds something, as a change from nothing to it
/// (`created`) or from it to nothing.
fn every_field(view: &Value, created: bool) -> Value {
    let fields = view.as_object().into_iter().flatten();
    Value::Object(
        fields
            .filter(|(field, value)| {
                !matches!(field.as_str(), "id" | "created" | "updated") && view::held(value)
            })
            .map(|(field, value)| {
                let change = match created {
                    true => json!({"old": null, "new": value}),
                    false => json!({"old": value, "new": null}),
                };
                (field.clone(), change)
            })
            .collect(),
    )
}

/// A new event id: unique across nodes without asking the store.
pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// The top-level fields whose values differ between two views of a record, as
/// `{"field": {"old": …, "new": …}}`. `updated` (when the write happened) is not a change
/// of its own.
pub fn changes(before: &Value, after: &Value) -> Map<String, Value> {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return Map::new();
    };
    after
        .iter()
        .filter(|(field, _)| field.as_str() != "updated")
        .filter_map(|(field, new)| {
            let old = before.get(field).unwrap_or(&Value::Null);
            (old != new).then(|| (field.clone(), json!({"old": old, "new": new})))
        })
        .collect()
}

fn contact_event(event_type: EventType, id: ContactId, data: Value) -> NewEvent {
    NewEvent {
        event_type,
        kind: RecordKind::Contact,
        record_id: id.get(),
        data,
    }
}

fn organization_event(event_type: EventType, organization: &Organization, data: Value) -> NewEvent {
    NewEvent {
        event_type,
        kind: RecordKind::Organization,
        record_id: organization.id.get(),
        data,
    }
}

impl NewEvent {
    pub fn contact_created(record: &ContactRecord) -> NewEvent {
        contact_event(
            EventType::ContactCreated,
            record.contact.id,
            json!({"contact": view::contact_record(record)}),
        )
    }

    /// `contact.updated`, `contact.stage_changed` or `contact.assigned`: the record after
    /// the change and what changed; `None` when nothing did.
    pub fn contact_changed(
        event_type: EventType,
        before: &ContactRecord,
        after: &ContactRecord,
    ) -> Option<NewEvent> {
        let shown = view::contact_record(after);
        let changes = changes(&view::contact_record(before), &shown);
        if changes.is_empty() {
            return None;
        }
        let mut data = json!({"contact": shown, "changes": changes});
        if event_type == EventType::ContactAssigned {
            let assignment = &after.contact.data.assignment;
            data["assignment"] = json!({
                "user_id": assignment.user_id,
                "group_id": assignment.group_id,
                "pending_handover": assignment.pending,
            });
        }
        Some(contact_event(event_type, after.contact.id, data))
    }

    /// `contact.expired`: the record (now expired) as its SalesChat expiry passed.
    pub fn contact_expired(record: &ContactRecord) -> NewEvent {
        contact_event(
            EventType::ContactExpired,
            record.contact.id,
            json!({
                "contact": view::contact_record(record),
                "changes": {"is_expired": {"old": false, "new": true}},
            }),
        )
    }

    pub fn contact_deleted(record: &ContactRecord) -> NewEvent {
        contact_event(
            EventType::ContactDeleted,
            record.contact.id,
            json!({"contact": view::contact_record(record)}),
        )
    }

    /// `mergee` was folded into the base (`before` and `after` the merge) and deleted.
    pub fn contact_merged(
        before: &ContactRecord,
        after: &ContactRecord,
        mergee: &ContactRecord,
    ) -> NewEvent {
        let shown = view::contact_record(after);
        let changes = changes(&view::contact_record(before), &shown);
        contact_event(
            EventType::ContactMerged,
            after.contact.id,
            json!({
                "contact": shown,
                "mergee": view::contact_record(mergee),
                "changes": changes,
            }),
        )
    }

    pub fn organization_created(organization: &Organization) -> NewEvent {
        organization_event(
            EventType::OrganizationCreated,
            organization,
            json!({"organization": view::organization(organization)}),
        )
    }

    /// `None` when nothing changed.
    pub fn organization_updated(before: &Organization, after: &Organization) -> Option<NewEvent> {
        let shown = view::organization(after);
        let changes = changes(&view::organization(before), &shown);
        if changes.is_empty() {
            return None;
        }
        Some(organization_event(
            EventType::OrganizationUpdated,
            after,
            json!({"organization": shown, "changes": changes}),
        ))
    }

    pub fn organization_deleted(organization: &Organization) -> NewEvent {
        organization_event(
            EventType::OrganizationDeleted,
            organization,
            json!({"organization": view::organization(organization)}),
        )
    }

    /// Contacts joined or left the organization.
    pub fn members_changed(
        organization: &Organization,
        added: &[ContactId],
        removed: &[ContactId],
    ) -> NewEvent {
        let ids = |ids: &[ContactId]| ids.iter().map(|id| id.get()).collect::<Vec<_>>();
        organization_event(
            EventType::OrganizationMembersChanged,
            organization,
            json!({
                "organization": view::organization(organization),
                "added": ids(added),
                "removed": ids(removed),
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_the_fields_that_differ_and_never_the_write_time() {
        let before = json!({"id": 1, "updated": "a", "name": "Ann", "labels": ["x"]});
        let after = json!({"id": 1, "updated": "b", "name": "Anne", "labels": ["x"]});
        let changes = changes(&before, &after);
        assert_eq!(
            Value::Object(changes),
            json!({"name": {"old": "Ann", "new": "Anne"}})
        );
        assert!(super::changes(&after, &after).is_empty());
    }

    #[test]
    fn every_type_parses_back_from_its_name() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(event_type));
        }
        assert_eq!(EventType::parse("contact.exploded"), None);
    }
}
