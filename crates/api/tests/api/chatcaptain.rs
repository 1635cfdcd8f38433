//! The ChatCaptain dialect, operation by operation and error by error.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, send, Backend, TestApp};

#[tokio::test]
async fn create_contact_answers_201_with_the_contract_shape_and_normalised_values() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let contact = app
        .create_contact(
            &tenant,
            json!({
                "name": "Max Example", "language": "EN", "email": " Max.Mustermann@Example.COM ",
                "phoneNumber": "+49 176 1234-5678", "whatsappId": "49123456789", "webId": "web_abc",
                "instagramId": "1784", "facebookId": "1015", "telegramId": "1234", "providerId": "prov_1",
                "avatar": "https://example.com/avatar.png"
            }),
        )
        .await;
    assert_eq!(contact["id"], "1");
    assert_eq!(contact["name"], "Max Example");
    assert_eq!(contact["email"], "max.mustermann@example.com");
    assert_eq!(contact["phoneNumber"], "+4917612345678");
    assert_eq!(contact["whatsappId"], "49123456789");
    assert_eq!(contact["telegramId"], "1234");
    assert_eq!(contact["facebookId"], "1015");
    assert_eq!(contact["instagramId"], "1784");
    assert_eq!(contact["webId"], "web_abc");
    assert_eq!(contact["providerId"], "prov_1");
    assert_eq!(contact["language"], "EN");
    assert_eq!(contact["avatar"], "https://example.com/avatar.png");
    assert_eq!(contact["variables"], json!({}));
    assert_eq!(contact["organizationIds"], json!([]));
    assert_eq!(contact["created"], contact["updated"]);
    let created = contact["created"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == "2026-01-01T00:00:00.000000Z".len(),
        "{created}"
    );
    assert!(
        contact.get("address").is_none(),
        "absent fields are omitted"
    );

    let (status, fetched) = send(app.cc(&tenant, Method::GET, "/contacts/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, json!({ "contact": contact }));
}

#[tokio::test]
async fn invalid_contacts_are_refused_with_the_field_named_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let cases = [
        (json!({"name": "No language"}), "language"),
        (json!({"language": "EN", "email": "not-an-email"}), "email"),
        (
            json!({"language": "EN", "phoneNumber": "0176 1234"}),
            "phoneNumber",
        ),
        (
            json!({"language": "EN", "phoneNumber": "+49 12"}),
            "phoneNumber",
        ),
        (json!({"language": "EN", "avatar": "not a url"}), "avatar"),
        (json!({"language": "EN", "name": "x".repeat(256)}), "name"),
        (json!({"language": "EN", "name": 5}), "name"),
        (json!({"language": "EN", "nmae": "typo"}), "nmae"),
        (
            json!({"language": "EN", "variables": {"plan": 3}}),
            "variables.plan",
        ),
        (
            json!({"language": "EN", "organizationIds": ["99"]}),
            "organizationIds",
        ),
        (
            json!({"language": "EN", "telegramId": "a\u{0}b"}),
            "telegramId",
        ),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (status, response) = send(app.cc(&tenant, Method::POST, "/contacts").json(&body)).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, field);
    }
    for raw in ["{\"language\": \"EN\"", "", "language=EN"] {
        let (status, response) = send(app.cc(&tenant, Method::POST, "/contacts").body(raw)).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, "body");
    }
    let (_, list) = send(app.cc(&tenant, Method::GET, "/contacts")).await;
    assert_eq!(list, json!({"contacts": []}));
    // Refused creates did not use up ids.
    assert_eq!(
        app.create_contact(&tenant, json!({"language": "EN"})).await["id"],
        "1"
    );
}

#[tokio::test]
async fn email_is_unique_per_workspace_ignoring_case() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    app.create_contact(
        &tenant,
        json!({"language": "EN", "email": "ann@example.com"}),
    )
    .await;
    let (status, body) = send(
        app.cc(&tenant, Method::POST, "/contacts")
            .json(&json!({"language": "EN", "email": "ANN@example.com"})),
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "email");
    let second = app
        .create_contact(
            &tenant,
            json!({"language": "EN", "email": "bob@example.com"}),
        )
        .await;
    let (status, body) = send(
        app.cc(
            &tenant,
            Method::PATCH,
            &format!("/contacts/{}", second["id"].as_str().unwrap()),
        )
        .json(&json!({"contact": {"email": "Ann@Example.com"}})),
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "email");
    let other = app.tenant().await;
    app.create_contact(
        &other,
        json!({"language": "EN", "email": "ann@example.com"}),
    )
    .await;
}

#[tokio::test]
async fn channel_ids_are_unique_per_workspace() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    app.create_contact(&tenant, json!({"language": "EN", "whatsappId": "4911"}))
        .await;
    let (status, body) = send(
        app.cc(&tenant, Method::POST, "/contacts")
            .json(&json!({"language": "EN", "whatsappId": "4911"})),
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "whatsappId");
}

#[tokio::test]
async fn patch_changes_only_the_named_fields() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let org = app
        .create_organization(&tenant, json!({"name": "Acme"}))
        .await;
    let contact = app
        .create_contact(
            &tenant,
            json!({"name": "Max", "language": "EN", "email": "max@example.com", "phoneNumber": "+4917612345678",
                   "address": {"street": "Hauptstraße", "zipcode": "10115"}, "variables": {"a": "1"}}),
        )
        .await;
    let id = contact["id"].as_str().unwrap();
    let patch = json!({"contact": {
        "name": "Max Mustermann",
        "address": {"location": "Berlin", "zipcode": null},
        "variables": {"plan": "pro"},
        "organizationIds": [org["id"]],
        "phoneNumber": null,
    }});
    let (status, body) = send(
        app.cc(&tenant, Method::PATCH, &format!("/contacts/{id}"))
            .json(&patch),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = &body["contact"];
    assert_eq!(updated["name"], "Max Mustermann");
    assert_eq!(updated["email"], "max@example.com");
    assert_eq!(updated["language"], "EN");
    assert!(updated.get("phoneNumber").is_none());
    assert_eq!(
        updated["address"],
        json!({"street": "Hauptstraße", "location": "Berlin"})
    );
    assert_eq!(updated["variables"], json!({"plan": "pro"}));
    assert_eq!(updated["organizationIds"], json!([org["id"]]));
    assert_eq!(updated["created"], contact["created"]);
    assert!(updated["updated"].as_str() > contact["updated"].as_str());

    let (_, fetched) = send(app.cc(&tenant, Method::GET, &format!("/contacts/{id}"))).await;
    assert_eq!(&fetched["contact"], updated);
    let (_, orgs) = send(app.cc(
        &tenant,
        Method::GET,
        &format!("/contacts/{id}/organizations"),
    ))
    .await;
    assert_eq!(orgs["organizations"][0]["name"], "Acme");
    assert_eq!(orgs["organizations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let org = app
        .create_organization(&tenant, json!({"name": "Acme"}))
        .await;
    let contact = app
        .create_contact(&tenant, json!({"name": "Max", "language": "EN"}))
        .await;
    let path = format!("/contacts/{}", contact["id"].as_str().unwrap());
    let refused = [
        (
            json!({"contact": {"name": "New", "organizationIds": [org["id"], "4242"]}}),
            StatusCode::BAD_REQUEST,
            "organizationIds",
        ),
        (
            json!({"contact": {"name": "New", "email": "bad"}}),
            StatusCode::BAD_REQUEST,
            "contact.email",
        ),
        (
            json!({"contact": {"name": "New", "variables": {"n": 1}}}),
            StatusCode::BAD_REQUEST,
            "contact.variables.n",
        ),
        (
            json!({"contact": {"name": "New", "language": null}}),
            StatusCode::BAD_REQUEST,
            "contact.language",
        ),
        (
            json!({"contact": {"name": "New", "bogus": 1}}),
            StatusCode::BAD_REQUEST,
            "bogus",
        ),
        (json!({"name": "New"}), StatusCode::BAD_REQUEST, "name"),
    ];
    for (body, expected, needle) in refused {
        let (status, response) = send(app.cc(&tenant, Method::PATCH, &path).json(&body)).await;
        assert_error(status, &response, expected, needle);
    }
    let (_, fetched) = send(app.cc(&tenant, Method::GET, &path)).await;
    assert_eq!(fetched["contact"], contact);
    let (_, count) = send(app.cc(
        &tenant,
        Method::GET,
        &format!(
            "/organizations/{}/contacts/count",
            org["id"].as_str().unwrap()
        ),
    ))
    .await;
    assert_eq!(count, json!({"count": 0}));
}

#[tokio::test]
async fn deleted_contacts_answer_404_and_their_ids_are_never_reused() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let org = app
        .create_organization(&tenant, json!({"name": "Acme"}))
        .await;
    let first = app
        .create_contact(
            &tenant,
            json!({"language": "EN", "organizationIds": [org["id"]]}),
        )
        .await;
    let id = first["id"].as_str().unwrap();
    let (status, body) = send(app.cc(&tenant, Method::DELETE, &format!("/contacts/{id}"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"deleted": true})));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = send(app.cc(&tenant, method, &format!("/contacts/{id}"))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "Contact not found");
    }
    let (status, body) = send(
        app.cc(&tenant, Method::PATCH, &format!("/contacts/{id}"))
            .json(&json!({"contact": {"name": "x"}})),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "Contact not found");
    let (status, body) = send(app.cc(
        &tenant,
        Method::GET,
        &format!("/contacts/{id}/organizations"),
    ))
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "Contact not found");
    let second = app.create_contact(&tenant, json!({"language": "EN"})).await;
    assert_eq!(second["id"], "2");
    let org_id = org["id"].as_str().unwrap();
    let (_, count) = send(app.cc(
        &tenant,
        Method::GET,
        &format!("/organizations/{org_id}/contacts/count"),
    ))
    .await;
    assert_eq!(count, json!({"count": 0}));
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999"] {
        let (status, body) = send(app.cc(&tenant, Method::GET, &format!("/contacts/{bad}"))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "Contact not found");
    }
}

#[tokio::test]
async fn organizations_support_every_operation() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let org = app
        .create_organization(
            &tenant,
            json!({"name": "Acme", "email": "Info@Acme.example", "website": "https://acme.example", "size": 250,
                   "industry": "Software", "address": {"location": "Berlin"}, "phoneNumber": "+1 415 555 2671"}),
        )
        .await;
    assert_eq!(org["id"], "1");
    assert_eq!(org["email"], "info@acme.example");
    assert_eq!(org["size"], 250);
    assert_eq!(org["phoneNumber"], "+14155552671");
    assert_eq!(org["address"], json!({"location": "Berlin"}));
    assert_eq!(org["variables"], json!({}));
    let path = "/organizations/1";

    let (status, body) = send(app.cc(&tenant, Method::GET, path)).await;
    assert_eq!((status, &body["organization"]), (StatusCode::OK, &org));

    let (status, body) = send(
        app.cc(&tenant, Method::PATCH, path)
            .json(&json!({"organization": {"name": "Acme GmbH", "size": null, "variables": {"tier": "gold"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organization"]["name"], "Acme GmbH");
    assert!(body["organization"].get("size").is_none());
    assert_eq!(body["organization"]["industry"], "Software");
    assert_eq!(body["organization"]["variables"], json!({"tier": "gold"}));

    let members: Vec<Value> = {
        let mut members = Vec::new();
        for name in ["a", "b", "c"] {
            members.push(
                app.create_contact(
                    &tenant,
                    json!({"name": name, "language": "EN", "organizationIds": ["1"]}),
                )
                .await,
            );
        }
        members
    };
    app.create_contact(&tenant, json!({"name": "outsider", "language": "EN"}))
        .await;
    let (_, count) = send(app.cc(&tenant, Method::GET, "/organizations/1/contacts/count")).await;
    assert_eq!(count, json!({"count": 3}));
    let (_, listed) = send(app.cc(&tenant, Method::GET, "/organizations/1/contacts")).await;
    let names: Vec<&str> = listed["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "b", "a"]);
    let (_, page) = send(app.cc(&tenant, Method::GET, "/organizations/1/contacts?limit=2")).await;
    assert_eq!(page["contacts"].as_array().unwrap().len(), 2);

    let (status, body) = send(app.cc(&tenant, Method::DELETE, path)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"deleted": true})));
    let (status, body) = send(app.cc(&tenant, Method::GET, path)).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "Organization not found",
    );
    let (status, body) =
        send(app.cc(&tenant, Method::GET, "/organizations/1/contacts/count")).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "Organization not found",
    );
    // The members are still there, now without the organization.
    let member = members[0]["id"].as_str().unwrap();
    let (status, body) = send(app.cc(&tenant, Method::GET, &format!("/contacts/{member}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["contact"]["organizationIds"], json!([]));
    assert_eq!(
        app.create_organization(&tenant, json!({"name": "Next"}))
            .await["id"],
        "2"
    );
}

#[tokio::test]
async fn invalid_organizations_are_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "A", "email": "nope"}), "email"),
        (json!({"name": "A", "website": "acme"}), "website"),
        (json!({"name": "A", "size": -1}), "size"),
        (json!({"name": "A", "size": 2.5}), "size"),
        (json!({"name": "A", "size": "big"}), "size"),
        (json!({"name": "A", "phoneNumber": "12"}), "phoneNumber"),
        (
            json!({"name": "A", "address": {"city": "Berlin"}}),
            "address.city",
        ),
    ];
    for (body, field) in cases {
        let (status, response) =
            send(app.cc(&tenant, Method::POST, "/organizations").json(&body)).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, field);
    }
    let org = app
        .create_organization(&tenant, json!({"name": "Acme"}))
        .await;
    let (status, response) = send(
        app.cc(
            &tenant,
            Method::PATCH,
            &format!("/organizations/{}", org["id"].as_str().unwrap()),
        )
        .json(&json!({"organization": {"name": null}})),
    )
    .await;
    assert_error(
        status,
        &response,
        StatusCode::BAD_REQUEST,
        "organization.name",
    );
    let (_, list) = send(app.cc(&tenant, Method::GET, "/organizations")).await;
    assert_eq!(list["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(list["organizations"][0]["name"], "Acme");
}

#[tokio::test]
async fn list_limits_and_page_tokens_are_validated() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for path in ["/contacts", "/organizations"] {
        for bad in ["limit=251", "limit=0", "limit=abc", "limit=-5", "limit=2.5"] {
            let (status, body) = send(app.cc(&tenant, Method::GET, &format!("{path}?{bad}"))).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "limit");
        }
        let (status, body) =
            send(app.cc(&tenant, Method::GET, &format!("{path}?pageToken=yesterday"))).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "pageToken");
        let (status, _) = send(app.cc(
            &tenant,
            Method::GET,
            &format!("{path}?limit=250&pageToken=2030-01-01T00:00:00Z"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    for i in 0..60 {
        app.create_contact(&tenant, json!({"name": format!("c{i}"), "language": "EN"}))
            .await;
    }
    let (_, default_page) = send(app.cc(&tenant, Method::GET, "/contacts")).await;
    let contacts = default_page["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 50, "default limit is 50");
    assert_eq!(contacts[0]["name"], "c59", "newest first");
    let token = contacts[49]["created"].as_str().unwrap();
    let (_, rest) = send(
        app.cc(&tenant, Method::GET, "/contacts")
            .query(&[("pageToken", token)]),
    )
    .await;
    let rest = rest["contacts"].as_array().unwrap();
    assert_eq!(rest.len(), 10);
    assert_eq!(rest[0]["name"], "c9");
}

async fn paging_sees_every_contact_of_a_concurrent_burst_exactly_once(backend: Backend) {
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 625;
    let app = TestApp::spawn_on(backend).await;
    let tenant = app.tenant().await;
    let tenant = std::sync::Arc::new(tenant);
    let app = std::sync::Arc::new(app);
    let mut writers = Vec::new();
    for client in 0..CLIENTS {
        let (app, tenant) = (app.clone(), tenant.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_CLIENT {
                let contact = app
                    .create_contact(
                        &tenant,
                        json!({"name": format!("{client}-{i}"), "language": "EN"}),
                    )
                    .await;
                ids.push(contact["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut created = HashSet::new();
    for writer in writers {
        created.extend(writer.await.unwrap());
    }
    assert_eq!(created.len(), CLIENTS * PER_CLIENT);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = app
            .cc(&tenant, Method::GET, "/contacts")
            .query(&[("limit", "250")]);
        if let Some(token) = &token {
            request = request.query(&[("pageToken", token)]);
        }
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::OK);
        let page = body["contacts"].as_array().unwrap();
        let Some(last) = page.last() else { break };
        token = Some(last["created"].as_str().unwrap().to_owned());
        seen.extend(page.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(seen.len(), created.len(), "every contact is seen once");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_sees_every_contact_of_a_concurrent_burst_exactly_once_on_sqlite() {
    paging_sees_every_contact_of_a_concurrent_burst_exactly_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_sees_every_contact_of_a_concurrent_burst_exactly_once_on_postgres() {
    paging_sees_every_contact_of_a_concurrent_burst_exactly_once(Backend::Postgres).await;
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_and_without_permission_403() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    app.create_contact(&tenant, json!({"language": "EN"})).await;

    let (status, body) =
        send(app.request(Method::GET, &format!("/v1/chatbots/{}/contacts", tenant.id))).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "key");
    let forged = format!("rk_1_{}", "0".repeat(64));
    for key in ["nonsense", forged.as_str(), ""] {
        let (status, body) = send(
            app.request(Method::GET, &format!("/v1/chatbots/{}/contacts", tenant.id))
                .header("x-chatcaptain-key", key),
        )
        .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "key");
    }

    let reader = app
        .key_for(
            tenant.id,
            &["chatbots.contacts.list", "chatbots.contacts.get"],
        )
        .await;
    let read_only = crate::helpers::Tenant {
        id: tenant.id,
        key: reader,
    };
    let (status, _) = send(app.cc(&read_only, Method::GET, "/contacts")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(app.cc(&read_only, Method::GET, "/contacts/1")).await;
    assert_eq!(status, StatusCode::OK);
    let denied = [
        (Method::POST, "/contacts", Some(json!({"language": "EN"}))),
        (
            Method::PATCH,
            "/contacts/1",
            Some(json!({"contact": {"name": "x"}})),
        ),
        (Method::DELETE, "/contacts/1", None),
        (Method::GET, "/organizations", None),
        (Method::POST, "/organizations", Some(json!({"name": "x"}))),
    ];
    for (method, path, body) in denied {
        let mut request = app.cc(&read_only, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, body) = send(request).await;
        assert_eq!(body, json!({"error": "Insufficient permissions."}));
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    let wildcard = app.key_for(tenant.id, &["chatbots.organizations.*"]).await;
    let org_admin = crate::helpers::Tenant {
        id: tenant.id,
        key: wildcard,
    };
    let (status, _) = send(
        app.cc(&org_admin, Method::POST, "/organizations")
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) =
        send(app.cc(&org_admin, Method::GET, "/organizations/1/contacts/count")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(app.cc(&org_admin, Method::GET, "/contacts")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let (status, _) = send(app.cc(&tenant, Method::GET, "/contacts")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, keys) = send(app.admin(
        Method::GET,
        &format!("/admin/v1/workspaces/{}/keys", tenant.id),
    ))
    .await;
    let key_id = keys[0]["id"].as_i64().unwrap();
    let (status, revoked) = send(app.admin(
        Method::DELETE,
        &format!("/admin/v1/workspaces/{}/keys/{key_id}", tenant.id),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked"].is_string());
    let (status, body) = send(app.cc(&tenant, Method::GET, "/contacts")).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "key");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let (status, body) = send(app.cc(&tenant, Method::GET, "/nothing-here")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "No route");
    let (status, body) = send(app.cc(&tenant, Method::PUT, "/contacts")).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "PUT");
    let (status, body) = send(app.request(Method::GET, "/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

#[tokio::test]
async fn records_are_stamped_by_the_services_clock() {
    use roster_core::clock::Clock;
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    // Far from the wall clock, so a store stamping with its own would show.
    app.clock.advance_secs(10 * 365 * 24 * 3_600);
    let (status, body) = send(
        app.cc(&tenant, Method::POST, "/contacts")
            .json(&json!({"name": "Later", "language": "EN"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created =
        roster_core::domain::Timestamp::parse_rfc3339(body["contact"]["created"].as_str().unwrap())
            .unwrap();
    let now = app.clock.now();
    // Strictly after the workspace's earlier writes, so at most a few µs past "now".
    assert!(
        created >= now && created.micros() - now.micros() < 1_000,
        "{created:?} vs {now:?}"
    );
}

#[tokio::test]
async fn an_array_where_an_object_belongs_is_refused_not_read_as_fields() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let (_, created) = send(
        app.cc(&tenant, Method::POST, "/contacts")
            .json(&json!({"name": "Ann", "language": "EN", "address": {"location": "Berlin"}})),
    )
    .await;
    let id = created["contact"]["id"].as_str().unwrap().to_owned();
    for (body, field) in [
        (json!({"contact": []}), "contact"),
        (json!({"contact": ["Bob"]}), "contact"),
        (
            json!({"contact": {"address": ["Main St"]}}),
            "contact.address",
        ),
    ] {
        let (status, answer) = send(
            app.cc(&tenant, Method::PATCH, &format!("/contacts/{id}"))
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            answer["error"],
            format!("{field}: invalid type: array, expected a JSON object."),
            "{body}"
        );
    }
    let (_, unchanged) = send(app.cc(&tenant, Method::GET, &format!("/contacts/{id}"))).await;
    assert_eq!(unchanged["contact"], created["contact"]);
}
