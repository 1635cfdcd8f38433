//! Import and export end to end on a real store: every outcome per row, idempotent and
//! interrupted runs, Chatwoot's layout, and an export that imports back as it was.

use std::sync::Arc;

use roster_core::domain::WorkspaceId;
use roster_core::import::{ImportOutcome, ImportSummary, MatchKey};
use roster_core::model::{Contact, Page};
use roster_core::Store;
use roster_transfer::export::{export_contacts, export_organizations, Format};
use roster_transfer::import::{import_csv, ImportError, RowReport};

async fn import(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    csv: &str,
) -> (ImportSummary, Vec<RowReport>) {
    let mut reports = Vec::new();
    let roster = roster_core::Roster::new(store.clone()).await.unwrap();
    let summary = import_csv(
        roster,
        workspace,
        MatchKey::DEFAULT_ORDER.to_vec(),
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        |batch, _| {
            reports.extend_from_slice(batch);
            std::future::ready(())
        },
    )
    .await
    .expect("the import runs");
    (summary, reports)
}

async fn everyone(store: &Arc<dyn Store>, workspace: WorkspaceId) -> Vec<Contact> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.scan_contacts(workspace, after, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id.get();
        all.extend(page);
    }
    all
}

const FILE: &str = "\u{feff}name,email,phone,external_id,organizations,custom.plan,telegram_id\r\n\
Ann Lee,ann@example.com,+49 176 12345678,A-1,Acme|Globex,pro,tg-ann\r\n\
Bob,bob@example.com,,B-1,Acme,,\r\n\
Broken,not-an-email,,,,,\r\n\
Ann Again,ann@example.com,,,,gold,\r\n\
Carl,carl@example.com,,A-1,,,\r\n";

#[tokio::test]
async fn every_row_gets_an_outcome_and_a_second_run_changes_nothing() {
    let test = roster_store::testing::sqlite().await;
    let store = test.store.clone();
    let ws = store.create_workspace("Import").await.unwrap().id;
    let (summary, reports) = import(&store, ws, FILE).await;
    let outcomes: Vec<&str> = reports.iter().map(|r| r.outcome.name()).collect();
    // Ann, Bob, a bad email, Ann again by email (updated), Carl matching Ann's external
    // id but bringing another email: Ann is updated to it.
    assert_eq!(
        outcomes,
        ["created", "created", "rejected", "updated", "updated"]
    );
    assert_eq!(
        reports.iter().map(|r| r.line).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6]
    );
    let ImportOutcome::Rejected(reason) = &reports[2].outcome else {
        unreachable!()
    };
    assert!(reason.starts_with("email:"), "{reason}");
    assert_eq!(
        summary,
        ImportSummary {
            created: 2,
            updated: 2,
            unchanged: 0,
            rejected: 1
        }
    );

    let before = everyone(&store, ws).await;
    let ann = before
        .iter()
        .find(|c| {
            c.data
                .external_id
                .as_ref()
                .is_some_and(|x| x.as_str() == "A-1")
        })
        .unwrap();
    assert_eq!(ann.data.name.as_deref(), Some("Carl"));
    assert_eq!(
        ann.data.email.as_ref().unwrap().as_str(),
        "carl@example.com"
    );
    assert_eq!(ann.data.phone.as_ref().unwrap().as_str(), "+4917612345678");
    assert_eq!(ann.data.channels.telegram.as_deref(), Some("tg-ann"));
    assert_eq!(ann.data.custom_attributes["plan"], "gold");
    assert_eq!(ann.data.organization_ids.len(), 2);

    // Run again: rows find what the first run made. Ann's rows still rename her in turn,
    // so her three rows come out updated, updated, updated; Bob is unchanged.
    let (again, reports) = import(&store, ws, FILE).await;
    assert_eq!(reports[1].outcome.name(), "unchanged");
    assert_eq!(again.created, 0);
    assert_eq!(everyone(&store, ws).await.len(), 2);
    let organizations = store
        .organizations(
            ws,
            Page {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        organizations.len(),
        2,
        "organizations are found by name, not made twice"
    );
}

#[tokio::test]
async fn an_interrupted_import_run_again_ends_where_one_run_ends() {
    let lines: Vec<String> = (0..5_000)
        .map(|i| format!("Person {i},p{i}@example.com,ID-{i}"))
        .collect();
    let full = format!("name,email,external_id\n{}\n", lines.join("\n"));
    let half = format!("name,email,external_id\n{}\n", lines[..2_500].join("\n"));

    let test = roster_store::testing::sqlite().await;
    let store = test.store.clone();
    let once = store.create_workspace("Once").await.unwrap().id;
    let twice = store.create_workspace("Twice").await.unwrap().id;
    import(&store, once, &full).await;
    import(&store, twice, &half).await;
    let (summary, _) = import(&store, twice, &full).await;
    assert_eq!((summary.unchanged, summary.created), (2_500, 2_500));
    let strip = |contacts: Vec<Contact>| -> Vec<_> {
        contacts.into_iter().map(|c| (c.id, c.data)).collect()
    };
    assert_eq!(
        strip(everyone(&store, once).await),
        strip(everyone(&store, twice).await)
    );
}

#[tokio::test]
async fn chatwoots_export_layout_imports_without_editing() {
    let test = roster_store::testing::sqlite().await;
    let store = test.store.clone();
    let ws = store.create_workspace("Chatwoot").await.unwrap().id;
    let csv = "name,email,identifier,phone_number,company_name,city,plan\n\
               Jane,jane@example.com,cw-1,4915112345678,Acme,Berlin,gold\n";
    let (summary, _) = import(&store, ws, csv).await;
    assert_eq!(summary.created, 1);
    let jane = &everyone(&store, ws).await[0];
    assert_eq!(jane.data.external_id.as_ref().unwrap().as_str(), "cw-1");
    assert_eq!(
        jane.data.phone.as_ref().unwrap().as_str(),
        "+4915112345678",
        "a + is prepended"
    );
    assert_eq!(jane.data.additional_attributes["company_name"], "Acme");
    assert_eq!(jane.data.additional_attributes["city"], "Berlin");
    assert_eq!(jane.data.custom_attributes["plan"], "gold");
}

#[tokio::test]
async fn a_malformed_file_is_refused_and_changes_nothing() {
    let test = roster_store::testing::sqlite().await;
    let store = test.store.clone();
    let ws = store.create_workspace("Bad").await.unwrap().id;
    for csv in ["", "name,,email\nAnn,,a@example.com\n", "id,created\n1,2\n"] {
        let roster = roster_core::Roster::new(store.clone()).await.unwrap();
        let result = import_csv(
            roster,
            ws,
            MatchKey::DEFAULT_ORDER.to_vec(),
            std::io::Cursor::new(csv.as_bytes().to_vec()),
            |_, _| std::future::ready(()),
        )
        .await;
        assert!(
            matches!(result, Err(ImportError::File(_))),
            "{csv:?}: {result:?}"
        );
    }
    // Unbalanced quotes spoil their own row only.
    let (summary, reports) = import(
        &store,
        ws,
        "name,email\n\"Ann,a@example.com\nBob,b@example.com\n",
    )
    .await;
    assert_eq!(summary.rows(), reports.len() as u64);
    assert!(everyone(&store, ws).await.len() <= 1);
}

#[tokio::test]
async fn an_export_imports_back_into_the_same_data() {
    let test = roster_store::testing::sqlite().await;
    let store = test.store.clone();
    let source = store.create_workspace("Source").await.unwrap().id;
    let csv = "name,first_name,last_name,email,phone,external_id,language,organizations,custom.plan,custom.note,additional.city,address.street,whatsapp_id,blocked\n\
               Ann Lee,Ann,Lee,ann@example.com,+4917612345678,A-1,EN,Acme|Globex,pro,\"says \"\"hi\"\", twice\",Paris,Main St,wa-1,true\n\
               Bob,,,bob@example.com,,,DE,,,,,,,\n";
    import(&store, source, csv).await;
    let mut exported = Vec::new();
    let count = export_contacts(store.as_ref(), source, Format::Csv, &mut exported)
        .await
        .unwrap();
    assert_eq!(count, 2);

    let target = store.create_workspace("Target").await.unwrap().id;
    let text = String::from_utf8(exported.clone()).unwrap();
    let (summary, _) = import(&store, target, &text).await;
    assert_eq!(summary.created, 2, "{text}");
    let data =
        |contacts: Vec<Contact>| -> Vec<_> { contacts.into_iter().map(|c| c.data).collect() };
    let (from, to) = (
        everyone(&store, source).await,
        everyone(&store, target).await,
    );
    // Organization ids are the target's own; everything else is the same.
    let names = |ws, contacts: &Vec<Contact>| {
        let store = store.clone();
        let ids: Vec<_> = contacts
            .iter()
            .map(|c| c.data.organization_ids.clone())
            .collect();
        async move {
            let mut out = Vec::new();
            for list in ids {
                let mut names = Vec::new();
                for id in list {
                    names.push(store.organization(ws, id).await.unwrap().unwrap().data.name);
                }
                out.push(names);
            }
            out
        }
    };
    assert_eq!(names(source, &from).await, names(target, &to).await);
    let without_orgs = |mut all: Vec<roster_core::model::ContactData>| {
        all.iter_mut().for_each(|d| d.organization_ids.clear());
        all
    };
    assert_eq!(without_orgs(data(from)), without_orgs(data(to)));

    let mut lines = Vec::new();
    export_contacts(store.as_ref(), source, Format::Ndjson, &mut lines)
        .await
        .unwrap();
    let lines = String::from_utf8(lines).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["organizations"],
        serde_json::json!(["Acme", "Globex"])
    );
    assert_eq!(first["custom_attributes"]["note"], "says \"hi\", twice");
    let mut organizations = Vec::new();
    assert_eq!(
        export_organizations(store.as_ref(), source, Format::Csv, &mut organizations)
            .await
            .unwrap(),
        2
    );
    assert!(String::from_utf8(organizations)
        .unwrap()
        .starts_with("id,name,"));
}
