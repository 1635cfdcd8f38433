//! API documents: served offline from the binary, and kept in step with the code — every
//! documented admin operation is routed, every admin route is documented, and the
//! dialect contracts served are the ones in `../shared/api`.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{send, TestApp};

const ADMIN_SOURCE: &str = include_str!("../../src/admin/mod.rs");
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// (method, path) of every documented admin operation.
fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(roster_api::docs::ADMIN_OPENAPI).unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() && path.starts_with("/admin/") {
                operations.insert((method.to_owned(), path.clone()));
            }
        }
    }
    operations
}

/// (method, path) of every route `admin::routes` declares, read from its source.
fn routed() -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for chunk in ADMIN_SOURCE.split(".route(").skip(1) {
        let Some(path) = chunk.split('"').nth(1) else {
            continue;
        };
        let handlers = chunk.split(".route(").next().unwrap_or_default();
        let handlers = &handlers[..handlers.find("\n}").unwrap_or(handlers.len())];
        for method in METHODS {
            let called = handlers.contains(&format!(" {method}("))
                || handlers.contains(&format!("({method}("))
                || handlers.contains(&format!(".{method}("))
                || handlers.contains(&format!("::{method}("));
            if called {
                operations.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    operations
}

#[test]
fn every_admin_route_is_documented_and_nothing_else() {
    let routed = routed();
    assert!(
        routed.len() >= 15,
        "the source parse found the routes: {routed:?}"
    );
    assert_eq!(routed, documented());
}

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for (method, path) in documented() {
        let url = path
            .replace("{workspaceId}", &tenant.id.to_string())
            .replace("{keyId}", "999")
            .replace("{contactId}", "999")
            .replace("{groupId}", "missing")
            .replace("{levelId}", "missing");
        let method: Method = method.to_uppercase().parse().unwrap();
        let (status, body) = send(app.admin(method.clone(), &url).body("{}")).await;
        let fallback = body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("No route for") || e.contains("is not allowed"));
        assert!(
            !fallback,
            "{method} {url} is documented but not routed: {status} {body}"
        );
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {url}");
    }
}

#[tokio::test]
async fn the_documents_and_the_docs_page_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let response = app.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("/openapi.json") && page.contains("/openapi/chatwoot.json"));
    assert!(
        !page.contains("https://"),
        "the page loads nothing from the internet"
    );
    let (status, admin) = send(app.request(Method::GET, "/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin["openapi"], "3.1.0");
    for (name, _) in roster_api::docs::DIALECT_CONTRACTS {
        let (status, contract) = send(app.request(Method::GET, &format!("/openapi/{name}"))).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(contract["paths"].is_object(), "{name}");
    }
    let (status, _) = send(app.request(Method::GET, "/openapi/nope.json")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn the_dialect_contracts_served_are_the_shared_ones() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/api");
    for (name, served) in roster_api::docs::DIALECT_CONTRACTS {
        let source = shared.join(name.replace(".json", ".openapi.json"));
        let contract = std::fs::read_to_string(&source).unwrap_or_else(|err| {
            panic!(
                "{} (the shared contracts sit beside the project): {err}",
                source.display()
            )
        });
        assert_eq!(served, contract, "{name} drifted from {}", source.display());
    }
}

#[test]
fn the_readme_lists_every_error_code_as_the_core_defines_it() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let section = readme
        .split("## Error codes")
        .nth(1)
        .expect("the README has an Error codes section");
    let listed: Vec<(u32, String)> = section
        .lines()
        .skip_while(|line| !line.starts_with("| code"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (
                cells[1].parse().unwrap(),
                cells[2].trim_matches('`').to_owned(),
            )
        })
        .collect();
    let defined: Vec<(u32, String)> = roster_core::error::ERROR_CODES
        .iter()
        .map(|(_, code)| (code.number, code.name.to_owned()))
        .collect();
    assert_eq!(listed, defined);
}
