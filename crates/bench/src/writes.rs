//! Write load: closed-loop clients creating contacts through ChatCaptain's API against
//! one or more running `roster serve` nodes, each create acknowledged only once durable.
//! Used alone (`--writes N`) and beside the searches (`--write-clients W`, the mixed load
//! of the read-your-writes benchmark).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where writes go: a node's base URL, and a workspace with its key.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    pub workspace: i64,
    pub key: String,
}

#[derive(Default)]
pub struct WriteOutcome {
    pub latencies: Vec<Duration>,
    pub wall: Duration,
}

/// Until what a write run goes on.
#[derive(Clone)]
pub enum Until {
    /// This many creates in all.
    Count(usize),
    /// Until the flag turns false (the searches are done).
    Flag(Arc<AtomicBool>),
}

/// Runs `clients` writers, client `i` against `targets[i % len]`; `serial` makes every
/// contact's email unique across runs of one benchmark.
pub async fn run_writes(
    targets: &[Target],
    clients: usize,
    until: Until,
    serial: Arc<AtomicUsize>,
) -> WriteOutcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for i in 0..clients {
        let target = targets[i % targets.len()].clone();
        let (client, until, serial, issued) = (
            client.clone(),
            until.clone(),
            serial.clone(),
            issued.clone(),
        );
        workers.push(tokio::spawn(async move {
            let url = format!("{}/v1/chatbots/{}/contacts", target.base, target.workspace);
            let mut latencies = Vec::new();
            loop {
                let go_on = match &until {
                    Until::Count(count) => issued.fetch_add(1, Ordering::Relaxed) < *count,
                    Until::Flag(flag) => flag.load(Ordering::Relaxed),
                };
                if !go_on {
                    break;
                }
                let n = serial.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::json!({
                    "name": format!("Writer Contact {n}"),
                    "language": "en",
                    "email": format!("writer{n}@bench.example"),
                });
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("x-chatcaptain-key", &target.key)
                    .json(&body)
                    .send()
                    .await
                    .expect("roster answers");
                let status = response.status();
                let answer = response.text().await.unwrap_or_default();
                assert!(status.is_success(), "a create answered {status}: {answer}");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut outcome = WriteOutcome::default();
    for worker in workers {
        outcome
            .latencies
            .extend(worker.await.expect("write worker"));
    }
    outcome.wall = started.elapsed();
    outcome
}
