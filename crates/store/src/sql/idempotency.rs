// Idempotency-Key claims and the answers kept for retries (`IdempotencyStore`).
// Included by `sqlite.rs` and `postgres.rs` beside `shared.rs`, whose names it uses.
// Each step is one statement, so two racing claims are settled by the primary key (the
// insert) or by the row lock of a conditional update.

#[async_trait::async_trait]
impl IdempotencyStore for StoreImpl {
    async fn claim_idempotency_key(
        &self,
        claim: &roster_core::store::IdempotencyClaim<'_>,
    ) -> Result<roster_core::store::IdempotencyState> {
        use roster_core::store::IdempotencyState;
        // A missing row, an expired one, or one whose request died (its lease ran out,
        // for the same request) is taken; a few rounds, for a row pruned between steps.
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, owner, lease_until_us, expires_us) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(claim.scope)
            .bind(claim.key)
            .bind(claim.fingerprint)
            .bind(claim.owner)
            .bind(claim.lease_until.micros())
            .bind(claim.expires.micros())
            .execute(self.writer())
            .await
            .map_err(db_error)?;
            if inserted.rows_affected() == 1 {
                return Ok(IdempotencyState::Claimed);
            }
            let taken = sqlx::query(
                "UPDATE idempotency_keys SET fingerprint = $3, owner = $4, lease_until_us = $5, \
                 expires_us = $6, status = NULL, headers = NULL, body = NULL \
                 WHERE scope = $1 AND key = $2 AND (expires_us <= $7 \
                 OR (status IS NULL AND lease_until_us <= $7 AND fingerprint = $3))",
            )
            .bind(claim.scope)
            .bind(claim.key)
            .bind(claim.fingerprint)
            .bind(claim.owner)
            .bind(claim.lease_until.micros())
            .bind(claim.expires.micros())
            .bind(claim.now.micros())
            .execute(self.writer())
            .await
            .map_err(db_error)?;
            if taken.rows_affected() == 1 {
                return Ok(IdempotencyState::Claimed);
            }
            let row: Option<(Vec<u8>, Option<i32>, Option<String>, Option<Vec<u8>>)> =
                sqlx::query_as(
                    "SELECT fingerprint, status, headers, body FROM idempotency_keys \
                     WHERE scope = $1 AND key = $2",
                )
                .bind(claim.scope)
                .bind(claim.key)
                .fetch_optional(self.writer())
                .await
                .map_err(db_error)?;
            let Some((fingerprint, status, headers, body)) = row else {
                continue;
            };
            if fingerprint != claim.fingerprint {
                return Ok(IdempotencyState::OtherRequest);
            }
            let Some(status) = status else {
                return Ok(IdempotencyState::Running);
            };
            let headers: Vec<(String, String)> =
                serde_json::from_str(headers.as_deref().unwrap_or("[]"))
                    .map_err(|e| Error::internal(format!("stored answer headers: {e}")))?;
            return Ok(IdempotencyState::Answered(
                roster_core::idempotency::StoredResponse {
                    status: u16::try_from(status)
                        .map_err(|_| Error::internal("stored answer status"))?,
                    headers,
                    body: body.unwrap_or_default(),
                },
            ));
        }
        Err(Error::internal("an Idempotency-Key claim did not settle"))
    }

    async fn renew_idempotency_lease(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET lease_until_us = $4 \
             WHERE scope = $1 AND key = $2 AND owner = $3 AND status IS NULL",
        )
        .bind(scope)
        .bind(key)
        .bind(owner)
        .bind(until.micros())
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        response: &roster_core::idempotency::StoredResponse,
    ) -> Result<()> {
        let headers = serde_json::to_string(&response.headers)
            .map_err(|e| Error::internal(format!("answer headers: {e}")))?;
        sqlx::query(
            "UPDATE idempotency_keys SET status = $4, headers = $5, body = $6 \
             WHERE scope = $1 AND key = $2 AND owner = $3",
        )
        .bind(scope)
        .bind(key)
        .bind(owner)
        .bind(i32::from(response.status))
        .bind(headers)
        .bind(response.body.as_slice())
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        self.durable().await
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3 \
             AND status IS NULL",
        )
        .bind(scope)
        .bind(key)
        .bind(owner)
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn prune_idempotency_keys(&self, now: Timestamp, limit: u32) -> Result<u64> {
        // By the expiry index, oldest first, so a prune never scans the table.
        let pruned = sqlx::query(
            "DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key \
             FROM idempotency_keys WHERE expires_us <= $1 ORDER BY expires_us LIMIT $2)",
        )
        .bind(now.micros())
        .bind(i64::from(limit))
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        Ok(pruned.rows_affected())
    }
}
