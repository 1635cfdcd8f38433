//! SalesChat's wire shapes (`../shared/api/saleschat.openapi.json`) and their translation.
//!
//! Like SalesChat's own (Spring) server, unknown request fields are ignored. Responses
//! render absent values as `null`, and timestamps as RFC 3339 UTC.

use roster_core::domain::{bounded_text, ExternalId, PhoneE164, Timestamp, MAX_TEXT_LEN};
use roster_core::model::{
    check_attributes_size, AssignRequest, AssignTarget, Attributes, Contact, ContactData,
    ContactPatch, DispositionUpdate, GovernanceLevel, Patch,
};
use roster_core::service::MAX_RECORD_ID_LEN;
use roster_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::body::nullable;

/// `first_name` and `last_name`: at most 128 characters, no `*`.
const MAX_NAME_LEN: usize = 128;

/// The latest opt-in date accepted: the end of year 9999.
const MAX_EPOCH_SECONDS: f64 = 253_402_300_799.0;

pub const SOURCES: [&str; 2] = ["BTRIX", "CAMPAIGN"];

#[derive(Debug, Deserialize)]
pub struct CreateContact {
    crm_id: Option<String>,
    phone_number: Option<Value>,
    opt_in_date: Option<Value>,
    first_name: Option<String>,
    last_name: Option<String>,
    governance_level_id: Option<String>,
    is_inbound: Option<bool>,
    source: Option<String>,
}

impl CreateContact {
    pub fn into_data(self) -> Result<ContactData, Error> {
        let crm_id = self
            .crm_id
            .ok_or_else(|| Error::invalid("crm_id", "is required"))?;
        let phone = self
            .phone_number
            .ok_or_else(|| Error::invalid("phone_number", "is required"))?;
        let opt_in = self
            .opt_in_date
            .ok_or_else(|| Error::invalid("opt_in_date", "is required"))?;
        let governance_level_id = match self.governance_level_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) if id.chars().count() > MAX_RECORD_ID_LEN => {
                return Err(Error::invalid(
                    "governance_level_id",
                    format!("must be at most {MAX_RECORD_ID_LEN} characters"),
                ))
            }
            Some(id) => Some(id.to_owned()),
        };
        let source = match self.source {
            None => None,
            Some(source) if SOURCES.contains(&source.as_str()) => Some(source),
            Some(_) => return Err(Error::invalid("source", "must be one of BTRIX, CAMPAIGN")),
        };
        Ok(ContactData {
            external_id: Some(crm_id_value(&crm_id)?),
            phone: Some(phone_number(&phone)?),
            opt_in_at: Some(opt_in_date(&opt_in)?),
            first_name: set_value(name("first_name", self.first_name.map(Some))?),
            last_name: set_value(name("last_name", self.last_name.map(Some))?),
            governance_level_id,
            is_inbound: self.is_inbound,
            source,
            ..ContactData::default()
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct UpdateContact {
    crm_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    last_name: Option<Option<String>>,
}

impl UpdateContact {
    pub fn into_patch(self) -> Result<ContactPatch, Error> {
        let crm_id = self
            .crm_id
            .ok_or_else(|| Error::invalid("crm_id", "is required"))?;
        Ok(ContactPatch {
            external_id: Patch::Set(crm_id_value(&crm_id)?),
            first_name: name("first_name", self.first_name)?,
            last_name: name("last_name", self.last_name)?,
            ..ContactPatch::default()
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDisposition {
    stage: Option<String>,
    disposition: Option<String>,
    additional_fields: Option<Map<String, Value>>,
}

impl UpdateDisposition {
    pub fn into_update(self) -> Result<DispositionUpdate, Error> {
        let stage = self
            .stage
            .ok_or_else(|| Error::invalid("stage", "is required"))?;
        let stage = bounded_text(&stage, MAX_TEXT_LEN).map_err(|r| Error::invalid("stage", r))?;
        if stage.is_empty() {
            return Err(Error::invalid("stage", "must not be empty"));
        }
        let disposition = self
            .disposition
            .map(|d| bounded_text(&d, MAX_TEXT_LEN).map_err(|r| Error::invalid("disposition", r)))
            .transpose()?
            .filter(|d| !d.is_empty());
        let fields: Option<Attributes> = self.additional_fields;
        if let Some(fields) = &fields {
            check_attributes_size(fields)
                .map_err(|reason| Error::invalid("additionalFields", reason))?;
        }
        Ok(DispositionUpdate {
            stage,
            disposition,
            fields,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct Assign {
    user_id: Option<String>,
    group_id: Option<String>,
    remote_waba_id: Option<String>,
    remote_phone_id: Option<String>,
    assign_on_handover: Option<bool>,
}

impl Assign {
    /// `user_id` wins when both are given, as SalesChat documents.
    pub fn into_request(self) -> Result<AssignRequest, Error> {
        let given = |id: Option<String>| {
            id.map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
        };
        let target = match (given(self.user_id), given(self.group_id)) {
            (Some(user), _) => AssignTarget::User(user),
            (None, Some(group)) => AssignTarget::Group(group),
            (None, None) => {
                return Err(Error::invalid("user_id", "user_id or group_id is required"))
            }
        };
        let remote = |field: &str, id: Option<String>| {
            id.map(|id| bounded_text(&id, MAX_TEXT_LEN).map_err(|r| Error::invalid(field, r)))
                .transpose()
                .map(|id| id.filter(|id| !id.is_empty()))
        };
        Ok(AssignRequest {
            target,
            on_handover: self.assign_on_handover.unwrap_or(false),
            remote_waba_id: remote("remote_waba_id", self.remote_waba_id)?,
            remote_phone_id: remote("remote_phone_id", self.remote_phone_id)?,
        })
    }
}

fn crm_id_value(crm_id: &str) -> Result<ExternalId, Error> {
    ExternalId::parse(crm_id).map_err(|reason| Error::invalid("crm_id", reason))
}

fn name(field: &str, value: Option<Option<String>>) -> Result<Patch<String>, Error> {
    match value {
        None => Ok(Patch::Keep),
        Some(None) => Ok(Patch::Clear),
        Some(Some(text)) => {
            let text = bounded_text(&text, MAX_NAME_LEN).map_err(|r| Error::invalid(field, r))?;
            if text.contains('*') {
                return Err(Error::invalid(field, "must not contain *"));
            }
            Ok(if text.is_empty() {
                Patch::Clear
            } else {
                Patch::Set(text)
            })
        }
    }
}

/// The value a create sets: a cleared or absent field is simply not set.
fn set_value<T>(patch: Patch<T>) -> Option<T> {
    match patch {
        Patch::Set(value) => Some(value),
        Patch::Keep | Patch::Clear => None,
    }
}

/// An E.164 string (`"+4917612345678"`) or libphonenumber's object form
/// (`{"countryCode": 49, "nationalNumber": 17612345678}`, with `italianLeadingZero` and
/// `numberOfLeadingZeros` for numbers whose national form starts with 0).
pub fn phone_number(value: &Value) -> Result<PhoneE164, Error> {
    let invalid = |reason: &str| Error::invalid("phone_number", reason);
    match value {
        Value::String(text) => PhoneE164::parse(text).map_err(invalid),
        Value::Object(object) => {
            let country = object.get("countryCode").and_then(Value::as_u64);
            let national = object.get("nationalNumber").and_then(Value::as_u64);
            match (country, national) {
                (Some(country), Some(national)) if (1..=999).contains(&country) => {
                    let italian = object
                        .get("italianLeadingZero")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let zeros = object
                        .get("numberOfLeadingZeros")
                        .and_then(Value::as_u64)
                        .unwrap_or(u64::from(italian))
                        .min(if italian { 16 } else { 0 });
                    let digits = format!("+{country}{}{national}", "0".repeat(zeros as usize));
                    PhoneE164::parse(&digits).map_err(invalid)
                }
                _ => match object.get("rawInput").and_then(Value::as_str) {
                    Some(raw) => PhoneE164::parse(raw).map_err(invalid),
                    None => Err(invalid("needs countryCode and nationalNumber as numbers")),
                },
            }
        }
        _ => Err(invalid(
            "must be an E.164 string or an object with countryCode and nationalNumber",
        )),
    }
}

/// Epoch seconds (a number or a numeric string) or an RFC 3339 time.
pub fn opt_in_date(value: &Value) -> Result<Timestamp, Error> {
    let invalid = || Error::invalid("opt_in_date", "must be epoch seconds or an RFC 3339 time");
    let seconds = match value {
        Value::Number(number) => number.as_f64().ok_or_else(invalid)?,
        Value::String(text) => match text.trim().parse::<f64>() {
            Ok(seconds) if text.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') => seconds,
            _ => return Timestamp::parse_rfc3339(text.trim()).map_err(|_| invalid()),
        },
        _ => return Err(invalid()),
    };
    if !(0.0..=MAX_EPOCH_SECONDS).contains(&seconds) {
        return Err(Error::invalid(
            "opt_in_date",
            "must be a time between 1970 and 9999",
        ));
    }
    Ok(Timestamp::from_micros(
        (seconds * 1_000_000.0).round() as i64
    ))
}

/// Strictly E.164 (`+` and 2 to 15 digits), as the get-by-phone path requires.
pub fn path_phone(raw: &str) -> Result<&str, Error> {
    let digits = raw.strip_prefix('+').unwrap_or("");
    let valid = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(raw)
    } else {
        Err(Error::invalid(
            "phoneNumber",
            "must be an E.164 number such as +4917612345678",
        ))
    }
}

#[derive(Debug, Serialize)]
pub struct GovernanceLevelOut {
    id: String,
    name: String,
}

/// `ContactRespDto`, plus `phone_number`, `expiry_ts`, `is_inbound` and `source` so a
/// client can read back everything it wrote.
#[derive(Debug, Serialize)]
pub struct ContactOut {
    id: String,
    crm_id: Option<String>,
    opt_in_date: Option<String>,
    create_date: String,
    first_name: Option<String>,
    last_name: Option<String>,
    governance_level: Option<GovernanceLevelOut>,
    is_expired: bool,
    expiry_ts: Option<String>,
    phone_number: Option<String>,
    is_inbound: Option<bool>,
    source: Option<String>,
}

impl ContactOut {
    pub fn new(
        contact: Contact,
        level: Option<&GovernanceLevel>,
        expiry: Option<Timestamp>,
        is_expired: bool,
    ) -> Self {
        let data = contact.data;
        ContactOut {
            id: contact.id.to_string(),
            crm_id: data.external_id.map(|x| x.as_str().to_owned()),
            opt_in_date: data.opt_in_at.map(Timestamp::to_rfc3339),
            create_date: contact.created.to_rfc3339(),
            first_name: data.first_name,
            last_name: data.last_name,
            governance_level: level.map(|level| GovernanceLevelOut {
                id: level.id.clone(),
                name: level.name.clone(),
            }),
            is_expired,
            expiry_ts: expiry.map(Timestamp::to_rfc3339),
            phone_number: data.phone.map(|p| p.as_str().to_owned()),
            is_inbound: data.is_inbound,
            source: data.source,
        }
    }
}

/// `GetContactRespDto`.
#[derive(Debug, Serialize)]
pub struct FoundContactOut {
    id: String,
    crm_id: Option<String>,
    opt_in_date: Option<String>,
    create_date: String,
    first_name: Option<String>,
    last_name: Option<String>,
    is_expired: bool,
    expiry_ts: Option<String>,
}

impl FoundContactOut {
    pub fn new(contact: Contact, expiry: Option<Timestamp>, is_expired: bool) -> Self {
        let data = contact.data;
        FoundContactOut {
            id: contact.id.to_string(),
            crm_id: data.external_id.map(|x| x.as_str().to_owned()),
            opt_in_date: data.opt_in_at.map(Timestamp::to_rfc3339),
            create_date: contact.created.to_rfc3339(),
            first_name: data.first_name,
            last_name: data.last_name,
            is_expired,
            expiry_ts: expiry.map(Timestamp::to_rfc3339),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phone_numbers_come_as_strings_or_libphonenumber_objects() {
        assert_eq!(
            phone_number(&json!("+49 176 12345678")).unwrap().as_str(),
            "+4917612345678"
        );
        let object = json!({"countryCode": 49, "nationalNumber": 17612345678u64, "countryCodeSource": "FROM_NUMBER_WITH_PLUS_SIGN"});
        assert_eq!(phone_number(&object).unwrap().as_str(), "+4917612345678");
        let italian =
            json!({"countryCode": 39, "nationalNumber": 612345678, "italianLeadingZero": true});
        assert_eq!(phone_number(&italian).unwrap().as_str(), "+390612345678");
        assert!(phone_number(&json!({"countryCode": 49})).is_err());
        assert!(phone_number(&json!(4917612345678u64)).is_err());
        assert!(phone_number(&json!("017612345678")).is_err());
    }

    #[test]
    fn opt_in_dates_are_epoch_seconds_or_rfc3339() {
        let expected = Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(opt_in_date(&json!(1704067200)).unwrap(), expected);
        assert_eq!(opt_in_date(&json!("1704067200")).unwrap(), expected);
        assert_eq!(
            opt_in_date(&json!("2024-01-01T00:00:00Z")).unwrap(),
            expected
        );
        assert_eq!(
            opt_in_date(&json!("2024-01-01T01:00:00+01:00")).unwrap(),
            expected
        );
        for bad in [
            json!("yesterday"),
            json!(-5),
            json!(true),
            json!("1e3"),
            json!(1e20),
        ] {
            assert!(opt_in_date(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_phone_path_must_be_strict_e164() {
        assert!(path_phone("+4917612345678").is_ok());
        for bad in [
            "4917612345678",
            "+49 176",
            "+0176",
            "+",
            "+1234567890123456",
            "+49abc",
        ] {
            assert!(path_phone(bad).is_err(), "{bad}");
        }
    }
}
