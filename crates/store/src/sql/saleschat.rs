// SalesChat's records: stage and disposition with their history, assignment (users,
// groups handing out members in turn), governance levels.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

async fn check_governance_level(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    id: &str,
) -> Result<()> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM governance_levels WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::UnknownReference {
            resource: Resource::GovernanceLevel,
            id: id.to_owned(),
        }),
    }
}

async fn fetch_group(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    id: &str,
) -> Result<Option<Group>> {
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT id, name, created_us FROM user_groups WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace.get())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    let Some((id, name, created_us)) = row else {
        return Ok(None);
    };
    let members: Vec<String> = sqlx::query_scalar(
        "SELECT user_id FROM user_group_members WHERE workspace_id = $1 AND group_id = $2 ORDER BY position",
    )
    .bind(workspace.get())
    .bind(&id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(Some(Group {
        id,
        name,
        members,
        created: Timestamp::from_micros(created_us),
    }))
}

/// Makes `members` the group's members, in that order; each must be a user.
async fn replace_group_members(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    group: &str,
    members: &[String],
) -> Result<()> {
    sqlx::query("DELETE FROM user_group_members WHERE workspace_id = $1 AND group_id = $2")
        .bind(workspace.get())
        .bind(group)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    for (position, user) in members.iter().enumerate() {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1 AND id = $2")
                .bind(workspace.get())
                .bind(user)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
        if exists.is_none() {
            return Err(Error::UnknownReference {
                resource: Resource::User,
                id: user.clone(),
            });
        }
        sqlx::query(
            "INSERT INTO user_group_members (workspace_id, group_id, user_id, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.get())
        .bind(group)
        .bind(user)
        .bind(position as i64)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    sqlx::query("UPDATE user_groups SET next_turn = 0 WHERE workspace_id = $1 AND id = $2")
        .bind(workspace.get())
        .bind(group)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Picks the user an assign request goes to; a group hands out its members in turn.
async fn pick_assignee(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    target: &AssignTarget,
) -> Result<(String, Option<String>)> {
    match target {
        AssignTarget::User(user) => {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1 AND id = $2")
                    .bind(workspace.get())
                    .bind(user)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_error)?;
            found
                .map(|user| (user, None))
                .ok_or(Error::NotFound(Resource::User))
        }
        AssignTarget::Group(group) => {
            let turn: Option<i64> = sqlx::query_scalar(
                "UPDATE user_groups SET next_turn = next_turn + 1 WHERE workspace_id = $1 AND id = $2 \
                 RETURNING next_turn - 1",
            )
            .bind(workspace.get())
            .bind(group)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
            let turn = turn.ok_or(Error::NotFound(Resource::Group))?;
            let members = fetch_group(tx, workspace, group)
                .await?
                .map(|g| g.members)
                .unwrap_or_default();
            let user = member_in_turn(&members, turn).ok_or_else(|| {
                Error::invalid(
                    "group_id",
                    format!("group {group:?} has no members to assign to"),
                )
            })?;
            Ok((user.clone(), Some(group.clone())))
        }
    }
}

/// The contacts whose SalesChat expiry (opt-in plus retention) is at or before `$1` and
/// whose `contact.expired` has not fired since: it fires again only for a later expiry.
const DUE_EXPIRIES: &str = "FROM contacts c JOIN governance_levels g \
     ON g.workspace_id = c.workspace_id AND g.id = c.governance_level_id \
     WHERE c.governance_level_id IS NOT NULL AND c.opt_in_us IS NOT NULL \
     AND c.opt_in_us <= $1 - g.retention_days * 86400000000 \
     AND (c.expiry_fired_us IS NULL OR c.expiry_fired_us < c.opt_in_us + g.retention_days * 86400000000)";

async fn fetch_governance_levels(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
) -> Result<Vec<GovernanceLevel>> {
    let rows: Vec<GovernanceLevelRow> = sqlx::query_as(
        "SELECT id, name, retention_days, created_us FROM governance_levels WHERE workspace_id = $1 ORDER BY id",
    )
    .bind(workspace.get())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(rows.into_iter().map(GovernanceLevel::from).collect())
}

#[async_trait::async_trait]
impl SalesChatStore for StoreImpl {
    async fn set_disposition(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        update: &DispositionUpdate,
        by: KeyId,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        let from_stage = current.data.stage.clone();
        let mut data = current.data.clone();
        data.stage = Some(update.stage.clone());
        if let Some(disposition) = &update.disposition {
            data.disposition = Some(disposition.clone());
        }
        if let Some(fields) = &update.fields {
            data.disposition_fields = fields.clone();
        }
        let before = current.clone();
        let updated = write_contact(&mut tx, workspace, current, data, now).await?;
        let (changed, after) = (EventType::ContactStageChanged, updated.clone());
        let events = row_write_events(&mut tx, workspace, changed, before, after, now).await?;
        record_events(&mut tx, workspace, &events, now).await?;
        sqlx::query(
            "INSERT INTO stage_changes (workspace_id, contact_id, from_stage, to_stage, disposition, \
             changed_by_key_id, changed_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(workspace.get())
        .bind(id.get())
        .bind(from_stage)
        .bind(update.stage.as_str())
        .bind(update.disposition.as_deref())
        .bind(by.get())
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(updated)
    }

    async fn stage_history(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
    ) -> Result<Vec<StageChange>> {
        let mut tx = begin(self.reader()).await?;
        if fetch_contact(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Contact));
        }
        let rows: Vec<StageChangeRow> = sqlx::query_as(
            "SELECT from_stage, to_stage, disposition, changed_by_key_id, changed_us FROM stage_changes \
             WHERE workspace_id = $1 AND contact_id = $2 ORDER BY id",
        )
        .bind(workspace.get())
        .bind(id.get())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(StageChange::from).collect())
    }

    async fn assign_contact(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        request: &AssignRequest,
        now: Timestamp,
        min_interval_secs: i64,
    ) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let written = tick(&mut tx, workspace, self.now()).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        if let Some(retry_after_secs) =
            retry_after(current.data.assignment.at, now, min_interval_secs)
        {
            return Err(Error::RateLimited { retry_after_secs });
        }
        let (user, group) = pick_assignee(&mut tx, workspace, &request.target).await?;
        let mut data = current.data.clone();
        data.assignment = Assignment {
            user_id: Some(user),
            group_id: group,
            pending: request.on_handover,
            remote_waba_id: request.remote_waba_id.clone(),
            remote_phone_id: request.remote_phone_id.clone(),
            at: Some(now),
        };
        let before = current.clone();
        let updated = write_contact(&mut tx, workspace, current, data, written).await?;
        let (assigned, after) = (EventType::ContactAssigned, updated.clone());
        let events = row_write_events(&mut tx, workspace, assigned, before, after, written).await?;
        record_events(&mut tx, workspace, &events, written).await?;
        self.commit(tx).await?;
        Ok(updated)
    }

    async fn create_user(&self, workspace: WorkspaceId, id: &str, name: &str) -> Result<User> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let row: UserRow = sqlx::query_as(
            "INSERT INTO users (workspace_id, id, name, created_us) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, created_us",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(row.into())
    }

    async fn users(&self, workspace: WorkspaceId) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT id, name, created_us FROM users WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn create_group(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        members: &[String],
    ) -> Result<Group> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        sqlx::query(
            "INSERT INTO user_groups (workspace_id, id, name, created_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        replace_group_members(&mut tx, workspace, id, members).await?;
        let group = fetch_group(&mut tx, workspace, id)
            .await?
            .ok_or_else(|| Error::internal("a group just created is missing"))?;
        self.commit(tx).await?;
        Ok(group)
    }

    async fn set_group_members(
        &self,
        workspace: WorkspaceId,
        id: &str,
        members: &[String],
    ) -> Result<Group> {
        let mut tx = begin(self.writer()).await?;
        tick(&mut tx, workspace, self.now()).await?;
        if fetch_group(&mut tx, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Group));
        }
        replace_group_members(&mut tx, workspace, id, members).await?;
        let group = fetch_group(&mut tx, workspace, id)
            .await?
            .ok_or_else(|| Error::internal("a group just updated is missing"))?;
        self.commit(tx).await?;
        Ok(group)
    }

    async fn groups(&self, workspace: WorkspaceId) -> Result<Vec<Group>> {
        let mut tx = begin(self.reader()).await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM user_groups WHERE workspace_id = $1 ORDER BY id")
                .bind(workspace.get())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        let mut groups = Vec::with_capacity(ids.len());
        for id in ids {
            groups.extend(fetch_group(&mut tx, workspace, &id).await?);
        }
        Ok(groups)
    }

    async fn create_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: &str,
        retention_days: i64,
    ) -> Result<GovernanceLevel> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let row: GovernanceLevelRow = sqlx::query_as(
            "INSERT INTO governance_levels (workspace_id, id, name, retention_days, created_us) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, name, retention_days, created_us",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(retention_days)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(row.into())
    }

    async fn update_governance_level(
        &self,
        workspace: WorkspaceId,
        id: &str,
        name: Option<&str>,
        retention_days: Option<i64>,
    ) -> Result<GovernanceLevel> {
        let mut tx = begin(self.writer()).await?;
        tick(&mut tx, workspace, self.now()).await?;
        let row: Option<GovernanceLevelRow> = sqlx::query_as(
            "UPDATE governance_levels SET name = COALESCE($3, name), retention_days = COALESCE($4, retention_days) \
             WHERE workspace_id = $1 AND id = $2 RETURNING id, name, retention_days, created_us",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(name)
        .bind(retention_days)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let row = row.ok_or(Error::NotFound(Resource::GovernanceLevel))?;
        self.commit(tx).await?;
        Ok(row.into())
    }

    async fn governance_levels(&self, workspace: WorkspaceId) -> Result<Vec<GovernanceLevel>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_governance_levels(&mut conn, workspace).await
    }

    async fn fire_expiries(&self, limit: u32) -> Result<Vec<WorkspaceId>> {
        let due: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT c.workspace_id {DUE_EXPIRIES} ORDER BY c.workspace_id LIMIT $2"
        ))
        .bind(self.now().micros())
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        let mut fired = Vec::new();
        let mut left = i64::from(limit);
        for workspace in due.into_iter().map(WorkspaceId::from_stored) {
            if left <= 0 {
                break;
            }
            let mut tx = begin(self.writer()).await?;
            let now = tick(&mut tx, workspace, self.now()).await?;
            // The claim: `tick` serialised this with the workspace's other writes, so a
            // contact another node fired meanwhile no longer matches here.
            let ids: Vec<i64> = sqlx::query_scalar(&format!(
                "UPDATE contacts SET expiry_fired_us = $1 WHERE workspace_id = $2 AND id IN \
                 (SELECT c.id {DUE_EXPIRIES} AND c.workspace_id = $2 LIMIT $3) RETURNING id"
            ))
            .bind(now.micros())
            .bind(workspace.get())
            .bind(left)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            if ids.is_empty() {
                continue;
            }
            left -= ids.len() as i64;
            let mut contacts = Vec::with_capacity(ids.len());
            for id in ids {
                contacts
                    .extend(fetch_contact(&mut tx, workspace, ContactId::from_stored(id)).await?);
            }
            let records = contact_records(&mut tx, workspace, contacts, false, now).await?;
            let events: Vec<NewEvent> = records.iter().map(NewEvent::contact_expired).collect();
            record_events(&mut tx, workspace, &events, now).await?;
            self.commit(tx).await?;
            fired.push(workspace);
        }
        Ok(fired)
    }
}
