//! Safe retries: the `Idempotency-Key` header (IETF httpapi draft "The Idempotency-Key
//! HTTP Header Field"). The first request with a key claims it in the store and runs; its
//! answer is kept for [`KEEP_FOR`], scoped to the caller, and a retry of the same request
//! gets that answer again instead of running twice. The store holds the claims, so they
//! hold across restarts and nodes.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::domain::Timestamp;
use crate::error::{Error, Result};
use crate::service::Roster;
use crate::store::{IdempotencyClaim, IdempotencyState};

/// The longest key accepted, in characters (the draft leaves it to the server).
pub const MAX_KEY_LEN: usize = 255;

/// How long an answer is kept for retries.
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a running request holds its key without renewing it: a node that died while
/// running one lets a retry take over after this long.
pub const LEASE: Duration = Duration::from_secs(30);

/// How often a running request renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The header's name, as the dialects' errors name it.
pub const HEADER: &str = "Idempotency-Key";

/// An answer as kept for replay: status, the headers that matter, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A key this node holds while its request runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub scope: String,
    pub key: String,
    owner: String,
}

/// What a request with a key is to do.
#[derive(Debug)]
pub enum Claimed {
    /// Run it, then [`Roster::keep_answer`] (or [`Roster::release_key`] for an answer not
    /// worth keeping).
    Run(Lease),
    /// It ran before: answer this again.
    Replay(StoredResponse),
}

/// What identifies "the same request": method, path with query, body.
pub fn fingerprint(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), target.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hash.finalize().to_vec()
}

/// A key as sent: 1 to [`MAX_KEY_LEN`] visible ASCII characters.
pub fn parse_key(raw: &[u8]) -> Result<&str> {
    let key = std::str::from_utf8(raw).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            HEADER,
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is a good key)"),
        ));
    }
    Ok(key)
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_micros(now.micros().saturating_add(by.as_micros() as i64))
}

impl Roster {
    /// Claims `key` for a request of `scope` (the caller) with `fingerprint`: run it, or
    /// replay its answer; the same key with another request is `IdempotencyKeyReused`, and
    /// one whose first request still runs is `RequestInProgress`.
    pub async fn claim_key(&self, scope: &str, key: &str, fingerprint: &[u8]) -> Result<Claimed> {
        let now = self.clock.now();
        let owner = uuid::Uuid::new_v4().to_string();
        let claim = IdempotencyClaim {
            scope,
            key,
            fingerprint,
            owner: &owner,
            now,
            lease_until: later(now, LEASE),
            expires: later(now, KEEP_FOR),
        };
        match self.store.claim_idempotency_key(&claim).await? {
            IdempotencyState::Claimed => Ok(Claimed::Run(Lease {
                scope: scope.to_owned(),
                key: key.to_owned(),
                owner,
            })),
            IdempotencyState::Answered(response) => Ok(Claimed::Replay(response)),
            IdempotencyState::OtherRequest => Err(Error::IdempotencyKeyReused),
            IdempotencyState::Running => Err(Error::RequestInProgress),
        }
    }

    /// Extends a running request's hold on its key.
    pub async fn renew_key(&self, lease: &Lease) -> Result<()> {
        let until = later(self.clock.now(), LEASE);
        self.store
            .renew_idempotency_lease(&lease.scope, &lease.key, &lease.owner, until)
            .await
    }

    /// Keeps a finished request's answer for its retries.
    pub async fn keep_answer(&self, lease: &Lease, response: &StoredResponse) -> Result<()> {
        self.store
            .complete_idempotency_key(&lease.scope, &lease.key, &lease.owner, response)
            .await
    }

    /// Lets go of a key whose request ended without an answer worth keeping (a server
    /// error, a rate limit): its retry runs afresh.
    pub async fn release_key(&self, lease: &Lease) -> Result<()> {
        self.store
            .release_idempotency_key(&lease.scope, &lease.key, &lease.owner)
            .await
    }

    /// Forgets up to `limit` expired keys, oldest first; returns how many.
    pub async fn prune_keys(&self, limit: u32) -> Result<u64> {
        self.store
            .prune_idempotency_keys(self.clock.now(), limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_tells_method_target_and_body_apart() {
        let base = fingerprint("POST", "/a", b"{}");
        assert_eq!(base, fingerprint("POST", "/a", b"{}"));
        assert_ne!(base, fingerprint("PATCH", "/a", b"{}"));
        assert_ne!(base, fingerprint("POST", "/a?x=1", b"{}"));
        assert_ne!(base, fingerprint("POST", "/a", b"{ }"));
        // Where one part ends and the next begins is part of it.
        assert_ne!(
            fingerprint("POST", "/ab", b""),
            fingerprint("POST", "/a", b"b")
        );
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert_eq!(
            parse_key(b"8e03978e-40d5-43e8-bc93-6894a57f9324"),
            Ok("8e03978e-40d5-43e8-bc93-6894a57f9324")
        );
        assert_eq!(parse_key("k".repeat(255).as_bytes()).map(str::len), Ok(255));
        for bad in [
            &b""[..],
            &"k".repeat(256).into_bytes(),
            b"a b",
            "é".as_bytes(),
        ] {
            assert!(matches!(parse_key(bad), Err(Error::Invalid { field, .. }) if field == HEADER));
        }
    }
}
