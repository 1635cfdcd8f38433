//! Writes under concurrency, through the real binary: group commit of concurrent
//! creates, safe retries with `Idempotency-Key`, ETag preconditions, rate limits, and
//! `kill -9` during a mixed write load.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cli_tenant, Server};

/// One request; answers status, headers and the JSON body (`Null` if none).
pub(crate) async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Creates that arrive together are committed together, yet each gets its own answer:
/// one that collides fails alone and takes nothing else with it.
#[tokio::test]
async fn concurrent_creates_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Group commit");
    let server = Server::start(dir.path(), None);
    let url = format!("{}/v1/chatbots/{workspace}/contacts", server.base);
    let creates = (0..24).map(|i| {
        let (url, key) = (url.clone(), key.clone());
        // Two of them want the same email.
        let email = if i == 7 || i == 19 {
            "same@example.com".to_owned()
        } else {
            format!("c{i}@example.com")
        };
        tokio::spawn(async move {
            let body = json!({"name": format!("Batch {i}"), "language": "en", "email": email});
            send(
                Method::POST,
                &url,
                &[("x-chatcaptain-key", &key)],
                Some(body),
            )
            .await
        })
    });
    let mut created = Vec::new();
    let mut conflicts = 0;
    for handle in creates.collect::<Vec<_>>() {
        let (status, _, body) = handle.await.unwrap();
        match status {
            StatusCode::CREATED => created.push(body["contact"]["id"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => {
                assert_eq!(body["error"], "email is already used by another contact.");
                conflicts += 1;
            }
            other => panic!("a create answered {other}: {body}"),
        }
    }
    assert_eq!((created.len(), conflicts), (23, 1));
    let (_, _, listed) = send(
        Method::GET,
        &format!("{url}?pageSize=100"),
        &[("x-chatcaptain-key", &key)],
        None,
    )
    .await;
    let mut listed: Vec<String> = listed["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "every acknowledged create, and only those");
}
