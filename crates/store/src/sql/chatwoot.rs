// Chatwoot's records: inboxes, a contact's links to them, labels, merges.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

const INBOX_COLUMNS: &str = "id, name, channel_type, provider, created_us";

fn decode_inbox(row: &DbRow, prefix: &str) -> Result<Inbox> {
    let get = |column: &str| format!("{prefix}{column}");
    let decoded = (|| -> Decoded<Inbox> {
        let channel: String = row.try_get(get("channel_type").as_str())?;
        Ok(Inbox {
            id: row.try_get(get("id").as_str())?,
            name: row.try_get(get("name").as_str())?,
            channel: InboxChannel::parse(&channel)
                .map_err(|reason| sqlx::Error::Decode(reason.into()))?,
            provider: row.try_get(get("provider").as_str())?,
            created: Timestamp::from_micros(row.try_get(get("created_us").as_str())?),
        })
    })();
    decoded.map_err(db_error)
}

async fn fetch_inbox(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    id: i64,
) -> Result<Option<Inbox>> {
    let row: Option<DbRow> = sqlx::query(&format!(
        "SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace.get())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    row.map(|row| decode_inbox(&row, "")).transpose()
}

/// Links a contact to an inbox inside a write transaction: an identical link is kept,
/// a `source_id` another contact holds in that inbox is a conflict.
async fn insert_contact_inbox(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contact: ContactId,
    link: &NewContactInbox,
    now: Timestamp,
) -> Result<ContactInbox> {
    let inbox = fetch_inbox(tx, workspace, link.inbox_id)
        .await?
        .ok_or(Error::NotFound(Resource::Inbox))?;
    let holder: Option<(i64, i64)> = sqlx::query_as(
        "SELECT contact_id, created_us FROM contact_inboxes WHERE workspace_id = $1 AND inbox_id = $2 AND source_id = $3",
    )
    .bind(workspace.get())
    .bind(link.inbox_id)
    .bind(link.source_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let created = match holder {
        Some((holder, created)) if holder == contact.get() => Timestamp::from_micros(created),
        Some(_) => return Err(Error::Conflict(UniqueField::SourceId)),
        None => {
            sqlx::query(
                "INSERT INTO contact_inboxes (workspace_id, inbox_id, source_id, contact_id, created_us) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(workspace.get())
            .bind(link.inbox_id)
            .bind(link.source_id.as_str())
            .bind(contact.get())
            .bind(now.micros())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            now
        }
    };
    Ok(ContactInbox {
        contact_id: contact,
        inbox,
        source_id: link.source_id.clone(),
        created,
    })
}

/// Adds labels a contact does not have yet.
async fn add_labels(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    id: ContactId,
    labels: &[String],
) -> Result<()> {
    for label in labels {
        sqlx::query(
            "INSERT INTO contact_labels (workspace_id, contact_id, label) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(workspace.get())
        .bind(id.get())
        .bind(label.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn fetch_contact_inboxes(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<ContactInbox>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Db>::new(
        "SELECT ci.contact_id, ci.source_id, ci.created_us AS link_created_us, i.id AS inbox_id, \
         i.name AS inbox_name, i.channel_type AS inbox_channel_type, i.provider AS inbox_provider, \
         i.created_us AS inbox_created_us \
         FROM contact_inboxes ci JOIN inboxes i ON i.workspace_id = ci.workspace_id AND i.id = ci.inbox_id \
         WHERE ci.workspace_id = ",
    );
    query
        .push_bind(workspace.get())
        .push(" AND ci.contact_id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.get());
    }
    query.push(") ORDER BY ci.contact_id, ci.created_us, ci.inbox_id, ci.source_id");
    let rows: Vec<DbRow> = query
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let decoded = (|| -> Decoded<(i64, String, i64)> {
                Ok((
                    row.try_get("contact_id")?,
                    row.try_get("source_id")?,
                    row.try_get("link_created_us")?,
                ))
            })();
            let (contact, source_id, created) = decoded.map_err(db_error)?;
            Ok(ContactInbox {
                contact_id: ContactId::from_stored(contact),
                inbox: decode_inbox(row, "inbox_")?,
                source_id,
                created: Timestamp::from_micros(created),
            })
        })
        .collect()
}

async fn fetch_labels(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<(ContactId, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Db>::new(
        "SELECT contact_id, label FROM contact_labels WHERE workspace_id = ",
    );
    query
        .push_bind(workspace.get())
        .push(" AND contact_id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.get());
    }
    query.push(format!(
        ") ORDER BY contact_id, label{}",
        dialect::TEXT_ORDER
    ));
    let pairs: Vec<(i64, String)> = query
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(pairs
        .into_iter()
        .map(|(id, label)| (ContactId::from_stored(id), label))
        .collect())
}

#[async_trait::async_trait]
impl ChatwootStore for StoreImpl {
    async fn create_inbox(
        &self,
        workspace: WorkspaceId,
        name: &str,
        channel: InboxChannel,
        provider: Option<&str>,
    ) -> Result<Inbox> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let row: DbRow = sqlx::query(&format!(
            "INSERT INTO inboxes (workspace_id, name, channel_type, provider, created_us) VALUES ($1, $2, $3, $4, $5) \
             RETURNING {INBOX_COLUMNS}"
        ))
        .bind(workspace.get())
        .bind(name)
        .bind(channel.as_str())
        .bind(provider)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let inbox = decode_inbox(&row, "")?;
        self.commit(tx).await?;
        Ok(inbox)
    }

    async fn inbox(&self, workspace: WorkspaceId, id: i64) -> Result<Option<Inbox>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_inbox(&mut conn, workspace, id).await
    }

    async fn inboxes(&self, workspace: WorkspaceId) -> Result<Vec<Inbox>> {
        let rows: Vec<DbRow> = sqlx::query(&format!(
            "SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = $1 ORDER BY id"
        ))
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        rows.iter().map(|row| decode_inbox(row, "")).collect()
    }

    async fn contact_inboxes(
        &self,
        workspace: WorkspaceId,
        ids: &[ContactId],
    ) -> Result<Vec<ContactInbox>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_contact_inboxes(&mut conn, workspace, ids).await
    }

    async fn link_contact_inbox(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
        link: &NewContactInbox,
    ) -> Result<ContactInbox> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let current = locked_contact(&mut tx, workspace, contact).await?;
        let had = contact_record(&mut tx, workspace, current.clone(), now).await?;
        let linked = insert_contact_inbox(&mut tx, workspace, contact, link, now).await?;
        let has = contact_record(&mut tx, workspace, current, now).await?;
        let events =
            contact_write_events(&mut tx, workspace, EventType::ContactUpdated, &had, &has).await?;
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(linked)
    }

    async fn labels(
        &self,
        workspace: WorkspaceId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactId, String)>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_labels(&mut conn, workspace, ids).await
    }

    async fn set_labels(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        labels: &[String],
    ) -> Result<Vec<String>> {
        let mut labels = labels.to_vec();
        labels.sort_unstable();
        labels.dedup();
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        let had = contact_record(&mut tx, workspace, current.clone(), now).await?;
        sqlx::query("DELETE FROM contact_labels WHERE workspace_id = $1 AND contact_id = $2")
            .bind(workspace.get())
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        add_labels(&mut tx, workspace, id, &labels).await?;
        let has = contact_record(&mut tx, workspace, current, now).await?;
        let events =
            contact_write_events(&mut tx, workspace, EventType::ContactUpdated, &had, &has).await?;
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(labels)
    }

    async fn merge_contacts(
        &self,
        workspace: WorkspaceId,
        base: ContactId,
        mergee: ContactId,
        rules: WriteRules,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let base_contact = locked_contact(&mut tx, workspace, base).await?;
        let mergee_contact = locked_contact(&mut tx, workspace, mergee).await?;
        if base == mergee {
            return Ok(base_contact);
        }
        let had = contact_record(&mut tx, workspace, base_contact.clone(), now).await?;
        let mergee_record = contact_record(&mut tx, workspace, mergee_contact.clone(), now).await?;
        let merged =
            roster_core::merge::merge_contact_data(&base_contact.data, &mergee_contact.data);
        let mergee_labels: Vec<String> = sqlx::query_scalar(
            "SELECT label FROM contact_labels WHERE workspace_id = $1 AND contact_id = $2",
        )
        .bind(workspace.get())
        .bind(mergee.get())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("UPDATE contact_inboxes SET contact_id = $3 WHERE workspace_id = $1 AND contact_id = $2")
            .bind(workspace.get())
            .bind(mergee.get())
            .bind(base.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // The mergee goes first (with its labels and memberships), so its unique values
        // can move to the base without colliding with themselves.
        sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(mergee.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Contact, mergee.get(), now).await?;
        if rules.unique_phone && merged.phone != base_contact.data.phone {
            check_phone_free(&mut tx, workspace, merged.phone.as_ref(), Some(base)).await?;
        }
        let updated = write_contact(&mut tx, workspace, base_contact, merged, now).await?;
        add_labels(&mut tx, workspace, base, &mergee_labels).await?;
        sqlx::query(
            "INSERT INTO contact_merges (workspace_id, base_contact_id, mergee_contact_id, merged_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.get())
        .bind(base.get())
        .bind(mergee.get())
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let has = contact_record(&mut tx, workspace, updated.clone(), now).await?;
        let mut events = vec![NewEvent::contact_merged(&had, &has, &mergee_record)];
        let organizations = &mergee_contact.data.organization_ids;
        events.extend(membership_events(&mut tx, workspace, mergee, organizations, &[]).await?);
        let (before, after) = (&had.contact.data, &has.contact.data);
        events.extend(
            membership_events(
                &mut tx,
                workspace,
                base,
                &before.organization_ids,
                &after.organization_ids,
            )
            .await?,
        );
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(updated)
    }

    async fn merges(&self, workspace: WorkspaceId) -> Result<Vec<MergeRecord>> {
        let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, base_contact_id, mergee_contact_id, merged_us FROM contact_merges WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(merge_record).collect())
    }

    async fn merges_of(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<MergeRecord>> {
        let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, base_contact_id, mergee_contact_id, merged_us FROM contact_merges \
             WHERE workspace_id = $1 AND (base_contact_id = $2 OR mergee_contact_id = $2) ORDER BY id",
        )
        .bind(workspace.get())
        .bind(contact.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(merge_record).collect())
    }
}

/// A `contact_merges` row: id, base, mergee, when.
fn merge_record((id, base, mergee, at): (i64, i64, i64, i64)) -> MergeRecord {
    MergeRecord {
        id,
        base_contact_id: ContactId::from_stored(base),
        mergee_contact_id: ContactId::from_stored(mergee),
        merged: Timestamp::from_micros(at),
    }
}
