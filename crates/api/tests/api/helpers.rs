//! A running Roster for a test: a fresh store, the real router on an ephemeral port, and
//! a client that knows the way to it.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder, StatusCode};
use roster_api::{router, serve, AppState};
use roster_core::clock::ManualClock;
use roster_core::domain::Timestamp;
use roster_core::Roster;
use roster_search::SearchIndex;
use roster_store::testing::{self, TestStore};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    /// The node's search index, for tests that wait for it to catch up.
    pub search: Arc<SearchIndex>,
    pub client: reqwest::Client,
    /// The clock time-based rules read; starts at the real time and moves only when told.
    pub clock: ManualClock,
    _store: TestStore,
    _index_dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
    _stop_follower: oneshot::Sender<()>,
}

/// A workspace with a key that may do everything in it.
pub struct Tenant {
    pub id: i64,
    pub key: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_on(Backend::Sqlite).await
    }

    pub async fn spawn_on(backend: Backend) -> Self {
        let store = match backend {
            Backend::Sqlite => testing::sqlite().await,
            Backend::Postgres => testing::postgres().await,
        };
        let clock = ManualClock::starting_at(Timestamp::now());
        let roster = Roster::with_clock(store.store.clone(), Arc::new(clock.clone()))
            .await
            .expect("roster starts");
        let index_dir = tempfile::tempdir().expect("a temporary directory");
        let search = SearchIndex::open(index_dir.path(), store.store.clone())
            .await
            .expect("the search index opens");
        let roster = roster.with_search(search.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (stop_follower, follower_stopped) = oneshot::channel::<()>();
        search.follow(async {
            let _ = follower_stopped.await;
        });
        let state = AppState::new(roster, Some(Arc::from(ADMIN_TOKEN)));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port 0 binds");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, router(state), async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            search,
            _index_dir: index_dir,
            _stop_follower: stop_follower,
            client: reqwest::Client::new(),
            clock,
            _store: store,
            _shutdown: shutdown,
        }
    }

    /// The test clock's time in Unix seconds.
    pub fn clock_seconds(&self) -> i64 {
        use roster_core::clock::Clock;
        self.clock.now().unix_seconds()
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(ADMIN_TOKEN)
    }

    /// A new workspace and a key with the given permissions, through the admin API.
    pub async fn tenant_with(&self, permissions: &[&str]) -> Tenant {
        let (status, workspace) = send(
            self.admin(Method::POST, "/admin/v1/workspaces")
                .json(&json!({"name": "Tenant"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{workspace}");
        let id = workspace["id"].as_i64().unwrap();
        let key = self.key_for(id, permissions).await;
        Tenant { id, key }
    }

    pub async fn tenant(&self) -> Tenant {
        self.tenant_with(&["*"]).await
    }

    pub async fn key_for(&self, workspace: i64, permissions: &[&str]) -> String {
        let (status, key) = send(
            self.admin(
                Method::POST,
                &format!("/admin/v1/workspaces/{workspace}/keys"),
            )
            .json(&json!({"name": "test key", "permissions": permissions})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        key["key"].as_str().unwrap().to_owned()
    }

    /// A ChatCaptain request for `tenant`, path relative to `/v1/chatbots/{id}`.
    pub fn cc(&self, tenant: &Tenant, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("/v1/chatbots/{}{path}", tenant.id))
            .header("x-chatcaptain-key", &tenant.key)
    }

    /// Creates a contact through ChatCaptain and returns its JSON.
    pub async fn create_contact(&self, tenant: &Tenant, body: Value) -> Value {
        let (status, response) = send(self.cc(tenant, Method::POST, "/contacts").json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{response}");
        response["contact"].clone()
    }

    pub async fn create_organization(&self, tenant: &Tenant, body: Value) -> Value {
        let (status, response) =
            send(self.cc(tenant, Method::POST, "/organizations").json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{response}");
        response["organization"].clone()
    }
}

/// Sends a request and returns the status and the JSON body (`null` for an empty body).
pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request is answered");
    let status = response.status();
    let text = response.text().await.expect("body is read");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is JSON, got {text:?}"))
    };
    (status, body)
}

/// Asserts a ChatCaptain-style error: status, `{"error": …}` mentioning `needle`.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, needle: &str) {
    assert_eq!(status, expected, "{body}");
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("error body, got {body}"));
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only the error key: {body}"
    );
}
