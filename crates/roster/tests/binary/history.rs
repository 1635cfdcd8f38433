//! A contact's history through the real binary, on SQLite and PostgreSQL: every change
//! from every dialect, the admin import, the CLI import, the admin token and the console's
//! merge is on record, oldest first, with who made it, through which API, and each field's
//! old and new value; it pages, it outlives a deletion, and it refuses bad parameters and
//! another workspace's contact.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::first_hour::{call, call_json, JSON};
use super::{cli, cli_key, cli_tenant, roster, Server, ADMIN_TOKEN};

#[tokio::test]
async fn every_change_is_on_record_with_who_and_through_which_api() {
    every_change_is_on_record(None).await;
}

#[tokio::test]
async fn every_change_is_on_record_on_postgresql() {
    let database = roster_store::testing::postgres().await;
    every_change_is_on_record(Some(database.database_url.as_str())).await;
}

/// A request that must succeed; its JSON answer.
async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Option<Value>) -> Value {
    let (status, answer) = call_json(method.clone(), url, headers, body).await;
    assert!(status.is_success(), "{method} {url}: {status} {answer}");
    answer
}

/// Every entry of a contact's history, fetched `page` at a time.
async fn history(base: &str, workspace: &str, contact: &str, page: u32) -> Vec<Value> {
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let mut entries = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "{base}/admin/v1/workspaces/{workspace}/contacts/{contact}/history?limit={page}&cursor={cursor}"
        );
        let answer = send(Method::GET, &url, &[("authorization", &admin)], None).await;
        let got = answer["entries"].as_array().unwrap();
        assert!(got.len() <= page as usize);
        entries.extend(got.iter().cloned());
        match answer["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return entries,
        }
    }
}

/// `(event, by, via, changed fields)` of each entry.
fn summary(entries: &[Value]) -> Vec<(String, Value, Value, Vec<String>)> {
    entries
        .iter()
        .map(|entry| {
            let mut fields: Vec<String> = entry["changes"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            fields.sort();
            (
                entry["event"].as_str().unwrap().to_owned(),
                entry["by"].clone(),
                entry["via"].clone(),
                fields,
            )
        })
        .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

async fn every_change_is_on_record(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), database_url, "History");
    let second = cli_key(
        dir.path(),
        database_url,
        &workspace,
        "second desk",
        &["*"],
        &[],
    );
    let second_key = second["key"].as_str().unwrap().to_owned();
    let keys = cli(
        dir.path(),
        database_url,
        &["key", "list", "--workspace", &workspace],
    );
    let key_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|listed| listed["name"] == "k")
        .unwrap()["id"]
        .clone();
    let (other_ws, other_key) = cli_tenant(dir.path(), database_url, "Elsewhere");
    let server = Server::start(dir.path(), database_url);
    let base = server.base.clone();
    let cc = format!("{base}/v1/chatbots/{workspace}");
    let cw = format!("{base}/api/v1/accounts/{workspace}");
    let cc_auth = [("x-chatcaptain-key", key.as_str())];
    let cw_auth = [("api_access_token", key.as_str())];
    let by_key = json!({"type": "key", "id": key_id, "name": "k"});

    // ChatCaptain creates and edits, Chatwoot renames and labels, SalesChat sets a stage.
    let created = send(
        Method::POST,
        &format!("{cc}/contacts"),
        &cc_auth,
        Some(json!({"name": "Ada Lovelace", "email": "ada@example.com", "language": "en"})),
    )
    .await;
    let id = created["contact"]["id"].as_str().unwrap().to_owned();
    let contact = format!("{cc}/contacts/{id}");
    send(
        Method::PATCH,
        &contact,
        &cc_auth,
        Some(json!({"contact": {"email": "ada@lovelace.example"}})),
    )
    .await;
    send(
        Method::PUT,
        &format!("{cw}/contacts/{id}"),
        &cw_auth,
        Some(json!({"name": "Augusta Ada King"})),
    )
    .await;
    send(
        Method::POST,
        &format!("{cw}/contacts/{id}/labels"),
        &cw_auth,
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    let sc_auth = format!("Bearer {key}");
    send(
        Method::PUT,
        &format!("{base}/v2/orgs/{workspace}/contact/{id}/disposition"),
        &[("authorization", &sc_auth)],
        Some(json!({"stage": "LEAD", "disposition": "interested"})),
    )
    .await;
    // The admin API's import and the CLI's, both matching by email.
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let (status, report) = call(
        Method::POST,
        &format!("{base}/admin/v1/workspaces/{workspace}/imports"),
        &[("authorization", &admin), ("content-type", "text/csv")],
        Some(b"email,phone\nada@lovelace.example,+44 20 7946 0000\n".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let file = dir.path().join("language.csv");
    std::fs::write(&file, "email,language\nada@lovelace.example,fr\n").unwrap();
    let mut command = roster(dir.path());
    if let Some(url) = database_url {
        command.env("ROSTER_DATABASE_URL", url);
    }
    let output = command
        .args(["import", "--workspace", &workspace, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The admin token in ChatCaptain's API, and a change that changes nothing (no entry).
    send(
        Method::PATCH,
        &contact,
        &[("authorization", &admin)],
        Some(json!({"contact": {"name": "Ada King"}})),
    )
    .await;
    send(
        Method::PATCH,
        &contact,
        &cc_auth,
        Some(json!({"contact": {"name": "Ada King"}})),
    )
    .await;

    let entries = history(&base, &workspace, &id, 3).await;
    let import = json!({"type": "import"});
    let admin_by = json!({"type": "admin"});
    assert_eq!(
        summary(&entries),
        vec![
            (
                "contact.created".to_owned(),
                by_key.clone(),
                json!("chatcaptain"),
                strings(&["display_name", "email", "language", "name"])
            ),
            (
                "contact.updated".into(),
                by_key.clone(),
                json!("chatcaptain"),
                strings(&["email"])
            ),
            (
                "contact.updated".into(),
                by_key.clone(),
                json!("chatwoot"),
                strings(&["display_name", "name"])
            ),
            (
                "contact.updated".into(),
                by_key.clone(),
                json!("chatwoot"),
                strings(&["labels"])
            ),
            (
                "contact.stage_changed".into(),
                by_key.clone(),
                json!("saleschat"),
                strings(&["disposition", "stage"])
            ),
            (
                "contact.updated".into(),
                import.clone(),
                json!("admin"),
                strings(&["phone"])
            ),
            (
                "contact.updated".into(),
                import.clone(),
                json!("cli"),
                strings(&["language"])
            ),
            (
                "contact.updated".into(),
                admin_by.clone(),
                json!("chatcaptain"),
                strings(&["display_name", "name"])
            ),
        ],
        "{entries:#?}"
    );
    // Each field's old and new value, as the admin view shows them.
    assert_eq!(
        entries[1]["changes"]["email"],
        json!({"old": "ada@example.com", "new": "ada@lovelace.example"})
    );
    assert_eq!(
        entries[3]["changes"]["labels"],
        json!({"old": [], "new": ["vip"]})
    );
    assert_eq!(entries[5]["changes"]["phone"]["new"], "+442079460000");
    assert!(entries
        .windows(2)
        .all(|pair| pair[0]["at"].as_str() <= pair[1]["at"].as_str()));
    assert_eq!(history(&base, &workspace, &id, 1000).await, entries);

    // Creates that are batched together (and one retried with an Idempotency-Key, which
    // runs in a task of its own) are each on record as their own key's.
    let mut creates = Vec::new();
    for n in 0..8 {
        let auth = match n % 2 {
            0 => key.clone(),
            _ => second_key.clone(),
        };
        let url = format!("{cc}/contacts");
        creates.push(tokio::spawn(async move {
            let idempotency = format!("history-{n}");
            let headers = [
                ("x-chatcaptain-key", auth.as_str()),
                ("content-type", JSON),
                ("idempotency-key", idempotency.as_str()),
            ];
            let body = json!({"name": format!("Batch {n}"), "language": "en"});
            let (status, answer) = call(
                Method::POST,
                &url,
                &headers,
                Some(body.to_string().into_bytes()),
            )
            .await;
            assert!(status.is_success(), "{answer}");
            (n, answer["contact"]["id"].as_str().unwrap().to_owned())
        }));
    }
    for create in creates {
        let (n, made) = create.await.unwrap();
        let entries = history(&base, &workspace, &made, 10).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        let name = match n % 2 {
            0 => "k",
            _ => "second desk",
        };
        assert_eq!(entries[0]["by"]["name"], name, "{entries:?}");
    }

    // The console's merge: the base's entry and the merged-away contact's, by the key.
    let mergee = send(
        Method::POST,
        &format!("{cc}/contacts"),
        &cc_auth,
        Some(json!({"name": "A. King", "language": "en", "telegramId": "tg-7"})),
    )
    .await;
    let mergee = mergee["contact"]["id"].as_str().unwrap().to_owned();
    let console_auth = format!("Bearer {key}");
    send(
        Method::POST,
        &format!("{base}/console/api/merges"),
        &[("authorization", &console_auth)],
        Some(json!({"base_contact_id": id.parse::<i64>().unwrap(), "mergee_contact_id": mergee.parse::<i64>().unwrap()})),
    )
    .await;
    let entries = history(&base, &workspace, &id, 100).await;
    let merged = entries.last().unwrap();
    assert_eq!(merged["event"], "contact.merged");
    assert_eq!(
        (&merged["by"], &merged["via"]),
        (&by_key, &json!("console"))
    );
    assert_eq!(
        merged["changes"]["channels"]["old"]["telegram"],
        json!(null)
    );
    assert_eq!(merged["changes"]["channels"]["new"]["telegram"], "tg-7");
    let gone = history(&base, &workspace, &mergee, 100).await;
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert_eq!(gone[1]["event"], "contact.merged");
    assert_eq!(
        gone[1]["changes"]["merged_into"]["new"],
        json!(id.parse::<i64>().unwrap())
    );

    // While she exists, her export holds her record and stage history too.
    let alive = format!("{base}/admin/v1/workspaces/{workspace}/contacts/{id}/export");
    let exported = send(Method::GET, &alive, &[("authorization", &admin)], None).await;
    assert_eq!(exported["contact"]["name"], "Ada King");
    assert_eq!(exported["contact"]["labels"], json!(["vip"]));
    assert_eq!(exported["stage_history"][0]["to_stage"], "LEAD");

    // A deletion is on record with the values it removed, and the history stays.
    send(Method::DELETE, &contact, &cc_auth, None).await;
    let entries = history(&base, &workspace, &id, 100).await;
    let deleted = entries.last().unwrap();
    assert_eq!(deleted["event"], "contact.deleted");
    assert_eq!(
        deleted["changes"]["name"],
        json!({"old": "Ada King", "new": null})
    );

    // Her export: everything Roster still holds about her, through the admin API and the
    // CLI alike; the record is gone, the rest stays.
    let export = format!("{base}/admin/v1/workspaces/{workspace}/contacts/{id}/export");
    let exported = send(Method::GET, &export, &[("authorization", &admin)], None).await;
    assert_eq!(exported["contact"], Value::Null);
    assert_eq!(exported["contact_id"].to_string(), id);
    assert_eq!(exported["history"], json!(entries));
    let kinds = |list: &Value, field: &str| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|item| item[field].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(&exported["events"], "type"),
        kinds(&exported["history"], "event")
    );
    // Her stage history went with her record (as SalesChat's does).
    assert_eq!(exported["stage_history"], json!([]));
    assert_eq!(
        exported["merges"][0]["mergee_contact_id"].to_string(),
        mergee
    );
    let mut by_cli = cli(
        dir.path(),
        database_url,
        &[
            "contact",
            "export",
            "--workspace",
            &workspace,
            "--contact",
            &id,
        ],
    );
    let mut by_api = exported.clone();
    by_cli.as_object_mut().unwrap().remove("exported");
    by_api.as_object_mut().unwrap().remove("exported");
    assert_eq!(by_cli, by_api);
    let (status, _) = call(
        Method::GET,
        &format!("{base}/admin/v1/workspaces/{workspace}/contacts/999999/export"),
        &[("authorization", &admin)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad parameters, unknown contacts and another workspace's contact.
    let elsewhere = send(
        Method::POST,
        &format!("{base}/v1/chatbots/{other_ws}/contacts"),
        &[("x-chatcaptain-key", other_key.as_str())],
        Some(json!({"name": "Hidden", "language": "en"})),
    )
    .await;
    let elsewhere = elsewhere["contact"]["id"].as_str().unwrap().to_owned();
    let admin_api = format!("{base}/admin/v1/workspaces/{workspace}/contacts");
    for (url, wanted, field) in [
        (
            format!("{admin_api}/{id}/history?limit=0"),
            400,
            Some("limit"),
        ),
        (
            format!("{admin_api}/{id}/history?limit=1001"),
            400,
            Some("limit"),
        ),
        (
            format!("{admin_api}/{id}/history?cursor=abc"),
            400,
            Some("cursor"),
        ),
        (
            format!("{base}/admin/v1/workspaces/{other_ws}/contacts/{mergee}/history"),
            404,
            None,
        ),
        (format!("{admin_api}/999999/history"), 404, None),
        (format!("{admin_api}/abc/history"), 404, None),
        (format!("{admin_api}/abc/export"), 404, None),
        (
            format!("{base}/admin/v1/workspaces/{other_ws}/contacts/{mergee}/export"),
            404,
            None,
        ),
        (
            format!("{base}/admin/v1/workspaces/999999/contacts/{id}/export"),
            404,
            None,
        ),
    ] {
        let (status, answer) = call(Method::GET, &url, &[("authorization", &admin)], None).await;
        assert_eq!(status.as_u16(), wanted, "{url}: {answer}");
        if let Some(field) = field {
            assert!(
                answer["error"].as_str().unwrap().starts_with(field),
                "{answer}"
            );
        }
    }
    // Contact ids count per workspace: the other workspace's contact with Ada's id has a
    // history of its own.
    let theirs = history(&base, &other_ws, &elsewhere, 100).await;
    assert_eq!(summary(&theirs).len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["changes"]["name"]["new"], "Hidden");
    let (status, _) = call(
        Method::GET,
        &format!("{admin_api}/{id}/history"),
        &[("authorization", &console_auth)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a key is no admin");
}
