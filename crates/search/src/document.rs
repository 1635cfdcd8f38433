//! Records as index documents.

use std::collections::{BTreeSet, HashMap};

use roster_core::domain::{PhoneE164, WorkspaceId};
use roster_core::model::{Channel, Contact, Organization};
use tantivy::schema::Field;
use tantivy::TantivyDocument;

use crate::schema::{Fields, CONTACT, ORGANIZATION};
use crate::text::{fold_whole, words};

pub fn key(kind: u64, workspace: WorkspaceId, id: i64) -> String {
    format!("{kind}/{workspace}/{id}")
}

/// The folded words of a text, each once.
fn text_words(texts: &[&str]) -> BTreeSet<String> {
    texts
        .iter()
        .flat_map(|text| words(text))
        .map(|w| w.folded)
        .collect()
}

/// An email is found by its whole address, its local part, its domain and their words.
pub fn email_terms(email: &str) -> BTreeSet<String> {
    let whole = fold_whole(email);
    let mut terms = text_words(&[email]);
    if let Some((local, domain)) = whole.split_once('@') {
        terms.insert(local.to_owned());
        terms.insert(domain.to_owned());
    }
    terms.insert(whole);
    terms
}

/// A phone is found by its digits with and without the country code.
pub fn phone_terms(phone: &PhoneE164) -> BTreeSet<String> {
    [
        phone.digits().to_owned(),
        phone.national_digits().to_owned(),
    ]
    .into_iter()
    .filter(|digits| !digits.is_empty())
    .collect()
}

/// A whole value (external id, channel id) and its words.
fn value_terms(value: &str) -> BTreeSet<String> {
    let mut terms = text_words(&[value]);
    terms.insert(fold_whole(value));
    terms
}

fn add_all(doc: &mut TantivyDocument, field: Field, terms: impl IntoIterator<Item = String>) {
    for term in terms {
        if !term.is_empty() {
            doc.add_text(field, term);
        }
    }
}

pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "whatsapp",
        Channel::Telegram => "telegram",
        Channel::Facebook => "facebook",
        Channel::Instagram => "instagram",
        Channel::Web => "web",
        Channel::Provider => "provider",
    }
}

/// A contact's document; `organization_names` maps its organizations' ids to names.
pub fn contact(
    fields: &Fields,
    workspace: WorkspaceId,
    contact: &Contact,
    organization_names: &HashMap<i64, String>,
) -> TantivyDocument {
    let data = &contact.data;
    let mut doc = TantivyDocument::default();
    doc.add_u64(fields.workspace, workspace.get() as u64);
    doc.add_u64(fields.kind, CONTACT);
    doc.add_u64(fields.id, contact.id.get() as u64);
    doc.add_text(fields.key, key(CONTACT, workspace, contact.id.get()));
    doc.add_i64(fields.created, contact.created.micros());

    let display = data.display_name();
    let names = [
        display.as_str(),
        data.first_name.as_deref().unwrap_or(""),
        data.last_name.as_deref().unwrap_or(""),
    ];
    add_all(&mut doc, fields.name, text_words(&names));
    if let Some(email) = &data.email {
        add_all(&mut doc, fields.email, email_terms(email.as_str()));
    }
    if let Some(external) = &data.external_id {
        add_all(&mut doc, fields.external_id, value_terms(external.as_str()));
    }
    if let Some(phone) = &data.phone {
        add_all(&mut doc, fields.phone, phone_terms(phone));
    }
    for channel in Channel::ALL {
        if let Some(id) = data.channels.get(channel) {
            add_all(&mut doc, fields.channel, value_terms(id));
            doc.add_text(fields.facet_channel, channel_name(channel));
        }
    }
    let organizations: Vec<&str> = data
        .organization_ids
        .iter()
        .filter_map(|id| organization_names.get(&id.get()).map(String::as_str))
        .collect();
    add_all(&mut doc, fields.organization, text_words(&organizations));
    for name in organizations {
        doc.add_text(fields.facet_organization, name);
    }
    if let Some(language) = &data.language {
        doc.add_text(fields.facet_language, language.as_str());
    }
    if let Some(country) = &data.address.country {
        doc.add_text(fields.facet_country, country);
    }
    doc
}

pub fn organization(
    fields: &Fields,
    workspace: WorkspaceId,
    organization: &Organization,
) -> TantivyDocument {
    let data = &organization.data;
    let mut doc = TantivyDocument::default();
    doc.add_u64(fields.workspace, workspace.get() as u64);
    doc.add_u64(fields.kind, ORGANIZATION);
    doc.add_u64(fields.id, organization.id.get() as u64);
    doc.add_text(
        fields.key,
        key(ORGANIZATION, workspace, organization.id.get()),
    );
    doc.add_i64(fields.created, organization.created.micros());
    add_all(&mut doc, fields.name, text_words(&[data.name.as_str()]));
    if let Some(email) = &data.email {
        add_all(&mut doc, fields.email, email_terms(email.as_str()));
    }
    if let Some(website) = &data.website {
        add_all(&mut doc, fields.website, value_terms(website.as_str()));
    }
    if let Some(phone) = &data.phone {
        add_all(&mut doc, fields.phone, phone_terms(phone));
    }
    if let Some(industry) = &data.industry {
        add_all(&mut doc, fields.industry, text_words(&[industry.as_str()]));
        doc.add_text(fields.facet_industry, industry);
    }
    if let Some(country) = &data.address.country {
        doc.add_text(fields.facet_country, country);
    }
    if let Some(size) = data.size {
        doc.add_u64(fields.facet_size, size.max(0) as u64);
    }
    doc
}
