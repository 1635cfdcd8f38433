//! The web console through the real binary, in real headless Chromium (Debian's
//! `chromium`, driven by `playwright-core`): `tests/console/console.test.mjs` signs in with
//! a key, finds a contact by a typo, corrects its email at the field, deletes it, does the
//! same with an organization and its members, and checks a read-only key, another
//! workspace's id and a wrong key.

use reqwest::Method;
use serde_json::{json, Value};

use super::first_hour::{call, JSON};
use super::{cli, cli_key, cli_tenant, Server};

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
    let read_only = cli_key(
        dir.path(),
        None,
        &workspace,
        "reader",
        &["chatbots.contacts.list", "chatbots.contacts.get"],
        &[],
    );
    // Three requests an hour: the console says how long to wait.
    let limited = cli_key(
        dir.path(),
        None,
        &workspace,
        "limited",
        &["*"],
        &["--rate-limit", "3/h"],
    );
    let (other_ws, other_key) = cli_tenant(dir.path(), None, "Elsewhere");
    // The browser test's webhook receiver listens on 127.0.0.1.
    let server = Server::start_with(
        dir.path(),
        None,
        &[("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true")],
    );
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
    let mut grace = String::new();
    for (name, email, member) in [
        ("Ada Lovelace", "ada@example.com", true),
        ("Grace Hopper", "grace@example.com", true),
        ("Alan Turing", "alan@example.com", false),
    ] {
        let organizations = if member { vec![org.clone()] } else { vec![] };
        let id = create(&base, &workspace, &key, json!({"name": name, "email": email, "language": "en", "organizationIds": organizations})).await;
        if name == "Grace Hopper" {
            grace = id;
        }
    }
    // Grace moves through two SalesChat stages: her page lists them.
    for stage in ["LEAD", "QUALIFIED"] {
        let (status, answer) = call(
            Method::PUT,
            &format!("{base}/v2/orgs/{workspace}/contact/{grace}/disposition"),
            &[
                ("authorization", &format!("Bearer {key}")),
                ("content-type", JSON),
            ],
            Some(
                json!({"stage": stage, "disposition": "interested"})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
        assert!(status.is_success(), "{answer}");
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
        .env("ROSTER_LIMITED_KEY", limited["key"].as_str().unwrap())
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
    let grace = grace.parse::<i64>().unwrap();
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
        (format!("{base}/console/api/contacts/abc/history"), 404),
        (format!("{base}/console/api/contacts/999999/history"), 404),
        (
            format!("{base}/console/api/contacts/999999/stage-history"),
            404,
        ),
    ] {
        let (status, answer) = call(Method::GET, &url, &[("authorization", &full)], None).await;
        assert_eq!(status.as_u16(), wanted, "{url}: {answer}");
    }

    // The admin token acts in any workspace through ChatCaptain's API and the console's
    // (naming the workspace), in none that does not exist, and not in the other dialects.
    let admin = format!("Bearer {}", super::ADMIN_TOKEN);
    for (url, headers, wanted) in [
        (
            format!("{base}/v1/chatbots/{other_ws}/contacts/{elsewhere}"),
            vec![("authorization", admin.as_str())],
            200,
        ),
        (
            format!("{base}/v1/chatbots/999999/contacts/{elsewhere}"),
            vec![("authorization", admin.as_str())],
            404,
        ),
        (
            format!("{base}/v1/chatbots/{other_ws}/contacts/{elsewhere}"),
            vec![("authorization", "Bearer not-the-token")],
            401,
        ),
        (
            format!("{base}/api/v1/accounts/{other_ws}/contacts/{elsewhere}"),
            vec![("authorization", admin.as_str())],
            401,
        ),
        (
            format!("{base}/console/api/contacts/{elsewhere}"),
            vec![("authorization", admin.as_str())],
            400,
        ),
        (
            format!("{base}/console/api/contacts/{elsewhere}"),
            vec![
                ("authorization", admin.as_str()),
                ("x-roster-workspace", other_ws.as_str()),
            ],
            200,
        ),
        (
            format!("{base}/console/api/contacts/{elsewhere}"),
            vec![
                ("authorization", admin.as_str()),
                ("x-roster-workspace", "999999"),
            ],
            404,
        ),
    ] {
        let (status, answer) = call(Method::GET, &url, &headers, None).await;
        assert_eq!(status.as_u16(), wanted, "{url} {headers:?}: {answer}");
    }

    // The console's webhooks: a key that may not manage them is refused; bad input names
    // the field; another workspace's webhook is not found.
    let webhooks = format!("{base}/console/api/webhooks");
    let (status, _) = call(
        Method::GET,
        &webhooks,
        &[("authorization", &reader_auth)],
        None,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    let other_auth = format!("Bearer {other_key}");
    let (status, theirs) = call(
        Method::POST,
        &webhooks,
        &[("authorization", &other_auth), ("content-type", JSON)],
        Some(
            json!({"url": "http://127.0.0.1:9/hook"})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{theirs}");
    let (status, answer) = call(
        Method::POST,
        &webhooks,
        &[("authorization", &full), ("content-type", JSON)],
        Some(b"{\"url\": ".to_vec()),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"].is_string(), "{answer}");
    for (body, field) in [
        (json!({"url": 7}), "url"),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["contact.renamed"]}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, answer) = call(
            Method::POST,
            &webhooks,
            &[("authorization", &full), ("content-type", JSON)],
            Some(body.to_string().into_bytes()),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
    let theirs = format!("{webhooks}/{}", theirs["id"]);
    for (method, url) in [
        (Method::DELETE, theirs.clone()),
        (Method::PATCH, theirs.clone()),
        (Method::GET, format!("{theirs}/deliveries")),
        (Method::POST, format!("{theirs}/rotate-secret")),
    ] {
        let (status, answer) = call(
            method.clone(),
            &url,
            &[("authorization", &full), ("content-type", JSON)],
            Some(br#"{"enabled": false}"#.to_vec()),
        )
        .await;
        assert_eq!(
            status,
            reqwest::StatusCode::NOT_FOUND,
            "{method} {url}: {answer}"
        );
    }
    let (_, still) = call(
        Method::GET,
        &webhooks,
        &[("authorization", &other_auth)],
        None,
    )
    .await;
    assert_eq!(still[0]["enabled"], true, "{still}");

    // The console's files travel gzipped to a browser that asks, and whole to one that
    // does not; the import report is never held back by a compressor.
    let client = reqwest::Client::new();
    for (encoding, wanted) in [("gzip, deflate, br", Some("gzip")), ("identity", None)] {
        let answer = client
            .get(format!("{base}/console/console.js"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        let got = answer
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(got.as_deref(), wanted, "{encoding}");
        let body = answer.bytes().await.unwrap();
        match wanted {
            Some(_) => {
                assert!(body.len() * 3 < include_str!("../../../api/console/console.js").len())
            }
            None => assert_eq!(
                body.len(),
                include_str!("../../../api/console/console.js").len()
            ),
        }
    }
    let import = client
        .post(format!("{base}/console/api/imports"))
        .header("authorization", &full)
        .header("accept-encoding", "gzip")
        .body("name\nRosalind Franklin\n")
        .send()
        .await
        .unwrap();
    assert_eq!(import.status(), reqwest::StatusCode::OK);
    assert!(import.headers().get("content-encoding").is_none());

    // Neither the key nor the admin token reached the server's log.
    assert!(server.logged(&key).is_empty());
    assert!(server.logged(super::ADMIN_TOKEN).is_empty());
}
