//! ChatCaptain's wire shapes (`../shared/api/chatcaptain.openapi.json`) and their
//! translation to and from the core model.
//!
//! Beyond the contract, create also takes `address`, `variables` and `organizationIds`,
//! update also takes the channel ids, and output also carries `language`, `webId` and
//! `providerId`: what a client stores must be readable and settable, never dropped.
//! Unknown fields are refused with a 400 naming them, so a typo is not silently ignored.

use std::collections::HashMap;

use roster_core::domain::{
    bounded_text, Email, Language, OrganizationId, PhoneE164, Timestamp, WebUrl, MAX_TEXT_LEN,
};
use roster_core::model::{
    check_attributes_size, normalize_ids, Address, AddressPatch, Attributes, AttributesPatch,
    Channel, ChannelIds, Contact, ContactData, ContactPatch, Organization, OrganizationData,
    OrganizationPatch, Page, Patch, MAX_ORGANIZATIONS_PER_CONTACT,
};
use roster_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::channel_field;
use crate::body::{nullable, Object};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 250;

/// Largest organization size accepted: more people than live on Earth is a typo.
const MAX_ORGANIZATION_SIZE: i64 = 10_000_000_000;

type Nullable<T> = Option<Option<T>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddressIn {
    #[serde(default, deserialize_with = "nullable")]
    street: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    house_number: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    zipcode: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    location: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    country: Nullable<String>,
}

impl AddressIn {
    fn into_patch(self, prefix: &str) -> Result<AddressPatch, Error> {
        let line = |name: &str, value| text_patch(&format!("{prefix}.{name}"), value);
        Ok(AddressPatch {
            street: line("street", self.street)?,
            house_number: line("houseNumber", self.house_number)?,
            zipcode: line("zipcode", self.zipcode)?,
            location: line("location", self.location)?,
            country: line("country", self.country)?,
        })
    }

    fn into_address(self, prefix: &str) -> Result<Address, Error> {
        let mut address = Address::default();
        self.into_patch(prefix)?.apply_to(&mut address);
        Ok(address)
    }

    /// A `null` address clears every line.
    fn clear_all() -> AddressPatch {
        AddressPatch {
            street: Patch::Clear,
            house_number: Patch::Clear,
            zipcode: Patch::Clear,
            location: Patch::Clear,
            country: Patch::Clear,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateContact {
    name: Option<String>,
    language: Option<String>,
    email: Option<String>,
    phone_number: Option<String>,
    whatsapp_id: Option<String>,
    web_id: Option<String>,
    instagram_id: Option<String>,
    facebook_id: Option<String>,
    telegram_id: Option<String>,
    provider_id: Option<String>,
    avatar: Option<String>,
    address: Option<Object<AddressIn>>,
    variables: Option<Map<String, Value>>,
    organization_ids: Option<Vec<String>>,
}

impl CreateContact {
    pub fn into_data(self) -> Result<ContactData, Error> {
        let language = match self.language {
            Some(language) => {
                Language::parse(&language).map_err(|r| Error::invalid("language", r))?
            }
            None => return Err(Error::invalid("language", "is required")),
        };
        let channel_values = [
            (Channel::Whatsapp, self.whatsapp_id),
            (Channel::Telegram, self.telegram_id),
            (Channel::Facebook, self.facebook_id),
            (Channel::Instagram, self.instagram_id),
            (Channel::Web, self.web_id),
            (Channel::Provider, self.provider_id),
        ];
        let mut channels = ChannelIds::default();
        for (channel, value) in channel_values {
            *channels.slot_mut(channel) = optional_text(channel_field(channel), value)?;
        }
        Ok(ContactData {
            name: optional_text("name", self.name)?,
            email: optional_parsed("email", self.email, Email::parse)?,
            phone: optional_parsed("phoneNumber", self.phone_number, PhoneE164::parse)?,
            channels,
            language: Some(language),
            avatar_url: optional_parsed("avatar", self.avatar, WebUrl::parse)?,
            address: self
                .address
                .map_or(Ok(Address::default()), |a| a.0.into_address("address"))?,
            custom_attributes: self
                .variables
                .map_or(Ok(Attributes::new()), |v| variables("variables", v))?,
            organization_ids: self.organization_ids.map_or(Ok(Vec::new()), |ids| {
                organization_ids("organizationIds", ids)
            })?,
            ..ContactData::default()
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactBody {
    contact: Object<UpdateContact>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateContact {
    #[serde(default, deserialize_with = "nullable")]
    name: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    address: Nullable<Object<AddressIn>>,
    #[serde(default, deserialize_with = "nullable")]
    phone_number: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    variables: Nullable<Map<String, Value>>,
    #[serde(default, deserialize_with = "nullable")]
    organization_ids: Nullable<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    avatar: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    language: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    whatsapp_id: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    web_id: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    instagram_id: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    facebook_id: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    telegram_id: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    provider_id: Nullable<String>,
}

impl UpdateContactBody {
    pub fn into_patch(self) -> Result<ContactPatch, Error> {
        let c = self.contact.0;
        let language = match c.language {
            Some(None) => {
                return Err(Error::invalid(
                    "contact.language",
                    "must not be null: a contact always has a language",
                ))
            }
            other => parsed_patch("contact.language", other, Language::parse)?,
        };
        let address = address_patch("contact.address", c.address)?;
        let channel_values = [
            (Channel::Whatsapp, c.whatsapp_id),
            (Channel::Telegram, c.telegram_id),
            (Channel::Facebook, c.facebook_id),
            (Channel::Instagram, c.instagram_id),
            (Channel::Web, c.web_id),
            (Channel::Provider, c.provider_id),
        ];
        let mut channels = Vec::new();
        for (channel, value) in channel_values {
            let patch = text_patch(&format!("contact.{}", channel_field(channel)), value)?;
            if !patch.is_keep() {
                channels.push((channel, patch));
            }
        }
        Ok(ContactPatch {
            name: text_patch("contact.name", c.name)?,
            email: parsed_patch("contact.email", c.email, Email::parse)?,
            phone: parsed_patch("contact.phoneNumber", c.phone_number, PhoneE164::parse)?,
            channels,
            language,
            avatar_url: parsed_patch("contact.avatar", c.avatar, WebUrl::parse)?,
            address,
            custom_attributes: variables_patch("contact.variables", c.variables)?,
            organization_ids: match c.organization_ids {
                None => None,
                Some(None) => Some(Vec::new()),
                Some(Some(ids)) => Some(organization_ids("contact.organizationIds", ids)?),
            },
            ..ContactPatch::default()
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateOrganization {
    name: Option<String>,
    email: Option<String>,
    website: Option<String>,
    size: Option<Value>,
    industry: Option<String>,
    address: Option<Object<AddressIn>>,
    phone_number: Option<String>,
    variables: Option<Map<String, Value>>,
}

impl CreateOrganization {
    pub fn into_data(self) -> Result<OrganizationData, Error> {
        Ok(OrganizationData {
            name: organization_name("name", self.name)?,
            email: optional_parsed("email", self.email, Email::parse)?,
            website: optional_parsed("website", self.website, WebUrl::parse)?,
            size: self
                .size
                .map(|size| organization_size("size", &size))
                .transpose()?,
            industry: optional_text("industry", self.industry)?,
            phone: optional_parsed("phoneNumber", self.phone_number, PhoneE164::parse)?,
            address: self
                .address
                .map_or(Ok(Address::default()), |a| a.0.into_address("address"))?,
            custom_attributes: self
                .variables
                .map_or(Ok(Attributes::new()), |v| variables("variables", v))?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationBody {
    organization: Object<UpdateOrganization>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateOrganization {
    #[serde(default, deserialize_with = "nullable")]
    name: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    website: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    size: Nullable<Value>,
    #[serde(default, deserialize_with = "nullable")]
    industry: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    address: Nullable<Object<AddressIn>>,
    #[serde(default, deserialize_with = "nullable")]
    phone_number: Nullable<String>,
    #[serde(default, deserialize_with = "nullable")]
    variables: Nullable<Map<String, Value>>,
}

impl UpdateOrganizationBody {
    pub fn into_patch(self) -> Result<OrganizationPatch, Error> {
        let o = self.organization.0;
        Ok(OrganizationPatch {
            name: match o.name {
                None => None,
                Some(name) => Some(organization_name("organization.name", name)?),
            },
            email: parsed_patch("organization.email", o.email, Email::parse)?,
            website: parsed_patch("organization.website", o.website, WebUrl::parse)?,
            size: match o.size {
                None => Patch::Keep,
                Some(None) => Patch::Clear,
                Some(Some(size)) => Patch::Set(organization_size("organization.size", &size)?),
            },
            industry: text_patch("organization.industry", o.industry)?,
            phone: parsed_patch("organization.phoneNumber", o.phone_number, PhoneE164::parse)?,
            address: address_patch("organization.address", o.address)?,
            custom_attributes: variables_patch("organization.variables", o.variables)?,
        })
    }
}

/// `limit` and `pageToken` of the list endpoints.
pub fn page(params: &HashMap<String, String>) -> Result<Page, Error> {
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(Error::invalid(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                ))
            }
        },
    };
    let before = match params
        .get("pageToken")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(token) => {
            Some(Timestamp::parse_rfc3339(token).map_err(|r| Error::invalid("pageToken", r))?)
        }
    };
    Ok(Page { before, limit })
}

fn optional_text(field: &str, value: Option<String>) -> Result<Option<String>, Error> {
    text_patch(field, value.map(Some)).map(|patch| match patch {
        Patch::Set(text) => Some(text),
        Patch::Keep | Patch::Clear => None,
    })
}

/// Absent keeps, `null` or blank clears, anything else must fit the text limits.
fn text_patch(field: &str, value: Nullable<String>) -> Result<Patch<String>, Error> {
    match value {
        None => Ok(Patch::Keep),
        Some(None) => Ok(Patch::Clear),
        Some(Some(text)) => {
            let text = bounded_text(&text, MAX_TEXT_LEN).map_err(|r| Error::invalid(field, r))?;
            Ok(if text.is_empty() {
                Patch::Clear
            } else {
                Patch::Set(text)
            })
        }
    }
}

fn optional_parsed<T, R: ToString>(
    field: &str,
    value: Option<String>,
    parse: impl Fn(&str) -> Result<T, R>,
) -> Result<Option<T>, Error> {
    parsed_patch(field, value.map(Some), parse).map(|patch| match patch {
        Patch::Set(value) => Some(value),
        Patch::Keep | Patch::Clear => None,
    })
}

/// Like `text_patch`, for values with a parser of their own.
fn parsed_patch<T, R: ToString>(
    field: &str,
    value: Nullable<String>,
    parse: impl Fn(&str) -> Result<T, R>,
) -> Result<Patch<T>, Error> {
    match value {
        None => Ok(Patch::Keep),
        Some(None) => Ok(Patch::Clear),
        Some(Some(text)) if text.trim().is_empty() => Ok(Patch::Clear),
        Some(Some(text)) => parse(&text)
            .map(Patch::Set)
            .map_err(|reason| Error::invalid(field, reason.to_string())),
    }
}

fn organization_name(field: &str, name: Option<String>) -> Result<String, Error> {
    let name = name.ok_or_else(|| Error::invalid(field, "is required"))?;
    let name = bounded_text(&name, MAX_TEXT_LEN).map_err(|r| Error::invalid(field, r))?;
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(name)
}

fn organization_size(field: &str, size: &Value) -> Result<i64, Error> {
    size.as_i64()
        .or_else(|| {
            size.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })
        .filter(|n| (0..=MAX_ORGANIZATION_SIZE).contains(n))
        .ok_or_else(|| Error::invalid(field, "must be a whole number of employees, 0 or more"))
}

/// Absent keeps the address, `null` clears it, an object patches it line by line.
fn address_patch(field: &str, value: Nullable<Object<AddressIn>>) -> Result<AddressPatch, Error> {
    match value {
        None => Ok(AddressPatch::default()),
        Some(None) => Ok(AddressIn::clear_all()),
        Some(Some(address)) => address.0.into_patch(field),
    }
}

/// Absent keeps the variables, `null` empties them, an object replaces them.
fn variables_patch(
    field: &str,
    value: Nullable<Map<String, Value>>,
) -> Result<AttributesPatch, Error> {
    match value {
        None => Ok(AttributesPatch::Keep),
        Some(None) => Ok(AttributesPatch::Replace(Attributes::new())),
        Some(Some(given)) => Ok(AttributesPatch::Replace(variables(field, given)?)),
    }
}

/// ChatCaptain variables are string values under short keys, in a bounded object.
fn variables(field: &str, variables: Map<String, Value>) -> Result<Attributes, Error> {
    for (key, value) in &variables {
        if key.is_empty() || key.chars().count() > MAX_TEXT_LEN {
            return Err(Error::invalid(
                field,
                format!("keys must be 1 to {MAX_TEXT_LEN} characters"),
            ));
        }
        if !value.is_string() {
            return Err(Error::invalid(format!("{field}.{key}"), "must be a string"));
        }
    }
    check_attributes_size(&variables).map_err(|reason| Error::invalid(field, reason))?;
    Ok(variables)
}

fn organization_ids(field: &str, ids: Vec<String>) -> Result<Vec<OrganizationId>, Error> {
    if ids.len() > MAX_ORGANIZATIONS_PER_CONTACT {
        return Err(Error::invalid(
            field,
            format!("may name at most {MAX_ORGANIZATIONS_PER_CONTACT} organizations"),
        ));
    }
    let parsed = ids
        .iter()
        .map(|id| {
            id.parse::<OrganizationId>()
                .map_err(|_| Error::invalid(field, format!("organization {id:?} does not exist")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(normalize_ids(parsed))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zipcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    house_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
}

fn address_out(address: Address) -> Option<AddressOut> {
    (!address.is_empty()).then_some(AddressOut {
        street: address.street,
        country: address.country,
        zipcode: address.zipcode,
        house_number: address.house_number,
        location: address.location,
    })
}

/// Variables render as strings; a value set through another dialect as a number or an
/// object is shown as its JSON text rather than dropped.
fn variables_out(attributes: Attributes) -> Map<String, Value> {
    attributes
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => (key, Value::String(text)),
            other => (key, Value::String(other.to_string())),
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactOut {
    id: String,
    name: String,
    created: String,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<AddressOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
    variables: Map<String, Value>,
    organization_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    whatsapp_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    telegram_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facebook_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instagram_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
}

impl From<Contact> for ContactOut {
    fn from(contact: Contact) -> Self {
        let name = contact.data.display_name();
        let data = contact.data;
        let channels = data.channels;
        ContactOut {
            id: contact.id.to_string(),
            name,
            created: contact.created.to_rfc3339(),
            updated: contact.updated.to_rfc3339(),
            email: data.email.map(|e| e.as_str().to_owned()),
            address: address_out(data.address),
            phone_number: data.phone.map(|p| p.as_str().to_owned()),
            variables: variables_out(data.custom_attributes),
            organization_ids: data
                .organization_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            whatsapp_id: channels.whatsapp,
            telegram_id: channels.telegram,
            facebook_id: channels.facebook,
            instagram_id: channels.instagram,
            avatar: data.avatar_url.map(|u| u.as_str().to_owned()),
            web_id: channels.web,
            provider_id: channels.provider,
            language: data.language.map(|l| l.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationOut {
    id: String,
    name: String,
    created: String,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    website: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    industry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<AddressOut>,
    variables: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
}

impl From<Organization> for OrganizationOut {
    fn from(organization: Organization) -> Self {
        let data = organization.data;
        OrganizationOut {
            id: organization.id.to_string(),
            name: data.name,
            created: organization.created.to_rfc3339(),
            updated: organization.updated.to_rfc3339(),
            email: data.email.map(|e| e.as_str().to_owned()),
            website: data.website.map(|u| u.as_str().to_owned()),
            size: data.size,
            industry: data.industry,
            address: address_out(data.address),
            variables: variables_out(data.custom_attributes),
            phone_number: data.phone.map(|p| p.as_str().to_owned()),
        }
    }
}
