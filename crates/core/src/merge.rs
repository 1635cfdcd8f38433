//! Merging two contacts into one: the base keeps every non-blank value and takes the
//! mergee's where its own is blank; attribute objects merge deeply with the base winning;
//! memberships are united. Stores call this inside the merge transaction.

use serde_json::Value;

use crate::model::{Attributes, ContactData};

/// The data the base contact has after absorbing `mergee`.
pub fn merge_contact_data(base: &ContactData, mergee: &ContactData) -> ContactData {
    let mut merged = base.clone();
    fill_text(&mut merged.name, &mergee.name);
    fill_text(&mut merged.first_name, &mergee.first_name);
    fill_text(&mut merged.last_name, &mergee.last_name);
    fill(&mut merged.email, &mergee.email);
    fill(&mut merged.phone, &mergee.phone);
    fill(&mut merged.external_id, &mergee.external_id);
    for channel in crate::model::Channel::ALL {
        let theirs = mergee.channels.slot(channel).clone();
        fill_text(merged.channels.slot_mut(channel), &theirs);
    }
    fill(&mut merged.language, &mergee.language);
    fill(&mut merged.avatar_url, &mergee.avatar_url);
    if merged.address.is_empty() {
        merged.address = mergee.address.clone();
    }
    merged.custom_attributes = deep_merge(&base.custom_attributes, &mergee.custom_attributes);
    merged.additional_attributes =
        deep_merge(&base.additional_attributes, &mergee.additional_attributes);
    merged.last_activity_at = base.last_activity_at.max(mergee.last_activity_at);
    merged.organization_ids = crate::model::normalize_ids(
        base.organization_ids
            .iter()
            .chain(&mergee.organization_ids)
            .copied()
            .collect(),
    );
    fill(&mut merged.opt_in_at, &mergee.opt_in_at);
    fill(&mut merged.is_inbound, &mergee.is_inbound);
    fill_text(&mut merged.source, &mergee.source);
    fill_text(&mut merged.governance_level_id, &mergee.governance_level_id);
    if merged.stage.is_none() {
        merged.stage = mergee.stage.clone();
        merged.disposition = mergee.disposition.clone();
        merged.disposition_fields = mergee.disposition_fields.clone();
    }
    if merged.assignment.user_id.is_none() {
        merged.assignment = mergee.assignment.clone();
    }
    merged
}

fn fill<T: Clone>(slot: &mut Option<T>, theirs: &Option<T>) {
    if slot.is_none() {
        slot.clone_from(theirs);
    }
}

/// Like `fill`, treating an empty string as blank.
fn fill_text(slot: &mut Option<String>, theirs: &Option<String>) {
    if slot.as_deref().is_none_or(str::is_empty) && theirs.as_deref().is_some_and(|t| !t.is_empty())
    {
        slot.clone_from(theirs);
    }
}

/// `base` with the keys only `mergee` has added; on a shared key the base wins (even
/// with `""`, as in Chatwoot), and two objects under one key merge the same way.
pub fn deep_merge(base: &Attributes, mergee: &Attributes) -> Attributes {
    let mut merged = base.clone();
    for (key, theirs) in mergee {
        match (merged.get_mut(key), theirs) {
            (Some(Value::Object(ours)), Value::Object(theirs)) => {
                *ours = deep_merge(ours, theirs);
            }
            (Some(_), _) => {}
            (None, _) => {
                merged.insert(key.clone(), theirs.clone());
            }
        }
    }
    merged
}

/// A merge needs two contacts: merging one into itself is refused (the store would make
/// it a no-op).
pub fn distinct(
    base: crate::domain::ContactId,
    mergee: crate::domain::ContactId,
) -> crate::Result<()> {
    match base == mergee {
        true => Err(crate::Error::invalid(
            "mergee_contact_id",
            "must be another contact than the base",
        )),
        false => Ok(()),
    }
}

/// What merging `mergee` into `base` would make of the base, changing nothing: its data
/// as `merge_contact_data` makes it, the organizations of both, their labels and inbox
/// links together. The merge itself may still refuse (a unique value taken meanwhile).
impl crate::service::Roster {
    pub async fn merge_preview(
        &self,
        workspace: crate::domain::WorkspaceId,
        base: crate::domain::ContactId,
        mergee: crate::domain::ContactId,
    ) -> crate::Result<crate::service::ContactRecord> {
        distinct(base, mergee)?;
        let base = self.contact_record(workspace, base).await?;
        let mergee = self.contact_record(workspace, mergee).await?;
        let mut contact = base.contact.clone();
        contact.data = merge_contact_data(&base.contact.data, &mergee.contact.data);
        let ids = &contact.data.organization_ids;
        let organizations = match ids.is_empty() {
            true => Vec::new(),
            false => self.store.organizations_by_ids(workspace, ids).await?,
        };
        let mut labels: Vec<String> = base.labels.iter().chain(&mergee.labels).cloned().collect();
        labels.sort();
        labels.dedup();
        let links = base
            .inbox_links
            .iter()
            .chain(&mergee.inbox_links)
            .cloned()
            .collect();
        let levels = match contact.data.governance_level_id {
            Some(_) => self.store.governance_levels(workspace).await?,
            None => Vec::new(),
        };
        Ok(crate::service::ContactRecord::assemble(
            contact,
            organizations,
            labels,
            links,
            &levels,
            self.now(),
        ))
    }
}

/// What a merge of `mergee` into `base` moves and what it drops, from the two contacts'
/// admin views and the base's view after the merge (`after`): `moves` names each field
/// (or attribute, channel, organization, label, inbox link) the base takes from the
/// mergee, `conflicts` each one both hold with different values (the base's is kept, the
/// mergee's dropped).
pub fn merge_outcome(base: &Value, mergee: &Value, after: &Value) -> (Value, Vec<Value>) {
    let mut moves = serde_json::Map::new();
    let mut conflicts = Vec::new();
    let fields = mergee.as_object().into_iter().flatten();
    for (field, theirs) in fields {
        if matches!(field.as_str(), "id" | "created" | "updated" | "is_expired") {
            continue;
        }
        let ours = &base[field];
        match (ours, theirs) {
            (_, Value::Array(items)) => {
                let taken: Vec<&Value> = items
                    .iter()
                    .filter(|item| !ours.as_array().is_some_and(|ours| ours.contains(item)))
                    .collect();
                if !taken.is_empty() {
                    moves.insert(
                        field.clone(),
                        Value::from(taken.into_iter().cloned().collect::<Vec<_>>()),
                    );
                }
            }
            (Value::Object(ours), Value::Object(theirs)) => {
                let mut taken = serde_json::Map::new();
                for (key, value) in theirs {
                    if !crate::view::held(value) {
                        continue;
                    }
                    match ours.get(key).filter(|ours| crate::view::held(ours)) {
                        None => {
                            taken.insert(key.clone(), value.clone());
                        }
                        Some(kept) if kept != value => conflicts.push(serde_json::json!({
                            "field": format!("{field}.{key}"),
                            "kept": kept,
                            "dropped": value,
                        })),
                        Some(_) => {}
                    }
                }
                if !taken.is_empty() {
                    moves.insert(field.clone(), Value::Object(taken));
                }
            }
            _ if !crate::view::held(theirs) || ours == theirs => {}
            _ if !crate::view::held(ours) && after[field] == *theirs => {
                moves.insert(field.clone(), theirs.clone());
            }
            _ => conflicts.push(serde_json::json!({
                "field": field,
                "kept": after[field],
                "dropped": theirs,
            })),
        }
    }
    (Value::Object(moves), conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, OrganizationId, PhoneE164};
    use serde_json::json;

    fn attributes(value: Value) -> Attributes {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_base_wins_and_fills_its_blanks_from_the_mergee() {
        let base = ContactData {
            name: Some(String::new()),
            email: Some(Email::parse("base@example.com").unwrap()),
            organization_ids: vec![OrganizationId::from_stored(2)],
            custom_attributes: attributes(json!({"plan": "pro", "empty": "", "deep": {"a": 1}})),
            ..ContactData::default()
        };
        let mergee = ContactData {
            name: Some("Mergee".into()),
            email: Some(Email::parse("mergee@example.com").unwrap()),
            phone: Some(PhoneE164::parse("+4917612345678").unwrap()),
            organization_ids: vec![
                OrganizationId::from_stored(1),
                OrganizationId::from_stored(2),
            ],
            custom_attributes: attributes(
                json!({"plan": "free", "empty": "x", "tier": 3, "deep": {"a": 2, "b": 3}}),
            ),
            ..ContactData::default()
        };
        let merged = merge_contact_data(&base, &mergee);
        assert_eq!(merged.name.as_deref(), Some("Mergee"));
        assert_eq!(merged.email, base.email);
        assert_eq!(merged.phone, mergee.phone);
        assert_eq!(
            merged.organization_ids,
            vec![
                OrganizationId::from_stored(1),
                OrganizationId::from_stored(2)
            ]
        );
        assert_eq!(
            Value::Object(merged.custom_attributes),
            json!({"plan": "pro", "empty": "", "deep": {"a": 1, "b": 3}, "tier": 3})
        );
    }
}
