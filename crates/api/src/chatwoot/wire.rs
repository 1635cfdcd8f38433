//! Chatwoot's wire format: contact bodies in, contact JSON out (keys in the order
//! Chatwoot's jbuilder renders them), list parameters.

use std::collections::HashMap;

use roster_core::domain::{
    bounded_text, Email, ExternalId, PhoneE164, WebUrl, WorkspaceId, MAX_TEXT_LEN,
};
use roster_core::model::{
    check_attributes_size, Attributes, AttributesPatch, Contact, ContactData, ContactInbox,
    ContactPatch, Inbox, Patch,
};
use roster_core::query::{SortField, SortKey};
use roster_core::Error;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::body::nullable;

/// Contacts per page on every list, as in Chatwoot (which has no `per_page`).
pub const PAGE_SIZE: u32 = 15;

/// What a `page` parameter says.
enum PageNumber {
    Page(u64),
    /// Digits too many for any page.
    PastTheEnd,
    /// Absent, 0, negative or not a number: page 1, as Chatwoot reads it.
    Junk,
}

/// The writable fields of a contact (create and update). Unknown keys are ignored, as
/// Rails' strong parameters drop them.
#[derive(Debug, Default, Deserialize)]
pub struct ContactBody {
    #[serde(default, deserialize_with = "nullable")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    identifier: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    blocked: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    additional_attributes: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    custom_attributes: Option<Option<Value>>,
    /// Create only: the inbox to link the new contact to.
    #[serde(flatten)]
    pub link: InboxLink,
}

/// `{"inbox_id", "source_id"?}`: a contact's link to an inbox, on its own
/// (`POST /contacts/{id}/contact_inboxes`) or in a create.
#[derive(Debug, Default, Deserialize)]
pub struct InboxLink {
    #[serde(default)]
    pub inbox_id: Option<Value>,
    /// The contact's id in that inbox; derived from the channel when absent.
    #[serde(default, deserialize_with = "nullable")]
    pub source_id: Option<Option<String>>,
}

impl ContactBody {
    /// The patch an update applies: sent fields overwrite, attribute objects merge key
    /// by key.
    pub fn into_patch(self) -> Result<ContactPatch, Error> {
        Ok(ContactPatch {
            name: text_patch(self.name, name)?,
            email: text_patch(self.email, email)?,
            phone: text_patch(self.phone_number, phone)?,
            external_id: text_patch(self.identifier, identifier)?,
            avatar_url: text_patch(self.avatar_url, avatar_url)?,
            blocked: self.blocked.map(|blocked| blocked.unwrap_or(false)),
            additional_attributes: attributes_patch(
                "additional_attributes",
                self.additional_attributes,
            )?,
            custom_attributes: attributes_patch("custom_attributes", self.custom_attributes)?,
            ..ContactPatch::default()
        })
    }

    /// The data a create writes: the patch applied to an empty contact.
    pub fn into_data(self) -> Result<ContactData, Error> {
        let mut data = ContactData::default();
        self.into_patch()?.apply_to(&mut data);
        Ok(data)
    }
}

/// `""` and `null` clear a field (Chatwoot turns a blank email into NULL; Roster treats
/// every blank text field so, which also avoids Chatwoot's 500 on a second `""`
/// identifier); anything else must parse.
fn text_patch<T>(
    sent: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, Error>,
) -> Result<Patch<T>, Error> {
    match sent {
        None => Ok(Patch::Keep),
        Some(None) => Ok(Patch::Clear),
        Some(Some(text)) if text.trim().is_empty() => Ok(Patch::Clear),
        Some(Some(text)) => parse(&text).map(Patch::Set),
    }
}

fn too_long(field: &str, max: usize) -> Error {
    Error::invalid(field, format!("is too long (maximum is {max} characters)"))
}

fn name(input: &str) -> Result<String, Error> {
    if input.chars().count() > MAX_TEXT_LEN {
        return Err(too_long("name", MAX_TEXT_LEN));
    }
    bounded_text(input, MAX_TEXT_LEN).map_err(|reason| Error::invalid("name", reason))
}

fn email(input: &str) -> Result<Email, Error> {
    if input.chars().count() > MAX_TEXT_LEN {
        return Err(too_long("email", MAX_TEXT_LEN));
    }
    Email::parse(input).map_err(|_| Error::invalid("email", "Invalid email"))
}

/// E.164, as Chatwoot demands; other formats with a country code are normalised.
pub fn phone(input: &str) -> Result<PhoneE164, Error> {
    PhoneE164::parse(input).map_err(|reason| {
        let reason = if input.trim().starts_with('+') {
            reason
        } else {
            "should be in e164 format"
        };
        Error::invalid("phone_number", reason)
    })
}

fn identifier(input: &str) -> Result<ExternalId, Error> {
    if input.chars().count() > ExternalId::MAX_LEN {
        return Err(too_long("identifier", ExternalId::MAX_LEN));
    }
    ExternalId::parse(input).map_err(|reason| Error::invalid("identifier", reason))
}

fn avatar_url(input: &str) -> Result<WebUrl, Error> {
    WebUrl::parse(input).map_err(|reason| Error::invalid("avatar_url", reason))
}

/// An attributes object merges into the stored one; `null` or `""` empties it, as
/// Chatwoot stores `{}` for them.
fn attributes_patch(field: &str, sent: Option<Option<Value>>) -> Result<AttributesPatch, Error> {
    match sent {
        None => Ok(AttributesPatch::Keep),
        Some(None) => Ok(AttributesPatch::Replace(Attributes::new())),
        Some(Some(Value::String(text))) if text.is_empty() => {
            Ok(AttributesPatch::Replace(Attributes::new()))
        }
        Some(Some(Value::Object(object))) => {
            check_attributes_size(&object).map_err(|reason| Error::invalid(field, reason))?;
            Ok(AttributesPatch::Merge(object))
        }
        Some(Some(_)) => Err(Error::invalid(field, "must be an object")),
    }
}

/// A contact as Chatwoot renders it; `inboxes` adds `contact_inboxes` (when the request
/// wants them).
pub fn contact(contact: &Contact, inboxes: Option<&[ContactInbox]>) -> Value {
    let data = &contact.data;
    let mut out = Map::new();
    out.insert(
        "additional_attributes".into(),
        Value::Object(data.additional_attributes.clone()),
    );
    // Roster keeps no presence; nobody is online.
    out.insert("availability_status".into(), json!("offline"));
    out.insert(
        "email".into(),
        json!(data.email.as_ref().map(Email::as_str)),
    );
    out.insert("id".into(), json!(contact.id.get()));
    out.insert("name".into(), json!(data.display_name()));
    out.insert(
        "phone_number".into(),
        json!(data.phone.as_ref().map(PhoneE164::as_str)),
    );
    out.insert("blocked".into(), json!(data.blocked));
    out.insert(
        "identifier".into(),
        json!(data.external_id.as_ref().map(ExternalId::as_str)),
    );
    out.insert(
        "thumbnail".into(),
        json!(data.avatar_url.as_ref().map_or("", WebUrl::as_str)),
    );
    out.insert(
        "custom_attributes".into(),
        Value::Object(data.custom_attributes.clone()),
    );
    if let Some(at) = data.last_activity_at {
        out.insert("last_activity_at".into(), json!(at.unix_seconds()));
    }
    out.insert("created_at".into(), json!(contact.created.unix_seconds()));
    if let Some(inboxes) = inboxes {
        let links: Vec<Value> = inboxes
            .iter()
            .filter(|link| link.contact_id == contact.id)
            .map(|link| contact_inbox(&link.inbox, &link.source_id))
            .collect();
        out.insert("contact_inboxes".into(), Value::Array(links));
    }
    Value::Object(out)
}

/// `{"source_id", "inbox": <slim inbox>}`.
pub fn contact_inbox(inbox: &Inbox, source_id: &str) -> Value {
    json!({ "source_id": source_id, "inbox": inbox_slim(inbox) })
}

/// The inbox as contact payloads embed it.
pub fn inbox_slim(inbox: &Inbox) -> Value {
    json!({
        "id": inbox.id,
        "avatar_url": "",
        "channel_id": inbox.id,
        "name": inbox.name,
        "channel_type": inbox.channel.as_str(),
        "provider": inbox.provider,
    })
}

/// The inbox as Chatwoot's create response serialises its whole record.
pub fn inbox_record(inbox: &Inbox, account: WorkspaceId) -> Value {
    let created = inbox.created.to_rfc3339();
    json!({
        "id": inbox.id,
        "channel_id": inbox.id,
        "account_id": account.get(),
        "name": inbox.name,
        "created_at": created,
        "updated_at": created,
        "enable_auto_assignment": true,
        "greeting_enabled": false,
        "greeting_message": null,
        "email_address": null,
        "working_hours_enabled": false,
        "out_of_office_message": null,
        "timezone": "UTC",
        "enable_email_collect": true,
        "csat_survey_enabled": false,
        "allow_messages_after_resolved": true,
        "lock_to_single_conversation": false,
        "channel_type": inbox.channel.as_str(),
        "provider": inbox.provider,
        "avatar_url": "",
    })
}

/// Query parameters with repeats kept (`labels[]=a&labels[]=b`).
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The page asked for: a page number, or 1 when absent, 0, negative or not a number.
    /// A number too large to hold is past every page (`u64::MAX`), so it lists nothing.
    pub fn page(&self) -> u64 {
        match self.page_number() {
            PageNumber::Page(page) => page,
            PageNumber::PastTheEnd => u64::MAX,
            PageNumber::Junk => 1,
        }
    }

    /// `meta.current_page`: Chatwoot echoes a page number as sent (a string); 1 when the
    /// parameter is absent or is not a page number.
    pub fn current_page(&self) -> Value {
        match (self.page_number(), self.get("page")) {
            (PageNumber::Page(_) | PageNumber::PastTheEnd, Some(raw)) => json!(raw),
            _ => json!(1),
        }
    }

    fn page_number(&self) -> PageNumber {
        let Some(raw) = self.get("page").map(str::trim) else {
            return PageNumber::Junk;
        };
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return PageNumber::Junk;
        }
        match raw.parse::<u64>() {
            Ok(0) => PageNumber::Junk,
            Ok(page) => PageNumber::Page(page),
            Err(_) => PageNumber::PastTheEnd,
        }
    }

    /// `include_contact_inboxes`: true unless present with another value than `"true"`.
    pub fn include_contact_inboxes(&self) -> bool {
        self.get("include_contact_inboxes")
            .is_none_or(|value| value == "true")
    }

    /// `sort`: comma-separated keys, `-` for descending; unknown keys are ignored, as
    /// Chatwoot ignores them.
    pub fn sort(&self) -> Vec<SortKey> {
        let Some(raw) = self.get("sort") else {
            return Vec::new();
        };
        raw.split(',')
            .filter_map(|key| {
                let key = key.trim();
                let (descending, name) = match key.strip_prefix('-') {
                    Some(name) => (true, name),
                    None => (false, key),
                };
                let field = match name {
                    "name" => SortField::Name,
                    "email" => SortField::Email,
                    "phone_number" => SortField::Phone,
                    "last_activity_at" => SortField::LastActivity,
                    "created_at" => SortField::Created,
                    "company_name" => SortField::CompanyName,
                    "city" => SortField::City,
                    "country" => SortField::Country,
                    _ => return None,
                };
                Some(SortKey { field, descending })
            })
            .collect()
    }
}

impl From<HashMap<String, String>> for Params {
    fn from(map: HashMap<String, String>) -> Self {
        Params(map.into_iter().collect())
    }
}

/// An id sent as a number or a numeric string; `None` when missing or blank.
pub fn id_value(value: Option<&Value>) -> Option<Result<i64, ()>> {
    match value? {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(text.trim().parse().map_err(|_| ())),
        Value::Number(number) => Some(number.as_i64().ok_or(())),
        _ => Some(Err(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::domain::{ContactId, Timestamp};

    #[test]
    fn contacts_render_in_chatwoots_key_order_with_nulls_where_chatwoot_has_them() {
        let contact = Contact {
            id: ContactId::from_stored(42),
            created: Timestamp::from_micros(1_717_000_000_000_000),
            updated: Timestamp::from_micros(1_717_000_000_000_000),
            data: ContactData {
                name: Some("Ann".into()),
                ..ContactData::default()
            },
        };
        let rendered = serde_json::to_string(&super::contact(&contact, None)).unwrap();
        assert_eq!(
            rendered,
            r#"{"additional_attributes":{},"availability_status":"offline","email":null,"id":42,"name":"Ann","phone_number":null,"blocked":false,"identifier":null,"thumbnail":"","custom_attributes":{},"created_at":1717000000}"#
        );
    }

    #[test]
    fn blank_fields_clear_and_bad_ones_name_the_attribute() {
        let body: ContactBody =
            serde_json::from_value(json!({"email": "", "phone_number": null, "name": "Bo"}))
                .unwrap();
        let patch = body.into_patch().unwrap();
        assert_eq!(patch.email, Patch::Clear);
        assert_eq!(patch.phone, Patch::Clear);
        assert_eq!(patch.name, Patch::Set("Bo".into()));

        let body: ContactBody =
            serde_json::from_value(json!({"phone_number": "0176 1234567"})).unwrap();
        assert_eq!(
            body.into_patch().unwrap_err(),
            Error::invalid("phone_number", "should be in e164 format")
        );
        let body: ContactBody = serde_json::from_value(json!({"email": "nope"})).unwrap();
        assert_eq!(
            body.into_patch().unwrap_err(),
            Error::invalid("email", "Invalid email")
        );
    }
}
