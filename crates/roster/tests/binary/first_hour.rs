//! A new user's first hour, through the real binary: refused input answered in each
//! dialect's own error format (and changing nothing), pages past the end, imports that
//! refuse files and rows naming no contact, every list paged exactly once after a bulk
//! import, the admin view of everything the dialects wrote, and the health check's words.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cli_tenant, roster, Server, ADMIN_TOKEN};

pub(super) const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// One request on a fresh connection: `(status, JSON body or Null)`.
pub(super) async fn call(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `call` with a JSON body (and its content type).
pub(super) async fn call_json(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut with_type = headers.to_vec();
    with_type.push(("content-type", JSON));
    let body = body.map(|body| body.to_string().into_bytes());
    call(method, url, &with_type, body).await
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Value {
    let (status, body) = call(Method::GET, url, headers, None).await;
    assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
    body
}

async fn post_json(url: &str, headers: &[(&str, &str)], body: Value) -> Value {
    let mut headers = headers.to_vec();
    headers.push(("content-type", JSON));
    let (status, answer) = call(
        Method::POST,
        url,
        &headers,
        Some(body.to_string().into_bytes()),
    )
    .await;
    assert!(status.is_success(), "POST {url}: {status} {answer}");
    answer
}

fn admin() -> (&'static str, String) {
    ("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

/// Request headers as `(name, value)`.
type Headers = Vec<(&'static str, String)>;

/// The dialects' create endpoints with the headers that authenticate them.
struct Endpoints {
    cases: Vec<(&'static str, String, Headers)>,
}

impl Endpoints {
    fn new(base: &str, workspace: &str, key: &str) -> Self {
        let (admin_name, admin_value) = admin();
        Endpoints {
            cases: vec![
                (
                    "chatcaptain",
                    format!("{base}/v1/chatbots/{workspace}/contacts"),
                    vec![("x-chatcaptain-key", key.to_owned())],
                ),
                (
                    "chatwoot",
                    format!("{base}/api/v1/accounts/{workspace}/contacts"),
                    vec![("api_access_token", key.to_owned())],
                ),
                (
                    "saleschat",
                    format!("{base}/v2/org/{workspace}/contact"),
                    vec![("authorization", format!("Bearer {key}"))],
                ),
                (
                    "admin",
                    format!("{base}/admin/v1/workspaces/{workspace}/users"),
                    vec![(admin_name, admin_value)],
                ),
            ],
        }
    }
}

/// The sentence of an error body, whichever dialect's shape it has.
fn message(dialect: &str, body: &Value) -> String {
    let field = match dialect {
        "chatwoot" => body.get("message").or(body.get("error")),
        "saleschat" => body.get("error_description"),
        _ => body.get("error"),
    };
    field
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{dialect}: no message in {body}"))
        .to_owned()
}

#[tokio::test]
async fn refused_bodies_answer_in_each_dialects_format_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Bodies");
    let server = Server::start(dir.path(), None);
    let endpoints = Endpoints::new(&server.base, &workspace, &key);
    let oversized = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024 + 1));
    for (dialect, url, headers) in &endpoints.cases {
        let with = |content_type: &'static str| {
            let mut all: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            all.push(("content-type", content_type));
            all
        };
        let invalid = match *dialect {
            "chatcaptain" | "admin" => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };

        // Not an object: said in the API's words, naming the body.
        for body in ["[]", "\"Max\"", "{\"name\": "] {
            let (status, answer) = call(Method::POST, url, &with(JSON), Some(body.into())).await;
            assert_eq!(status, invalid, "{dialect} {body}: {answer}");
            let said = message(dialect, &answer);
            assert!(
                said.to_lowercase().contains("body")
                    && said.contains("must be a JSON object")
                    && !said.contains("struct")
                    && !said.contains("expected ident"),
                "{dialect} {body}: {said}"
            );
        }

        // A form body is never read as JSON.
        let (status, answer) = call(
            Method::POST,
            url,
            &with(FORM),
            Some(b"name=Max&email=max%40example.com".to_vec()),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{dialect}: {answer}"
        );
        assert!(
            message(dialect, &answer).contains("Content-Type: application/json"),
            "{dialect}: {answer}"
        );

        // Over the limit: 413 with the limit.
        let (status, answer) = call(
            Method::POST,
            url,
            &with(JSON),
            Some(oversized.clone().into_bytes()),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{dialect}: {answer}");
        assert!(
            message(dialect, &answer).contains("2097152 bytes"),
            "{dialect}: {answer}"
        );
        if *dialect == "saleschat" {
            assert_eq!(answer["error_code"], 4130001);
        }
    }

    // Chatwoot: a create with nothing to tell the contact apart is refused.
    let chatwoot = &endpoints.cases[1];
    for body in ["", "{}", "{\"custom_attributes\": {\"plan\": \"pro\"}}"] {
        let (status, answer) = call(
            Method::POST,
            &chatwoot.1,
            &[("api_access_token", &key), ("content-type", JSON)],
            Some(body.into()),
        )
        .await;
        assert_eq!(
            (status, &answer["attributes"]),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!(["name", "email", "phone_number", "identifier"])
            ),
            "{body:?}: {answer}"
        );
    }

    // Nothing was written by any of it.
    let contacts = get(
        &format!("{}/v1/chatbots/{workspace}/contacts", server.base),
        &[("x-chatcaptain-key", &key)],
    )
    .await;
    assert_eq!(contacts["contacts"], json!([]), "{contacts}");
    let (admin_name, admin_value) = admin();
    let users = get(
        &format!("{}/admin/v1/workspaces/{workspace}/users", server.base),
        &[(admin_name, &admin_value)],
    )
    .await;
    assert_eq!(users, json!([]));
}

#[tokio::test]
async fn paths_and_query_strings_that_do_not_decode_are_refused_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Params");
    let server = Server::start(dir.path(), None);
    let base = &server.base;
    let (admin_name, admin_value) = admin();
    let admin = [(admin_name, admin_value.as_str())];
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            format!("{base}/admin/v1/workspaces/%FF/keys"),
            admin.to_vec(),
            StatusCode::BAD_REQUEST,
            "path: is not a valid path",
        ),
        (
            format!("{base}/v1/chatbots/{workspace}/contacts?limit=%FF"),
            vec![("x-chatcaptain-key", key.as_str())],
            StatusCode::BAD_REQUEST,
            "limit: is not percent-encoded UTF-8.",
        ),
        (
            format!("{base}/v1/chatbots/{workspace}/contacts/%FF"),
            vec![("x-chatcaptain-key", key.as_str())],
            StatusCode::BAD_REQUEST,
            "path: is not a valid path",
        ),
        (
            format!("{base}/api/v1/accounts/{workspace}/contacts/search?q=%FF"),
            vec![("api_access_token", key.as_str())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "Q is not percent-encoded UTF-8",
        ),
    ];
    for (url, headers, expected, said) in cases {
        let (status, body) = call(Method::GET, &url, &headers, None).await;
        assert_eq!(status, expected, "{url}: {body}");
        let text = body
            .get("error")
            .or(body.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{url}: not a JSON error: {body}"));
        assert!(text.starts_with(said), "{url}: {text}");
    }
    // The admin import's query string too, before any of the file is read.
    let (status, body) = call(
        Method::POST,
        &format!("{base}/admin/v1/workspaces/{workspace}/imports?match=%FF"),
        &admin,
        Some(b"name\nAnn\n".to_vec()),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "match: is not percent-encoded UTF-8."})
        )
    );
}

async fn chatwoot_get(url: String, key: String) -> Value {
    get(&url, &[("api_access_token", &key)]).await
}

#[tokio::test]
async fn chatwoot_pages_past_the_end_are_empty_and_junk_pages_are_page_one() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Pages");
    let server = Server::start(dir.path(), None);
    let accounts = format!("{}/api/v1/accounts/{workspace}", server.base);
    let auth = [("api_access_token", key.as_str())];
    for i in 0..16 {
        post_json(
            &format!("{accounts}/contacts"),
            &auth,
            json!({"name": format!("Pager {i}"), "email": format!("pager{i}@example.com")}),
        )
        .await;
    }
    let page = |page: &str| chatwoot_get(format!("{accounts}/contacts?page={page}"), key.clone());
    let first = page("1").await;
    assert_eq!(first["payload"].as_array().unwrap().len(), 15);
    let second = page("2").await;
    assert_eq!(
        (&second["meta"], second["payload"].as_array().unwrap().len()),
        (&json!({"count": 16, "current_page": "2"}), 1)
    );
    for past in ["3", "99999999999999999999"] {
        let answer = page(past).await;
        assert_eq!(
            answer,
            json!({"meta": {"count": 16, "current_page": past}, "payload": []}),
            "page={past}"
        );
    }
    for junk in ["-1", "0", "abc", "1.5", ""] {
        let answer = page(junk).await;
        assert_eq!(
            answer["meta"],
            json!({"count": 16, "current_page": 1}),
            "{junk}"
        );
        assert_eq!(answer["payload"], first["payload"], "page={junk}");
    }
    // Search reads `page` the same way.
    let search = |page: &str| {
        chatwoot_get(
            format!("{accounts}/contacts/search?q=pager&page={page}"),
            key.clone(),
        )
    };
    // Search follows writes within a second (the index catches up in the background).
    let mut first_search = search("1").await;
    for _ in 0..50 {
        if first_search["meta"]["has_more"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        first_search = search("1").await;
    }
    assert_eq!(first_search["meta"]["has_more"], true, "{first_search}");
    assert_eq!(
        search("99999999999999999999").await,
        json!({"meta": {"count": 0, "current_page": "99999999999999999999", "has_more": false}, "payload": []})
    );
    let junk = search("-4").await;
    assert_eq!(
        junk["meta"],
        json!({"count": 15, "current_page": 1, "has_more": true})
    );

    // ChatCaptain's search says which pages there are.
    let (status, body) = call(
        Method::GET,
        &format!(
            "{}/v1/chatbots/{workspace}/contacts/search?query=pager&page=99999999999999999999",
            server.base
        ),
        &[("x-chatcaptain-key", &key)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("page: must be a whole number from 1 to 10000"),
        "{body}"
    );
}

#[tokio::test]
async fn imports_refuse_files_and_rows_that_name_no_contact() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, _) = cli_tenant(dir.path(), None, "Imports");
    let file = dir.path().join("unknown.csv");
    std::fs::write(&file, "foo,bar\n1,2\n3,4\n").unwrap();
    let output = roster(dir.path())
        .args(["import", "--workspace", &workspace, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("none of its columns (foo, bar) names a contact")
            && stderr.contains("email")
            && !stderr.contains("internal error"),
        "{stderr}"
    );

    let server = Server::start(dir.path(), None);
    let (admin_name, admin_value) = admin();
    let imports = format!("{}/admin/v1/workspaces/{workspace}/imports", server.base);
    let (status, body) = call(
        Method::POST,
        &imports,
        &[(admin_name, &admin_value)],
        Some(b"foo,bar\n1,2\n".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("none of its columns (foo, bar) names a contact"),
        "{body}"
    );

    // A row with nothing that identifies a contact is rejected; the others go in.
    let response = reqwest::Client::new()
        .post(&imports)
        .header(admin_name, &admin_value)
        .body("email,language,custom.plan\n,EN,pro\nann@example.com,EN,pro\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Vec<Value> = response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        report[0],
        json!({"line": 2, "outcome": "rejected", "reason": "has no name, email, phone, external id or channel id: nothing identifies the contact"})
    );
    assert_eq!(report[1]["outcome"], "created");
    assert_eq!(report[2]["summary"]["created"], 1);

    // Nothing of the refused files was written.
    let output = roster(dir.path())
        .args(["export", "--workspace", &workspace])
        .output()
        .unwrap();
    let exported = String::from_utf8(output.stdout).unwrap();
    assert_eq!(exported.lines().count(), 2, "{exported}");
}

/// Pages a ChatCaptain list with `limit` and the last record's `created` as the next
/// `pageToken`, as the README advises; returns the ids in order.
async fn chatcaptain_pages(url: &str, key: &str, wrapper: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1_000 {
        let mut page_url = format!("{url}?limit={limit}");
        if let Some(token) = &token {
            page_url.push_str(&format!("&pageToken={}", token.replace('+', "%2B")));
        }
        let page = get(&page_url, &[("x-chatcaptain-key", key)]).await;
        let records = page[wrapper].as_array().unwrap().clone();
        if records.is_empty() {
            return ids;
        }
        for record in &records {
            ids.push(record["id"].as_str().unwrap().to_owned());
        }
        token = records.last().unwrap()["created"]
            .as_str()
            .map(str::to_owned);
    }
    panic!("{url} never ended");
}

fn exactly_once(listed: &[String], expected: &BTreeSet<String>, what: &str) {
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "{what}: listed twice: {listed:?}"
    );
    assert_eq!(&unique, expected, "{what}");
}

#[tokio::test]
async fn every_list_of_every_dialect_pages_through_a_bulk_import_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Paging");
    let server = Server::start(dir.path(), None);
    let base = &server.base;
    let cc = format!("{base}/v1/chatbots/{workspace}");
    let cc_auth = [("x-chatcaptain-key", key.as_str())];
    let mut contacts = BTreeSet::new();
    let mut organizations = BTreeSet::new();

    // Written through the API...
    for i in 0..3 {
        let created = post_json(
            &format!("{cc}/contacts"),
            &cc_auth,
            json!({"name": format!("Api {i}"), "language": "EN"}),
        )
        .await;
        contacts.insert(created["contact"]["id"].as_str().unwrap().to_owned());
        let created = post_json(
            &format!("{cc}/organizations"),
            &cc_auth,
            json!({"name": format!("Api Org {i}")}),
        )
        .await;
        organizations.insert(created["organization"]["id"].as_str().unwrap().to_owned());
    }
    // ...by one CSV import creating 60 contacts and 12 organizations in one batch...
    let mut csv = String::from("name,email,organizations\n");
    for i in 0..60 {
        csv.push_str(&format!(
            "Imported {i},imported{i}@example.com,Org {}|Org {}\n",
            i % 12,
            (i + 5) % 12
        ));
    }
    let (admin_name, admin_value) = admin();
    let report = reqwest::Client::new()
        .post(format!("{base}/admin/v1/workspaces/{workspace}/imports"))
        .header(admin_name, &admin_value)
        .body(csv)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in report.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        if line["outcome"] == "created" {
            contacts.insert(line["id"].to_string());
        }
    }
    assert_eq!(contacts.len(), 63, "{report}");
    // ...and one Chatwoot merge.
    let cw = format!("{base}/api/v1/accounts/{workspace}");
    let cw_auth = [("api_access_token", key.as_str())];
    let mut ids = contacts.iter();
    let (base_id, mergee_id) = (ids.next().unwrap().clone(), ids.next().unwrap().clone());
    post_json(
        &format!("{cw}/actions/contact_merge"),
        &cw_auth,
        json!({"base_contact_id": base_id.parse::<i64>().unwrap(), "mergee_contact_id": mergee_id.parse::<i64>().unwrap()}),
    )
    .await;
    contacts.remove(&mergee_id);

    let listed = chatcaptain_pages(&format!("{cc}/organizations"), &key, "organizations", 2).await;
    // The import's 12 are the others of the 15 in the workspace.
    let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
    assert!(organizations.is_subset(&listed_set), "{listed:?}");
    organizations.extend(listed_set);
    assert_eq!(organizations.len(), 15, "{listed:?}");
    exactly_once(&listed, &organizations, "ChatCaptain organizations");

    let listed = chatcaptain_pages(&format!("{cc}/contacts"), &key, "contacts", 7).await;
    exactly_once(&listed, &contacts, "ChatCaptain contacts");

    // One imported organization's members: the rows that named it.
    let org_page = get(&format!("{cc}/organizations?limit=250"), &cc_auth).await;
    let org_zero = org_page["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Org 0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = chatcaptain_pages(
        &format!("{cc}/organizations/{org_zero}/contacts"),
        &key,
        "contacts",
        2,
    )
    .await;
    let count = get(
        &format!("{cc}/organizations/{org_zero}/contacts/count"),
        &cc_auth,
    )
    .await;
    let unique: BTreeSet<String> = members.iter().cloned().collect();
    assert_eq!(unique.len(), members.len(), "{members:?}");
    assert_eq!(count["count"], members.len() as u64, "{members:?}");
    assert_eq!(members.len(), 10);

    // Chatwoot's list and filter, 15 a page.
    for (what, method, path, body) in [
        ("Chatwoot list", Method::GET, "contacts", None),
        (
            "Chatwoot filter",
            Method::POST,
            "contacts/filter",
            Some(
                json!({"payload": [{"attribute_key": "name", "filter_operator": "contains", "values": ["i"], "query_operator": null}]}),
            ),
        ),
    ] {
        let mut listed = Vec::new();
        for page in 1..=10 {
            let (status, answer) = call(
                method.clone(),
                &format!("{cw}/{path}?page={page}"),
                &[("api_access_token", &key), ("content-type", JSON)],
                body.as_ref().map(|b| b.to_string().into_bytes()),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let payload = answer["payload"].as_array().unwrap();
            listed.extend(payload.iter().map(|c| c["id"].to_string()));
            if payload.len() < 15 {
                break;
            }
        }
        exactly_once(&listed, &contacts, what);
    }
}

#[tokio::test]
async fn the_admin_view_shows_what_every_dialect_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "View");
    let (other, other_key) = cli_tenant(dir.path(), None, "Other");
    let server = Server::start(dir.path(), None);
    let base = &server.base;
    let (admin_name, admin_value) = admin();
    let admin = [(admin_name, admin_value.as_str())];
    let admin_ws = format!("{base}/admin/v1/workspaces/{workspace}");
    post_json(
        &format!("{admin_ws}/governance-levels"),
        &admin,
        json!({"id": "GL-1", "name": "Standard", "retention_days": 30}),
    )
    .await;
    post_json(
        &format!("{admin_ws}/users"),
        &admin,
        json!({"id": "alice", "name": "Alice"}),
    )
    .await;
    post_json(
        &format!("{admin_ws}/groups"),
        &admin,
        json!({"id": "sales", "name": "Sales", "members": ["alice"]}),
    )
    .await;
    let inbox = post_json(
        &format!("{admin_ws}/inboxes"),
        &admin,
        json!({"name": "Web", "channel_type": "Channel::Api"}),
    )
    .await;

    // SalesChat creates the contact with its governance...
    let sc = format!("{base}/v2/org/{workspace}/contact");
    let sc_auth = format!("Bearer {key}");
    let created = post_json(
        &sc,
        &[("authorization", &sc_auth)],
        json!({"crm_id": "CRM-7", "phone_number": "+447911123456", "opt_in_date": "2026-01-01T00:00:00Z", "first_name": "Ada", "last_name": "Lovelace", "governance_level_id": "GL-1", "source": "CAMPAIGN"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    // ...ChatCaptain adds channel ids, an address, variables and an organization...
    let cc = format!("{base}/v1/chatbots/{workspace}");
    let org = post_json(
        &format!("{cc}/organizations"),
        &[("x-chatcaptain-key", &key)],
        json!({"name": "Analytical Engines"}),
    )
    .await["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, patched) = call(
        Method::PATCH,
        &format!("{cc}/contacts/{id}"),
        &[("x-chatcaptain-key", &key), ("content-type", JSON)],
        Some(
            json!({"contact": {"email": "ada@example.com", "language": "EN", "whatsappId": "447911123456", "webId": "visitor-9", "address": {"location": "London", "country": "GB"}, "variables": {"plan": "pro"}, "organizationIds": [org]}})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    // ...Chatwoot labels it and links it to an inbox...
    let cw = format!("{base}/api/v1/accounts/{workspace}/contacts/{id}");
    let cw_auth = [("api_access_token", key.as_str())];
    post_json(
        &format!("{cw}/labels"),
        &cw_auth,
        json!({"labels": ["vip", "lead"]}),
    )
    .await;
    post_json(
        &format!("{cw}/contact_inboxes"),
        &cw_auth,
        json!({"inbox_id": inbox["id"], "source_id": "web-ada"}),
    )
    .await;
    // ...and SalesChat sets a stage and assigns it through a group, on handover.
    let (status, _) = call(
        Method::PUT,
        &format!("{base}/v2/orgs/{workspace}/contact/{id}/disposition"),
        &[("authorization", &sc_auth), ("content-type", JSON)],
        Some(
            json!({"stage": "QUALIFIED", "disposition": "interested", "additionalFields": {"budget": "high"}})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    post_json(
        &format!("{base}/v3/orgs/{workspace}/contacts/{id}/assign"),
        &[("authorization", &sc_auth)],
        json!({"group_id": "sales", "assign_on_handover": true, "remote_waba_id": "waba-1"}),
    )
    .await;

    let view = get(&format!("{admin_ws}/contacts/{id}"), &admin).await;
    assert_eq!(view["id"].to_string(), id);
    assert_eq!(view["display_name"], "Ada Lovelace");
    assert_eq!(view["first_name"], "Ada");
    assert_eq!(view["email"], "ada@example.com");
    assert_eq!(view["phone"], "+447911123456");
    assert_eq!(view["external_id"], "CRM-7");
    assert_eq!(view["language"], "EN");
    assert_eq!(view["channels"]["whatsapp"], "447911123456");
    assert_eq!(view["channels"]["web"], "visitor-9");
    assert_eq!(view["channels"]["telegram"], Value::Null);
    assert_eq!(view["address"]["location"], "London");
    assert_eq!(view["custom_attributes"], json!({"plan": "pro"}));
    assert_eq!(
        view["organizations"],
        json!([{"id": org.parse::<i64>().unwrap(), "name": "Analytical Engines"}])
    );
    assert_eq!(view["labels"], json!(["lead", "vip"]));
    assert_eq!(view["inbox_links"][0]["source_id"], "web-ada");
    assert_eq!(view["inbox_links"][0]["channel_type"], "Channel::Api");
    assert_eq!(view["source"], "CAMPAIGN");
    assert_eq!(
        view["governance_level"],
        json!({"id": "GL-1", "name": "Standard", "retention_days": 30})
    );
    assert_eq!(view["expiry"], "2026-01-31T00:00:00.000000Z");
    assert_eq!(view["is_expired"], true);
    assert_eq!(view["stage"], "QUALIFIED");
    assert_eq!(view["disposition"], "interested");
    assert_eq!(view["disposition_fields"], json!({"budget": "high"}));
    let assignment = &view["assignment"];
    assert_eq!(assignment["user_id"], "alice");
    assert_eq!(assignment["group_id"], "sales");
    assert_eq!(assignment["pending_handover"], true);
    assert_eq!(assignment["remote_waba_id"], "waba-1");
    assert!(assignment["assigned_at"].is_string(), "{view}");

    // Another workspace's contact (ids count per workspace, so its third is not ours),
    // an unknown id and junk are 404s in the admin format.
    let mut other_contact = String::new();
    for name in ["One", "Two", "Three"] {
        other_contact = post_json(
            &format!("{base}/v1/chatbots/{other}/contacts"),
            &[("x-chatcaptain-key", &other_key)],
            json!({"name": name, "language": "EN"}),
        )
        .await["contact"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    assert_eq!(other_contact, "3");
    for missing in [other_contact.as_str(), "999999", "abc"] {
        let (status, body) = call(
            Method::GET,
            &format!("{admin_ws}/contacts/{missing}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({"error": "No such contact."})),
            "{missing}"
        );
    }
}

#[test]
fn healthcheck_against_a_stopped_server_says_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago and now has no listener.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let output = roster(dir.path())
        .args(["healthcheck", "--listen", &address])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!("roster: nothing answers at {address}: is `roster serve` running there? (connection refused)")
    );
}

#[tokio::test]
async fn the_docs_page_renders_the_admin_documents_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let page = reqwest::get(format!("{}/docs", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page
        .find("// markdown:start")
        .expect("the renderer is marked");
    let end = page
        .find("// markdown:end")
        .expect("the renderer is marked");
    let renderer = &page[start..end];
    let document = get(&format!("{}/openapi.json", server.base), &[]).await;
    let description = document["info"]["description"].as_str().unwrap();
    // The page's own renderer, run by Node.js on the served description and on input
    // that tries to inject markup.
    let render = |markdown: &str| {
        let script = format!(
            "{renderer}\nprocess.stdout.write(renderMarkdown({}));",
            serde_json::to_string(markdown).unwrap()
        );
        let output = std::process::Command::new("node")
            .args(["-e", &script])
            .output()
            .expect("node runs (Node.js is part of the test machine)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let html = render(description);
    assert!(
        html.contains("<code>Authorization: Bearer $ROSTER_ADMIN_TOKEN</code>"),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/openapi/chatcaptain.json">ChatCaptain</a>"#),
        "{html}"
    );
    assert!(!html.contains('`') && !html.contains("]("), "{html}");
    assert_eq!(
        render("Say <script>x</script> and [click](javascript:alert(1)).\n\n- one\n- **two**"),
        "<p>Say &lt;script&gt;x&lt;/script&gt; and [click](javascript:alert(1)).</p><ul><li>one</li><li><strong>two</strong></li></ul>"
    );
}

#[test]
fn reindex_beside_a_running_server_says_to_stop_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let output = roster(dir.path()).arg("reindex").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is in use by another roster process")
            && stderr.contains("stop it first")
            && !stderr.contains("internal error"),
        "{stderr}"
    );
    drop(server);
    let output = roster(dir.path()).arg("reindex").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Chatwoot's filter compares names and emails ignoring case beyond ASCII, the same on
/// both stores.
async fn chatwoot_filter_folds_unicode_case(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), database_url, "Unicode");
    let server = Server::start(dir.path(), database_url);
    let cw = format!("{}/api/v1/accounts/{workspace}/contacts", server.base);
    let auth = [("api_access_token", key.as_str())];
    for (name, email) in [
        ("ÖZTÜRK", "AYŞE.ÖZTÜRK@ÖRNEK.COM.TR"),
        ("ΣΟΦΊΑ", "sofia@example.gr"),
        ("Zoë", "zoe@example.com"),
    ] {
        post_json(&cw, &auth, json!({"name": name, "email": email})).await;
    }
    let filter = |key: &str, operator: &str, value: &str| json!({"payload": [{"attribute_key": key, "filter_operator": operator, "values": [value], "query_operator": null}]});
    for (body, expected) in [
        (filter("name", "equal_to", "öztürk"), vec!["ÖZTÜRK"]),
        (filter("name", "equal_to", "σοφία"), vec!["ΣΟΦΊΑ"]),
        (filter("name", "contains", "ZOË"), vec!["Zoë"]),
        (
            filter("email", "equal_to", "ayşe.öztürk@örnek.com.tr"),
            vec!["ÖZTÜRK"],
        ),
    ] {
        let answer = post_json(&format!("{cw}/filter"), &auth, body.clone()).await;
        let names: Vec<&str> = answer["payload"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{body}");
    }
}

#[tokio::test]
async fn chatwoot_filter_folds_unicode_case_on_sqlite() {
    chatwoot_filter_folds_unicode_case(None).await;
}

#[tokio::test]
async fn chatwoot_filter_folds_unicode_case_on_postgres() {
    let database = roster_store::testing::postgres().await;
    chatwoot_filter_folds_unicode_case(Some(database.database_url.as_str())).await;
}

/// Rewrites the payload of the index's last commit, as an interrupted first build, an
/// older Roster or a damaged file leaves it.
fn set_index_payload(data_dir: &std::path::Path, payload: Value) {
    let meta = data_dir.join("index").join("meta.json");
    let mut metas: Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    metas["payload"] = payload;
    std::fs::write(&meta, metas.to_string()).unwrap();
}

#[tokio::test]
async fn a_rebuild_at_start_logs_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Rebuilds");
    let server = Server::start(dir.path(), None);
    post_json(
        &format!("{}/v1/chatbots/{workspace}/contacts", server.base),
        &[("x-chatcaptain-key", &key)],
        json!({"name": "Still Found", "language": "EN"}),
    )
    .await;
    assert!(server.terminate().success());
    for (payload, reason) in [
        // What a build killed before its first commit leaves: a commit with no record.
        (
            Value::Null,
            "unfinished: an earlier build of the index was interrupted",
        ),
        (
            json!(r#"{"layout":1,"seq":3}"#),
            "older layout: written with index layout 1",
        ),
        (
            json!("{garbage"),
            "corrupt: its commit record does not parse",
        ),
    ] {
        set_index_payload(dir.path(), payload);
        let server = Server::start(dir.path(), None);
        let found = get(
            &format!(
                "{}/v1/chatbots/{workspace}/contacts/search?query=still",
                server.base
            ),
            &[("x-chatcaptain-key", &key)],
        )
        .await;
        assert_eq!(found["results"]["found"], 1, "{found}");
        let logged = server.logged("rebuilding the search index");
        assert!(
            logged.iter().any(|line| line.contains(reason)),
            "{reason}: {logged:?}"
        );
        assert!(
            !logged
                .iter()
                .any(|line| line.contains("another version") && !reason.starts_with("older")),
            "{logged:?}"
        );
        assert!(server.terminate().success());
    }
}

#[test]
fn shutdown_waits_for_an_import_whose_client_hung_up() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (workspace, _) = cli_tenant(dir.path(), None, "Hung up");
    let server = Server::start(dir.path(), None);
    let rows = 30_000;
    let mut csv = String::from("name,email\n");
    for i in 0..rows {
        csv.push_str(&format!("Row {i},row{i}@example.com\n"));
    }
    // Send the whole upload, then hang up without reading the answer.
    let mut stream =
        std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "POST /admin/v1/workspaces/{workspace}/imports HTTP/1.1\r\nHost: roster\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: {}\r\n\r\n{csv}",
        csv.len()
    )
    .unwrap();
    stream.flush().unwrap();
    // The server has the upload once it starts answering.
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stream, &mut first).unwrap();
    drop(stream);
    assert!(server.terminate().success());
    let output = roster(dir.path())
        .args(["export", "--workspace", &workspace])
        .output()
        .unwrap();
    let exported = String::from_utf8(output.stdout).unwrap();
    assert_eq!(exported.lines().count(), rows + 1, "every row was imported");
}

/// A write this node acknowledged is in its very next search: created records found,
/// changed ones by their new words only, deleted ones gone, counts in step.
#[tokio::test]
async fn a_search_right_after_a_write_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Read your writes");
    let server = Server::start(dir.path(), None);
    let cw = format!("{}/api/v1/accounts/{workspace}/contacts", server.base);
    let cc = format!("{}/v1/chatbots/{workspace}", server.base);
    let cw_auth = [("api_access_token", key.as_str())];
    let cc_auth = [("x-chatcaptain-key", key.as_str())];
    // Sixteen creates at once, then one search each way, without waiting.
    let creates = (0..16).map(|i| {
        let (cw, key) = (cw.clone(), key.clone());
        async move {
            post_json(
                &cw,
                &[("api_access_token", &key)],
                json!({"name": format!("searchable_contact {i}"), "email": format!("s{i}@example.com")}),
            )
            .await
        }
    });
    let created: Vec<Value> = futures_join_all(creates).await;
    let found = get(&format!("{cw}/search?q=searchable_contact"), &cw_auth).await;
    assert_eq!(found["meta"]["count"], 15, "{found}");
    assert_eq!(found["meta"]["has_more"], true);
    let found = get(
        &format!("{cc}/contacts/search?query=searchable_contact&pageSize=50"),
        &cc_auth,
    )
    .await;
    assert_eq!(found["results"]["found"], 16, "{found}");

    // A changed name is found by its new word, not its old one.
    let id = created[0]["payload"]["contact"]["id"].to_string();
    let (status, _) = call(
        Method::PUT,
        &format!("{cw}/{id}"),
        &[("api_access_token", &key), ("content-type", JSON)],
        Some(json!({"name": "Renamed Zebedee"}).to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let renamed = get(&format!("{cc}/contacts/search?query=zebedee"), &cc_auth).await;
    assert_eq!(renamed["results"]["found"], 1, "{renamed}");
    let old = get(
        &format!("{cc}/contacts/search?query=searchable_contact&pageSize=50"),
        &cc_auth,
    )
    .await;
    assert_eq!(old["results"]["found"], 15, "{old}");

    // A deleted one is gone; an organization is found at once too.
    let (status, _) = call(Method::DELETE, &format!("{cw}/{id}"), &cw_auth, None).await;
    assert_eq!(status, StatusCode::OK);
    let gone = get(&format!("{cc}/contacts/search?query=zebedee"), &cc_auth).await;
    assert_eq!(gone["results"]["found"], 0, "{gone}");
    post_json(
        &format!("{cc}/organizations"),
        &cc_auth,
        json!({"name": "Quixotic Widgets"}),
    )
    .await;
    let orgs = get(
        &format!("{cc}/organizations/search?query=quixotic"),
        &cc_auth,
    )
    .await;
    assert_eq!(orgs["results"]["found"], 1, "{orgs}");
}

async fn futures_join_all<F: std::future::Future<Output = Value> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<Value> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut values = Vec::new();
    for handle in handles {
        values.push(handle.await.unwrap());
    }
    values
}
