// Installation settings, workspaces and API keys.
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.

#[async_trait::async_trait]
impl WorkspaceStore for StoreImpl {
    fn use_clock(&self, clock: Arc<dyn Clock>) {
        self.clock.set(clock);
    }

    fn pool_usage(&self) -> roster_core::store::PoolUsage {
        let pools = [self.writer(), self.reader()];
        // PostgreSQL hands the same pool out twice; count it once.
        let distinct = if std::ptr::eq(pools[0], pools[1]) {
            &pools[..1]
        } else {
            &pools[..]
        };
        roster_core::store::PoolUsage {
            connections: distinct.iter().map(|pool| pool.size()).sum(),
            idle: distinct.iter().map(|pool| pool.num_idle() as u32).sum(),
        }
    }

    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(initial)
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        self.durable().await?;
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(self.writer())
            .await
            .map_err(db_error)
    }

    async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        let now = self.now().micros();
        let row: WorkspaceRow = sqlx::query_as(
            "INSERT INTO workspaces (name, created_us, clock_us) VALUES ($1, $2, $2) \
             RETURNING id, name, created_us",
        )
        .bind(name)
        .bind(now)
        .fetch_one(self.writer())
        .await
        .map_err(db_error)?;
        self.durable().await?;
        Ok(row.into())
    }

    async fn workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        let row: Option<WorkspaceRow> =
            sqlx::query_as("SELECT id, name, created_us FROM workspaces WHERE id = $1")
                .bind(id.get())
                .fetch_optional(self.reader())
                .await
                .map_err(db_error)?;
        Ok(row.map(Workspace::from))
    }

    async fn workspaces(&self) -> Result<Vec<Workspace>> {
        let rows: Vec<WorkspaceRow> =
            sqlx::query_as("SELECT id, name, created_us FROM workspaces ORDER BY id")
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
        Ok(rows.into_iter().map(Workspace::from).collect())
    }

    async fn create_api_key(&self, workspace: WorkspaceId, key: &NewApiKey) -> Result<ApiKey> {
        let mut tx = begin(self.writer()).await?;
        let now = tick(&mut tx, workspace, self.now()).await?;
        let row: ApiKeyRow = sqlx::query_as(
            "INSERT INTO api_keys (workspace_id, name, permissions, secret_hash, created_us, rate_limit) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, workspace_id, name, permissions, rate_limit, secret_hash, created_us, revoked_us",
        )
        .bind(workspace.get())
        .bind(key.name.as_str())
        .bind(Json(&key.permissions))
        .bind(key.secret_hash.as_slice())
        .bind(now.micros())
        .bind(key.rate_limit.map(|limit| limit.to_string()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(StoredApiKey::from(row).key)
    }

    async fn api_key(&self, id: KeyId) -> Result<Option<StoredApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(
            "SELECT id, workspace_id, name, permissions, rate_limit, secret_hash, created_us, revoked_us \
             FROM api_keys WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(self.reader())
        .await
        .map_err(db_error)?;
        Ok(row.map(StoredApiKey::from))
    }

    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(
            "SELECT id, workspace_id, name, permissions, rate_limit, secret_hash, created_us, revoked_us \
             FROM api_keys WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(workspace.get())
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| StoredApiKey::from(row).key)
            .collect())
    }

    async fn revoke_api_key(&self, workspace: WorkspaceId, id: KeyId) -> Result<ApiKey> {
        let row: Option<ApiKeyRow> = sqlx::query_as(
            "UPDATE api_keys SET revoked_us = COALESCE(revoked_us, $3) WHERE workspace_id = $1 AND id = $2 \
             RETURNING id, workspace_id, name, permissions, rate_limit, secret_hash, created_us, revoked_us",
        )
        .bind(workspace.get())
        .bind(id.get())
        .bind(self.now().micros())
        .fetch_optional(self.writer())
        .await
        .map_err(db_error)?;
        self.durable().await?;
        row.map(|row| StoredApiKey::from(row).key)
            .ok_or(Error::NotFound(Resource::ApiKey))
    }
}
