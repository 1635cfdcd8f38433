//! Merging contacts of any dialect through the admin API, on SQLite and PostgreSQL: the
//! preview says what the merge will make, move and drop and changes nothing; the merge makes
//! exactly that; the merged-away contact is gone from every dialect, and the admin API says
//! where it went; bad requests change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::first_hour::call_json as send;
use super::{cli_tenant, Server, ADMIN_TOKEN};

#[tokio::test]
async fn a_previewed_merge_is_the_merge_and_the_mergee_is_gone_everywhere() {
    previewed_merge(None).await;
}

#[tokio::test]
async fn a_previewed_merge_is_the_merge_on_postgresql() {
    let database = roster_store::testing::postgres().await;
    previewed_merge(Some(database.database_url.as_str())).await;
}

/// A contact view without what a write stamps (`updated`).
fn settled(mut view: Value) -> Value {
    view.as_object_mut().unwrap().remove("updated");
    view
}

async fn previewed_merge(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), database_url, "Merges");
    let server = Server::start(dir.path(), database_url);
    let base = server.base.clone();
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let admin_auth = [("authorization", admin.as_str())];
    let cc = format!("{base}/v1/chatbots/{workspace}");
    let cw = format!("{base}/api/v1/accounts/{workspace}");

    // The same person twice: by ChatCaptain (web chat) and by Chatwoot (email, labelled).
    let (status, created) = send(
        Method::POST,
        &format!("{cc}/contacts"),
        &[("x-chatcaptain-key", &key)],
        Some(json!({"name": "Grace Hopper", "email": "grace@navy.example", "webId": "web-17", "language": "en"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let first = created["contact"]["id"].as_str().unwrap().to_owned();
    let (status, created) = send(
        Method::POST,
        &format!("{cw}/contacts"),
        &[("api_access_token", &key)],
        Some(json!({"name": "G. Hopper", "email": "grace@cobol.example", "phone_number": "+14155550123", "custom_attributes": {"rank": "admiral"}})),
    )
    .await;
    assert!(status.is_success(), "{created}");
    let second = created["payload"]["contact"]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let (status, labelled) = send(
        Method::POST,
        &format!("{cw}/contacts/{second}/labels"),
        &[("api_access_token", &key)],
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    assert!(status.is_success(), "{labelled}");

    let ids = json!({"base_contact_id": first.parse::<i64>().unwrap(), "mergee_contact_id": second.parse::<i64>().unwrap()});
    let merges = format!("{base}/admin/v1/workspaces/{workspace}/merges");
    let (status, preview) = send(
        Method::POST,
        &format!("{merges}/preview"),
        &admin_auth,
        Some(ids.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    // What moves: the phone, the label, the attribute; what conflicts: the two emails
    // (the base keeps its own) and the names.
    assert_eq!(preview["moves"]["phone"], "+14155550123", "{preview}");
    assert_eq!(preview["moves"]["labels"], json!(["vip"]), "{preview}");
    assert_eq!(
        preview["moves"]["custom_attributes"],
        json!({"rank": "admiral"})
    );
    let conflicts: Vec<&str> = preview["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conflict| conflict["field"].as_str().unwrap())
        .collect();
    assert!(conflicts.contains(&"email"), "{preview}");
    let email = preview["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|conflict| conflict["field"] == "email")
        .unwrap();
    assert_eq!(
        (&email["kept"], &email["dropped"]),
        (&json!("grace@navy.example"), &json!("grace@cobol.example"))
    );
    // A preview changes nothing.
    let mergee_url = format!("{base}/admin/v1/workspaces/{workspace}/contacts/{second}");
    let (status, _) = send(Method::GET, &mergee_url, &admin_auth, None).await;
    assert_eq!(status, StatusCode::OK);

    // Refused merges change nothing either.
    for (body, wanted, field) in [
        (
            json!({"base_contact_id": ids["base_contact_id"], "mergee_contact_id": ids["base_contact_id"]}),
            400,
            Some("mergee_contact_id"),
        ),
        (
            json!({"base_contact_id": ids["base_contact_id"], "mergee_contact_id": 999_999}),
            404,
            None,
        ),
        (
            json!({"base_contact_id": 0, "mergee_contact_id": 1}),
            404,
            None,
        ),
        (
            json!({"base_contact_id": "one", "mergee_contact_id": 2}),
            400,
            Some("base_contact_id"),
        ),
        (
            json!({"base_contact_id": 1, "mergee_contact_id": 2, "why": "x"}),
            400,
            None,
        ),
    ] {
        for url in [format!("{merges}/preview"), merges.clone()] {
            let (status, answer) = send(Method::POST, &url, &admin_auth, Some(body.clone())).await;
            assert_eq!(status.as_u16(), wanted, "{url} {body}: {answer}");
            if let Some(field) = field {
                assert!(
                    answer["error"].as_str().unwrap().starts_with(field),
                    "{answer}"
                );
            }
        }
    }
    let (status, _) = send(
        Method::POST,
        &merges,
        &[("authorization", "Bearer nope")],
        Some(ids.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A body that is no JSON at all is refused too.
    for url in [format!("{merges}/preview"), merges.clone()] {
        let (status, answer) = super::first_hour::call(
            Method::POST,
            &url,
            &[
                ("authorization", admin.as_str()),
                ("content-type", "application/json"),
            ],
            Some(b"{\"base_contact_id\": ".to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (_, listed) = send(Method::GET, &merges, &admin_auth, None).await;
    assert_eq!(listed, json!([]), "a refused merge left a record");

    // The merge makes what the preview showed.
    let (status, merged) = send(Method::POST, &merges, &admin_auth, Some(ids.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{merged}");
    assert_eq!(merged["base_contact_id"], ids["base_contact_id"]);
    assert_eq!(merged["mergee_contact_id"], ids["mergee_contact_id"]);
    assert!(merged["id"].as_i64().unwrap() > 0);
    assert_eq!(
        settled(merged["contact"].clone()),
        settled(preview["contact"].clone())
    );
    assert_eq!(
        (&merged["moves"], &merged["conflicts"]),
        (&preview["moves"], &preview["conflicts"])
    );
    let base_url = format!("{base}/admin/v1/workspaces/{workspace}/contacts/{first}");
    let (_, now) = send(Method::GET, &base_url, &admin_auth, None).await;
    assert_eq!(settled(now), settled(preview["contact"].clone()));
    let (_, listed) = send(Method::GET, &merges, &admin_auth, None).await;
    assert_eq!(listed[0]["id"], merged["id"]);

    // The merged-away contact is gone from every dialect; the admin API says where to.
    let (status, gone) = send(Method::GET, &mergee_url, &admin_auth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["merged_into"], ids["base_contact_id"], "{gone}");
    assert_eq!(
        gone["error"],
        format!("contact: was merged into contact {first}")
    );
    for (url, auth) in [
        (
            format!("{cc}/contacts/{second}"),
            ("x-chatcaptain-key", key.as_str()),
        ),
        (
            format!("{cw}/contacts/{second}"),
            ("api_access_token", key.as_str()),
        ),
    ] {
        let (status, answer) = send(Method::GET, &url, &[auth], None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {answer}");
    }
    let sc_auth = format!("Bearer {key}");
    let (status, answer) = send(
        Method::PUT,
        &format!("{base}/v1/orgs/{workspace}/contact/{second}"),
        &[("authorization", &sc_auth)],
        Some(json!({"crm_id": "crm-1", "first_name": "Grace"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // SalesChat finds the phone on the base alone.
    let (status, found) = send(
        Method::GET,
        &format!("{base}/v2/org/{workspace}/contact/pn/+14155550123"),
        &[("authorization", &sc_auth)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let found: Vec<String> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|contact| contact["id"].to_string().trim_matches('"').to_owned())
        .collect();
    assert_eq!(found, std::slice::from_ref(&first), "{found:?}");
    // Merging it again is a merge of no contact.
    let (status, _) = send(Method::POST, &merges, &admin_auth, Some(ids)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
