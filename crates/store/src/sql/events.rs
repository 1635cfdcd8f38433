// Change events (the outbox): every write appends its events in its own transaction,
// with one delivery row for each enabled webhook of the workspace subscribed to the type,
// and the contacts' history rows they make (`NewEvent::history`). Included by `sqlite.rs`
// and `postgres.rs` beside `shared.rs`, whose names it uses.

use roster_core::events::{Event, EventType, HistoryChange, HistoryEntry, NewEvent};
use roster_core::service::ContactRecord;

/// The records events show of these contacts, read inside the write's transaction.
/// `fresh` contacts were created by this very write: no labels or inbox links to read.
async fn contact_records(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: Vec<Contact>,
    fresh: bool,
    now: Timestamp,
) -> Result<Vec<ContactRecord>> {
    let mut organization_ids: Vec<OrganizationId> = contacts
        .iter()
        .flat_map(|contact| contact.data.organization_ids.iter().copied())
        .collect();
    organization_ids.sort_unstable();
    organization_ids.dedup();
    let organizations = fetch_organizations(tx, workspace, &organization_ids).await?;
    let levels = match contacts
        .iter()
        .any(|contact| contact.data.governance_level_id.is_some())
    {
        true => fetch_governance_levels(tx, workspace).await?,
        false => Vec::new(),
    };
    let ids: Vec<ContactId> = contacts.iter().map(|contact| contact.id).collect();
    let (labels, links) = match fresh {
        true => (Vec::new(), Vec::new()),
        false => (
            fetch_labels(tx, workspace, &ids).await?,
            fetch_contact_inboxes(tx, workspace, &ids).await?,
        ),
    };
    Ok(contacts
        .into_iter()
        .map(|contact| {
            let id = contact.id;
            let own = |organization: &&Organization| {
                contact.data.organization_ids.contains(&organization.id)
            };
            let organizations = organizations.iter().filter(own).cloned().collect();
            let labels = labels
                .iter()
                .filter(|(of, _)| *of == id)
                .map(|(_, label)| label.clone())
                .collect();
            let links = links
                .iter()
                .filter(|link| link.contact_id == id)
                .cloned()
                .collect();
            ContactRecord::assemble(contact, organizations, labels, links, &levels, now)
        })
        .collect())
}

/// One contact's record (see `contact_records`).
async fn contact_record(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contact: Contact,
    now: Timestamp,
) -> Result<ContactRecord> {
    let mut records = contact_records(tx, workspace, vec![contact], false, now).await?;
    records
        .pop()
        .ok_or_else(|| Error::internal("a contact's record went missing"))
}

/// The records of a contact before and after a write that changed only its own row
/// (not its labels or inbox links), read in one go.
async fn changed_records(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    before: Contact,
    after: Contact,
    now: Timestamp,
) -> Result<(ContactRecord, ContactRecord)> {
    let mut records = contact_records(tx, workspace, vec![before, after], false, now).await?;
    match (records.pop(), records.pop()) {
        (Some(after), Some(before)) => Ok((before, after)),
        _ => Err(Error::internal("a contact's record went missing")),
    }
}

/// The events of a write that changed only the contact's own row: `event_type` and the
/// membership changes (see `contact_write_events`).
async fn row_write_events(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    event_type: EventType,
    before: Contact,
    after: Contact,
    now: Timestamp,
) -> Result<Vec<NewEvent>> {
    let (had, has) = changed_records(tx, workspace, before, after, now).await?;
    contact_write_events(tx, workspace, event_type, &had, &has).await
}

/// A contact write's events: the event of `event_type` if the record changed, and
/// `organization.members_changed` for each organization it joined or left.
async fn contact_write_events(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    event_type: EventType,
    before: &ContactRecord,
    after: &ContactRecord,
) -> Result<Vec<NewEvent>> {
    let mut events: Vec<NewEvent> = NewEvent::contact_changed(event_type, before, after)
        .into_iter()
        .collect();
    events.extend(
        membership_events(
            tx,
            workspace,
            after.contact.id,
            &before.contact.data.organization_ids,
            &after.contact.data.organization_ids,
        )
        .await?,
    );
    Ok(events)
}

/// `organization.members_changed` for a contact that went from `before` to `after`.
async fn membership_events(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contact: ContactId,
    before: &[OrganizationId],
    after: &[OrganizationId],
) -> Result<Vec<NewEvent>> {
    let mut events = Vec::new();
    let joined = after.iter().filter(|id| !before.contains(id));
    let left = before.iter().filter(|id| !after.contains(id));
    for (&organization, joined) in joined
        .map(|id| (id, true))
        .chain(left.map(|id| (id, false)))
    {
        // An organization deleted in this write has its own event.
        let Some(organization) = fetch_organization(tx, workspace, organization).await? else {
            continue;
        };
        let (added, removed) = match joined {
            true => (vec![contact], Vec::new()),
            false => (Vec::new(), vec![contact]),
        };
        events.push(NewEvent::members_changed(&organization, &added, &removed));
    }
    Ok(events)
}

/// `organization.members_changed` for many new contacts at once: one event for each
/// organization they joined.
async fn new_member_events(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: &[(ContactId, Timestamp, &ContactData)],
) -> Result<Vec<NewEvent>> {
    let mut joined: HashMap<OrganizationId, Vec<ContactId>> = HashMap::new();
    for &(id, _, data) in contacts {
        for &organization in &data.organization_ids {
            joined.entry(organization).or_default().push(id);
        }
    }
    if joined.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<OrganizationId> = joined.keys().copied().collect();
    ids.sort_unstable();
    let organizations = fetch_organizations(tx, workspace, &ids).await?;
    Ok(organizations
        .iter()
        .map(|organization| NewEvent::members_changed(organization, &joined[&organization.id], &[]))
        .collect())
}

/// The events of contacts a bulk write created: `contact.created` for each, and one
/// `organization.members_changed` for each organization they joined.
async fn created_events(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    contacts: Vec<Contact>,
    rows: &[(ContactId, Timestamp, &ContactData)],
    now: Timestamp,
) -> Result<Vec<NewEvent>> {
    let records = contact_records(tx, workspace, contacts, true, now).await?;
    let mut events: Vec<NewEvent> = records.iter().map(NewEvent::contact_created).collect();
    events.extend(new_member_events(tx, workspace, rows).await?);
    Ok(events)
}

/// Appends events in the write's own transaction, queues each for every enabled webhook
/// of the workspace subscribed to its type, and puts what they changed on the contacts'
/// history, as the running task's actor's (see `roster_core::actor`).
async fn record_events(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    events: &[NewEvent],
    now: Timestamp,
) -> Result<()> {
    record_history(tx, workspace, events, now).await?;
    let mut first_seq = None;
    for chunk in events.chunks(1_000) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO events (id, workspace_id, type, kind, record_id, occurred_us, data) ",
        );
        query.push_values(chunk, |mut row, event| {
            row.push_bind(roster_core::events::new_event_id())
                .push_bind(workspace.get())
                .push_bind(event.event_type.as_str())
                .push_bind(event.kind.as_str())
                .push_bind(event.record_id)
                .push_bind(now.micros())
                .push_bind(event.data.to_string());
        });
        query.push(" RETURNING seq");
        let seqs: Vec<i64> = query
            .build_query_scalar()
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
        first_seq = first_seq.or(seqs.into_iter().min());
    }
    let Some(first_seq) = first_seq else {
        return Ok(());
    };
    // The workspace's writes are serialised (see `tick`): its events from `first_seq` on
    // are this write's.
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, event_seq, record, attempts, next_attempt_us) \
         SELECT w.id, e.seq, e.kind || ':' || CAST(e.record_id AS TEXT), 0, e.occurred_us \
         FROM events e JOIN webhooks w ON w.workspace_id = e.workspace_id \
         WHERE e.workspace_id = $1 AND e.seq >= $2 AND w.enabled \
         AND (w.events = '*' OR w.events LIKE '%,' || e.type || ',%') \
         ON CONFLICT DO NOTHING",
    )
    .bind(workspace.get())
    .bind(first_seq)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn record_history(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    events: &[NewEvent],
    now: Timestamp,
) -> Result<()> {
    let history: Vec<HistoryChange> = events.iter().flat_map(NewEvent::history).collect();
    if history.is_empty() {
        return Ok(());
    }
    let actor = roster_core::actor::current().render().to_string();
    for chunk in history.chunks(1_000) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO contact_history \
             (workspace_id, contact_id, occurred_us, type, actor, changes) ",
        );
        query.push_values(chunk, |mut row, change| {
            row.push_bind(workspace.get())
                .push_bind(change.contact)
                .push_bind(now.micros())
                .push_bind(change.event_type.as_str())
                .push_bind(&actor)
                .push_bind(change.changes.to_string());
        });
        query.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    Ok(())
}

fn decode_history(row: (i64, i64, String, String, String)) -> Result<HistoryEntry> {
    let (id, at, event_type, actor, changes) = row;
    let decode = |text: &str| {
        serde_json::from_str(text)
            .map_err(|err| Error::internal(format!("decoding a history entry: {err}")))
    };
    Ok(HistoryEntry {
        id,
        at: Timestamp::from_micros(at),
        event_type: EventType::parse(&event_type)
            .ok_or_else(|| Error::internal(format!("unknown event type {event_type:?}")))?,
        actor: decode(&actor)?,
        changes: decode(&changes)?,
    })
}

/// An `events` row in `EVENT_COLUMNS` order.
type EventRow = (i64, String, i64, String, String, i64, i64, String);

fn decode_event(row: EventRow) -> Result<Event> {
    let (seq, id, workspace, event_type, kind, record_id, at, data) = row;
    let event_type = EventType::parse(&event_type)
        .ok_or_else(|| Error::internal(format!("unknown event type {event_type:?}")))?;
    let kind = match kind.as_str() {
        "contact" => RecordKind::Contact,
        "organization" => RecordKind::Organization,
        other => return Err(Error::internal(format!("unknown record kind {other:?}"))),
    };
    let data = serde_json::from_str(&data)
        .map_err(|err| Error::internal(format!("decoding an event: {err}")))?;
    Ok(Event {
        seq,
        id,
        event_type,
        workspace: WorkspaceId::from_stored(workspace),
        kind,
        record_id,
        at: Timestamp::from_micros(at),
        data,
    })
}

const EVENT_COLUMNS: &str = "seq, id, workspace_id, type, kind, record_id, occurred_us, data";

#[async_trait::async_trait]
impl EventStore for StoreImpl {
    async fn events_after(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        ))
        .bind(workspace.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        rows.into_iter().map(decode_event).collect()
    }

    async fn prune_events(&self, before: Timestamp) -> Result<u64> {
        let mut tx = begin(self.writer()).await?;
        let pruned = sqlx::query("DELETE FROM events WHERE occurred_us < $1")
            .bind(before.micros())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.seq = webhook_deliveries.event_seq)",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM webhook_attempts WHERE at_us < $1")
            .bind(before.micros())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(pruned.rows_affected())
    }

    async fn contact_events(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE workspace_id = $1 AND kind = 'contact' AND record_id = $2 ORDER BY seq"
        ))
        .bind(workspace.get())
        .bind(contact.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        rows.into_iter().map(decode_event).collect()
    }

    async fn contact_history(
        &self,
        workspace: WorkspaceId,
        contact: ContactId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>> {
        let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
            "SELECT id, occurred_us, type, actor, changes FROM contact_history \
             WHERE workspace_id = $1 AND contact_id = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(workspace.get())
        .bind(contact.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        if rows.is_empty() && after == 0 && self.contact(workspace, contact).await?.is_none() {
            return Err(Error::NotFound(Resource::Contact));
        }
        rows.into_iter().map(decode_history).collect()
    }
}
