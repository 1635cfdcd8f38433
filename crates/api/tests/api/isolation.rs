//! Tenants are walls: with one workspace's key nothing of another workspace can be read,
//! listed, changed or deleted, whatever ids the request names.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{send, Tenant, TestApp};

#[tokio::test]
async fn no_key_reaches_another_workspace_whatever_the_ids() {
    let app = TestApp::spawn().await;
    let victim = app.tenant().await;
    let intruder = app.tenant().await;
    let org = app
        .create_organization(&victim, json!({"name": "Victim Org"}))
        .await;
    let contact = app
        .create_contact(&victim, json!({"name": "Victim", "language": "EN", "email": "v@example.com", "organizationIds": [org["id"]]}))
        .await;
    let (cid, oid) = (contact["id"].as_str().unwrap(), org["id"].as_str().unwrap());

    // 1. The victim's chatbot id in the path with the intruder's key: 403 on every endpoint.
    let as_intruder_on_victim = Tenant {
        id: victim.id,
        key: intruder.key.clone(),
    };
    for (method, path, body) in every_endpoint(cid, oid) {
        let mut request = app.cc(&as_intruder_on_victim, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, response) = send(request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {response}");
        assert_eq!(response, json!({"error": "Insufficient permissions."}));
    }

    // 2. The intruder's own chatbot id with the victim's record ids: nothing of the
    //    victim's is found, listed or touched.
    for (method, path, body) in every_endpoint(cid, oid) {
        let mut request = app.cc(&intruder, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, response) = send(request).await;
        let text = response.to_string();
        assert!(
            !text.contains("Victim") && !text.contains("v@example.com"),
            "{method} {path} leaked: {text}"
        );
        assert!(
            status == StatusCode::NOT_FOUND
                || status.is_success()
                || status == StatusCode::BAD_REQUEST,
            "{method} {path}: {status}"
        );
    }

    // The victim's data is exactly as it was (apart from what the intruder created in
    // its own workspace).
    let (_, after) = send(app.cc(&victim, Method::GET, &format!("/contacts/{cid}"))).await;
    assert_eq!(after["contact"], contact);
    let (_, org_after) = send(app.cc(&victim, Method::GET, &format!("/organizations/{oid}"))).await;
    assert_eq!(org_after["organization"], org);
    let (_, count) = send(app.cc(
        &victim,
        Method::GET,
        &format!("/organizations/{oid}/contacts/count"),
    ))
    .await;
    assert_eq!(count, json!({"count": 1}));
    let (_, list) = send(app.cc(&victim, Method::GET, "/contacts")).await;
    assert_eq!(list["contacts"].as_array().unwrap().len(), 1);
}

fn every_endpoint(cid: &str, oid: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/contacts".into(), None),
        (
            Method::POST,
            "/contacts".into(),
            Some(json!({"language": "EN", "organizationIds": [oid]})),
        ),
        (Method::GET, format!("/contacts/{cid}"), None),
        (
            Method::PATCH,
            format!("/contacts/{cid}"),
            Some(json!({"contact": {"name": "hacked", "organizationIds": [oid]}})),
        ),
        (Method::GET, format!("/contacts/{cid}/organizations"), None),
        (Method::GET, "/organizations".into(), None),
        (
            Method::POST,
            "/organizations".into(),
            Some(json!({"name": "intruder org"})),
        ),
        (Method::GET, format!("/organizations/{oid}"), None),
        (
            Method::PATCH,
            format!("/organizations/{oid}"),
            Some(json!({"organization": {"name": "hacked"}})),
        ),
        (Method::GET, format!("/organizations/{oid}/contacts"), None),
        (
            Method::GET,
            format!("/organizations/{oid}/contacts/count"),
            None,
        ),
        (Method::DELETE, format!("/organizations/{oid}"), None),
        (Method::DELETE, format!("/contacts/{cid}"), None),
    ]
}
