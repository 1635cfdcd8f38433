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

    // A retried key creation says the key was made, without its secret: the secret is
    // shown once and is in no file of the data directory.
    let keys_url = format!("{base}/admin/v1/workspaces/{workspace}/keys");
    let new_key = json!({"name": "retried", "permissions": ["*"]});
    let retried = [admin[0], ("idempotency-key", "key-1")];
    let (status, _, issued) = send(Method::POST, &keys_url, &retried, Some(new_key.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, headers, replayed) = send(Method::POST, &keys_url, &retried, Some(new_key)).await;
    assert_eq!(
        (status, header(&headers, "idempotent-replayed")),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(replayed["id"], issued["id"]);
    assert!(replayed["key"].is_null(), "{replayed}");
    let secret = issued["key"].as_str().unwrap();
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes());
            assert!(!found, "the secret is in {}", path.display());
        }
    }

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

/// A contact's ETag is one in every dialect and follows everything any of them shows (a
/// label set through Chatwoot changes it for ChatCaptain); `If-None-Match` answers 304;
/// a stale `If-Match` is refused with 412 in each dialect's words and changes nothing.
#[tokio::test]
async fn etags_follow_every_change_and_stale_preconditions_are_refused_in_every_dialect() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, key) = cli_tenant(dir.path(), None, "ETags");
    let server = Server::start(dir.path(), None);
    let base = server.base.as_str();
    let cc = [("x-chatcaptain-key", key.as_str())];
    let cw = [("api_access_token", key.as_str())];
    let bearer = format!("Bearer {key}");
    let sc = [("authorization", bearer.as_str())];
    let (status, created_headers, created) = send(
        Method::POST,
        &format!("{base}/v2/org/{ws}/contact"),
        &sc,
        Some(json!({"crm_id": "E-1", "phone_number": {"countryCode": 44, "nationalNumber": 7911123456u64}, "opt_in_date": 1704067200, "first_name": "Ada"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let first = header(&created_headers, "etag").unwrap().to_owned();
    let cc_url = format!("{base}/v1/chatbots/{ws}/contacts/{id}");
    let cw_url = format!("{base}/api/v1/accounts/{ws}/contacts/{id}");
    let etag_of = |url: String, headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, answer, _) = send(Method::GET, &url, &headers, None).await;
        assert_eq!(status, StatusCode::OK);
        header(&answer, "etag").unwrap().to_owned()
    };
    let cc_owned = vec![("x-chatcaptain-key", key.clone())];
    let cw_owned = vec![("api_access_token", key.clone())];
    assert_eq!(etag_of(cc_url.clone(), cc_owned.clone()).await, first);
    assert_eq!(etag_of(cw_url.clone(), cw_owned.clone()).await, first);

    // Unchanged: 304 without a body.
    let unchanged = [cc[0], ("if-none-match", first.as_str())];
    let (status, headers, body) = send(Method::GET, &cc_url, &unchanged, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_MODIFIED, serde_json::Value::Null)
    );
    assert_eq!(header(&headers, "etag"), Some(first.as_str()));

    // A label (Chatwoot) changes the ETag everywhere.
    let (status, _, _) = send(
        Method::POST,
        &format!("{cw_url}/labels"),
        &cw,
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let labelled = etag_of(cc_url.clone(), cc_owned.clone()).await;
    assert_ne!(labelled, first);
    let (status, _, _) = send(Method::GET, &cc_url, &unchanged, None).await;
    assert_eq!(status, StatusCode::OK, "the old ETag no longer matches");

    // Stale preconditions: refused in each dialect's words, nothing changed.
    let stale = first.as_str();
    let (status, _, body) = send(
        Method::PATCH,
        &cc_url,
        &[cc[0], ("if-match", stale)],
        Some(json!({"contact": {"name": "Stale CC"}})),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        body["error"],
        "If-Match: the record changed since that ETag was read (or does not exist): GET it again and retry."
    );
    let (status, _, body) = send(
        Method::PUT,
        &cw_url,
        &[cw[0], ("if-match", stale)],
        Some(json!({"name": "Stale CW"})),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(body["error"].as_str().unwrap().starts_with("If-Match"));
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/v1/orgs/{ws}/contact/{id}"),
            json!({"crm_id": "E-1", "first_name": "Stale"}),
        ),
        (
            Method::PUT,
            format!("/v2/orgs/{ws}/contact/{id}/disposition"),
            json!({"stage": "QUALIFIED"}),
        ),
        (
            Method::POST,
            format!("/v3/orgs/{ws}/contacts/{id}/assign"),
            json!({"user_id": "nobody"}),
        ),
    ] {
        let (status, _, refused) = send(
            method,
            &format!("{base}{path}"),
            &[sc[0], ("if-match", stale)],
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: {refused}");
        assert_eq!(refused["error_code"], 4120001);
        assert_eq!(refused["payload"]["field"], "If-Match");
    }
    let (status, _, body) =
        send(Method::DELETE, &cc_url, &[cc[0], ("if-match", stale)], None).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(
        etag_of(cc_url.clone(), cc_owned.clone()).await,
        labelled,
        "nothing changed"
    );

    // The current ETag lets the write through; its answer carries the next one.
    let (status, headers, updated) = send(
        Method::PATCH,
        &cc_url,
        &[cc[0], ("if-match", labelled.as_str())],
        Some(json!({"contact": {"name": "Ada L"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let next = header(&headers, "etag").unwrap().to_owned();
    assert_eq!(etag_of(cc_url.clone(), cc_owned.clone()).await, next);
    let (status, headers, _) = send(
        Method::PUT,
        &format!("{base}/v2/orgs/{ws}/contact/{id}/disposition"),
        &[sc[0], ("if-match", next.as_str())],
        Some(json!({"stage": "QUALIFIED"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let staged = header(&headers, "etag").unwrap().to_owned();
    assert_ne!(staged, next, "the stage is part of the record");

    // `*`: the record must exist.
    let missing = format!("{base}/v1/chatbots/{ws}/contacts/999999");
    let (status, _, _) = send(Method::DELETE, &missing, &[cc[0], ("if-match", "*")], None).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = send(Method::DELETE, &cw_url, &[cw[0], ("if-match", "*")], None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(Method::GET, &cc_url, &cc, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Organizations too.
    let (status, headers, org) = send(
        Method::POST,
        &format!("{base}/v1/chatbots/{ws}/organizations"),
        &cc,
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let org_etag = header(&headers, "etag").unwrap().to_owned();
    let org_url = format!(
        "{base}/v1/chatbots/{ws}/organizations/{}",
        org["organization"]["id"].as_str().unwrap()
    );
    let (status, _, _) = send(
        Method::PATCH,
        &org_url,
        &[cc[0], ("if-match", "\"stale\"")],
        Some(json!({"organization": {"name": "Acme 2"}})),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, renamed) = send(
        Method::PATCH,
        &org_url,
        &[cc[0], ("if-match", org_etag.as_str())],
        Some(json!({"organization": {"name": "Acme 2"}})),
    )
    .await;
    assert_eq!(
        (status, renamed["organization"]["name"].as_str()),
        (StatusCode::OK, Some("Acme 2"))
    );
    // A create's ETag is the one its GET answers, organizations and all; a rename of its
    // organization changes it.
    let org_id = org["organization"]["id"].as_str().unwrap();
    let (status, headers, member) = send(
        Method::POST,
        &format!("{base}/v1/chatbots/{ws}/contacts"),
        &cc,
        Some(json!({"name": "Member", "language": "en", "organizationIds": [org_id]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    let member_id = member["contact"]["id"].as_str().unwrap();
    let member_url = format!("{base}/v1/chatbots/{ws}/contacts/{member_id}");
    let created = header(&headers, "etag").unwrap().to_owned();
    assert_eq!(etag_of(member_url.clone(), cc_owned.clone()).await, created);
    let rename = json!({"organization": {"name": "Acme 3"}});
    let (status, _, _) = send(Method::PATCH, &org_url, &cc, Some(rename)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(etag_of(member_url, cc_owned.clone()).await, created);
}

/// Clients that read the same ETag and write at once: exactly one write goes through,
/// the others get 412 and change nothing; on SQLite and on PostgreSQL.
async fn racing_conditional_writes(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (ws, key) = cli_tenant(dir.path(), database_url, "Race");
    let server = Server::start(dir.path(), database_url);
    let cc = [("x-chatcaptain-key", key.as_str())];
    let url = format!("{}/v1/chatbots/{ws}/contacts", server.base);
    let (_, headers, created) = send(
        Method::POST,
        &url,
        &cc,
        Some(json!({"name": "Contested", "language": "en"})),
    )
    .await;
    let etag = header(&headers, "etag").unwrap().to_owned();
    let contact_url = format!("{url}/{}", created["contact"]["id"].as_str().unwrap());
    let writers = (0..8).map(|i| {
        let (url, key, etag) = (contact_url.clone(), key.clone(), etag.clone());
        tokio::spawn(async move {
            let headers = [
                ("x-chatcaptain-key", key.as_str()),
                ("if-match", etag.as_str()),
            ];
            let (status, _, _) = send(
                Method::PATCH,
                &url,
                &headers,
                Some(json!({"contact": {"name": format!("Writer {i}")}})),
            )
            .await;
            (i, status)
        })
    });
    let mut winners = Vec::new();
    for writer in writers.collect::<Vec<_>>() {
        let (i, status) = writer.await.unwrap();
        match status {
            StatusCode::OK => winners.push(i),
            StatusCode::PRECONDITION_FAILED => {}
            other => panic!("a conditional write answered {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    let (_, _, now) = send(Method::GET, &contact_url, &cc, None).await;
    assert_eq!(now["contact"]["name"], format!("Writer {}", winners[0]));
}

#[tokio::test]
async fn of_racing_conditional_writes_one_wins_on_sqlite() {
    racing_conditional_writes(None).await;
}

#[tokio::test]
async fn of_racing_conditional_writes_one_wins_on_postgres() {
    let database = roster_store::testing::postgres().await;
    racing_conditional_writes(Some(database.database_url.as_str())).await;
}

/// A key's rate limit, set through the admin API or the CLI, or the server's default:
/// past it, 429 in the dialect's format with `Retry-After` and the IETF fields.
#[tokio::test]
async fn keys_over_their_rate_limit_get_429_with_the_limit_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, unlimited) = cli_tenant(dir.path(), None, "Limits");
    let saleschat = super::cli(
        dir.path(),
        None,
        &[
            "key",
            "create",
            "--workspace",
            &ws,
            "--name",
            "sc",
            "--permission",
            "*",
            "--rate-limit",
            "saleschat",
        ],
    );
    assert_eq!(saleschat["rate_limit"], "saleschat");
    let server = Server::start_with(dir.path(), None, &[("ROSTER_RATE_LIMIT", "2/60s")]);
    let base = server.base.as_str();
    let admin_bearer = format!("Bearer {}", super::ADMIN_TOKEN);
    let admin = [("authorization", admin_bearer.as_str())];
    let keys_url = format!("{base}/admin/v1/workspaces/{ws}/keys");
    let (status, _, refused) = send(
        Method::POST,
        &keys_url,
        &admin,
        Some(json!({"name": "bad", "permissions": ["*"], "rate_limit": "fast"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .starts_with("rate_limit: must be none, saleschat or"));
    let (status, _, limited) = send(
        Method::POST,
        &keys_url,
        &admin,
        Some(json!({"name": "three", "permissions": ["*"], "rate_limit": "3/60s"})),
    )
    .await;
    assert_eq!(
        (status, limited["rate_limit"].as_str()),
        (StatusCode::CREATED, Some("3/60s"))
    );
    let limited = limited["key"].as_str().unwrap().to_owned();

    let url = format!("{base}/v1/chatbots/{ws}/contacts");
    for remaining in [2, 1, 0] {
        let (status, headers, _) = send(
            Method::GET,
            &url,
            &[("x-chatcaptain-key", limited.as_str())],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header(&headers, "ratelimit-policy"),
            Some("\"key\";q=3;w=60")
        );
        let state = header(&headers, "ratelimit").unwrap();
        assert!(
            state.starts_with(&format!("\"key\";r={remaining};t=")),
            "{state}"
        );
    }
    let (status, headers, body) = send(
        Method::GET,
        &url,
        &[("x-chatcaptain-key", limited.as_str())],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(header(&headers, "ratelimit")
        .unwrap()
        .starts_with("\"key\";r=0;t="));
    assert_eq!(
        body["error"],
        format!("Too many requests for this API key: retry in {retry_after} seconds.")
    );
    // Every API counts against the same key; Chatwoot answers as rack-attack does.
    let (status, headers, _) = send(
        Method::GET,
        &format!("{base}/api/v1/accounts/{ws}/contacts"),
        &[("api_access_token", limited.as_str())],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&headers, "retry-after").is_some());

    // The server's default (2 a minute) holds for keys made without a limit of their own.
    let cli_default = cli_tenant_key(dir.path(), &ws);
    let statuses: Vec<StatusCode> = futures_statuses(&url, &cli_default, 3).await;
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );

    // SalesChat's preset: 5 a second per key and endpoint, in SalesChat's error format.
    let sc_key = saleschat["key"].as_str().unwrap();
    let bearer = format!("Bearer {sc_key}");
    let phone_url = format!("{base}/v2/org/{ws}/contact/pn/%2B447911123456");
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            send(
                Method::GET,
                &phone_url,
                &[("authorization", bearer.as_str())],
                None,
            )
            .await,
        );
    }
    let (status, headers, body) = last.unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error_code"], 4290002);
    assert_eq!(body["error_message"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        Some("\"key-endpoint\";q=5;w=1, \"org-endpoint\";q=10;w=1")
    );
    // The key made with every permission and no limit of its own… follows the default too;
    // the limits never touch the admin API.
    let (status, _, _) = send(
        Method::GET,
        &format!("{base}/admin/v1/workspaces"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let _ = unlimited;
}

/// `n` GETs of `url` with `key`, one after another.
async fn futures_statuses(url: &str, key: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(
            send(Method::GET, url, &[("x-chatcaptain-key", key)], None)
                .await
                .0,
        );
    }
    statuses
}

/// What a crash test knows of one contact: the last state acknowledged, and the state a
/// write that was sent but never answered may have left instead.
#[derive(Debug, Clone, Default)]
struct Known {
    /// `Some(name)`: it exists with this name; `None`: deleted.
    acknowledged: Option<Option<String>>,
    in_doubt: Option<Option<String>>,
}

/// One writer of the crash test: creates, renames and deletes contacts of its own until
/// the server goes away; answers what it knows of each.
async fn crash_writer(
    url: String,
    key: String,
    tag: String,
    acks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<(Option<String>, String, Known)> {
    let client = reqwest::Client::new();
    let mut mine: Vec<(Option<String>, String, Known)> = Vec::new();
    for i in 0.. {
        let live: Vec<usize> = (0..mine.len())
            .filter(|&at| {
                matches!(mine[at].2.acknowledged, Some(Some(_))) && mine[at].2.in_doubt.is_none()
            })
            .collect();
        let name = format!("{tag}n{i}");
        let (request, at) = match (i % 4, live.first(), live.last()) {
            (1, Some(&at), _) => {
                let id = mine[at].0.clone().unwrap();
                mine[at].2.in_doubt = Some(Some(name.clone()));
                let body = json!({"contact": {"name": name}});
                (client.patch(format!("{url}/{id}")).json(&body), Some(at))
            }
            (3, _, Some(&at)) if live.len() > 2 => {
                let id = mine[at].0.clone().unwrap();
                mine[at].2.in_doubt = Some(None);
                (client.delete(format!("{url}/{id}")), Some(at))
            }
            _ => {
                let known = Known {
                    acknowledged: None,
                    in_doubt: Some(Some(name.clone())),
                };
                mine.push((None, name.clone(), known));
                let body = json!({"name": name, "language": "en"});
                (client.post(&url).json(&body), None)
            }
        };
        let at = at.unwrap_or(mine.len() - 1);
        let answered = async {
            let response = request
                .header("x-chatcaptain-key", &key)
                .send()
                .await
                .ok()?;
            let ok = response.status().is_success();
            let body: serde_json::Value = response.json().await.ok()?;
            ok.then_some(body)
        };
        let Some(body) = answered.await else { break };
        let entry = &mut mine[at];
        if entry.0.is_none() {
            entry.0 = Some(body["contact"]["id"].as_str().unwrap().to_owned());
        }
        entry.2.acknowledged = entry.2.in_doubt.take();
        acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    mine
}

/// `kill -9` of `roster serve` in the middle of concurrent creates, renames and deletes,
/// several times over: after each restart every acknowledged write is there with its
/// acknowledged value, every acknowledged delete is gone, nothing appears that was never
/// sent, and search agrees with the store.
async fn kill_9_under_mixed_writes(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (ws, key) = cli_tenant(dir.path(), database_url, "Crashes");
    let mut known: Vec<(Option<String>, String, Known)> = Vec::new();
    for cycle in 0..3 {
        let server = Server::start(dir.path(), database_url);
        let url = format!("{}/v1/chatbots/{ws}/contacts", server.base);
        let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..6)
            .map(|w| {
                tokio::spawn(crash_writer(
                    url.clone(),
                    key.clone(),
                    format!("crash{cycle}w{w}"),
                    acks.clone(),
                ))
            })
            .collect();
        // Killed mid-stream: after at least 400 ms and 20 acknowledged writes (a loaded
        // machine takes longer to get there).
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(400)
            || (acks.load(std::sync::atomic::Ordering::Relaxed) < 20
                && started.elapsed() < std::time::Duration::from_secs(20))
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::task::spawn_blocking(move || server.kill_hard())
            .await
            .unwrap();
        for writer in writers {
            known.extend(writer.await.unwrap());
        }
        let acknowledged = known.iter().filter(|k| k.2.acknowledged.is_some()).count();
        assert!(
            acknowledged > 10 * (cycle + 1),
            "the writes were under way: {acknowledged}"
        );

        let server = Server::start(dir.path(), database_url);
        let url = format!("{}/v1/chatbots/{ws}/contacts", server.base);
        let cc = [("x-chatcaptain-key", key.as_str())];
        // The store: every contact, page by page.
        let mut stored = std::collections::HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut page_url = format!("{url}?limit=250");
            if let Some(token) = &token {
                page_url.push_str(&format!("&pageToken={token}"));
            }
            let (status, _, page) = send(Method::GET, &page_url, &cc, None).await;
            assert_eq!(status, StatusCode::OK);
            let page = page["contacts"].as_array().unwrap().clone();
            let Some(last) = page.last() else { break };
            token = Some(last["created"].as_str().unwrap().to_owned());
            for contact in page {
                let id = contact["id"].as_str().unwrap().to_owned();
                stored.insert(id, contact["name"].as_str().unwrap().to_owned());
            }
        }
        let sent: std::collections::HashSet<&str> = known.iter().map(|k| k.1.as_str()).collect();
        for (id, name) in &stored {
            let base_name = name.as_str();
            assert!(
                known.iter().any(|k| k.0.as_deref() == Some(id.as_str()))
                    || sent.contains(base_name),
                "contact {id} ({name}) was never sent"
            );
        }
        for (id, name, state) in &mut known {
            let Some(id) = id.clone() else {
                // A create never answered: its contact may exist, under the name sent.
                if let Some((found, _)) = stored.iter().find(|(_, stored)| *stored == name) {
                    *state = Known {
                        acknowledged: Some(Some(name.clone())),
                        in_doubt: None,
                    };
                    let _ = found;
                }
                continue;
            };
            let now = stored.get(&id).cloned();
            let allowed = [state.acknowledged.clone(), state.in_doubt.clone()];
            assert!(
                allowed.iter().flatten().any(|expected| *expected == now),
                "contact {id}: stored {now:?}, acknowledged {:?}, in doubt {:?}",
                state.acknowledged,
                state.in_doubt
            );
            *state = Known {
                acknowledged: Some(now),
                in_doubt: None,
            };
        }
        // Search agrees with the store once the index has caught up after the crash.
        let search = format!("{url}/search?query=*&pageSize=1");
        let started = std::time::Instant::now();
        loop {
            let (_, _, body) = send(Method::GET, &search, &cc, None).await;
            if body["results"]["found"].as_u64() == Some(stored.len() as u64) {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "search finds {}, the store holds {}",
                body["results"]["found"],
                stored.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        for (_, name) in stored.iter().take(10) {
            let (_, _, body) = send(
                Method::GET,
                &format!("{url}/search?query={name}"),
                &cc,
                None,
            )
            .await;
            assert!(
                body["results"]["found"].as_u64().unwrap_or(0) >= 1,
                "{name} is searchable"
            );
        }
        for (_, name, state) in known
            .iter()
            .filter(|k| k.2.acknowledged == Some(None))
            .take(10)
        {
            let (_, _, body) = send(
                Method::GET,
                &format!("{url}/search?query={name}"),
                &cc,
                None,
            )
            .await;
            let hits = body["results"]["hits"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                hits.iter()
                    .all(|hit| hit["contact"]["name"] != name.as_str()),
                "deleted {name} is not found: {state:?}"
            );
        }
        drop(server);
    }
}

#[tokio::test]
async fn kill_9_under_mixed_writes_loses_nothing_acknowledged_on_sqlite() {
    kill_9_under_mixed_writes(None).await;
}

#[tokio::test]
async fn kill_9_under_mixed_writes_loses_nothing_acknowledged_on_postgres() {
    let database = roster_store::testing::postgres().await;
    kill_9_under_mixed_writes(Some(database.database_url.as_str())).await;
}
