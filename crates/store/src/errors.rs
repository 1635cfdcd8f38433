//! Turning database errors into core errors. Unique violations become `Conflict` on the
//! field the constraint guards; both backends name the column (PostgreSQL in the
//! constraint name, SQLite in the message), and the names match across the two schemas.

use roster_core::error::UniqueField;
use roster_core::model::Channel;
use roster_core::Error;

pub(crate) fn db_error(err: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            let said = db.constraint().unwrap_or(db.message());
            if let Some(field) = unique_field(said) {
                return Error::Conflict(field);
            }
        }
    }
    Error::internal(format!("database: {err}"))
}

fn unique_field(said: &str) -> Option<UniqueField> {
    if said.contains("users") || said.contains("user_groups") || said.contains("governance_levels")
    {
        return Some(UniqueField::RecordId);
    }
    if said.contains("email") {
        return Some(UniqueField::Email);
    }
    if said.contains("external_id") {
        return Some(UniqueField::ExternalId);
    }
    Channel::ALL
        .into_iter()
        .find(|&channel| said.contains(crate::rows::channel_column(channel)))
        .map(UniqueField::Channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_and_sqlite_messages_map_to_the_same_field() {
        assert_eq!(unique_field("contacts_email_key"), Some(UniqueField::Email));
        assert_eq!(
            unique_field("UNIQUE constraint failed: contacts.workspace_id, contacts.external_id"),
            Some(UniqueField::ExternalId)
        );
        assert_eq!(
            unique_field("contacts_telegram_id_key"),
            Some(UniqueField::Channel(Channel::Telegram))
        );
        assert_eq!(unique_field("contacts_pkey"), None);
    }
}
