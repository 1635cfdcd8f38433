// The change log: appended to by every write (see `record_change`), read by search.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

#[async_trait::async_trait]
impl ChangeLog for StoreImpl {
    async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>> {
        let rows: Vec<(i64, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT seq, workspace_id, kind, record_id, changed_us FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(seq, workspace, kind, id, changed_us)| {
                let kind = match kind.as_str() {
                    "contact" => RecordKind::Contact,
                    "organization" => RecordKind::Organization,
                    other => return Err(Error::internal(format!("unknown change kind {other:?}"))),
                };
                Ok(Change {
                    seq,
                    workspace: WorkspaceId::from_stored(workspace),
                    kind,
                    id,
                    at: Timestamp::from_micros(changed_us),
                })
            })
            .collect()
    }

    async fn last_change_seq(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
            .fetch_one(self.reader())
            .await
            .map_err(db_error)?;
        Ok(seq.unwrap_or(0))
    }

    async fn first_change_seq(&self) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(seq) FROM changes")
            .fetch_one(self.reader())
            .await
            .map_err(db_error)
    }

    async fn prune_changes(&self, before: Timestamp) -> Result<u64> {
        let pruned = sqlx::query("DELETE FROM changes WHERE changed_us < $1")
            .bind(before.micros())
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        Ok(pruned.rows_affected())
    }

    async fn record_version(
        &self,
        workspace: WorkspaceId,
        kind: RecordKind,
        id: i64,
    ) -> Result<Option<i64>> {
        let table = match kind {
            RecordKind::Contact => "contacts",
            RecordKind::Organization => "organizations",
        };
        sqlx::query_scalar(&format!(
            "SELECT version FROM {table} WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace.get())
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_error)
    }
}
