//! Highlights for a page of hits: which words of which field matched, in the record's
//! own spelling, and the field's text with each matched word in `<mark>…</mark>`. The
//! matching rules are the index's own (`text::matches`), so a typo or prefix match is
//! marked exactly like an exact one.

use roster_core::domain::PhoneE164;
use roster_core::model::{Channel, Contact, Organization};
use roster_core::search::{Highlight, SearchField};

use crate::query::{typo_tolerant, Plan};
use crate::text::words;

/// Marks the matched words of `text`; `None` when nothing in it matched.
fn highlight_text(field: SearchField, text: &str, query: &Plan) -> Option<Highlight> {
    let typos = typo_tolerant(field);
    let mut spans = Vec::new();
    for word in words(text) {
        if query.words.iter().any(|q| q.matches(&word.folded, typos)) {
            spans.push((word.start, word.end));
        }
    }
    render(field, text, spans)
}

/// Marks the digits of a phone number that a phone-like query matched.
fn highlight_phone(text: &str, national_digits: &str, query: &Plan) -> Option<Highlight> {
    let digits = query.phone.as_ref()?.text.as_str();
    let all_digits = text.trim_start_matches('+');
    let offset = text.len() - all_digits.len();
    let span = if all_digits.starts_with(digits) {
        (0, offset + digits.len())
    } else if national_digits.starts_with(digits) {
        let start = text.len() - national_digits.len();
        (start, start + digits.len())
    } else {
        return highlight_text(SearchField::Phone, text, query);
    };
    render(SearchField::Phone, text, vec![span]).map(|mut highlight| {
        highlight.matched_tokens = vec![text.to_owned()];
        highlight
    })
}

/// A phone field: by digits for a phone-like query, by words otherwise.
fn highlight_phone_field(phone: &PhoneE164, query: &Plan) -> Option<Highlight> {
    if query.phone.is_some() {
        highlight_phone(phone.as_str(), phone.national_digits(), query)
    } else {
        highlight_text(SearchField::Phone, phone.as_str(), query)
    }
}

fn render(field: SearchField, text: &str, spans: Vec<(usize, usize)>) -> Option<Highlight> {
    if spans.is_empty() {
        return None;
    }
    let mut snippet = String::with_capacity(text.len() + spans.len() * 13);
    let mut matched_tokens: Vec<String> = Vec::new();
    let mut at = 0;
    for (start, end) in spans {
        snippet.push_str(&escape(&text[at..start]));
        snippet.push_str("<mark>");
        snippet.push_str(&escape(&text[start..end]));
        snippet.push_str("</mark>");
        let token = text[start..end].to_owned();
        if !matched_tokens.contains(&token) {
            matched_tokens.push(token);
        }
        at = end;
    }
    snippet.push_str(&escape(&text[at..]));
    Some(Highlight {
        field,
        matched_tokens,
        snippet,
    })
}

/// Snippets are meant to be shown as HTML: the record's own text is escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn contact(contact: &Contact, organization_names: &[String], query: &Plan) -> Vec<Highlight> {
    if query.match_all {
        return Vec::new();
    }
    let data = &contact.data;
    let mut highlights = Vec::new();
    highlights.extend(highlight_text(
        SearchField::Name,
        &data.display_name(),
        query,
    ));
    if let Some(email) = &data.email {
        highlights.extend(highlight_text(SearchField::Email, email.as_str(), query));
    }
    if let Some(external) = &data.external_id {
        highlights.extend(highlight_text(
            SearchField::ExternalId,
            external.as_str(),
            query,
        ));
    }
    if let Some(phone) = &data.phone {
        highlights.extend(highlight_phone_field(phone, query));
    }
    for channel in Channel::ALL {
        if let Some(id) = data.channels.get(channel) {
            highlights.extend(highlight_text(SearchField::Channel(channel), id, query));
        }
    }
    if !organization_names.is_empty() {
        highlights.extend(highlight_text(
            SearchField::Organizations,
            &organization_names.join(", "),
            query,
        ));
    }
    highlights
}

pub fn organization(organization: &Organization, query: &Plan) -> Vec<Highlight> {
    if query.match_all {
        return Vec::new();
    }
    let data = &organization.data;
    let mut highlights = Vec::new();
    highlights.extend(highlight_text(SearchField::Name, &data.name, query));
    if let Some(email) = &data.email {
        highlights.extend(highlight_text(SearchField::Email, email.as_str(), query));
    }
    if let Some(website) = &data.website {
        highlights.extend(highlight_text(
            SearchField::Website,
            website.as_str(),
            query,
        ));
    }
    if let Some(phone) = &data.phone {
        highlights.extend(highlight_phone_field(phone, query));
    }
    if let Some(industry) = &data.industry {
        highlights.extend(highlight_text(SearchField::Industry, industry, query));
    }
    highlights
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ParsedQuery;

    #[test]
    fn typo_and_prefix_matches_are_marked_in_the_records_spelling() {
        let query = Plan::new(&ParsedQuery::parse("jörg mülr"));
        let highlight =
            highlight_text(SearchField::Name, "Jörg Müller-Lüdenscheidt", &query).unwrap();
        assert_eq!(
            highlight.snippet,
            "<mark>Jörg</mark> <mark>Müller</mark>-Lüdenscheidt"
        );
        assert_eq!(highlight.matched_tokens, ["Jörg", "Müller"]);
        assert!(highlight_text(SearchField::Name, "Anna Schmidt", &query).is_none());
    }

    #[test]
    fn phone_fragments_mark_the_digits_they_matched() {
        let national = Plan::new(&ParsedQuery::parse("0176 1234"));
        let highlight = highlight_phone("+4917612345678", "17612345678", &national).unwrap();
        assert_eq!(highlight.snippet, "+49<mark>1761234</mark>5678");
        let international = Plan::new(&ParsedQuery::parse("+49 176"));
        let highlight = highlight_phone("+4917612345678", "17612345678", &international).unwrap();
        assert_eq!(highlight.snippet, "<mark>+49176</mark>12345678");
    }

    #[test]
    fn snippets_escape_the_records_html() {
        let query = Plan::new(&ParsedQuery::parse("bob"));
        let highlight = highlight_text(SearchField::Name, "<b>Bob</b> & co", &query).unwrap();
        assert_eq!(
            highlight.snippet,
            "&lt;b&gt;<mark>Bob</mark>&lt;/b&gt; &amp; co"
        );
    }
}
