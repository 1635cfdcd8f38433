//! The SalesChat dialect: each operation, each error code, both phone and date forms,
//! expiry, the assign rate limit on a controlled clock, round-robin, and cross-dialect
//! visibility.

use reqwest::{Method, RequestBuilder, StatusCode};
use roster_core::domain::Timestamp;
use serde_json::{json, Value};

use crate::helpers::{send, Tenant, TestApp};

fn sc(app: &TestApp, tenant: &Tenant, method: Method, path: &str) -> RequestBuilder {
    app.request(method, path).bearer_auth(&tenant.key)
}

/// Asserts a SalesChat error body with its code (and, for 422/409, the field named).
fn assert_sc_error(status: StatusCode, body: &Value, code: u64, field: Option<&str>) {
    assert_eq!(u64::from(status.as_u16()), code / 10_000, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(
        body["error_message"].is_string() && body["error_description"].is_string(),
        "{body}"
    );
    assert!(body["payload"].is_object(), "{body}");
    if let Some(field) = field {
        assert_eq!(body["payload"]["field"], field, "{body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
}

async fn admin_post(app: &TestApp, tenant: &Tenant, path: &str, body: Value) -> Value {
    let (status, response) = send(
        app.admin(
            Method::POST,
            &format!("/admin/v1/workspaces/{}{path}", tenant.id),
        )
        .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{response}");
    response
}

async fn create(app: &TestApp, tenant: &Tenant, body: Value) -> Value {
    let (status, response) = send(
        sc(
            app,
            tenant,
            Method::POST,
            &format!("/v2/org/{}/contact", tenant.id),
        )
        .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    response
}

#[tokio::test]
async fn create_accepts_both_phone_forms_and_both_date_forms() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    admin_post(
        &app,
        &tenant,
        "/governance-levels",
        json!({"id": "GL-1", "name": "Standard", "retention_days": 365}),
    )
    .await;
    let first = create(
        &app,
        &tenant,
        json!({"crm_id": "CRM-1", "phone_number": "+4917612345678", "opt_in_date": 1704067200,
               "first_name": "Ada", "last_name": "Lovelace", "governance_level_id": "GL-1",
               "is_inbound": true, "source": "CAMPAIGN"}),
    )
    .await;
    assert_eq!(first["id"], "1");
    assert_eq!(first["crm_id"], "CRM-1");
    assert_eq!(first["opt_in_date"], "2024-01-01T00:00:00.000000Z");
    assert_eq!(first["first_name"], "Ada");
    assert_eq!(first["last_name"], "Lovelace");
    assert_eq!(
        first["governance_level"],
        json!({"id": "GL-1", "name": "Standard"})
    );
    assert_eq!(
        first["is_expired"], true,
        "opted in 2024 with a one-year retention"
    );
    assert_eq!(first["expiry_ts"], "2024-12-31T00:00:00.000000Z");
    assert_eq!(first["phone_number"], "+4917612345678");
    assert!(Timestamp::parse_rfc3339(first["create_date"].as_str().unwrap()).is_ok());

    let second = create(
        &app,
        &tenant,
        json!({"crm_id": "CRM-2", "opt_in_date": "2024-01-01T01:00:00+01:00",
               "phone_number": {"countryCode": 44, "nationalNumber": 7911123456u64, "countryCodeSource": "FROM_NUMBER_WITH_PLUS_SIGN"}}),
    )
    .await;
    assert_eq!(second["phone_number"], "+447911123456");
    assert_eq!(second["opt_in_date"], "2024-01-01T00:00:00.000000Z");
    assert_eq!(second["governance_level"], Value::Null);
    assert_eq!(second["is_expired"], false, "no level, no expiry");
    let third = create(
        &app,
        &tenant,
        json!({"crm_id": "CRM-3", "phone_number": "+447911123456", "opt_in_date": "1704067200"}),
    )
    .await;
    assert_eq!(third["opt_in_date"], "2024-01-01T00:00:00.000000Z");
}

#[tokio::test]
async fn invalid_creates_are_422_naming_the_field_and_duplicates_409() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let valid =
        json!({"crm_id": "C1", "phone_number": "+4917612345678", "opt_in_date": 1704067200});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        (without("crm_id"), "crm_id"),
        (without("phone_number"), "phone_number"),
        (without("opt_in_date"), "opt_in_date"),
        (with("crm_id", json!("x".repeat(129))), "crm_id"),
        (with("crm_id", json!(42)), "crm_id"),
        (with("first_name", json!("Ada*")), "first_name"),
        (with("last_name", json!("y".repeat(129))), "last_name"),
        (with("phone_number", json!("0176 1234")), "phone_number"),
        (
            with("phone_number", json!({"countryCode": 49})),
            "phone_number",
        ),
        (with("opt_in_date", json!("last tuesday")), "opt_in_date"),
        (with("source", json!("EMAIL")), "source"),
        (with("is_inbound", json!("yes")), "is_inbound"),
    ];
    // A level that does not exist is a reference, with a code of its own.
    let (status, response) = send(
        sc(
            &app,
            &tenant,
            Method::POST,
            &format!("/v2/org/{}/contact", tenant.id),
        )
        .json(&with("governance_level_id", json!("nope"))),
    )
    .await;
    assert_sc_error(status, &response, 4220002, Some("governance_level_id"));
    assert_eq!(response["error_message"], "UNKNOWN_REFERENCE");
    for (body, field) in cases {
        let (status, response) = send(
            sc(
                &app,
                &tenant,
                Method::POST,
                &format!("/v2/org/{}/contact", tenant.id),
            )
            .json(&body),
        )
        .await;
        assert_sc_error(status, &response, 4220001, Some(field));
    }
    let (status, response) = send(
        sc(
            &app,
            &tenant,
            Method::POST,
            &format!("/v2/org/{}/contact", tenant.id),
        )
        .body("{not json"),
    )
    .await;
    assert_sc_error(status, &response, 4220001, Some("body"));

    create(&app, &tenant, valid.clone()).await;
    let (status, response) = send(
        sc(
            &app,
            &tenant,
            Method::POST,
            &format!("/v2/org/{}/contact", tenant.id),
        )
        .json(&valid),
    )
    .await;
    assert_sc_error(status, &response, 4090001, Some("crm_id"));
    // A different crm_id may share the phone number.
    create(&app, &tenant, with("crm_id", json!("C2"))).await;
}

#[tokio::test]
async fn update_changes_crm_id_and_names() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    create(&app, &tenant, json!({"crm_id": "A", "phone_number": "+4917612345678", "opt_in_date": 1704067200, "first_name": "Ada"})).await;
    create(
        &app,
        &tenant,
        json!({"crm_id": "B", "phone_number": "+4917612345678", "opt_in_date": 1704067200}),
    )
    .await;
    let path = format!("/v1/orgs/{}/contact/1", tenant.id);
    let (status, updated) = send(
        sc(&app, &tenant, Method::PUT, &path)
            .json(&json!({"crm_id": "A2", "last_name": "Lovelace"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            updated["crm_id"].as_str(),
            updated["first_name"].as_str(),
            updated["last_name"].as_str()
        ),
        (Some("A2"), Some("Ada"), Some("Lovelace"))
    );
    assert_eq!(updated["opt_in_date"], "2024-01-01T00:00:00.000000Z");

    let (status, body) =
        send(sc(&app, &tenant, Method::PUT, &path).json(&json!({"first_name": "x"}))).await;
    assert_sc_error(status, &body, 4220001, Some("crm_id"));
    let (status, body) =
        send(sc(&app, &tenant, Method::PUT, &path).json(&json!({"crm_id": "B"}))).await;
    assert_sc_error(status, &body, 4090001, Some("crm_id"));
    let (status, body) = send(
        sc(
            &app,
            &tenant,
            Method::PUT,
            &format!("/v1/orgs/{}/contact/99", tenant.id),
        )
        .json(&json!({"crm_id": "Z"})),
    )
    .await;
    assert_sc_error(status, &body, 4040001, None);
    let (status, body) = send(
        sc(
            &app,
            &tenant,
            Method::PUT,
            &format!("/v1/orgs/{}/contact/abc", tenant.id),
        )
        .json(&json!({"crm_id": "Z"})),
    )
    .await;
    assert_sc_error(status, &body, 4040001, None);
}

#[tokio::test]
async fn disposition_is_stored_and_its_history_is_listed_by_the_admin_api() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    create(
        &app,
        &tenant,
        json!({"crm_id": "A", "phone_number": "+4917612345678", "opt_in_date": 1704067200}),
    )
    .await;
    let path = format!("/v2/orgs/{}/contact/1/disposition", tenant.id);
    let (status, body) = send(
        sc(&app, &tenant, Method::PUT, &path)
            .json(&json!({"stage": "QUALIFIED", "disposition": "interested", "additionalFields": {"budget": {"amount": 5000}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_string(), "a string body: {body}");
    let (status, _) =
        send(sc(&app, &tenant, Method::PUT, &path).json(&json!({"stage": "WON"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        send(sc(&app, &tenant, Method::PUT, &path).json(&json!({"disposition": "x"}))).await;
    assert_sc_error(status, &body, 4220001, Some("stage"));
    let (status, body) = send(
        sc(&app, &tenant, Method::PUT, &path).json(&json!({"stage": "X", "additionalFields": [1]})),
    )
    .await;
    assert_sc_error(status, &body, 4220001, Some("additionalFields"));
    let (status, body) = send(
        sc(
            &app,
            &tenant,
            Method::PUT,
            &format!("/v2/orgs/{}/contact/9/disposition", tenant.id),
        )
        .json(&json!({"stage": "X"})),
    )
    .await;
    assert_sc_error(status, &body, 4040001, None);

    let (status, history) = send(app.admin(
        Method::GET,
        &format!(
            "/admin/v1/workspaces/{}/contacts/1/stage-history",
            tenant.id
        ),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (&history[0]["from_stage"], &history[0]["to_stage"]),
        (&Value::Null, &json!("QUALIFIED"))
    );
    assert_eq!(
        (&history[1]["from_stage"], &history[1]["to_stage"]),
        (&json!("QUALIFIED"), &json!("WON"))
    );
    assert_eq!(history[0]["disposition"], "interested");
    assert!(history[0]["changed_by_key_id"].is_i64());
    assert!(history[1]["at"].as_str() > history[0]["at"].as_str());
}

#[tokio::test]
async fn get_by_phone_returns_every_contact_with_the_number_and_its_expiry() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    admin_post(
        &app,
        &tenant,
        "/governance-levels",
        json!({"id": "short", "name": "Short", "retention_days": 30}),
    )
    .await;
    let opt_in = app.clock_seconds() - 20 * 86_400;
    create(&app, &tenant, json!({"crm_id": "A", "phone_number": "+4917612345678", "opt_in_date": opt_in, "governance_level_id": "short"})).await;
    create(
        &app,
        &tenant,
        json!({"crm_id": "B", "phone_number": "+49 176 1234 5678", "opt_in_date": opt_in}),
    )
    .await;
    create(
        &app,
        &tenant,
        json!({"crm_id": "C", "phone_number": "+447911123456", "opt_in_date": opt_in}),
    )
    .await;

    for path_phone in ["+4917612345678", "%2B4917612345678"] {
        let (status, found) = send(sc(
            &app,
            &tenant,
            Method::GET,
            &format!("/v2/org/{}/contact/pn/{path_phone}", tenant.id),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let found = found.as_array().unwrap();
        let crm_ids: Vec<&str> = found
            .iter()
            .map(|c| c["crm_id"].as_str().unwrap())
            .collect();
        assert_eq!(crm_ids, ["A", "B"]);
        assert_eq!(found[0]["is_expired"], false);
        let expiry = Timestamp::parse_rfc3339(found[0]["expiry_ts"].as_str().unwrap()).unwrap();
        assert_eq!(expiry.unix_seconds(), opt_in + 30 * 86_400);
        assert_eq!(found[1]["expiry_ts"], Value::Null);
    }
    // Eleven days later the 30-day retention has run out.
    app.clock.advance_secs(11 * 86_400);
    let (_, found) = send(sc(
        &app,
        &tenant,
        Method::GET,
        &format!("/v2/org/{}/contact/pn/+4917612345678", tenant.id),
    ))
    .await;
    assert_eq!(found[0]["is_expired"], true);
    assert_eq!(found[1]["is_expired"], false);

    let (status, none) = send(sc(
        &app,
        &tenant,
        Method::GET,
        &format!("/v2/org/{}/contact/pn/+14155552671", tenant.id),
    ))
    .await;
    assert_eq!((status, none), (StatusCode::OK, json!([])));
    for bad in ["4917612345678", "+49%20176", "0176123"] {
        let (status, body) = send(sc(
            &app,
            &tenant,
            Method::GET,
            &format!("/v2/org/{}/contact/pn/{bad}", tenant.id),
        ))
        .await;
        assert_sc_error(status, &body, 4220001, Some("phoneNumber"));
    }
}

#[tokio::test]
async fn assign_picks_the_user_or_the_next_group_member_and_is_rate_limited() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for user in ["alice", "bob"] {
        admin_post(&app, &tenant, "/users", json!({"id": user, "name": user})).await;
    }
    admin_post(
        &app,
        &tenant,
        "/groups",
        json!({"id": "sales", "name": "Sales", "members": ["alice", "bob"]}),
    )
    .await;
    for i in 0..4 {
        create(&app, &tenant, json!({"crm_id": format!("C{i}"), "phone_number": "+4917612345678", "opt_in_date": 1704067200})).await;
    }
    let assign = |contact: u32, body: Value| {
        sc(
            &app,
            &tenant,
            Method::POST,
            &format!("/v3/orgs/{}/contacts/{contact}/assign", tenant.id),
        )
        .json(&body)
    };

    let mut picked = Vec::new();
    for contact in 1..=3 {
        let (status, body) = send(assign(
            contact,
            json!({"group_id": "sales", "remote_waba_id": "w1", "remote_phone_id": "p1"}),
        ))
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        picked.push(body["user_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(picked, ["alice", "bob", "alice"]);

    let (status, body) = send(assign(
        4,
        json!({"user_id": "bob", "group_id": "sales", "assign_on_handover": true}),
    ))
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (body["user_id"].as_str(), &body["group_id"]),
        (Some("bob"), &Value::Null),
        "user wins over group"
    );
    assert_eq!(body["assign_on_handover"], true);

    // Contact 4 was just assigned: within 10 s the next assign is refused.
    app.clock.advance_secs(4);
    let response = assign(4, json!({"user_id": "alice"})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "6");
    let body: Value = response.json().await.unwrap();
    assert_sc_error(StatusCode::TOO_MANY_REQUESTS, &body, 4290001, None);
    app.clock.advance_secs(6);
    let (status, body) = send(assign(4, json!({"user_id": "alice"}))).await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (StatusCode::ACCEPTED, Some("alice"))
    );

    app.clock.advance_secs(60);
    let (status, body) = send(assign(1, json!({"user_id": "carol"}))).await;
    assert_sc_error(status, &body, 4040001, None);
    let (status, body) = send(assign(1, json!({"group_id": "support"}))).await;
    assert_sc_error(status, &body, 4040001, None);
    let (status, body) = send(assign(1, json!({"remote_waba_id": "w"}))).await;
    assert_sc_error(status, &body, 4220001, Some("user_id"));
    let (status, body) = send(assign(99, json!({"user_id": "alice"}))).await;
    assert_sc_error(status, &body, 4040001, None);
    // Failed attempts did not count against the limit.
    let (status, _) = send(assign(1, json!({"user_id": "bob"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn keys_are_checked_for_org_and_permission() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let other = app.tenant().await;
    let body = json!({"crm_id": "A", "phone_number": "+4917612345678", "opt_in_date": 1704067200});
    let create_path = format!("/v2/org/{}/contact", tenant.id);

    let (status, response) = send(app.request(Method::POST, &create_path).json(&body)).await;
    assert_sc_error(status, &response, 4010001, None);
    let (status, response) = send(
        app.request(Method::POST, &create_path)
            .bearer_auth("rk_1_nope")
            .json(&body),
    )
    .await;
    assert_sc_error(status, &response, 4010001, None);
    let (status, response) = send(sc(&app, &other, Method::POST, &create_path).json(&body)).await;
    assert_sc_error(status, &response, 4030001, None);

    create(&app, &tenant, body.clone()).await;
    let member = Tenant {
        id: tenant.id,
        key: app.key_for(tenant.id, &["chatbots.contacts.get"]).await,
    };
    let (status, found) = send(sc(
        &app,
        &member,
        Method::GET,
        &format!("/v2/org/{}/contact/pn/+4917612345678", tenant.id),
    ))
    .await;
    assert_eq!(
        (status, found.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let writes = [
        (
            Method::POST,
            create_path.clone(),
            json!({"crm_id": "B", "phone_number": "+4917612345678", "opt_in_date": 1}),
        ),
        (
            Method::PUT,
            format!("/v1/orgs/{}/contact/1", tenant.id),
            json!({"crm_id": "B"}),
        ),
        (
            Method::PUT,
            format!("/v2/orgs/{}/contact/1/disposition", tenant.id),
            json!({"stage": "X"}),
        ),
        (
            Method::POST,
            format!("/v3/orgs/{}/contacts/1/assign", tenant.id),
            json!({"user_id": "u"}),
        ),
    ];
    for (method, path, body) in writes {
        let (status, response) = send(sc(&app, &member, method, &path).json(&body)).await;
        assert_sc_error(status, &response, 4030001, None);
    }
}

#[tokio::test]
async fn contacts_are_shared_with_the_chatcaptain_dialect() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let created = create(
        &app,
        &tenant,
        json!({"crm_id": "CRM-9", "phone_number": "+4917612345678", "opt_in_date": 1704067200, "first_name": "Ada", "last_name": "Lovelace"}),
    )
    .await;
    let (status, through_cc) = send(app.cc(
        &tenant,
        Method::GET,
        &format!("/contacts/{}", created["id"].as_str().unwrap()),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(through_cc["contact"]["name"], "Ada Lovelace");
    assert_eq!(through_cc["contact"]["phoneNumber"], "+4917612345678");

    let cc = app
        .create_contact(
            &tenant,
            json!({"name": "Max", "language": "EN", "phoneNumber": "+44 7911 123456"}),
        )
        .await;
    let (status, found) = send(sc(
        &app,
        &tenant,
        Method::GET,
        &format!("/v2/org/{}/contact/pn/+447911123456", tenant.id),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found[0]["id"], cc["id"]);
    assert_eq!(found[0]["crm_id"], Value::Null);
    assert_eq!(found[0]["create_date"], cc["created"]);
}

#[tokio::test]
async fn another_orgs_contacts_cannot_be_reached_by_id() {
    let app = TestApp::spawn().await;
    let mine = app.tenant().await;
    let theirs = app.tenant().await;
    admin_post(&app, &mine, "/users", json!({"id": "u", "name": "U"})).await;
    for i in 0..3 {
        create(&app, &theirs, json!({"crm_id": format!("T{i}"), "phone_number": "+4917612345678", "opt_in_date": 1704067200})).await;
    }
    let target = create(
        &app,
        &theirs,
        json!({"crm_id": "SECRET", "phone_number": "+447911123456", "opt_in_date": 1704067200}),
    )
    .await;
    let id = target["id"].as_str().unwrap();
    let attempts = [
        (
            Method::PUT,
            format!("/v1/orgs/{}/contact/{id}", mine.id),
            json!({"crm_id": "STOLEN"}),
        ),
        (
            Method::PUT,
            format!("/v2/orgs/{}/contact/{id}/disposition", mine.id),
            json!({"stage": "X"}),
        ),
        (
            Method::POST,
            format!("/v3/orgs/{}/contacts/{id}/assign", mine.id),
            json!({"user_id": "u"}),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, response) = send(sc(&app, &mine, method, &path).json(&body)).await;
        assert_sc_error(status, &response, 4040001, None);
    }
    let (status, found) = send(sc(
        &app,
        &mine,
        Method::GET,
        &format!("/v2/org/{}/contact/pn/+447911123456", mine.id),
    ))
    .await;
    assert_eq!((status, found), (StatusCode::OK, json!([])));
    let (_, theirs_found) = send(sc(
        &app,
        &theirs,
        Method::GET,
        &format!("/v2/org/{}/contact/pn/+447911123456", theirs.id),
    ))
    .await;
    assert_eq!(theirs_found[0]["crm_id"], "SECRET");
    let (_, history) = send(app.admin(
        Method::GET,
        &format!(
            "/admin/v1/workspaces/{}/contacts/{id}/stage-history",
            theirs.id
        ),
    ))
    .await;
    assert_eq!(history, json!([]));
}
