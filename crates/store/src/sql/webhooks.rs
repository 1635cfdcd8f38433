// Webhook endpoints and their delivery queue (rows written with each event, see
// `record_events`), leased to the node that sends them.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

use roster_core::webhooks::{
    Attempt, Delivery, DeliveryOutcome, NewWebhook, Webhook, WebhookFormat, WebhookPatch,
};

const WEBHOOK_COLUMNS: &str = "id, workspace_id, url, format, events, fields, subscriptions, \
    description, enabled, disabled_reason, failing_since_us, created_us, updated_us, secret";

/// A `webhooks` row in `WEBHOOK_COLUMNS` order.
type WebhookRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Vec<u8>,
);

/// The `events` column: `*`, or the types between commas (`,a,b,`) so that a delivery
/// row is queued by one `LIKE`.
fn events_column(events: &Option<Vec<EventType>>) -> String {
    match events {
        None => "*".to_owned(),
        Some(types) => types.iter().fold(",".to_owned(), |mut column, event_type| {
            column.push_str(event_type.as_str());
            column.push(',');
            column
        }),
    }
}

fn json_list(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref()
        .map(|list| serde_json::Value::from(list.clone()).to_string())
}

fn decode_webhook(row: WebhookRow) -> Result<(Webhook, Vec<u8>)> {
    let (id, workspace, url, format, events, fields, subscriptions, description) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
    let format = WebhookFormat::parse(&format)
        .ok_or_else(|| Error::internal(format!("unknown webhook format {format:?}")))?;
    let events = match events.as_str() {
        "*" => None,
        listed => Some(
            listed
                .split(',')
                .filter(|name| !name.is_empty())
                .map(|name| {
                    EventType::parse(name)
                        .ok_or_else(|| Error::internal(format!("unknown event type {name:?}")))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let list = |text: Option<String>| -> Result<Option<Vec<String>>> {
        text.map(|text| {
            serde_json::from_str(&text)
                .map_err(|err| Error::internal(format!("decoding a webhook: {err}")))
        })
        .transpose()
    };
    let webhook = Webhook {
        id,
        workspace: WorkspaceId::from_stored(workspace),
        url,
        format,
        events,
        fields: list(fields)?,
        subscriptions: list(subscriptions)?,
        description,
        enabled: row.8,
        disabled_reason: row.9,
        failing_since: row.10.map(Timestamp::from_micros),
        created: Timestamp::from_micros(row.11),
        updated: Timestamp::from_micros(row.12),
    };
    Ok((webhook, row.13))
}

async fn fetch_webhook(
    conn: &mut <Db as Database>::Connection,
    workspace: WorkspaceId,
    id: i64,
) -> Result<Option<(Webhook, Vec<u8>)>> {
    let row: Option<WebhookRow> = sqlx::query_as(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace.get())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    row.map(decode_webhook).transpose()
}

/// The endpoint a write transaction changes; `NotFound(Webhook)` if none.
async fn locked_webhook(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    id: i64,
) -> Result<Webhook> {
    tick(tx, workspace, Timestamp::from_micros(0)).await?;
    webhook_in(tx, workspace, id).await
}

/// The endpoint as the transaction sees it (without its secret); `NotFound(Webhook)` if none.
async fn webhook_in(
    tx: &mut Transaction<'_, Db>,
    workspace: WorkspaceId,
    id: i64,
) -> Result<Webhook> {
    fetch_webhook(tx, workspace, id)
        .await?
        .map(|(webhook, _)| webhook)
        .ok_or(Error::NotFound(Resource::Webhook))
}

/// A delivery row as the claim reads it.
type QueuedRow = (i64, String, i64, Option<i64>);

#[async_trait::async_trait]
impl WebhookStore for StoreImpl {
    async fn create_webhook(&self, workspace: WorkspaceId, new: &NewWebhook) -> Result<Webhook> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (workspace_id, url, format, events, fields, subscriptions, \
             description, secret, enabled, created_us, updated_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $9) RETURNING id",
        )
        .bind(workspace.get())
        .bind(&new.url)
        .bind(new.format.as_str())
        .bind(events_column(&new.events))
        .bind(json_list(&new.fields))
        .bind(json_list(&new.subscriptions))
        .bind(&new.description)
        .bind(&new.sealed_secret)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let (webhook, _) = fetch_webhook(&mut tx, workspace, id)
            .await?
            .ok_or_else(|| Error::internal("a webhook just created is missing"))?;
        self.commit(tx).await?;
        Ok(webhook)
    }

    async fn webhooks(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = sqlx::query_as(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 ORDER BY id"
        ))
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|row| decode_webhook(row).map(|(webhook, _)| webhook))
            .collect()
    }

    async fn webhook(&self, workspace: WorkspaceId, id: i64) -> Result<Option<(Webhook, Vec<u8>)>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        fetch_webhook(&mut conn, workspace, id).await
    }

    async fn update_webhook(
        &self,
        workspace: WorkspaceId,
        id: i64,
        patch: &WebhookPatch,
    ) -> Result<Webhook> {
        let mut tx = begin(self.writer()).await?;
        let current = locked_webhook(&mut tx, workspace, id).await?;
        let enabled = patch.enabled.unwrap_or(current.enabled);
        // Enabling again starts afresh: no reason to show, no failures counted.
        let (reason, failing_since) = match patch.enabled {
            Some(true) => (None, None),
            _ => (current.disabled_reason, current.failing_since),
        };
        sqlx::query(
            "UPDATE webhooks SET url = $3, events = $4, fields = $5, subscriptions = $6, \
             description = $7, enabled = $8, disabled_reason = $9, failing_since_us = $10, \
             updated_us = $11 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(patch.url.as_ref().unwrap_or(&current.url))
        .bind(events_column(
            patch.events.as_ref().unwrap_or(&current.events),
        ))
        .bind(json_list(patch.fields.as_ref().unwrap_or(&current.fields)))
        .bind(json_list(
            patch
                .subscriptions
                .as_ref()
                .unwrap_or(&current.subscriptions),
        ))
        .bind(patch.description.as_ref().unwrap_or(&current.description))
        .bind(enabled)
        .bind(reason)
        .bind(failing_since.map(Timestamp::micros))
        .bind(self.now().micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let webhook = webhook_in(&mut tx, workspace, id).await?;
        self.commit(tx).await?;
        Ok(webhook)
    }

    async fn delete_webhook(&self, workspace: WorkspaceId, id: i64) -> Result<Webhook> {
        let mut tx = begin(self.writer()).await?;
        let webhook = locked_webhook(&mut tx, workspace, id).await?;
        for table in ["webhook_deliveries", "webhook_attempts"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE webhook_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        sqlx::query("DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.get())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(webhook)
    }

    async fn set_webhook_secret(
        &self,
        workspace: WorkspaceId,
        id: i64,
        sealed: &[u8],
    ) -> Result<Webhook> {
        let mut tx = begin(self.writer()).await?;
        locked_webhook(&mut tx, workspace, id).await?;
        sqlx::query(
            "UPDATE webhooks SET secret = $3, updated_us = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.get())
        .bind(id)
        .bind(sealed)
        .bind(self.now().micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let webhook = webhook_in(&mut tx, workspace, id).await?;
        self.commit(tx).await?;
        Ok(webhook)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let mut tx = begin(self.writer()).await?;
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT d.webhook_id FROM webhook_deliveries d \
             JOIN webhooks w ON w.id = d.webhook_id \
             WHERE w.enabled AND d.next_attempt_us <= $1 \
             AND (d.lease_until_us IS NULL OR d.lease_until_us < $1) LIMIT 100",
        )
        .bind(now.micros())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut claimed: Vec<(i64, i64, i64)> = Vec::new();
        for webhook in due {
            let room = (limit as usize).saturating_sub(claimed.len());
            if room == 0 {
                break;
            }
            let queued: Vec<QueuedRow> = sqlx::query_as(
                "SELECT event_seq, record, next_attempt_us, lease_until_us \
                 FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY event_seq LIMIT 2000",
            )
            .bind(webhook)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            // Only a record's oldest queued event may go: the later ones wait for it.
            let mut seen = std::collections::HashSet::new();
            let wanted: Vec<i64> = queued
                .into_iter()
                .filter(|(_, record, _, _)| seen.insert(record.clone()))
                .filter(|&(_, _, next, lease)| {
                    next <= now.micros() && lease.is_none_or(|lease| lease < now.micros())
                })
                .map(|(seq, ..)| seq)
                .take(room)
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let mut query = QueryBuilder::<Db>::new("UPDATE webhook_deliveries SET lease_owner = ");
            query
                .push_bind(owner.to_owned())
                .push(", lease_until_us = ")
                .push_bind(lease_until.micros())
                .push(", attempts = attempts + 1 WHERE webhook_id = ")
                .push_bind(webhook)
                .push(" AND (lease_until_us IS NULL OR lease_until_us < ")
                .push_bind(now.micros())
                .push(") AND event_seq IN (");
            let mut list = query.separated(", ");
            for seq in &wanted {
                list.push_bind(*seq);
            }
            query.push(") RETURNING event_seq, attempts");
            let won: Vec<(i64, i64)> = query
                .build_query_as()
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            claimed.extend(
                won.into_iter()
                    .map(|(seq, attempts)| (webhook, seq, attempts)),
            );
        }
        self.commit(tx).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        let mut query =
            QueryBuilder::<Db>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq IN ("));
        let mut list = query.separated(", ");
        for (_, seq, _) in &claimed {
            list.push_bind(*seq);
        }
        query.push(")");
        let rows: Vec<EventRow> = query
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        let mut events: HashMap<i64, Event> = HashMap::new();
        for row in rows {
            let event = decode_event(row)?;
            events.insert(event.seq, event);
        }
        let mut webhooks: HashMap<i64, (Webhook, Vec<u8>)> = HashMap::new();
        let mut deliveries = Vec::with_capacity(claimed.len());
        for (webhook_id, seq, attempt) in claimed {
            // One event may go to several endpoints. A pruned one leaves its row to the
            // next prune.
            let Some(event) = events.get(&seq).cloned() else {
                continue;
            };
            let (webhook, sealed_secret) = match webhooks.get(&webhook_id) {
                Some(found) => found.clone(),
                None => {
                    let row: Option<WebhookRow> = sqlx::query_as(&format!(
                        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
                    ))
                    .bind(webhook_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                    let Some(row) = row else {
                        continue;
                    };
                    let found = decode_webhook(row)?;
                    webhooks.insert(webhook_id, found.clone());
                    found
                }
            };
            deliveries.push(Delivery {
                webhook,
                sealed_secret,
                event,
                attempt,
            });
        }
        Ok(deliveries)
    }

    async fn finish_deliveries(&self, owner: &str, outcomes: &[DeliveryOutcome]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut tx = begin(self.writer()).await?;
        for outcome in outcomes {
            let held = match outcome.next_retry {
                Some(next) => sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_us = $4, lease_owner = NULL, \
                     lease_until_us = NULL WHERE webhook_id = $1 AND event_seq = $2 AND lease_owner = $3",
                )
                .bind(outcome.webhook_id)
                .bind(outcome.event_seq)
                .bind(owner)
                .bind(next.micros()),
                None => sqlx::query(
                    "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND event_seq = $2 \
                     AND lease_owner = $3",
                )
                .bind(outcome.webhook_id)
                .bind(outcome.event_seq)
                .bind(owner),
            }
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if held.rows_affected() == 0 || outcome.skipped {
                continue;
            }
            sqlx::query(
                "INSERT INTO webhook_attempts (webhook_id, event_seq, attempt, at_us, status, \
                 error, next_retry_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(outcome.webhook_id)
            .bind(outcome.event_seq)
            .bind(outcome.attempt)
            .bind(outcome.at.micros())
            .bind(outcome.status.map(i64::from))
            .bind(&outcome.error)
            .bind(outcome.next_retry.map(Timestamp::micros))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if outcome.delivered {
                sqlx::query("UPDATE webhooks SET failing_since_us = NULL WHERE id = $1")
                    .bind(outcome.webhook_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                continue;
            }
            sqlx::query(
                "UPDATE webhooks SET failing_since_us = COALESCE(failing_since_us, $2) WHERE id = $1",
            )
            .bind(outcome.webhook_id)
            .bind(outcome.at.micros())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            // An endpoint failing for as long as deliveries are retried is disabled.
            let give_up = outcome.at.micros()
                - i64::try_from(roster_core::webhooks::GIVE_UP_AFTER.as_micros()).unwrap_or(0);
            let reason = outcome
                .disable
                .clone()
                .unwrap_or_else(|| "every delivery failed for 3 days".to_owned());
            sqlx::query(
                "UPDATE webhooks SET enabled = FALSE, disabled_reason = $2 WHERE id = $1 AND enabled \
                 AND ($3 OR failing_since_us <= $4)",
            )
            .bind(outcome.webhook_id)
            .bind(reason)
            .bind(outcome.disable.is_some())
            .bind(give_up)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        self.commit(tx).await
    }

    async fn webhook_attempts(
        &self,
        workspace: WorkspaceId,
        id: i64,
        limit: u32,
    ) -> Result<Vec<Attempt>> {
        let mut conn = self.reader().acquire().await.map_err(db_error)?;
        if fetch_webhook(&mut conn, workspace, id).await?.is_none() {
            return Err(Error::NotFound(Resource::Webhook));
        }
        type AttemptRow = (
            String,
            String,
            i64,
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<AttemptRow> = sqlx::query_as(
            "SELECT e.id, e.type, a.attempt, a.at_us, a.status, a.error, a.next_retry_us \
             FROM webhook_attempts a JOIN events e ON e.seq = a.event_seq \
             WHERE a.webhook_id = $1 ORDER BY a.seq DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(event_id, event_type, attempt, at, status, error, next)| {
                Ok(Attempt {
                    event_type: EventType::parse(&event_type).ok_or_else(|| {
                        Error::internal(format!("unknown event type {event_type:?}"))
                    })?,
                    event_id,
                    attempt,
                    at: Timestamp::from_micros(at),
                    status: status.and_then(|status| u16::try_from(status).ok()),
                    error,
                    next_retry: next.map(Timestamp::from_micros),
                })
            })
            .collect()
    }

    async fn redeliver(
        &self,
        workspace: WorkspaceId,
        id: i64,
        event_id: &str,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = begin(self.writer()).await?;
        locked_webhook(&mut tx, workspace, id).await?;
        let event: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, kind || ':' || CAST(record_id AS TEXT) FROM events \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.get())
        .bind(event_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let (seq, record) = event.ok_or(Error::NotFound(Resource::Event))?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_seq, record, attempts, next_attempt_us) \
             VALUES ($1, $2, $3, 0, $4) \
             ON CONFLICT (webhook_id, event_seq) DO UPDATE SET next_attempt_us = excluded.next_attempt_us",
        )
        .bind(id)
        .bind(seq)
        .bind(record)
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await
    }

    async fn queue_stats(&self) -> Result<roster_core::webhooks::QueueStats> {
        let (queued, oldest, written): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM webhook_deliveries), \
             (SELECT MIN(e.occurred_us) FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq), \
             (SELECT MAX(seq) FROM events)",
        )
        .fetch_one(self.reader())
        .await
        .map_err(db_error)?;
        Ok(roster_core::webhooks::QueueStats {
            events_written: written.unwrap_or(0),
            queued: u64::try_from(queued).unwrap_or(0),
            oldest_queued: oldest.map(Timestamp::from_micros),
        })
    }
}
