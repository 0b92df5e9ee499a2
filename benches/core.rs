//! Throughput of the scoring core, in events per second (one core).
//!
//! - `score/pre_decoded`: `Scorer::apply` on staged lead state, events
//!   already decoded;
//! - `score/json` and `score/protobuf`: the same, decoding each record first
//!   (`codec::decode_event`, as the Kafka loop does);
//! - `publish/json`: decode + score plus what the loop does per changed lead
//!   at each commit (changelog state and score record encoding);
//! - `watches/*`: `PartitionState::apply_watched` (the service's step, with
//!   the sales desk) with no watches, 100,000 watches none of which any
//!   event's lead, email, domain or account hits, and 100,000 of which
//!   1,000 watch leads of the stream (a pricing-page glob) and one a
//!   company of it, and 100,000 mixed ones (companies, people, leads;
//!   page, form and any-event conditions; 0.6% on the stream's
//!   people, leads and companies). The group ends with `none`,
//!   `100k_unmatched`, `100k_mixed_quiet` (the mixed targets with a
//!   condition no event meets: the look-ups without the alerts) and
//!   `100k_mixed` alternated ten times in thread CPU time, printing the
//!   ratios of their fastest passes;
//! - `refresh_1m_leads`: 2M events for 1M leads through a partition
//!   (desk and timer index) without and with the model's `[refresh]`,
//!   alternated three times in thread CPU time, printing the ratio of the
//!   fastest passes (a pass takes seconds: too long for criterion).
//! - `accounts/*`: the cost of a model's `[account]`: events through a
//!   partition as in `refresh_1m_leads`, the leads' changelog and score
//!   records encoded at each commit as in `publish/json`, each changed
//!   lead score making its account's contribution as the service does
//!   (the account key, the contribution encoded for `lead-accounts` and
//!   decoded on the account's partition, `AccountScorer::apply`, and at
//!   each commit the changed accounts' changelog state and score records
//!   encoded). `plain` has no
//!   account code at all, `off` runs it with the example model (no
//!   `[account]`: the service's per-step check and nothing else), `on`
//!   with an `[account]` section; the leads belong to accounts of about
//!   five people (an `account_id` per five leads). The group ends with
//!   `accounts_1m_leads`: 2M events for 1M leads, the three alternated
//!   three times in thread CPU time with the ratios of their fastest
//!   passes, and the RSS growth per lead of `off` and `on` (each state
//!   kept alive while the next is built, as `leadpulse-bench
//!   state-memory` measures bytes per lead).
//!
//! A filter on the command line (`-- watches`) skips the other groups'
//! set-up too, not only their criterion cases.
//!
//! Events come from the deterministic generator and are scored with
//! `examples/model.toml`, committed every `BATCH` events like one Kafka
//! transaction. `cargo bench --bench core` runs it in full; `cargo test
//! --all-targets` (which passes no `--bench`, and may pass test-harness
//! flags such as `--test-threads`) runs each case once on a small stream,
//! without criterion, as a smoke test that asserts nothing about time.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput};
use leadpulse::codec::{self, decode_event, Format};
use leadpulse::core::{
    AccountKey, AccountScorer, AccountState, Desk, Event, EventCondition, EventConditionSpec,
    EventType, LeadContribution, LeadStore, Model, PartitionState, Scorer, Target, Watch, Watches,
};
use leadpulse::tools::generate::{Generator, GeneratorConfig};

/// The service's allocator (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per committed batch: about one 100 ms transaction at 20k events/s.
const BATCH: usize = 2_000;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn model() -> Arc<Model> {
    let text = include_str!("../examples/model.toml");
    Arc::new(Model::from_toml("examples/model.toml", text).expect("the example model loads"))
}

/// The example model with the decay refresh on (`[refresh]`, step 1).
fn model_with_refresh() -> Arc<Model> {
    let text = format!("{}\n[refresh]\n", include_str!("../examples/model.toml"));
    Arc::new(Model::from_toml("examples/model.toml", &text).expect("the model loads"))
}

/// Events through one partition as the service applies them: the desk,
/// the timer index (due timers fired on stream time after each batch, as
/// during a backlog) and a commit per batch. Returns timers fired, and the
/// partition so that criterion drops it outside the timed part.
fn through_partition(desk: &Desk, events: &[Event]) -> (usize, PartitionState) {
    let mut p = PartitionState::default();
    let mut fired = 0;
    for batch in events.chunks(BATCH) {
        for event in batch {
            let step = p.apply(desk, event).expect("generated events fit");
            black_box(step.outcome.score_changed);
        }
        let now = p.stream_time();
        while let Some((_, step)) = p.fire_next(desk, now) {
            black_box(step.outcome.score_changed);
            fired += 1;
        }
        p.store_mut().commit();
    }
    (fired, p)
}

/// The example model with an `[account]` section: a decayed sum of the
/// people's engagement, breadth in a fortnight, both thresholds.
fn model_with_accounts() -> Arc<Model> {
    let text = format!(
        "{}\n[account]\nhalf_life_days = 14\nengaged_above = 10\nscore_at_least = 150\nbreadth_at_least = 4\nrearm_below = 60\n",
        include_str!("../examples/model.toml")
    );
    Arc::new(Model::from_toml("examples/model.toml", &text).expect("the model loads"))
}

/// `events` with an `account_id` per five leads (from the lead id's
/// number), so accounts have a handful of people as B2B accounts do; the
/// generator's own companies are 15 for any number of leads.
fn in_accounts(mut events: Vec<Event>) -> Vec<Event> {
    for e in &mut events {
        let n: u64 = e
            .lead_id
            .bytes()
            .filter(u8::is_ascii_digit)
            .fold(0, |n, b| n * 10 + u64::from(b - b'0'));
        e.account_id = Some(format!("acct-{}", n / 5));
    }
    events
}

/// The accounts of one partition, and how many alerts they raised.
type Book = (BTreeMap<AccountKey, AccountState>, usize);

/// [`through_partition`] with the leads' own records encoded at each
/// commit (as [`publish`]), and the service's account hop when `hop`: each
/// changed lead score's contribution, encoded and decoded as it crosses
/// `lead-accounts`, applied to its account, and the changed accounts'
/// state and score records encoded at each commit. The scorer is looked
/// up per step as `service::accounts::contribute` does, so a model
/// without `[account]` pays what the service pays for it.
fn through_accounts(desk: &Desk, events: &[Event], hop: bool) -> (PartitionState, Book) {
    let mut p = PartitionState::default();
    let mut accounts: BTreeMap<AccountKey, AccountState> = BTreeMap::new();
    let mut changed: Vec<AccountKey> = Vec::new();
    let mut alerts = 0;
    for batch in events.chunks(BATCH) {
        for event in batch {
            let step = p.apply(desk, event).expect("generated events fit");
            black_box(step.outcome.score_changed);
            if !(hop && step.outcome.score_changed) {
                continue;
            }
            let Some(scorer) = AccountScorer::new(desk.scorer().model().clone()) else {
                continue;
            };
            let Some(key) = scorer.key_of(&step.lead.attributes) else {
                continue;
            };
            let score = desk.scorer().score_of(&event.lead_id, step.lead);
            let c = LeadContribution::of(key, &score, step.lead, scorer.rules());
            let bytes = codec::encode_contribution(&c, Format::Protobuf);
            let c = codec::decode_contribution(&bytes).expect("it round-trips");
            let state = accounts.entry(c.account.clone()).or_default();
            let out = scorer.apply(state, &c);
            if let Some(alert) = out.alert {
                black_box(codec::encode_account_alert(&alert, Format::Json));
                alerts += 1;
            }
            if out.changed {
                changed.push(c.account);
            }
        }
        if let Some(scorer) = AccountScorer::new(desk.scorer().model().clone()) {
            changed.sort_unstable();
            changed.dedup();
            for key in changed.drain(..) {
                let state = &accounts[&key];
                black_box(codec::encode_account_state(&key, state));
                let score = scorer.score_of(&key, state);
                black_box(codec::encode_account_score(&score, Format::Json));
            }
        }
        publish(desk.scorer(), p.store());
        p.store_mut().commit();
    }
    (p, (accounts, alerts))
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// `plain`, `off` and `on` (see the module doc) alternated `rounds` times
/// in thread CPU time, the ratios of their fastest passes; before them,
/// the RSS growth per lead of an `off` and an `on` state built one after
/// the other, both kept.
fn accounts_interleaved(events: &[Event], rounds: usize) {
    let off = Desk::new(Scorer::new(model()), None);
    let on = Desk::new(Scorer::new(model_with_accounts()), None);
    // Memory first, on a fresh heap: after the timed passes, freed pages
    // would be reused and hide the growth.
    let before = rss_bytes();
    let kept_off = through_accounts(&off, events, true);
    let after_off = rss_bytes();
    let kept_on = through_accounts(&on, events, true);
    let after_on = rss_bytes();
    let leads = kept_on.0.store().len().max(1) as f64;
    let accounts = kept_on.1 .0.len().max(1) as f64;
    let (off_bytes, on_bytes) = (
        after_off.saturating_sub(before) as f64,
        after_on.saturating_sub(after_off) as f64,
    );
    println!(
        "accounts_1m_leads memory (RSS growth): off {:.0} bytes/lead, on {:.0} bytes/lead; \
         the accounts' {:.0} bytes/lead = {:.0} bytes per account ({} accounts)",
        off_bytes / leads,
        on_bytes / leads,
        (on_bytes - off_bytes) / leads,
        (on_bytes - off_bytes) / accounts,
        accounts
    );
    drop(black_box((kept_off, kept_on)));
    let cases = [
        ("plain", &off, false),
        ("off", &off, true),
        ("on", &on, true),
    ];
    let mut best = [f64::MAX; 3];
    for round in 0..rounds {
        for (i, (name, desk, hop)) in cases.iter().enumerate() {
            let (took, (p, (accounts, alerts))) = cpu(|| through_accounts(desk, events, *hop));
            if round == 0 {
                let people: usize = accounts.values().map(|a| a.people.len()).sum();
                println!(
                    "accounts {name}: {} leads, {} accounts, {people} people, {alerts} account alerts",
                    p.store().len(),
                    accounts.len()
                );
            }
            drop(black_box((p, accounts)));
            best[i] = best[i].min(took.as_secs_f64());
        }
    }
    let rate = |s: f64| events.len() as f64 / s / 1000.0;
    println!(
        "accounts_1m_leads interleaved ({rounds} rounds, fastest pass, thread CPU): \
         plain {:.0}k events/s, off {:.0}k events/s, on {:.0}k events/s; \
         off / plain = {:.3}, on / off = {:.3}",
        rate(best[0]),
        rate(best[1]),
        rate(best[2]),
        best[0] / best[1],
        best[1] / best[2]
    );
}

fn events(n: usize, leads: u32) -> Vec<Event> {
    Generator::new(GeneratorConfig {
        leads,
        seed: 7,
        ..GeneratorConfig::default()
    })
    .take(n)
    .collect()
}

/// Scores `events` into `store` in batches, committing after each. Returns
/// the store so that criterion drops it outside the timed part.
fn score_all<E: std::borrow::Borrow<Event>>(
    scorer: &Scorer,
    mut store: LeadStore,
    events: impl Iterator<Item = E>,
    mut on_commit: impl FnMut(&Scorer, &LeadStore),
) -> (usize, LeadStore) {
    let mut alerts = 0;
    for (i, event) in events.enumerate() {
        let event = event.borrow();
        let staged = store.stage(&event.lead_id);
        // What `Desk::apply` does first: remember the id (`[dedup]`).
        let d = scorer.model().dedup;
        if staged
            .state
            .first_time(&event.event_id, event.occurred_at, d.window, d.max_ids)
        {
            let outcome = scorer.apply(&mut staged.state, event);
            staged.score_changed |= outcome.score_changed;
            alerts += usize::from(outcome.alert.is_some());
        }
        if (i + 1) % BATCH == 0 {
            on_commit(scorer, &store);
            store.commit();
        }
    }
    on_commit(scorer, &store);
    store.commit();
    (alerts, store)
}

/// What the Kafka loop encodes per changed lead at commit.
fn publish(scorer: &Scorer, store: &LeadStore) {
    for (lead_id, staged) in store.staged() {
        black_box(codec::encode_state(lead_id, &staged.state));
        if staged.score_changed {
            let score = scorer.score_of(lead_id, &staged.state);
            black_box(codec::encode_score(&score, Format::Json));
        }
    }
}

/// Each record decoded as the Kafka loop does, inside the timed part.
fn decoding<'a>(
    records: &'a [Vec<u8>],
    content_type: Option<&'a [u8]>,
) -> impl Iterator<Item = Event> + 'a {
    records
        .iter()
        .map(move |bytes| decode_event(bytes, content_type).expect("generated events decode"))
}

/// 100,000 watches; with `some`, 1,000 of them watch leads of the stream
/// and one a company of it, the rest targets no event has.
fn watches(some: bool) -> Watches {
    let pricing = EventCondition::new(EventConditionSpec {
        events: vec![EventType::PageView],
        url: Some("*/pricing*".into()),
        ..Default::default()
    })
    .expect("a valid condition");
    let mut ws = Watches::new();
    for i in 0..100_000u32 {
        let target = match (some, i) {
            (true, 0..1_000) => Target::Lead(format!("L-{:06}", i * 7)),
            (true, 1_000) => Target::Domain("acme.io".into()),
            _ => match i % 4 {
                0 => Target::Lead(format!("nobody-{i}")),
                1 => Target::Email(format!("nobody{i}@example.org")),
                2 => Target::Domain(format!("nobody{i}.example")),
                _ => Target::Account(format!("acct-{i}")),
            },
        };
        ws.upsert(Watch {
            id: format!("w-{i:06}").into(),
            rep: "rep-ana".into(),
            target,
            condition: pricing.clone(),
            created_at: 0,
            expires_at: None,
            deleted_at: None,
            cooldown: 0,
            note: None,
        });
    }
    ws
}

/// 100,000 watches as reps write them: 40% on companies (domains), 40% on
/// people (email addresses), 20% on single leads, with page, form and
/// any-event conditions, a 30-minute cooldown. 603 of them (0.6%) are on
/// 400 people, 200 leads and 3 companies of the stream (taken from `events` itself, as a rep watches
/// who they know), the rest on targets the stream never has. With `quiet`,
/// the same targets with a condition no event meets: what looking the
/// watches up costs, without the alerts.
fn mixed_watches(events: &[Event], quiet: bool) -> Watches {
    let never = EventCondition::new(EventConditionSpec {
        events: vec![EventType::PageView],
        url: Some("*/no-such-page*".into()),
        ..Default::default()
    })
    .expect("a valid condition");
    let or_never = |spec| match quiet {
        true => never.clone(),
        false => EventCondition::new(spec).expect("a valid condition"),
    };
    let any = or_never(EventConditionSpec::default());
    let pricing = or_never(EventConditionSpec {
        events: vec![EventType::PageView],
        url: Some("*/pricing*".into()),
        ..Default::default()
    });
    let forms = or_never(EventConditionSpec {
        events: vec![EventType::FormSubmit],
        ..Default::default()
    });
    let mut emails = std::collections::BTreeSet::new();
    let mut leads = std::collections::BTreeSet::new();
    for e in events {
        leads.insert(e.lead_id.clone());
        if let leadpulse::core::EventKind::ProfileUpdate { attributes } = &e.kind {
            if let Some(m) = attributes.get("email") {
                emails.insert(m.clone());
            }
        }
    }
    let emails: Vec<String> = emails.into_iter().step_by(20).take(400).collect();
    let leads: Vec<String> = leads.into_iter().step_by(40).take(200).collect();
    // Three of the stream's companies: each is hundreds of leads.
    let companies = ["acme.io", "initech.com", "hooli.com"];
    let mut ws = Watches::new();
    for i in 0..100_000usize {
        let condition = match i % 3 {
            0 => pricing.clone(),
            1 => forms.clone(),
            _ => any.clone(),
        };
        let target = match i % 5 {
            0 if i < 5 * companies.len() => Target::Domain(companies[i / 5].into()),
            0 | 1 => Target::Domain(format!("nobody{i}.example")),
            2 if i % 250 == 2 && !emails.is_empty() => {
                Target::Email(emails[(i / 250) % emails.len()].clone())
            }
            2 | 3 => Target::Email(format!("nobody{i}@example.org")),
            _ if i % 500 == 4 && !leads.is_empty() => {
                Target::Lead(leads[(i / 500) % leads.len()].clone())
            }
            _ => Target::Lead(format!("nobody-{i}")),
        };
        ws.upsert(Watch {
            id: format!("w-{i:06}").into(),
            rep: format!("rep-{}", i % 200).into(),
            target,
            condition,
            created_at: 0,
            expires_at: None,
            deleted_at: None,
            cooldown: 30 * 60_000,
            note: None,
        });
    }
    ws
}

/// Thread CPU time of `f`: a pass that another process preempts is not
/// charged for the time it waited.
fn cpu<T>(f: impl FnOnce() -> T) -> (std::time::Duration, T) {
    let start = cpu_time::ThreadTime::now();
    let out = f();
    (start.elapsed(), out)
}

/// `watches/none` against each case (`100k_unmatched`, `100k_mixed`, and
/// `none` again as a control of the order), alternated `rounds` times in
/// one process, in thread CPU time: the fastest pass of each, so that a
/// load spike on a shared machine hits one pass and not the ratio.
fn interleaved(desk: &Desk, cases: &[(&str, &Watches)], events: &[Event], rounds: usize) {
    let none = Watches::new();
    let mut best = vec![f64::MAX; cases.len() + 1];
    let mut alerts = vec![0; cases.len() + 1];
    for _ in 0..rounds {
        for (i, ws) in std::iter::once(&none)
            .chain(cases.iter().map(|(_, ws)| *ws))
            .enumerate()
        {
            let (took, (n, part)) = cpu(|| watched(desk, ws, events));
            drop(part);
            best[i] = best[i].min(took.as_secs_f64());
            alerts[i] = n;
        }
    }
    let rate = |s: f64| events.len() as f64 / s / 1000.0;
    let mut line = format!(
        "watches interleaved ({rounds} rounds, fastest pass, thread CPU): none {:.0}k events/s",
        rate(best[0])
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        line += &format!(
            "; {name} {:.0}k events/s ({} watch alerts), {name} / none = {:.3}",
            rate(best[i + 1]),
            alerts[i + 1],
            best[0] / best[i + 1]
        );
    }
    println!("{line}");
}

/// The decay refresh at 1M leads: 2M events through the desk and the
/// timer index with `[refresh]` off and on, alternated `rounds` times, in
/// thread CPU time (one pass takes seconds, too long for criterion's
/// samples).
fn refresh_interleaved(events: &[Event], rounds: usize) {
    let (mut best_off, mut best_on) = (f64::MAX, f64::MAX);
    for round in 0..rounds {
        for (name, m, best) in [
            ("off", model(), &mut best_off),
            ("on", model_with_refresh(), &mut best_on),
        ] {
            let desk = Desk::new(Scorer::new(m), None);
            let (took, (fired, p)) = cpu(|| through_partition(&desk, events));
            if round == 0 {
                println!(
                    "refresh {name}: {} leads, {fired} timers fired, {} open at the end",
                    p.store().len(),
                    p.open_timers()
                );
            }
            drop(black_box(p));
            *best = best.min(took.as_secs_f64());
        }
    }
    let rate = |s: f64| events.len() as f64 / s / 1000.0;
    println!(
        "refresh_1m_leads interleaved ({rounds} rounds, fastest pass, thread CPU): \
         off {:.0}k events/s, on {:.0}k events/s, on / off = {:.3}",
        rate(best_off),
        rate(best_on),
        best_off / best_on
    );
}

/// Whether the command line's filter (criterion's first positional
/// argument) asks for `group`; no filter asks for every group.
fn wanted(group: &str) -> bool {
    let mut args = std::env::args().skip(1);
    let mut filter = None;
    while let Some(a) = args.next() {
        if a.starts_with("--") {
            // Options that take a value; the rest are switches.
            if !matches!(a.as_str(), "--bench" | "--verbose" | "--quiet" | "--noplot")
                && !a.contains('=')
            {
                args.next();
            }
        } else {
            filter = Some(a);
            break;
        }
    }
    filter.is_none_or(|f| group.contains(&f) || f.starts_with(group))
}

/// The service's step over `events`, with `watches`, committing every
/// `BATCH`; returns the watch alerts and the partition.
fn watched(desk: &Desk, watches: &Watches, events: &[Event]) -> (usize, PartitionState) {
    let mut part = PartitionState::default();
    let mut alerts = 0;
    for (i, e) in events.iter().enumerate() {
        let step = part
            .apply_watched(desk, watches, e)
            .expect("generated events fit the state limits");
        alerts += step.watch_alerts.len();
        if (i + 1) % BATCH == 0 {
            part.store_mut().commit();
        }
    }
    part.store_mut().commit();
    (alerts, part)
}

/// The inputs of every case.
struct Inputs {
    n: usize,
    decoded: Vec<Event>,
    json: Vec<Vec<u8>>,
    protobuf: Vec<Vec<u8>>,
}

fn inputs(n: usize, leads: u32) -> Inputs {
    let decoded = events(n, leads);
    let json = decoded
        .iter()
        .map(|e| codec::encode_event(e, Format::Json))
        .collect();
    let protobuf = decoded
        .iter()
        .map(|e| codec::encode_event(e, Format::Protobuf))
        .collect();
    Inputs {
        n,
        decoded,
        json,
        protobuf,
    }
}

/// `cargo test`: every case once, on a small stream.
fn smoke() {
    let scorer = Scorer::new(model());
    let i = inputs(2_000, 200);
    let json_type = Some(Format::Json.content_type().as_bytes());
    let proto_type = Some(Format::Protobuf.content_type().as_bytes());
    let (a, store) = score_all(&scorer, LeadStore::default(), i.decoded.iter(), |_, _| {});
    let leads = store.len();
    assert!(leads > 0);
    let json = decoding(&i.json, json_type);
    assert_eq!(
        score_all(&scorer, LeadStore::default(), json, |_, _| {}).0,
        a
    );
    let proto = decoding(&i.protobuf, proto_type);
    assert_eq!(
        score_all(&scorer, LeadStore::default(), proto, |_, _| {}).0,
        a
    );
    let json = decoding(&i.json, json_type);
    let (_, store) = score_all(&scorer, LeadStore::default(), json, publish);
    assert_eq!(store.len(), leads);
    let desk = Desk::new(scorer.clone(), None);
    assert_eq!(watched(&desk, &Watches::new(), &i.decoded).0, 0);
    assert_eq!(watched(&desk, &watches(false), &i.decoded).0, 0);
    assert!(watched(&desk, &watches(true), &i.decoded).0 > 0);
    assert_eq!(
        watched(&desk, &mixed_watches(&i.decoded, true), &i.decoded).0,
        0
    );
    let mixed = mixed_watches(&i.decoded, false);
    assert_eq!(mixed.len(), 100_000);
    assert!(watched(&desk, &mixed, &i.decoded).0 > 0);
    interleaved(&desk, &[("100k_mixed", &mixed)], &i.decoded, 1);
    for m in [model(), model_with_refresh()] {
        let desk = Desk::new(Scorer::new(m), None);
        let (_, p) = through_partition(&desk, &i.decoded);
        assert_eq!(p.store().len(), leads);
    }
    let grouped = in_accounts(i.decoded.clone());
    let off = Desk::new(Scorer::new(model()), None);
    assert!(through_accounts(&off, &grouped, true).1 .0.is_empty());
    let on = Desk::new(Scorer::new(model_with_accounts()), None);
    let (p, (accounts, _)) = through_accounts(&on, &grouped, true);
    assert_eq!(p.store().len(), leads);
    assert!(accounts.len() > leads / 10, "{} accounts", accounts.len());
    accounts_interleaved(&grouped, 1);
    println!("benches/core: smoke run of 11 cases on {} events ok", i.n);
}

fn bench(c: &mut Criterion) {
    let Inputs {
        n,
        decoded,
        json,
        protobuf,
    } = inputs(200_000, 20_000);
    let scorer = Scorer::new(model());
    let json_type = Some(Format::Json.content_type().as_bytes());
    let proto_type = Some(Format::Protobuf.content_type().as_bytes());

    let mut g = c.benchmark_group("score");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("pre_decoded", |b| {
        b.iter_batched(
            LeadStore::default,
            |store| score_all(&scorer, store, decoded.iter(), |_, _| {}),
            BatchSize::LargeInput,
        )
    });
    for (name, records, content_type) in [
        ("json", &json, json_type),
        ("protobuf", &protobuf, proto_type),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                LeadStore::default,
                |store| score_all(&scorer, store, decoding(records, content_type), |_, _| {}),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("publish");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("json", |b| {
        b.iter_batched(
            LeadStore::default,
            |store| score_all(&scorer, store, decoding(&json, json_type), publish),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    if wanted("watches") {
        let desk = Desk::new(scorer.clone(), None);
        let mut g = c.benchmark_group("watches");
        g.throughput(Throughput::Elements(n as u64));
        for (name, ws) in [
            ("none", Watches::new()),
            ("100k_unmatched", watches(false)),
            ("100k_some_matching", watches(true)),
            ("100k_mixed", mixed_watches(&decoded, false)),
        ] {
            g.bench_function(name, |b| {
                b.iter_batched(
                    || (),
                    |()| watched(&desk, &ws, &decoded),
                    BatchSize::LargeInput,
                )
            });
        }
        g.finish();
        let cases = [
            ("100k_unmatched", &watches(false)),
            ("100k_mixed_quiet", &mixed_watches(&decoded, true)),
            ("100k_mixed", &mixed_watches(&decoded, false)),
            ("none_again", &Watches::new()),
        ];
        interleaved(&desk, &cases, &decoded, 10);
    }

    // The decay refresh at 1M leads: the same events through the desk and
    // the timer index, without and with `[refresh]`, in one run.
    if wanted("refresh_1m_leads") {
        refresh_interleaved(&events(2_000_000, 1_000_000), 3);
    }

    // The cost of `[account]`: the same events, in accounts of about five
    // people, without the account code, with it and no `[account]`, and
    // with an `[account]` section.
    if wanted("accounts") {
        let grouped = in_accounts(decoded.clone());
        let off = Desk::new(scorer.clone(), None);
        let on = Desk::new(Scorer::new(model_with_accounts()), None);
        let mut g = c.benchmark_group("accounts");
        g.throughput(Throughput::Elements(n as u64));
        for (name, desk, hop) in [
            ("plain", &off, false),
            ("off", &off, true),
            ("on", &on, true),
        ] {
            g.bench_function(name, |b| {
                b.iter_batched(
                    || (),
                    |()| through_accounts(desk, &grouped, hop),
                    BatchSize::LargeInput,
                )
            });
        }
        g.finish();
        accounts_interleaved(&in_accounts(events(2_000_000, 1_000_000)), 3);
    }
}

/// One pass of one `watches` case over the bench's 200,000 events, for an
/// instruction count that a noisy machine cannot move:
///
/// ```sh
/// valgrind --tool=callgrind --toggle-collect='*PartitionState::apply_watched*' \
///   target/release/deps/core-* --one-pass 100k_mixed
/// ```
fn one_pass(case: &str) {
    let decoded = events(200_000, 20_000);
    let ws = match case {
        "none" => Watches::new(),
        "100k_unmatched" => watches(false),
        "100k_mixed_quiet" => mixed_watches(&decoded, true),
        "100k_mixed" => mixed_watches(&decoded, false),
        other => panic!(
            "--one-pass: no case {other} (none, 100k_unmatched, 100k_mixed_quiet, 100k_mixed)"
        ),
    };
    let desk = Desk::new(Scorer::new(model()), None);
    let (alerts, part) = watched(&desk, &ws, &decoded);
    println!(
        "{case}: {} events, {alerts} watch alerts, {} leads",
        decoded.len(),
        part.store().len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one-pass") {
        one_pass(args.get(i + 1).map_or("", String::as_str));
        return;
    }
    if !full_run() {
        smoke();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
