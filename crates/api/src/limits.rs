//! Per-key request rate limits, counted on this node: fixed windows per policy (see
//! `roster_core::rate_limit`), advertised with the IETF httpapi draft's `RateLimit-Policy`
//! and `RateLimit` fields. With several nodes each counts its own requests, so a key
//! behind a load balancer that spreads it over N nodes gets up to N times its quota.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use roster_core::model::ApiKey;
use roster_core::rate_limit::{Policy, RateLimit};

pub const POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const STATE_HEADER: HeaderName = HeaderName::from_static("ratelimit");

/// How many counters may exist before the expired ones are swept out.
const SWEEP_AT: usize = 10_000;

/// One counter: a policy for a key or a workspace, for one endpoint or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Counter {
    policy: &'static str,
    owner: i64,
    endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u32,
    length: Duration,
}

/// The counters of this node, and the limit of keys that have none of their own.
#[derive(Default)]
pub struct RateLimiter {
    default: Option<RateLimit>,
    windows: Mutex<HashMap<Counter, Window>>,
}

/// What a counted request learns: whether it may go on, and the fields to answer with.
pub struct Verdict {
    /// Seconds until the request could go on, when it may not now.
    pub retry_after_secs: Option<u64>,
    pub headers: HeaderMap,
}

impl RateLimiter {
    pub fn new(default: Option<RateLimit>) -> Self {
        RateLimiter {
            default,
            windows: Mutex::default(),
        }
    }

    /// Counts one request of `key` to `endpoint` (method and route); `None` when the key
    /// is not limited. A refused request is not counted.
    pub fn check(&self, key: &ApiKey, endpoint: &str) -> Option<Verdict> {
        let policies = key.rate_limit.or(self.default)?.policies();
        if policies.is_empty() {
            return None;
        }
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, window| now.duration_since(window.started) < window.length);
        }
        let counters: Vec<(Policy, Counter)> = policies
            .into_iter()
            .map(|policy| {
                let counter = Counter {
                    policy: policy.name,
                    owner: if policy.per_workspace {
                        key.workspace_id.get()
                    } else {
                        key.id.get()
                    },
                    endpoint: policy.per_endpoint.then(|| endpoint.to_owned()),
                };
                (policy, counter)
            })
            .collect();
        // The state of each counter, its window restarted when it has passed.
        let mut states: Vec<(Policy, Window)> = counters
            .iter()
            .map(|(policy, counter)| {
                let length = Duration::from_secs(u64::from(policy.window_secs));
                let window = windows
                    .get(counter)
                    .copied()
                    .filter(|window| now.duration_since(window.started) < length)
                    .unwrap_or(Window {
                        started: now,
                        used: 0,
                        length,
                    });
                (*policy, window)
            })
            .collect();
        let refused = states
            .iter()
            .filter(|(policy, window)| window.used >= policy.requests)
            .map(|(_, window)| seconds_left(window, now))
            .max();
        if refused.is_none() {
            for ((_, counter), (_, window)) in counters.iter().zip(states.iter_mut()) {
                window.used += 1;
                windows.insert(counter.clone(), *window);
            }
        }
        Some(Verdict {
            retry_after_secs: refused,
            headers: fields(&states, now),
        })
    }
}

/// Whole seconds until a window ends (at least 1: a client waits before it retries).
fn seconds_left(window: &Window, now: Instant) -> u64 {
    let left = window
        .length
        .saturating_sub(now.duration_since(window.started));
    left.as_secs_f64().ceil().max(1.0) as u64
}

/// `RateLimit-Policy: "key";q=100;w=60` and `RateLimit: "key";r=37;t=12`, one member per
/// policy.
fn fields(states: &[(Policy, Window)], now: Instant) -> HeaderMap {
    let policies: Vec<String> = states
        .iter()
        .map(|(policy, _)| {
            format!(
                "\"{}\";q={};w={}",
                policy.name, policy.requests, policy.window_secs
            )
        })
        .collect();
    let remaining: Vec<String> = states
        .iter()
        .map(|(policy, window)| {
            format!(
                "\"{}\";r={};t={}",
                policy.name,
                policy.requests.saturating_sub(window.used),
                seconds_left(window, now)
            )
        })
        .collect();
    let mut headers = HeaderMap::new();
    for (name, members) in [(POLICY_HEADER, policies), (STATE_HEADER, remaining)] {
        if let Ok(value) = HeaderValue::from_str(&members.join(", ")) {
            headers.insert(name, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::domain::{KeyId, Timestamp, WorkspaceId};

    fn key(id: i64, workspace: i64, rate_limit: Option<RateLimit>) -> ApiKey {
        ApiKey {
            id: KeyId::from_stored(id),
            workspace_id: WorkspaceId::from_stored(workspace),
            name: "k".into(),
            permissions: vec!["*".into()],
            rate_limit,
            created: Timestamp::from_micros(0),
            revoked: None,
        }
    }

    fn header(verdict: &Verdict, name: HeaderName) -> &str {
        verdict.headers.get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn a_quota_refuses_past_its_count_and_says_so() {
        let limiter = RateLimiter::new(None);
        let limited = key(
            1,
            1,
            Some(RateLimit::Quota {
                requests: 2,
                window_secs: 60,
            }),
        );
        let first = limiter.check(&limited, "GET /a").unwrap();
        assert_eq!(first.retry_after_secs, None);
        assert_eq!(header(&first, POLICY_HEADER), "\"key\";q=2;w=60");
        assert_eq!(header(&first, STATE_HEADER), "\"key\";r=1;t=60");
        // Every endpoint counts against the one quota.
        assert_eq!(
            limiter.check(&limited, "POST /b").unwrap().retry_after_secs,
            None
        );
        let refused = limiter.check(&limited, "GET /a").unwrap();
        assert_eq!(refused.retry_after_secs, Some(60));
        assert_eq!(header(&refused, STATE_HEADER), "\"key\";r=0;t=60");
        // Another key has its own count; an unlimited one none at all.
        let other = key(
            2,
            1,
            Some(RateLimit::Quota {
                requests: 2,
                window_secs: 60,
            }),
        );
        assert_eq!(
            limiter.check(&other, "GET /a").unwrap().retry_after_secs,
            None
        );
        assert!(limiter.check(&key(3, 1, None), "GET /a").is_none());
    }

    #[test]
    fn the_server_default_applies_to_keys_without_their_own() {
        let limiter = RateLimiter::new(Some(RateLimit::Quota {
            requests: 1,
            window_secs: 1,
        }));
        let plain = key(1, 1, None);
        assert_eq!(
            limiter.check(&plain, "GET /a").unwrap().retry_after_secs,
            None
        );
        assert_eq!(
            limiter.check(&plain, "GET /a").unwrap().retry_after_secs,
            Some(1)
        );
        assert!(limiter
            .check(&key(2, 1, Some(RateLimit::Unlimited)), "GET /a")
            .is_none());
    }

    #[test]
    fn the_saleschat_preset_counts_by_key_and_by_org_per_endpoint() {
        let limiter = RateLimiter::new(None);
        let first = key(1, 7, Some(RateLimit::SalesChat));
        let second = key(2, 7, Some(RateLimit::SalesChat));
        for _ in 0..5 {
            assert_eq!(
                limiter
                    .check(&first, "POST /assign")
                    .unwrap()
                    .retry_after_secs,
                None
            );
        }
        // Five per key and endpoint…
        assert!(limiter
            .check(&first, "POST /assign")
            .unwrap()
            .retry_after_secs
            .is_some());
        // …but another endpoint is counted apart.
        assert_eq!(
            limiter
                .check(&first, "PUT /contact")
                .unwrap()
                .retry_after_secs,
            None
        );
        // Ten per org and endpoint, whichever key sends them.
        for _ in 0..5 {
            assert_eq!(
                limiter
                    .check(&second, "POST /assign")
                    .unwrap()
                    .retry_after_secs,
                None
            );
        }
        let third = key(3, 7, Some(RateLimit::SalesChat));
        let refused = limiter.check(&third, "POST /assign").unwrap();
        assert!(refused.retry_after_secs.is_some());
        assert_eq!(
            header(&refused, STATE_HEADER),
            "\"key-endpoint\";r=5;t=1, \"org-endpoint\";r=0;t=1"
        );
    }
}
