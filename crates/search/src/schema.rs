//! The index schema. One index holds both contacts and organizations of every
//! workspace; `workspace` and `kind` scope every query.
//!
//! Text fields hold pre-computed words (see `text.rs`) as raw terms, one value per word,
//! so the index and the highlighter agree on what a word is. Facet fields are fast
//! columns read by the collector.

use tantivy::schema::{Field, Schema, FAST, INDEXED, STRING};

use roster_core::search::SearchField;

pub const CONTACT: u64 = 0;
pub const ORGANIZATION: u64 = 1;

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub workspace: Field,
    pub kind: Field,
    pub id: Field,
    /// `kind/workspace/id`: the term a document is replaced or deleted by.
    pub key: Field,
    pub created: Field,
    pub name: Field,
    pub email: Field,
    pub external_id: Field,
    pub phone: Field,
    pub channel: Field,
    pub organization: Field,
    pub website: Field,
    pub industry: Field,
    pub facet_organization: Field,
    pub facet_language: Field,
    pub facet_country: Field,
    pub facet_channel: Field,
    pub facet_industry: Field,
    pub facet_size: Field,
}

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let fields = Fields {
            workspace: builder.add_u64_field("workspace", INDEXED | FAST),
            kind: builder.add_u64_field("kind", INDEXED | FAST),
            id: builder.add_u64_field("id", INDEXED | FAST),
            key: builder.add_text_field("key", STRING),
            created: builder.add_i64_field("created", FAST),
            name: builder.add_text_field("name", STRING),
            email: builder.add_text_field("email", STRING),
            external_id: builder.add_text_field("external_id", STRING),
            phone: builder.add_text_field("phone", STRING),
            channel: builder.add_text_field("channel", STRING),
            organization: builder.add_text_field("organization", STRING),
            website: builder.add_text_field("website", STRING),
            industry: builder.add_text_field("industry", STRING),
            facet_organization: builder.add_text_field("facet_organization", STRING | FAST),
            facet_language: builder.add_text_field("facet_language", STRING | FAST),
            facet_country: builder.add_text_field("facet_country", STRING | FAST),
            facet_channel: builder.add_text_field("facet_channel", STRING | FAST),
            facet_industry: builder.add_text_field("facet_industry", STRING | FAST),
            facet_size: builder.add_u64_field("facet_size", FAST),
        };
        (builder.build(), fields)
    }

    /// The text fields a kind is searched in, with their rank weight (higher wins ties
    /// on words and typos) and the field they report in highlights.
    pub fn searched(&self, kind: u64) -> Vec<(Field, u32, SearchField)> {
        if kind == CONTACT {
            vec![
                (self.name, 6, SearchField::Name),
                (self.email, 5, SearchField::Email),
                (self.external_id, 4, SearchField::ExternalId),
                (self.phone, 3, SearchField::Phone),
                (
                    self.channel,
                    2,
                    SearchField::Channel(roster_core::model::Channel::Whatsapp),
                ),
                (self.organization, 1, SearchField::Organizations),
            ]
        } else {
            vec![
                (self.name, 6, SearchField::Name),
                (self.email, 5, SearchField::Email),
                (self.website, 4, SearchField::Website),
                (self.phone, 3, SearchField::Phone),
                (self.industry, 2, SearchField::Industry),
            ]
        }
    }
}
