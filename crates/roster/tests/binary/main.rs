//! The real `roster` binary: the CLI, `roster serve` over HTTP, restarts, `kill -9`,
//! and two server processes sharing one PostgreSQL database. `first_hour` tries what a
//! new user meets first: bad input in every dialect, imports, paging, the admin view;
//! `keepalive` that refused requests never break a pooled client's connection;
//! `consistency` concurrent writes, retries, preconditions, limits and crashes.

mod consistency;
mod console;
mod events;
mod first_hour;
mod history;
mod keepalive;
mod merges;
mod webhooks;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "binary-test-token";

fn roster(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_ADMIN_TOKEN")
        .env_remove("ROSTER_LISTEN")
        .env_remove("ROSTER_CONFIG")
        .env_remove("ROSTER_LOG")
        .env_remove("ROSTER_LOG_FORMAT")
        .env_remove("ROSTER_RATE_LIMIT")
        .env("ROSTER_DATA_DIR", data_dir)
        // No stray ./roster.toml is picked up.
        .current_dir(data_dir);
    command
}

/// Runs a CLI command to completion and returns its JSON output.
fn cli(data_dir: &Path, database_url: Option<&str>, args: &[&str]) -> Value {
    let mut command = roster(data_dir);
    if let Some(url) = database_url {
        command.env("ROSTER_DATABASE_URL", url);
    }
    let output = command.args(args).output().expect("roster runs");
    assert!(
        output.status.success(),
        "roster {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the CLI prints JSON")
}

/// A workspace and a key with every permission, made through the CLI: (id, secret).
/// A key made by the CLI (`key create`) for `workspace`, with `permissions` and any `more`
/// arguments; its JSON (`"key"` is the secret).
fn cli_key(
    data_dir: &Path,
    database_url: Option<&str>,
    workspace: &str,
    name: &str,
    permissions: &[&str],
    more: &[&str],
) -> Value {
    let mut args = vec!["key", "create", "--workspace", workspace, "--name", name];
    for permission in permissions {
        args.extend(["--permission", permission]);
    }
    args.extend(more);
    cli(data_dir, database_url, &args)
}

fn cli_tenant(data_dir: &Path, database_url: Option<&str>, name: &str) -> (String, String) {
    let workspace = cli(
        data_dir,
        database_url,
        &["workspace", "create", "--name", name],
    );
    let id = workspace["id"].to_string();
    let key = cli(
        data_dir,
        database_url,
        &[
            "key",
            "create",
            "--workspace",
            &id,
            "--name",
            "k",
            "--permission",
            "*",
        ],
    );
    (id, key["key"].as_str().unwrap().to_owned())
}

/// A `roster serve` process on an ephemeral port; killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// Every line the server has logged so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    fn start(data_dir: &Path, database_url: Option<&str>) -> Server {
        Self::start_with(data_dir, database_url, &[])
    }

    /// Like `start`, with more environment variables (`ROSTER_RATE_LIMIT`, …).
    fn start_with(data_dir: &Path, database_url: Option<&str>, env: &[(&str, &str)]) -> Server {
        let mut command = roster(data_dir);
        command.envs(env.iter().copied());
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("ROSTER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = database_url {
            command.env("ROSTER_DATABASE_URL", url);
        }
        let mut child = command.spawn().expect("roster serve starts");
        let stderr = child.stderr.take().unwrap();
        let (found, address) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("address=").nth(1) {
                    let _ = found.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .expect("roster serve logs its address");
        Server {
            child,
            base: format!("http://{address}"),
            log,
        }
    }

    /// The log lines so far that contain `text`.
    fn logged(&self, text: &str) -> Vec<String> {
        let lines = self.log.lock().unwrap();
        lines.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for the process to exit.
    fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn request(
    method: reqwest::Method,
    url: String,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(key) = key {
        request = request.header("x-chatcaptain-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_cli_creates_workspaces_and_keys_that_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = cli(dir.path(), None, &["workspace", "create", "--name", "Acme"]);
    assert_eq!(workspace["name"], "Acme");
    let id = workspace["id"].to_string();
    let key = cli(
        dir.path(),
        None,
        &[
            "key",
            "create",
            "--workspace",
            &id,
            "--name",
            "bot",
            "--permission",
            "*",
        ],
    );
    let secret = key["key"].as_str().unwrap().to_owned();
    let listed = cli(dir.path(), None, &["key", "list", "--workspace", &id]);
    assert!(listed[0].get("key").is_none());
    assert_eq!(
        cli(dir.path(), None, &["workspace", "list"]),
        json!([workspace])
    );

    let server = Server::start(dir.path(), None);
    let (status, health) = request(
        reqwest::Method::GET,
        format!("{}/healthz", server.base),
        None,
        None,
    )
    .await;
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})));
    let contacts = format!("{}/v1/chatbots/{id}/contacts", server.base);
    let (status, created) = request(
        reqwest::Method::POST,
        contacts.clone(),
        Some(&secret),
        Some(json!({"language": "EN", "name": "Ann"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // Revoking through the CLI takes effect on the running server.
    let key_id = key["id"].to_string();
    cli(
        dir.path(),
        None,
        &["key", "revoke", "--workspace", &id, "--key", &key_id],
    );
    let (status, _) = request(reqwest::Method::GET, contacts, Some(&secret), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_cli_manages_saleschat_users_groups_and_governance_levels() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = cli(
        dir.path(),
        None,
        &["workspace", "create", "--name", "Sales"],
    );
    let id = workspace["id"].to_string();
    let user = cli(
        dir.path(),
        None,
        &[
            "user",
            "create",
            "--workspace",
            &id,
            "--id",
            "alice",
            "--name",
            "Alice",
        ],
    );
    assert_eq!(user["id"], "alice");
    cli(
        dir.path(),
        None,
        &[
            "user",
            "create",
            "--workspace",
            &id,
            "--id",
            "bob",
            "--name",
            "Bob",
        ],
    );
    let group = cli(
        dir.path(),
        None,
        &[
            "group",
            "create",
            "--workspace",
            &id,
            "--id",
            "sales",
            "--name",
            "Sales",
            "--member",
            "alice,bob",
        ],
    );
    assert_eq!(group["members"], json!(["alice", "bob"]));
    let group = cli(
        dir.path(),
        None,
        &[
            "group",
            "set-members",
            "--workspace",
            &id,
            "--id",
            "sales",
            "--member",
            "bob",
        ],
    );
    assert_eq!(group["members"], json!(["bob"]));
    let level = cli(
        dir.path(),
        None,
        &[
            "governance-level",
            "create",
            "--workspace",
            &id,
            "--id",
            "GL-1",
            "--name",
            "Std",
            "--retention-days",
            "30",
        ],
    );
    assert_eq!(level["retention_days"], 30);
    let level = cli(
        dir.path(),
        None,
        &[
            "governance-level",
            "update",
            "--workspace",
            &id,
            "--id",
            "GL-1",
            "--retention-days",
            "60",
        ],
    );
    assert_eq!(
        (level["name"].as_str(), level["retention_days"].as_i64()),
        (Some("Std"), Some(60))
    );
    assert_eq!(
        cli(dir.path(), None, &["user", "list", "--workspace", &id])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        cli(dir.path(), None, &["group", "list", "--workspace", &id])[0]["id"],
        "sales"
    );
    assert_eq!(
        cli(
            dir.path(),
            None,
            &["governance-level", "list", "--workspace", &id]
        )[0]["id"],
        "GL-1"
    );
    let output = roster(dir.path())
        .args([
            "group",
            "create",
            "--workspace",
            &id,
            "--id",
            "g2",
            "--name",
            "G",
            "--member",
            "nobody",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody"));
}

/// Chatwoot through the real binary: an inbox made by the CLI, a contact created in it
/// over HTTP, a merge, and the merge record listed by the CLI.
#[tokio::test]
async fn chatwoot_clients_use_cli_made_inboxes_and_merges_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = cli_tenant(dir.path(), None, "Support");
    let inbox = cli(
        dir.path(),
        None,
        &[
            "inbox",
            "create",
            "--workspace",
            &id,
            "--name",
            "Website",
            "--channel-type",
            "Channel::WebWidget",
        ],
    );
    assert_eq!(inbox["channel_type"], "Channel::WebWidget");
    assert_eq!(
        cli(dir.path(), None, &["inbox", "list", "--workspace", &id]),
        json!([inbox])
    );

    let server = Server::start(dir.path(), None);
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}/api/v1/accounts/{id}{path}", server.base))
            .header("api_access_token", &secret)
            .json(&body)
            .send()
    };
    let created: Value = post(
        "/contacts",
        json!({"name": "Visitor", "inbox_id": inbox["id"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        created["payload"]["contact_inbox"]["inbox"]["id"],
        inbox["id"]
    );
    let visitor = created["payload"]["contact"]["id"].clone();
    let known: Value = post(
        "/contacts",
        json!({"name": "Known", "email": "known@example.com"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let known = known["payload"]["contact"]["id"].clone();
    let response = post(
        "/actions/contact_merge",
        json!({"base_contact_id": known, "mergee_contact_id": visitor}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let merges = cli(dir.path(), None, &["merges", "--workspace", &id]);
    assert_eq!(merges[0]["base_contact_id"], known);
    assert_eq!(merges[0]["mergee_contact_id"], visitor);
}

#[test]
fn cli_errors_are_reported_with_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let output = roster(dir.path())
        .args([
            "key",
            "create",
            "--workspace",
            "42",
            "--name",
            "k",
            "--permission",
            "*",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("workspace not found"));
    let output = roster(dir.path())
        .args([
            "key",
            "create",
            "--workspace",
            "x",
            "--name",
            "k",
            "--permission",
            "*",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--workspace"));
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let admin = reqwest::Client::new();
    let workspace: Value = admin
        .post(format!("{}/admin/v1/workspaces", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Durable"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = workspace["id"].as_i64().unwrap();
    let key: Value = admin
        .post(format!("{}/admin/v1/workspaces/{id}/keys", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "k", "permissions": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["key"].as_str().unwrap().to_owned();
    let contacts = format!("{}/v1/chatbots/{id}/contacts", server.base);
    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let body = json!({"language": "EN", "name": format!("durable-{i}")});
        let (status, created) = request(
            reqwest::Method::POST,
            contacts.clone(),
            Some(&secret),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        acknowledged.push(created["contact"].clone());
    }
    server.kill_hard();

    let server = Server::start(dir.path(), None);
    let contacts = format!("{}/v1/chatbots/{id}/contacts?limit=250", server.base);
    let (status, listed) = request(reqwest::Method::GET, contacts, Some(&secret), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut listed = listed["contacts"].as_array().unwrap().clone();
    listed.reverse();
    assert_eq!(listed, acknowledged);
}

#[tokio::test]
async fn two_servers_on_one_postgres_database_see_each_others_writes_and_searches() {
    let database = roster_store::testing::postgres().await;
    let url = database.database_url.as_str();
    // Each node has a data directory (and search index) of its own.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (id, secret) = cli_tenant(dir_a.path(), Some(url), "Shared");
    let secret = secret.as_str();

    let node_a = Server::start(dir_a.path(), Some(url));
    let node_b = Server::start(dir_b.path(), Some(url));
    let (status, created) = request(
        reqwest::Method::POST,
        format!("{}/v1/chatbots/{id}/contacts", node_a.base),
        Some(secret),
        Some(json!({"language": "EN", "name": "Seen Everywhere"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let contact_id = created["contact"]["id"].as_str().unwrap().to_owned();
    let (status, fetched) = request(
        reqwest::Method::GET,
        format!("{}/v1/chatbots/{id}/contacts/{contact_id}", node_b.base),
        Some(secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["contact"], created["contact"]);

    // Node B's search shows node A's create, change and delete within a second each.
    let search_b = format!(
        "{}/v1/chatbots/{id}/contacts/search?page=1&pageSize=10&query=",
        node_b.base
    );
    let found_on_b = |query: &'static str| {
        let url = format!("{search_b}{query}");
        async move {
            let (_, body) = request(reqwest::Method::GET, url, Some(secret), None).await;
            body["results"]["found"].as_u64().unwrap_or(0)
        }
    };
    within_a_second(|| found_on_b("everywhere"), 1).await;
    let contact_url = format!("{}/v1/chatbots/{id}/contacts/{contact_id}", node_a.base);
    let patch = json!({"contact": {"name": "Renamed Elsewhere"}});
    let (status, _) = request(
        reqwest::Method::PATCH,
        contact_url.clone(),
        Some(secret),
        Some(patch),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    within_a_second(|| found_on_b("elsewhere"), 1).await;
    within_a_second(|| found_on_b("everywhere"), 0).await;
    let (status, _) = request(reqwest::Method::DELETE, contact_url, Some(secret), None).await;
    assert_eq!(status, StatusCode::OK);
    within_a_second(|| found_on_b("elsewhere"), 0).await;
    drop((node_a, node_b));
}

/// Polls `probe` until it returns `expected`, failing after one second.
async fn within_a_second<F, Fut>(probe: F, expected: u64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let started = std::time::Instant::now();
    loop {
        let got = probe().await;
        if got == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still {got}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_lost_index_is_rebuilt_at_start_and_by_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = cli_tenant(dir.path(), None, "Rebuild");
    let server = Server::start(dir.path(), None);
    for name in ["Alpha Person", "Beta Person", "Gamma Person"] {
        let body = json!({"language": "EN", "name": name});
        let (status, _) = request(
            reqwest::Method::POST,
            format!("{}/v1/chatbots/{id}/contacts", server.base),
            Some(&secret),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    server.kill_hard();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();

    let server = Server::start(dir.path(), None);
    let search = format!(
        "{}/v1/chatbots/{id}/contacts/search?page=1&pageSize=10&query=person",
        server.base
    );
    let (status, body) = request(reqwest::Method::GET, search, Some(&secret), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"]["found"], 3, "{body}");
    drop(server);

    let output = roster(dir.path()).arg("reindex").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["reindexed"], true);
    let server = Server::start(dir.path(), None);
    let search = format!(
        "{}/v1/chatbots/{id}/contacts/search?page=1&pageSize=10&query=alpha",
        server.base
    );
    let (_, body) = request(reqwest::Method::GET, search, Some(&secret), None).await;
    assert_eq!(body["results"]["found"], 1, "{body}");
}

/// SIGTERM in the middle of eight clients writing: the server stops accepting, answers
/// what is in flight, exits 0, and every write it acknowledged is there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_of_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = cli_tenant(dir.path(), None, "Burst");
    let server = Server::start(dir.path(), None);
    let contacts = format!("{}/v1/chatbots/{id}/contacts", server.base);
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (contacts, secret) = (contacts.clone(), secret.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let sent = client
                    .post(&contacts)
                    .header("x-chatcaptain-key", &secret)
                    .json(&json!({"language": "EN", "name": format!("burst-{writer}-{i}")}))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != StatusCode::CREATED {
                    break;
                }
                let Ok(created) = response.json::<Value>().await else {
                    break;
                };
                acknowledged.push(created["contact"]["id"].as_str().unwrap().to_owned());
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(
        acknowledged.len() > 20,
        "the burst was under way: {}",
        acknowledged.len()
    );

    let server = Server::start(dir.path(), None);
    let mut stored = std::collections::HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/chatbots/{id}/contacts?limit=250", server.base);
        if let Some(token) = &token {
            url.push_str(&format!("&pageToken={token}"));
        }
        let (status, page) = request(reqwest::Method::GET, url, Some(&secret), None).await;
        assert_eq!(status, StatusCode::OK);
        let page = page["contacts"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        token = Some(last["created"].as_str().unwrap().to_owned());
        stored.extend(page.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
    }
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

#[test]
fn the_config_file_fills_in_settings_and_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:18999\"\nadmin_token = \"hush\"\ndatabase_url = \"postgres://roster:pw@db/roster\"\n",
    )
    .unwrap();
    let shown = cli(dir.path(), None, &["config"]);
    assert_eq!(
        shown["settings"]["listen"],
        json!({"value": "127.0.0.1:18999", "source": "file", "env": "ROSTER_LISTEN"})
    );
    assert_eq!(shown["settings"]["admin_token"]["value"], "REDACTED");
    assert_eq!(
        shown["settings"]["database_url"]["value"],
        "postgres://roster:REDACTED@db/roster"
    );
    assert!(!shown.to_string().contains("hush") && !shown.to_string().contains(":pw@"));
    // The environment beats the file.
    let output = roster(dir.path())
        .env("ROSTER_LISTEN", "127.0.0.1:18998")
        .arg("config")
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["settings"]["listen"]["source"], "environment");

    std::fs::write(&config, "listne = \"127.0.0.1:1\"\n").unwrap();
    let output = roster(dir.path()).arg("config").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown field `listne`"));
    let output = roster(dir.path())
        .args(["--config", "/nonexistent/roster.toml", "config"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "a named file must exist");
}

#[tokio::test]
async fn healthcheck_tells_a_running_server_from_a_stopped_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let listen = server.base.trim_start_matches("http://").to_owned();
    let probe = |listen: String, dir: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            roster(&dir)
                .args(["healthcheck", "--listen", &listen])
                .status()
                .unwrap()
        })
    };
    assert!(probe(listen.clone(), dir.path().to_owned())
        .await
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success());
    assert!(!probe(listen, dir.path().to_owned())
        .await
        .unwrap()
        .success());
}

#[test]
fn the_cli_imports_a_csv_and_exports_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (id, _) = cli_tenant(dir.path(), None, "Transfer");
    let file = dir.path().join("contacts.csv");
    std::fs::write(
        &file,
        "name,email,organizations\nAnn,ann@example.com,Acme\nBad,not-an-email,\n",
    )
    .unwrap();
    let output = roster(dir.path())
        .args(["import", "--workspace", &id, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(report[0]["outcome"], "created");
    assert_eq!(report[1]["outcome"], "rejected");
    assert_eq!(report[2]["summary"]["rows"], 2);
    let output = roster(dir.path())
        .args(["export", "--workspace", &id])
        .output()
        .unwrap();
    assert!(output.status.success());
    let exported = String::from_utf8(output.stdout).unwrap();
    assert_eq!(exported.lines().count(), 2, "{exported}");
    assert!(
        exported.contains(",Ann,") && exported.contains(",Acme,"),
        "{exported}"
    );
}

/// `tests/<name>`, a Node.js helper, with its locked npm packages installed (from the npm
/// registry, the first time: into a directory of its own, then moved into place, so tests
/// running at once never share a half-done install).
fn npm_installed(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    if dir.join("node_modules/.package-lock.json").exists() {
        return dir;
    }
    let scratch = tempfile::tempdir_in(&dir).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), scratch.path().join(file)).unwrap();
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(scratch.path())
        .status()
        .expect("npm runs (it comes with Node.js)");
    assert!(status.success(), "npm ci in tests/{name} failed");
    // Another test may have moved its own install in first: either will do.
    let _ = std::fs::rename(
        scratch.path().join("node_modules"),
        dir.join("node_modules"),
    );
    dir
}
