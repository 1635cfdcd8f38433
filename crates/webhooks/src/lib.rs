//! Webhook delivery: takes due deliveries from the store's queue under a lease, renders
//! each in its endpoint's format, signs it, posts it (never following redirects, never to
//! a private address unless allowed, checked against the address actually connected) and
//! reports the outcome, so that a failed delivery is retried with backoff and a node that
//! dies mid-delivery is taken over when its lease runs out.

mod formats;
mod resolver;

use std::sync::Arc;
use std::time::Duration;

use roster_core::domain::Timestamp;
use roster_core::webhooks::{next_retry, Delivery, DeliveryOutcome, ATTEMPT_TIMEOUT};
use roster_core::Roster;
use tokio::sync::Semaphore;

pub use formats::{chatwoot_signature, standard_signature};

/// Deliveries taken from the queue at once.
const BATCH: u32 = 64;
/// Batches in flight at once: a slow endpoint holds one, not the whole sender.
const BATCHES_IN_FLIGHT: usize = 4;
/// How long a taken delivery stays this node's: well past one attempt's timeout.
const LEASE: Duration = Duration::from_secs(60);
/// How often the queue is looked at without a local write to wake the sender: retries
/// coming due and other nodes' events.
const POLL: Duration = Duration::from_millis(250);

/// Sends what the queue holds until `stopped` resolves.
pub async fn run(roster: Roster, stopped: impl std::future::Future<Output = ()>) {
    let allow_private = roster.webhooks_allow_private();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .dns_resolver(Arc::new(resolver::Resolver { allow_private }))
        .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(%err, "webhooks cannot be sent: no HTTP client");
            return;
        }
    };
    let owner = format!("node-{}", uuid_like());
    let batches = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    let written = roster.events_written();
    tokio::pin!(stopped);
    loop {
        let woken = written.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let Ok(permit) = Arc::clone(&batches).acquire_owned().await else {
            return;
        };
        let now = roster.now();
        let lease_until = Timestamp::from_micros(now.micros() + LEASE.as_micros() as i64);
        let claimed = roster
            .store()
            .claim_deliveries(&owner, now, lease_until, BATCH)
            .await;
        let deliveries = match claimed {
            Ok(deliveries) => deliveries,
            Err(err) => {
                tracing::warn!(%err, "could not take webhook deliveries from the queue");
                Vec::new()
            }
        };
        let full = deliveries.len() == BATCH as usize;
        if !deliveries.is_empty() {
            let (roster, client, owner) = (roster.clone(), client.clone(), owner.clone());
            tokio::spawn(async move {
                // Each endpoint's outcomes are recorded as soon as its own attempts end:
                // a slow endpoint delays no other's log or retry.
                let mut by_webhook: Vec<Vec<Delivery>> = Vec::new();
                for delivery in deliveries {
                    let same =
                        |group: &&mut Vec<Delivery>| group[0].webhook.id == delivery.webhook.id;
                    match by_webhook.iter_mut().find(same) {
                        Some(group) => group.push(delivery),
                        None => by_webhook.push(vec![delivery]),
                    }
                }
                let endpoints = by_webhook
                    .into_iter()
                    .map(|group| send_and_record(&roster, &client, allow_private, &owner, group));
                futures_util::future::join_all(endpoints).await;
                drop(permit);
            });
        } else {
            drop(permit);
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = &mut woken => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One endpoint's share of a batch: its attempts, then their outcomes recorded.
async fn send_and_record(
    roster: &Roster,
    client: &reqwest::Client,
    allow_private: bool,
    owner: &str,
    deliveries: Vec<Delivery>,
) {
    let sends = deliveries
        .into_iter()
        .map(|delivery| attempt(roster, client, allow_private, delivery));
    let outcomes = futures_util::future::join_all(sends).await;
    let counts = roster.delivery_counts();
    for outcome in outcomes.iter().filter(|outcome| !outcome.skipped) {
        let counter = match outcome.delivered {
            true => &counts.delivered,
            false => &counts.failed,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if let Err(err) = roster.store().finish_deliveries(owner, &outcomes).await {
        // The leases run out and the deliveries are tried again.
        tracing::warn!(%err, "could not record webhook deliveries");
    }
}

/// One attempt at one delivery.
async fn attempt(
    roster: &Roster,
    client: &reqwest::Client,
    allow_private: bool,
    delivery: Delivery,
) -> DeliveryOutcome {
    let mut outcome = DeliveryOutcome {
        webhook_id: delivery.webhook.id,
        event_seq: delivery.event.seq,
        attempt: delivery.attempt,
        at: roster.now(),
        status: None,
        error: None,
        delivered: false,
        next_retry: None,
        disable: None,
        skipped: false,
    };
    let request = match formats::render(roster, &delivery, outcome.at).await {
        Ok(Some(request)) => request,
        Ok(None) => {
            // Not for this endpoint (its events or fields leave it out): done.
            outcome.delivered = true;
            outcome.skipped = true;
            return outcome;
        }
        Err(err) => return failed(outcome, &delivery, err.to_string()),
    };
    if let Err(reason) = resolver::check_literal(&delivery.webhook.url, allow_private) {
        return failed(outcome, &delivery, reason);
    }
    let mut post = client
        .post(&delivery.webhook.url)
        .header("content-type", "application/json");
    for (name, value) in &request.headers {
        post = post.header(name.as_str(), value.as_str());
    }
    match post.body(request.body).send().await {
        Ok(response) => {
            let status = response.status();
            outcome.status = Some(status.as_u16());
            // Read (and drop) the answer, so the connection can be kept.
            let _ = response.bytes().await;
            if status.is_success() {
                outcome.delivered = true;
                return outcome;
            }
            if status == reqwest::StatusCode::GONE {
                outcome.error = Some("the endpoint answered 410 Gone".to_owned());
                outcome.disable = Some("the endpoint answered 410 Gone".to_owned());
                return outcome;
            }
            let reason = format!("the endpoint answered {status}");
            failed(outcome, &delivery, reason)
        }
        Err(err) => {
            let reason = if err.is_timeout() {
                format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())
            } else {
                error_chain(&err)
            };
            failed(outcome, &delivery, reason)
        }
    }
}

/// A failed attempt: retried with backoff, or given up past three days.
fn failed(mut outcome: DeliveryOutcome, delivery: &Delivery, reason: String) -> DeliveryOutcome {
    let jitter = jitter(&delivery.event.id, delivery.attempt);
    outcome.next_retry = next_retry(delivery.attempt, delivery.event.at, outcome.at, jitter);
    outcome.error = Some(match outcome.next_retry {
        Some(_) => reason,
        None => format!("{reason}; given up after 3 days of retries"),
    });
    outcome
}

/// A spread in -1..=1 that differs between events and attempts.
fn jitter(event_id: &str, attempt: i64) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (event_id, attempt).hash(&mut hasher);
    (hasher.finish() % 2_001) as f64 / 1_000.0 - 1.0
}

/// An error with its causes, as one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A random id for this node's leases.
fn uuid_like() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
