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

/// The contacts of rows just inserted (each created and updated at its own time).
fn new_contacts(rows: &[(ContactId, Timestamp, &ContactData)]) -> Vec<Contact> {
    rows.iter()
        .map(|&(id, at, data)| Contact {
            id,
            created: at,
            updated: at,
            data: data.clone(),
        })
        .collect()
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
    now: Timestamp,
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
        let now = tick(tx, workspace, now).await?;
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
        let created = Organization {
            id,
            created: now,
            updated: now,
            data,
        };
        record_events(
            tx,
            workspace,
            &[NewEvent::organization_created(&created)],
            now,
        )
        .await?;
        ids.insert(name.to_owned(), id);
    }
    Ok(ids)
}

/// The column that holds an identity.
fn identity_column(identity: &Identity) -> &'static str {
    match identity {
        Identity::Email(_) => "email",
        Identity::ExternalId(_) => "external_id",
        Identity::Phone(_) => "phone",
        Identity::Channel(channel, _) => channel_column(*channel),
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
            .entry(identity_column(identity))
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

#[async_trait::async_trait]
impl BulkStore for StoreImpl {
    async fn create_contacts(
        &self,
        workspace: WorkspaceId,
        data: &[ContactData],
    ) -> Result<Vec<Contact>> {
        let Ok(count) = i64::try_from(data.len()) else {
            return Err(Error::internal("too many contacts in one batch"));
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut tx = begin(self.writer()).await?;
        // One clock and id range for the whole batch, in order.
        let (first_clock, first_id) = reserve(&mut tx, workspace, count, count, self.now()).await?;
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
        let contacts = new_contacts(&rows);
        let now = Timestamp::from_micros(first_clock + count - 1);
        let events = created_events(&mut tx, workspace, contacts.clone(), &rows, now).await?;
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(contacts)
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
        tick(&mut tx, workspace, self.now()).await?;
        let mut names: Vec<&str> = rows
            .iter()
            .flat_map(|row| row.organizations.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        let organizations = organizations_named(&mut tx, workspace, &names, self.now()).await?;

        // Every stored contact a row could match or collide with; then the plan.
        let stored = contacts_with_identities(&mut tx, workspace, &identities_sought(rows)).await?;
        let plan = plan_import(rows, keys, stored, &organizations);

        // Ids and timestamps: one range for the batch, in row order.
        let count =
            i64::try_from(plan.created.len() + plan.changed.len()).map_err(Error::internal)?;
        let (first_clock, first_id) = reserve(
            &mut tx,
            workspace,
            count,
            plan.created.len() as i64,
            self.now(),
        )
        .await?;
        let mut inserts = Vec::with_capacity(plan.created.len());
        for (n, data) in plan.created.iter().enumerate() {
            if let Some(level) = &data.governance_level_id {
                check_governance_level(&mut tx, workspace, level).await?;
            }
            let id = ContactId::new(first_id + n as i64)
                .ok_or_else(|| Error::internal("contact ids of this workspace are exhausted"))?;
            inserts.push((id, Timestamp::from_micros(first_clock + n as i64), data));
        }
        insert_contacts(&mut tx, workspace, &inserts).await?;
        insert_contact_extras(&mut tx, workspace, &inserts).await?;
        let created = plan.created.len();
        let now = Timestamp::from_micros(first_clock + count.max(1) - 1);
        let mut events =
            created_events(&mut tx, workspace, new_contacts(&inserts), &inserts, now).await?;
        let originals = plan
            .changed
            .iter()
            .map(|(original, _)| original.clone())
            .collect();
        let had = contact_records(&mut tx, workspace, originals, false, now).await?;
        let mut changed = Vec::with_capacity(plan.changed.len());
        for (n, (original, data)) in plan.changed.iter().enumerate() {
            let at = Timestamp::from_micros(first_clock + (created + n) as i64);
            changed
                .push(write_contact(&mut tx, workspace, original.clone(), data.clone(), at).await?);
        }
        let has = contact_records(&mut tx, workspace, changed, false, now).await?;
        for (had, has) in had.iter().zip(&has) {
            let updated = EventType::ContactUpdated;
            events.extend(contact_write_events(&mut tx, workspace, updated, had, has).await?);
        }
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        plan.outcomes(first_id).map_err(Error::internal)
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
