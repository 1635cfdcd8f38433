//! The canonical records every dialect reads and writes, and the patches that change them.
//!
//! `*Data` structs are the writable part of a record; stores persist them as a whole,
//! which keeps "apply a patch" a pure function here instead of SQL in two backends.

use serde_json::{Map, Value};

use crate::domain::{
    ContactId, Email, ExternalId, KeyId, Language, OrganizationId, PhoneE164, Timestamp, WebUrl,
    WorkspaceId,
};

/// Custom or additional attributes: a JSON object.
pub type Attributes = Map<String, Value>;

/// Most organizations one contact may belong to; keeps one PATCH bounded.
pub const MAX_ORGANIZATIONS_PER_CONTACT: usize = 100;

/// Serialized size cap for one attributes object.
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;

/// `Err(reason)` when `attributes` take more than [`MAX_ATTRIBUTES_BYTES`] as JSON: the one
/// check every dialect and the import make (the caller names the field).
pub fn check_attributes_size(attributes: &Attributes) -> Result<(), String> {
    let size = serde_json::to_vec(attributes).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_ATTRIBUTES_BYTES {
        Err(format!(
            "must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"
        ))
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: KeyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub permissions: Vec<String>,
    /// Its request rate limit; `None` follows the server's default.
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
    pub created: Timestamp,
    pub revoked: Option<Timestamp>,
}

/// What a store keeps of a key: its public part and the keyed hash of its secret.
#[derive(Debug, Clone)]
pub struct StoredApiKey {
    pub key: ApiKey,
    pub secret_hash: Vec<u8>,
}

/// A messaging channel on which a contact has an id of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Whatsapp,
    Telegram,
    Facebook,
    Instagram,
    Web,
    Provider,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Whatsapp,
        Channel::Telegram,
        Channel::Facebook,
        Channel::Instagram,
        Channel::Web,
        Channel::Provider,
    ];

    /// The channel's name in Roster's own API (the admin view, search facets).
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Telegram => "telegram",
            Channel::Facebook => "facebook",
            Channel::Instagram => "instagram",
            Channel::Web => "web",
            Channel::Provider => "provider",
        }
    }
}

/// A contact's id on each channel; each is unique per (workspace, channel).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelIds {
    pub whatsapp: Option<String>,
    pub telegram: Option<String>,
    pub facebook: Option<String>,
    pub instagram: Option<String>,
    pub web: Option<String>,
    pub provider: Option<String>,
}

impl ChannelIds {
    pub fn get(&self, channel: Channel) -> Option<&str> {
        self.slot(channel).as_deref()
    }

    pub fn slot(&self, channel: Channel) -> &Option<String> {
        match channel {
            Channel::Whatsapp => &self.whatsapp,
            Channel::Telegram => &self.telegram,
            Channel::Facebook => &self.facebook,
            Channel::Instagram => &self.instagram,
            Channel::Web => &self.web,
            Channel::Provider => &self.provider,
        }
    }

    pub fn slot_mut(&mut self, channel: Channel) -> &mut Option<String> {
        match channel {
            Channel::Whatsapp => &mut self.whatsapp,
            Channel::Telegram => &mut self.telegram,
            Channel::Facebook => &mut self.facebook,
            Channel::Instagram => &mut self.instagram,
            Channel::Web => &mut self.web,
            Channel::Provider => &mut self.provider,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub zipcode: Option<String>,
    pub location: Option<String>,
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }
}

/// The writable fields of a contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactData {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<PhoneE164>,
    pub external_id: Option<ExternalId>,
    pub channels: ChannelIds,
    pub language: Option<Language>,
    pub avatar_url: Option<WebUrl>,
    pub address: Address,
    pub custom_attributes: Attributes,
    pub additional_attributes: Attributes,
    pub blocked: bool,
    pub last_activity_at: Option<Timestamp>,
    /// Sorted and without duplicates.
    pub organization_ids: Vec<OrganizationId>,
    /// When the contact opted in to being messaged (SalesChat).
    pub opt_in_at: Option<Timestamp>,
    pub is_inbound: Option<bool>,
    /// Where the contact came from (SalesChat `source`).
    pub source: Option<String>,
    /// The governance level that sets the contact's retention (SalesChat).
    pub governance_level_id: Option<String>,
    pub stage: Option<String>,
    pub disposition: Option<String>,
    pub disposition_fields: Attributes,
    pub assignment: Assignment,
}

/// Who a contact is assigned to (SalesChat). Set only by the assign operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    pub user_id: Option<String>,
    /// The group the user was picked from, when the request named a group.
    pub group_id: Option<String>,
    /// Assign only once the lead has responded (`assign_on_handover`).
    pub pending: bool,
    pub remote_waba_id: Option<String>,
    pub remote_phone_id: Option<String>,
    pub at: Option<Timestamp>,
}

impl ContactData {
    /// The name to show: the display name, else first and last name joined.
    pub fn display_name(&self) -> String {
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            return name.to_owned();
        }
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `Err(reason)` when the custom or the additional attributes are over the size cap
    /// (after a merge, say).
    pub fn check_attributes_sizes(&self) -> Result<(), String> {
        check_attributes_size(&self.custom_attributes)
            .map_err(|reason| format!("custom attributes: {reason}"))?;
        check_attributes_size(&self.additional_attributes)
            .map_err(|reason| format!("additional attributes: {reason}"))
    }

    /// Whether anything tells this contact apart: a name, an email, a phone, an external
    /// id or a channel id. A contact with none of them can be neither found nor reached,
    /// so the Chatwoot dialect and imports refuse to create one.
    pub fn is_identifiable(&self) -> bool {
        !self.display_name().is_empty()
            || self.email.is_some()
            || self.phone.is_some()
            || self.external_id.is_some()
            || Channel::ALL
                .iter()
                .any(|&channel| self.channels.get(channel).is_some())
    }
}

/// A record as it was before a write and as the write left it (same transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct Updated<T> {
    pub before: T,
    pub after: T,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub data: ContactData,
}

/// How a patch treats one optional field.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    /// Not mentioned: leave as is.
    #[default]
    Keep,
    /// Explicitly emptied.
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// The value the patch sets, if it sets one.
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(value) => Some(value),
            _ => None,
        }
    }

    fn apply_to(self, slot: &mut Option<T>) {
        match self {
            Patch::Keep => {}
            Patch::Clear => *slot = None,
            Patch::Set(value) => *slot = Some(value),
        }
    }
}

/// A partial update of an address: each line is kept, cleared or set on its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressPatch {
    pub street: Patch<String>,
    pub house_number: Patch<String>,
    pub zipcode: Patch<String>,
    pub location: Patch<String>,
    pub country: Patch<String>,
}

impl AddressPatch {
    pub fn apply_to(self, address: &mut Address) {
        self.street.apply_to(&mut address.street);
        self.house_number.apply_to(&mut address.house_number);
        self.zipcode.apply_to(&mut address.zipcode);
        self.location.apply_to(&mut address.location);
        self.country.apply_to(&mut address.country);
    }
}

/// How a patch treats an attributes object.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AttributesPatch {
    #[default]
    Keep,
    /// The object is replaced as a whole (ChatCaptain `variables`).
    Replace(Attributes),
    /// Top-level keys are replaced or added, others kept (Chatwoot).
    Merge(Attributes),
    /// These top-level keys are removed (Chatwoot `destroy_custom_attributes`).
    Remove(Vec<String>),
}

impl AttributesPatch {
    fn apply_to(self, attributes: &mut Attributes) {
        match self {
            AttributesPatch::Keep => {}
            AttributesPatch::Replace(new) => *attributes = new,
            AttributesPatch::Merge(new) => attributes.extend(new),
            AttributesPatch::Remove(keys) => attributes.retain(|key, _| !keys.contains(key)),
        }
    }
}

/// A partial update of a contact; fields left at `Keep` are untouched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactPatch {
    pub name: Patch<String>,
    pub first_name: Patch<String>,
    pub last_name: Patch<String>,
    pub email: Patch<Email>,
    pub phone: Patch<PhoneE164>,
    pub external_id: Patch<ExternalId>,
    pub channels: Vec<(Channel, Patch<String>)>,
    pub language: Patch<Language>,
    pub avatar_url: Patch<WebUrl>,
    pub address: AddressPatch,
    pub custom_attributes: AttributesPatch,
    pub additional_attributes: AttributesPatch,
    pub blocked: Option<bool>,
    pub organization_ids: Option<Vec<OrganizationId>>,
    pub opt_in_at: Patch<Timestamp>,
    pub is_inbound: Patch<bool>,
    pub source: Patch<String>,
    pub governance_level_id: Patch<String>,
}

impl ContactPatch {
    /// Whether the patch gives a value that identifies a contact (see
    /// [`ContactData::is_identifiable`]): a contact created from it can be told apart.
    pub fn sets_identity(&self) -> bool {
        let set = |patch: &Patch<String>| matches!(patch, Patch::Set(text) if !text.is_empty());
        set(&self.name)
            || set(&self.first_name)
            || set(&self.last_name)
            || matches!(self.email, Patch::Set(_))
            || matches!(self.phone, Patch::Set(_))
            || matches!(self.external_id, Patch::Set(_))
            || self.channels.iter().any(|(_, patch)| set(patch))
    }

    pub fn apply_to(self, data: &mut ContactData) {
        self.name.apply_to(&mut data.name);
        self.first_name.apply_to(&mut data.first_name);
        self.last_name.apply_to(&mut data.last_name);
        self.email.apply_to(&mut data.email);
        self.phone.apply_to(&mut data.phone);
        self.external_id.apply_to(&mut data.external_id);
        for (channel, patch) in self.channels {
            patch.apply_to(data.channels.slot_mut(channel));
        }
        self.language.apply_to(&mut data.language);
        self.avatar_url.apply_to(&mut data.avatar_url);
        self.address.apply_to(&mut data.address);
        self.custom_attributes.apply_to(&mut data.custom_attributes);
        self.additional_attributes
            .apply_to(&mut data.additional_attributes);
        if let Some(blocked) = self.blocked {
            data.blocked = blocked;
        }
        if let Some(ids) = self.organization_ids {
            data.organization_ids = normalize_ids(ids);
        }
        self.opt_in_at.apply_to(&mut data.opt_in_at);
        self.is_inbound.apply_to(&mut data.is_inbound);
        self.source.apply_to(&mut data.source);
        self.governance_level_id
            .apply_to(&mut data.governance_level_id);
    }
}

/// Sorts and de-duplicates a list of organization ids.
pub fn normalize_ids(mut ids: Vec<OrganizationId>) -> Vec<OrganizationId> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The writable fields of an organization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganizationData {
    pub name: String,
    pub email: Option<Email>,
    pub website: Option<WebUrl>,
    pub size: Option<i64>,
    pub industry: Option<String>,
    pub phone: Option<PhoneE164>,
    pub address: Address,
    pub custom_attributes: Attributes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrganizationId,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub data: OrganizationData,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub email: Patch<Email>,
    pub website: Patch<WebUrl>,
    pub size: Patch<i64>,
    pub industry: Patch<String>,
    pub phone: Patch<PhoneE164>,
    pub address: AddressPatch,
    pub custom_attributes: AttributesPatch,
}

impl OrganizationPatch {
    pub fn apply_to(self, data: &mut OrganizationData) {
        if let Some(name) = self.name {
            data.name = name;
        }
        self.email.apply_to(&mut data.email);
        self.website.apply_to(&mut data.website);
        self.size.apply_to(&mut data.size);
        self.industry.apply_to(&mut data.industry);
        self.phone.apply_to(&mut data.phone);
        self.address.apply_to(&mut data.address);
        self.custom_attributes.apply_to(&mut data.custom_attributes);
    }
}

/// A person contacts can be assigned to (SalesChat `user_id`); the id is the tenant's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub created: Timestamp,
}

/// Users that assignments rotate through, in order (SalesChat `group_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// User ids in the order round-robin visits them.
    pub members: Vec<String>,
    pub created: Timestamp,
}

/// A SalesChat governance level: how long a contact may be kept after opting in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceLevel {
    pub id: String,
    pub name: String,
    pub retention_days: i64,
    pub created: Timestamp,
}

impl GovernanceLevel {
    /// Longest retention accepted: a century.
    pub const MAX_RETENTION_DAYS: i64 = 36_500;

    /// When a contact that opted in at `opt_in` expires under this level.
    pub fn expiry(&self, opt_in: Timestamp) -> Timestamp {
        Timestamp::from_micros(
            opt_in
                .micros()
                .saturating_add(self.retention_days * 86_400_000_000),
        )
    }
}

/// A new stage (and optionally disposition and fields) for a contact (SalesChat).
#[derive(Debug, Clone, PartialEq)]
pub struct DispositionUpdate {
    pub stage: String,
    pub disposition: Option<String>,
    /// Replaces the stored fields when given.
    pub fields: Option<Attributes>,
}

/// One entry of a contact's stage history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageChange {
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub disposition: Option<String>,
    /// The API key that made the change.
    pub changed_by: Option<KeyId>,
    pub at: Timestamp,
}

/// Whom an assign request names. A user wins over a group when a client sends both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignTarget {
    User(String),
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignRequest {
    pub target: AssignTarget,
    pub on_handover: bool,
    pub remote_waba_id: Option<String>,
    pub remote_phone_id: Option<String>,
}

/// The kind of channel an inbox receives messages on, by Chatwoot's class names (which
/// is how clients name them). It decides how a contact's `source_id` in the inbox is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxChannel {
    Api,
    WebWidget,
    Email,
    Sms,
    Whatsapp,
    TwilioSms,
    FacebookPage,
    Telegram,
    Line,
    Instagram,
}

impl InboxChannel {
    pub const ALL: [InboxChannel; 10] = [
        InboxChannel::Api,
        InboxChannel::WebWidget,
        InboxChannel::Email,
        InboxChannel::Sms,
        InboxChannel::Whatsapp,
        InboxChannel::TwilioSms,
        InboxChannel::FacebookPage,
        InboxChannel::Telegram,
        InboxChannel::Line,
        InboxChannel::Instagram,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            InboxChannel::Api => "Channel::Api",
            InboxChannel::WebWidget => "Channel::WebWidget",
            InboxChannel::Email => "Channel::Email",
            InboxChannel::Sms => "Channel::Sms",
            InboxChannel::Whatsapp => "Channel::Whatsapp",
            InboxChannel::TwilioSms => "Channel::TwilioSms",
            InboxChannel::FacebookPage => "Channel::FacebookPage",
            InboxChannel::Telegram => "Channel::Telegram",
            InboxChannel::Line => "Channel::Line",
            InboxChannel::Instagram => "Channel::Instagram",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|channel| channel.as_str() == input)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
                format!("must be one of {}", known.join(", "))
            })
    }
}

/// A Chatwoot inbox: where conversations with contacts arrive. Contacts are linked to
/// inboxes with a `source_id` (their id in that inbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    pub id: i64,
    pub name: String,
    pub channel: InboxChannel,
    /// The provider behind the channel (`whatsapp_cloud`, `default`…), if any.
    pub provider: Option<String>,
    pub created: Timestamp,
}

/// A contact's link to an inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactInbox {
    pub contact_id: ContactId,
    pub inbox: Inbox,
    pub source_id: String,
    pub created: Timestamp,
}

/// Extra rules a dialect asks a contact write to keep, checked inside the write's own
/// transaction so concurrent writes cannot both pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteRules {
    /// At most one contact of the workspace per phone number (Chatwoot).
    pub unique_phone: bool,
}

/// What a merge left behind: which contact was merged into which, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRecord {
    pub id: i64,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    pub merged: Timestamp,
}

/// Which kind of record a change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Contact,
    Organization,
}

impl RecordKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Organization => "organization",
        }
    }
}

/// One entry of the store's change log: record `id` of `kind` in `workspace` was
/// created, changed or deleted. Followers re-read the record to learn which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub workspace: WorkspaceId,
    pub kind: RecordKind,
    pub id: i64,
    pub at: Timestamp,
}

/// One page of a newest-first list: records created strictly before `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub before: Option<Timestamp>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_name_falls_back_to_first_and_last_name() {
        let mut data = ContactData {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            ..ContactData::default()
        };
        assert_eq!(data.display_name(), "Ada Lovelace");
        data.name = Some("Countess".into());
        assert_eq!(data.display_name(), "Countess");
    }

    #[test]
    fn a_contact_is_identifiable_by_any_name_or_unique_value() {
        let blank = ContactData {
            language: Some(Language::parse("EN").unwrap()),
            custom_attributes: json!({"plan": "pro"}).as_object().unwrap().clone(),
            ..ContactData::default()
        };
        assert!(!blank.is_identifiable());
        let named = ContactData {
            last_name: Some("Lovelace".into()),
            ..blank.clone()
        };
        assert!(named.is_identifiable());
        let mut reachable = blank.clone();
        reachable.channels.telegram = Some("4711".into());
        assert!(reachable.is_identifiable());

        let mut patch = ContactPatch {
            language: Patch::Set(Language::parse("DE").unwrap()),
            ..ContactPatch::default()
        };
        assert!(!patch.sets_identity());
        patch
            .channels
            .push((Channel::Web, Patch::Set("visitor-1".into())));
        assert!(patch.sets_identity());
    }

    #[test]
    fn patch_keeps_unmentioned_fields_and_clears_explicit_ones() {
        let mut data = ContactData {
            name: Some("Max".into()),
            email: Some(Email::parse("max@example.com").unwrap()),
            custom_attributes: json!({"a": "1", "b": "2"}).as_object().unwrap().clone(),
            ..ContactData::default()
        };
        ContactPatch {
            email: Patch::Clear,
            custom_attributes: AttributesPatch::Merge(
                json!({"b": "3"}).as_object().unwrap().clone(),
            ),
            organization_ids: Some(vec![
                OrganizationId::from_stored(3),
                OrganizationId::from_stored(1),
                OrganizationId::from_stored(3),
            ]),
            ..ContactPatch::default()
        }
        .apply_to(&mut data);
        assert_eq!(data.name.as_deref(), Some("Max"));
        assert_eq!(data.email, None);
        assert_eq!(
            serde_json::Value::Object(data.custom_attributes.clone()),
            json!({"a": "1", "b": "3"})
        );
        assert_eq!(
            data.organization_ids,
            vec![
                OrganizationId::from_stored(1),
                OrganizationId::from_stored(3)
            ]
        );

        ContactPatch {
            custom_attributes: AttributesPatch::Replace(Attributes::new()),
            ..ContactPatch::default()
        }
        .apply_to(&mut data);
        assert!(data.custom_attributes.is_empty());
    }
}
