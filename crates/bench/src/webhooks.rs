//! `--webhooks`: how long a write takes to reach a webhook endpoint (creates at a fixed
//! rate, each timed from its request to the event's arrival at a receiver on loopback),
//! then how many events per second one endpoint is sent when writes come as fast as they
//! can.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roster_core::webhooks::{WebhookFormat, WebhookKey, WebhookRequest};
use roster_core::Roster;

use crate::writes;

/// The key the benchmark's servers seal webhook secrets with (`ROSTER_WEBHOOK_KEY`).
pub const BENCH_WEBHOOK_KEY: &str = "roster-bench";

/// What the receiver saw: when each contact's event arrived, by email.
#[derive(Default)]
struct Arrivals {
    at: Mutex<HashMap<String, Instant>>,
    count: AtomicUsize,
}

async fn receiver() -> (String, Arc<Arrivals>) {
    let arrivals = Arc::new(Arrivals::default());
    let seen = Arc::clone(&arrivals);
    let app = axum::Router::new().fallback(move |body: String| {
        let seen = Arc::clone(&seen);
        async move {
            let now = Instant::now();
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&body) {
                if let Some(email) = event["data"]["contact"]["email"].as_str() {
                    seen.at.lock().unwrap().insert(email.to_owned(), now);
                }
            }
            seen.count.fetch_add(1, Ordering::Relaxed);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

/// Subscribes the workspace's `contact.created` to a fresh receiver.
pub async fn subscribe(
    roster: &Roster,
    workspace: roster_core::domain::WorkspaceId,
) -> ReceiverHandle {
    let (url, arrivals) = receiver().await;
    let roster = roster
        .clone()
        .with_webhooks(WebhookKey::from_text(BENCH_WEBHOOK_KEY), true);
    let request = WebhookRequest {
        url,
        format: WebhookFormat::Roster,
        events: Some(vec![roster_core::events::EventType::ContactCreated]),
        fields: None,
        subscriptions: None,
        description: Some("roster-bench".into()),
    };
    roster
        .create_webhook(workspace, request)
        .await
        .expect("webhook created");
    ReceiverHandle { arrivals }
}

pub struct ReceiverHandle {
    arrivals: Arc<Arrivals>,
}

impl ReceiverHandle {
    /// Events received so far.
    pub fn received(&self) -> usize {
        self.arrivals.count.load(Ordering::Relaxed)
    }

    /// Waits until `count` events arrived (at most `within`); answers when the last did.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Instant {
        let started = Instant::now();
        while self.arrivals.count.load(Ordering::Relaxed) < count && started.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Instant::now()
    }
}

/// Numbers the latency runs' contacts, so that no two runs' emails collide.
static LATENCY_SERIAL: AtomicUsize = AtomicUsize::new(0);

/// Creates at `rate` per second for `seconds`; each one's latency to the receiver.
pub async fn latency(
    target: &writes::Target,
    receiver: &ReceiverHandle,
    rate: u32,
    seconds: u32,
) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chatbots/{}/contacts", target.base, target.workspace);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = (rate * seconds) as usize;
    let before = receiver.arrivals.count.load(Ordering::Relaxed);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut requests = Vec::with_capacity(total);
    for n in 0..total {
        ticks.tick().await;
        let (client, url, key, sent) = (
            client.clone(),
            url.clone(),
            target.key.clone(),
            Arc::clone(&sent),
        );
        requests.push(tokio::spawn(async move {
            let email = format!("latency{}@bench.example", LATENCY_SERIAL.fetch_add(1, Ordering::Relaxed));
            sent.lock().unwrap().insert(email.clone(), Instant::now());
            let body = serde_json::json!({"name": format!("Latency {n}"), "language": "en", "email": email});
            let response = client
                .post(&url)
                .header("x-chatcaptain-key", key)
                .json(&body)
                .send()
                .await
                .expect("roster answers");
            assert!(response.status().is_success(), "create: {}", response.status());
        }));
    }
    for request in requests {
        request.await.unwrap();
    }
    receiver
        .wait_for(before + total, Duration::from_secs(60))
        .await;
    let sent = sent.lock().unwrap();
    let arrived = receiver.arrivals.at.lock().unwrap();
    sent.iter()
        .filter_map(|(email, at)| arrived.get(email).map(|got| got.duration_since(*at)))
        .collect()
}

/// `count` creates by `clients` closed-loop clients as fast as they go; answers the
/// creates' wall time and the time until the receiver had every event.
pub async fn throughput(
    targets: &[writes::Target],
    receiver: &ReceiverHandle,
    clients: usize,
    count: usize,
    serial: Arc<AtomicUsize>,
) -> (Duration, Duration) {
    let before = receiver.arrivals.count.load(Ordering::Relaxed);
    let started = Instant::now();
    let outcome = writes::run_writes(targets, clients, writes::Until::Count(count), serial).await;
    let last = receiver
        .wait_for(before + outcome.latencies.len(), Duration::from_secs(120))
        .await;
    (outcome.wall, last.duration_since(started))
}
