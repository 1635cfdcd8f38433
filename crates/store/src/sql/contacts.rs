// Contacts one at a time, and the conditions, sorts and pages Chatwoot's list and filter
// ask for (`ContactQuery` into SQL).
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

/// `Conflict(Phone)` if another contact of the workspace has this number (a dialect's
/// rule; the workspace clock row taken by `tick` keeps the check and the write atomic).
async fn check_phone_free(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    phone: Option<&PhoneE164>,
    except: Option<ContactId>,
) -> Result<()> {
    let Some(phone) = phone else {
        return Ok(());
    };
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE workspace_id = $1 AND phone = $2 AND id <> $3 LIMIT 1",
    )
    .bind(workspace.get())
    .bind(phone.as_str())
    .bind(except.map_or(0, ContactId::get))
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    match taken {
        Some(_) => Err(Error::Conflict(UniqueField::Phone)),
        None => Ok(()),
    }
}

/// `LIKE` pattern text matching `value` literally (`%`, `_` and `\` escaped).
fn like_literal(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn push_text_field(query: &mut QueryBuilder<'_, Db>, field: &TextField) {
    let lower = field.case_insensitive();
    if lower {
        query.push("LOWER(");
    }
    match field {
        TextField::Name => {
            query.push("name");
        }
        TextField::Email => {
            query.push("email");
        }
        TextField::Phone => {
            query.push("phone");
        }
        TextField::ExternalId => {
            query.push("external_id");
        }
        TextField::Additional(key) => dialect::push_json_text(query, "additional_attributes", key),
        TextField::Custom(key) => dialect::push_json_text(query, "custom_attributes", key),
    }
    if lower {
        query.push(")");
    }
}

fn push_label_exists(query: &mut QueryBuilder<'_, Db>, negated: bool, label: Option<&str>) {
    if negated {
        query.push("NOT ");
    }
    query.push(
        "EXISTS (SELECT 1 FROM contact_labels l WHERE l.workspace_id = contacts.workspace_id \
         AND l.contact_id = contacts.id",
    );
    if let Some(label) = label {
        query.push(" AND l.label = ").push_bind(label.to_owned());
    }
    query.push(")");
}

fn push_condition(query: &mut QueryBuilder<'_, Db>, condition: &Condition) {
    match condition {
        Condition::Text { field, op, values } => {
            let first = values.first().cloned().unwrap_or_default();
            query.push("(");
            match op {
                TextOp::Equal | TextOp::NotEqual => {
                    push_text_field(query, field);
                    query.push(if *op == TextOp::Equal { " = " } else { " <> " });
                    query.push_bind(first);
                }
                TextOp::Contains | TextOp::DoesNotContain => {
                    if *op == TextOp::DoesNotContain {
                        query.push("NOT ");
                    }
                    query.push("(1 = 0");
                    for value in values {
                        query.push(" OR ");
                        push_text_field(query, field);
                        query
                            .push(" LIKE ")
                            .push_bind(format!("%{}%", like_literal(value)))
                            .push(" ESCAPE '\\'");
                    }
                    query.push(")");
                }
                TextOp::StartsWith => {
                    push_text_field(query, field);
                    query
                        .push(" LIKE ")
                        .push_bind(format!("{}%", like_literal(&first)))
                        .push(" ESCAPE '\\'");
                }
                TextOp::Present | TextOp::NotPresent => {
                    let present = *op == TextOp::Present;
                    push_text_field(query, field);
                    query.push(if present {
                        " IS NOT NULL AND "
                    } else {
                        " IS NULL OR "
                    });
                    push_text_field(query, field);
                    query.push(if present { " <> ''" } else { " = ''" });
                }
            }
            query.push(")");
        }
        Condition::Number { key, bound } => {
            dialect::push_json_number(query, "custom_attributes", key);
            match bound {
                NumberBound::Greater(value) => query.push(" > ").push_bind(*value),
                NumberBound::Less(value) => query.push(" < ").push_bind(*value),
            };
        }
        Condition::TextOrder { key, after, value } => {
            dialect::push_json_text(query, "custom_attributes", key);
            query
                .push(if *after { " > " } else { " < " })
                .push_bind(value.clone());
        }
        Condition::Time { field, bound } => {
            query.push(match field {
                TimeField::Created => "created_us",
                TimeField::LastActivity => "last_activity_us",
            });
            match bound {
                Bound::After(at) => query.push(" > ").push_bind(at.micros()),
                Bound::Before(at) => query.push(" < ").push_bind(at.micros()),
            };
        }
        Condition::Blocked(blocked) => {
            query.push("blocked = ").push_bind(*blocked);
        }
        Condition::HasLabel(label) => push_label_exists(query, false, Some(label)),
        Condition::LacksLabel(label) => push_label_exists(query, true, Some(label)),
        Condition::HasAnyLabel => push_label_exists(query, false, None),
        Condition::HasNoLabel => push_label_exists(query, true, None),
    }
}

/// `FROM contacts WHERE …` for a query's workspace, conditions and labels.
fn push_contact_filter(
    query: &mut QueryBuilder<'_, Db>,
    workspace: WorkspaceId,
    wanted: &ContactQuery,
) {
    query
        .push(" FROM contacts WHERE workspace_id = ")
        .push_bind(workspace.get());
    if !wanted.conditions.is_empty() {
        query.push(" AND (");
        let mut joins = wanted.conditions.iter().map(|(_, join)| join);
        for (i, (condition, _)) in wanted.conditions.iter().enumerate() {
            if i > 0 {
                query.push(match joins.next() {
                    Some(Join::Or) => " OR ",
                    _ => " AND ",
                });
            }
            push_condition(query, condition);
        }
        query.push(")");
    }
    if !wanted.labels.is_empty() {
        query.push(
            " AND EXISTS (SELECT 1 FROM contact_labels l WHERE l.workspace_id = contacts.workspace_id \
             AND l.contact_id = contacts.id AND l.label IN (",
        );
        let mut labels = query.separated(", ");
        for label in &wanted.labels {
            labels.push_bind(label.clone());
        }
        query.push("))");
    }
}

fn push_sort_expression(query: &mut QueryBuilder<'_, Db>, field: SortField) {
    match field {
        SortField::Name => query.push("LOWER(name)"),
        SortField::Email => query.push("email"),
        SortField::Phone => query.push("phone"),
        SortField::LastActivity => query.push("last_activity_us"),
        SortField::Created => query.push("created_us"),
        SortField::CompanyName | SortField::City | SortField::Country => {
            let key = match field {
                SortField::CompanyName => "company_name",
                SortField::City => "city",
                _ => "country",
            };
            dialect::push_json_text(query, "additional_attributes", key);
            query
        }
    };
}

/// Missing values last in both directions, then by id, so pages never overlap.
fn push_contact_order(query: &mut QueryBuilder<'_, Db>, wanted: &ContactQuery) {
    if wanted.sort.is_empty() {
        query.push(" ORDER BY id DESC");
        return;
    }
    query.push(" ORDER BY ");
    for key in &wanted.sort {
        push_sort_expression(query, key.field);
        query.push(" IS NULL, ");
        push_sort_expression(query, key.field);
        if !matches!(key.field, SortField::LastActivity | SortField::Created) {
            query.push(dialect::TEXT_ORDER);
        }
        query.push(if key.descending { " DESC, " } else { " ASC, " });
    }
    query.push("id ASC");
}

#[async_trait::async_trait]
impl ContactStore for StoreImpl {
    async fn create_contact_with(
        &self,
        workspace: WorkspaceId,
        data: &ContactData,
        rules: WriteRules,
        link: Option<&NewContactInbox>,
    ) -> Result<(Contact, Option<ContactInbox>)> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        if rules.unique_phone {
            check_phone_free(&mut tx, workspace, data.phone.as_ref(), None).await?;
        }
        let id = next_contact_id(&mut tx, workspace).await?;
        if let Some(level) = &data.governance_level_id {
            check_governance_level(&mut tx, workspace, level).await?;
        }
        let insert = sqlx::query(&INSERT_CONTACT)
            .bind(workspace.get())
            .bind(id.get())
            .bind(now.micros())
            .bind(now.micros());
        bind_contact(insert, data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        set_memberships(&mut tx, workspace, id, &[], &data.organization_ids).await?;
        let linked = match link {
            Some(link) => Some(insert_contact_inbox(&mut tx, workspace, id, link, now).await?),
            None => None,
        };
        record_change(&mut tx, workspace, RecordKind::Contact, id.get(), now).await?;
        let contact = Contact {
            id,
            created: now,
            updated: now,
            data: data.clone(),
        };
        let mut record = contact_records(&mut tx, workspace, vec![contact.clone()], true, now)
            .await?
            .remove(0);
        record.inbox_links = linked.iter().cloned().collect();
        let mut events = vec![NewEvent::contact_created(&record)];
        events
            .extend(membership_events(&mut tx, workspace, id, &[], &data.organization_ids).await?);
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok((contact, linked))
    }

    async fn contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<Option<Contact>> {
        let mut tx = begin(self.reader()).await?;
        fetch_contact(&mut tx, workspace, id).await
    }

    async fn contacts(&self, workspace: WorkspaceId, page: Page) -> Result<Vec<Contact>> {
        let (before, limit) = page_bounds(page);
        let mut tx = begin(self.reader()).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {} FROM contacts WHERE workspace_id = $1 AND created_us < $2 \
             ORDER BY created_us DESC LIMIT $3",
            *CONTACT_COLUMNS
        ))
        .bind(workspace.get())
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn update_contact_with(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        rules: WriteRules,
    ) -> Result<Updated<Contact>> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let current = locked_contact(&mut tx, workspace, id).await?;
        let mut data = current.data.clone();
        patch.apply_to(&mut data);
        // A number the contact already had stays allowed: the rule is about new duplicates.
        if rules.unique_phone && data.phone != current.data.phone {
            check_phone_free(&mut tx, workspace, data.phone.as_ref(), Some(id)).await?;
        }
        let before = current.clone();
        let after = write_contact(&mut tx, workspace, current, data, now).await?;
        let (updated, changed) = (EventType::ContactUpdated, after.clone());
        let events =
            row_write_events(&mut tx, workspace, updated, before.clone(), changed, now).await?;
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(Updated { before, after })
    }

    async fn delete_contact(&self, workspace: WorkspaceId, id: ContactId) -> Result<Contact> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let deleted = locked_contact(&mut tx, workspace, id).await?;
        let record = contact_record(&mut tx, workspace, deleted.clone(), now).await?;
        let mut events = vec![NewEvent::contact_deleted(&record)];
        events.extend(
            membership_events(&mut tx, workspace, id, &deleted.data.organization_ids, &[]).await?,
        );
        // Memberships go with the contact (ON DELETE CASCADE).
        sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        record_change(&mut tx, workspace, RecordKind::Contact, id.get(), now).await?;
        record_events(&mut tx, workspace, &events, now).await?;
        self.commit(tx).await?;
        Ok(deleted)
    }

    async fn contact_organizations(
        &self,
        workspace: WorkspaceId,
        id: ContactId,
    ) -> Result<Vec<Organization>> {
        let mut tx = begin(self.reader()).await?;
        let contact = fetch_contact(&mut tx, workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::Contact))?;
        let mut organizations = Vec::with_capacity(contact.data.organization_ids.len());
        for organization in contact.data.organization_ids {
            if let Some(found) = fetch_organization(&mut tx, workspace, organization).await? {
                organizations.push(found);
            }
        }
        Ok(organizations)
    }

    async fn contacts_by_phone(
        &self,
        workspace: WorkspaceId,
        phone: &PhoneE164,
    ) -> Result<Vec<Contact>> {
        let mut tx = begin(self.reader()).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {} FROM contacts WHERE workspace_id = $1 AND phone = $2 ORDER BY id",
            *CONTACT_COLUMNS
        ))
        .bind(workspace.get())
        .bind(phone.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn contacts_by_ids(
        &self,
        workspace: WorkspaceId,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        contacts_as_json(&mut conn, workspace, |query| {
            query.push("id IN (");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id.get());
            }
            query.push(")");
        })
        .await
    }

    async fn query_contacts(
        &self,
        workspace: WorkspaceId,
        wanted: &ContactQuery,
    ) -> Result<Vec<Contact>> {
        let mut tx = begin(self.reader()).await?;
        let mut query = QueryBuilder::<Db>::new(format!("SELECT {}", *CONTACT_COLUMNS));
        push_contact_filter(&mut query, workspace, wanted);
        push_contact_order(&mut query, wanted);
        query
            .push(" LIMIT ")
            .push_bind(i64::from(wanted.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(wanted.offset).unwrap_or(i64::MAX));
        let rows: Vec<ContactRow> = query
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn count_contacts(&self, workspace: WorkspaceId, wanted: &ContactQuery) -> Result<u64> {
        let mut query = QueryBuilder::<Db>::new("SELECT COUNT(*)");
        push_contact_filter(&mut query, workspace, wanted);
        let count: i64 = query
            .build_query_scalar()
            .fetch_one(self.reader())
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn contacts_matching_exactly(
        &self,
        workspace: WorkspaceId,
        email: Option<&Email>,
        external_id: Option<&ExternalId>,
        phone: Option<&PhoneE164>,
    ) -> Result<Vec<Contact>> {
        let mut tx = begin(self.reader()).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {} FROM contacts WHERE workspace_id = $1 AND (email = $2 OR external_id = $3 OR phone = $4) \
             ORDER BY id",
            *CONTACT_COLUMNS
        ))
        .bind(workspace.get())
        .bind(email.map(Email::as_str))
        .bind(external_id.map(ExternalId::as_str))
        .bind(phone.map(PhoneE164::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        with_memberships(&mut tx, workspace, rows).await
    }

    async fn attribute_keys(&self, workspace: WorkspaceId) -> Result<(Vec<String>, Vec<String>)> {
        let mut keys = Vec::with_capacity(2);
        for column in ["custom_attributes", "additional_attributes"] {
            let found: Vec<String> = sqlx::query_scalar(&dialect::attribute_keys_sql(column))
                .bind(workspace.get())
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
            keys.push(found);
        }
        let additional = keys.pop().unwrap_or_default();
        Ok((keys.pop().unwrap_or_default(), additional))
    }

    async fn custom_attribute_in_use(&self, workspace: WorkspaceId, key: &str) -> Result<bool> {
        let mut query = QueryBuilder::<Db>::new("SELECT 1 FROM contacts WHERE workspace_id = ");
        query.push_bind(workspace.get()).push(" AND ");
        dialect::push_json_text(&mut query, "custom_attributes", key);
        query.push(" IS NOT NULL LIMIT 1");
        let found: Option<i32> = query
            .build_query_scalar()
            .fetch_optional(self.reader())
            .await
            .map_err(db_error)?;
        Ok(found.is_some())
    }
}
