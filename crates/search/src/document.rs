//! Records as index documents.

use std::collections::{BTreeSet, HashMap};

use roster_core::domain::{PhoneE164, WorkspaceId};
use roster_core::model::{Channel, Contact, Organization, RecordKind};
use tantivy::schema::Field;
use tantivy::TantivyDocument;

use crate::schema::{facet_value, scope, term_text, Fields, TermKind, START_LENGTH};
use crate::text::{fold_whole, words};

pub fn key(kind: RecordKind, workspace: WorkspaceId, id: i64) -> String {
    // The layout written since layout 1: 0 for contacts, 1 for organizations.
    let kind = match kind {
        RecordKind::Contact => 0,
        RecordKind::Organization => 1,
    };
    format!("{kind}/{workspace}/{id}")
}

/// The searchable terms of one field of one record, each once: its words, the starts
/// of its words, and its whole values.
#[derive(Default)]
struct Terms(BTreeSet<(TermKind, String)>);

impl Terms {
    /// The words of each text, with their starts.
    fn words<'a>(mut self, texts: impl IntoIterator<Item = &'a str>) -> Terms {
        for text in texts {
            for word in words(text) {
                let starts = word.folded.char_indices().take(START_LENGTH);
                for end in starts.map(|(at, c)| at + c.len_utf8()) {
                    self.0
                        .insert((TermKind::Start, word.folded[..end].to_owned()));
                }
                self.0.insert((TermKind::Word, word.folded));
            }
        }
        self
    }

    /// A whole value, kept when it is more than one word (a one-word value is its word).
    fn whole(mut self, value: &str) -> Terms {
        let folded = fold_whole(value);
        if words(&folded).len() > 1 {
            self.0.insert((TermKind::Whole, folded));
        }
        self
    }

    fn add_to(self, doc: &mut TantivyDocument, field: Field, scope: &str) {
        for (kind, value) in self.0 {
            if !value.is_empty() {
                doc.add_text(field, term_text(scope, kind, &value));
            }
        }
    }
}

/// An email is found by its words, and whole by its address and its domain. The local
/// part needs no term of its own: typed as the last word it is a prefix of the address,
/// typed earlier it matches as all of its words.
fn email_terms(email: &str) -> Terms {
    let terms = Terms::default().words([email]).whole(email);
    match email.split_once('@') {
        Some((_, domain)) => terms.whole(domain),
        None => terms,
    }
}

/// A phone is found by its digits with and without the country code.
fn phone_terms(phone: &PhoneE164) -> Terms {
    Terms::default().words([phone.digits(), phone.national_digits()])
}

/// A value (external id, channel id, website) by its words and whole.
fn value_terms(value: &str) -> Terms {
    Terms::default().words([value]).whole(value)
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
    let scope = scope(workspace, RecordKind::Contact);
    doc.add_text(fields.scope, &scope);
    doc.add_u64(fields.id, contact.id.get() as u64);
    doc.add_text(
        fields.key,
        key(RecordKind::Contact, workspace, contact.id.get()),
    );
    doc.add_i64(fields.created, contact.created.micros());

    let display = data.display_name();
    let names = [
        display.as_str(),
        data.first_name.as_deref().unwrap_or(""),
        data.last_name.as_deref().unwrap_or(""),
    ];
    Terms::default()
        .words(names)
        .add_to(&mut doc, fields.name, &scope);
    if let Some(email) = &data.email {
        email_terms(email.as_str()).add_to(&mut doc, fields.email, &scope);
    }
    if let Some(external) = &data.external_id {
        value_terms(external.as_str()).add_to(&mut doc, fields.external_id, &scope);
    }
    if let Some(phone) = &data.phone {
        phone_terms(phone).add_to(&mut doc, fields.phone, &scope);
    }
    for channel in Channel::ALL {
        if let Some(id) = data.channels.get(channel) {
            value_terms(id).add_to(&mut doc, fields.channel, &scope);
            doc.add_text(fields.facet_channel, facet_value(&scope, channel.as_str()));
        }
    }
    let organizations: Vec<&str> = data
        .organization_ids
        .iter()
        .filter_map(|id| organization_names.get(&id.get()).map(String::as_str))
        .collect();
    Terms::default()
        .words(organizations.iter().copied())
        .add_to(&mut doc, fields.organization, &scope);
    for name in organizations {
        doc.add_text(fields.facet_organization, facet_value(&scope, name));
    }
    if let Some(language) = &data.language {
        doc.add_text(
            fields.facet_language,
            facet_value(&scope, language.as_str()),
        );
    }
    if let Some(country) = &data.address.country {
        doc.add_text(fields.facet_country, facet_value(&scope, country));
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
    let scope = scope(workspace, RecordKind::Organization);
    doc.add_text(fields.scope, &scope);
    doc.add_u64(fields.id, organization.id.get() as u64);
    doc.add_text(
        fields.key,
        key(RecordKind::Organization, workspace, organization.id.get()),
    );
    doc.add_i64(fields.created, organization.created.micros());
    Terms::default()
        .words([data.name.as_str()])
        .add_to(&mut doc, fields.name, &scope);
    if let Some(email) = &data.email {
        email_terms(email.as_str()).add_to(&mut doc, fields.email, &scope);
    }
    if let Some(website) = &data.website {
        value_terms(website.as_str()).add_to(&mut doc, fields.website, &scope);
    }
    if let Some(phone) = &data.phone {
        phone_terms(phone).add_to(&mut doc, fields.phone, &scope);
    }
    if let Some(industry) = &data.industry {
        Terms::default()
            .words([industry.as_str()])
            .add_to(&mut doc, fields.industry, &scope);
        doc.add_text(fields.facet_industry, facet_value(&scope, industry));
    }
    if let Some(country) = &data.address.country {
        doc.add_text(fields.facet_country, facet_value(&scope, country));
    }
    if let Some(size) = data.size {
        doc.add_u64(fields.facet_size, size.max(0) as u64);
    }
    doc
}
