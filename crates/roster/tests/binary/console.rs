//! The web console through the real binary, in real headless Chromium (Debian's
//! `chromium`, driven by `playwright-core`): `tests/console/console.test.mjs` signs in with
//! a key, finds a contact by a typo, corrects its email at the field, deletes it, does the
//! same with an organization and its members, and checks a read-only key, another
//! workspace's id and a wrong key.

use reqwest::Method;
use serde_json::{json, Value};

use super::first_hour::{call, JSON};
use super::{cli, cli_tenant, Server};

async fn create(base: &str, workspace: &str, key: &str, body: Value) -> String {
    let (status, created) = call(
        Method::POST,
        &format!("{base}/v1/chatbots/{workspace}/contacts"),
        &[("x-chatcaptain-key", key), ("content-type", JSON)],
        Some(body.to_string().into_bytes()),
    )
    .await;
    assert!(status.is_success(), "{created}");
    created["contact"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_console_finds_fixes_and_deletes_contacts() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "the browser tests need Chromium at {chromium} (Debian: apt-get install chromium)"
    );
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Console");
    let read_only = cli(
        dir.path(),
        None,
        &[
            "key",
            "create",
            "--workspace",
            &workspace,
            "--name",
            "reader",
            "--permission",
            "chatbots.contacts.list",
            "--permission",
            "chatbots.contacts.get",
        ],
    );
    let (other_ws, other_key) = cli_tenant(dir.path(), None, "Elsewhere");
    let server = Server::start(dir.path(), None);
    let base = server.base.clone();
    let (status, org) = call(
        Method::POST,
        &format!("{base}/v1/chatbots/{workspace}/organizations"),
        &[("x-chatcaptain-key", &key), ("content-type", JSON)],
        Some(
            json!({"name": "Analytical Engines", "industry": "Computing"})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert!(status.is_success(), "{org}");
    let org = org["organization"]["id"].as_str().unwrap().to_owned();
    for (name, email, member) in [
        ("Ada Lovelace", "ada@example.com", true),
        ("Grace Hopper", "grace@example.com", true),
        ("Alan Turing", "alan@example.com", false),
    ] {
        let organizations = if member { vec![org.clone()] } else { vec![] };
        create(&base, &workspace, &key, json!({"name": name, "email": email, "language": "en", "organizationIds": organizations})).await;
    }
    let elsewhere = create(
        &base,
        &other_ws,
        &other_key,
        json!({"name": "Hidden", "language": "en"}),
    )
    .await;

    let tests = super::npm_installed("console");
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-contacts.png");
    let output = std::process::Command::new("node")
        .arg(tests.join("console.test.mjs"))
        .env("ROSTER_BASE", &base)
        .env("ROSTER_WORKSPACE", &workspace)
        .env("ROSTER_KEY", &key)
        .env("ROSTER_READ_KEY", read_only["key"].as_str().unwrap())
        .env("ROSTER_OTHER_CONTACT", &elsewhere)
        .env("ROSTER_ORGANIZATION", &org)
        .env("ROSTER_ADMIN_TOKEN", super::ADMIN_TOKEN)
        .env("ROSTER_SCREENSHOT", &screenshot)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("Node.js runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(screenshot.exists());
    // The facet filters the console's chips use: narrowed within the key's workspace only,
    // and bounded like any text.
    let search = |workspace: &str, key: &str, filter: String| {
        let url = format!("{base}/v1/chatbots/{workspace}/contacts/search?query=*&{filter}");
        let key = key.to_owned();
        async move {
            call(
                Method::GET,
                &url,
                &[("x-chatcaptain-key", key.as_str())],
                None,
            )
            .await
        }
    };
    let (_, mine) = search(&workspace, &key, "language=en".into()).await;
    let (_, theirs) = search(
        &other_ws,
        &other_key,
        "organization=Analytical%20Engines".into(),
    )
    .await;
    assert_eq!(theirs["results"]["found"], 0, "{theirs}");
    assert!(mine["results"]["found"].as_u64().unwrap() >= 2, "{mine}");
    let (status, refused) = search(&workspace, &key, format!("country={}", "x".repeat(256))).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    assert!(
        refused["error"].as_str().unwrap().starts_with("country"),
        "{refused}"
    );

    // Merges: never a contact with itself, never another workspace's, never by a key that
    // may not merge; a refused merge or any preview changes nothing.
    let merges = format!("{base}/console/api/merges");
    let full = format!("Bearer {key}");
    let reader_auth = format!("Bearer {}", read_only["key"].as_str().unwrap());
    let grace = {
        let url = format!("{base}/v1/chatbots/{workspace}/contacts/search?query=Grace");
        let (_, found) = call(Method::GET, &url, &[("x-chatcaptain-key", &key)], None).await;
        found["results"]["hits"][0]["contact"]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    for (auth, body, wanted) in [
        (
            &full,
            json!({"base_contact_id": grace, "mergee_contact_id": grace}),
            400,
        ),
        (
            &full,
            json!({"base_contact_id": grace, "mergee_contact_id": elsewhere.parse::<i64>().unwrap()}),
            404,
        ),
        (
            &reader_auth,
            json!({"base_contact_id": grace, "mergee_contact_id": grace + 1}),
            403,
        ),
        (&full, json!({"base_contact_id": "one"}), 400),
    ] {
        for url in [format!("{merges}/preview"), merges.clone()] {
            let (status, answer) = call(
                Method::POST,
                &url,
                &[("authorization", auth.as_str()), ("content-type", JSON)],
                Some(body.to_string().into_bytes()),
            )
            .await;
            assert_eq!(status.as_u16(), wanted, "{url} {body}: {answer}");
        }
    }
    let url = format!("{base}/v1/chatbots/{other_ws}/contacts/{elsewhere}");
    let (status, _) = call(
        Method::GET,
        &url,
        &[("x-chatcaptain-key", &other_key)],
        None,
    )
    .await;
    assert!(
        status.is_success(),
        "another workspace's contact is untouched"
    );

    // The console's key API: a key hands out only what it holds, and only if it may.
    let keys = format!("{base}/console/api/keys");
    let (status, _) = call(Method::GET, &keys, &[("authorization", &reader_auth)], None).await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    let manager = cli(
        dir.path(),
        None,
        &[
            "key",
            "create",
            "--workspace",
            &workspace,
            "--name",
            "manager",
            "--permission",
            "chatbots.contacts.*",
            "--permission",
            "chatbots.keys.manage",
        ],
    );
    let manager_auth = format!("Bearer {}", manager["key"].as_str().unwrap());
    let headers = [
        ("authorization", manager_auth.as_str()),
        ("content-type", JSON),
    ];
    let (status, refused) = call(
        Method::POST,
        &keys,
        &headers,
        Some(br#"{"name": "wider", "permissions": ["*"]}"#.to_vec()),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .starts_with("permissions: this key may not hand out *"));
    let (status, narrower) = call(
        Method::POST,
        &keys,
        &headers,
        Some(br#"{"name": "narrower", "permissions": ["chatbots.contacts.list"]}"#.to_vec()),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{narrower}");
    let (status, _) = call(
        Method::DELETE,
        &format!("{keys}/{}", read_only["id"]),
        &[("authorization", &format!("Bearer {other_key}"))],
        None,
    )
    .await;
    // Another workspace's key may manage keys, but only its own workspace's.
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let session = format!("{base}/console/api/session");
    let (status, _) = call(
        Method::GET,
        &session,
        &[("authorization", &reader_auth)],
        None,
    )
    .await;
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "the read-only key still works"
    );

    // Bad input to the console API: the field named, nothing made.
    for body in [
        &b"{\"name\": "[..],
        br#"{"name": 7, "permissions": []}"#,
        br#"{"name": "x", "colour": 1}"#,
    ] {
        let (status, answer) = call(Method::POST, &keys, &headers, Some(body.to_vec())).await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    for (url, wanted) in [
        (format!("{base}/console/api/contacts/abc"), 404),
        (format!("{base}/console/api/contacts/{elsewhere}"), 404),
        (format!("{base}/console/api/exports/everything"), 400),
    ] {
        let (status, answer) = call(Method::GET, &url, &[("authorization", &full)], None).await;
        assert_eq!(status.as_u16(), wanted, "{url}: {answer}");
    }

    // The key never reached the server's log.
    assert!(server.logged(&key).is_empty());
}
