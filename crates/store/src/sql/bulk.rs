// Many records at once: bulk creates and CSV import batches (planned in memory, written
// with multi-row statements), and the scans index rebuilds read.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

/// Inserts contacts with multi-row statements: bulk imports write thousands per batch,
/// and one statement per row is what would cost the time.
async fn insert_contacts<'a>(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: &'a [(ContactId, Timestamp, &'a ContactData)],
) -> Result<()> {
    // 40 binds a row; both backends take well over 20,000 per statement.
    for chunk in contacts.chunks(500) {
        let mut query: QueryBuilder<'a, Db> = QueryBuilder::new(format!(
            "INSERT INTO contacts (workspace_id, id, created_us, updated_us, {}) ",
            CONTACT_DATA_COLUMNS.join(", ")
        ));
        query.push_values(chunk, |mut row, &(id, at, data)| {
            row.push_bind(workspace.get())
                .push_bind(id.get())
                .push_bind(at.micros())
                .push_bind(at.micros());
            // Borrowed, not copied: the rows outlive the statement.
            for value in contact_values(data) {
                match value {
                    SqlValue::Text(text) => row.push_bind(text),
                    SqlValue::Int(number) => row.push_bind(number),
                    SqlValue::Bool(flag) => row.push_bind(flag),
                    SqlValue::Json(object) => row.push_bind(Json(object)),
                };
            }
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    Ok(())
}

/// Memberships and change-log entries of newly inserted contacts, many rows a statement.
async fn insert_contact_extras(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: &[(ContactId, Timestamp, &ContactData)],
) -> Result<()> {
    let memberships: Vec<(ContactId, OrganizationId)> = contacts
        .iter()
        .flat_map(|&(id, _, data)| data.organization_ids.iter().map(move |&org| (id, org)))
        .collect();
    for chunk in memberships.chunks(5_000) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO contact_organizations (workspace_id, organization_id, contact_id) ",
        );
        query.push_values(chunk, |mut row, &(contact, organization)| {
            row.push_bind(workspace.get())
                .push_bind(organization.get())
                .push_bind(contact.get());
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    for chunk in contacts.chunks(5_000) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO changes (workspace_id, kind, record_id, changed_us) ",
        );
        query.push_values(chunk, |mut row, &(id, at, _)| {
            row.push_bind(workspace.get())
                .push_bind(RecordKind::Contact.as_str())
                .push_bind(id.get())
                .push_bind(at.micros());
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    Ok(())
}

/// The ids of organizations by name (the oldest of each name), creating the missing ones,
/// each with a `created` of its own from the workspace clock (lists page by it).
async fn organizations_named(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    names: &[&str],
) -> Result<HashMap<String, OrganizationId>> {
    let mut ids = HashMap::new();
    for chunk in names.chunks(1_000) {
        let mut query =
            QueryBuilder::<Db>::new("SELECT id, name FROM organizations WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND name IN (");
        let mut list = query.separated(", ");
        for name in chunk {
            list.push_bind(name.to_string());
        }
        query.push(") ORDER BY id DESC");
        let found: Vec<(i64, String)> = query
            .build_query_as()
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
        // Descending, so the oldest of a name is inserted last and wins.
        for (id, name) in found {
            ids.insert(name, OrganizationId::from_stored(id));
        }
    }
    for &name in names {
        if ids.contains_key(name) {
            continue;
        }
        let id = next_organization_id(tx, workspace).await?;
        let now = tick(tx, workspace).await?;
        let data = OrganizationData {
            name: name.to_owned(),
            ..OrganizationData::default()
        };
        let insert = sqlx::query(&INSERT_ORGANIZATION)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros())
            .bind(now.micros());
        bind_organization(insert, &data)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
        record_change(tx, workspace, RecordKind::Organization, id.get(), now).await?;
        ids.insert(name.to_owned(), id);
    }
    Ok(ids)
}

/// A value that identifies a contact: the unique fields, and the phone (not unique, but
/// matched on).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    Email(String),
    ExternalId(String),
    Phone(String),
    Channel(roster_core::model::Channel, String),
}

impl Identity {
    fn unique(&self) -> bool {
        !matches!(self, Identity::Phone(_))
    }

    fn describe(&self) -> String {
        match self {
            Identity::Email(_) => "email".to_owned(),
            Identity::ExternalId(_) => "external_id".to_owned(),
            Identity::Phone(_) => "phone".to_owned(),
            Identity::Channel(channel, _) => format!("{channel:?} id").to_lowercase(),
        }
    }

    fn of(data: &ContactData) -> Vec<Identity> {
        let mut all = Vec::with_capacity(4);
        if let Some(email) = &data.email {
            all.push(Identity::Email(email.as_str().to_owned()));
        }
        if let Some(id) = &data.external_id {
            all.push(Identity::ExternalId(id.as_str().to_owned()));
        }
        if let Some(phone) = &data.phone {
            all.push(Identity::Phone(phone.as_str().to_owned()));
        }
        for channel in roster_core::model::Channel::ALL {
            if let Some(id) = data.channels.get(channel) {
                all.push(Identity::Channel(channel, id.to_owned()));
            }
        }
        all
    }

    /// The identities a patch sets (without building the contact it would make).
    fn set_by(patch: &ContactPatch) -> Vec<Identity> {
        let mut all = Vec::with_capacity(4);
        if let Patch::Set(email) = &patch.email {
            all.push(Identity::Email(email.as_str().to_owned()));
        }
        if let Patch::Set(id) = &patch.external_id {
            all.push(Identity::ExternalId(id.as_str().to_owned()));
        }
        if let Patch::Set(phone) = &patch.phone {
            all.push(Identity::Phone(phone.as_str().to_owned()));
        }
        for (channel, value) in &patch.channels {
            if let Patch::Set(id) = value {
                all.push(Identity::Channel(*channel, id.clone()));
            }
        }
        all
    }

    /// What a row would be matched by under `key`.
    fn for_key(patch: &ContactPatch, key: MatchKey) -> Option<Identity> {
        match (key, patch) {
            (
                MatchKey::Email,
                ContactPatch {
                    email: Patch::Set(email),
                    ..
                },
            ) => Some(Identity::Email(email.as_str().to_owned())),
            (
                MatchKey::ExternalId,
                ContactPatch {
                    external_id: Patch::Set(id),
                    ..
                },
            ) => Some(Identity::ExternalId(id.as_str().to_owned())),
            (
                MatchKey::Phone,
                ContactPatch {
                    phone: Patch::Set(phone),
                    ..
                },
            ) => Some(Identity::Phone(phone.as_str().to_owned())),
            _ => None,
        }
    }

    fn column(&self) -> &'static str {
        match self {
            Identity::Email(_) => "email",
            Identity::ExternalId(_) => "external_id",
            Identity::Phone(_) => "phone",
            Identity::Channel(channel, _) => match channel {
                roster_core::model::Channel::Whatsapp => "whatsapp_id",
                roster_core::model::Channel::Telegram => "telegram_id",
                roster_core::model::Channel::Facebook => "facebook_id",
                roster_core::model::Channel::Instagram => "instagram_id",
                roster_core::model::Channel::Web => "web_id",
                roster_core::model::Channel::Provider => "provider_id",
            },
        }
    }

    fn value(&self) -> &str {
        match self {
            Identity::Email(v)
            | Identity::ExternalId(v)
            | Identity::Phone(v)
            | Identity::Channel(_, v) => v,
        }
    }
}

/// Stored contacts holding any of these identities, by id.
async fn contacts_with_identities(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    identities: &FastSet<Identity>,
) -> Result<Vec<Contact>> {
    let mut by_column: HashMap<&'static str, Vec<&str>> = HashMap::new();
    for identity in identities {
        by_column
            .entry(identity.column())
            .or_default()
            .push(identity.value());
    }
    let mut found: HashMap<i64, ContactRow> = HashMap::new();
    for (column, values) in by_column {
        for chunk in values.chunks(2_000) {
            let mut query = QueryBuilder::<Db>::new(format!(
                "SELECT {} FROM contacts WHERE workspace_id = ",
                *CONTACT_COLUMNS
            ));
            query
                .push_bind(workspace.get())
                .push(format!(" AND {column} IN ("));
            let mut list = query.separated(", ");
            for value in chunk {
                list.push_bind(value.to_string());
            }
            query.push(")");
            let rows: Vec<ContactRow> = query
                .build_query_as()
                .fetch_all(&mut **tx)
                .await
                .map_err(db_error)?;
            for row in rows {
                found.insert(row.id, row);
            }
        }
    }
    let mut rows: Vec<ContactRow> = found.into_values().collect();
    rows.sort_unstable_by_key(|row| row.id);
    with_memberships(tx, workspace, rows).await
}

/// Hash maps for planning import batches (hundreds of thousands of lookups a batch):
/// foldhash is randomly seeded per process like std's SipHash, and several times faster.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Where a row's contact is while a batch is planned: stored, or the n-th the batch creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Stored(ContactId),
    New(usize),
}

#[async_trait::async_trait]
impl BulkStore for StoreImpl {
    async fn create_contacts(
        &self,
        workspace: WorkspaceId,
        data: &[ContactData],
    ) -> Result<Vec<ContactId>> {
        let Ok(count) = i64::try_from(data.len()) else {
            return Err(Error::internal("too many contacts in one batch"));
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut tx = begin(self.writer()).await?;
        // One clock and id range for the whole batch, in order.
        let (first_clock, first_id) = reserve(&mut tx, workspace, count, count).await?;
        let mut rows = Vec::with_capacity(data.len());
        for (i, contact) in (0..count).zip(data) {
            let id = ContactId::new(first_id + i)
                .ok_or_else(|| Error::internal("contact ids of this workspace are exhausted"))?;
            if let Some(level) = &contact.governance_level_id {
                check_governance_level(&mut tx, workspace, level).await?;
            }
            rows.push((id, Timestamp::from_micros(first_clock + i), contact));
        }
        let organizations: Vec<OrganizationId> = data
            .iter()
            .flat_map(|contact| contact.organization_ids.iter().copied())
            .collect();
        check_organizations_exist(&mut tx, workspace, &organizations).await?;
        insert_contacts(&mut tx, workspace, &rows).await?;
        insert_contact_extras(&mut tx, workspace, &rows).await?;
        commit(tx).await?;
        Ok(rows.into_iter().map(|(id, _, _)| id).collect())
    }

    async fn import_contacts(
        &self,
        workspace: WorkspaceId,
        rows: &[ImportRow],
        keys: &[MatchKey],
    ) -> Result<Vec<ImportOutcome>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = begin(self.writer()).await?;
        // Also proves the workspace exists before anything is written.
        tick(&mut tx, workspace).await?;
        let mut names: Vec<&str> = rows
            .iter()
            .flat_map(|row| row.organizations.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        let organizations = organizations_named(&mut tx, workspace, &names).await?;

        // Every stored contact a row could match or collide with, and who holds what.
        let mut wanted = FastSet::default();
        for row in rows {
            wanted.extend(Identity::set_by(&row.patch));
        }
        let stored = contacts_with_identities(&mut tx, workspace, &wanted).await?;
        let mut holders: FastMap<Identity, Slot> = FastMap::default();
        let mut current: FastMap<Slot, ContactData> = FastMap::default();
        let mut originals: FastMap<ContactId, Contact> = FastMap::default();
        for contact in stored {
            let slot = Slot::Stored(contact.id);
            for identity in Identity::of(&contact.data) {
                holders.entry(identity).or_insert(slot);
            }
            current.insert(slot, contact.data.clone());
            originals.insert(contact.id, contact);
        }

        // Plan every row in memory, in order, so later rows see earlier ones.
        // Each row's slot and what it will be reported as once ids are known.
        let mut planned: Vec<std::result::Result<(Slot, fn(ContactId) -> ImportOutcome), String>> =
            Vec::with_capacity(rows.len());
        let mut created: Vec<Slot> = Vec::new();
        for row in rows {
            let target = keys
                .iter()
                .filter_map(|&key| Identity::for_key(&row.patch, key))
                .find_map(|identity| holders.get(&identity).copied());
            let before = target.and_then(|slot| current.get(&slot).cloned());
            let mut data = before.clone().unwrap_or_default();
            row.patch.clone().apply_to(&mut data);
            let mut memberships = data.organization_ids.clone();
            memberships.extend(
                row.organizations
                    .iter()
                    .filter_map(|name| organizations.get(name)),
            );
            data.organization_ids = roster_core::model::normalize_ids(memberships);
            // Attributes merge into what the contact has: the sum must fit too.
            if let Err(reason) = data.check_attributes_sizes() {
                planned.push(Err(reason));
                continue;
            }
            let identities = Identity::of(&data);
            if let Some(taken) = identities.iter().find(|identity| {
                identity.unique()
                    && holders
                        .get(identity)
                        .is_some_and(|&holder| Some(holder) != target)
            }) {
                let holder = match holders[taken] {
                    Slot::Stored(id) => format!("contact {id}"),
                    Slot::New(_) => "an earlier row".to_owned(),
                };
                planned.push(Err(format!(
                    "{} {:?} is already used by {holder}",
                    taken.describe(),
                    taken.value()
                )));
                continue;
            }
            let (slot, outcome): (Slot, fn(ContactId) -> ImportOutcome) = match (target, before) {
                (Some(slot), Some(before)) if before == data => (slot, ImportOutcome::Unchanged),
                (Some(slot), Some(before)) => {
                    for identity in Identity::of(&before) {
                        if holders.get(&identity) == Some(&slot) {
                            holders.remove(&identity);
                        }
                    }
                    (slot, ImportOutcome::Updated)
                }
                _ => {
                    let slot = Slot::New(created.len());
                    created.push(slot);
                    (slot, ImportOutcome::Created)
                }
            };
            for identity in identities {
                holders.entry(identity).or_insert(slot);
            }
            current.insert(slot, data);
            planned.push(Ok((slot, outcome)));
        }

        // Ids and timestamps: one range for the batch, in row order.
        let changed: Vec<ContactId> = originals
            .keys()
            .copied()
            .filter(|id| current.get(&Slot::Stored(*id)) != Some(&originals[id].data))
            .collect();
        let count = i64::try_from(created.len() + changed.len()).map_err(Error::internal)?;
        let (first_clock, first_id) =
            reserve(&mut tx, workspace, count, created.len() as i64).await?;
        let id_of = |slot: Slot| -> Result<ContactId> {
            match slot {
                Slot::Stored(id) => Ok(id),
                Slot::New(n) => ContactId::new(first_id + n as i64)
                    .ok_or_else(|| Error::internal("contact ids of this workspace are exhausted")),
            }
        };

        let mut inserts = Vec::with_capacity(created.len());
        for (n, &slot) in created.iter().enumerate() {
            let data = &current[&slot];
            if let Some(level) = &data.governance_level_id {
                check_governance_level(&mut tx, workspace, level).await?;
            }
            inserts.push((
                id_of(slot)?,
                Timestamp::from_micros(first_clock + n as i64),
                data,
            ));
        }
        insert_contacts(&mut tx, workspace, &inserts).await?;
        insert_contact_extras(&mut tx, workspace, &inserts).await?;
        for (n, id) in changed.iter().enumerate() {
            let at = Timestamp::from_micros(first_clock + (created.len() + n) as i64);
            let original = originals[id].clone();
            let data = current[&Slot::Stored(*id)].clone();
            write_contact(&mut tx, workspace, original, data, at).await?;
        }
        commit(tx).await?;

        planned
            .into_iter()
            .map(|plan| match plan {
                Err(reason) => Ok(ImportOutcome::Rejected(reason)),
                Ok((slot, outcome)) => Ok(outcome(id_of(slot)?)),
            })
            .collect()
    }

    async fn scan_contacts(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        contacts_as_json(&mut conn, workspace, |query| {
            query
                .push("id > ")
                .push_bind(after)
                .push(" ORDER BY id LIMIT ")
                .push_bind(i64::from(limit));
        })
        .await
    }

    async fn scan_organizations(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Organization>> {
        let rows: Vec<OrganizationRow> = sqlx::query_as(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(workspace.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(Organization::from).collect())
    }
}
