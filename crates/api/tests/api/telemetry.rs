//! What operators see: request ids echoed back, and Prometheus metrics by route pattern.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{send, TestApp};

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.request(Method::GET, "/healthz").send().await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    let response = app
        .request(Method::GET, "/nowhere")
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["x-request-id"],
        "trace-42",
        "a caller's id is kept"
    );
    let response = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    assert_ne!(
        response.headers()["x-request-id"],
        "two words",
        "an unsafe id is replaced"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for name in ["Ann", "Bob"] {
        app.create_contact(&tenant, json!({"name": name, "language": "EN"}))
            .await;
    }
    let (status, _) = send(app.cc(&tenant, Method::GET, "/contacts/424242")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.search.catch_up().await.unwrap();
    send(
        app.cc(&tenant, Method::GET, "/contacts/search")
            .query(&[("query", "ann")]),
    )
    .await;

    let response = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    let has = |needle: &str| assert!(text.contains(needle), "{needle} in:\n{text}");
    has(
        r#"roster_http_requests_total{method="POST",route="/v1/chatbots/{chatbotId}/contacts",status="201"} 2"#,
    );
    has(
        r#"roster_http_requests_total{method="GET",route="/v1/chatbots/{chatbotId}/contacts/{contactId}",status="404"} 1"#,
    );
    has(
        r#"roster_http_request_duration_seconds_count{method="POST",route="/v1/chatbots/{chatbotId}/contacts"} 2"#,
    );
    has("roster_search_duration_seconds_count 1");
    has("roster_search_index_lag_changes 0");
    has(r#"roster_db_connections{state="idle"}"#);
}
