//! `POST /contacts/filter`: Chatwoot's condition list, parsed into core conditions with
//! Chatwoot's keys, operators, value rules and 422 messages (`chatwoot-behaviour.md` §1.7).

use roster_core::domain::{Timestamp, WorkspaceId};
use roster_core::query::{Bound, Condition, Join, NumberBound, TextField, TextOp, TimeField};
use roster_core::Store;
use serde_json::Value;
use time::{Date, Month, OffsetDateTime, Time};

use super::error::CwError;

/// The standard keys, in the order Chatwoot's error message lists them.
const STANDARD_KEYS: [&str; 11] = [
    "name",
    "email",
    "phone_number",
    "identifier",
    "country_code",
    "city",
    "company_name",
    "labels",
    "created_at",
    "last_activity_at",
    "blocked",
];

/// Conditions at most in one filter: keeps one request's SQL bounded.
const MAX_CONDITIONS: usize = 50;

fn operators(key: &str) -> &'static [&'static str] {
    const TEXT: &[&str] = &["equal_to", "not_equal_to", "contains", "does_not_contain"];
    match key {
        "name" | "email" | "city" | "company_name" => TEXT,
        "phone_number" => &[
            "equal_to",
            "not_equal_to",
            "contains",
            "does_not_contain",
            "starts_with",
        ],
        "identifier" | "country_code" | "blocked" => &["equal_to", "not_equal_to"],
        "labels" => &["equal_to", "not_equal_to", "is_present", "is_not_present"],
        "created_at" | "last_activity_at" => &["is_greater_than", "is_less_than", "days_before"],
        _ => &[
            "equal_to",
            "not_equal_to",
            "contains",
            "does_not_contain",
            "is_present",
            "is_not_present",
            "is_greater_than",
            "is_less_than",
        ],
    }
}

fn unprocessable(message: String) -> CwError {
    CwError::Unprocessable(message)
}

fn invalid_value(key: &str) -> CwError {
    unprocessable(format!(
        "Invalid value. The values provided for {key} are invalid"
    ))
}

/// The filter body's conditions, checked and translated; `now` anchors `days_before`.
pub async fn parse(
    body: &Value,
    store: &dyn Store,
    workspace: WorkspaceId,
    now: Timestamp,
) -> Result<Vec<(Condition, Join)>, CwError> {
    let Some(payload) = body.get("payload").filter(|p| !p.is_null()) else {
        return Err(CwError::MissingParam("payload"));
    };
    let Some(items) = payload.as_array() else {
        return Err(unprocessable(
            "payload must be a list of conditions".to_owned(),
        ));
    };
    if items.len() > MAX_CONDITIONS {
        return Err(unprocessable(format!(
            "A filter has at most {MAX_CONDITIONS} conditions"
        )));
    }
    let mut conditions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = item
            .get("attribute_key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !STANDARD_KEYS.contains(&key) && !custom_key_exists(store, workspace, key).await? {
            return Err(unprocessable(format!(
                "Invalid attribute key - [{key}]. The key should be one of [{}] or a custom \
                 attribute defined in the account.",
                STANDARD_KEYS.join(",")
            )));
        }
        let operator = item
            .get("filter_operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let allowed = operators(key);
        if !allowed.contains(&operator) {
            return Err(unprocessable(format!(
                "Invalid operator. The allowed operators for {key} are [{}].",
                allowed.join(",")
            )));
        }
        let join = match item.get("query_operator").and_then(Value::as_str) {
            Some(op) if op.eq_ignore_ascii_case("and") => Join::And,
            Some(op) if op.eq_ignore_ascii_case("or") => Join::Or,
            // The last condition joins nothing; Chatwoot sends null there.
            _ if i + 1 == items.len() => Join::And,
            _ => {
                return Err(unprocessable(
                    "Query operator must be either \"AND\" or \"OR\".".to_owned(),
                ))
            }
        };
        let values = values(item.get("values"));
        let condition = condition(key, operator, &values, now).ok_or_else(|| invalid_value(key))?;
        conditions.push((condition, join));
    }
    Ok(conditions)
}

/// A custom attribute "defined in the account": Roster has no attribute definitions, so
/// a key counts as defined once some contact of the workspace carries it.
async fn custom_key_exists(
    store: &dyn Store,
    workspace: WorkspaceId,
    key: &str,
) -> Result<bool, CwError> {
    if key.is_empty() || key.chars().count() > roster_core::domain::MAX_TEXT_LEN {
        return Ok(false);
    }
    Ok(store.custom_attribute_in_use(workspace, key).await?)
}

/// `values` as strings: a list of scalars, or one scalar.
fn values(sent: Option<&Value>) -> Vec<String> {
    let scalar = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match sent {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(value) => scalar(value).into_iter().collect(),
        None => Vec::new(),
    }
}

fn condition(key: &str, operator: &str, values: &[String], now: Timestamp) -> Option<Condition> {
    let first = values.first().map(|v| v.trim().to_owned());
    let needs_value = !matches!(operator, "is_present" | "is_not_present");
    if needs_value && first.as_deref().is_none_or(str::is_empty) {
        return None;
    }
    let first = first.unwrap_or_default();
    match key {
        "labels" => Some(match operator {
            "equal_to" => Condition::HasLabel(first),
            "not_equal_to" => Condition::LacksLabel(first),
            "is_present" => Condition::HasAnyLabel,
            _ => Condition::HasNoLabel,
        }),
        "blocked" => {
            let blocked = match first.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            Some(Condition::Blocked(if operator == "equal_to" {
                blocked
            } else {
                !blocked
            }))
        }
        "created_at" | "last_activity_at" => {
            let field = if key == "created_at" {
                TimeField::Created
            } else {
                TimeField::LastActivity
            };
            let bound = time_bound(operator, &first, now)?;
            Some(Condition::Time { field, bound })
        }
        _ => {
            let field = match key {
                "name" => TextField::Name,
                "email" => TextField::Email,
                "phone_number" => TextField::Phone,
                "identifier" => TextField::ExternalId,
                "country_code" | "city" | "company_name" => TextField::Additional(key.to_owned()),
                _ => TextField::Custom(key.to_owned()),
            };
            if let TextField::Custom(key) = &field {
                if let Some(condition) = custom_order(key, operator, &first) {
                    return condition;
                }
            }
            let op = match operator {
                "equal_to" => TextOp::Equal,
                "not_equal_to" => TextOp::NotEqual,
                "contains" => TextOp::Contains,
                "does_not_contain" => TextOp::DoesNotContain,
                "starts_with" => TextOp::StartsWith,
                "is_present" => TextOp::Present,
                _ => TextOp::NotPresent,
            };
            let values = match op {
                // Equality looks at the first value only, as Chatwoot does.
                TextOp::Equal | TextOp::NotEqual | TextOp::StartsWith => vec![first],
                _ => values
                    .iter()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
            };
            let values = values
                .into_iter()
                .map(|value| normalise(&field, op, value))
                .collect();
            Some(Condition::Text { field, op, values })
        }
    }
}

/// Case-insensitive fields compare lower-cased; a phone to equal is written as stored
/// (E.164), whatever format was sent.
fn normalise(field: &TextField, op: TextOp, value: String) -> String {
    match field {
        TextField::Phone if matches!(op, TextOp::Equal | TextOp::NotEqual) => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            super::wire::phone(&value)
                .or_else(|_| super::wire::phone(&format!("+{digits}")))
                .map_or_else(
                    |_| format!("+{}", value.replace('+', "")),
                    |phone| phone.as_str().to_owned(),
                )
        }
        TextField::Phone => value,
        _ => roster_core::domain::fold_case(&value),
    }
}

/// `is_greater_than`/`is_less_than` on a custom attribute: numbers compare as numbers,
/// ISO dates as text. `Some(None)` for a value that is neither.
fn custom_order(key: &str, operator: &str, value: &str) -> Option<Option<Condition>> {
    let greater = match operator {
        "is_greater_than" => true,
        "is_less_than" => false,
        _ => return None,
    };
    if let Ok(number) = value.parse::<f64>() {
        let bound = if greater {
            NumberBound::Greater(number)
        } else {
            NumberBound::Less(number)
        };
        return Some(Some(Condition::Number {
            key: key.to_owned(),
            bound,
        }));
    }
    Some(parse_date(value).map(|_| Condition::TextOrder {
        key: key.to_owned(),
        after: greater,
        value: value.to_owned(),
    }))
}

/// A day, as `2024-05-01` or the date part of an RFC 3339 timestamp.
fn parse_date(value: &str) -> Option<Date> {
    let day = value.get(..10)?;
    let mut parts = day.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

fn start_of(day: Date) -> Timestamp {
    let at = day.with_time(Time::MIDNIGHT).assume_utc();
    Timestamp::from_micros((at.unix_timestamp_nanos() / 1_000) as i64)
}

/// Dates compare as days (UTC): after 2024-05-01 means from 2024-05-02 on.
fn time_bound(operator: &str, value: &str, now: Timestamp) -> Option<Bound> {
    match operator {
        "days_before" => {
            let days: i64 = value
                .parse()
                .ok()
                .filter(|days| (0..=36_500).contains(days))?;
            let today = OffsetDateTime::from_unix_timestamp(now.unix_seconds())
                .ok()?
                .date();
            let day = today.checked_sub(time::Duration::days(days))?;
            Some(Bound::Before(start_of(day)))
        }
        "is_greater_than" => {
            let next = parse_date(value)?.next_day()?;
            Some(Bound::After(Timestamp::from_micros(
                start_of(next).micros() - 1,
            )))
        }
        _ => Some(Bound::Before(start_of(parse_date(value)?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_compare_as_whole_days() {
        let now = Timestamp::parse_rfc3339("2024-05-10T12:00:00Z").unwrap();
        let day = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
        assert_eq!(
            time_bound("is_less_than", "2024-05-01", now),
            Some(Bound::Before(day("2024-05-01T00:00:00Z")))
        );
        assert_eq!(
            time_bound("is_greater_than", "2024-05-01", now),
            Some(Bound::After(Timestamp::from_micros(
                day("2024-05-02T00:00:00Z").micros() - 1
            )))
        );
        assert_eq!(
            time_bound("days_before", "3", now),
            Some(Bound::Before(day("2024-05-07T00:00:00Z")))
        );
        assert_eq!(time_bound("days_before", "soon", now), None);
        assert_eq!(time_bound("is_less_than", "May 1st", now), None);
    }

    #[test]
    fn equality_uses_the_first_value_lower_cased() {
        let now = Timestamp::from_micros(0);
        let values = vec!["Ann@Example.com".to_owned(), "other".to_owned()];
        assert_eq!(
            condition("email", "equal_to", &values, now),
            Some(Condition::Text {
                field: TextField::Email,
                op: TextOp::Equal,
                values: vec!["ann@example.com".into()],
            })
        );
        assert_eq!(
            condition("blocked", "equal_to", &["maybe".into()], now),
            None
        );
        assert_eq!(condition("name", "contains", &[], now), None);
    }
}
