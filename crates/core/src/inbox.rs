//! The rule for a contact's id in an inbox (Chatwoot's `source_id`), written once: what
//! linking a contact derives when it is given none, and what a conversation could start
//! with (Chatwoot's `ContactInboxBuilder` and `ContactableInboxesService`).

use crate::model::{ContactData, InboxChannel};

/// The `source_id` a contact has, or would get, in an inbox of `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceId {
    /// Taken from the contact: the email, the phone, or the phone's digits.
    Derived(String),
    /// A fresh random id (API and web-widget inboxes).
    Random,
    /// The contact lacks the value this channel derives its id from (`email` or
    /// `phone_number`).
    Missing(&'static str),
    /// This channel derives nothing; the client must give the id.
    NotDerivable,
}

/// What linking `contact` to an inbox of `channel` without a `source_id` uses.
pub fn source_id_for(channel: InboxChannel, contact: &ContactData) -> SourceId {
    let phone = |digits_only: bool| match &contact.phone {
        Some(phone) if digits_only => SourceId::Derived(phone.digits().to_owned()),
        Some(phone) => SourceId::Derived(phone.as_str().to_owned()),
        None => SourceId::Missing("phone_number"),
    };
    match channel {
        InboxChannel::Api | InboxChannel::WebWidget => SourceId::Random,
        InboxChannel::Email => match &contact.email {
            Some(email) => SourceId::Derived(email.as_str().to_owned()),
            None => SourceId::Missing("email"),
        },
        InboxChannel::Sms | InboxChannel::TwilioSms => phone(false),
        InboxChannel::Whatsapp => phone(true),
        _ => SourceId::NotDerivable,
    }
}

/// The `source_id` a new conversation in an inbox of `channel` would use, given the
/// contact's latest existing link to that inbox; `None` when the inbox cannot reach the
/// contact. A web widget reaches only a visitor it already knows; an API inbox reuses
/// its link or makes a new id; the others derive theirs.
pub fn contactable_source_id(
    channel: InboxChannel,
    contact: &ContactData,
    latest_link: Option<&str>,
) -> Option<String> {
    match channel {
        InboxChannel::WebWidget => latest_link.map(str::to_owned),
        InboxChannel::Api => {
            Some(latest_link.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned))
        }
        _ => match source_id_for(channel, contact) {
            SourceId::Derived(id) => Some(id),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, PhoneE164};

    fn contact() -> ContactData {
        ContactData {
            email: Some(Email::parse("ada@example.com").unwrap()),
            phone: Some(PhoneE164::parse("+447911123456").unwrap()),
            ..ContactData::default()
        }
    }

    #[test]
    fn each_channel_derives_its_source_id_as_chatwoot_does() {
        let ada = contact();
        assert_eq!(
            source_id_for(InboxChannel::Email, &ada),
            SourceId::Derived("ada@example.com".into())
        );
        assert_eq!(
            source_id_for(InboxChannel::Sms, &ada),
            SourceId::Derived("+447911123456".into())
        );
        assert_eq!(
            source_id_for(InboxChannel::Whatsapp, &ada),
            SourceId::Derived("447911123456".into())
        );
        assert_eq!(
            source_id_for(InboxChannel::WebWidget, &ada),
            SourceId::Random
        );
        assert_eq!(
            source_id_for(InboxChannel::Telegram, &ada),
            SourceId::NotDerivable
        );
        assert_eq!(
            source_id_for(InboxChannel::Email, &ContactData::default()),
            SourceId::Missing("email")
        );
    }

    #[test]
    fn a_web_widget_reaches_only_visitors_it_knows() {
        let ada = contact();
        assert_eq!(
            contactable_source_id(InboxChannel::WebWidget, &ada, None),
            None
        );
        assert_eq!(
            contactable_source_id(InboxChannel::WebWidget, &ada, Some("visitor-1")),
            Some("visitor-1".into())
        );
        let api = contactable_source_id(InboxChannel::Api, &ada, None).unwrap();
        assert_eq!(api.len(), 36, "{api}");
        assert_eq!(
            contactable_source_id(InboxChannel::Email, &ada, Some("old")),
            Some("ada@example.com".into())
        );
    }
}
