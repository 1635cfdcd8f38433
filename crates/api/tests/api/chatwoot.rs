//! The Chatwoot dialect: every path, its status codes and error bodies, sorting with
//! NULLs, filters, search's exact-first rule, inboxes, labels, merge, one contact per
//! phone under concurrency, and contacts shared with ChatCaptain.

use std::collections::HashSet;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{send, Backend, Tenant, TestApp};

fn cw(app: &TestApp, tenant: &Tenant, method: Method, path: &str) -> RequestBuilder {
    app.request(method, &format!("/api/v1/accounts/{}{path}", tenant.id))
        .header("api_access_token", &tenant.key)
}

/// Creates a contact through Chatwoot and returns `payload.contact`.
async fn create(app: &TestApp, tenant: &Tenant, body: Value) -> Value {
    let (status, response) = send(cw(app, tenant, Method::POST, "/contacts").json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    response["payload"]["contact"].clone()
}

async fn get(app: &TestApp, tenant: &Tenant, path: &str) -> (StatusCode, Value) {
    send(cw(app, tenant, Method::GET, path)).await
}

fn ids(list: &Value) -> Vec<i64> {
    list["payload"]
        .as_array()
        .unwrap_or_else(|| panic!("a payload list, got {list}"))
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

/// Asserts a Rails validation error: 422 `{"message", "attributes"}`.
fn assert_invalid(status: StatusCode, body: &Value, message: &str, attribute: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body,
        &json!({"message": message, "attributes": [attribute]}),
        "{body}"
    );
}

async fn inbox(app: &TestApp, tenant: &Tenant, name: &str, channel_type: &str) -> i64 {
    let (status, inbox) = send(
        app.admin(
            Method::POST,
            &format!("/admin/v1/workspaces/{}/inboxes", tenant.id),
        )
        .json(&json!({"name": name, "channel_type": channel_type})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{inbox}");
    inbox["id"].as_i64().unwrap()
}

async fn count(app: &TestApp, tenant: &Tenant) -> i64 {
    let (_, list) = get(app, tenant, "/contacts").await;
    list["meta"]["count"].as_i64().unwrap()
}

#[tokio::test]
async fn each_auth_failure_gets_chatwoots_own_answer() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let other = app.tenant().await;
    let path = format!("/api/v1/accounts/{}/contacts", tenant.id);

    let (status, body) = send(app.request(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"errors": ["You need to sign in or sign up before continuing."]})
    );

    let (status, body) = send(
        app.request(Method::GET, &path)
            .header("api_access_token", "rk_1_nope"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"error": "Invalid Access Token"}));

    let (status, body) = send(
        app.request(Method::GET, &path)
            .header("api_access_token", &other.key),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "You are not authorized to access this account"})
    );

    let (status, body) = send(
        app.request(Method::GET, "/api/v1/accounts/999999/contacts")
            .header("api_access_token", &tenant.key),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Resource could not be found"}));

    let reader = Tenant {
        id: tenant.id,
        key: app
            .key_for(
                tenant.id,
                &["chatbots.contacts.list", "chatbots.contacts.get"],
            )
            .await,
    };
    let (status, body) = send(cw(&app, &reader, Method::POST, "/contacts").json(&json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "You are not authorized to do this action"})
    );
    assert_eq!(
        count(&app, &reader).await,
        0,
        "the refused create wrote nothing"
    );
}

#[tokio::test]
async fn contacts_are_created_shown_updated_and_deleted_with_chatwoots_wrappers() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let (status, created) = send(cw(&app, &tenant, Method::POST, "/contacts").json(&json!({
        "name": "Ann Lee",
        "email": "Ann@Example.com",
        "phone_number": "+49 176 1234 5678",
        "identifier": "crm-1",
        "custom_attributes": {"plan": "pro", "seats": 3},
        "additional_attributes": {"city": "Paris", "company_name": "Acme"},
        "unknown_key": "is dropped",
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created["payload"]["contact_inbox"],
        json!({"inbox": null, "source_id": null})
    );
    let contact = &created["payload"]["contact"];
    let id = contact["id"].as_i64().expect("a numeric id");
    let keys: Vec<&str> = contact
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "additional_attributes",
            "availability_status",
            "email",
            "id",
            "name",
            "phone_number",
            "blocked",
            "identifier",
            "thumbnail",
            "custom_attributes",
            "created_at",
            "contact_inboxes"
        ]
    );
    assert_eq!(contact["email"], "ann@example.com");
    assert_eq!(contact["phone_number"], "+4917612345678");
    assert_eq!(contact["identifier"], "crm-1");
    assert_eq!(contact["blocked"], false);
    assert_eq!(contact["availability_status"], "offline");
    assert_eq!(contact["thumbnail"], "");
    assert!(contact["created_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(contact["contact_inboxes"], json!([]));

    let (status, shown) = get(&app, &tenant, &format!("/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&shown["payload"], contact);

    let (status, updated) = send(
        cw(&app, &tenant, Method::PUT, &format!("/contacts/{id}")).json(&json!({
            "name": "Ann Lee-Smith",
            "email": "",
            "blocked": true,
            "custom_attributes": {"seats": 5, "tier": "gold"},
            "additional_attributes": {"city": "Lyon"},
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let contact = &updated["payload"];
    assert_eq!(contact["name"], "Ann Lee-Smith");
    assert_eq!(contact["email"], Value::Null, "a blank email is cleared");
    assert_eq!(contact["blocked"], true);
    assert_eq!(
        contact["custom_attributes"],
        json!({"plan": "pro", "seats": 5, "tier": "gold"}),
        "merged key by key"
    );
    assert_eq!(
        contact["additional_attributes"],
        json!({"city": "Lyon", "company_name": "Acme"})
    );

    let (status, patched) = send(
        cw(&app, &tenant, Method::PATCH, &format!("/contacts/{id}"))
            .query(&[("include_contact_inboxes", "false")])
            .json(&json!({"identifier": "crm-2"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["payload"]["identifier"], "crm-2");
    assert!(patched["payload"].get("contact_inboxes").is_none());

    let (status, removed) = send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{id}/destroy_custom_attributes"),
        )
        .json(&json!({"custom_attributes": ["plan", "never-there"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(
        removed["payload"]["custom_attributes"],
        json!({"seats": 5, "tier": "gold"})
    );
    assert_eq!(removed["payload"]["contact_inboxes"], json!([]));

    let response = cw(&app, &tenant, Method::DELETE, &format!("/contacts/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "", "an empty body");
    for path in [
        format!("/contacts/{id}"),
        "/contacts/abc".to_owned(),
        "/contacts/filter".to_owned(),
    ] {
        let (status, body) = get(&app, &tenant, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, json!({"error": "Resource could not be found"}));
    }
    let (status, _) = send(cw(
        &app,
        &tenant,
        Method::DELETE,
        &format!("/contacts/{id}"),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn validation_errors_are_rails_messages_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    create(
        &app,
        &tenant,
        json!({"name": "First", "email": "taken@example.com", "phone_number": "+4917612345678", "identifier": "ID-1"}),
    )
    .await;
    let cases = [
        (
            json!({"email": "not-an-email"}),
            "Email Invalid email",
            "email",
        ),
        (
            json!({"phone_number": "0176 1234567"}),
            "Phone number should be in e164 format",
            "phone_number",
        ),
        (
            json!({"email": "TAKEN@example.com"}),
            "Email has already been taken",
            "email",
        ),
        (
            json!({"phone_number": "+49 176 12345678"}),
            "Phone number has already been taken",
            "phone_number",
        ),
        (
            json!({"identifier": "ID-1"}),
            "Identifier has already been taken",
            "identifier",
        ),
        (
            json!({"name": "x".repeat(256)}),
            "Name is too long (maximum is 255 characters)",
            "name",
        ),
        (
            json!({"custom_attributes": [1, 2]}),
            "Custom attributes must be an object",
            "custom_attributes",
        ),
    ];
    for (body, message, attribute) in cases {
        let (status, response) =
            send(cw(&app, &tenant, Method::POST, "/contacts").json(&body)).await;
        assert_invalid(status, &response, message, attribute);
    }
    let (status, response) =
        send(cw(&app, &tenant, Method::POST, "/contacts").json(&json!({"name": 5}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["attributes"], json!(["name"]), "{response}");
    assert_eq!(
        count(&app, &tenant).await,
        1,
        "no failed create wrote anything"
    );

    // Several taken values are reported together, as Chatwoot's validations do.
    let (status, response) = send(cw(&app, &tenant, Method::POST, "/contacts").json(
        &json!({"email": "taken@example.com", "phone_number": "+4917612345678", "identifier": "ID-1"}),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response,
        json!({
            "message": "Email has already been taken, Phone number has already been taken, Identifier has already been taken",
            "attributes": ["email", "phone_number", "identifier"]
        })
    );
    assert_eq!(count(&app, &tenant).await, 1);
    // An identifier differing only in case is another identifier.
    create(&app, &tenant, json!({"identifier": "id-1"})).await;
    // An update to a taken value fails and leaves the contact as it was.
    let second = create(&app, &tenant, json!({"email": "second@example.com"})).await;
    let (status, response) = send(
        cw(
            &app,
            &tenant,
            Method::PUT,
            &format!("/contacts/{}", second["id"]),
        )
        .json(&json!({"name": "Renamed", "email": "taken@example.com"})),
    )
    .await;
    assert_invalid(status, &response, "Email has already been taken", "email");
    let (_, shown) = get(&app, &tenant, &format!("/contacts/{}", second["id"])).await;
    assert_eq!(shown["payload"]["name"], "");
    assert_eq!(shown["payload"]["email"], "second@example.com");
}

#[tokio::test]
async fn creating_in_an_inbox_links_the_contact_and_renders_the_inbox_record() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let api = inbox(&app, &tenant, "API", "Channel::Api").await;
    let email_inbox = inbox(&app, &tenant, "Mail", "Channel::Email").await;
    let whatsapp = inbox(&app, &tenant, "WA", "Channel::Whatsapp").await;

    let (status, created) = send(
        cw(&app, &tenant, Method::POST, "/contacts")
            .json(&json!({"name": "Bo", "inbox_id": api, "phone_number": "+4917612345678"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let link = &created["payload"]["contact_inbox"];
    assert_eq!(link["inbox"]["id"], api);
    assert_eq!(link["inbox"]["account_id"], tenant.id);
    assert_eq!(link["inbox"]["channel_type"], "Channel::Api");
    assert!(link["inbox"]["created_at"].is_string());
    let source = link["source_id"].as_str().unwrap();
    assert_eq!(source.len(), 36, "a UUID: {source}");
    assert_eq!(
        created["payload"]["contact"]["contact_inboxes"],
        json!([{"source_id": source, "inbox": {"id": api, "avatar_url": "", "channel_id": api, "name": "API", "channel_type": "Channel::Api", "provider": null}}])
    );
    let bo = created["payload"]["contact"]["id"].as_i64().unwrap();

    // The email inbox needs the contact's email; without it nothing is created.
    let (status, response) = send(
        cw(&app, &tenant, Method::POST, "/contacts")
            .json(&json!({"name": "No mail", "inbox_id": email_inbox})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response,
        json!({"error": "param is missing or the value is empty: contact email"})
    );
    // An inbox of no account of ours: 404, and the contact is not created either.
    let (status, response) = send(
        cw(&app, &tenant, Method::POST, "/contacts")
            .json(&json!({"name": "Lost", "email": "lost@example.com", "inbox_id": 987654})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(response, json!({"error": "Resource could not be found"}));
    assert_eq!(count(&app, &tenant).await, 1);

    // Linking later: WhatsApp derives the source from the phone; a source another
    // contact holds in that inbox is refused.
    let (status, linked) = send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{bo}/contact_inboxes"),
        )
        .json(&json!({"inbox_id": whatsapp})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["source_id"], "4917612345678");
    assert_eq!(linked["inbox"]["channel_type"], "Channel::Whatsapp");
    let other = create(&app, &tenant, json!({"name": "Cy"})).await;
    let (status, response) = send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{}/contact_inboxes", other["id"]),
        )
        .json(&json!({"inbox_id": whatsapp, "source_id": "4917612345678"})),
    )
    .await;
    assert_invalid(
        status,
        &response,
        "Source has already been taken",
        "source_id",
    );
    let (status, response) = send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{bo}/contact_inboxes"),
        )
        .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response,
        json!({"error": "param is missing or the value is empty: inbox_id"})
    );

    // Contactable inboxes: API (its existing source), WhatsApp (from the phone); the
    // email inbox is skipped, Bo has no email.
    let (status, contactable) = get(
        &app,
        &tenant,
        &format!("/contacts/{bo}/contactable_inboxes"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sources: Vec<(i64, &str)> = contactable["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["inbox"]["id"].as_i64().unwrap(),
                c["source_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sources, [(api, source), (whatsapp, "4917612345678")]);

    let (status, conversations) =
        get(&app, &tenant, &format!("/contacts/{bo}/conversations")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(conversations, json!({"payload": []}));
    let (status, _) = get(&app, &tenant, "/contacts/424242/conversations").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn labels_are_replaced_listed_and_filter_the_list() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let a = create(&app, &tenant, json!({"name": "A"})).await["id"].clone();
    let b = create(&app, &tenant, json!({"name": "B"})).await["id"].clone();
    create(&app, &tenant, json!({"name": "C"})).await;
    let set = |id: &Value, labels: Value| {
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{id}/labels"),
        )
        .json(&json!({ "labels": labels }))
    };
    let (status, body) = send(set(&a, json!(["vip", "lead", "vip"]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"payload": ["lead", "vip"]}));
    send(set(&b, json!(["churned"]))).await;
    let (_, body) = get(&app, &tenant, &format!("/contacts/{a}/labels")).await;
    assert_eq!(body, json!({"payload": ["lead", "vip"]}));
    let (status, body) = send(set(&a, json!(["lead"]))).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"payload": ["lead"]}))
    );

    let (_, list) = send(
        cw(&app, &tenant, Method::GET, "/contacts")
            .query(&[("labels[]", "lead"), ("labels[]", "churned")]),
    )
    .await;
    let mut listed = ids(&list);
    listed.sort_unstable();
    assert_eq!(listed, [a.as_i64().unwrap(), b.as_i64().unwrap()]);
    assert_eq!(list["meta"]["count"], 2);

    let (status, body) = send(set(&a, json!("lead"))).await;
    assert_invalid(status, &body, "Labels must be a list of strings", "labels");
    let (status, body) = send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{a}/labels"),
        )
        .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"error": "param is missing or the value is empty: labels"})
    );
    let (status, _) = send(set(&json!(999), json!(["x"]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// 20 contacts, some without email: sorted either way, missing values come last, and
/// the pages of 15 cover every contact exactly once.
async fn lists_sort_with_nulls_last_and_page_without_overlap(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let tenant = app.tenant().await;
    for i in 0..20 {
        let mut body = json!({"name": format!("Person {:02}", 19 - i)});
        if i % 3 != 0 {
            body["email"] = json!(format!("p{i:02}@example.com"));
        }
        if i % 4 == 0 {
            body["additional_attributes"] = json!({"city": format!("City {}", i % 8)});
        }
        create(&app, &tenant, body).await;
    }
    let page = |sort: &'static str, page: &'static str| {
        send(cw(&app, &tenant, Method::GET, "/contacts").query(&[("sort", sort), ("page", page)]))
    };
    for sort in [
        "email",
        "-email",
        "name",
        "-name",
        "city",
        "-city",
        "-created_at",
    ] {
        let (status, first) = page(sort, "1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(first["meta"], json!({"count": 20, "current_page": "1"}));
        let (_, second) = page(sort, "2").await;
        let mut all: Vec<Value> = first["payload"].as_array().unwrap().clone();
        assert_eq!(all.len(), 15);
        all.extend(second["payload"].as_array().unwrap().iter().cloned());
        let unique: HashSet<i64> = all.iter().map(|c| c["id"].as_i64().unwrap()).collect();
        assert_eq!(unique.len(), 20, "{sort}: every contact exactly once");

        let key = |c: &Value| -> Option<String> {
            match sort.trim_start_matches('-') {
                "email" => c["email"].as_str().map(str::to_owned),
                "name" => c["name"].as_str().map(str::to_lowercase),
                "city" => c["additional_attributes"]["city"]
                    .as_str()
                    .map(str::to_owned),
                _ => Some(format!("{:020}", c["created_at"].as_i64().unwrap())),
            }
        };
        let keys: Vec<Option<String>> = all.iter().map(key).collect();
        let present: Vec<&String> = keys.iter().flatten().collect();
        let first_missing = keys.iter().position(Option::is_none).unwrap_or(keys.len());
        assert!(
            keys[first_missing..].iter().all(Option::is_none),
            "{sort}: missing values last: {keys:?}"
        );
        let mut expected = present.clone();
        expected.sort();
        if sort.starts_with('-') {
            expected.reverse();
        }
        assert_eq!(present, expected, "{sort}");
    }
    // Without a sort: newest first. Past the end: an empty page with the same count.
    let (_, newest) = send(cw(&app, &tenant, Method::GET, "/contacts")).await;
    assert_eq!(newest["meta"], json!({"count": 20, "current_page": 1}));
    assert_eq!(newest["payload"][0]["name"], "Person 00");
    let (_, beyond) = page("name", "3").await;
    assert_eq!(beyond["payload"], json!([]));
    assert_eq!(beyond["meta"]["count"], 20);
    // Unknown keys are ignored, as Chatwoot ignores them.
    let (status, _) = page("shoe_size,-nope", "1").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn lists_sort_with_nulls_last_and_page_without_overlap_on_sqlite() {
    lists_sort_with_nulls_last_and_page_without_overlap(Backend::Sqlite).await;
}

#[tokio::test]
async fn lists_sort_with_nulls_last_and_page_without_overlap_on_postgres() {
    lists_sort_with_nulls_last_and_page_without_overlap(Backend::Postgres).await;
}

async fn filter(app: &TestApp, tenant: &Tenant, payload: Value) -> (StatusCode, Value) {
    send(cw(app, tenant, Method::POST, "/contacts/filter").json(&json!({ "payload": payload })))
        .await
}

fn condition(key: &str, operator: &str, values: Value, join: Value) -> Value {
    json!({"attribute_key": key, "filter_operator": operator, "values": values, "query_operator": join})
}

async fn filters_take_chatwoots_keys_operators_and_messages(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let tenant = app.tenant().await;
    let ann = create(&app, &tenant, json!({"name": "Ann", "email": "ann@acme.com", "phone_number": "+4917612345678", "additional_attributes": {"city": "Paris", "country_code": "FR"}, "custom_attributes": {"plan": "Pro", "seats": 12}})).await["id"].as_i64().unwrap();
    let bob = create(&app, &tenant, json!({"name": "Bob", "email": "bob@other.org", "blocked": true, "custom_attributes": {"plan": "free", "seats": 2, "renewal": "2024-03-01"}})).await["id"].as_i64().unwrap();
    let cy = create(
        &app,
        &tenant,
        json!({"name": "Cy 100%", "identifier": "CY-1"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{bob}/labels"),
        )
        .json(&json!({"labels": ["vip"]})),
    )
    .await;

    let cases: Vec<(Value, Vec<i64>)> = vec![
        (
            json!([condition(
                "name",
                "equal_to",
                json!(["ANN", "bob"]),
                Value::Null
            )]),
            vec![ann],
        ),
        (
            json!([condition(
                "email",
                "contains",
                json!(["acme", "other"]),
                Value::Null
            )]),
            vec![ann, bob],
        ),
        (
            json!([condition(
                "email",
                "does_not_contain",
                json!(["acme"]),
                Value::Null
            )]),
            vec![bob],
        ),
        (
            json!([condition(
                "phone_number",
                "equal_to",
                json!(["49 176 1234 5678"]),
                Value::Null
            )]),
            vec![ann],
        ),
        (
            json!([condition(
                "phone_number",
                "starts_with",
                json!(["+49"]),
                Value::Null
            )]),
            vec![ann],
        ),
        (
            json!([condition(
                "identifier",
                "equal_to",
                json!(["cy-1"]),
                Value::Null
            )]),
            vec![cy],
        ),
        (
            json!([condition("city", "equal_to", json!(["paris"]), Value::Null)]),
            vec![ann],
        ),
        (
            json!([condition(
                "country_code",
                "not_equal_to",
                json!(["de"]),
                Value::Null
            )]),
            vec![ann],
        ),
        (
            json!([condition("blocked", "equal_to", json!([true]), Value::Null)]),
            vec![bob],
        ),
        (
            json!([condition("labels", "equal_to", json!(["vip"]), Value::Null)]),
            vec![bob],
        ),
        (
            json!([condition(
                "labels",
                "is_not_present",
                json!([]),
                Value::Null
            )]),
            vec![ann, cy],
        ),
        (
            json!([condition("plan", "equal_to", json!(["pro"]), Value::Null)]),
            vec![ann],
        ),
        (
            json!([condition(
                "seats",
                "is_greater_than",
                json!(["5"]),
                Value::Null
            )]),
            vec![ann],
        ),
        (
            json!([condition(
                "renewal",
                "is_less_than",
                json!(["2024-06-01"]),
                Value::Null
            )]),
            vec![bob],
        ),
        (
            json!([condition(
                "created_at",
                "is_greater_than",
                json!(["2000-01-01"]),
                Value::Null
            )]),
            vec![ann, bob, cy],
        ),
        (
            json!([condition(
                "created_at",
                "is_less_than",
                json!(["2000-01-01"]),
                Value::Null
            )]),
            vec![],
        ),
        // `%` is a literal, not a wildcard.
        (
            json!([condition("name", "contains", json!(["%"]), Value::Null)]),
            vec![cy],
        ),
        // AND binds tighter than OR: name = ann OR (blocked AND label vip).
        (
            json!([
                condition("name", "equal_to", json!(["ann"]), json!("OR")),
                condition("blocked", "equal_to", json!(["true"]), json!("AND")),
                condition("labels", "equal_to", json!(["vip"]), Value::Null),
            ]),
            vec![ann, bob],
        ),
        (
            json!([
                condition("name", "equal_to", json!(["ann"]), json!("and")),
                condition("blocked", "equal_to", json!(["true"]), Value::Null),
            ]),
            vec![],
        ),
    ];
    for (payload, expected) in cases {
        let (status, body) = filter(&app, &tenant, payload.clone()).await;
        assert_eq!(status, StatusCode::OK, "{payload}: {body}");
        let mut found = ids(&body);
        found.sort_unstable();
        assert_eq!(found, expected, "{payload}");
        assert_eq!(body["meta"]["count"], expected.len(), "{payload}");
    }

    let errors = [
        (
            json!([condition("shoe_size", "equal_to", json!(["9"]), Value::Null)]),
            "Invalid attribute key - [shoe_size]. The key should be one of [name,email,phone_number,identifier,country_code,city,company_name,labels,created_at,last_activity_at,blocked] or a custom attribute defined in the account.",
        ),
        (
            json!([condition("identifier", "contains", json!(["x"]), Value::Null)]),
            "Invalid operator. The allowed operators for identifier are [equal_to,not_equal_to].",
        ),
        (
            json!([
                condition("name", "equal_to", json!(["ann"]), json!("XOR")),
                condition("name", "equal_to", json!(["bob"]), Value::Null),
            ]),
            "Query operator must be either \"AND\" or \"OR\".",
        ),
        (
            json!([condition("created_at", "is_greater_than", json!(["yesterday"]), Value::Null)]),
            "Invalid value. The values provided for created_at are invalid",
        ),
        (
            json!([condition("blocked", "equal_to", json!([]), Value::Null)]),
            "Invalid value. The values provided for blocked are invalid",
        ),
    ];
    for (payload, message) in errors {
        let (status, body) = filter(&app, &tenant, payload).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body, json!({ "error": message }));
    }
    let (status, body) =
        send(cw(&app, &tenant, Method::POST, "/contacts/filter").json(&json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"error": "param is missing or the value is empty: payload"})
    );
}

#[tokio::test]
async fn filters_take_chatwoots_keys_operators_and_messages_on_sqlite() {
    filters_take_chatwoots_keys_operators_and_messages(Backend::Sqlite).await;
}

#[tokio::test]
async fn filters_take_chatwoots_keys_operators_and_messages_on_postgres() {
    filters_take_chatwoots_keys_operators_and_messages(Backend::Postgres).await;
}

#[tokio::test]
async fn search_puts_exact_matches_first_then_typo_tolerant_ones() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    // Many contacts whose text resembles the query, created before the exact match so
    // that ranking alone would not put it first.
    for i in 0..20 {
        create(
            &app,
            &tenant,
            json!({"name": format!("Jonathan Miller {i}"), "email": format!("jonathan.miller{i}@example.com")}),
        )
        .await;
    }
    let exact = create(
        &app,
        &tenant,
        json!({"name": "Someone Else", "email": "jonathan.miller@example.com", "phone_number": "+4917612345678", "identifier": "Miller-1"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    app.search.catch_up().await.unwrap();
    let search = |q: &'static str, page: Option<&'static str>| {
        let mut request = cw(&app, &tenant, Method::GET, "/contacts/search").query(&[("q", q)]);
        if let Some(page) = page {
            request = request.query(&[("page", page)]);
        }
        send(request)
    };
    for q in [
        "jonathan.miller@example.com",
        "JONATHAN.MILLER@EXAMPLE.COM",
        "+49 176 1234 5678",
        " 4917612345678",
        "Miller-1",
    ] {
        let (status, body) = search(q, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ids(&body)[0], exact, "{q}: the exact match comes first");
    }
    // Roster's typo tolerance comes on top.
    let (_, body) = search("Jonahtan", None).await;
    assert!(!ids(&body).is_empty(), "one typo still finds: {body}");

    // 21 Jonathans: 15 on page one with more to come, the rest on page two.
    let (_, first) = search("jonathan", None).await;
    assert_eq!(
        first["meta"],
        json!({"count": 15, "current_page": 1, "has_more": true})
    );
    let (_, second) = search("jonathan", Some("2")).await;
    assert_eq!(
        second["meta"],
        json!({"count": 6, "current_page": "2", "has_more": false})
    );
    let all: HashSet<i64> = ids(&first).into_iter().chain(ids(&second)).collect();
    assert_eq!(all.len(), 21);

    let (status, blank) = search("   ", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        blank,
        json!({"meta": {"count": 0, "current_page": 1, "has_more": false}, "payload": []})
    );
}

#[tokio::test]
async fn merge_folds_the_mergee_into_the_base_and_leaves_a_record() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let inbox_id = inbox(&app, &tenant, "API", "Channel::Api").await;
    let org = app
        .create_organization(&tenant, json!({"name": "Acme"}))
        .await;
    let base = app
        .create_contact(
            &tenant,
            json!({"language": "EN", "name": "Base", "email": "base@example.com", "variables": {"plan": "pro"}}),
        )
        .await;
    let mergee = app
        .create_contact(
            &tenant,
            json!({"language": "EN", "name": "Mergee", "email": "mergee@example.com", "phoneNumber": "+4917612345678",
                   "telegramId": "tg-1", "variables": {"plan": "free", "tier": "gold"},
                   "organizationIds": [org["id"]]}),
        )
        .await;
    let (base_id, mergee_id) = (
        base["id"].as_str().unwrap().parse::<i64>().unwrap(),
        mergee["id"].as_str().unwrap().parse::<i64>().unwrap(),
    );
    send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{base_id}/labels"),
        )
        .json(&json!({"labels": ["a"]})),
    )
    .await;
    send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{mergee_id}/labels"),
        )
        .json(&json!({"labels": ["b"]})),
    )
    .await;
    send(
        cw(
            &app,
            &tenant,
            Method::PUT,
            &format!("/contacts/{mergee_id}"),
        )
        .json(&json!({"identifier": "crm-9"})),
    )
    .await;
    send(
        cw(
            &app,
            &tenant,
            Method::POST,
            &format!("/contacts/{mergee_id}/contact_inboxes"),
        )
        .json(&json!({"inbox_id": inbox_id, "source_id": "src-mergee"})),
    )
    .await;

    let merge = |base: Value, mergee: Value| {
        cw(&app, &tenant, Method::POST, "/actions/contact_merge")
            .json(&json!({"base_contact_id": base, "mergee_contact_id": mergee}))
    };
    let (status, merged) = send(merge(json!(base_id), json!(mergee_id.to_string()))).await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["id"], base_id, "the bare base contact");
    assert!(merged.get("payload").is_none() && merged.get("contact_inboxes").is_none());
    assert_eq!(merged["name"], "Base");
    assert_eq!(merged["email"], "base@example.com");
    assert_eq!(
        merged["phone_number"], "+4917612345678",
        "taken from the mergee"
    );
    assert_eq!(merged["identifier"], "crm-9");
    assert_eq!(
        merged["custom_attributes"],
        json!({"plan": "pro", "tier": "gold"})
    );

    let (status, _) = get(&app, &tenant, &format!("/contacts/{mergee_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the mergee is gone");
    let (_, labels) = get(&app, &tenant, &format!("/contacts/{base_id}/labels")).await;
    assert_eq!(labels, json!({"payload": ["a", "b"]}));
    let (_, shown) = get(&app, &tenant, &format!("/contacts/{base_id}")).await;
    assert_eq!(
        shown["payload"]["contact_inboxes"][0]["source_id"],
        "src-mergee"
    );
    let (_, native) = send(app.cc(&tenant, Method::GET, &format!("/contacts/{base_id}"))).await;
    assert_eq!(native["contact"]["telegramId"], "tg-1");
    assert_eq!(native["contact"]["organizationIds"], json!([org["id"]]));

    let (status, record) = send(app.admin(
        Method::GET,
        &format!("/admin/v1/workspaces/{}/merges", tenant.id),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let merges = record.as_array().unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["base_contact_id"], base_id);
    assert_eq!(merges[0]["mergee_contact_id"], mergee_id);
    assert!(merges[0]["merged"].is_string());

    // Merging a contact into itself changes nothing; unknown ids are 404s.
    let (status, same) = send(merge(json!(base_id), json!(base_id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, merged);
    let (status, body) = send(merge(json!(base_id), json!(mergee_id))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Resource could not be found"}));
    let (status, body) = send(
        cw(&app, &tenant, Method::POST, "/actions/contact_merge")
            .json(&json!({"base_contact_id": base_id})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"error": "param is missing or the value is empty: mergee_contact_id"})
    );
    let (_, record) = send(app.admin(
        Method::GET,
        &format!("/admin/v1/workspaces/{}/merges", tenant.id),
    ))
    .await;
    assert_eq!(record.as_array().unwrap().len(), 1);
}

/// Eight clients create a contact with the same number at once: exactly one wins.
async fn one_contact_per_phone_under_concurrency(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn_on(backend).await);
    let tenant = std::sync::Arc::new(app.tenant().await);
    let racers: Vec<_> =
        (0..8)
            .map(|i| {
                let (app, tenant) = (app.clone(), tenant.clone());
                tokio::spawn(async move {
                    send(cw(&app, &tenant, Method::POST, "/contacts").json(
                        &json!({"name": format!("Racer {i}"), "phone_number": "+4917612345678"}),
                    ))
                    .await
                })
            })
            .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.expect("the request task finishes"));
    }
    let won = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(won, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_invalid(
            *status,
            body,
            "Phone number has already been taken",
            "phone_number",
        );
    }
    assert_eq!(count(&app, &tenant).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_contact_per_phone_under_concurrency_on_sqlite() {
    one_contact_per_phone_under_concurrency(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_contact_per_phone_under_concurrency_on_postgres() {
    one_contact_per_phone_under_concurrency(Backend::Postgres).await;
}

#[tokio::test]
async fn contacts_read_the_same_through_chatcaptain_and_chatwoot() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let native = app
        .create_contact(
            &tenant,
            json!({"language": "DE", "name": "Grete", "email": "grete@example.com", "phoneNumber": "+4917612345678",
                   "avatar": "https://example.com/g.png", "variables": {"plan": "pro"}}),
        )
        .await;
    let id = native["id"].as_str().unwrap();
    let (status, read) = get(&app, &tenant, &format!("/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let contact = &read["payload"];
    assert_eq!(
        contact["id"],
        id.parse::<i64>().unwrap(),
        "the same id, as a number"
    );
    assert_eq!(contact["name"], native["name"]);
    assert_eq!(contact["email"], native["email"]);
    assert_eq!(contact["phone_number"], native["phoneNumber"]);
    assert_eq!(contact["thumbnail"], native["avatar"]);
    assert_eq!(contact["custom_attributes"], native["variables"]);

    let chatwoot = create(
        &app,
        &tenant,
        json!({"name": "Hans", "email": "hans@example.com", "phone_number": "+4915112345678", "identifier": "ext-8",
               "avatar_url": "https://example.com/h.png", "blocked": true, "custom_attributes": {"tier": "gold"}}),
    )
    .await;
    let (status, read) = send(app.cc(
        &tenant,
        Method::GET,
        &format!("/contacts/{}", chatwoot["id"]),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let native = &read["contact"];
    assert_eq!(
        native["id"],
        chatwoot["id"].to_string(),
        "the same id, as a string"
    );
    assert_eq!(native["name"], chatwoot["name"]);
    assert_eq!(native["email"], chatwoot["email"]);
    assert_eq!(native["phoneNumber"], chatwoot["phone_number"]);
    assert_eq!(native["avatar"], chatwoot["thumbnail"]);
    assert_eq!(native["variables"], chatwoot["custom_attributes"]);
}

#[tokio::test]
async fn another_accounts_ids_answer_404_and_change_nothing() {
    let app = TestApp::spawn().await;
    let victim = app.tenant().await;
    let intruder = app.tenant().await;
    let inbox_id = inbox(&app, &victim, "API", "Channel::Api").await;
    // Ids count per workspace: two more of the victim's, so its contact's id is one the
    // intruder's workspace does not have.
    create(&app, &victim, json!({"name": "Filler 1"})).await;
    create(&app, &victim, json!({"name": "Filler 2"})).await;
    let id = create(
        &app,
        &victim,
        json!({"name": "Victim", "email": "v@example.com"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let own = create(&app, &intruder, json!({"name": "Own"})).await["id"]
        .as_i64()
        .unwrap();
    let attempts: Vec<(Method, String, Value)> = vec![
        (Method::GET, format!("/contacts/{id}"), Value::Null),
        (
            Method::PUT,
            format!("/contacts/{id}"),
            json!({"name": "Hacked"}),
        ),
        (Method::DELETE, format!("/contacts/{id}"), Value::Null),
        (Method::GET, format!("/contacts/{id}/labels"), Value::Null),
        (
            Method::POST,
            format!("/contacts/{id}/labels"),
            json!({"labels": ["x"]}),
        ),
        (
            Method::GET,
            format!("/contacts/{id}/conversations"),
            Value::Null,
        ),
        (
            Method::GET,
            format!("/contacts/{id}/contactable_inboxes"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/contacts/{id}/destroy_custom_attributes"),
            json!({"custom_attributes": ["a"]}),
        ),
        (
            Method::POST,
            "/contacts".into(),
            json!({"name": "Sneaky", "inbox_id": inbox_id}),
        ),
        (
            Method::POST,
            format!("/contacts/{own}/contact_inboxes"),
            json!({"inbox_id": inbox_id}),
        ),
        (
            Method::POST,
            "/actions/contact_merge".into(),
            json!({"base_contact_id": own, "mergee_contact_id": id}),
        ),
        (
            Method::POST,
            "/actions/contact_merge".into(),
            json!({"base_contact_id": id, "mergee_contact_id": own}),
        ),
    ];
    for (method, path, body) in attempts {
        let mut request = cw(&app, &intruder, method.clone(), &path);
        if !body.is_null() {
            request = request.json(&body);
        }
        let (status, response) = send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {response}");
    }
    app.search.catch_up().await.unwrap();
    let (_, found) =
        send(cw(&app, &intruder, Method::GET, "/contacts/search").query(&[("q", "v@example.com")]))
            .await;
    assert_eq!(ids(&found), Vec::<i64>::new());
    let (_, shown) = get(&app, &victim, &format!("/contacts/{id}")).await;
    assert_eq!(shown["payload"]["name"], "Victim");
    assert_eq!(shown["payload"]["contact_inboxes"], json!([]));
    let (_, own_shown) = get(&app, &intruder, &format!("/contacts/{own}")).await;
    assert_eq!(own_shown["payload"]["contact_inboxes"], json!([]));
}

#[tokio::test]
async fn malformed_bodies_are_422s_naming_the_body_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let id = create(
        &app,
        &tenant,
        json!({"name": "Kept", "email": "kept@example.com"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let writes = [
        (Method::POST, "/contacts".to_owned()),
        (Method::PUT, format!("/contacts/{id}")),
        (Method::POST, "/contacts/filter".to_owned()),
        (Method::POST, format!("/contacts/{id}/labels")),
        (Method::POST, format!("/contacts/{id}/contact_inboxes")),
        (
            Method::POST,
            format!("/contacts/{id}/destroy_custom_attributes"),
        ),
        (Method::POST, "/actions/contact_merge".to_owned()),
    ];
    for (method, path) in writes {
        let (status, body) = send(
            cw(&app, &tenant, method.clone(), &path)
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {body}"
        );
        assert_eq!(
            body["attributes"],
            json!(["body"]),
            "{method} {path}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().starts_with("Body "),
            "{body}"
        );
    }
    let (status, body) = send(
        cw(&app, &tenant, Method::PUT, &format!("/contacts/{id}")).json(&json!({"blocked": "yes"})),
    )
    .await;
    assert_invalid(
        status,
        &body,
        "Blocked invalid type: string \"yes\", expected a boolean",
        "blocked",
    );
    let (_, shown) = get(&app, &tenant, &format!("/contacts/{id}")).await;
    assert_eq!(shown["payload"]["name"], "Kept");
    assert_eq!(shown["payload"]["blocked"], false);
    assert_eq!(count(&app, &tenant).await, 1);
    let (_, labels) = get(&app, &tenant, &format!("/contacts/{id}/labels")).await;
    assert_eq!(labels, json!({"payload": []}));
}
