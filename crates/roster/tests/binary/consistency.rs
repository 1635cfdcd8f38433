//! Writes under concurrency, through the real binary: group commit of concurrent
//! creates, safe retries with `Idempotency-Key`, ETag preconditions, rate limits, and
//! `kill -9` during a mixed write load.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::first_hour::{call, JSON};
use super::{cli_tenant, Server};

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
            let headers = [("x-chatcaptain-key", key.as_str()), ("content-type", JSON)];
            call(
                Method::POST,
                &url,
                &headers,
                Some(body.to_string().into_bytes()),
            )
            .await
        })
    });
    let mut created = Vec::new();
    let mut conflicts = 0;
    for handle in creates.collect::<Vec<_>>() {
        let (status, body) = handle.await.unwrap();
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
    let (_, listed) = call(
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
