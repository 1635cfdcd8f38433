//! Change events through the real binary: every kind of write yields its event in the
//! feed (a write that changes nothing yields none), each showing the record as the admin
//! API does; the feed pages by cursor, long-polls for the next event, refuses bad
//! parameters and shows nothing of another workspace.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::first_hour::{call, JSON};
use super::{cli_tenant, Server, ADMIN_TOKEN};

fn admin_auth() -> String {
    format!("Bearer {ADMIN_TOKEN}")
}

async fn send(method: Method, url: &str, auth: (&str, &str), body: Option<Value>) -> Value {
    let headers = [auth, ("content-type", JSON)];
    let (status, answer) = call(
        method.clone(),
        url,
        &headers,
        body.map(|body| body.to_string().into_bytes()),
    )
    .await;
    assert!(status.is_success(), "{method} {url}: {status} {answer}");
    answer
}

/// The whole feed after `after`, oldest first.
async fn feed(base: &str, workspace: &str, after: &str) -> (Vec<Value>, String) {
    let auth = admin_auth();
    let url = format!("{base}/admin/v1/workspaces/{workspace}/events?after={after}&limit=1000");
    let page = send(Method::GET, &url, ("authorization", &auth), None).await;
    let events = page["events"].as_array().unwrap().clone();
    (events, page["next"].as_str().unwrap().to_owned())
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_write_yields_its_event_once_and_a_write_that_changes_nothing_none() {
    every_write_yields_its_event(None).await;
}

#[tokio::test]
async fn every_write_yields_its_event_on_postgresql() {
    let database = roster_store::testing::postgres().await;
    every_write_yields_its_event(Some(database.database_url.as_str())).await;
}

async fn every_write_yields_its_event(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), database_url, "Events");
    let server = Server::start(dir.path(), database_url);
    let base = server.base.clone();
    let auth = admin_auth();
    let admin = ("authorization", auth.as_str());
    let admin_ws = format!("{base}/admin/v1/workspaces/{workspace}");
    let cw = format!("{base}/api/v1/accounts/{workspace}");
    let cw_auth = ("api_access_token", key.as_str());
    let cc = format!("{base}/v1/chatbots/{workspace}");
    let cc_auth = ("x-chatcaptain-key", key.as_str());
    let sc_bearer = format!("Bearer {key}");
    let sc_auth = ("authorization", sc_bearer.as_str());
    send(
        Method::POST,
        &format!("{admin_ws}/users"),
        admin,
        Some(json!({"id": "u1", "name": "Una"})),
    )
    .await;

    let created = send(
        Method::POST,
        &format!("{cw}/contacts"),
        cw_auth,
        Some(json!({"name": "Ada", "email": "ada@example.com"})),
    )
    .await;
    let id = created["payload"]["contact"]["id"].as_i64().unwrap();
    let org = send(
        Method::POST,
        &format!("{cc}/organizations"),
        cc_auth,
        Some(json!({"name": "Engines"})),
    )
    .await;
    let org_id: i64 = org["organization"]["id"].as_str().unwrap().parse().unwrap();
    // The same values again: nothing changes, so no event.
    send(
        Method::PUT,
        &format!("{cw}/contacts/{id}"),
        cw_auth,
        Some(json!({"name": "Ada", "email": "ada@example.com"})),
    )
    .await;
    send(
        Method::PUT,
        &format!("{cw}/contacts/{id}"),
        cw_auth,
        Some(json!({"name": "Ada Lovelace"})),
    )
    .await;
    send(
        Method::PATCH,
        &format!("{cc}/contacts/{id}"),
        cc_auth,
        Some(json!({"contact": {"organizationIds": [org_id.to_string()]}})),
    )
    .await;
    send(
        Method::POST,
        &format!("{cw}/contacts/{id}/labels"),
        cw_auth,
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    send(
        Method::PUT,
        &format!("{base}/v2/orgs/{workspace}/contact/{id}/disposition"),
        sc_auth,
        Some(json!({"stage": "QUALIFIED"})),
    )
    .await;
    send(
        Method::POST,
        &format!("{base}/v3/orgs/{workspace}/contacts/{id}/assign"),
        sc_auth,
        Some(json!({"user_id": "u1", "assign_on_handover": true})),
    )
    .await;
    send(
        Method::PATCH,
        &format!("{cc}/organizations/{org_id}"),
        cc_auth,
        Some(json!({"organization": {"name": "Analytical Engines"}})),
    )
    .await;
    let view_before_merge = send(
        Method::GET,
        &format!("{admin_ws}/contacts/{id}"),
        admin,
        None,
    )
    .await;
    let other = send(
        Method::POST,
        &format!("{cw}/contacts"),
        cw_auth,
        Some(json!({"name": "Charles", "phone_number": "+447911123456"})),
    )
    .await;
    let other_id = other["payload"]["contact"]["id"].as_i64().unwrap();
    send(
        Method::POST,
        &format!("{cw}/actions/contact_merge"),
        cw_auth,
        Some(json!({"base_contact_id": id, "mergee_contact_id": other_id})),
    )
    .await;
    let merged_view = send(
        Method::GET,
        &format!("{admin_ws}/contacts/{id}"),
        admin,
        None,
    )
    .await;
    send(
        Method::DELETE,
        &format!("{cw}/contacts/{id}"),
        cw_auth,
        None,
    )
    .await;
    send(
        Method::DELETE,
        &format!("{cc}/organizations/{org_id}"),
        cc_auth,
        None,
    )
    .await;
    let (status, _) = call(
        Method::POST,
        &format!("{admin_ws}/imports"),
        &[admin, ("content-type", "text/csv")],
        Some(b"name,email\nGrace,grace@example.com\n".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (events, next) = feed(&base, &workspace, "0").await;
    assert_eq!(
        types(&events),
        [
            "contact.created",
            "organization.created",
            "contact.updated",
            "contact.updated",
            "organization.members_changed",
            "contact.updated",
            "contact.stage_changed",
            "contact.assigned",
            "organization.updated",
            "contact.created",
            "contact.merged",
            "contact.deleted",
            "organization.members_changed",
            "organization.deleted",
            "contact.created",
        ]
    );
    for event in &events {
        assert!(event["id"].as_str().unwrap().starts_with("evt_"), "{event}");
        assert_eq!(event["workspace_id"].to_string(), workspace);
        let timestamp = event["timestamp"].as_str().unwrap();
        assert!(
            timestamp.len() >= 20 && timestamp.as_bytes()[10] == b'T',
            "{timestamp}"
        );
    }
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|event| event["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "every event has an id of its own");

    // The rename: old and new values of what changed, nothing else.
    let renamed = &events[2]["data"];
    assert_eq!(
        renamed["changes"]["name"],
        json!({"old": "Ada", "new": "Ada Lovelace"})
    );
    assert_eq!(renamed["contact"]["name"], "Ada Lovelace");
    assert!(renamed["changes"].get("email").is_none(), "{renamed}");
    assert!(renamed["changes"].get("updated").is_none(), "{renamed}");
    assert_eq!(
        events[3]["data"]["changes"]["organizations"]["new"],
        json!([{"id": org_id, "name": "Engines"}])
    );
    assert_eq!(events[4]["data"]["added"], json!([id]));
    assert_eq!(
        events[5]["data"]["changes"]["labels"],
        json!({"old": [], "new": ["vip"]})
    );
    assert_eq!(events[6]["data"]["changes"]["stage"]["new"], "QUALIFIED");
    assert_eq!(
        events[7]["data"]["assignment"],
        json!({"user_id": "u1", "group_id": null, "pending_handover": true})
    );
    assert_eq!(
        events[8]["data"]["changes"]["name"],
        json!({"old": "Engines", "new": "Analytical Engines"})
    );
    // A record as the admin API shows it, at the time of the event.
    assert_eq!(
        events[8]["data"]["organization"]["name"],
        "Analytical Engines"
    );
    let mut assigned = events[7]["data"]["contact"].clone();
    // The organization was renamed after the assignment.
    assigned["organizations"][0]["name"] = json!("Analytical Engines");
    assert_eq!(assigned, view_before_merge);
    let merge = &events[10]["data"];
    assert_eq!(merge["contact"], merged_view);
    assert_eq!(merge["mergee"]["id"], other_id);
    assert_eq!(merge["changes"]["phone"]["new"], "+447911123456");
    assert_eq!(events[11]["data"]["contact"], merged_view);
    assert_eq!(events[12]["data"]["removed"], json!([id]));
    assert_eq!(events[14]["data"]["contact"]["email"], "grace@example.com");

    // Paging: from the cursor on, only what came after.
    let (rest, same) = feed(&base, &workspace, &next).await;
    assert!(rest.is_empty());
    assert_eq!(same, next);
    let (tail, _) = feed(&base, &workspace, "").await;
    assert_eq!(
        tail.len(),
        events.len(),
        "an empty cursor reads from the start"
    );
    let url = format!("{admin_ws}/events?limit=2");
    let first_two = send(Method::GET, &url, admin, None).await;
    assert_eq!(first_two["events"].as_array().unwrap().len(), 2);
    let (after_two, _) = feed(&base, &workspace, first_two["next"].as_str().unwrap()).await;
    assert_eq!(after_two.len(), events.len() - 2);
    assert_eq!(after_two[0], events[2]);

    // Another workspace's feed shows none of it, and its writes none here.
    let (other_ws, other_key) = cli_tenant(dir.path(), database_url, "Elsewhere");
    let (elsewhere, _) = feed(&base, &other_ws, "0").await;
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    send(
        Method::POST,
        &format!("{base}/api/v1/accounts/{other_ws}/contacts"),
        ("api_access_token", other_key.as_str()),
        Some(json!({"name": "Elsewhere"})),
    )
    .await;
    let (still, _) = feed(&base, &workspace, &next).await;
    assert!(still.is_empty());
}

#[tokio::test]
async fn a_waiting_feed_read_answers_at_the_next_event_and_bad_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Waiting");
    let server = Server::start(dir.path(), None);
    let base = server.base.clone();
    let auth = admin_auth();
    let events_url = format!("{base}/admin/v1/workspaces/{workspace}/events");

    // Nothing yet: a read waiting 1 s answers empty after about that long.
    let started = Instant::now();
    let url = format!("{events_url}?wait=1");
    let empty = send(Method::GET, &url, ("authorization", &auth), None).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(empty, json!({"events": [], "next": "0"}));

    // A read waiting 20 s answers as soon as a contact is created.
    let waiting = {
        let url = format!("{events_url}?after=0&wait=20");
        let auth = auth.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let page = send(Method::GET, &url, ("authorization", &auth), None).await;
            (page, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(
        Method::POST,
        &format!("{base}/v1/chatbots/{workspace}/contacts"),
        ("x-chatcaptain-key", &key),
        Some(json!({"name": "Woken", "language": "EN"})),
    )
    .await;
    let (page, took) = waiting.await.unwrap();
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    assert_eq!(page["events"][0]["type"], "contact.created");
    assert_eq!(page["events"][0]["data"]["contact"]["name"], "Woken");

    for (query, field) in [
        ("after=abc", "after"),
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=31", "wait"),
        ("wait=soon", "wait"),
    ] {
        let (status, body) = call(
            Method::GET,
            &format!("{events_url}?{query}"),
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(field),
            "{query}: {body}"
        );
    }
    let (status, _) = call(Method::GET, &events_url, &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        Method::GET,
        &format!("{base}/admin/v1/workspaces/999/events"),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_saleschat_contact_expires_once_when_its_retention_passes() {
    let dir = tempfile::tempdir().unwrap();
    contacts_expire_once(dir.path(), None, 1).await;
}

#[tokio::test]
async fn two_nodes_on_postgresql_fire_each_expiry_once() {
    let database = roster_store::testing::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    contacts_expire_once(dir.path(), Some(database.database_url.as_str()), 2).await;
}

/// The contacts the feed says expired, in the order it says so.
async fn expired(base: &str, workspace: &str) -> Vec<Value> {
    let (events, _) = feed(base, workspace, "0").await;
    events
        .into_iter()
        .filter(|event| event["type"] == "contact.expired")
        .collect()
}

/// Polls the feed until `count` contacts expired (or `within` passed).
async fn wait_for_expired(
    base: &str,
    workspace: &str,
    count: usize,
    within: Duration,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let got = expired(base, workspace).await;
        if got.len() >= count || started.elapsed() > within {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SalesChat contacts under governance levels of 1 and 30 days: one already expired at
/// creation, one expiring 4 s later, one the 30-day level covers until its retention is cut
/// to 5 days. Each fires `contact.expired` once (through restarts and, with `nodes` 2,
/// however many nodes run the scheduler), and a SalesChat webhook gets `CONTACT_EXPIRED`.
async fn contacts_expire_once(dir: &std::path::Path, database_url: Option<&str>, nodes: usize) {
    let (workspace, key) = cli_tenant(dir, database_url, "Expiry");
    let env = [
        ("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("ROSTER_WEBHOOK_KEY", "expiry test"),
    ];
    let dirs: Vec<tempfile::TempDir> = (0..nodes).map(|_| tempfile::tempdir().unwrap()).collect();
    let start = |n: usize| match n {
        0 => Server::start_with(dir, database_url, &env),
        n => Server::start_with(dirs[n].path(), database_url, &env),
    };
    let mut servers: Vec<Server> = (0..nodes).map(start).collect();
    let base = servers[0].base.clone();
    let auth = admin_auth();
    let admin = ("authorization", auth.as_str());
    let admin_ws = format!("{base}/admin/v1/workspaces/{workspace}");
    let receiver = super::webhooks::Receiver::start(vec![]).await;
    let webhook = send(
        Method::POST,
        &format!("{admin_ws}/webhooks"),
        admin,
        Some(json!({"url": format!("{}/sc", receiver.url), "format": "saleschat"})),
    )
    .await;
    for (id, days) in [("short", 1), ("long", 30)] {
        send(
            Method::POST,
            &format!("{admin_ws}/governance-levels"),
            admin,
            Some(json!({"id": id, "name": id, "retention_days": days})),
        )
        .await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let bearer = format!("Bearer {key}");
    let create = |crm: &'static str, national: u64, opt_in: u64, level: &'static str| {
        let (url, bearer) = (format!("{base}/v2/org/{workspace}/contact"), bearer.clone());
        async move {
            let body = json!({"crm_id": crm, "phone_number": {"countryCode": 44, "nationalNumber": national}, "opt_in_date": opt_in, "governance_level_id": level});
            let created = send(Method::POST, &url, ("authorization", &bearer), Some(body)).await;
            created["id"].as_str().unwrap().parse::<i64>().unwrap()
        }
    };
    let day = 86_400;
    let long_gone = create("EXP-1", 7911123001, now - 2 * day, "short").await;
    let covered = create("EXP-2", 7911123002, now - 10 * day, "long").await;
    let created_soon = Instant::now();
    let soon = create("EXP-3", 7911123003, now - day + 4, "short").await;

    // Already expired at creation: fired by the next round, and only that one.
    let fired = wait_for_expired(&base, &workspace, 1, Duration::from_secs(10)).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    let event = &fired[0]["data"];
    assert_eq!(event["contact"]["id"], long_gone);
    assert_eq!(event["contact"]["is_expired"], true);
    assert_eq!(
        event["changes"]["is_expired"],
        json!({"old": false, "new": true})
    );
    if created_soon.elapsed() < Duration::from_secs(2) {
        assert_eq!(expired(&base, &workspace).await.len(), 1, "expired early");
    }
    // The next one fires when its expiry passes.
    let fired = wait_for_expired(&base, &workspace, 2, Duration::from_secs(20)).await;
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert_eq!(fired[1]["data"]["contact"]["id"], soon);
    assert!(
        fired[1]["timestamp"].as_str().unwrap()
            >= fired[1]["data"]["contact"]["expiry"].as_str().unwrap()
    );

    // A restart (or a node killed) fires nothing again.
    match nodes {
        1 => {
            drop(servers.pop());
            servers.push(start(0));
        }
        _ => servers.pop().unwrap().kill_hard(),
    }
    let base = servers[0].base.clone();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(expired(&base, &workspace).await.len(), 2);

    // A shorter retention expires the covered contact at once (the scheduler is woken; the
    // bound leaves room for a loaded machine, so it cannot tell that from the next round).
    let (_, cursor) = feed(&base, &workspace, "0").await;
    let admin_ws = format!("{base}/admin/v1/workspaces/{workspace}");
    send(
        Method::PATCH,
        &format!("{admin_ws}/governance-levels/long"),
        admin,
        Some(json!({"retention_days": 5})),
    )
    .await;
    let asked = Instant::now();
    let url = format!("{admin_ws}/events?after={cursor}&wait=5");
    let page = send(Method::GET, &url, admin, None).await;
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(page["events"][0]["type"], "contact.expired");
    assert_eq!(page["events"][0]["data"]["contact"]["id"], covered);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let fired = expired(&base, &workspace).await;
    let ids: Vec<&Value> = fired
        .iter()
        .map(|event| &event["data"]["contact"]["id"])
        .collect();
    assert_eq!(ids, [&json!(long_gone), &json!(soon), &json!(covered)]);

    // SalesChat's webhook: CONTACT_EXPIRED for each, once. Within a retry: on a loaded
    // machine an attempt can outlast its 10 s timeout and go again 5 s later.
    receiver.wait_for("/sc", 3, Duration::from_secs(30)).await;
    // Time for a duplicate to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.on("/sc");
    assert_eq!(got.len(), 3, "{got:?}");
    for (received, id) in got.iter().zip([long_gone, soon, covered]) {
        let body: Value = serde_json::from_str(&received.body).unwrap();
        assert_eq!(
            body,
            json!({"type": "CONTACT_EXPIRED", "version": 1.1, "payload": {"contact_id": id.to_string()}})
        );
    }
    assert!(webhook["secret"].as_str().unwrap().starts_with("whsec_"));
}
