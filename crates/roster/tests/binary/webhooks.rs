//! Webhooks through the real binary, with a real HTTP receiver on loopback: deliveries
//! signed as Standard Webhooks say, filtered by type and field, retried after a 500 with
//! one record's events kept in order, logged and redelivered; private addresses refused
//! at creation and at delivery; a 410 disabling the endpoint; another workspace's
//! webhooks out of reach; and undelivered events surviving `kill -9`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::first_hour::{call, JSON};
use super::{cli_tenant, Server, ADMIN_TOKEN};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) path: String,
    pub(super) headers: axum::http::HeaderMap,
    pub(super) body: String,
}

/// In a receiver's script: answer only after 15 s, past Roster's 10 s timeout.
pub(super) const HANG: u16 = 0;

/// An HTTP server on loopback that keeps what it is sent and answers each request with
/// the next status of its script (then 200).
pub(super) struct Receiver {
    pub(super) url: String,
    pub(super) received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub(super) async fn start(script: Vec<u16>) -> Receiver {
        Self::start_on("127.0.0.1:0", script).await
    }

    pub(super) async fn start_on(address: &str, script: Vec<u16>) -> Receiver {
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.into_iter()));
        let kept = Arc::clone(&received);
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let (kept, script) = (Arc::clone(&kept), Arc::clone(&script));
                async move {
                    kept.lock().unwrap().push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    let status = script.lock().unwrap().next().unwrap_or(200);
                    if status == HANG {
                        tokio::time::sleep(Duration::from_secs(15)).await;
                        return axum::http::StatusCode::OK;
                    }
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            received,
            task,
        }
    }

    pub(super) fn on(&self, path: &str) -> Vec<Received> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (up to `within`) until `path` has been sent `count` requests.
    pub(super) async fn wait_for(
        &self,
        path: &str,
        count: usize,
        within: Duration,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.on(path);
            if got.len() >= count || started.elapsed() > within {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server on `dir` (SQLite) that may send webhooks to loopback receivers.
fn local_hooks_server(dir: &std::path::Path) -> Server {
    Server::start_with(dir, None, &[("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true")])
}

pub(super) fn admin() -> String {
    format!("Bearer {ADMIN_TOKEN}")
}

pub(super) async fn admin_send(
    method: Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = admin();
    call(
        method,
        url,
        &[("authorization", &auth), ("content-type", JSON)],
        body.map(|body| body.to_string().into_bytes()),
    )
    .await
}

/// Checks a Standard Webhooks signature with the reference library (npm
/// `standardwebhooks`, run by `tests/standardwebhooks/verify.mjs` under Node.js), as a
/// receiver would.
fn verify_standard(secret: &str, received: &Received) -> bool {
    let dir = super::npm_installed("standardwebhooks");
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    let input = json!({
        "secret": secret,
        "headers": {
            "webhook-id": header("webhook-id"),
            "webhook-timestamp": header("webhook-timestamp"),
            "webhook-signature": header("webhook-signature"),
        },
        "body": received.body,
    });
    let mut node = std::process::Command::new("node")
        .arg(dir.join("verify.mjs"))
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("Node.js runs (the README lists it)");
    use std::io::Write as _;
    node.stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = node.wait_with_output().unwrap();
    if output.status.success() {
        // The library answers the payload it verified: the body as sent.
        let verified: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            verified,
            serde_json::from_str::<Value>(&received.body).unwrap()
        );
    }
    output.status.success()
}

async fn create_contact(base: &str, workspace: &str, key: &str, body: Value) -> i64 {
    let (status, created) = call(
        Method::POST,
        &format!("{base}/api/v1/accounts/{workspace}/contacts"),
        &[("api_access_token", key), ("content-type", JSON)],
        Some(body.to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["payload"]["contact"]["id"].as_i64().unwrap()
}

async fn update_contact(base: &str, workspace: &str, key: &str, id: i64, body: Value) {
    let (status, updated) = call(
        Method::PUT,
        &format!("{base}/api/v1/accounts/{workspace}/contacts/{id}"),
        &[("api_access_token", key), ("content-type", JSON)],
        Some(body.to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
}

#[tokio::test]
async fn deliveries_are_signed_filtered_retried_in_order_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Hooks");
    let server = local_hooks_server(dir.path());
    let base = server.base.clone();
    let hooks = format!("{base}/admin/v1/workspaces/{workspace}/webhooks");
    // The first delivery to /all is refused with a 500: it and the events after it for
    // the same contact wait for its retry.
    let receiver = Receiver::start(vec![500]).await;
    let (status, all) = admin_send(
        Method::POST,
        &hooks,
        Some(json!({"url": format!("{}/all", receiver.url), "description": "everything"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{all}");
    let secret = all["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{all}");
    assert_eq!(all["enabled"], true);
    assert_eq!(all["format"], "roster");
    assert_eq!(all["events"].as_array().unwrap().len(), 11);
    let (status, emails) = admin_send(
        Method::POST,
        &hooks,
        Some(json!({"url": format!("{}/emails", receiver.url), "events": ["contact.updated"], "fields": ["email"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{emails}");
    // The secret is shown only at creation.
    let (_, shown) = admin_send(Method::GET, &format!("{hooks}/{}", all["id"]), None).await;
    assert!(shown.get("secret").is_none(), "{shown}");

    let id = create_contact(&base, &workspace, &key, json!({"name": "Ada"})).await;
    update_contact(&base, &workspace, &key, id, json!({"name": "Ada L"})).await;
    update_contact(
        &base,
        &workspace,
        &key,
        id,
        json!({"email": "ada@example.com"}),
    )
    .await;
    update_contact(
        &base,
        &workspace,
        &key,
        id,
        json!({"email": "ada@example.com"}),
    )
    .await;

    let got = receiver.wait_for("/all", 4, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 4, "{got:?}");
    let events: Vec<Value> = got
        .iter()
        .map(|received| serde_json::from_str(&received.body).unwrap())
        .collect();
    // The refused first delivery came again (same webhook-id), then the rest in order.
    assert_eq!(events[0], events[1]);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "contact.created",
            "contact.created",
            "contact.updated",
            "contact.updated"
        ]
    );
    assert_eq!(events[2]["data"]["changes"]["name"]["new"], "Ada L");
    assert_eq!(
        events[3]["data"]["changes"]["email"]["new"],
        "ada@example.com"
    );
    for received in &got {
        assert!(verify_standard(&secret, received), "{received:?}");
        assert_eq!(received.headers["content-type"], JSON);
        let id = received.headers["webhook-id"].to_str().unwrap();
        assert!(id.starts_with("evt_"));
        let body: Value = serde_json::from_str(&received.body).unwrap();
        assert_eq!(body["id"], id);
    }
    // A signature made with another secret does not verify.
    assert!(!verify_standard(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &got[0]
    ));
    // The feed holds the same events.
    let (_, feed) = admin_send(
        Method::GET,
        &format!("{base}/admin/v1/workspaces/{workspace}/events"),
        None,
    )
    .await;
    assert_eq!(feed["events"][0], events[0]);

    // Only the email change reached the endpoint filtered on it.
    let filtered = receiver
        .wait_for("/emails", 1, Duration::from_secs(5))
        .await;
    assert_eq!(filtered.len(), 1);
    let only: Value = serde_json::from_str(&filtered[0].body).unwrap();
    assert_eq!(only["data"]["changes"]["email"]["new"], "ada@example.com");

    // The delivery log: newest first, the refused attempt with its retry time.
    let (status, log) = admin_send(
        Method::GET,
        &format!("{hooks}/{}/deliveries", all["id"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 4, "{log:?}");
    let refused = log.last().unwrap();
    assert_eq!(refused["status"], 500);
    assert_eq!(refused["attempt"], 1);
    assert_eq!(refused["event_type"], "contact.created");
    assert!(refused["next_retry"].is_string(), "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("500"),
        "{refused}"
    );
    let retried = &log[log.len() - 2];
    assert_eq!(retried["status"], 200);
    assert_eq!(retried["attempt"], 2);
    assert_eq!(retried["next_retry"], Value::Null);

    // Redelivery sends it once more, with the same id.
    let event_id = refused["event_id"].as_str().unwrap();
    let (status, _) = admin_send(
        Method::POST,
        &format!("{hooks}/{}/deliveries/{event_id}/redeliver", all["id"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let again = receiver.wait_for("/all", 5, Duration::from_secs(5)).await;
    assert_eq!(again.len(), 5);
    assert_eq!(again[4].headers["webhook-id"], event_id);
    let (status, _) = admin_send(
        Method::POST,
        &format!("{hooks}/{}/deliveries/evt_nothing/redeliver", all["id"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A rotated secret signs from then on; the old one no longer verifies.
    let (status, rotated) = admin_send(
        Method::POST,
        &format!("{hooks}/{}/rotate-secret", all["id"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    create_contact(&base, &workspace, &key, json!({"name": "Grace"})).await;
    let after = receiver.wait_for("/all", 6, Duration::from_secs(5)).await;
    assert!(verify_standard(&new_secret, &after[5]));
    assert!(!verify_standard(&secret, &after[5]));

    // Disabled, it is sent nothing (the feed keeps what it missed); enabled again, it is
    // sent what happens from then on.
    let (status, disabled) = admin_send(
        Method::PATCH,
        &format!("{hooks}/{}", all["id"]),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["enabled"], false);
    create_contact(&base, &workspace, &key, json!({"name": "Hopper"})).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.on("/all").len(), 6);
    admin_send(
        Method::PATCH,
        &format!("{hooks}/{}", all["id"]),
        Some(json!({"enabled": true})),
    )
    .await;
    create_contact(&base, &workspace, &key, json!({"name": "Lamarr"})).await;
    let resumed = receiver.wait_for("/all", 7, Duration::from_secs(5)).await;
    assert_eq!(resumed.len(), 7);
    let last: Value = serde_json::from_str(&resumed[6].body).unwrap();
    assert_eq!(last["data"]["contact"]["name"], "Lamarr");

    // Bad requests are named.
    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": "ftp://example.com/"}), "url"),
        (
            json!({"url": "http://example.com/", "events": ["contact.exploded"]}),
            "events",
        ),
        (
            json!({"url": "http://example.com/", "events": []}),
            "events",
        ),
        (
            json!({"url": "http://example.com/", "fields": ["shoe_size"]}),
            "fields",
        ),
        (
            json!({"url": "http://example.com/", "format": "xml"}),
            "format",
        ),
        (
            json!({"url": "http://example.com/", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, answer) = admin_send(Method::POST, &hooks, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with(field),
            "{body}: {answer}"
        );
    }
    // Deleted, it is gone.
    let (status, _) = admin_send(Method::DELETE, &format!("{hooks}/{}", emails["id"]), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin_send(Method::GET, &format!("{hooks}/{}", emails["id"]), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The metrics count the outbox, the queue and this node's attempts.
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        let line = metrics
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("roster_events_written "), 6.0, "{metrics}");
    assert!(
        value("roster_webhook_deliveries{outcome=\"delivered\"}") >= 7.0,
        "{metrics}"
    );
    assert_eq!(
        value("roster_webhook_deliveries{outcome=\"failed\"}"),
        1.0,
        "{metrics}"
    );
    assert_eq!(value("roster_webhook_queue_depth "), 0.0, "{metrics}");
    assert_eq!(
        value("roster_webhook_oldest_undelivered_seconds "),
        0.0,
        "{metrics}"
    );
    drop(server);
}

#[tokio::test]
async fn a_receiver_that_times_out_or_refuses_the_connection_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Slow receivers");
    let server = local_hooks_server(dir.path());
    let base = server.base.clone();
    let hooks = format!("{base}/admin/v1/workspaces/{workspace}/webhooks");
    let slow = Receiver::start(vec![HANG]).await;
    // Nothing listens here until the first attempt was refused.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut ids = Vec::new();
    for url in [
        format!("{}/slow", slow.url),
        format!("http://{address}/late"),
    ] {
        let (status, webhook) = admin_send(Method::POST, &hooks, Some(json!({"url": url}))).await;
        assert_eq!(status, StatusCode::CREATED, "{webhook}");
        ids.push(webhook["id"].clone());
    }
    let log = |webhook: &Value| {
        let url = format!("{hooks}/{webhook}/deliveries");
        async move {
            let (status, log) = admin_send(Method::GET, &url, None).await;
            assert_eq!(status, StatusCode::OK, "{log}");
            log.as_array().unwrap().clone()
        }
    };
    create_contact(&base, &workspace, &key, json!({"name": "Patience"})).await;

    let started = Instant::now();
    let refused = loop {
        let attempts = log(&ids[1]).await;
        if !attempts.is_empty() || started.elapsed() > Duration::from_secs(5) {
            break attempts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused.len(), 1, "{refused:?} {:?}", log(&ids[0]).await);
    assert_eq!(refused[0]["status"], Value::Null);
    let error = refused[0]["error"].as_str().unwrap();
    assert!(error.contains("onnect"), "{error}");
    assert!(refused[0]["next_retry"].is_string());
    let late = Receiver::start_on(&address.to_string(), vec![]).await;
    let got = late.wait_for("/late", 1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "the refused delivery is retried");

    // The first attempt gets no answer within 10 s: logged as such and sent again.
    let got = slow.wait_for("/slow", 2, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 2, "the timed-out delivery is retried");
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts = log(&ids[0]).await;
    let first = attempts.iter().find(|a| a["attempt"] == 1).unwrap();
    assert_eq!(first["error"], "no answer within 10 s", "{first}");
    assert_eq!(first["status"], Value::Null);
    let second = attempts.iter().find(|a| a["attempt"] == 2).unwrap();
    assert_eq!(second["status"], 200, "{second}");
}

#[tokio::test]
async fn bad_webhook_requests_are_refused_by_field_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Bad hooks");
    let server = local_hooks_server(dir.path());
    let base = server.base.clone();
    let hooks = format!("{base}/admin/v1/workspaces/{workspace}/webhooks");
    let (status, created) = admin_send(
        Method::POST,
        &hooks,
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["contact.created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let one = format!("{hooks}/{}", created["id"]);
    let (_, before) = admin_send(Method::GET, &one, None).await;
    let auth = admin();
    for (body, field) in [
        (&b"{\"enabled\": tru"[..], "body"),
        (b"[]", "body"),
        (b"{\"enabled\": \"yes\"}", "enabled"),
        (b"{\"events\": \"contact.created\"}", "events"),
        (b"{\"events\": [\"contact.exploded\"]}", "events"),
        (b"{\"fields\": [1]}", "fields"),
        (b"{\"fields\": [\"favourite_colour\"]}", "fields"),
        (b"{\"url\": \"ftp://127.0.0.1/hook\"}", "url"),
        (b"{\"url\": 7}", "url"),
        (b"{\"description\": []}", "description"),
        (b"{\"colour\": \"red\"}", "colour"),
    ] {
        let (status, answer) = call(
            Method::PATCH,
            &one,
            &[("authorization", &auth), ("content-type", JSON)],
            Some(body.to_vec()),
        )
        .await;
        let sent = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sent}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with(field), "{sent}: {error}");
    }
    for (method, url) in [
        (Method::PATCH, format!("{hooks}/abc")),
        (Method::PATCH, format!("{hooks}/999")),
        (Method::GET, format!("{hooks}/0")),
        (Method::DELETE, format!("{hooks}/-1")),
    ] {
        let (status, answer) = admin_send(method, &url, Some(json!({"enabled": false}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {answer}");
    }
    let (_, after) = admin_send(Method::GET, &one, None).await;
    assert_eq!(after, before, "a refused request changes nothing");

    // Chatwoot's routes: a webhook id that is not a number is not found, bad bodies are
    // refused in Chatwoot's words, and nothing changes.
    let cw = format!("{base}/api/v1/accounts/{workspace}/webhooks");
    let token = [("api_access_token", key.as_str()), ("content-type", JSON)];
    let (status, cw_created) = call(
        Method::POST,
        &cw,
        &token,
        Some(br#"{"url": "http://127.0.0.1:9/cw", "subscriptions": ["contact_created"]}"#.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cw_created}");
    let cw_one = format!("{cw}/{}", cw_created["payload"]["webhook"]["id"]);
    let (_, cw_before) = call(Method::GET, &cw, &token, None).await;
    let (status, answer) = call(
        Method::PUT,
        &format!("{cw}/abc"),
        &token,
        Some(br#"{"url": "http://127.0.0.1:9/x"}"#.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = call(
        Method::PUT,
        &cw_one,
        &token,
        Some(br#"{"url": "http://127.0.0.1:9/x""#.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["attributes"], json!(["body"]));
    let (status, answer) = call(
        Method::PATCH,
        &cw_one,
        &token,
        Some(br#"{"url": "not a url", "subscriptions": ["contact_created"]}"#.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["message"], "Url is invalid", "{answer}");
    let (_, cw_after) = call(Method::GET, &cw, &token, None).await;
    assert_eq!(cw_after, cw_before);
    let (_, after) = admin_send(Method::GET, &one, None).await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn private_addresses_are_refused_a_410_disables_and_other_workspaces_are_walled_off() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Walls");
    let (other, _) = cli_tenant(dir.path(), None, "Other");
    let receiver = Receiver::start(vec![410]).await;

    // Allowed while the server allows private addresses...
    let server = local_hooks_server(dir.path());
    let hooks = |base: &str, ws: &str| format!("{base}/admin/v1/workspaces/{ws}/webhooks");
    let (status, gone) = admin_send(
        Method::POST,
        &hooks(&server.base, &workspace),
        Some(json!({"url": format!("{}/gone", receiver.url)})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, kept) = admin_send(
        Method::POST,
        &hooks(&server.base, &workspace),
        Some(json!({"url": format!("{}/kept", receiver.url), "events": ["organization.created"]})),
    )
    .await;
    // Another workspace reaches none of them, whatever id it names.
    for id in [&gone["id"], &kept["id"]] {
        let url = format!("{}/{id}", hooks(&server.base, &other));
        for method in [Method::GET, Method::DELETE] {
            let (status, _) = admin_send(method, &url, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        let (status, _) = admin_send(Method::PATCH, &url, Some(json!({"enabled": false}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = admin_send(Method::GET, &format!("{url}/deliveries"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, listed) = admin_send(Method::GET, &hooks(&server.base, &other), None).await;
    assert_eq!(listed, json!([]));

    // ...a 410 Gone disables the endpoint and says why.
    create_contact(&server.base, &workspace, &key, json!({"name": "Ada"})).await;
    receiver.wait_for("/gone", 1, Duration::from_secs(5)).await;
    let url = format!("{}/{}", hooks(&server.base, &workspace), gone["id"]);
    let started = Instant::now();
    let disabled = loop {
        let (_, shown) = admin_send(Method::GET, &url, None).await;
        if shown["enabled"] == false || started.elapsed() > Duration::from_secs(5) {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{disabled}"
    );
    drop(server);

    // Refused by default, at creation...
    let server = Server::start(dir.path(), None);
    for url in [
        format!("{}/x", receiver.url),
        "http://localhost/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        "http://[::1]/hook".to_owned(),
    ] {
        let (status, answer) = admin_send(
            Method::POST,
            &hooks(&server.base, &workspace),
            Some(json!({"url": url})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with("url:"),
            "{answer}"
        );
    }
    // ...and at delivery, to the endpoint created while they were allowed.
    let (status, _) = call(
        Method::POST,
        &format!("{}/v1/chatbots/{workspace}/organizations", server.base),
        &[("x-chatcaptain-key", &key), ("content-type", JSON)],
        Some(json!({"name": "Engines"}).to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let log_url = format!(
        "{}/{}/deliveries",
        hooks(&server.base, &workspace),
        kept["id"]
    );
    let started = Instant::now();
    let log = loop {
        let (_, log) = admin_send(Method::GET, &log_url, None).await;
        if !log.as_array().unwrap().is_empty() || started.elapsed() > Duration::from_secs(5) {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        log[0]["error"].as_str().unwrap().contains("may not call"),
        "{log}"
    );
    assert_eq!(log[0]["status"], Value::Null);
    assert!(receiver.on("/kept").is_empty());
}

/// Events not yet delivered when the server is killed are all delivered after it starts
/// again, each once per endpoint unless it was in flight.
#[tokio::test]
async fn undelivered_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Crash");
    let env = [("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true")];
    let server = Server::start_with(dir.path(), None, &env);
    // A port nothing listens on yet: every attempt is refused.
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let (status, _) = admin_send(
        Method::POST,
        &format!("{}/admin/v1/workspaces/{workspace}/webhooks", server.base),
        Some(json!({"url": format!("http://{address}/hook")})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(
            create_contact(
                &server.base,
                &workspace,
                &key,
                json!({"name": format!("C{n}")}),
            )
            .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill_hard();

    let receiver = Receiver::start_on(&address.to_string(), vec![]).await;
    let _server = Server::start_with(dir.path(), None, &env);
    // Refused attempts are retried after about 5 s.
    let got = receiver
        .wait_for("/hook", 10, Duration::from_secs(20))
        .await;
    let mut delivered: Vec<i64> = got
        .iter()
        .map(|received| {
            let event: Value = serde_json::from_str(&received.body).unwrap();
            event["data"]["contact"]["id"].as_i64().unwrap()
        })
        .collect();
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered, ids);
}

/// Chatwoot's signature: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
fn verify_chatwoot(secret: &str, received: &Received) -> bool {
    let timestamp = received.headers["x-chatwoot-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", received.body).as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    received.headers["x-chatwoot-signature"] == format!("sha256={hex}").as_str()
}

#[tokio::test]
async fn chatwoot_clients_register_webhooks_and_get_chatwoot_payloads_and_saleschat_its_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Chatwoot hooks");
    let limited = super::cli(
        dir.path(),
        None,
        &[
            "key",
            "create",
            "--workspace",
            &workspace,
            "--name",
            "agent",
            "--permission",
            "chatbots.contacts.*",
        ],
    )["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = local_hooks_server(dir.path());
    let base = server.base.clone();
    let receiver = Receiver::start(vec![]).await;
    let hooks = format!("{base}/api/v1/accounts/{workspace}/webhooks");
    let cw = |token: &str, method: Method, url: &str, body: Option<Value>| {
        let token = token.to_owned();
        let url = url.to_owned();
        async move {
            call(
                method,
                &url,
                &[("api_access_token", &token), ("content-type", JSON)],
                body.map(|body| body.to_string().into_bytes()),
            )
            .await
        }
    };

    let (status, created) = cw(
        &key,
        Method::POST,
        &hooks,
        Some(json!({"webhook": {"url": format!("{}/cw", receiver.url), "subscriptions": ["contact_created", "contact_updated", "conversation_created"], "name": "CRM"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let webhook = &created["payload"]["webhook"];
    assert_eq!(webhook["name"], "CRM");
    assert_eq!(webhook["account_id"].to_string(), workspace);
    assert_eq!(
        webhook["subscriptions"],
        json!(["contact_created", "contact_updated", "conversation_created"])
    );
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let (status, listed) = cw(&key, Method::GET, &hooks, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["payload"]["webhooks"][0]["secret"], secret.as_str());

    // Chatwoot's validation messages, and its refusal of a key without the right.
    for (body, message, attribute) in [
        (
            json!({"url": "not a url", "subscriptions": ["contact_created"]}),
            "Url is invalid",
            "url",
        ),
        (
            json!({"url": "http://example.com/x", "subscriptions": ["contact_exploded"]}),
            "Subscriptions Invalid events",
            "subscriptions",
        ),
        (
            json!({"url": "http://example.com/x", "subscriptions": []}),
            "Subscriptions Invalid events",
            "subscriptions",
        ),
        (
            json!({"url": format!("{}/cw", receiver.url), "subscriptions": ["contact_created"]}),
            "Url has already been taken",
            "url",
        ),
    ] {
        let (status, answer) = cw(&key, Method::POST, &hooks, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(
            answer,
            json!({"message": message, "attributes": [attribute]}),
            "{body}"
        );
    }
    let (status, answer) = cw(&limited, Method::GET, &hooks, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer,
        json!({"error": "You are not authorized to do this action"})
    );
    let (status, _) = cw(&key, Method::DELETE, &format!("{hooks}/999"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let id = create_contact(
        &base,
        &workspace,
        &key,
        json!({"name": "Ada", "email": "ada@example.com"}),
    )
    .await;
    let (status, _) = call(
        Method::POST,
        &format!("{base}/api/v1/accounts/{workspace}/contacts/{id}/labels"),
        &[("api_access_token", &key), ("content-type", JSON)],
        Some(json!({"labels": ["vip"]}).to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    update_contact(&base, &workspace, &key, id, json!({"name": "Ada Lovelace"})).await;
    let got = receiver.wait_for("/cw", 2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.on("/cw").len(),
        2,
        "labels are not a Chatwoot attribute: no update sent"
    );
    let created: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(created["event"], "contact_created");
    assert_eq!(created["id"], id);
    assert_eq!(created["name"], "Ada");
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(
        created["account"],
        json!({"id": workspace.parse::<i64>().unwrap(), "name": "Chatwoot hooks"})
    );
    let updated: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(updated["event"], "contact_updated");
    assert_eq!(
        updated["changed_attributes"],
        json!([{"name": {"previous_value": "Ada", "current_value": "Ada Lovelace"}}])
    );
    for received in &got {
        assert!(verify_chatwoot(&secret, received), "{received:?}");
        let delivery = received.headers["x-chatwoot-delivery"].to_str().unwrap();
        assert_eq!(delivery.len(), 36, "a UUID: {delivery}");
    }

    // Narrowed to creations, an update is no longer sent; deleted, nothing is.
    let hook = format!("{hooks}/{}", webhook["id"]);
    let (status, changed) = cw(
        &key,
        Method::PUT,
        &hook,
        Some(json!({"subscriptions": ["contact_created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["payload"]["webhook"]["subscriptions"],
        json!(["contact_created"])
    );
    update_contact(&base, &workspace, &key, id, json!({"name": "Countess"})).await;
    let (status, _) = cw(&key, Method::DELETE, &hook, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = cw(&key, Method::GET, &hooks, None).await;
    assert_eq!(listed["payload"]["webhooks"], json!([]));
    create_contact(&base, &workspace, &key, json!({"name": "Babbage"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.on("/cw").len(), 2);

    // SalesChat's envelope: an assignment is CONTACT_ASSIGNED, signed as Standard Webhooks.
    let (status, saleschat) = admin_send(
        Method::POST,
        &format!("{base}/admin/v1/workspaces/{workspace}/webhooks"),
        Some(json!({"url": format!("{}/sc", receiver.url), "format": "saleschat"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    admin_send(
        Method::POST,
        &format!("{base}/admin/v1/workspaces/{workspace}/users"),
        Some(json!({"id": "u1", "name": "Una"})),
    )
    .await;
    let (status, _) = call(
        Method::POST,
        &format!("{base}/v3/orgs/{workspace}/contacts/{id}/assign"),
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", JSON),
        ],
        Some(
            json!({"user_id": "u1", "assign_on_handover": true})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let got = receiver.wait_for("/sc", 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "only the assignment has a SalesChat form");
    let envelope: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(
        envelope,
        json!({"type": "CONTACT_ASSIGNED", "version": 1.1, "payload": {"contact_id": id.to_string(), "user_id": "u1", "is_handover": true, "is_assigned": true}})
    );
    assert!(verify_standard(
        saleschat["secret"].as_str().unwrap(),
        &got[0]
    ));
}

#[test]
fn the_cli_manages_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, _) = cli_tenant(dir.path(), None, "CLI hooks");
    let cli = |args: &[&str]| super::cli(dir.path(), None, args);
    let created = cli(&[
        "webhook",
        "create",
        "--workspace",
        &workspace,
        "--url",
        "http://127.0.0.1:9/hook",
        "--event",
        "contact.updated,contact.deleted",
        "--field",
        "email",
        "--webhook-allow-private",
    ]);
    assert!(
        created["secret"].as_str().unwrap().starts_with("whsec_"),
        "{created}"
    );
    assert_eq!(
        created["events"],
        json!(["contact.updated", "contact.deleted"])
    );
    assert_eq!(created["fields"], json!(["email"]));
    let id = created["id"].to_string();
    let listed = cli(&["webhook", "list", "--workspace", &workspace]);
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(listed[0].get("secret").is_none());
    let updated = cli(&[
        "webhook",
        "update",
        "--workspace",
        &workspace,
        "--webhook",
        &id,
        "--enabled",
        "false",
    ]);
    assert_eq!(updated["enabled"], false);
    let rotated = cli(&[
        "webhook",
        "rotate-secret",
        "--workspace",
        &workspace,
        "--webhook",
        &id,
    ]);
    assert_ne!(rotated["secret"], created["secret"]);
    assert_eq!(
        cli(&[
            "webhook",
            "deliveries",
            "--workspace",
            &workspace,
            "--webhook",
            &id
        ]),
        json!([])
    );
    // Refused without the flag: the address is a loopback one.
    let output = super::roster(dir.path())
        .args([
            "webhook",
            "create",
            "--workspace",
            &workspace,
            "--url",
            "http://127.0.0.1:9/x",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("url"),
        "{output:?}"
    );
    cli(&[
        "webhook",
        "delete",
        "--workspace",
        &workspace,
        "--webhook",
        &id,
    ]);
    assert_eq!(
        cli(&["webhook", "list", "--workspace", &workspace]),
        json!([])
    );
}

/// Two nodes on one PostgreSQL database share the queue: every event is delivered, each
/// exactly once, whichever node wrote it, and one contact's events in order.
#[tokio::test]
async fn two_nodes_on_postgresql_deliver_each_event_once() {
    let database = roster_store::testing::postgres().await;
    let url = database.database_url.as_str();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (workspace, key) = cli_tenant(dir_a.path(), Some(url), "Two nodes");
    let env = [
        ("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("ROSTER_WEBHOOK_KEY", "shared by both nodes"),
    ];
    let node_a = Server::start_with(dir_a.path(), Some(url), &env);
    let node_b = Server::start_with(dir_b.path(), Some(url), &env);
    let receiver = Receiver::start(vec![]).await;
    let (status, _) = admin_send(
        Method::POST,
        &format!("{}/admin/v1/workspaces/{workspace}/webhooks", node_a.base),
        Some(json!({"url": format!("{}/hook", receiver.url)})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut writes = Vec::new();
    for n in 0..20 {
        let base = if n % 2 == 0 {
            &node_a.base
        } else {
            &node_b.base
        };
        let id = create_contact(base, &workspace, &key, json!({"name": format!("N{n}")})).await;
        let other = if n % 2 == 0 {
            &node_b.base
        } else {
            &node_a.base
        };
        update_contact(
            other,
            &workspace,
            &key,
            id,
            json!({"name": format!("N{n} renamed")}),
        )
        .await;
        writes.push(id);
    }
    receiver
        .wait_for("/hook", 40, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got = receiver.on("/hook");
    let ids: Vec<String> = got
        .iter()
        .map(|received| received.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(got.len(), 40, "{ids:?}");
    assert_eq!(unique.len(), 40, "each event once");
    for id in writes {
        let types: Vec<String> = got
            .iter()
            .map(|received| serde_json::from_str::<Value>(&received.body).unwrap())
            .filter(|event| event["data"]["contact"]["id"] == id)
            .map(|event| event["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            ["contact.created", "contact.updated"],
            "contact {id}"
        );
    }
}
