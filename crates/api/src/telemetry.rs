//! What an operator sees of the running server: a request id on every request (taken
//! from `x-request-id` when the caller sends a sane one, else made up, and echoed back),
//! one log line per request inside a span carrying that id, and Prometheus metrics at
//! `/metrics` — requests by route and status, latency by route, search latency, how far
//! the search index trails the store, and database connections.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id taken from a caller.
const MAX_REQUEST_ID_LEN: usize = 128;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// The server's metrics and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    search_latency: Histogram,
    index_lag: Gauge,
    connections: Family<PoolLabels, Gauge>,
    events_written: Gauge,
    deliveries: Family<OutcomeLabels, Gauge>,
    queue_depth: Gauge,
    oldest_queued: Gauge<f64, std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Latency buckets from 0.5 ms to about 8 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 15)
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("roster");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route",
            latency.clone(),
        );
        let search_latency = Histogram::new(latency_buckets());
        registry.register(
            "search_duration_seconds",
            "Time to answer search requests (every dialect)",
            search_latency.clone(),
        );
        let index_lag = Gauge::default();
        registry.register(
            "search_index_lag_changes",
            "Store changes the search index has not applied yet",
            index_lag.clone(),
        );
        let connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_connections",
            "Database connections held, by state (idle or in use)",
            connections.clone(),
        );
        let events_written = Gauge::default();
        registry.register(
            "events_written",
            "Change events written since the installation began",
            events_written.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Gauge>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts this node made since it started, by outcome (delivered or failed)",
            deliveries.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries waiting to be sent or retried",
            queue_depth.clone(),
        );
        let oldest_queued = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "webhook_oldest_undelivered_seconds",
            "Age of the oldest event still waiting for a webhook delivery (0 when none)",
            oldest_queued.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            search_latency,
            index_lag,
            connections,
            events_written,
            deliveries,
            queue_depth,
            oldest_queued,
        }
    }
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
        if route.ends_with("/search") {
            self.search_latency.observe(seconds);
        }
    }
}

/// A caller's request id is kept if it is short printable ASCII; anything else is
/// replaced, so logs never carry control characters a client chose.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LEN
                && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Gives every request an id, a span, a log line and its metrics.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request_id(&request);
    let method = request.method().to_string();
    // The route pattern, not the path: ids must not explode the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.observe(&method, &route, status, seconds);
    span.in_scope(|| {
        tracing::info!(status, elapsed_ms = seconds * 1000.0, "answered");
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// `GET /metrics`: the Prometheus (OpenMetrics) text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.roster.store();
    if let (Ok(search), Ok(last)) = (state.roster.search(), store.last_change_seq().await) {
        let applied = search.applied_change().await;
        state.metrics.index_lag.set((last - applied).max(0));
    }
    if let Ok(stats) = store.queue_stats().await {
        let metrics = &state.metrics;
        metrics.events_written.set(stats.events_written);
        metrics
            .queue_depth
            .set(i64::try_from(stats.queued).unwrap_or(i64::MAX));
        let now = state.roster.now().micros();
        let age = stats
            .oldest_queued
            .map_or(0.0, |at| (now - at.micros()).max(0) as f64 / 1e6);
        metrics.oldest_queued.set(age);
    }
    let counts = state.roster.delivery_counts();
    for (outcome, count) in [("delivered", &counts.delivered), ("failed", &counts.failed)] {
        let count = count.load(std::sync::atomic::Ordering::Relaxed);
        state
            .metrics
            .deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    let pool = store.pool_usage();
    let gauge = |state_name| {
        state
            .metrics
            .connections
            .get_or_create(&PoolLabels { state: state_name })
    };
    gauge("idle").set(i64::from(pool.idle));
    gauge("in_use").set(i64::from(pool.connections.saturating_sub(pool.idle)));
    let mut text = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry)
    {
        tracing::error!(%err, "encoding metrics failed");
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Shared between clones of the application state.
pub type SharedMetrics = Arc<Metrics>;
