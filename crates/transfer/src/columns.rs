//! What a CSV column means, by its header. Roster's export writes these names, so an
//! export imports back as it was; Chatwoot's layout (`name, email, identifier,
//! phone_number, company_name, city`, any other column a custom attribute) maps too.

use roster_core::model::Channel;

/// The meaning of one column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    FirstName,
    LastName,
    Email,
    Phone,
    ExternalId,
    Language,
    AvatarUrl,
    Blocked,
    Channel(Channel),
    /// Organization names, separated by `|`.
    Organizations,
    Address(AddressLine),
    /// A key of the additional attributes (`additional.<key>`, or Chatwoot's `city`,
    /// `country`, `country_code`, `company_name`).
    Additional(String),
    /// A key of the custom attributes (`custom.<key>`, or any column not named here).
    Custom(String),
    /// Read-only values an export carries (`id`, `created`, `updated`).
    Ignored,
}

impl Column {
    /// Whether a value in this column can tell a contact apart (a row needs one).
    pub fn identifies(&self) -> bool {
        matches!(
            self,
            Column::Name
                | Column::FirstName
                | Column::LastName
                | Column::Email
                | Column::Phone
                | Column::ExternalId
                | Column::Channel(_)
        )
    }
}

/// The headers of the columns that identify a contact, as the README lists them.
pub const IDENTIFYING_COLUMNS: [&str; 14] = [
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "external_id",
    "identifier",
    "crm_id",
    "whatsapp_id",
    "telegram_id",
    "facebook_id",
    "instagram_id",
    "web_id",
    "provider_id",
];

/// The other headers Roster reads (besides `custom.<key>` and `additional.<key>`).
pub const OTHER_COLUMNS: [&str; 8] = [
    "language",
    "avatar_url",
    "blocked",
    "organizations",
    "address.street|house_number|zipcode|location|country",
    "city",
    "country",
    "company_name",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressLine {
    Street,
    HouseNumber,
    Zipcode,
    Location,
    Country,
}

impl AddressLine {
    pub const ALL: [AddressLine; 5] = [
        AddressLine::Street,
        AddressLine::HouseNumber,
        AddressLine::Zipcode,
        AddressLine::Location,
        AddressLine::Country,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            AddressLine::Street => "street",
            AddressLine::HouseNumber => "house_number",
            AddressLine::Zipcode => "zipcode",
            AddressLine::Location => "location",
            AddressLine::Country => "country",
        }
    }
}

/// Separates several organization names in one cell.
pub const ORGANIZATION_SEPARATOR: char = '|';

pub fn channel_column(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "whatsapp_id",
        Channel::Telegram => "telegram_id",
        Channel::Facebook => "facebook_id",
        Channel::Instagram => "instagram_id",
        Channel::Web => "web_id",
        Channel::Provider => "provider_id",
    }
}

/// The column a header names. Headers compare case-insensitively, with spaces and dashes
/// read as underscores; `custom.` and `additional.` keys keep their own spelling.
pub fn column(header: &str) -> Column {
    let header = header.trim().trim_start_matches('\u{feff}').trim();
    if let Some(key) = strip_prefix_ignore_case(header, "custom.") {
        return Column::Custom(key.to_owned());
    }
    if let Some(key) = strip_prefix_ignore_case(header, "additional.") {
        return Column::Additional(key.to_owned());
    }
    if let Some(line) = strip_prefix_ignore_case(header, "address.") {
        if let Some(line) = AddressLine::ALL
            .into_iter()
            .find(|l| l.name() == normalized(line))
        {
            return Column::Address(line);
        }
    }
    let name = normalized(header);
    match name.as_str() {
        "name" | "display_name" | "full_name" => Column::Name,
        "first_name" => Column::FirstName,
        "last_name" => Column::LastName,
        "email" | "email_address" => Column::Email,
        "phone" | "phone_number" | "phonenumber" => Column::Phone,
        "external_id" | "identifier" | "crm_id" => Column::ExternalId,
        "language" => Column::Language,
        "avatar_url" | "avatar" => Column::AvatarUrl,
        "blocked" => Column::Blocked,
        "organization" | "organizations" | "organization_name" | "organization_names" => {
            Column::Organizations
        }
        "city" | "country" | "country_code" | "company_name" => Column::Additional(name),
        "id" | "created" | "updated" | "created_at" | "updated_at" => Column::Ignored,
        _ => match Channel::ALL
            .into_iter()
            .find(|&c| channel_column(c) == name)
        {
            Some(channel) => Column::Channel(channel),
            None => Column::Custom(header.to_owned()),
        },
    }
}

fn normalized(header: &str) -> String {
    header.trim().to_lowercase().replace([' ', '-'], "_")
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
        .filter(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_map_roster_and_chatwoot_names() {
        assert_eq!(column("\u{feff}Name"), Column::Name);
        assert_eq!(column("Phone Number"), Column::Phone);
        assert_eq!(column("identifier"), Column::ExternalId);
        assert_eq!(
            column("company_name"),
            Column::Additional("company_name".into())
        );
        assert_eq!(column("custom.Plan"), Column::Custom("Plan".into()));
        assert_eq!(
            column("address.house_number"),
            Column::Address(AddressLine::HouseNumber)
        );
        assert_eq!(column("telegram_id"), Column::Channel(Channel::Telegram));
        assert_eq!(column("Shoe Size"), Column::Custom("Shoe Size".into()));
        assert_eq!(column("id"), Column::Ignored);
        for header in IDENTIFYING_COLUMNS {
            assert!(column(header).identifies(), "{header}");
        }
        for header in [
            "language",
            "organizations",
            "city",
            "custom.x",
            "id",
            "Shoe Size",
        ] {
            assert!(!column(header).identifies(), "{header}");
        }
    }
}
