//! `roster-bench`: generates N synthetic contacts deterministically, loads them through
//! Roster's write path into a fresh SQLite data directory, builds the search index, starts
//! the real `roster serve`, and runs a fixed query mix over HTTP with concurrent clients.
//! Then it loads the same contacts into PostgreSQL and runs the same queries the way
//! Chatwoot searches (`ILIKE '%q%'`), without and with a pg_trgm GIN index.
//!
//! Run it through `scripts/bench.sh`, which builds both binaries in release mode.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use roster_core::domain::{OrganizationId, WorkspaceId};
use roster_core::model::OrganizationData;
use roster_core::Roster;
use roster_search::SearchIndex;

mod data;
mod webhooks;
mod writes;

use data::{company_name, contact_data, person, with_typo, workspace_sizes, Person, Rng};

#[derive(Debug, Parser)]
struct Args {
    /// Contacts to generate.
    #[arg(long, default_value_t = 100_000)]
    contacts: u64,
    /// Workspaces (tenants) to spread them over; the largest holds 10%.
    #[arg(long, default_value_t = 200)]
    workspaces: usize,
    /// Concurrent HTTP clients (closed loop: each sends its next search when the last
    /// one is answered). They share the machine's cores with the server.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Searches to run against Roster in each round (after 500 warm-up searches).
    #[arg(long, default_value_t = 20_000)]
    queries: usize,
    /// Rounds of `--queries` searches: each is reported, and their spread (min, median,
    /// max), so one run shows how much the figures move.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Searches to run against each PostgreSQL variant.
    #[arg(long, default_value_t = 2_000)]
    postgres_queries: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// PostgreSQL server for the comparison (a database `roster_bench` is created on it).
    #[arg(
        long,
        env = "ROSTER_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Skip the PostgreSQL comparison.
    #[arg(long)]
    skip_postgres: bool,
    /// Only write the generated contacts as a CSV file for `roster import` (one
    /// workspace, with organizations by name), then exit.
    #[arg(long)]
    write_csv: Option<PathBuf>,
    /// Where to put the data directory (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Contacts created by this many clients while the searches run (the mixed load);
    /// they write into the largest workspace. Their latency is reported beside.
    #[arg(long, default_value_t = 0)]
    write_clients: usize,
    /// Only measure writes: this many creates by `--clients` clients against fresh
    /// workspaces (`--workspaces` of them), no searches, no PostgreSQL comparison.
    #[arg(long)]
    writes: Option<usize>,
    /// With `--writes`: the store the nodes share (a `postgres://` server gets a fresh
    /// database `roster_bench_writes`); SQLite in the data directory by default.
    #[arg(long)]
    database_url: Option<String>,
    /// With `--writes` on PostgreSQL: how many `roster serve` nodes share the database;
    /// clients are spread over them.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Only measure webhooks: write-to-delivery latency at `--webhook-rate` creates/s for
    /// `--webhook-seconds`, then events/s to one endpoint for `--writes` creates (default
    /// 20,000) by `--clients` clients.
    #[arg(long)]
    webhooks: bool,
    #[arg(long, default_value_t = 200)]
    webhook_rate: u32,
    #[arg(long, default_value_t = 10)]
    webhook_seconds: u32,
    /// Only measure an import of this many contacts (`roster import` beside a running
    /// server) into a workspace without a webhook, then into one whose `contact.created`
    /// goes to an endpoint on loopback, until every event was delivered.
    #[arg(long)]
    webhook_import: Option<u64>,
}

/// What a query looks for, and so how it is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Prefix,
    OneTypo,
    TwoTypos,
    Phone,
    Email,
}

#[derive(Debug, Clone)]
struct Probe {
    workspace: usize,
    text: String,
    kind: Kind,
    /// The display name the query aims at (typo queries count whether it came back).
    target: String,
}

struct Tenant {
    id: WorkspaceId,
    key: String,
    samples: Vec<Person>,
    size: u64,
}

#[derive(Default, Clone)]
struct Outcome {
    latencies: Vec<Duration>,
    /// `GET /healthz` answered while the searches ran (one probe every 5 ms on a
    /// connection of its own): what a load balancer's probe sees under load.
    health: Vec<Duration>,
    typo1: (usize, usize),
    typo2: (usize, usize),
    wall: Duration,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Some(path) = &args.write_csv {
        write_csv(path, args.contacts, args.seed);
        return;
    }
    if let Some(contacts) = args.webhook_import {
        import_with_webhook(contacts, args.seed).await;
        return;
    }
    if args.webhooks {
        webhook_benchmark(&args).await;
        return;
    }
    if let Some(writes) = args.writes {
        write_benchmark(&args, writes).await;
        return;
    }
    let temp = tempdir_path();
    let data_dir = args.data_dir.clone().unwrap_or_else(|| temp.clone());
    std::fs::create_dir_all(&data_dir).expect("data directory");
    println!(
        "# roster-bench: {} contacts in {} workspaces, {} clients, seed {}",
        args.contacts, args.workspaces, args.clients, args.seed
    );

    let started = Instant::now();
    let (tenants, tsv) = load(&args, &data_dir).await;
    let load_time = started.elapsed();
    println!(
        "loaded through the write path in {:.1} s",
        load_time.as_secs_f64()
    );

    let store = roster_store::open(None, &data_dir)
        .await
        .expect("store opens");
    let started = Instant::now();
    let index = SearchIndex::open(&data_dir.join("index"), store.clone())
        .await
        .expect("index builds");
    let index_time = started.elapsed();
    drop(index);
    drop(store);
    println!("index built in {:.1} s", index_time.as_secs_f64());

    let probes = probes(&tenants, args.queries + 500, args.seed);
    println!("machine before the searches: {}", machine::state());
    let mut server = Server::start(&data_dir, None);
    let (rounds, written) = run_roster(
        &server.base,
        &tenants,
        &probes,
        args.clients,
        args.write_clients,
        args.rounds.max(1),
    )
    .await;
    let mut roster = Outcome::default();
    for round in &rounds {
        merge(&mut roster, round.outcome.clone());
        roster.wall += round.outcome.wall;
        roster.health.extend(round.outcome.health.iter().copied());
    }
    let (rss, peak) = server.memory_kib();
    server.stop();
    let disk = dir_size(&data_dir);

    let mut rows = vec![("Roster (HTTP, facets + highlights)".to_owned(), roster)];
    if !args.skip_postgres {
        let pg_probes: Vec<Probe> = probes
            .iter()
            .skip(500)
            .take(args.postgres_queries)
            .cloned()
            .collect();
        for (label, outcome) in postgres(&args, &tenants, &tsv, &pg_probes).await {
            rows.push((label, outcome));
        }
    }

    println!();
    println!(
        "Roster, {} rounds of {} searches after 500 warm-up searches (not counted):",
        rounds.len(),
        args.queries
    );
    println!();
    println!("| round | p50 ms | p99 ms | searches/s | cores busy |");
    println!("|---|---|---|---|---|");
    let mut spread = [Vec::new(), Vec::new(), Vec::new()];
    for (n, round) in rounds.iter().enumerate() {
        let (p50, p99) = percentiles(&round.outcome.latencies);
        let throughput = round.outcome.latencies.len() as f64 / round.outcome.wall.as_secs_f64();
        println!(
            "| {} | {p50:.2} | {p99:.2} | {throughput:.0} | {:.0}% |",
            n + 1,
            round.busy * 100.0
        );
        for (figures, value) in spread.iter_mut().zip([p50, p99, throughput]) {
            figures.push(value);
        }
    }
    let [p50s, p99s, rates] = spread.map(min_median_max);
    println!();
    println!(
        "spread (min / median / max): p50 {:.2} / {:.2} / {:.2} ms, p99 {:.2} / {:.2} / {:.2} ms, {:.0} / {:.0} / {:.0} searches/s",
        p50s.0, p50s.1, p50s.2, p99s.0, p99s.1, p99s.2, rates.0, rates.1, rates.2
    );
    println!();
    println!("| engine | p50 ms | p99 ms | searches/s | 1-typo found | 2-typo found |");
    println!("|---|---|---|---|---|---|");
    for (label, outcome) in &rows {
        let (p50, p99) = percentiles(&outcome.latencies);
        let throughput = outcome.latencies.len() as f64 / outcome.wall.as_secs_f64();
        println!(
            "| {label} | {p50:.2} | {p99:.2} | {throughput:.0} | {} | {} |",
            share(outcome.typo1),
            share(outcome.typo2)
        );
    }
    if let Some(written) = written {
        let (p50, p99) = percentiles(&written.latencies);
        println!();
        println!(
            "writes beside the searches ({} clients): {:.0} creates/s, p50 {p50:.2} ms, p99 {p99:.2} ms",
            args.write_clients,
            written.latencies.len() as f64 / written.wall.as_secs_f64(),
        );
    }
    let roster_health = &rows[0].1.health;
    if !roster_health.is_empty() {
        let (p50, p99) = percentiles(roster_health);
        println!();
        println!(
            "health check while searching ({} clients): p50 {p50:.2} ms, p99 {p99:.2} ms ({} probes)",
            args.clients,
            roster_health.len()
        );
    }
    println!();
    println!(
        "| contacts | load | index build | server RSS | server peak RSS | disk (db + index) |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {:.1} s | {:.1} s | {} MiB | {} MiB | {} MiB |",
        args.contacts,
        load_time.as_secs_f64(),
        index_time.as_secs_f64(),
        rss / 1024,
        peak / 1024,
        disk / (1024 * 1024)
    );
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
}

/// The generated people as a CSV in Roster's import columns.
fn write_csv(path: &Path, contacts: u64, seed: u64) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("the CSV file can be created");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng::new(seed);
    let companies = (contacts / 50).max(1) as usize;
    writeln!(
        out,
        "name,first_name,last_name,email,phone,external_id,language,organizations"
    )
    .expect("write");
    for serial in 0..contacts {
        let person = person(&mut rng, serial, companies);
        let data = contact_data(&person, &mut rng, None);
        writeln!(
            out,
            "{} {},{},{},{},{},CRM-{serial},{},{}",
            person.first,
            person.last,
            person.first,
            person.last,
            person.email,
            person.phone.as_ref().map_or("", |p| p.as_str()),
            data.language.as_ref().map_or("", |l| l.as_str()),
            company_name(&mut Rng::new(person.company as u64), person.company),
        )
        .expect("write");
    }
    out.flush().expect("write");
}

fn tempdir_path() -> PathBuf {
    let path = std::env::temp_dir().join(format!("roster-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    path
}

fn share((found, total): (usize, usize)) -> String {
    if total == 0 {
        "–".into()
    } else {
        format!("{:.1}% of {total}", 100.0 * found as f64 / total as f64)
    }
}

fn percentiles(latencies: &[Duration]) -> (f64, f64) {
    let mut sorted: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (at(0.5), at(0.99))
}

/// Creates the workspaces, keys, organizations and contacts; returns the tenants and the
/// same contacts as TSV rows for PostgreSQL.
async fn load(args: &Args, data_dir: &Path) -> (Vec<Tenant>, Vec<u8>) {
    let store = roster_store::open(None, data_dir)
        .await
        .expect("store opens");
    let roster = Roster::new(store.clone()).await.expect("roster");
    let mut rng = Rng::new(args.seed);
    let mut tenants = Vec::new();
    let mut tsv = Vec::new();
    let mut serial = 0u64;
    for (index, size) in workspace_sizes(args.contacts, args.workspaces)
        .into_iter()
        .enumerate()
    {
        let (workspace, key) = tenant(&roster, &format!("Tenant {index}")).await;
        let companies = ((size / 40) as usize).clamp(1, 500);
        let mut organizations: Vec<OrganizationId> = Vec::with_capacity(companies);
        for c in 0..companies {
            let data = OrganizationData {
                name: company_name(&mut rng, c),
                ..OrganizationData::default()
            };
            organizations.push(
                store
                    .create_organization(workspace, &data)
                    .await
                    .expect("organization")
                    .id,
            );
        }
        let stride = (size / 1000).max(1);
        let mut samples = Vec::new();
        let mut batch = Vec::with_capacity(2000);
        for i in 0..size {
            let p = person(&mut rng, serial, companies);
            serial += 1;
            let organization = (rng.below(10) < 6).then(|| organizations[p.company]);
            batch.push(contact_data(&p, &mut rng, organization));
            let phone = p
                .phone
                .as_ref()
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default();
            tsv.extend_from_slice(
                format!(
                    "{}\t{} {}\t{}\t{}\t{}-{}\n",
                    workspace, p.first, p.last, p.email, phone, workspace, i
                )
                .as_bytes(),
            );
            if i % stride == 0 {
                samples.push(p);
            }
            if batch.len() == 2000 {
                store
                    .create_contacts(workspace, &batch)
                    .await
                    .expect("batch");
                batch.clear();
            }
        }
        store
            .create_contacts(workspace, &batch)
            .await
            .expect("batch");
        tenants.push(Tenant {
            id: workspace,
            key,
            samples,
            size,
        });
    }
    (tenants, tsv)
}

/// A fresh workspace and a key for it that may do everything.
async fn tenant(roster: &Roster, name: &str) -> (WorkspaceId, String) {
    let workspace = roster.create_workspace(name).await.expect("workspace");
    let key = roster
        .issue_key(workspace.id, "bench", vec!["*".into()], None)
        .await
        .expect("key")
        .secret;
    (workspace.id, key)
}

/// The fixed query mix, aimed at sampled contacts of workspaces picked by size.
fn probes(tenants: &[Tenant], count: usize, seed: u64) -> Vec<Probe> {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let total: u64 = tenants.iter().map(|t| t.size).sum();
    let mut probes = Vec::with_capacity(count);
    while probes.len() < count {
        let mut pick = rng.below(total);
        let workspace = tenants.iter().position(|t| {
            if pick < t.size {
                true
            } else {
                pick -= t.size;
                false
            }
        });
        let Some(workspace) = workspace else { continue };
        let Some(p) = tenants[workspace]
            .samples
            .get(rng.below(tenants[workspace].samples.len() as u64) as usize)
        else {
            continue;
        };
        let target = format!("{} {}", p.first, p.last);
        let (kind, text) = match probes.len() % 8 {
            0 => (Kind::Word, p.last.clone()),
            1 => {
                let take = 1 + rng.below(5) as usize;
                (Kind::Prefix, p.first.chars().take(take).collect())
            }
            2 | 6 => {
                if p.last.chars().count() >= 4 {
                    (
                        Kind::OneTypo,
                        format!("{} {}", p.first, with_typo(&mut rng, &p.last)),
                    )
                } else {
                    (
                        Kind::OneTypo,
                        format!("{} {}", with_typo(&mut rng, &p.first), p.last),
                    )
                }
            }
            3 => {
                let (long, other, long_is_last) =
                    if p.last.chars().count() >= p.first.chars().count() {
                        (&p.last, &p.first, true)
                    } else {
                        (&p.first, &p.last, false)
                    };
                if long.chars().count() < 7 {
                    continue;
                }
                let once = with_typo(&mut rng, long);
                let twice = with_typo(&mut rng, &once);
                let text = if long_is_last {
                    format!("{other} {twice}")
                } else {
                    format!("{twice} {other}")
                };
                (Kind::TwoTypos, text)
            }
            4 => {
                let Some(phone) = &p.phone else { continue };
                let national = phone.national_digits();
                let text = if rng.below(2) == 0 {
                    format!(
                        "0{} {}",
                        &national[..3.min(national.len())],
                        &national[3.min(national.len())..7.min(national.len())]
                    )
                } else {
                    let digits = phone.digits();
                    let cc = digits.len() - national.len();
                    format!("+{} {}", &digits[..cc], &national[..5.min(national.len())])
                };
                (Kind::Phone, text)
            }
            5 => {
                let local = p.email.split('@').next().unwrap_or_default();
                (
                    Kind::Email,
                    local.chars().take(6 + rng.below(6) as usize).collect(),
                )
            }
            _ => (Kind::Word, format!("{} {}", p.first, p.last)),
        };
        probes.push(Probe {
            workspace,
            text,
            kind,
            target,
        });
    }
    probes
}

/// Runs the probes over HTTP with `clients` concurrent clients; the first 500 warm up.
/// The searches against the running server, with `writers` clients creating contacts in
/// the largest workspace meanwhile (their outcome is the second value).
/// One measured round: what the searches did, and how busy the machine's cores were.
struct Round {
    outcome: Outcome,
    busy: f64,
}

/// The warm-up, then `rounds` measured rounds over the same searches; the writes of the
/// last round, with `writers`.
async fn run_roster(
    base: &str,
    tenants: &[Tenant],
    probes: &[Probe],
    clients: usize,
    writers: usize,
    rounds: usize,
) -> (Vec<Round>, Option<writes::WriteOutcome>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        tenants
            .iter()
            .map(|t| {
                (
                    format!("{base}/v1/chatbots/{}/contacts/search", t.id),
                    t.key.clone(),
                )
            })
            .collect(),
    );
    let probes = Arc::new(probes.to_vec());
    let warmup = 500.min(probes.len());
    let largest = tenants.iter().max_by_key(|t| t.size).expect("a tenant");
    let write_target = writes::Target {
        base: base.to_owned(),
        workspace: largest.id.get(),
        key: largest.key.clone(),
    };
    let serial = Arc::new(AtomicUsize::new(0));
    let run = |range: std::ops::Range<usize>| {
        let (client, targets, probes) = (client.clone(), targets.clone(), probes.clone());
        let (write_target, serial) = (write_target.clone(), serial.clone());
        async move {
            let next = Arc::new(AtomicUsize::new(range.start));
            let started = Instant::now();
            let searching = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let health = tokio::spawn(probe_health(
                format!("{}/healthz", base_url(&targets[0].0)),
                searching.clone(),
            ));
            let writing = (writers > 0).then(|| {
                let until = writes::Until::Flag(searching.clone());
                tokio::spawn(async move {
                    writes::run_writes(&[write_target], writers, until, serial).await
                })
            });
            let mut workers = Vec::new();
            for _ in 0..clients {
                let (client, targets, probes, next, end) = (
                    client.clone(),
                    targets.clone(),
                    probes.clone(),
                    next.clone(),
                    range.end,
                );
                workers.push(tokio::spawn(async move {
                    let mut outcome = Outcome::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            break;
                        }
                        let probe = &probes[i];
                        let (url, key) = &targets[probe.workspace];
                        let sent = Instant::now();
                        let response = client
                            .get(url)
                            .header("x-chatcaptain-key", key)
                            .query(&[
                                ("query", probe.text.as_str()),
                                ("page", "1"),
                                ("pageSize", "10"),
                            ])
                            .send()
                            .await
                            .expect("roster answers");
                        assert!(response.status().is_success(), "{}", response.status());
                        let body: SearchBody = response.json().await.expect("JSON");
                        outcome.latencies.push(sent.elapsed());
                        let found =
                            body.results.hits.iter().any(|hit| {
                                hit.contact.name.as_deref() == Some(probe.target.as_str())
                            });
                        tally(&mut outcome, probe.kind, found);
                    }
                    outcome
                }));
            }
            let mut total = Outcome::default();
            for worker in workers {
                merge(&mut total, worker.await.expect("worker"));
            }
            total.wall = started.elapsed();
            searching.store(false, Ordering::Relaxed);
            total.health = health.await.expect("health prober");
            let written = match writing {
                Some(writing) => Some(writing.await.expect("writers")),
                None => None,
            };
            (total, written)
        }
    };
    run(0..warmup).await;
    let mut measured = Vec::new();
    let mut written = None;
    for _ in 0..rounds {
        let before = machine::cpu_times();
        let (outcome, writes) = run(warmup..probes.len()).await;
        let busy = machine::busy_since(before);
        measured.push(Round { outcome, busy });
        written = writes.or(written);
    }
    (measured, written)
}

/// The smallest, the median and the largest of `figures`.
fn min_median_max(mut figures: Vec<f64>) -> (f64, f64, f64) {
    figures.sort_by(f64::total_cmp);
    let at = |i: usize| figures.get(i).copied().unwrap_or(0.0);
    (
        at(0),
        at(figures.len() / 2),
        at(figures.len().saturating_sub(1)),
    )
}

/// What the machine was doing: a benchmark's figures mean little without it.
mod machine {
    /// Total and idle CPU time so far, from `/proc/stat` (zeros where there is none).
    pub fn cpu_times() -> (u64, u64) {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: idle and iowait are idle.
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        (fields.iter().take(8).sum(), idle)
    }

    /// The share of the cores' time that was busy since `before`.
    pub fn busy_since(before: (u64, u64)) -> f64 {
        let after = cpu_times();
        let total = after.0.saturating_sub(before.0);
        let idle = after.1.saturating_sub(before.1);
        match total {
            0 => 0.0,
            _ => 1.0 - idle as f64 / total as f64,
        }
    }

    fn meminfo_gib(meminfo: &str, field: &str) -> f64 {
        meminfo
            .lines()
            .find(|line| line.starts_with(field))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / (1024.0 * 1024.0))
    }

    /// Cores, load, how busy the cores were over the last second, and the page cache.
    pub fn state() -> String {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        let before = cpu_times();
        std::thread::sleep(std::time::Duration::from_secs(1));
        let busy = busy_since(before);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        format!(
            "{cores} cores, load {}, {:.0}% busy over the last second, {:.1} GiB in the page cache, {:.1} GiB available",
            load.join(" "),
            busy * 100.0,
            meminfo_gib(&meminfo, "Cached:"),
            meminfo_gib(&meminfo, "MemAvailable:"),
        )
    }
}

/// `--writes`: creates through the API against fresh workspaces on one or more nodes.
async fn write_benchmark(args: &Args, count: usize) {
    let temp = tempdir_path();
    let database_url = match &args.database_url {
        Some(url) if url.starts_with("postgres") => {
            Some(fresh_postgres_database(url, "roster_bench_writes").await)
        }
        Some(url) => Some(url.clone()),
        None => None,
    };
    let node_dir = |node: usize| temp.join(format!("node{node}"));
    let store = roster_store::open(database_url.as_deref(), &node_dir(0))
        .await
        .expect("store opens");
    let roster = Roster::new(store.clone()).await.expect("roster");
    let mut tenants = Vec::new();
    for index in 0..args.workspaces.max(1) {
        let (workspace, key) = tenant(&roster, &format!("Writers {index}")).await;
        tenants.push((workspace.get(), key));
    }
    drop(roster);
    drop(store);
    let nodes = args.nodes.max(1);
    let mut servers: Vec<Server> = (0..nodes)
        .map(|node| Server::start(&node_dir(node), database_url.as_deref()))
        .collect();
    let targets: Vec<writes::Target> = (0..args.clients)
        .map(|i| {
            let (workspace, key) = &tenants[i % tenants.len()];
            writes::Target {
                base: servers[i % nodes].base.clone(),
                workspace: *workspace,
                key: key.clone(),
            }
        })
        .collect();
    let serial = Arc::new(AtomicUsize::new(0));
    let warmup = writes::Until::Count(500);
    writes::run_writes(&targets, args.clients, warmup, serial.clone()).await;
    let outcome =
        writes::run_writes(&targets, args.clients, writes::Until::Count(count), serial).await;
    for server in &mut servers {
        server.stop();
    }
    let (p50, p99) = percentiles(&outcome.latencies);
    let store = match &database_url {
        Some(url) if url.starts_with("postgres") => "PostgreSQL",
        _ => "SQLite",
    };
    println!("| store | nodes | workspaces | clients | creates | creates/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {store} | {nodes} | {} | {} | {} | {:.0} | {p50:.2} | {p99:.2} |",
        tenants.len(),
        args.clients,
        outcome.latencies.len(),
        outcome.latencies.len() as f64 / outcome.wall.as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&temp);
}

/// `--webhooks`: one SQLite node, one workspace, one endpoint on loopback.
async fn webhook_benchmark(args: &Args) {
    let temp = tempdir_path();
    let store = roster_store::open(None, &temp).await.expect("store opens");
    let roster = Roster::new(store.clone()).await.expect("roster");
    let (workspace, key) = tenant(&roster, "Webhooks").await;
    let receiver = webhooks::subscribe(&roster, workspace).await;
    drop(roster);
    drop(store);
    let mut server = Server::start(&temp, None);
    let target = writes::Target {
        base: server.base.clone(),
        workspace: workspace.get(),
        key,
    };
    // Warm up the connections, the statements and the sender.
    webhooks::latency(&target, &receiver, 100, 1).await;
    let latencies =
        webhooks::latency(&target, &receiver, args.webhook_rate, args.webhook_seconds).await;
    let (p50, p99) = percentiles(&latencies);
    println!(
        "write to webhook received, {} creates/s for {} s: {} events, p50 {p50:.2} ms, p99 {p99:.2} ms",
        args.webhook_rate,
        args.webhook_seconds,
        latencies.len()
    );
    let count = args.writes.unwrap_or(20_000);
    let targets = vec![target; args.clients.max(1)];
    let serial = Arc::new(AtomicUsize::new(0));
    let (writing, delivered) =
        webhooks::throughput(&targets, &receiver, args.clients.max(1), count, serial).await;
    println!(
        "{count} creates by {} clients: written in {:.1} s ({:.0}/s), all delivered {:.1} s after the first ({:.0} events/s)",
        args.clients,
        writing.as_secs_f64(),
        count as f64 / writing.as_secs_f64(),
        delivered.as_secs_f64(),
        count as f64 / delivered.as_secs_f64(),
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&temp);
}

/// How `--webhook-import` runs an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImportRun {
    /// Beside a running server, no webhook.
    Plain,
    /// Beside a running server that delivers to one webhook as the import writes.
    Delivered,
    /// With no server running (the events wait in the outbox); then a server starts and
    /// sends the backlog: what one endpoint is sent per second.
    Backlog,
}

/// `--webhook-import`: the same CSV imported without and with one webhook subscribed,
/// then as a backlog the server drains.
async fn import_with_webhook(contacts: u64, seed: u64) {
    let temp = tempdir_path();
    std::fs::create_dir_all(&temp).expect("temporary directory");
    let csv = temp.join("contacts.csv");
    write_csv(&csv, contacts, seed);
    for run in [ImportRun::Plain, ImportRun::Delivered, ImportRun::Backlog] {
        let data = temp.join(format!("data-{run:?}"));
        let store = roster_store::open(None, &data).await.expect("store opens");
        let roster = Roster::new(store.clone()).await.expect("roster");
        let (workspace, _) = tenant(&roster, "Import").await;
        let receiver = match run {
            ImportRun::Plain => None,
            _ => Some(webhooks::subscribe(&roster, workspace).await),
        };
        drop(roster);
        drop(store);
        let mut server = (run != ImportRun::Backlog).then(|| Server::start(&data, None));
        let started = Instant::now();
        let created = roster_import(&data, workspace, &csv);
        let imported = started.elapsed();
        let count = usize::try_from(created).expect("a count");
        match receiver {
            None => println!(
                "import of {contacts} contacts, no webhook: {:.1} s",
                imported.as_secs_f64()
            ),
            Some(receiver) if run == ImportRun::Delivered => {
                let last = receiver.wait_for(count, Duration::from_secs(1800)).await;
                println!(
                    "import of {contacts} contacts, one webhook: {:.1} s; {} of {created} contact.created events delivered {:.1} s after the import started",
                    imported.as_secs_f64(),
                    receiver.received(),
                    last.duration_since(started).as_secs_f64(),
                );
            }
            Some(receiver) => {
                let starting = Instant::now();
                server = Some(Server::start(&data, None));
                let serving = Instant::now();
                let last = receiver.wait_for(count, Duration::from_secs(1800)).await;
                let sending = last.duration_since(serving).as_secs_f64();
                println!(
                    "backlog of {created} events sent to one endpoint by a server started after the import: {} delivered in {sending:.1} s after it served ({:.0} events/s; start {:.1} s)",
                    receiver.received(),
                    created as f64 / sending,
                    serving.duration_since(starting).as_secs_f64(),
                );
            }
        }
        if let Some(server) = server.as_mut() {
            server.stop();
        }
    }
    let _ = std::fs::remove_dir_all(&temp);
}

/// `roster import` of `csv` into the workspace; answers how many contacts it created
/// (only those yield `contact.created`).
fn roster_import(data: &Path, workspace: WorkspaceId, csv: &Path) -> u64 {
    let import = Command::new(
        std::env::current_exe()
            .expect("own path")
            .with_file_name("roster"),
    )
    .args(["import", "--workspace", &workspace.get().to_string()])
    .arg(csv)
    .env("ROSTER_DATA_DIR", data)
    .env_remove("ROSTER_DATABASE_URL")
    .stderr(Stdio::null())
    .output()
    .expect("roster import runs");
    assert!(import.status.success(), "roster import failed");
    // The summary comes last.
    let report = String::from_utf8_lossy(&import.stdout);
    let summary: serde_json::Value = report
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .expect("the import's summary");
    summary["summary"]["created"]
        .as_u64()
        .expect("a created count")
}

/// Drops and creates database `name` on the server of `url`; answers its URL.
async fn fresh_postgres_database(url: &str, name: &str) -> String {
    use sqlx::{Connection, PgConnection};
    let mut admin = PgConnection::connect(url)
        .await
        .expect("PostgreSQL reachable");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create");
    match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("the PostgreSQL URL must end in /<database>"),
    }
}

/// The server's base URL from one of its endpoint URLs.
fn base_url(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or(url, |slash| &url[..after_scheme + slash])
}

/// Probes `url` every 5 ms until `running` turns false; the latencies of the answers.
async fn probe_health(url: String, running: Arc<std::sync::atomic::AtomicBool>) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    while running.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let answer = client.get(&url).send().await.expect("roster answers");
        assert!(answer.status().is_success(), "{}", answer.status());
        latencies.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies
}

/// What the load generator reads of a search answer: the hits' names. Only these are
/// decoded, so the client spends less of the shared CPU than the server it measures.
#[derive(serde::Deserialize)]
struct SearchBody {
    results: SearchHits,
}

#[derive(serde::Deserialize)]
struct SearchHits {
    hits: Vec<SearchHit>,
}

#[derive(serde::Deserialize)]
struct SearchHit {
    contact: HitName,
}

#[derive(serde::Deserialize)]
struct HitName {
    name: Option<String>,
}

fn tally(outcome: &mut Outcome, kind: Kind, found: bool) {
    let slot = match kind {
        Kind::OneTypo => &mut outcome.typo1,
        Kind::TwoTypos => &mut outcome.typo2,
        _ => return,
    };
    slot.0 += usize::from(found);
    slot.1 += 1;
}

fn merge(total: &mut Outcome, part: Outcome) {
    total.latencies.extend(part.latencies);
    total.typo1 = (total.typo1.0 + part.typo1.0, total.typo1.1 + part.typo1.1);
    total.typo2 = (total.typo2.0 + part.typo2.0, total.typo2.1 + part.typo2.1);
}

/// Chatwoot's contact search on the same data: tenant-scoped `ILIKE '%q%'` over name,
/// email and phone and `LIKE` over the identifier, 16 rows, no order; first with the
/// account index only, then with a pg_trgm GIN index as Chatwoot ships.
async fn postgres(
    args: &Args,
    tenants: &[Tenant],
    tsv: &[u8],
    probes: &[Probe],
) -> Vec<(String, Outcome)> {
    use sqlx::{Connection, PgConnection};
    let url = fresh_postgres_database(&args.postgres_url, "roster_bench").await;
    let mut admin = PgConnection::connect(&args.postgres_url)
        .await
        .expect("PostgreSQL reachable");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(args.clients as u32)
        .connect(&url)
        .await
        .expect("pool");
    sqlx::query("CREATE TABLE contacts (id bigserial PRIMARY KEY, account_id bigint NOT NULL, name text, email text, phone_number text, identifier text)")
        .execute(&pool)
        .await
        .expect("table");
    let mut conn = pool.acquire().await.expect("connection");
    let mut copy = conn
        .copy_in_raw("COPY contacts (account_id, name, email, phone_number, identifier) FROM STDIN")
        .await
        .expect("copy");
    for chunk in tsv.chunks(1 << 20) {
        copy.send(chunk).await.expect("copy data");
    }
    copy.finish().await.expect("copy done");
    drop(conn);
    sqlx::query("CREATE INDEX ON contacts (account_id)")
        .execute(&pool)
        .await
        .expect("index");
    sqlx::query("ANALYZE contacts")
        .execute(&pool)
        .await
        .expect("analyze");

    let mut rows = Vec::new();
    rows.push((
        "PostgreSQL ILIKE (account index)".to_owned(),
        run_postgres(&pool, tenants, probes, args.clients).await,
    ));
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .execute(&pool)
        .await
        .expect("pg_trgm");
    sqlx::query("CREATE INDEX ON contacts USING gin (name gin_trgm_ops, email gin_trgm_ops, phone_number gin_trgm_ops, identifier gin_trgm_ops)")
        .execute(&pool)
        .await
        .expect("trigram index");
    sqlx::query("ANALYZE contacts")
        .execute(&pool)
        .await
        .expect("analyze");
    rows.push((
        "PostgreSQL ILIKE + pg_trgm GIN".to_owned(),
        run_postgres(&pool, tenants, probes, args.clients).await,
    ));
    pool.close().await;
    sqlx::query("DROP DATABASE IF EXISTS roster_bench WITH (FORCE)")
        .execute(&mut admin)
        .await
        .expect("drop");
    rows
}

async fn run_postgres(
    pool: &sqlx::PgPool,
    tenants: &[Tenant],
    probes: &[Probe],
    clients: usize,
) -> Outcome {
    let probes = Arc::new(probes.to_vec());
    let accounts: Arc<Vec<i64>> = Arc::new(tenants.iter().map(|t| t.id.get()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (pool, probes, accounts, next) =
            (pool.clone(), probes.clone(), accounts.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(probe) = probes.get(i) else { break };
                let pattern = format!("%{}%", probe.text.trim());
                let sent = Instant::now();
                let names: Vec<Option<String>> = sqlx::query_scalar(
                    "SELECT name FROM contacts WHERE account_id = $1 AND (name ILIKE $2 OR email ILIKE $2 \
                     OR phone_number ILIKE $2 OR identifier LIKE $2) LIMIT 16",
                )
                .bind(accounts[probe.workspace])
                .bind(&pattern)
                .fetch_all(&pool)
                .await
                .expect("query");
                outcome.latencies.push(sent.elapsed());
                let found = names.iter().take(15).any(|n| n.as_deref() == Some(probe.target.as_str()));
                tally(&mut outcome, probe.kind, found);
            }
            outcome
        }));
    }
    let mut total = Outcome::default();
    for worker in workers {
        merge(&mut total, worker.await.expect("worker"));
    }
    total.wall = started.elapsed();
    total
}

/// The real server, as a child process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, database_url: Option<&str>) -> Server {
        let binary = std::env::current_exe()
            .expect("own path")
            .with_file_name("roster");
        let mut command = Command::new(&binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("ROSTER_DATA_DIR", data_dir)
            .env("ROSTER_WEBHOOK_KEY", webhooks::BENCH_WEBHOOK_KEY)
            .env("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true")
            .env_remove("ROSTER_DATABASE_URL");
        if let Some(url) = database_url {
            command.env("ROSTER_DATABASE_URL", url);
        }
        let mut child = command
            .env("RUST_LOG", "warn,roster=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {}: {e} (build it with cargo build --release -p roster)",
                    binary.display()
                )
            });
        let stderr = child.stderr.take().expect("stderr");
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("address=").nth(1) {
                    let _ = found.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(600))
            .expect("roster serve starts");
        Server {
            child,
            base: format!("http://{address}"),
        }
    }

    /// Current and peak resident memory, in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Asks the server to stop (SIGTERM) and waits; once stopped, stopping again (as the
    /// drop does) does nothing.
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
        }
        let _ = self.child.wait();
    }
}

/// A benchmark that panics must not leave its servers running.
impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
