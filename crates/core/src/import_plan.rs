//! Planning one import batch, in memory and in row order, so that later rows see what
//! earlier rows did: which stored contact each row updates (matched by the batch's keys,
//! in order), which rows create contacts, and which are rejected because they would take
//! a unique value another contact holds. The store reads the stored contacts the rows can
//! reach, asks for the plan, and writes it in one transaction.

use std::collections::{HashMap, HashSet};

use crate::domain::{ContactId, OrganizationId};
use crate::import::{ImportOutcome, ImportRow, MatchKey};
use crate::model::{normalize_ids, Channel, Contact, ContactData, ContactPatch, Patch};

/// Hash maps for planning batches (hundreds of thousands of lookups a batch): foldhash is
/// randomly seeded per process like std's SipHash, and several times faster.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// A value that identifies a contact: the unique fields, and the phone (not unique, but
/// matched on).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    Email(String),
    ExternalId(String),
    Phone(String),
    Channel(Channel, String),
}

impl Identity {
    pub fn unique(&self) -> bool {
        !matches!(self, Identity::Phone(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Identity::Email(_) => "email".to_owned(),
            Identity::ExternalId(_) => "external_id".to_owned(),
            Identity::Phone(_) => "phone".to_owned(),
            Identity::Channel(channel, _) => format!("{} id", channel.as_str()),
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Identity::Email(v)
            | Identity::ExternalId(v)
            | Identity::Phone(v)
            | Identity::Channel(_, v) => v,
        }
    }

    pub fn of(data: &ContactData) -> Vec<Identity> {
        let mut all = Vec::with_capacity(4);
        if let Some(email) = &data.email {
            all.push(Identity::Email(email.as_str().to_owned()));
        }
        if let Some(id) = &data.external_id {
            all.push(Identity::ExternalId(id.as_str().to_owned()));
        }
        if let Some(phone) = &data.phone {
            all.push(Identity::Phone(phone.as_str().to_owned()));
        }
        for channel in Channel::ALL {
            if let Some(id) = data.channels.get(channel) {
                all.push(Identity::Channel(channel, id.to_owned()));
            }
        }
        all
    }

    /// The identities a patch sets (without building the contact it would make).
    pub fn set_by(patch: &ContactPatch) -> Vec<Identity> {
        let mut all = Vec::with_capacity(4);
        if let Patch::Set(email) = &patch.email {
            all.push(Identity::Email(email.as_str().to_owned()));
        }
        if let Patch::Set(id) = &patch.external_id {
            all.push(Identity::ExternalId(id.as_str().to_owned()));
        }
        if let Patch::Set(phone) = &patch.phone {
            all.push(Identity::Phone(phone.as_str().to_owned()));
        }
        for (channel, value) in &patch.channels {
            if let Patch::Set(id) = value {
                all.push(Identity::Channel(*channel, id.clone()));
            }
        }
        all
    }

    /// What a row would be matched by under `key`.
    fn for_key(patch: &ContactPatch, key: MatchKey) -> Option<Identity> {
        match key {
            MatchKey::Email => patch
                .email
                .as_set()
                .map(|email| Identity::Email(email.as_str().to_owned())),
            MatchKey::ExternalId => patch
                .external_id
                .as_set()
                .map(|id| Identity::ExternalId(id.as_str().to_owned())),
            MatchKey::Phone => patch
                .phone
                .as_set()
                .map(|phone| Identity::Phone(phone.as_str().to_owned())),
        }
    }
}

/// Every identity the rows set: the stored contacts holding one are all a batch can match
/// or collide with.
pub fn identities_sought(rows: &[ImportRow]) -> FastSet<Identity> {
    rows.iter()
        .flat_map(|row| Identity::set_by(&row.patch))
        .collect()
}

/// Where a row's contact is while a batch is planned: stored, or the n-th the batch creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Stored(ContactId),
    New(usize),
}

/// A planned row: its contact and what it is reported as once ids are known, or why it
/// is rejected.
pub type PlannedRow = Result<(Slot, fn(ContactId) -> ImportOutcome), String>;

/// What to write for one batch, and what to report for each row.
#[derive(Debug)]
pub struct ImportPlan {
    pub rows: Vec<PlannedRow>,
    /// The contacts to create, in order (`Slot::New(n)` is the n-th).
    pub created: Vec<ContactData>,
    /// Stored contacts whose data changed: as stored, and as they are to be.
    pub changed: Vec<(Contact, ContactData)>,
}

impl ImportPlan {
    /// The report, given the id the first created contact gets (ids are consecutive).
    pub fn outcomes(self, first_id: i64) -> Result<Vec<ImportOutcome>, &'static str> {
        self.rows
            .into_iter()
            .map(|row| match row {
                Err(reason) => Ok(ImportOutcome::Rejected(reason)),
                Ok((Slot::Stored(id), outcome)) => Ok(outcome(id)),
                Ok((Slot::New(n), outcome)) => ContactId::new(first_id + n as i64)
                    .map(outcome)
                    .ok_or("contact ids of this workspace are exhausted"),
            })
            .collect()
    }
}

/// Plans `rows` against `stored` (every stored contact holding one of
/// [`identities_sought`]); `organizations` are the ids of the organizations the rows name.
pub fn plan_import(
    rows: &[ImportRow],
    keys: &[MatchKey],
    stored: Vec<Contact>,
    organizations: &HashMap<String, OrganizationId>,
) -> ImportPlan {
    let mut holders: FastMap<Identity, Slot> = FastMap::default();
    let mut current: FastMap<Slot, ContactData> = FastMap::default();
    let mut originals: Vec<Contact> = Vec::with_capacity(stored.len());
    for contact in stored {
        let slot = Slot::Stored(contact.id);
        for identity in Identity::of(&contact.data) {
            holders.entry(identity).or_insert(slot);
        }
        current.insert(slot, contact.data.clone());
        originals.push(contact);
    }
    let mut planned = Vec::with_capacity(rows.len());
    let mut created = 0;
    for row in rows {
        let target = keys
            .iter()
            .filter_map(|&key| Identity::for_key(&row.patch, key))
            .find_map(|identity| holders.get(&identity).copied());
        let before = target.and_then(|slot| current.get(&slot).cloned());
        let mut data = before.clone().unwrap_or_default();
        row.patch.clone().apply_to(&mut data);
        let mut memberships = data.organization_ids.clone();
        memberships.extend(
            row.organizations
                .iter()
                .filter_map(|name| organizations.get(name)),
        );
        data.organization_ids = normalize_ids(memberships);
        // Attributes merge into what the contact has: the sum must fit too.
        if let Err(reason) = data.check_attributes_sizes() {
            planned.push(Err(reason));
            continue;
        }
        let identities = Identity::of(&data);
        if let Some(taken) = identities.iter().find(|identity| {
            identity.unique()
                && holders
                    .get(identity)
                    .is_some_and(|&holder| Some(holder) != target)
        }) {
            let holder = match holders[taken] {
                Slot::Stored(id) => format!("contact {id}"),
                Slot::New(_) => "an earlier row".to_owned(),
            };
            planned.push(Err(format!(
                "{} {:?} is already used by {holder}",
                taken.describe(),
                taken.value()
            )));
            continue;
        }
        let (slot, outcome): (Slot, fn(ContactId) -> ImportOutcome) = match (target, before) {
            (Some(slot), Some(before)) if before == data => (slot, ImportOutcome::Unchanged),
            (Some(slot), Some(before)) => {
                for identity in Identity::of(&before) {
                    if holders.get(&identity) == Some(&slot) {
                        holders.remove(&identity);
                    }
                }
                (slot, ImportOutcome::Updated)
            }
            _ => {
                created += 1;
                (Slot::New(created - 1), ImportOutcome::Created)
            }
        };
        for identity in identities {
            holders.entry(identity).or_insert(slot);
        }
        current.insert(slot, data);
        planned.push(Ok((slot, outcome)));
    }
    let changed = originals
        .into_iter()
        .filter_map(|original| {
            let data = current.remove(&Slot::Stored(original.id))?;
            (data != original.data).then_some((original, data))
        })
        .collect();
    let created = (0..created)
        .map(|n| current.remove(&Slot::New(n)).unwrap_or_default())
        .collect();
    ImportPlan {
        rows: planned,
        created,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, ExternalId, Timestamp};

    fn row(name: &str, email: Option<&str>, external_id: Option<&str>) -> ImportRow {
        ImportRow {
            patch: ContactPatch {
                name: Patch::Set(name.to_owned()),
                email: email.map_or(Patch::Keep, |e| Patch::Set(Email::parse(e).unwrap())),
                external_id: external_id
                    .map_or(Patch::Keep, |x| Patch::Set(ExternalId::parse(x).unwrap())),
                ..ContactPatch::default()
            },
            organizations: Vec::new(),
        }
    }

    fn stored(id: i64, name: &str, email: &str) -> Contact {
        Contact {
            id: ContactId::new(id).unwrap(),
            created: Timestamp::from_micros(1),
            updated: Timestamp::from_micros(1),
            data: ContactData {
                name: Some(name.to_owned()),
                email: Some(Email::parse(email).unwrap()),
                ..ContactData::default()
            },
        }
    }

    fn outcomes(plan: ImportPlan) -> Vec<ImportOutcome> {
        plan.outcomes(100).unwrap()
    }

    #[test]
    fn rows_update_what_they_match_and_create_the_rest_in_order() {
        let rows = [
            row("Ann", Some("ann@example.com"), None),
            row("Bob", Some("bob@example.com"), None),
            // Matches the contact the row before created.
            row("Bobby", Some("bob@example.com"), None),
            // Matches a stored contact but changes nothing.
            row("Cy", Some("cy@example.com"), None),
        ];
        let plan = plan_import(
            &rows,
            &MatchKey::DEFAULT_ORDER,
            vec![
                stored(7, "Annie", "ann@example.com"),
                stored(8, "Cy", "cy@example.com"),
            ],
            &HashMap::new(),
        );
        assert_eq!(plan.created.len(), 1);
        assert_eq!(plan.created[0].name.as_deref(), Some("Bobby"));
        assert_eq!(plan.changed.len(), 1);
        assert_eq!(plan.changed[0].1.name.as_deref(), Some("Ann"));
        let id = |n| ContactId::new(n).unwrap();
        assert_eq!(
            outcomes(plan),
            [
                ImportOutcome::Updated(id(7)),
                ImportOutcome::Created(id(100)),
                ImportOutcome::Updated(id(100)),
                ImportOutcome::Unchanged(id(8)),
            ]
        );
    }

    #[test]
    fn a_row_taking_a_value_another_contact_holds_is_rejected() {
        let rows = [
            // Matched by external id, it would take a stored contact's email.
            row("Dee", Some("ann@example.com"), Some("X-1")),
            row("Eve", Some("eve@example.com"), Some("X-1")),
        ];
        let plan = plan_import(
            &rows,
            &[MatchKey::ExternalId],
            vec![stored(7, "Ann", "ann@example.com")],
            &HashMap::new(),
        );
        assert_eq!(
            outcomes(plan),
            [
                ImportOutcome::Rejected(
                    "email \"ann@example.com\" is already used by contact 7".into()
                ),
                ImportOutcome::Created(ContactId::new(100).unwrap()),
            ]
        );
    }

    #[test]
    fn match_keys_are_tried_in_the_order_given() {
        let mut by_id = stored(7, "Ann", "ann@example.com");
        by_id.data.external_id = Some(ExternalId::parse("X-9").unwrap());
        let other = stored(8, "Other", "other@example.com");
        let rows = [row("Ann B", Some("other@example.com"), Some("X-9"))];
        let email_first = plan_import(
            &rows,
            &[MatchKey::Email, MatchKey::ExternalId],
            vec![by_id, other],
            &HashMap::new(),
        );
        // Matched by email to 8, it may not take 7's external id.
        assert!(matches!(&email_first.rows[0], Err(reason) if reason.contains("external_id")));
    }
}
