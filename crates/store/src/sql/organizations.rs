// Organizations and their members.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

async fn fetch_organizations(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    ids: &[OrganizationId],
) -> Result<Vec<Organization>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Db>::new(format!(
        "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = "
    ));
    query.push_bind(workspace.get()).push(" AND id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.get());
    }
    query.push(") ORDER BY id");
    let rows: Vec<OrganizationRow> = query
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(rows.into_iter().map(Organization::from).collect())
}

#[async_trait::async_trait]
impl OrganizationStore for StoreImpl {
    async fn create_organization(
        &self,
        workspace: WorkspaceId,
        data: &OrganizationData,
    ) -> Result<Organization> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let id = next_organization_id(&mut tx, workspace).await?;
        let insert = sqlx::query(&INSERT_ORGANIZATION)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros())
            .bind(now.micros());
        bind_organization(insert, data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Organization, id.get(), now).await?;
        let created = Organization {
            id,
            created: now,
            updated: now,
            data: data.clone(),
        };
        let events = [NewEvent::organization_created(&created)];
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(created)
    }

    async fn organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<Option<Organization>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_organization(&mut conn, workspace, id).await
    }

    async fn organizations(&self, workspace: WorkspaceId, page: Page) -> Result<Vec<Organization>> {
        let (before, limit) = page_bounds(page);
        let rows: Vec<OrganizationRow> = sqlx::query_as(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE workspace_id = $1 AND created_us < $2 \
             ORDER BY created_us DESC LIMIT $3"
        ))
        .bind(workspace.get())
        .bind(before)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(Organization::from).collect())
    }

    async fn update_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Updated<Organization>> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        bump_version(&mut tx, workspace, RecordKind::Organization, id.get()).await?;
        let current = fetch_organization(&mut tx, workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::Organization))?;
        let mut data = current.data.clone();
        patch.apply_to(&mut data);
        let update = sqlx::query(&UPDATE_ORGANIZATION)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros());
        bind_organization(update, &data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Organization, id.get(), now).await?;
        if current.data.name != data.name {
            record_member_changes(&mut tx, workspace, id, now).await?;
        }
        let after = Organization {
            id,
            created: current.created,
            updated: now,
            data,
        };
        let events: Vec<NewEvent> = NewEvent::organization_updated(&current, &after)
            .into_iter()
            .collect();
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(Updated {
            before: current,
            after,
        })
    }

    async fn delete_organization(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<Organization> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        bump_version(&mut tx, workspace, RecordKind::Organization, id.get()).await?;
        let deleted = fetch_organization(&mut tx, workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::Organization))?;
        record_member_changes(&mut tx, workspace, id, now).await?;
        // Memberships go with the organization (ON DELETE CASCADE); contacts stay.
        sqlx::query("DELETE FROM organizations WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Organization, id.get(), now).await?;
        let events = [NewEvent::organization_deleted(&deleted)];
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(deleted)
    }

    async fn organization_contacts(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
        page: Page,
    ) -> Result<Vec<Contact>> {
        let (before, limit) = page_bounds(page);
        let mut tx = begin(self.reader()).await?;
        if fetch_organization(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Organization));
        }
        let columns = CONTACT_COLUMNS.replace(", ", ", c.");
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT c.{columns} FROM contacts c \
             JOIN contact_organizations m ON m.workspace_id = c.workspace_id AND m.contact_id = c.id \
             WHERE m.workspace_id = $1 AND m.organization_id = $2 AND c.created_us < $3 \
             ORDER BY c.created_us DESC LIMIT $4"
        ))
        .bind(workspace.get())
        .bind(id.get())
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn count_organization_contacts(
        &self,
        workspace: WorkspaceId,
        id: OrganizationId,
    ) -> Result<u64> {
        let mut tx = begin(self.reader()).await?;
        if fetch_organization(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Organization));
        }
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM contact_organizations WHERE workspace_id = $1 AND organization_id = $2",
        )
        .bind(workspace.get())
        .bind(id.get())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(count.unsigned_abs())
    }

    async fn organizations_by_ids(
        &self,
        workspace: WorkspaceId,
        ids: &[OrganizationId],
    ) -> Result<Vec<Organization>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_organizations(&mut conn, workspace, ids).await
    }
}
