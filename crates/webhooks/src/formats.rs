//! What a delivery sends, by its endpoint's format: Roster's event signed as Standard
//! Webhooks say, SalesChat's envelope signed the same way, or Chatwoot's account webhook
//! payload with Chatwoot's signature headers.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use roster_core::domain::Timestamp;
use roster_core::events::{Event, EventType};
use roster_core::webhooks::{chatwoot_secret_text, Delivery, WebhookFormat};
use roster_core::Roster;
use serde_json::{json, Map, Value};
use sha2::Sha256;

pub(crate) struct Request {
    pub(crate) body: String,
    pub(crate) headers: Vec<(String, String)>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` (Standard Webhooks).
pub fn standard_signature(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let signed = hmac(
        secret,
        &[
            id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body.as_bytes(),
        ],
    );
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(signed)
    )
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed by the secret Chatwoot shows.
pub fn chatwoot_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let signed = hmac(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body.as_bytes()],
    );
    let hex: String = signed.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// The request for one delivery; `None` when the endpoint does not take this event.
pub(crate) async fn render(
    roster: &Roster,
    delivery: &Delivery,
    now: Timestamp,
) -> roster_core::Result<Option<Request>> {
    let event = &delivery.event;
    if !delivery.webhook.wants(event) {
        return Ok(None);
    }
    let timestamp = now.micros().div_euclid(1_000_000);
    let secret = roster.open_secret(&delivery.sealed_secret)?;
    let standard = |body: String| {
        let signature = standard_signature(&secret, &event.id, timestamp, &body);
        Request {
            headers: vec![
                ("webhook-id".to_owned(), event.id.clone()),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signature),
            ],
            body,
        }
    };
    Ok(match delivery.webhook.format {
        WebhookFormat::Roster => Some(standard(event.render().to_string())),
        WebhookFormat::SalesChat => saleschat_payload(event).map(|body| standard(body.to_string())),
        WebhookFormat::Chatwoot => {
            let account = roster.store().workspace(event.workspace).await?;
            let account = json!({
                "id": event.workspace.get(),
                "name": account.map(|account| account.name),
            });
            chatwoot_payload(event, account).map(|body| {
                let body = body.to_string();
                let secret = chatwoot_secret_text(&secret);
                Request {
                    headers: vec![
                        (
                            "x-chatwoot-signature".to_owned(),
                            chatwoot_signature(&secret, timestamp, &body),
                        ),
                        ("x-chatwoot-timestamp".to_owned(), timestamp.to_string()),
                        ("x-chatwoot-delivery".to_owned(), delivery_uuid(&event.id)),
                    ],
                    body,
                }
            })
        }
    })
}

/// SalesChat's envelope for the contact events it has: `CONTACT_ASSIGNED` and
/// `CONTACT_EXPIRED` (its other types concern chatrooms and messages).
fn saleschat_payload(event: &Event) -> Option<Value> {
    let contact = &event.data["contact"];
    let contact_id = contact["id"].to_string();
    let (kind, payload) = match event.event_type {
        EventType::ContactAssigned => {
            let assignment = &event.data["assignment"];
            (
                "CONTACT_ASSIGNED",
                json!({
                    "contact_id": contact_id,
                    "user_id": assignment["user_id"],
                    "is_handover": assignment["pending_handover"],
                    "is_assigned": !assignment["user_id"].is_null(),
                }),
            )
        }
        EventType::ContactExpired => ("CONTACT_EXPIRED", json!({"contact_id": contact_id})),
        _ => return None,
    };
    Some(json!({"type": kind, "version": 1.1, "payload": payload}))
}

/// The Chatwoot name of a field of Roster's contact view, for `changed_attributes`.
fn chatwoot_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "display_name" => "name",
        "email" => "email",
        "phone" => "phone_number",
        "external_id" => "identifier",
        "avatar_url" => "avatar_url",
        "custom_attributes" => "custom_attributes",
        "additional_attributes" => "additional_attributes",
        "blocked" => "blocked",
        _ => return None,
    })
}

/// Chatwoot's `contact_created` / `contact_updated` payload: the contact's webhook data
/// and the event's name; an update that changed nothing Chatwoot shows is not sent.
fn chatwoot_payload(event: &Event, account: Value) -> Option<Value> {
    let contact = &event.data["contact"];
    let avatar = contact["avatar_url"].as_str().unwrap_or_default();
    let mut payload = json!({
        "account": account,
        "additional_attributes": contact["additional_attributes"],
        "avatar": avatar,
        "custom_attributes": contact["custom_attributes"],
        "email": contact["email"],
        "id": contact["id"],
        "identifier": contact["external_id"],
        "name": contact["display_name"],
        "phone_number": contact["phone"],
        "thumbnail": avatar,
        "blocked": contact["blocked"],
    });
    match event.event_type {
        EventType::ContactCreated => payload["event"] = json!("contact_created"),
        EventType::ContactUpdated | EventType::ContactMerged => {
            let changes = event.data["changes"].as_object()?;
            let changed: Vec<Value> = changes
                .iter()
                .filter_map(|(field, change)| {
                    let name = chatwoot_field(field)?;
                    let mut entry = Map::new();
                    entry.insert(
                        name.to_owned(),
                        json!({"previous_value": change["old"], "current_value": change["new"]}),
                    );
                    Some(Value::Object(entry))
                })
                .collect();
            if changed.is_empty() {
                return None;
            }
            payload["event"] = json!("contact_updated");
            payload["changed_attributes"] = Value::Array(changed);
        }
        _ => return None,
    }
    Some(payload)
}

/// A UUID for `X-Chatwoot-Delivery` that stays the same across retries: the event id's
/// hex digits in UUID form.
fn delivery_uuid(event_id: &str) -> String {
    let hex = event_id.trim_start_matches("evt_");
    if hex.len() != 32 {
        return hex.to_owned();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_signature_is_the_one_of_the_specification() {
        // The example of the Standard Webhooks specification.
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let signature = standard_signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn chatwoot_signs_timestamp_dot_body_in_hex() {
        let signature = chatwoot_signature("secret", 1, "{}");
        assert!(signature.starts_with("sha256="));
        assert_eq!(signature.len(), 7 + 64);
        assert_ne!(signature, chatwoot_signature("secret", 2, "{}"));
    }
}
