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

/// A request with its headers; answers status, headers and the JSON body (null if none).
async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.header("content-type", JSON).body(body.to_string());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// How many contacts a ChatCaptain key's workspace lists.
async fn contact_count(base: &str, workspace: &str, key: &str) -> usize {
    let url = format!("{base}/v1/chatbots/{workspace}/contacts?pageSize=100");
    let (_, _, listed) = send(Method::GET, &url, &[("x-chatcaptain-key", key)], None).await;
    listed["contacts"].as_array().unwrap().len()
}

/// A retried create gets the first answer again and makes no second contact, in every
/// dialect and the admin API; the same key with another body is refused in the
/// dialect's words, naming the header; a bad key is refused before anything runs.
#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_is_answered_once_in_every_api() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Retries");
    let server = Server::start(dir.path(), None);
    let base = server.base.as_str();
    let cc = [
        ("x-chatcaptain-key", key.as_str()),
        ("idempotency-key", "cc-1"),
    ];
    let cw = [
        ("api_access_token", key.as_str()),
        ("idempotency-key", "cw-1"),
    ];
    let bearer = format!("Bearer {key}");
    let sc = [
        ("authorization", bearer.as_str()),
        ("idempotency-key", "sc-1"),
    ];
    let admin_bearer = format!("Bearer {}", super::ADMIN_TOKEN);
    let admin = [
        ("authorization", admin_bearer.as_str()),
        ("idempotency-key", "ad-1"),
    ];
    let cases = [
        (
            format!("{base}/v1/chatbots/{workspace}/contacts"),
            &cc[..],
            json!({"name": "Once CC", "language": "en"}),
            json!({"name": "Twice CC", "language": "en"}),
        ),
        (
            format!("{base}/api/v1/accounts/{workspace}/contacts"),
            &cw[..],
            json!({"name": "Once CW", "email": "once.cw@example.com"}),
            json!({"name": "Twice CW"}),
        ),
        (
            format!("{base}/v2/org/{workspace}/contact"),
            &sc[..],
            json!({"crm_id": "ONCE-1", "phone_number": {"countryCode": 44, "nationalNumber": 7911123456u64}, "opt_in_date": 1704067200}),
            json!({"crm_id": "ONCE-2", "phone_number": {"countryCode": 44, "nationalNumber": 7911123457u64}, "opt_in_date": 1704067200}),
        ),
        (
            format!("{base}/admin/v1/workspaces"),
            &admin[..],
            json!({"name": "Once"}),
            json!({"name": "Twice"}),
        ),
    ];
    let mut reused = Vec::new();
    for (url, headers, body, other_body) in cases {
        let (status, first_headers, first) =
            send(Method::POST, &url, headers, Some(body.clone())).await;
        assert!(status.is_success(), "{url}: {status} {first}");
        assert_eq!(header(&first_headers, "idempotent-replayed"), None);
        let (again, again_headers, replayed) = send(Method::POST, &url, headers, Some(body)).await;
        assert_eq!((again, &replayed), (status, &first), "{url}");
        assert_eq!(header(&again_headers, "idempotent-replayed"), Some("true"));
        assert_eq!(
            header(&again_headers, "content-type"),
            header(&first_headers, "content-type")
        );
        let (status, _, refused) = send(Method::POST, &url, headers, Some(other_body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {refused}");
        reused.push(refused);
    }
    assert_eq!(
        reused[0]["error"],
        "Idempotency-Key was already used for a different request (method, path or body): send a new key."
    );
    assert_eq!(reused[1]["attributes"], json!(["Idempotency-Key"]));
    assert_eq!(reused[2]["error_code"], 4220003);
    assert_eq!(reused[2]["payload"]["field"], "Idempotency-Key");
    assert!(reused[3]["error"]
        .as_str()
        .unwrap()
        .starts_with("Idempotency-Key"));

    // One contact per create (ChatCaptain, Chatwoot, SalesChat) and one new workspace.
    assert_eq!(contact_count(base, &workspace, &key).await, 3);
    let (_, _, workspaces) = send(
        Method::GET,
        &format!("{base}/admin/v1/workspaces"),
        &admin[..1],
        None,
    )
    .await;
    assert_eq!(workspaces.as_array().unwrap().len(), 2);

    // A key is another caller's own: the same key from another API key runs anew.
    let other_key = cli_tenant_key(dir.path(), &workspace);
    let url = format!("{base}/v1/chatbots/{workspace}/contacts");
    let theirs = [
        ("x-chatcaptain-key", other_key.as_str()),
        ("idempotency-key", "cc-1"),
    ];
    let (status, headers, _) = send(
        Method::POST,
        &url,
        &theirs,
        Some(json!({"name": "Theirs", "language": "en"})),
    )
    .await;
    assert_eq!(
        (status, header(&headers, "idempotent-replayed")),
        (StatusCode::CREATED, None)
    );

    let long = "k".repeat(256);
    for bad in [long.as_str(), "has space"] {
        let headers = [
            ("x-chatcaptain-key", key.as_str()),
            ("idempotency-key", bad),
        ];
        let (status, _, body) = send(
            Method::POST,
            &url,
            &headers,
            Some(json!({"name": "Never", "language": "en"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]
            .as_str()
            .unwrap()
            .starts_with("Idempotency-Key: must be 1 to 255"));
    }
    assert_eq!(contact_count(base, &workspace, &key).await, 4);

    // The answers are kept in the store: they outlive a restart.
    drop(server);
    let server = Server::start(dir.path(), None);
    let (status, headers, _) = send(
        Method::POST,
        &format!("{}/v1/chatbots/{workspace}/contacts", server.base),
        &cc,
        Some(json!({"name": "Once CC", "language": "en"})),
    )
    .await;
    assert_eq!(
        (status, header(&headers, "idempotent-replayed")),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(contact_count(&server.base, &workspace, &key).await, 4);
}

/// A second key of `workspace`, with every permission.
fn cli_tenant_key(data_dir: &std::path::Path, workspace: &str) -> String {
    let key = super::cli(
        data_dir,
        None,
        &[
            "key",
            "create",
            "--workspace",
            workspace,
            "--name",
            "second",
            "--permission",
            "*",
        ],
    );
    key["key"].as_str().unwrap().to_owned()
}

/// A client whose connection is cut after sending still finds its request done when it
/// retries; retries racing each other run it once (the others are told it is running,
/// or get its answer).
#[tokio::test]
async fn a_cut_connection_and_racing_retries_create_one_contact() {
    use tokio::io::AsyncWriteExt;

    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Cut");
    let server = Server::start(dir.path(), None);
    let body = json!({"name": "Cut Short", "language": "en"}).to_string();
    let address = server.base.trim_start_matches("http://").to_owned();
    let raw = format!(
        "POST /v1/chatbots/{workspace}/contacts HTTP/1.1\r\nhost: {address}\r\nx-chatcaptain-key: {key}\r\n\
         idempotency-key: cut-1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let url = format!("{}/v1/chatbots/{workspace}/contacts", server.base);
    let headers = [
        ("x-chatcaptain-key", key.as_str()),
        ("idempotency-key", "cut-1"),
    ];
    // Twice: hung up at once (the request may not have been read: then the retry runs
    // it), and hung up after the server had it but before the answer was read (then the
    // retry gets the answer). Either way, one contact.
    for (round, wait_ms) in [(1, 0), (2, 200)] {
        let key_header = format!("cut-{round}");
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let raw = raw.replace(
            "idempotency-key: cut-1",
            &format!("idempotency-key: {key_header}"),
        );
        socket.write_all(raw.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
        drop(socket);
        let headers = [headers[0], ("idempotency-key", key_header.as_str())];
        let retried = loop {
            let (status, answer_headers, answer) = send(
                Method::POST,
                &url,
                &headers,
                Some(serde_json::from_str(&body).unwrap()),
            )
            .await;
            match status {
                // The first is still running: the client retries a little later.
                StatusCode::CONFLICT => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                StatusCode::CREATED => break (answer_headers, answer),
                other => panic!("the retry answered {other}: {answer}"),
            }
        };
        if wait_ms > 0 {
            assert_eq!(header(&retried.0, "idempotent-replayed"), Some("true"));
        }
        assert_eq!(retried.1["contact"]["name"], "Cut Short");
        assert_eq!(contact_count(&server.base, &workspace, &key).await, round);
    }

    let races = (0..8).map(|_| {
        let (url, key) = (url.clone(), key.clone());
        tokio::spawn(async move {
            let headers = [
                ("x-chatcaptain-key", key.as_str()),
                ("idempotency-key", "race-1"),
            ];
            send(
                Method::POST,
                &url,
                &headers,
                Some(json!({"name": "Raced", "language": "en"})),
            )
            .await
        })
    });
    let mut ran = 0;
    let mut ids = std::collections::HashSet::new();
    for race in races.collect::<Vec<_>>() {
        let (status, headers, body) = race.await.unwrap();
        match status {
            StatusCode::CREATED => {
                ids.insert(body["contact"]["id"].as_str().unwrap().to_owned());
                if header(&headers, "idempotent-replayed").is_none() {
                    ran += 1;
                }
            }
            StatusCode::CONFLICT => assert_eq!(
                body["error"],
                "Idempotency-Key: the first request with this key is still running; retry when it is done."
            ),
            other => panic!("a racing retry answered {other}: {body}"),
        }
    }
    assert_eq!(ran, 1, "exactly one of the racing requests ran");
    assert!(ids.len() <= 1);
    assert_eq!(contact_count(&server.base, &workspace, &key).await, 3);
}

/// Two nodes on one PostgreSQL database share their keys: a retry that reaches the
/// other node is answered from the first node's run.
#[tokio::test]
async fn two_nodes_on_postgres_share_idempotency_keys() {
    let database = roster_store::testing::postgres().await;
    let url = database.database_url.as_str();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (workspace, key) = cli_tenant(dir_a.path(), Some(url), "Shared keys");
    let node_a = Server::start(dir_a.path(), Some(url));
    let node_b = Server::start(dir_b.path(), Some(url));
    let headers = [
        ("x-chatcaptain-key", key.as_str()),
        ("idempotency-key", "shared-1"),
    ];
    let body = json!({"name": "On Node A", "language": "en"});
    let path = format!("/v1/chatbots/{workspace}/contacts");
    let (status, _, first) = send(
        Method::POST,
        &format!("{}{path}", node_a.base),
        &headers,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, replay_headers, again) = send(
        Method::POST,
        &format!("{}{path}", node_b.base),
        &headers,
        Some(body),
    )
    .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    assert_eq!(header(&replay_headers, "idempotent-replayed"), Some("true"));
    let (status, _, _) = send(
        Method::POST,
        &format!("{}{path}", node_b.base),
        &headers,
        Some(json!({"name": "Other", "language": "en"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(contact_count(&node_b.base, &workspace, &key).await, 1);
}
