//! The admin API: workspaces and keys, behind the admin token.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, send, TestApp};

#[tokio::test]
async fn admin_requests_need_the_admin_token() {
    let app = TestApp::spawn().await;
    let (status, body) = send(app.request(Method::GET, "/admin/v1/workspaces")).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "Bearer");
    let (status, body) = send(
        app.request(Method::GET, "/admin/v1/workspaces")
            .bearer_auth("wrong"),
    )
    .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "Bearer");
    // A workspace key is not an admin token.
    let tenant = app.tenant().await;
    let (status, _) = send(
        app.request(Method::GET, "/admin/v1/workspaces")
            .bearer_auth(&tenant.key),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn workspaces_are_created_and_listed() {
    let app = TestApp::spawn().await;
    let (status, created) = send(
        app.admin(Method::POST, "/admin/v1/workspaces")
            .json(&json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["id"], 1);
    assert_eq!(created["name"], "Acme");
    assert!(created["created"].is_string());
    let (status, listed) = send(app.admin(Method::GET, "/admin/v1/workspaces")).await;
    assert_eq!((status, listed), (StatusCode::OK, json!([created.clone()])));
    let (status, one) = send(app.admin(Method::GET, "/admin/v1/workspaces/1")).await;
    assert_eq!((status, one), (StatusCode::OK, created));
    for (body, needle) in [
        (json!({"name": ""}), "name"),
        (json!({}), "name"),
        (json!({"name": "A", "x": 1}), "x"),
    ] {
        let (status, response) =
            send(app.admin(Method::POST, "/admin/v1/workspaces").json(&body)).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, needle);
    }
    let (status, body) = send(app.admin(Method::GET, "/admin/v1/workspaces/7")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "workspace");
}

#[tokio::test]
async fn keys_show_their_secret_once_and_are_stored_hashed() {
    let app = TestApp::spawn().await;
    let (_, workspace) = send(
        app.admin(Method::POST, "/admin/v1/workspaces")
            .json(&json!({"name": "Acme"})),
    )
    .await;
    let path = format!("/admin/v1/workspaces/{}/keys", workspace["id"]);
    let (status, key) = send(
        app.admin(Method::POST, &path)
            .json(&json!({"name": "bot", "permissions": ["chatbots.contacts.*"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("rk_") && secret.len() > 64);
    assert_eq!(key["permissions"], json!(["chatbots.contacts.*"]));
    let (_, listed) = send(app.admin(Method::GET, &path)).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("key").is_none(), "the secret is never listed");
    assert!(
        !listed.to_string().contains(&secret[10..]),
        "no part of the secret is listed"
    );

    for (body, needle) in [
        (
            json!({"name": "k", "permissions": ["chatbots.contact.list"]}),
            "permissions",
        ),
        (json!({"name": "k", "permissions": []}), "permissions"),
        (json!({"name": "k"}), "permissions"),
        (json!({"name": "k", "permissions": "*"}), "permissions"),
    ] {
        let (status, response) = send(app.admin(Method::POST, &path).json(&body)).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, needle);
    }
    let (status, body) = send(
        app.admin(Method::POST, "/admin/v1/workspaces/99/keys")
            .json(&json!({"name": "k", "permissions": ["*"]})),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "workspace");
    let (status, body) = send(app.admin(Method::DELETE, &format!("{path}/999"))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "API key");
}

#[tokio::test]
async fn users_groups_and_levels_refuse_bad_input_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let base = format!("/admin/v1/workspaces/{}", tenant.id);
    let post = |path: &str, body: serde_json::Value| {
        app.admin(Method::POST, &format!("{base}{path}"))
            .json(&body)
    };
    let (status, _) = send(post("/users", json!({"id": "alice", "name": "Alice"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let refused = [
        (
            post("/users", json!({"id": "alice", "name": "Again"})),
            StatusCode::CONFLICT,
            "id",
        ),
        (
            post("/users", json!({"id": "", "name": "Empty"})),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            post("/users", json!({"id": "a b", "name": "Space"})),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            post("/users", json!({"id": 7, "name": "Number"})),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            post(
                "/groups",
                json!({"id": "g", "name": "G", "members": ["nobody"]}),
            ),
            StatusCode::BAD_REQUEST,
            "nobody",
        ),
        (
            post(
                "/groups",
                json!({"id": "g", "name": "G", "members": ["alice", "alice"]}),
            ),
            StatusCode::BAD_REQUEST,
            "members",
        ),
        (
            post(
                "/governance-levels",
                json!({"id": "L", "name": "L", "retention_days": -1}),
            ),
            StatusCode::BAD_REQUEST,
            "retention_days",
        ),
        (
            post("/governance-levels", json!({"id": "L", "name": "L"})),
            StatusCode::BAD_REQUEST,
            "retention_days",
        ),
        (
            app.admin(Method::POST, &format!("{base}/users"))
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            app.admin(Method::PATCH, &format!("{base}/governance-levels/missing"))
                .json(&json!({"name": "x"})),
            StatusCode::NOT_FOUND,
            "governance level",
        ),
        (
            app.admin(Method::PUT, &format!("{base}/groups/missing/members"))
                .json(&json!({"members": []})),
            StatusCode::NOT_FOUND,
            "group",
        ),
        (
            app.admin(Method::GET, &format!("{base}/contacts/99/stage-history")),
            StatusCode::NOT_FOUND,
            "contact",
        ),
        (
            post(
                "/inboxes",
                json!({"name": "X", "channel_type": "Channel::Pigeon"}),
            ),
            StatusCode::BAD_REQUEST,
            "channel_type",
        ),
        (
            post(
                "/inboxes",
                json!({"name": "", "channel_type": "Channel::Api"}),
            ),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            app.admin(Method::GET, "/admin/v1/workspaces/999/inboxes"),
            StatusCode::NOT_FOUND,
            "workspace",
        ),
        (
            app.admin(Method::GET, "/admin/v1/workspaces/999/merges"),
            StatusCode::NOT_FOUND,
            "workspace",
        ),
        (
            app.admin(Method::POST, "/admin/v1/workspaces/999/imports")
                .body("name\nAnn\n"),
            StatusCode::NOT_FOUND,
            "workspace",
        ),
        (
            app.admin(Method::POST, &format!("{base}/inboxes"))
                .body("{\"name\": "),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            post("/inboxes", json!({"name": "X", "channel_type": 7})),
            StatusCode::BAD_REQUEST,
            "channel_type",
        ),
        (
            app.admin(Method::GET, "/admin/v1/workspaces/999/users"),
            StatusCode::NOT_FOUND,
            "workspace",
        ),
    ];
    for (request, expected, needle) in refused {
        let (status, body) = send(request).await;
        assert_error(status, &body, expected, needle);
    }
    let (_, users) = send(app.admin(Method::GET, &format!("{base}/users"))).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["name"], "Alice");
    let (_, groups) = send(app.admin(Method::GET, &format!("{base}/groups"))).await;
    assert_eq!(groups, json!([]));
    let (_, levels) = send(app.admin(Method::GET, &format!("{base}/governance-levels"))).await;
    assert_eq!(levels, json!([]));
    let (_, inboxes) = send(app.admin(Method::GET, &format!("{base}/inboxes"))).await;
    assert_eq!(inboxes, json!([]), "refused inboxes were not created");
    let (status, inbox) = send(
        app.admin(Method::POST, &format!("{base}/inboxes"))
            .json(&json!({"name": "WhatsApp", "channel_type": "Channel::Whatsapp", "provider": "whatsapp_cloud"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{inbox}");
    assert_eq!(inbox["provider"], "whatsapp_cloud");
    let (_, inboxes) = send(app.admin(Method::GET, &format!("{base}/inboxes"))).await;
    assert_eq!(inboxes, json!([inbox]));
}

#[tokio::test]
async fn a_csv_upload_imports_row_by_row_and_streams_the_report() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let path = format!("/admin/v1/workspaces/{}/imports", tenant.id);
    let csv = "name,email,organizations\r\nAnn Import,ann@example.com,Acme\r\nBad,nope,\r\n";
    let response = app
        .admin(Method::POST, &path)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["outcome"], "created");
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[1]["outcome"], "rejected");
    assert!(lines[1]["reason"].as_str().unwrap().starts_with("email:"));
    assert_eq!(
        lines[2],
        json!({"summary": {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "rejected": 1}})
    );
    // The same upload again, matched by email only: unchanged.
    let again = app
        .admin(Method::POST, &format!("{path}?match=email"))
        .body(csv)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(again.contains("\"unchanged\":1"), "{again}");
    // Imported contacts are everyone's: readable through the dialects and searchable.
    app.search.catch_up().await.unwrap();
    let (_, found) = send(
        app.cc(&tenant, Method::GET, "/contacts/search")
            .query(&[("query", "Import")]),
    )
    .await;
    assert_eq!(found["results"]["found"], 1, "{found}");

    let (status, body) = send(app.admin(Method::POST, &path).body("name,,email\n")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "no name");
    let (status, body) = send(
        app.admin(Method::POST, &format!("{path}?match=shoe_size"))
            .body(csv),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "match");
    let (status, _) = send(app.request(Method::POST, &path).body(csv)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
