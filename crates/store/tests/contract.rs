//! The store contract: every test here runs against SQLite and against PostgreSQL, and
//! both must behave identically.

use std::collections::HashSet;

use roster_core::domain::KeyId;
use roster_core::domain::{
    ContactId, Email, ExternalId, Language, OrganizationId, PhoneE164, Timestamp, WorkspaceId,
};
use roster_core::error::{Error, Resource, UniqueField};
use roster_core::idempotency::StoredResponse;
use roster_core::import::{ImportOutcome, ImportRow, MatchKey};
use roster_core::model::{
    Address, AssignRequest, AssignTarget, AttributesPatch, Channel, ContactData, ContactPatch,
    DispositionUpdate, OrganizationData, OrganizationPatch, Page, Patch, RecordKind,
};
use roster_core::model::{InboxChannel, WriteRules};
use roster_core::query::{Condition, ContactQuery, Join, SortField, SortKey, TextField, TextOp};
use roster_core::rate_limit::RateLimit;
use roster_core::store::{IdempotencyClaim, IdempotencyState, NewApiKey, NewContactInbox, Store};
use roster_core::write::Expected;
use serde_json::json;

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let test = roster_store::testing::sqlite().await;
                    super::$test(test.store.as_ref()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let test = roster_store::testing::postgres().await;
                    super::$test(test.store.as_ref()).await;
                }
            )*
        }
    };
}

contract!(
    settings_keep_the_first_value_stored,
    workspaces_are_created_listed_and_found,
    api_keys_are_found_by_id_and_revoked_within_their_workspace,
    contact_round_trips_every_field,
    contact_ids_grow_and_are_never_reused,
    paging_by_created_sees_every_contact_exactly_once,
    unique_fields_conflict_within_a_workspace_only,
    failed_update_changes_nothing,
    update_patches_only_what_it_names,
    unknown_organization_on_update_is_refused,
    deleting_an_organization_keeps_its_contacts,
    deleting_a_contact_leaves_its_organizations,
    another_workspace_cannot_see_or_touch_records,
    organizations_round_trip_and_update,
    writes_to_a_missing_workspace_fail_cleanly,
    saleschat_fields_round_trip,
    unknown_governance_level_is_refused,
    disposition_sets_stage_and_keeps_history,
    groups_hand_out_members_in_turn,
    assignment_is_rate_limited_per_contact,
    users_groups_and_levels_are_per_workspace,
    contacts_are_found_by_phone,
    every_write_is_logged_as_a_change,
    batches_are_created_in_order_or_not_at_all,
    exact_matches_are_exact_and_identifiers_case_sensitive,
    inbox_links_are_unique_per_inbox_and_roll_back_with_their_contact,
    labels_are_replaced_and_scoped,
    merge_moves_links_labels_and_memberships_and_is_recorded,
    failed_merge_changes_nothing,
    unique_phone_rule_applies_only_when_asked,
    imports_create_update_or_leave_rows_and_reject_collisions,
    imports_match_by_the_keys_given_in_order,
    case_insensitive_matching_folds_beyond_ascii,
    imports_keep_merged_attributes_under_the_size_cap,
    idempotency_keys_run_once_replay_and_expire,
    every_write_bumps_the_version_and_a_stale_precondition_fails,
    an_endpoint_failing_for_three_days_is_disabled_and_a_success_clears_it,
);

async fn workspace(store: &dyn Store) -> WorkspaceId {
    store.create_workspace("Acme").await.unwrap().id
}

fn contact(name: &str) -> ContactData {
    ContactData {
        name: Some(name.to_owned()),
        language: Some(Language::parse("EN").unwrap()),
        ..ContactData::default()
    }
}

fn organization(name: &str) -> OrganizationData {
    OrganizationData {
        name: name.to_owned(),
        ..OrganizationData::default()
    }
}

const ALL: Page = Page {
    before: None,
    limit: 1000,
};

async fn settings_keep_the_first_value_stored(store: &dyn Store) {
    assert_eq!(
        store.setting_or_init("pepper", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.setting_or_init("pepper", b"second").await.unwrap(),
        b"first"
    );
}

async fn workspaces_are_created_listed_and_found(store: &dyn Store) {
    let a = store.create_workspace("A").await.unwrap();
    let b = store.create_workspace("B").await.unwrap();
    assert!(b.id > a.id);
    assert_eq!(store.workspace(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.workspaces().await.unwrap(), vec![a, b]);
    assert_eq!(
        store
            .workspace(WorkspaceId::new(999).unwrap())
            .await
            .unwrap(),
        None
    );
}

async fn api_keys_are_found_by_id_and_revoked_within_their_workspace(store: &dyn Store) {
    let ws = workspace(store).await;
    let other = workspace(store).await;
    let new = NewApiKey {
        name: "bot".into(),
        permissions: vec!["chatbots.contacts.*".into()],
        rate_limit: Some(RateLimit::Quota {
            requests: 100,
            window_secs: 60,
        }),
        secret_hash: vec![1, 2, 3],
    };
    let key = store.create_api_key(ws, &new).await.unwrap();
    let found = store.api_key(key.id).await.unwrap().unwrap();
    assert_eq!(found.key, key);
    assert_eq!(found.secret_hash, vec![1, 2, 3]);
    assert_eq!(store.api_keys(ws).await.unwrap(), vec![key.clone()]);
    assert!(store.api_keys(other).await.unwrap().is_empty());

    assert_eq!(
        store.revoke_api_key(other, key.id).await,
        Err(Error::NotFound(Resource::ApiKey))
    );
    assert!(store
        .api_key(key.id)
        .await
        .unwrap()
        .unwrap()
        .key
        .revoked
        .is_none());
    let revoked = store.revoke_api_key(ws, key.id).await.unwrap();
    assert!(revoked.revoked.is_some());
    assert_eq!(
        store.api_key(key.id).await.unwrap().unwrap().key.revoked,
        revoked.revoked
    );
}

async fn contact_round_trips_every_field(store: &dyn Store) {
    let ws = workspace(store).await;
    let org = store
        .create_organization(ws, &organization("Acme"))
        .await
        .unwrap();
    let mut data = contact("Max Example");
    data.first_name = Some("Max".into());
    data.last_name = Some("Example".into());
    data.email = Some(Email::parse("max@example.com").unwrap());
    data.phone = Some(PhoneE164::parse("+49 176 1234 5678").unwrap());
    data.external_id = Some(ExternalId::parse("CRM-1").unwrap());
    for (i, channel) in Channel::ALL.into_iter().enumerate() {
        *data.channels.slot_mut(channel) = Some(format!("channel-{i}"));
    }
    data.avatar_url =
        Some(roster_core::domain::WebUrl::parse("https://example.com/a.png").unwrap());
    data.address = Address {
        street: Some("Hauptstraße".into()),
        house_number: Some("1a".into()),
        zipcode: Some("10115".into()),
        location: Some("Berlin".into()),
        country: Some("Germany".into()),
    };
    data.custom_attributes = json!({"plan": "pro", "seats": 3})
        .as_object()
        .unwrap()
        .clone();
    data.additional_attributes = json!({"city": "Berlin"}).as_object().unwrap().clone();
    data.blocked = true;
    data.last_activity_at = Some(Timestamp::from_micros(1_700_000_000_123_456));
    data.organization_ids = vec![org.id];
    data.is_inbound = Some(false);
    data.opt_in_at = Some(Timestamp::from_micros(1_600_000_000_000_000));
    data.stage = Some("NEW".into());
    data.disposition_fields = json!({"reason": "price", "nested": {"a": [1, 2]}})
        .as_object()
        .unwrap()
        .clone();
    data.assignment.pending = true;
    data.assignment.user_id = Some("alice".into());

    let created = store.create_contact(ws, &data).await.unwrap();
    assert_eq!(created.data, data);
    assert_eq!(created.created, created.updated);
    let read = store.contact(ws, created.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    assert_eq!(
        store.contacts(ws, ALL).await.unwrap(),
        vec![created.clone()]
    );
    // Bulk scans read pages through another path (one JSON text per page): same records.
    let plain = store.create_contact(ws, &contact("Plain")).await.unwrap();
    assert_eq!(
        store.scan_contacts(ws, 0, 10).await.unwrap(),
        vec![created.clone(), plain.clone()]
    );
    assert_eq!(
        store.scan_contacts(ws, created.id.get(), 10).await.unwrap(),
        vec![plain]
    );
    assert_eq!(store.scan_contacts(ws, 0, 1).await.unwrap(), vec![created]);
    assert!(store
        .scan_contacts(workspace(store).await, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn contact_ids_grow_and_are_never_reused(store: &dyn Store) {
    let ws = workspace(store).await;
    let first = store.create_contact(ws, &contact("a")).await.unwrap();
    let second = store.create_contact(ws, &contact("b")).await.unwrap();
    assert_eq!(second.id.get(), first.id.get() + 1);
    // A delete answers the record as it was.
    assert_eq!(store.delete_contact(ws, second.id).await.unwrap(), second);
    let third = store.create_contact(ws, &contact("c")).await.unwrap();
    assert!(third.id > second.id);
    assert_eq!(store.contact(ws, second.id).await.unwrap(), None);
    assert_eq!(
        store.delete_contact(ws, second.id).await,
        Err(Error::NotFound(Resource::Contact))
    );
    // Ids are per workspace: a new workspace starts at 1 again.
    let other = workspace(store).await;
    assert_eq!(
        store
            .create_contact(other, &contact("d"))
            .await
            .unwrap()
            .id
            .get(),
        1
    );
}

async fn paging_by_created_sees_every_contact_exactly_once(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(
            store
                .create_contact(ws, &contact(&format!("c{i}")))
                .await
                .unwrap(),
        );
    }
    for pair in created.windows(2) {
        assert!(
            pair[1].created > pair[0].created,
            "created must be strictly increasing"
        );
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.contacts(ws, Page { before, limit: 7 }).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.created);
        seen.extend(page.iter().map(|c| c.id));
    }
    let expected: Vec<ContactId> = created.iter().rev().map(|c| c.id).collect();
    assert_eq!(seen, expected);
}

async fn unique_fields_conflict_within_a_workspace_only(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut data = contact("a");
    data.email = Some(Email::parse("a@example.com").unwrap());
    data.external_id = Some(ExternalId::parse("X1").unwrap());
    data.channels.telegram = Some("tg1".into());
    store.create_contact(ws, &data).await.unwrap();

    let mut same_email = contact("b");
    same_email.email = Some(Email::parse("A@Example.com").unwrap());
    assert_eq!(
        store.create_contact(ws, &same_email).await,
        Err(Error::Conflict(UniqueField::Email))
    );
    let mut same_external = contact("b");
    same_external.external_id = Some(ExternalId::parse("X1").unwrap());
    assert_eq!(
        store.create_contact(ws, &same_external).await,
        Err(Error::Conflict(UniqueField::ExternalId))
    );
    let mut other_case = contact("b");
    other_case.external_id = Some(ExternalId::parse("x1").unwrap());
    store.create_contact(ws, &other_case).await.unwrap();
    let mut same_channel = contact("b");
    same_channel.channels.telegram = Some("tg1".into());
    assert_eq!(
        store.create_contact(ws, &same_channel).await,
        Err(Error::Conflict(UniqueField::Channel(Channel::Telegram)))
    );
    // A failed create consumed no visible record.
    assert_eq!(store.contacts(ws, ALL).await.unwrap().len(), 2);

    let other = workspace(store).await;
    store.create_contact(other, &data).await.unwrap();
}

async fn failed_update_changes_nothing(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut taken = contact("a");
    taken.email = Some(Email::parse("taken@example.com").unwrap());
    store.create_contact(ws, &taken).await.unwrap();
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();
    let target = store.create_contact(ws, &contact("b")).await.unwrap();

    let patch = ContactPatch {
        name: Patch::Set("changed".into()),
        email: Patch::Set(Email::parse("taken@example.com").unwrap()),
        organization_ids: Some(vec![org.id]),
        ..ContactPatch::default()
    };
    assert_eq!(
        store.update_contact(ws, target.id, patch).await,
        Err(Error::Conflict(UniqueField::Email))
    );
    assert_eq!(store.contact(ws, target.id).await.unwrap().unwrap(), target);
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        0
    );
}

async fn update_patches_only_what_it_names(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut data = contact("Max");
    data.email = Some(Email::parse("max@example.com").unwrap());
    data.custom_attributes = json!({"a": "1"}).as_object().unwrap().clone();
    let created = store.create_contact(ws, &data).await.unwrap();
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();

    let patch = ContactPatch {
        phone: Patch::Set(PhoneE164::parse("+4917612345678").unwrap()),
        custom_attributes: AttributesPatch::Replace(json!({"b": "2"}).as_object().unwrap().clone()),
        organization_ids: Some(vec![org.id]),
        ..ContactPatch::default()
    };
    let updated = store.update_contact(ws, created.id, patch).await.unwrap();
    // The write answers the record as it was and as it left it.
    assert_eq!(updated.before, created);
    let updated = updated.after;
    assert_eq!(updated.data.name.as_deref(), Some("Max"));
    assert_eq!(updated.data.email, data.email);
    assert_eq!(
        updated.data.phone.as_ref().map(|p| p.as_str()),
        Some("+4917612345678")
    );
    assert_eq!(json!(updated.data.custom_attributes), json!({"b": "2"}));
    assert_eq!(updated.data.organization_ids, vec![org.id]);
    assert_eq!(updated.created, created.created);
    assert!(updated.updated > created.updated);
    assert_eq!(
        store.contact(ws, created.id).await.unwrap().unwrap(),
        updated
    );

    let cleared = store
        .update_contact(
            ws,
            created.id,
            ContactPatch {
                email: Patch::Clear,
                organization_ids: Some(vec![]),
                ..ContactPatch::default()
            },
        )
        .await
        .unwrap()
        .after;
    assert_eq!(cleared.data.email, None);
    assert!(cleared.data.organization_ids.is_empty());
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .update_contact(ws, ContactId::new(999).unwrap(), ContactPatch::default())
            .await,
        Err(Error::NotFound(Resource::Contact))
    );
}

async fn unknown_organization_on_update_is_refused(store: &dyn Store) {
    let ws = workspace(store).await;
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();
    let created = store.create_contact(ws, &contact("a")).await.unwrap();
    let missing = OrganizationId::new(org.id.get() + 1).unwrap();
    let patch = ContactPatch {
        name: Patch::Set("changed".into()),
        organization_ids: Some(vec![org.id, missing]),
        ..ContactPatch::default()
    };
    assert_eq!(
        store.update_contact(ws, created.id, patch).await,
        Err(Error::UnknownReference {
            resource: Resource::Organization,
            id: missing.to_string()
        })
    );
    assert_eq!(
        store.contact(ws, created.id).await.unwrap().unwrap(),
        created
    );
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        0
    );
}

async fn deleting_an_organization_keeps_its_contacts(store: &dyn Store) {
    let ws = workspace(store).await;
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();
    let kept = store
        .create_organization(ws, &organization("Kept"))
        .await
        .unwrap();
    let mut data = contact("a");
    data.organization_ids = vec![org.id, kept.id];
    let member = store.create_contact(ws, &data).await.unwrap();
    assert_eq!(
        store.organization_contacts(ws, org.id, ALL).await.unwrap(),
        vec![member.clone()]
    );
    assert_eq!(
        store.contact_organizations(ws, member.id).await.unwrap(),
        vec![org.clone(), kept.clone()]
    );

    store.delete_organization(ws, org.id).await.unwrap();
    let after = store.contact(ws, member.id).await.unwrap().unwrap();
    assert_eq!(after.data.organization_ids, vec![kept.id]);
    assert_eq!(store.organization(ws, org.id).await.unwrap(), None);
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await,
        Err(Error::NotFound(Resource::Organization))
    );
    assert_eq!(
        store.delete_organization(ws, org.id).await,
        Err(Error::NotFound(Resource::Organization))
    );
    // The deleted organization's id is not handed out again.
    assert!(
        store
            .create_organization(ws, &organization("New"))
            .await
            .unwrap()
            .id
            > kept.id
    );
}

async fn deleting_a_contact_leaves_its_organizations(store: &dyn Store) {
    let ws = workspace(store).await;
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();
    let mut data = contact("a");
    data.organization_ids = vec![org.id];
    let gone = store.create_contact(ws, &data).await.unwrap();
    let stays = store.create_contact(ws, &data).await.unwrap();
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        2
    );
    store.delete_contact(ws, gone.id).await.unwrap();
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        1
    );
    assert_eq!(
        store.organization_contacts(ws, org.id, ALL).await.unwrap(),
        vec![stays]
    );
    assert_eq!(
        store.contact_organizations(ws, gone.id).await,
        Err(Error::NotFound(Resource::Contact))
    );
}

async fn another_workspace_cannot_see_or_touch_records(store: &dyn Store) {
    let ws = workspace(store).await;
    let intruder = workspace(store).await;
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();
    let mut data = contact("a");
    data.organization_ids = vec![org.id];
    let secret = store.create_contact(ws, &data).await.unwrap();
    // The intruder's own records get the same ids; they must never alias.
    let own = store
        .create_contact(intruder, &contact("mine"))
        .await
        .unwrap();
    assert_eq!(own.id, secret.id);

    assert_eq!(
        store.contact(intruder, secret.id).await.unwrap().unwrap(),
        own
    );
    assert_eq!(store.organization(intruder, org.id).await.unwrap(), None);
    assert_eq!(
        store.contacts(intruder, ALL).await.unwrap(),
        vec![own.clone()]
    );
    assert!(store.organizations(intruder, ALL).await.unwrap().is_empty());
    assert_eq!(
        store.organization_contacts(intruder, org.id, ALL).await,
        Err(Error::NotFound(Resource::Organization))
    );
    let mut steal = ContactPatch {
        organization_ids: Some(vec![org.id]),
        ..ContactPatch::default()
    };
    assert_eq!(
        store.update_contact(intruder, own.id, steal.clone()).await,
        Err(Error::UnknownReference {
            resource: Resource::Organization,
            id: org.id.to_string()
        })
    );
    steal.organization_ids = None;
    assert_eq!(
        store
            .update_organization(intruder, org.id, OrganizationPatch::default())
            .await,
        Err(Error::NotFound(Resource::Organization))
    );
    assert_eq!(
        store.delete_organization(intruder, org.id).await,
        Err(Error::NotFound(Resource::Organization))
    );
    store.delete_contact(intruder, own.id).await.unwrap();
    assert_eq!(store.contact(ws, secret.id).await.unwrap().unwrap(), secret);
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        1
    );
}

async fn organizations_round_trip_and_update(store: &dyn Store) {
    let ws = workspace(store).await;
    let data = OrganizationData {
        name: "Acme".into(),
        email: Some(Email::parse("info@acme.example").unwrap()),
        website: Some(roster_core::domain::WebUrl::parse("https://acme.example").unwrap()),
        size: Some(250),
        industry: Some("Software".into()),
        phone: Some(PhoneE164::parse("+14155552671").unwrap()),
        address: Address {
            location: Some("Berlin".into()),
            ..Address::default()
        },
        custom_attributes: json!({"tier": "gold"}).as_object().unwrap().clone(),
    };
    let created = store.create_organization(ws, &data).await.unwrap();
    assert_eq!(created.data, data);
    assert_eq!(
        store.organization(ws, created.id).await.unwrap(),
        Some(created.clone())
    );
    let second = store
        .create_organization(ws, &organization("Beta"))
        .await
        .unwrap();
    assert_eq!(
        store.organizations(ws, ALL).await.unwrap(),
        vec![second.clone(), created.clone()]
    );
    assert_eq!(
        store
            .organizations(
                ws,
                Page {
                    before: Some(second.created),
                    limit: 10
                }
            )
            .await
            .unwrap(),
        vec![created.clone()]
    );

    let patch = OrganizationPatch {
        name: Some("Acme GmbH".into()),
        size: Patch::Clear,
        ..OrganizationPatch::default()
    };
    let updated = store
        .update_organization(ws, created.id, patch)
        .await
        .unwrap();
    assert_eq!(updated.before, created);
    let updated = updated.after;
    assert_eq!(updated.data.name, "Acme GmbH");
    assert_eq!(updated.data.size, None);
    assert_eq!(updated.data.email, data.email);
    assert_eq!(
        store.organization(ws, created.id).await.unwrap(),
        Some(updated)
    );
}

async fn writes_to_a_missing_workspace_fail_cleanly(store: &dyn Store) {
    let missing = WorkspaceId::new(4242).unwrap();
    assert_eq!(
        store.create_contact(missing, &contact("a")).await,
        Err(Error::NotFound(Resource::Workspace))
    );
    assert_eq!(
        store.create_organization(missing, &organization("a")).await,
        Err(Error::NotFound(Resource::Workspace))
    );
    let key = NewApiKey {
        name: "k".into(),
        permissions: vec!["*".into()],
        rate_limit: None,
        secret_hash: vec![0],
    };
    assert_eq!(
        store.create_api_key(missing, &key).await,
        Err(Error::NotFound(Resource::Workspace))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_on_postgres_keep_created_strictly_increasing() {
    let test = roster_store::testing::postgres().await;
    let ws = workspace(test.store.as_ref()).await;
    let mut tasks = Vec::new();
    for client in 0..8 {
        let store = test.store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                store
                    .create_contact(ws, &contact(&format!("{client}-{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = test.store.contacts(ws, ALL).await.unwrap();
    assert_eq!(all.len(), 200);
    let created: HashSet<Timestamp> = all.iter().map(|c| c.created).collect();
    assert_eq!(created.len(), 200, "no two contacts share a created time");
    for pair in all.windows(2) {
        assert!(pair[0].created > pair[1].created && pair[0].id > pair[1].id);
    }
}

async fn saleschat_fields_round_trip(store: &dyn Store) {
    let ws = workspace(store).await;
    let level = store
        .create_governance_level(ws, "GL-1", "Standard", 30)
        .await
        .unwrap();
    assert_eq!((level.id.as_str(), level.retention_days), ("GL-1", 30));
    let mut data = contact("a");
    data.first_name = Some("Ada".into());
    data.opt_in_at = Some(Timestamp::from_micros(1_700_000_000_000_000));
    data.is_inbound = Some(true);
    data.source = Some("CAMPAIGN".into());
    data.governance_level_id = Some("GL-1".into());
    let created = store.create_contact(ws, &data).await.unwrap();
    assert_eq!(
        store.contact(ws, created.id).await.unwrap().unwrap().data,
        data
    );
    let level = store
        .update_governance_level(ws, "GL-1", None, Some(60))
        .await
        .unwrap();
    assert_eq!(
        (level.name.as_str(), level.retention_days),
        ("Standard", 60)
    );
    assert_eq!(store.governance_levels(ws).await.unwrap(), vec![level]);
    assert_eq!(
        store
            .update_governance_level(ws, "GL-2", Some("x"), None)
            .await,
        Err(Error::NotFound(Resource::GovernanceLevel))
    );
}

async fn unknown_governance_level_is_refused(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut data = contact("a");
    data.governance_level_id = Some("missing".into());
    let unknown = Err(Error::UnknownReference {
        resource: Resource::GovernanceLevel,
        id: "missing".into(),
    });
    assert_eq!(store.create_contact(ws, &data).await, unknown);
    let created = store.create_contact(ws, &contact("b")).await.unwrap();
    let patch = ContactPatch {
        governance_level_id: Patch::Set("missing".into()),
        ..ContactPatch::default()
    };
    assert_eq!(
        store
            .update_contact(ws, created.id, patch)
            .await
            .map(|u| u.after),
        unknown
    );
    assert_eq!(store.contacts(ws, ALL).await.unwrap(), vec![created]);
}

async fn disposition_sets_stage_and_keeps_history(store: &dyn Store) {
    let ws = workspace(store).await;
    let created = store.create_contact(ws, &contact("a")).await.unwrap();
    let key = KeyId::new(9).unwrap();
    let first = DispositionUpdate {
        stage: "LEAD".into(),
        disposition: Some("callback".into()),
        fields: Some(json!({"note": "call at 5"}).as_object().unwrap().clone()),
    };
    let updated = store
        .set_disposition(ws, created.id, &first, key)
        .await
        .unwrap();
    assert_eq!(updated.data.stage.as_deref(), Some("LEAD"));
    assert_eq!(
        json!(updated.data.disposition_fields),
        json!({"note": "call at 5"})
    );
    let second = DispositionUpdate {
        stage: "WON".into(),
        disposition: None,
        fields: None,
    };
    let updated = store
        .set_disposition(ws, created.id, &second, key)
        .await
        .unwrap();
    assert_eq!(updated.data.stage.as_deref(), Some("WON"));
    assert_eq!(
        updated.data.disposition.as_deref(),
        Some("callback"),
        "kept when not given"
    );
    assert_eq!(
        json!(updated.data.disposition_fields),
        json!({"note": "call at 5"})
    );
    assert_eq!(
        store.contact(ws, created.id).await.unwrap().unwrap(),
        updated
    );

    let history = store.stage_history(ws, created.id).await.unwrap();
    let moves: Vec<(Option<&str>, &str)> = history
        .iter()
        .map(|c| (c.from_stage.as_deref(), c.to_stage.as_str()))
        .collect();
    assert_eq!(moves, vec![(None, "LEAD"), (Some("LEAD"), "WON")]);
    assert!(history.iter().all(|c| c.changed_by == Some(key)));
    assert!(history[1].at > history[0].at);

    let other = workspace(store).await;
    assert_eq!(
        store.stage_history(other, created.id).await,
        Err(Error::NotFound(Resource::Contact))
    );
    assert_eq!(
        store.set_disposition(other, created.id, &second, key).await,
        Err(Error::NotFound(Resource::Contact))
    );
}

fn assign_to(target: AssignTarget) -> AssignRequest {
    AssignRequest {
        target,
        on_handover: false,
        remote_waba_id: None,
        remote_phone_id: None,
    }
}

async fn groups_hand_out_members_in_turn(store: &dyn Store) {
    let ws = workspace(store).await;
    for user in ["u1", "u2", "u3"] {
        store
            .create_user(ws, user, &format!("User {user}"))
            .await
            .unwrap();
    }
    let members: Vec<String> = vec!["u2".into(), "u1".into(), "u3".into()];
    let group = store
        .create_group(ws, "sales", "Sales", &members)
        .await
        .unwrap();
    assert_eq!(group.members, members);
    let mut picked = Vec::new();
    let mut now = Timestamp::from_micros(1_800_000_000_000_000);
    for i in 0..7 {
        let c = store
            .create_contact(ws, &contact(&format!("c{i}")))
            .await
            .unwrap();
        let assigned = store
            .assign_contact(
                ws,
                c.id,
                &assign_to(AssignTarget::Group("sales".into())),
                now,
                10,
            )
            .await
            .unwrap();
        assert_eq!(assigned.data.assignment.group_id.as_deref(), Some("sales"));
        picked.push(assigned.data.assignment.user_id.unwrap());
        now = Timestamp::from_micros(now.micros() + 1);
    }
    assert_eq!(picked, ["u2", "u1", "u3", "u2", "u1", "u3", "u2"]);

    let c = store.create_contact(ws, &contact("direct")).await.unwrap();
    let request = AssignRequest {
        target: AssignTarget::User("u3".into()),
        on_handover: true,
        remote_waba_id: Some("waba-1".into()),
        remote_phone_id: Some("phone-1".into()),
    };
    let assigned = store
        .assign_contact(ws, c.id, &request, now, 10)
        .await
        .unwrap();
    let assignment = &assigned.data.assignment;
    assert_eq!(assignment.user_id.as_deref(), Some("u3"));
    assert_eq!(assignment.group_id, None);
    assert!(assignment.pending);
    assert_eq!(assignment.remote_waba_id.as_deref(), Some("waba-1"));
    assert_eq!(assignment.remote_phone_id.as_deref(), Some("phone-1"));
    assert_eq!(
        store
            .contact(ws, c.id)
            .await
            .unwrap()
            .unwrap()
            .data
            .assignment,
        *assignment
    );

    let missing_user = store
        .assign_contact(
            ws,
            c.id,
            &assign_to(AssignTarget::User("nobody".into())),
            now,
            0,
        )
        .await;
    assert_eq!(missing_user, Err(Error::NotFound(Resource::User)));
    let missing_group = store
        .assign_contact(
            ws,
            c.id,
            &assign_to(AssignTarget::Group("nobody".into())),
            now,
            0,
        )
        .await;
    assert_eq!(missing_group, Err(Error::NotFound(Resource::Group)));
    store.create_group(ws, "empty", "Empty", &[]).await.unwrap();
    let empty = store
        .assign_contact(
            ws,
            c.id,
            &assign_to(AssignTarget::Group("empty".into())),
            now,
            0,
        )
        .await;
    assert!(matches!(empty, Err(Error::Invalid { .. })), "{empty:?}");

    let regrouped = store
        .set_group_members(ws, "sales", &["u3".into()])
        .await
        .unwrap();
    assert_eq!(regrouped.members, ["u3"]);
    assert_eq!(store.groups(ws).await.unwrap().len(), 2);
}

async fn assignment_is_rate_limited_per_contact(store: &dyn Store) {
    let ws = workspace(store).await;
    store.create_user(ws, "u1", "One").await.unwrap();
    let c = store.create_contact(ws, &contact("a")).await.unwrap();
    let other = store.create_contact(ws, &contact("b")).await.unwrap();
    let request = assign_to(AssignTarget::User("u1".into()));
    let t0 = Timestamp::from_micros(1_800_000_000_000_000);
    store
        .assign_contact(ws, c.id, &request, t0, 10)
        .await
        .unwrap();
    let soon = Timestamp::from_micros(t0.micros() + 3_500_000);
    assert_eq!(
        store.assign_contact(ws, c.id, &request, soon, 10).await,
        Err(Error::RateLimited {
            retry_after_secs: 7
        })
    );
    // Another contact is not limited by the first one's assignment.
    store
        .assign_contact(ws, other.id, &request, soon, 10)
        .await
        .unwrap();
    let later = Timestamp::from_micros(t0.micros() + 10_000_000);
    store
        .assign_contact(ws, c.id, &request, later, 10)
        .await
        .unwrap();
}

async fn users_groups_and_levels_are_per_workspace(store: &dyn Store) {
    let ws = workspace(store).await;
    let other = workspace(store).await;
    store.create_user(ws, "u1", "One").await.unwrap();
    assert_eq!(
        store.create_user(ws, "u1", "Again").await,
        Err(Error::Conflict(UniqueField::RecordId))
    );
    store.create_user(other, "u1", "Other's one").await.unwrap();
    assert_eq!(store.users(ws).await.unwrap().len(), 1);
    assert_eq!(store.users(ws).await.unwrap()[0].name, "One");
    assert_eq!(
        store.create_group(ws, "g", "G", &["u2".into()]).await,
        Err(Error::UnknownReference {
            resource: Resource::User,
            id: "u2".into()
        })
    );
    assert!(
        store.groups(ws).await.unwrap().is_empty(),
        "a refused group is not half-created"
    );
    store
        .create_group(ws, "g", "G", &["u1".into()])
        .await
        .unwrap();
    assert_eq!(
        store.create_group(ws, "g", "G", &[]).await,
        Err(Error::Conflict(UniqueField::RecordId))
    );
    assert!(store.groups(other).await.unwrap().is_empty());
    assert_eq!(
        store.set_group_members(other, "g", &[]).await,
        Err(Error::NotFound(Resource::Group))
    );
    store
        .create_governance_level(ws, "L", "Level", 1)
        .await
        .unwrap();
    assert_eq!(
        store.create_governance_level(ws, "L", "Again", 1).await,
        Err(Error::Conflict(UniqueField::RecordId))
    );
    assert!(store.governance_levels(other).await.unwrap().is_empty());

    let c = store.create_contact(other, &contact("x")).await.unwrap();
    let into_foreign_group = store
        .assign_contact(
            other,
            c.id,
            &assign_to(AssignTarget::Group("g".into())),
            Timestamp::now(),
            10,
        )
        .await;
    assert_eq!(into_foreign_group, Err(Error::NotFound(Resource::Group)));
}

async fn contacts_are_found_by_phone(store: &dyn Store) {
    let ws = workspace(store).await;
    let phone = PhoneE164::parse("+4917612345678").unwrap();
    let mut data = contact("a");
    data.phone = Some(phone.clone());
    let first = store.create_contact(ws, &data).await.unwrap();
    let second = store.create_contact(ws, &data).await.unwrap();
    store
        .create_contact(ws, &contact("no phone"))
        .await
        .unwrap();
    let other = workspace(store).await;
    store.create_contact(other, &data).await.unwrap();
    assert_eq!(
        store.contacts_by_phone(ws, &phone).await.unwrap(),
        vec![first, second]
    );
    let unknown = PhoneE164::parse("+14155552671").unwrap();
    assert!(store
        .contacts_by_phone(ws, &unknown)
        .await
        .unwrap()
        .is_empty());
}

async fn every_write_is_logged_as_a_change(store: &dyn Store) {
    let ws = workspace(store).await;
    let start = store.last_change_seq().await.unwrap();
    let org = store
        .create_organization(ws, &organization("Org"))
        .await
        .unwrap();
    let mut data = contact("a");
    data.organization_ids = vec![org.id];
    let member = store.create_contact(ws, &data).await.unwrap();
    store
        .update_contact(
            ws,
            member.id,
            ContactPatch {
                name: Patch::Set("b".into()),
                ..ContactPatch::default()
            },
        )
        .await
        .unwrap();
    // Renaming the organization touches its member's document too.
    let rename = OrganizationPatch {
        name: Some("Renamed".into()),
        ..OrganizationPatch::default()
    };
    store.update_organization(ws, org.id, rename).await.unwrap();
    store.delete_contact(ws, member.id).await.unwrap();
    // A refused write logs nothing.
    let mut taken = contact("c");
    taken.organization_ids = vec![OrganizationId::new(999).unwrap()];
    assert!(store.create_contact(ws, &taken).await.is_err());

    let changes = store.changes_after(start, 100).await.unwrap();
    let logged: Vec<(RecordKind, i64)> = changes.iter().map(|c| (c.kind, c.id)).collect();
    let (o, c) = (org.id.get(), member.id.get());
    assert_eq!(
        logged,
        vec![
            (RecordKind::Organization, o),
            (RecordKind::Contact, c),
            (RecordKind::Contact, c),
            (RecordKind::Organization, o),
            (RecordKind::Contact, c),
            (RecordKind::Contact, c),
        ]
    );
    assert!(changes.iter().all(|change| change.workspace == ws));
    assert!(changes.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(
        store.last_change_seq().await.unwrap(),
        changes.last().unwrap().seq
    );
    assert_eq!(store.changes_after(start, 2).await.unwrap().len(), 2);

    let everything_before_now = Timestamp::from_micros(Timestamp::now().micros() + 1);
    assert_eq!(
        store.prune_changes(everything_before_now).await.unwrap() as usize,
        changes.len() + usize::try_from(start).unwrap()
    );
    assert_eq!(store.first_change_seq().await.unwrap(), None);
    assert_eq!(
        store.last_change_seq().await.unwrap(),
        0,
        "an empty log reports 0"
    );
}

async fn batches_are_created_in_order_or_not_at_all(store: &dyn Store) {
    let ws = workspace(store).await;
    let first = store.create_contact(ws, &contact("first")).await.unwrap();
    let batch: Vec<ContactData> = (0..50).map(|i| contact(&format!("batch {i}"))).collect();
    let created = store.create_contacts(ws, &batch).await.unwrap();
    assert_eq!(created[7].data, batch[7], "answered as written");
    let ids: Vec<ContactId> = created.iter().map(|c| c.id).collect();
    assert_eq!(ids.first().unwrap().get(), first.id.get() + 1);
    assert!(ids
        .windows(2)
        .all(|pair| pair[1].get() == pair[0].get() + 1));
    let all = store.contacts(ws, ALL).await.unwrap();
    assert_eq!(all.len(), 51);
    assert!(
        all.windows(2).all(|pair| pair[0].created > pair[1].created),
        "created strictly increasing"
    );
    assert_eq!(all[0].data.name.as_deref(), Some("batch 49"));
    let after = store.create_contact(ws, &contact("after")).await.unwrap();
    assert!(after.created > all[0].created);

    let mut clash = vec![contact("ok"), contact("dup"), contact("dup2")];
    clash[1].email = Some(Email::parse("same@example.com").unwrap());
    clash[2].email = Some(Email::parse("same@example.com").unwrap());
    assert_eq!(
        store.create_contacts(ws, &clash).await,
        Err(Error::Conflict(UniqueField::Email))
    );
    assert_eq!(
        store.contacts(ws, ALL).await.unwrap().len(),
        52,
        "a failed batch writes nothing"
    );
}

fn phone(number: &str) -> PhoneE164 {
    PhoneE164::parse(number).unwrap()
}

const CHATWOOT: WriteRules = WriteRules { unique_phone: true };

async fn exact_matches_are_exact_and_identifiers_case_sensitive(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut ann = contact("Ann");
    ann.email = Some(Email::parse("ann@example.com").unwrap());
    ann.external_id = Some(ExternalId::parse("Crm-1").unwrap());
    ann.phone = Some(phone("+4917612345678"));
    let ann = store.create_contact(ws, &ann).await.unwrap();
    let mut annette = contact("Annette");
    annette.email = Some(Email::parse("ann@example.co").unwrap());
    store.create_contact(ws, &annette).await.unwrap();

    let found = |email: Option<&str>, id: Option<&str>, number: Option<&str>| {
        let email = email.map(|e| Email::parse(e).unwrap());
        let id = id.map(|i| ExternalId::parse(i).unwrap());
        let number = number.map(phone);
        async move {
            store
                .contacts_matching_exactly(ws, email.as_ref(), id.as_ref(), number.as_ref())
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found(Some("ANN@example.com"), None, None).await, [ann.id]);
    assert_eq!(found(None, Some("Crm-1"), None).await, [ann.id]);
    assert_eq!(found(None, Some("crm-1"), None).await, []);
    assert_eq!(found(None, None, Some("+49 176 12345678")).await, [ann.id]);
    assert_eq!(found(None, None, None).await, []);
    let other = workspace(store).await;
    assert!(store
        .contacts_matching_exactly(other, ann.data.email.as_ref(), None, None)
        .await
        .unwrap()
        .is_empty());
}

async fn inbox_links_are_unique_per_inbox_and_roll_back_with_their_contact(store: &dyn Store) {
    let ws = workspace(store).await;
    let api = store
        .create_inbox(ws, "API", InboxChannel::Api, None)
        .await
        .unwrap();
    let mail = store
        .create_inbox(ws, "Mail", InboxChannel::Email, Some("default"))
        .await
        .unwrap();
    let link = |inbox: i64, source: &str| NewContactInbox {
        inbox_id: inbox,
        source_id: source.to_owned(),
    };
    let (ann, linked) = store
        .create_contact_with(ws, &contact("Ann"), CHATWOOT, Some(&link(api.id, "s-1")))
        .await
        .unwrap();
    assert_eq!(linked.unwrap().inbox, api);
    // The same link again is kept as it is; the same source in another inbox is fine.
    store
        .link_contact_inbox(ws, ann.id, &link(api.id, "s-1"))
        .await
        .unwrap();
    store
        .link_contact_inbox(ws, ann.id, &link(mail.id, "s-1"))
        .await
        .unwrap();
    // Another contact with that source in that inbox: a conflict, and a create that
    // hits it leaves no contact behind.
    assert_eq!(
        store
            .create_contact_with(ws, &contact("Bob"), CHATWOOT, Some(&link(api.id, "s-1")))
            .await,
        Err(Error::Conflict(UniqueField::SourceId))
    );
    assert_eq!(
        store
            .create_contact_with(ws, &contact("Cy"), CHATWOOT, Some(&link(424_242, "s-9")))
            .await,
        Err(Error::NotFound(Resource::Inbox))
    );
    let everyone = store
        .contacts(
            ws,
            Page {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(everyone.len(), 1);
    let links = store.contact_inboxes(ws, &[ann.id]).await.unwrap();
    let sources: Vec<(i64, &str)> = links
        .iter()
        .map(|l| (l.inbox.id, l.source_id.as_str()))
        .collect();
    assert_eq!(sources, [(api.id, "s-1"), (mail.id, "s-1")]);
    // Another workspace can neither use the inbox nor see the links.
    let other = workspace(store).await;
    let (stranger, _) = store
        .create_contact_with(other, &contact("Stranger"), CHATWOOT, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .link_contact_inbox(other, stranger.id, &link(api.id, "s-2"))
            .await,
        Err(Error::NotFound(Resource::Inbox))
    );
    assert!(store
        .contact_inboxes(other, &[ann.id])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.inboxes(other).await.unwrap(), []);
    assert_eq!(store.inboxes(ws).await.unwrap(), [api, mail]);
}

async fn labels_are_replaced_and_scoped(store: &dyn Store) {
    let ws = workspace(store).await;
    let ann = store.create_contact(ws, &contact("Ann")).await.unwrap();
    let labels = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store
            .set_labels(ws, ann.id, &labels(&["vip", "b2b", "vip"]))
            .await
            .unwrap(),
        labels(&["b2b", "vip"])
    );
    store
        .set_labels(ws, ann.id, &labels(&["lead"]))
        .await
        .unwrap();
    let stored = store.labels(ws, &[ann.id]).await.unwrap();
    assert_eq!(stored, [(ann.id, "lead".to_owned())]);
    let other = workspace(store).await;
    assert_eq!(
        store.set_labels(other, ann.id, &labels(&["x"])).await,
        Err(Error::NotFound(Resource::Contact))
    );
    assert!(store.labels(other, &[ann.id]).await.unwrap().is_empty());
}

async fn merge_moves_links_labels_and_memberships_and_is_recorded(store: &dyn Store) {
    let ws = workspace(store).await;
    let org = store
        .create_organization(ws, &organization("Acme"))
        .await
        .unwrap();
    let inbox = store
        .create_inbox(ws, "API", InboxChannel::Api, None)
        .await
        .unwrap();
    let mut base = contact("Base");
    base.email = Some(Email::parse("base@example.com").unwrap());
    base.custom_attributes = json!({"plan": "pro"}).as_object().unwrap().clone();
    let base = store.create_contact(ws, &base).await.unwrap();
    let mut mergee = contact("Mergee");
    mergee.email = Some(Email::parse("mergee@example.com").unwrap());
    mergee.phone = Some(phone("+4917612345678"));
    mergee.channels.telegram = Some("tg-1".into());
    mergee.organization_ids = vec![org.id];
    mergee.custom_attributes = json!({"plan": "free", "tier": "gold"})
        .as_object()
        .unwrap()
        .clone();
    let link = NewContactInbox {
        inbox_id: inbox.id,
        source_id: "s-1".into(),
    };
    let (mergee, _) = store
        .create_contact_with(ws, &mergee, CHATWOOT, Some(&link))
        .await
        .unwrap();
    store
        .set_labels(ws, base.id, &["a".to_owned()])
        .await
        .unwrap();
    store
        .set_labels(ws, mergee.id, &["a".to_owned(), "b".to_owned()])
        .await
        .unwrap();

    let merged = store
        .merge_contacts(ws, base.id, mergee.id, CHATWOOT)
        .await
        .unwrap();
    assert_eq!(merged.id, base.id);
    assert_eq!(merged.data.email, base.data.email);
    assert_eq!(merged.data.phone, mergee.data.phone);
    assert_eq!(merged.data.channels.telegram.as_deref(), Some("tg-1"));
    assert_eq!(merged.data.organization_ids, [org.id]);
    assert_eq!(
        serde_json::Value::Object(merged.data.custom_attributes.clone()),
        json!({"plan": "pro", "tier": "gold"})
    );
    assert_eq!(
        store.contact(ws, base.id).await.unwrap(),
        Some(merged.clone())
    );
    assert_eq!(store.contact(ws, mergee.id).await.unwrap(), None);
    let labels: Vec<String> = store
        .labels(ws, &[base.id])
        .await
        .unwrap()
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert_eq!(labels, ["a", "b"]);
    let links = store.contact_inboxes(ws, &[base.id]).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].source_id, "s-1");
    assert_eq!(
        store.count_organization_contacts(ws, org.id).await.unwrap(),
        1
    );
    let merges = store.merges(ws).await.unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(
        (merges[0].base_contact_id, merges[0].mergee_contact_id),
        (base.id, mergee.id)
    );
    // Both contacts of a merge find it; another workspace's same ids do not.
    assert_eq!(store.merges_of(ws, base.id).await.unwrap(), merges);
    assert_eq!(store.merges_of(ws, mergee.id).await.unwrap(), merges);
    let elsewhere = workspace(store).await;
    assert!(store
        .merges_of(elsewhere, base.id)
        .await
        .unwrap()
        .is_empty());

    // Into itself: nothing changes and nothing is recorded.
    assert_eq!(
        store
            .merge_contacts(ws, base.id, base.id, CHATWOOT)
            .await
            .unwrap(),
        merged
    );
    assert_eq!(store.merges(ws).await.unwrap().len(), 1);
    assert!(store
        .merges(workspace(store).await)
        .await
        .unwrap()
        .is_empty());
}

async fn failed_merge_changes_nothing(store: &dyn Store) {
    let ws = workspace(store).await;
    let base = store.create_contact(ws, &contact("Base")).await.unwrap();
    let mut mergee = contact("Mergee");
    mergee.phone = Some(phone("+4917612345678"));
    let mergee = store.create_contact(ws, &mergee).await.unwrap();
    // A third contact shares the number (allowed outside Chatwoot's rule): under the
    // rule the base may not take it, so the whole merge rolls back.
    let mut third = contact("Third");
    third.phone = mergee.data.phone.clone();
    store.create_contact(ws, &third).await.unwrap();
    assert_eq!(
        store.merge_contacts(ws, base.id, mergee.id, CHATWOOT).await,
        Err(Error::Conflict(UniqueField::Phone))
    );
    assert_eq!(
        store.contact(ws, mergee.id).await.unwrap(),
        Some(mergee.clone())
    );
    assert_eq!(
        store.contact(ws, base.id).await.unwrap(),
        Some(base.clone())
    );
    assert!(store.merges(ws).await.unwrap().is_empty());
    assert_eq!(
        store
            .merge_contacts(ws, base.id, ContactId::from_stored(999), CHATWOOT)
            .await,
        Err(Error::NotFound(Resource::Contact))
    );
}

async fn unique_phone_rule_applies_only_when_asked(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut ann = contact("Ann");
    ann.phone = Some(phone("+4917612345678"));
    store.create_contact(ws, &ann).await.unwrap();
    // Without the rule, a shared number is fine (SalesChat, ChatCaptain)…
    let twin = store.create_contact(ws, &ann).await.unwrap();
    // …with it, neither a create nor an update may add another.
    assert_eq!(
        store
            .create_contact_with(ws, &ann, CHATWOOT, None)
            .await
            .map(|_| ()),
        Err(Error::Conflict(UniqueField::Phone))
    );
    let bob = store.create_contact(ws, &contact("Bob")).await.unwrap();
    let patch = ContactPatch {
        phone: Patch::Set(phone("+4917612345678")),
        ..ContactPatch::default()
    };
    assert_eq!(
        store.update_contact_with(ws, bob.id, patch, CHATWOOT).await,
        Err(Error::Conflict(UniqueField::Phone))
    );
    // A contact keeping the number it has may still be changed under the rule.
    let rename = ContactPatch {
        name: Patch::Set("Twin".into()),
        ..ContactPatch::default()
    };
    store
        .update_contact_with(ws, twin.id, rename, CHATWOOT)
        .await
        .unwrap();
    // Another workspace has its own numbers.
    let other = workspace(store).await;
    store
        .create_contact_with(other, &ann, CHATWOOT, None)
        .await
        .unwrap();
}

fn import_row(
    name: &str,
    email: Option<&str>,
    external_id: Option<&str>,
    organizations: &[&str],
) -> ImportRow {
    ImportRow {
        patch: ContactPatch {
            name: Patch::Set(name.to_owned()),
            email: email.map_or(Patch::Keep, |e| Patch::Set(Email::parse(e).unwrap())),
            external_id: external_id
                .map_or(Patch::Keep, |x| Patch::Set(ExternalId::parse(x).unwrap())),
            ..ContactPatch::default()
        },
        organizations: organizations.iter().map(|o| o.to_string()).collect(),
    }
}

async fn imports_create_update_or_leave_rows_and_reject_collisions(store: &dyn Store) {
    let ws = workspace(store).await;
    let existing = store
        .create_organization(ws, &organization("Acme"))
        .await
        .unwrap();
    let keys = MatchKey::DEFAULT_ORDER;
    let rows = vec![
        import_row(
            "Ann",
            Some("ann@example.com"),
            Some("A-1"),
            &["Acme", "Globex"],
        ),
        import_row("Bob", Some("bob@example.com"), None, &[]),
        // Matches Ann (an earlier row) by email and renames her.
        import_row("Ann Lee", Some("ann@example.com"), None, &[]),
        // Matches Ann by external id but would take Bob's email: rejected, the others go on.
        import_row("Eve", Some("bob@example.com"), Some("A-1"), &[]),
    ];
    let outcomes = store.import_contacts(ws, &rows, &keys).await.unwrap();
    let (ann, bob) = match (&outcomes[0], &outcomes[1]) {
        (ImportOutcome::Created(ann), ImportOutcome::Created(bob)) => (*ann, *bob),
        other => panic!("{other:?}"),
    };
    assert_eq!(outcomes[2], ImportOutcome::Updated(ann));
    let ImportOutcome::Rejected(reason) = &outcomes[3] else {
        panic!("{:?}", outcomes[3])
    };
    assert!(
        reason.contains("email") && reason.contains("earlier row"),
        "{reason}"
    );
    let stored = store.contact(ws, ann).await.unwrap().unwrap();
    assert_eq!(stored.data.name.as_deref(), Some("Ann Lee"));
    assert_eq!(
        stored.data.external_id.as_ref().map(ExternalId::as_str),
        Some("A-1")
    );
    assert_eq!(stored.data.organization_ids.len(), 2);
    assert!(
        stored.data.organization_ids.contains(&existing.id),
        "Acme is found by name"
    );
    let globex = *stored
        .data
        .organization_ids
        .iter()
        .find(|id| **id != existing.id)
        .unwrap();
    assert_eq!(
        store
            .organization(ws, globex)
            .await
            .unwrap()
            .unwrap()
            .data
            .name,
        "Globex"
    );

    // The same file again: nothing changes, and no organization is created twice.
    let again = store.import_contacts(ws, &rows, &keys).await.unwrap();
    assert_eq!(
        again[0],
        ImportOutcome::Updated(ann),
        "row 1 renames Ann back"
    );
    assert_eq!(again[1], ImportOutcome::Unchanged(bob));
    assert_eq!(again[2], ImportOutcome::Updated(ann));
    assert!(matches!(again[3], ImportOutcome::Rejected(_)));
    let third = store.import_contacts(ws, &rows[1..2], &keys).await.unwrap();
    assert_eq!(third, [ImportOutcome::Unchanged(bob)]);
    let organizations = store
        .organizations(
            ws,
            Page {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(organizations.len(), 2);
    let everyone = store
        .contacts(
            ws,
            Page {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(everyone.len(), 2);
    // Every created or changed contact is in the change log (search follows it).
    let logged: HashSet<i64> = store
        .changes_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == RecordKind::Contact)
        .map(|c| c.id)
        .collect();
    assert!(logged.contains(&ann.get()) && logged.contains(&bob.get()));
    // Another workspace is untouched and matches nothing of this one.
    let other = workspace(store).await;
    let outcomes = store
        .import_contacts(other, &rows[1..2], &keys)
        .await
        .unwrap();
    assert!(matches!(outcomes[0], ImportOutcome::Created(_)));
}

async fn imports_match_by_the_keys_given_in_order(store: &dyn Store) {
    let ws = workspace(store).await;
    let mut by_email = contact("By email");
    by_email.email = Some(Email::parse("one@example.com").unwrap());
    let by_email = store.create_contact(ws, &by_email).await.unwrap();
    let mut by_phone = contact("By phone");
    by_phone.phone = Some(phone("+4917612345678"));
    let by_phone = store.create_contact(ws, &by_phone).await.unwrap();
    let row = ImportRow {
        patch: ContactPatch {
            email: Patch::Set(Email::parse("one@example.com").unwrap()),
            phone: Patch::Set(phone("+4917612345678")),
            last_name: Patch::Set("Matched".into()),
            ..ContactPatch::default()
        },
        organizations: Vec::new(),
    };
    let outcome = store
        .import_contacts(ws, std::slice::from_ref(&row), &[MatchKey::Phone])
        .await
        .unwrap();
    assert_eq!(
        outcome,
        [ImportOutcome::Rejected(
            "email \"one@example.com\" is already used by contact 1".into()
        )]
    );
    let outcome = store
        .import_contacts(ws, &[row], &[MatchKey::Email, MatchKey::Phone])
        .await
        .unwrap();
    assert_eq!(outcome, [ImportOutcome::Updated(by_email.id)]);
    let stored = store.contact(ws, by_email.id).await.unwrap().unwrap();
    assert_eq!(stored.data.last_name.as_deref(), Some("Matched"));
    assert_eq!(
        store.contact(ws, by_phone.id).await.unwrap(),
        Some(by_phone)
    );
}

/// Case-insensitive conditions and the name sort give the same answers on both stores for
/// letters beyond ASCII (SQLite's own `lower()` folds ASCII only).
async fn case_insensitive_matching_folds_beyond_ascii(store: &dyn Store) {
    use roster_core::domain::fold_case;
    let ws = workspace(store).await;
    let names = [
        "ÖZTÜRK",
        "ΣΟΦΊΑ",
        "ΟΔΥΣΣΕΥΣ",
        "İSTANBUL Ltd",
        "Ärger",
        "zed",
        "Apple",
    ];
    let mut ids = Vec::new();
    for name in names {
        let mut data = contact(name);
        if name == "ÖZTÜRK" {
            data.email = Some(Email::parse("JÜRGEN.Öztürk@BÜCHER.de").unwrap());
            data.custom_attributes = json!({"city": "MÜNCHEN"}).as_object().unwrap().clone();
        }
        ids.push(store.create_contact(ws, &data).await.unwrap().id);
    }
    let found = |field: TextField, op: TextOp, value: &str| {
        let query = ContactQuery {
            conditions: vec![(
                Condition::Text {
                    field,
                    op,
                    values: vec![fold_case(value)],
                },
                Join::And,
            )],
            limit: 50,
            ..ContactQuery::default()
        };
        async move {
            let contacts = store.query_contacts(ws, &query).await.unwrap();
            assert_eq!(
                store.count_contacts(ws, &query).await.unwrap(),
                contacts.len() as u64
            );
            contacts
                .into_iter()
                .map(|c| c.data.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found(TextField::Name, TextOp::Equal, "öztürk").await,
        ["ÖZTÜRK"]
    );
    assert_eq!(
        found(TextField::Name, TextOp::Equal, "Σοφία").await,
        ["ΣΟΦΊΑ"]
    );
    assert_eq!(
        found(TextField::Name, TextOp::Equal, "οδυσσευς").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(TextField::Name, TextOp::Equal, "Οδυσσευσ").await,
        ["ΟΔΥΣΣΕΥΣ"]
    );
    assert_eq!(
        found(TextField::Name, TextOp::Contains, "istanbul").await,
        ["İSTANBUL Ltd"]
    );
    assert_eq!(
        found(TextField::Name, TextOp::StartsWith, "Öz").await,
        ["ÖZTÜRK"]
    );
    assert_eq!(
        found(TextField::Name, TextOp::NotEqual, "ärger")
            .await
            .len(),
        names.len() - 1
    );
    assert_eq!(
        found(TextField::Email, TextOp::Equal, "jürgen.öztürk@bücher.DE").await,
        ["ÖZTÜRK"]
    );
    assert_eq!(
        found(TextField::Custom("city".into()), TextOp::Equal, "München").await,
        ["ÖZTÜRK"]
    );

    // The name sort compares folded names, byte by byte, on both stores.
    let sorted = store
        .query_contacts(
            ws,
            &ContactQuery {
                sort: vec![SortKey {
                    field: SortField::Name,
                    descending: false,
                }],
                limit: 50,
                ..ContactQuery::default()
            },
        )
        .await
        .unwrap();
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_by_key(|name| fold_case(name));
    assert_eq!(
        sorted
            .iter()
            .map(|c| c.data.name.as_deref().unwrap())
            .collect::<Vec<_>>(),
        expected
    );
}

/// Imported attributes merge into the contact's: a row whose merge would pass the cap is
/// rejected, and the contact keeps what it had.
async fn imports_keep_merged_attributes_under_the_size_cap(store: &dyn Store) {
    let ws = workspace(store).await;
    let half = "x".repeat(40_000);
    let mut ann = contact("Ann");
    ann.email = Some(Email::parse("ann@example.com").unwrap());
    ann.custom_attributes = json!({"a": half}).as_object().unwrap().clone();
    let ann = store.create_contact(ws, &ann).await.unwrap();
    let mut row = import_row("Ann", Some("ann@example.com"), None, &[]);
    row.patch.custom_attributes =
        AttributesPatch::Merge(json!({"b": half}).as_object().unwrap().clone());
    let outcomes = store
        .import_contacts(ws, &[row], &MatchKey::DEFAULT_ORDER)
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [ImportOutcome::Rejected(
            "custom attributes: must be at most 65536 bytes as JSON".into()
        )]
    );
    assert_eq!(store.contact(ws, ann.id).await.unwrap(), Some(ann));
}

fn claim<'a>(
    key: &'a str,
    fingerprint: &'a [u8],
    owner: &'a str,
    now: i64,
) -> IdempotencyClaim<'a> {
    IdempotencyClaim {
        scope: "key:1",
        key,
        fingerprint,
        owner,
        now: Timestamp::from_micros(now),
        lease_until: Timestamp::from_micros(now + 30),
        expires: Timestamp::from_micros(now + 1000),
    }
}

/// A key is claimed once; while it runs a second claim is told so; its answer is replayed
/// for the same request only; a dead request's lease is taken over; expired keys go.
async fn idempotency_keys_run_once_replay_and_expire(store: &dyn Store) {
    let answer = StoredResponse {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{\"id\":1}".to_vec(),
    };
    let first = claim("k1", b"same", "a", 100);
    assert_eq!(
        store.claim_idempotency_key(&first).await,
        Ok(IdempotencyState::Claimed)
    );
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k1", b"same", "b", 101))
            .await,
        Ok(IdempotencyState::Running)
    );
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k1", b"other", "b", 101))
            .await,
        Ok(IdempotencyState::OtherRequest)
    );
    // Another caller's key of the same name is its own.
    let mut elsewhere = claim("k1", b"other", "c", 101);
    elsewhere.scope = "key:2";
    assert_eq!(
        store.claim_idempotency_key(&elsewhere).await,
        Ok(IdempotencyState::Claimed)
    );
    // Only the owner keeps an answer.
    store
        .complete_idempotency_key("key:1", "k1", "b", &answer)
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k1", b"same", "b", 102))
            .await,
        Ok(IdempotencyState::Running)
    );
    store
        .complete_idempotency_key("key:1", "k1", "a", &answer)
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k1", b"same", "b", 200))
            .await,
        Ok(IdempotencyState::Answered(answer.clone()))
    );
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k1", b"other", "b", 200))
            .await,
        Ok(IdempotencyState::OtherRequest)
    );

    // A request that died: once its lease ran out the same request takes over, renewed
    // leases hold, a released key is claimed afresh.
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"x", "a", 100))
            .await,
        Ok(IdempotencyState::Claimed)
    );
    store
        .renew_idempotency_lease("key:1", "k2", "a", Timestamp::from_micros(160))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"x", "b", 150))
            .await,
        Ok(IdempotencyState::Running)
    );
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"y", "b", 170))
            .await,
        Ok(IdempotencyState::OtherRequest)
    );
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"x", "b", 170))
            .await,
        Ok(IdempotencyState::Claimed)
    );
    store
        .release_idempotency_key("key:1", "k2", "a")
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"x", "c", 171))
            .await,
        Ok(IdempotencyState::Running),
        "a released lease that was not the holder's changes nothing"
    );
    store
        .release_idempotency_key("key:1", "k2", "b")
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"z", "c", 172))
            .await,
        Ok(IdempotencyState::Claimed)
    );

    // Expired keys (k1 and key:2's expire at 1101, k2's at 1172) are pruned oldest first.
    assert_eq!(
        store
            .prune_idempotency_keys(Timestamp::from_micros(1101), 1)
            .await,
        Ok(1)
    );
    assert_eq!(
        store
            .prune_idempotency_keys(Timestamp::from_micros(1101), 10)
            .await,
        Ok(1)
    );
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"q", "d", 1150))
            .await,
        Ok(IdempotencyState::OtherRequest)
    );
    // An expired key is claimed afresh even before it is pruned.
    assert_eq!(
        store
            .claim_idempotency_key(&claim("k2", b"q", "d", 1172))
            .await,
        Ok(IdempotencyState::Claimed)
    );
}

async fn every_write_bumps_the_version_and_a_stale_precondition_fails(store: &dyn Store) {
    let ws = workspace(store).await;
    let version = |id: ContactId| async move {
        store
            .record_version(ws, RecordKind::Contact, id.get())
            .await
            .unwrap()
    };
    let ann = store.create_contact(ws, &contact("Ann")).await.unwrap();
    let v1 = version(ann.id).await.unwrap();
    store.set_labels(ws, ann.id, &["vip".into()]).await.unwrap();
    let v2 = version(ann.id).await.unwrap();
    assert!(v2 > v1, "labels bump the version");
    let rename = || ContactPatch {
        name: Patch::Set("Ann B".into()),
        ..ContactPatch::default()
    };
    let stale = Expected {
        kind: RecordKind::Contact,
        id: ann.id.get(),
        version: v1,
    };
    let roster_run = |expected: Expected| {
        roster_core::write::unless_changed(
            Some(expected),
            store.update_contact(ws, ann.id, rename()),
        )
    };
    assert_eq!(
        roster_run(stale).await.map(|_| ()),
        Err(Error::PreconditionFailed)
    );
    assert_eq!(
        version(ann.id).await,
        Some(v2),
        "the failed write changed nothing"
    );
    assert_eq!(
        store
            .contact(ws, ann.id)
            .await
            .unwrap()
            .unwrap()
            .data
            .name
            .as_deref(),
        Some("Ann")
    );
    let current = Expected {
        version: v2,
        ..stale
    };
    assert!(roster_run(current).await.is_ok());
    assert!(version(ann.id).await.unwrap() > v2);
    // A missing record fails any precondition; organizations have versions too.
    assert_eq!(
        store.record_version(ws, RecordKind::Contact, 9999).await,
        Ok(None)
    );
    let org = store
        .create_organization(ws, &organization("Acme"))
        .await
        .unwrap();
    let o1 = store
        .record_version(ws, RecordKind::Organization, org.id.get())
        .await
        .unwrap()
        .unwrap();
    store.delete_organization(ws, org.id).await.unwrap();
    assert_eq!(
        store
            .record_version(ws, RecordKind::Organization, org.id.get())
            .await,
        Ok(None)
    );
    assert!(o1 >= 1);
}

/// The outcome of a failed attempt at `delivery`, `at`, retried 5 s later.
fn failed_at(
    delivery: &roster_core::webhooks::Delivery,
    at: Timestamp,
) -> roster_core::webhooks::DeliveryOutcome {
    roster_core::webhooks::DeliveryOutcome {
        webhook_id: delivery.webhook.id,
        event_seq: delivery.event.seq,
        attempt: delivery.attempt,
        at,
        status: Some(500),
        error: Some("the endpoint answered 500".into()),
        delivered: false,
        next_retry: Some(Timestamp::from_micros(at.micros() + 5_000_000)),
        disable: None,
        skipped: false,
    }
}

async fn an_endpoint_failing_for_three_days_is_disabled_and_a_success_clears_it(store: &dyn Store) {
    use roster_core::webhooks::{NewWebhook, WebhookFormat};
    let ws = workspace(store).await;
    let webhook = store
        .create_webhook(
            ws,
            &NewWebhook {
                url: "https://hooks.example.com/roster".into(),
                format: WebhookFormat::Roster,
                events: None,
                fields: None,
                subscriptions: None,
                description: None,
                sealed_secret: vec![1, 2, 3],
            },
        )
        .await
        .unwrap();
    store.create_contact(ws, &contact("Ada")).await.unwrap();
    let hour = 3_600_000_000;
    let t0 = Timestamp::from_micros(Timestamp::now().micros() + 1_000_000);
    let at = |hours: i64| Timestamp::from_micros(t0.micros() + hours * hour);
    let state = || async {
        let (webhook, _) = store.webhook(ws, webhook.id).await.unwrap().unwrap();
        (
            webhook.enabled,
            webhook.failing_since,
            webhook.disabled_reason,
        )
    };
    // Fails at t0, then again just short of 3 days later: still enabled.
    for hours in [0, 71] {
        let lease = at(hours + 1);
        let taken = store
            .claim_deliveries("node", at(hours), lease, 10)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "due at {hours} h");
        store
            .finish_deliveries("node", &[failed_at(&taken[0], at(hours))])
            .await
            .unwrap();
        assert_eq!(state().await, (true, Some(t0), None), "after {hours} h");
    }
    // A delivery that goes through clears the failing streak.
    store.create_contact(ws, &contact("Grace")).await.unwrap();
    let taken = store
        .claim_deliveries("node", at(72), at(73), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    let mut outcomes: Vec<_> = taken.iter().map(|d| failed_at(d, at(72))).collect();
    outcomes[1].delivered = true;
    outcomes[1].next_retry = None;
    outcomes[1].status = Some(200);
    outcomes[1].error = None;
    store
        .finish_deliveries("node", &outcomes[1..])
        .await
        .unwrap();
    store
        .finish_deliveries("node", &outcomes[..1])
        .await
        .unwrap();
    assert_eq!(state().await, (true, Some(at(72)), None));
    // Failing for 3 days from then disables the endpoint, saying why.
    let taken = store
        .claim_deliveries("node", at(145), at(146), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    store
        .finish_deliveries("node", &[failed_at(&taken[0], at(145))])
        .await
        .unwrap();
    let (enabled, _, reason) = state().await;
    assert!(!enabled);
    assert_eq!(reason.as_deref(), Some("every delivery failed for 3 days"));
    // A disabled endpoint is sent nothing.
    let later = store
        .claim_deliveries("node", at(200), at(201), 10)
        .await
        .unwrap();
    assert!(later.is_empty());
}
