//! The search answers: scoring and highlighting on the pool, a page's records from the
//! store, facets in the API's order.

use super::*;

fn facet_counts(field: FacetField, counts: HashMap<String, u64>) -> FacetCounts {
    let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(FACET_VALUES);
    FacetCounts {
        field,
        counts,
        stats: None,
    }
}

/// The page's records in rank order, with their highlights and scores. Records the store
/// no longer has (deleted since the index last caught up) are left out.
fn ranked_hits<T>(
    collected: &Collected,
    page: impl Iterator<Item = i64>,
    mut records: HashMap<i64, T>,
    highlight: impl Fn(&T) -> Vec<roster_core::search::Highlight>,
) -> Vec<Hit<T>> {
    let scores: HashMap<u64, f32> = collected.top.iter().map(|r| (r.id, r.score)).collect();
    page.filter_map(|id| {
        let record = records.remove(&id)?;
        Some(Hit {
            highlights: highlight(&record),
            text_match: scores.get(&(id as u64)).map_or(0, |score| *score as u64),
            record,
        })
    })
    .collect()
}

/// The ids on the requested page, best first.
fn page_of(request: &SearchRequest, collected: &Collected) -> Vec<i64> {
    page_ranks(request, &collected.top)
        .iter()
        .map(|rank| rank.id as i64)
        .collect()
}

#[async_trait::async_trait]
impl SearchEngine for SearchIndex {
    /// Wakes the follower at once, so a local write is searchable within a commit.
    fn written(&self) {
        self.nudge.notify_one();
    }

    async fn caught_up_to(&self, seq: i64, within: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before the check, so an apply between the two is not missed.
            let applied = self.applied_changed.notified();
            tokio::pin!(applied);
            applied.as_mut().enable();
            if self.applied.load(AtomicOrdering::Acquire) >= seq {
                return true;
            }
            self.nudge.notify_one();
            if tokio::time::timeout_at(deadline, applied).await.is_err() {
                return self.applied.load(AtomicOrdering::Acquire) >= seq;
            }
        }
    }

    async fn applied_change(&self) -> i64 {
        self.applied_seq().await
    }

    async fn search_contacts(
        &self,
        workspace: WorkspaceId,
        request: &SearchRequest,
    ) -> Result<SearchPage<roster_core::model::Contact>> {
        let started = Instant::now();
        let (me, wanted) = (self.handle()?, request.clone());
        let (plan, collected, out_of) = self
            .pool
            .run(move || {
                let plan = Plan::new(&ParsedQuery::parse(&wanted.query));
                let (collected, out_of) = me.run(workspace, RecordKind::Contact, &plan, &wanted)?;
                Ok((plan, collected, out_of))
            })
            .await?;
        let ids: Vec<ContactId> = page_of(request, &collected)
            .into_iter()
            .map(ContactId::from_stored)
            .collect();
        let contacts: HashMap<i64, roster_core::model::Contact> = self
            .store
            .contacts_by_ids(workspace, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id.get(), c))
            .collect();
        let page = request.page;
        self.pool
            .run(move || {
                let no_names = Vec::new();
                let hits = ranked_hits(
                    &collected,
                    ids.iter().map(|id| id.get()),
                    contacts,
                    |contact| {
                        let names = collected
                            .organization_names
                            .get(&(contact.id.get() as u64))
                            .unwrap_or(&no_names);
                        highlight::contact(contact, names, &plan)
                    },
                );
                let mut facets = collected.facets.into_iter();
                let mut next = |field| facet_counts(field, facets.next().unwrap_or_default());
                let facets = vec![
                    next(FacetField::Organization),
                    next(FacetField::Language),
                    next(FacetField::Country),
                    next(FacetField::Channel),
                ];
                Ok(SearchPage {
                    found: collected.found,
                    out_of,
                    page,
                    search_time_ms: started.elapsed().as_millis() as u64,
                    hits,
                    facets,
                })
            })
            .await
    }

    async fn search_organizations(
        &self,
        workspace: WorkspaceId,
        request: &SearchRequest,
    ) -> Result<SearchPage<roster_core::model::Organization>> {
        let started = Instant::now();
        let (me, wanted) = (self.handle()?, request.clone());
        let (plan, collected, out_of) = self
            .pool
            .run(move || {
                let plan = Plan::new(&ParsedQuery::parse(&wanted.query));
                let (collected, out_of) =
                    me.run(workspace, RecordKind::Organization, &plan, &wanted)?;
                Ok((plan, collected, out_of))
            })
            .await?;
        let ids: Vec<OrganizationId> = page_of(request, &collected)
            .into_iter()
            .map(OrganizationId::from_stored)
            .collect();
        let organizations: HashMap<i64, roster_core::model::Organization> = self
            .store
            .organizations_by_ids(workspace, &ids)
            .await?
            .into_iter()
            .map(|o| (o.id.get(), o))
            .collect();
        let page = request.page;
        self.pool
            .run(move || {
                let hits = ranked_hits(
                    &collected,
                    ids.iter().map(|id| id.get()),
                    organizations,
                    |organization| highlight::organization(organization, &plan),
                );
                Ok(organization_page(collected, out_of, page, started, hits))
            })
            .await
    }
}

/// An organization search's answer: its hits with the industry, country and size facets.
fn organization_page(
    collected: Collected,
    out_of: u64,
    page: u32,
    started: Instant,
    hits: Vec<roster_core::search::Hit<roster_core::model::Organization>>,
) -> SearchPage<roster_core::model::Organization> {
    let mut string_facets = collected.facets.into_iter();
    let industry = facet_counts(
        FacetField::Industry,
        string_facets.next().unwrap_or_default(),
    );
    let country = facet_counts(
        FacetField::Country,
        string_facets.next().unwrap_or_default(),
    );
    let numeric = collected.numeric.unwrap_or_default();
    let total: u64 = numeric.counts.values().sum();
    let mut size = facet_counts(
        FacetField::Size,
        numeric
            .counts
            .iter()
            .map(|(v, c)| (v.to_string(), *c))
            .collect(),
    );
    size.stats = (total > 0).then(|| FacetStats {
        min: numeric.min.unwrap_or(0) as f64,
        max: numeric.max.unwrap_or(0) as f64,
        avg: numeric.sum / total as f64,
        sum: numeric.sum,
    });
    SearchPage {
        found: collected.found,
        out_of,
        page,
        search_time_ms: started.elapsed().as_millis() as u64,
        hits,
        facets: vec![industry, country, size],
    }
}
