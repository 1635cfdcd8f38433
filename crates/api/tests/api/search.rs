//! ChatCaptain search over HTTP: typo tolerance, prefixes, phones and emails, ranking,
//! facets, highlights, paging, hidden hits, workspace walls, and freshness.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, send, Tenant, TestApp};

/// Searches contacts and returns the `results` object.
async fn search(app: &TestApp, tenant: &Tenant, query: &str) -> Value {
    search_with(
        app,
        tenant,
        "/contacts/search",
        &[("query", query), ("page", "1"), ("pageSize", "50")],
    )
    .await
}

async fn search_with(app: &TestApp, tenant: &Tenant, path: &str, params: &[(&str, &str)]) -> Value {
    let (status, body) = send(app.cc(tenant, Method::GET, path).query(params)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].clone()
}

fn names(results: &Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            hit["contact"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Lets the index pick up the writes made so far (the follower would within 100 ms).
async fn indexed(app: &TestApp) {
    app.search.catch_up().await.unwrap();
}

#[tokio::test]
async fn search_finds_contacts_despite_typos_and_by_prefix() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for name in [
        "John Smith",
        "Michael Jordan",
        "Anna Schmidt",
        "Annabelle Lee",
        "Zoë Müller",
    ] {
        app.create_contact(&tenant, json!({"name": name, "language": "EN"}))
            .await;
    }
    indexed(&app).await;
    assert_eq!(
        names(&search(&app, &tenant, "jhon").await),
        ["John Smith"],
        "transposition is one typo"
    );
    assert_eq!(
        names(&search(&app, &tenant, "Micheal").await),
        ["Michael Jordan"]
    );
    assert_eq!(
        names(&search(&app, &tenant, "Mihcael Jordna").await),
        ["Michael Jordan"]
    );
    assert_eq!(
        names(&search(&app, &tenant, "mueller").await),
        ["Zoë Müller"]
    );
    assert_eq!(names(&search(&app, &tenant, "zoe").await), ["Zoë Müller"]);
    let ann = names(&search(&app, &tenant, "ann").await);
    assert_eq!(
        ann,
        ["Annabelle Lee", "Anna Schmidt"],
        "two prefix matches: newest first"
    );
    let anna = names(&search(&app, &tenant, "anna").await);
    assert_eq!(
        anna,
        ["Anna Schmidt", "Annabelle Lee"],
        "the exact word before the prefix match"
    );
    assert!(
        names(&search(&app, &tenant, "jon").await).is_empty(),
        "three letters allow no typo"
    );
    assert!(
        names(&search(&app, &tenant, "smythe").await).is_empty(),
        "two typos in six letters are too many"
    );
    assert_eq!(names(&search(&app, &tenant, "smyth").await), ["John Smith"]);
    assert!(names(&search(&app, &tenant, "xqzv").await).is_empty());
}

#[tokio::test]
async fn ranking_prefers_more_words_then_fewer_typos_then_exact_then_field_then_newest() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    app.create_contact(&tenant, json!({"name": "Maria Garcia", "language": "EN"}))
        .await;
    app.create_contact(&tenant, json!({"name": "Maria Lopez", "language": "EN"}))
        .await;
    app.create_contact(&tenant, json!({"name": "Mario Garcia", "language": "EN"}))
        .await;
    app.create_contact(
        &tenant,
        json!({"name": "Someone", "language": "EN", "email": "maria@example.com"}),
    )
    .await;
    app.create_contact(&tenant, json!({"name": "Marianne", "language": "EN"}))
        .await;
    indexed(&app).await;

    let ranked = names(&search(&app, &tenant, "maria garcia").await);
    assert_eq!(ranked[0], "Maria Garcia", "both words exact");
    assert_eq!(ranked[1], "Mario Garcia", "both words, one typo");
    let ranked = names(&search(&app, &tenant, "maria").await);
    // Exact in the name (newest first), exact in the email, a prefix without typos, and
    // last the one-typo match.
    assert_eq!(
        ranked,
        [
            "Maria Lopez",
            "Maria Garcia",
            "Someone",
            "Marianne",
            "Mario Garcia"
        ]
    );
}

#[tokio::test]
async fn phones_match_in_any_format_and_emails_by_any_part() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    app.create_contact(
        &tenant,
        json!({"name": "Phone Person", "language": "EN", "phoneNumber": "+4917612345678"}),
    )
    .await;
    app.create_contact(
        &tenant,
        json!({"name": "Other Phone", "language": "EN", "phoneNumber": "+14155552671"}),
    )
    .await;
    app.create_contact(
        &tenant,
        json!({"name": "Mail Person", "language": "EN", "email": "max.mustermann@example.com"}),
    )
    .await;
    indexed(&app).await;
    for query in [
        "0176 1234",
        "+49 176 1234",
        "4917612345",
        "(176) 123",
        "+4917612345678",
    ] {
        assert_eq!(
            names(&search(&app, &tenant, query).await),
            ["Phone Person"],
            "{query}"
        );
    }
    for query in [
        "max.mustermann@example.com",
        "max.mustermann",
        "example.com",
        "mustermann",
        "max.must",
        "max.mustermann@exa",
        // The local part typed whole before another word.
        "max.mustermann example",
    ] {
        assert_eq!(
            names(&search(&app, &tenant, query).await),
            ["Mail Person"],
            "{query}"
        );
    }
    let results = search(&app, &tenant, "0176 1234").await;
    let highlight = &results["hits"][0]["highlights"][0];
    assert_eq!(highlight["field"], "phoneNumber");
    assert_eq!(highlight["snippet"], "+49<mark>1761234</mark>5678");
}

#[tokio::test]
async fn results_carry_the_contract_shape_with_highlights_and_facets() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let acme = app
        .create_organization(&tenant, json!({"name": "Acme"}))
        .await;
    app.create_contact(
        &tenant,
        json!({"name": "Jörg Müller", "language": "DE", "whatsappId": "4911", "organizationIds": [acme["id"]], "address": {"country": "Germany"}}),
    )
    .await;
    app.create_contact(&tenant, json!({"name": "Jorge Miller", "language": "ES", "telegramId": "t1", "address": {"country": "Spain"}})).await;
    app.create_contact(&tenant, json!({"name": "Unrelated", "language": "EN"}))
        .await;
    indexed(&app).await;

    let results = search(&app, &tenant, "jorg mulr").await;
    assert_eq!(results["found"], 2);
    assert_eq!(results["outOf"], 3);
    assert_eq!(results["page"], 1);
    assert!(results["searchTimeMs"].is_u64());
    let first = &results["hits"][0];
    assert_eq!(first["contact"]["name"], "Jörg Müller");
    assert_eq!(first["contact"]["organizationIds"], json!([acme["id"]]));
    assert_eq!(
        first["highlights"][0],
        json!({"field": "name", "matchedTokens": ["Jörg", "Müller"], "snippet": "<mark>Jörg</mark> <mark>Müller</mark>"})
    );
    assert!(first["textMatch"].as_str().unwrap().parse::<u64>().unwrap() > 0);
    let second_score: u64 = results["hits"][1]["textMatch"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first["textMatch"].as_str().unwrap().parse::<u64>().unwrap() > second_score);

    let facets = results["facetCounts"].as_array().unwrap();
    let facet = |name: &str| {
        facets
            .iter()
            .find(|f| f["fieldName"] == name)
            .unwrap_or_else(|| panic!("facet {name}"))
            .clone()
    };
    assert_eq!(
        facet("organization")["counts"],
        json!([{"count": 1, "highlighted": "Acme", "value": "Acme"}])
    );
    assert_eq!(facet("language")["counts"].as_array().unwrap().len(), 2);
    assert_eq!(facet("country")["counts"][0]["count"], 1);
    let channel = facet("channel");
    let channels: Vec<&str> = channel["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["telegram", "whatsapp"]);

    // A contact found by its organization's name is highlighted there, by prefix too.
    let by_organization = search(&app, &tenant, "acm").await;
    assert_eq!(by_organization["found"], 1);
    assert_eq!(
        by_organization["hits"][0]["highlights"],
        json!([{"field": "organizations", "matchedTokens": ["Acme"], "snippet": "<mark>Acme</mark>"}])
    );
}

#[tokio::test]
async fn facets_report_the_workspaces_ten_most_frequent_values() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let other = app.tenant().await;
    let mut countries = vec![
        "Country 00",
        "Country 00",
        "Country 00",
        "Country 01",
        "Country 01",
    ];
    let names: Vec<String> = (2..12).map(|n| format!("Country {n:02}")).collect();
    countries.extend(names.iter().map(String::as_str));
    for (n, country) in countries.iter().enumerate() {
        app.create_contact(
            &tenant,
            json!({"name": format!("Person {n}"), "language": "EN", "address": {"country": country}}),
        )
        .await;
    }
    // Another workspace's values never show, however frequent.
    for n in 0..5 {
        app.create_contact(
            &other,
            json!({"name": format!("Person {n}"), "language": "EN", "address": {"country": "Country 00"}}),
        )
        .await;
        app.create_contact(
            &other,
            json!({"name": format!("Other {n}"), "language": "EN", "address": {"country": "Atlantis"}}),
        )
        .await;
    }
    indexed(&app).await;

    for query in ["*", "person"] {
        let results = search(&app, &tenant, query).await;
        let country = results["facetCounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fieldName"] == "country")
            .unwrap()
            .clone();
        let counts: Vec<(String, u64)> = country["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["value"].as_str().unwrap().to_owned(),
                    c["count"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut expected = vec![("Country 00".to_owned(), 3), ("Country 01".to_owned(), 2)];
        expected.extend((2..10).map(|n| (format!("Country {n:02}"), 1)));
        assert_eq!(counts, expected, "{query}");
    }
}

#[tokio::test]
async fn an_empty_query_lists_everything_newest_first_and_pages() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for i in 0..7 {
        app.create_contact(&tenant, json!({"name": format!("c{i}"), "language": "EN"}))
            .await;
    }
    indexed(&app).await;
    for query in ["", "*", "  "] {
        let results = search_with(
            &app,
            &tenant,
            "/contacts/search",
            &[("query", query), ("page", "1"), ("pageSize", "3")],
        )
        .await;
        assert_eq!(names(&results), ["c6", "c5", "c4"], "{query:?}");
        assert_eq!(
            (results["found"].as_u64(), results["outOf"].as_u64()),
            (Some(7), Some(7))
        );
        assert_eq!(results["hits"][0]["highlights"], json!([]));
    }
    let page3 = search_with(
        &app,
        &tenant,
        "/contacts/search",
        &[("query", "*"), ("page", "3"), ("pageSize", "3")],
    )
    .await;
    assert_eq!(names(&page3), ["c0"]);
    assert_eq!(page3["page"], 3);
    let hidden = search_with(
        &app,
        &tenant,
        "/contacts/search",
        &[
            ("query", "*"),
            ("page", "1"),
            ("pageSize", "3"),
            ("hiddenHits", "7,6,x"),
        ],
    )
    .await;
    assert_eq!(names(&hidden), ["c4", "c3", "c2"]);
    assert_eq!(hidden["found"], 5, "hidden hits are not counted");
}

#[tokio::test]
async fn search_parameters_are_validated() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for (params, field) in [
        (
            vec![("query", "a"), ("page", "1"), ("pageSize", "0")],
            "pageSize",
        ),
        (
            vec![("query", "a"), ("page", "1"), ("pageSize", "251")],
            "pageSize",
        ),
        (
            vec![("query", "a"), ("page", "0"), ("pageSize", "10")],
            "page",
        ),
        (
            vec![("query", "a"), ("page", "abc"), ("pageSize", "10")],
            "page",
        ),
        (
            vec![("query", "a"), ("page", "1000"), ("pageSize", "250")],
            "page",
        ),
    ] {
        let (status, body) = send(
            app.cc(&tenant, Method::GET, "/contacts/search")
                .query(&params),
        )
        .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, field);
    }
    // A page number past any integer says which pages there are.
    let (status, body) = send(
        app.cc(&tenant, Method::GET, "/contacts/search")
            .query(&[("query", "a"), ("page", "99999999999999999999")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "page: must be a whole number from 1 to 10000 (pages count from 1; page × pageSize is at most 10000)."})
        )
    );
    let reader = Tenant {
        id: tenant.id,
        key: app.key_for(tenant.id, &["chatbots.contacts.get"]).await,
    };
    let (status, body) = send(
        app.cc(&reader, Method::GET, "/contacts/search")
            .query(&[("query", "a")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Insufficient permissions."})
        )
    );
}

#[tokio::test]
async fn organizations_are_searched_with_industry_country_and_size_facets() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    app.create_organization(&tenant, json!({"name": "Acme Robotics", "industry": "Robotics", "size": 100, "address": {"country": "Germany"}})).await;
    app.create_organization(&tenant, json!({"name": "Acme Foods", "industry": "Food", "size": 300, "address": {"country": "France"}})).await;
    app.create_organization(
        &tenant,
        json!({"name": "Globex", "industry": "Food", "size": 50}),
    )
    .await;
    indexed(&app).await;
    let results = search_with(
        &app,
        &tenant,
        "/organizations/search",
        &[("query", "acme"), ("page", "1"), ("pageSize", "10")],
    )
    .await;
    assert_eq!(results["found"], 2);
    assert_eq!(results["outOf"], 3);
    let found: Vec<&str> = results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["organization"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["Acme Foods", "Acme Robotics"]);
    assert_eq!(
        results["hits"][0]["highlights"][0]["snippet"],
        "<mark>Acme</mark> Foods"
    );
    let facets = results["facetCounts"].as_array().unwrap();
    let size = facets.iter().find(|f| f["fieldName"] == "size").unwrap();
    assert_eq!(
        size["stats"],
        json!({"max": 300.0, "avg": 200.0, "min": 100.0, "sum": 400.0})
    );
    let industry = facets
        .iter()
        .find(|f| f["fieldName"] == "industry")
        .unwrap();
    assert_eq!(industry["counts"].as_array().unwrap().len(), 2);
    let by_industry = search_with(
        &app,
        &tenant,
        "/organizations/search",
        &[("query", "food"), ("page", "1"), ("pageSize", "10")],
    )
    .await;
    assert_eq!(by_industry["found"], 2);
}

#[tokio::test]
async fn search_never_crosses_workspaces() {
    let app = TestApp::spawn().await;
    let mine = app.tenant().await;
    let theirs = app.tenant().await;
    app.create_contact(&theirs, json!({"name": "Secret Agent", "language": "EN", "email": "agent@secret.example", "phoneNumber": "+4917612345678"})).await;
    app.create_organization(&theirs, json!({"name": "Secret Org"}))
        .await;
    app.create_contact(&mine, json!({"name": "Open Person", "language": "EN"}))
        .await;
    indexed(&app).await;
    for query in [
        "secret",
        "agent",
        "+4917612345678",
        "*",
        "secret.example",
        "sekret",
        // Short prefixes, two typos, a whole address by prefix: every kind of lookup.
        "s",
        "se",
        "sec",
        "secrte",
        "agnet",
        "agent@sec",
        "17612",
    ] {
        let results = search(&app, &mine, query).await;
        assert!(
            !results.to_string().contains("Secret"),
            "{query}: {results}"
        );
        assert_eq!(results["outOf"], 1);
        // The same query does find it where it lives.
        let theirs = search(&app, &theirs, query).await;
        assert!(theirs.to_string().contains("Secret"), "{query}: {theirs}");
    }
    let orgs = search_with(
        &app,
        &mine,
        "/organizations/search",
        &[("query", "secret"), ("page", "1"), ("pageSize", "10")],
    )
    .await;
    assert_eq!(
        (orgs["found"].as_u64(), orgs["outOf"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn writes_are_searchable_within_a_second() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let within_a_second = |query: &'static str, expected: Vec<&'static str>| {
        let app = &app;
        let tenant = &tenant;
        async move {
            let started = Instant::now();
            loop {
                let found = names(&search(app, tenant, query).await);
                if found == expected {
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "{query}: still {found:?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let contact = app
        .create_contact(&tenant, json!({"name": "Fresh Face", "language": "EN"}))
        .await;
    within_a_second("fresh", vec!["Fresh Face"]).await;
    let id = contact["id"].as_str().unwrap();
    let (status, _) = send(
        app.cc(&tenant, Method::PATCH, &format!("/contacts/{id}"))
            .json(&json!({"contact": {"name": "Renamed Face"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    within_a_second("renamed", vec!["Renamed Face"]).await;
    within_a_second("fresh", vec![]).await;
    let org = app
        .create_organization(&tenant, json!({"name": "Initech"}))
        .await;
    send(
        app.cc(&tenant, Method::PATCH, &format!("/contacts/{id}"))
            .json(&json!({"contact": {"organizationIds": [org["id"]]}})),
    )
    .await;
    within_a_second("initech", vec!["Renamed Face"]).await;
    // Renaming the organization re-indexes its members.
    send(
        app.cc(
            &tenant,
            Method::PATCH,
            &format!("/organizations/{}", org["id"].as_str().unwrap()),
        )
        .json(&json!({"organization": {"name": "Initrode"}})),
    )
    .await;
    within_a_second("initrode", vec!["Renamed Face"]).await;
    let (status, _) = send(app.cc(&tenant, Method::DELETE, &format!("/contacts/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    within_a_second("renamed", vec![]).await;
}

/// An empty search of a large workspace (its facet counts are kept between index
/// changes) answers what the workspace holds after every write, as a narrowed one does.
#[tokio::test]
async fn the_whole_listing_of_a_large_workspace_counts_every_write() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let mut csv = String::from("name,language\n");
    for n in 0..5_000 {
        csv.push_str(&format!(
            "Person {n},{}\n",
            if n % 5 == 0 { "de" } else { "en" }
        ));
    }
    let imported = app
        .admin(
            Method::POST,
            &format!("/admin/v1/workspaces/{}/imports", tenant.id),
        )
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    let report = imported.text().await.unwrap();
    assert!(
        report.ends_with("\"rejected\":0}}\n"),
        "{}",
        &report[report.len() - 200..]
    );
    indexed(&app).await;
    let languages = |results: &Value| {
        results["facetCounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|facet| facet["fieldName"] == "language")
            .unwrap()["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|count| {
                (
                    count["value"].as_str().unwrap().to_owned(),
                    count["count"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let first = search(&app, &tenant, "*").await;
    assert_eq!(first["found"], 5_000);
    assert_eq!(
        languages(&first),
        [("en".to_owned(), 4_000), ("de".to_owned(), 1_000)]
    );
    let again = search(&app, &tenant, "*").await;
    assert_eq!(again["facetCounts"], first["facetCounts"]);
    assert_eq!(names(&again), names(&first));

    // A new contact, then a deleted one: each listing counts them.
    let created = app
        .create_contact(&tenant, json!({"name": "Newest Person", "language": "fr"}))
        .await;
    let after = search(&app, &tenant, "*").await;
    assert_eq!(after["found"], 5_001);
    assert_eq!(names(&after)[0], "Newest Person");
    assert!(languages(&after).contains(&("fr".to_owned(), 1)), "{after}");
    let id = created["id"].as_str().unwrap();
    let (status, _) = send(app.cc(&tenant, Method::DELETE, &format!("/contacts/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    let deleted = search(&app, &tenant, "*").await;
    assert_eq!(deleted["found"], 5_000);
    assert!(
        !languages(&deleted).iter().any(|(value, _)| value == "fr"),
        "{deleted}"
    );
    // Narrowed, the same index answers without the kept counts.
    let narrowed = search_with(
        &app,
        &tenant,
        "/contacts/search",
        &[
            ("query", "*"),
            ("language", "de"),
            ("page", "1"),
            ("pageSize", "5"),
        ],
    )
    .await;
    assert_eq!(narrowed["found"], 1_000);
}
