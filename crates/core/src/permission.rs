//! What an API key may do. Permission names are ChatCaptain's strings; a key holds a list
//! of them, where `*` grants everything and `chatbots.contacts.*` everything below
//! `chatbots.contacts.`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ContactsList,
    ContactsGet,
    ContactsCreate,
    ContactsEdit,
    ContactsDelete,
    ContactsAssign,
    ContactsMerge,
    OrganizationsList,
    OrganizationsGet,
    OrganizationsCreate,
    OrganizationsEdit,
    OrganizationsDelete,
    OrganizationContactsList,
    /// Registering webhooks (Chatwoot lets only administrators).
    WebhooksManage,
    /// Listing, creating and revoking the workspace's keys (the console), never with more
    /// than the key itself holds.
    KeysManage,
}

impl Permission {
    pub const ALL: [Permission; 15] = [
        Permission::ContactsList,
        Permission::ContactsGet,
        Permission::ContactsCreate,
        Permission::ContactsEdit,
        Permission::ContactsDelete,
        Permission::ContactsAssign,
        Permission::ContactsMerge,
        Permission::OrganizationsList,
        Permission::OrganizationsGet,
        Permission::OrganizationsCreate,
        Permission::OrganizationsEdit,
        Permission::OrganizationsDelete,
        Permission::OrganizationContactsList,
        Permission::WebhooksManage,
        Permission::KeysManage,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Permission::ContactsList => "chatbots.contacts.list",
            Permission::ContactsGet => "chatbots.contacts.get",
            Permission::ContactsCreate => "chatbots.contacts.create",
            Permission::ContactsEdit => "chatbots.contacts.edit",
            Permission::ContactsDelete => "chatbots.contacts.delete",
            Permission::ContactsAssign => "chatbots.contacts.assign",
            Permission::ContactsMerge => "chatbots.contacts.merge",
            Permission::OrganizationsList => "chatbots.organizations.list",
            Permission::OrganizationsGet => "chatbots.organizations.get",
            Permission::OrganizationsCreate => "chatbots.organizations.create",
            Permission::OrganizationsEdit => "chatbots.organizations.edit",
            Permission::OrganizationsDelete => "chatbots.organizations.delete",
            Permission::OrganizationContactsList => "chatbots.organizations.contacts.list",
            Permission::WebhooksManage => "chatbots.webhooks.manage",
            Permission::KeysManage => "chatbots.keys.manage",
        }
    }

    /// Whether one granted entry (`*`, a wildcard or a name) covers this permission.
    pub fn is_granted_by(self, grant: &str) -> bool {
        let name = self.name();
        match grant.strip_suffix('*') {
            Some(prefix) => {
                prefix.is_empty() || (prefix.ends_with('.') && name.starts_with(prefix))
            }
            None => grant == name,
        }
    }

    /// Whether any of a key's grants covers this permission.
    pub fn is_granted_by_any(self, grants: &[String]) -> bool {
        grants.iter().any(|grant| self.is_granted_by(grant))
    }
}

/// The grants of `wanted` that `held` does not cover: a key may hand out only what it
/// holds itself (every permission a wanted grant covers must be granted to it).
pub fn beyond<'a>(wanted: &'a [String], held: &[String]) -> Vec<&'a str> {
    wanted
        .iter()
        .filter(|grant| {
            Permission::ALL.iter().any(|permission| {
                permission.is_granted_by(grant) && !permission.is_granted_by_any(held)
            })
        })
        .map(String::as_str)
        .collect()
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks that a grant names a permission or a wildcard that covers at least one, so a
/// typo in a key's permissions is refused instead of silently granting nothing.
pub fn validate_grant(grant: &str) -> Result<(), String> {
    if Permission::ALL.iter().any(|p| p.is_granted_by(grant))
        && (grant == "*" || !grant.contains("**"))
    {
        Ok(())
    } else {
        let known: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
        Err(format!(
            "unknown permission {grant:?}; use \"*\", a wildcard like \"chatbots.contacts.*\", or one of {}",
            known.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_everything_below_their_prefix() {
        assert!(Permission::ContactsEdit.is_granted_by("*"));
        assert!(Permission::ContactsEdit.is_granted_by("chatbots.contacts.*"));
        assert!(Permission::ContactsEdit.is_granted_by("chatbots.*"));
        assert!(!Permission::OrganizationsEdit.is_granted_by("chatbots.contacts.*"));
        assert!(Permission::OrganizationContactsList.is_granted_by("chatbots.organizations.*"));
        assert!(!Permission::ContactsEdit.is_granted_by("chatbots.contacts.list"));
        assert!(!Permission::ContactsEdit.is_granted_by("chatbots.cont*"));
    }

    #[test]
    fn a_key_hands_out_only_what_it_holds() {
        let held = vec![
            "chatbots.contacts.*".to_owned(),
            "chatbots.keys.manage".to_owned(),
        ];
        let wanted = |grants: &[&str]| grants.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        assert!(beyond(
            &wanted(&["chatbots.contacts.list", "chatbots.contacts.*"]),
            &held
        )
        .is_empty());
        assert_eq!(beyond(&wanted(&["*"]), &held), ["*"]);
        assert_eq!(
            beyond(
                &wanted(&["chatbots.contacts.get", "chatbots.organizations.list"]),
                &held
            ),
            ["chatbots.organizations.list"]
        );
        assert!(beyond(&wanted(&["*"]), &["*".to_owned()]).is_empty());
    }

    #[test]
    fn unknown_grants_are_refused() {
        assert!(validate_grant("chatbots.contacts.list").is_ok());
        assert!(validate_grant("chatbots.contacts.*").is_ok());
        assert!(validate_grant("*").is_ok());
        assert!(validate_grant("chatbots.contact.list").is_err());
        assert!(validate_grant("chatbots.cont*").is_err());
        assert!(validate_grant("admin.*").is_err());
        assert!(validate_grant("").is_err());
    }
}
