//! `leadpulse-bench`: the measuring tools behind `scripts/bench/e2e.sh`.
//!
//! - `passthrough`: the I/O floor (see `passthrough.rs`);
//! - `create-topics`: the topics of a config, as the service creates them;
//! - `drain`: waits until a consumer group has committed every record of the
//!   events topic and reports the rate between its first and last commit;
//! - `latency`: reads committed alerts and reports event → alert latency
//!   (the alert's `crossed_at` is its event's send time under
//!   `leadpulse generate --kafka`);
//! - `state-memory`: scores generated events in-process and reports resident
//!   memory per lead;
//! - `allocations`: counts heap allocations per event on the scoring path,
//!   in steady state;
//! - `chaos-produce`, `chaos-check`: the input and the check of
//!   `scripts/chaos.sh` (see `chaos.rs`).
//!
//! Each prints one JSON line on stdout.

mod chaos;
mod passthrough;

use std::alloc::{GlobalAlloc, Layout};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use leadpulse::config::{LogSettings, Settings};
use leadpulse::core::{LeadStore, Model, Scorer};
use leadpulse::service::{consumer_config, reader_config, TopicNames};
use leadpulse::tools::generate::{Generator, GeneratorConfig};

#[derive(Parser)]
#[command(
    name = "leadpulse-bench",
    about = "Measuring tools for scripts/bench/e2e.sh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Consume and transactionally produce equivalent outputs, no scoring,
    /// until SIGTERM.
    Passthrough {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Create the config's topics (as the service does at startup).
    CreateTopics {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Wait until the config's group has committed the whole events topic.
    Drain {
        #[arg(long, short)]
        config: PathBuf,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
    /// Read committed alerts until SIGTERM and report event → alert latency.
    Latency {
        #[arg(long, short)]
        config: PathBuf,
        /// Ignore alerts whose event came in the first this many seconds.
        #[arg(long, default_value_t = 5)]
        warmup_secs: u64,
    },
    /// Count heap allocations per event on the scoring path.
    Allocations {
        #[arg(long, default_value = "examples/model.toml")]
        model: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        /// Events generated; the first half warms the store up.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Events per committed batch.
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
    },
    /// Produce the chaos test's input at a steady rate, writing its replay
    /// file and the dead letters it must give into `--dir`.
    ChaosProduce {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 300_000)]
        events: usize,
        #[arg(long, default_value_t = 20_000)]
        leads: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Every this many records, one is malformed (1000: 0.1%).
        #[arg(long, default_value_t = 1_000)]
        malformed_every: usize,
        /// Records per second; 0 is as fast as the producer goes.
        #[arg(long, default_value_t = 1_000)]
        rate: u32,
    },
    /// Compare the committed outputs with `replay --outputs REPLAY` and the
    /// DLQ with what `chaos-produce` wrote into `--dir`; exit 1 on any
    /// difference.
    ChaosCheck {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        replay: PathBuf,
    },
    /// Score generated events in-process and report RSS bytes per lead.
    StateMemory {
        #[arg(long, default_value = "examples/model.toml")]
        model: PathBuf,
        #[arg(long, default_value_t = 10_000_000)]
        leads: u32,
        /// Events to score; by default three per lead.
        #[arg(long)]
        events: Option<u64>,
        /// Events per committed batch.
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
    },
}

fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, flag.clone())?;
    }
    Ok(flag)
}

fn settings(path: &Path) -> anyhow::Result<Settings> {
    Settings::load(Some(path), std::env::vars()).map_err(|e| anyhow!("{e}"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Resident set size of this process, from /proc.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn partitions_of(consumer: &BaseConsumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .context("metadata")?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| anyhow!("no topic `{topic}`"))?;
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

fn drain(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let topic = &settings.topics.events;
    // Never subscribes, so it reads the group's offsets without joining it.
    let consumer: BaseConsumer = consumer_config(settings).create()?;
    let partitions = partitions_of(&consumer, topic)?;
    let mut total = 0;
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        total += high;
        tpl.add_partition(topic, p);
    }
    let started = Instant::now();
    let mut first: Option<(Instant, i64)> = None;
    loop {
        let committed: i64 = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))?
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum();
        let now = Instant::now();
        if committed > 0 && first.is_none() {
            first = Some((now, committed));
        }
        if committed >= total {
            let (t0, c0) = first.unwrap_or((now, committed));
            let secs = now.duration_since(t0).as_secs_f64();
            println!(
                "{{\"events\":{total},\"measured_events\":{},\"seconds\":{secs:.3},\"events_per_sec\":{:.0}}}",
                total - c0,
                (total - c0) as f64 / secs.max(1e-9)
            );
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(anyhow!(
                "group committed {committed} of {total} records within {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn latency(settings: &Settings, warmup: Duration, stop: &AtomicBool) -> anyhow::Result<()> {
    let topic = TopicNames::from_settings(settings).alerts;
    let consumer: BaseConsumer = reader_config(settings)
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in partitions_of(&consumer, &topic)? {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let from = now_ms() + warmup.as_millis() as i64;
    let mut latencies = Vec::new();
    let mut skipped = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m?;
        let seen = now_ms();
        let alert = leadpulse::codec::decode_alert(m.payload().unwrap_or_default())
            .map_err(|e| anyhow!("alert at offset {}: {e}", m.offset()))?;
        if alert.crossed_at < from {
            skipped += 1;
            continue;
        }
        latencies.push(seen - alert.crossed_at);
    }
    latencies.sort_unstable();
    let q = |q: f64| -> i64 {
        if latencies.is_empty() {
            return -1;
        }
        let i = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    println!(
        "{{\"alerts\":{},\"warmup_skipped\":{skipped},\"p50_ms\":{},\"p90_ms\":{},\"p99_ms\":{},\"p999_ms\":{},\"max_ms\":{}}}",
        latencies.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        latencies.last().copied().unwrap_or(-1)
    );
    Ok(())
}

fn state_memory(model: &Path, leads: u32, events: u64, batch: usize) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(model)
        .with_context(|| format!("cannot read {}", model.display()))?;
    let scorer = Scorer::new(Arc::new(Model::from_toml(
        &model.display().to_string(),
        &text,
    )?));
    // The generator keeps every lead's id; it is built before the baseline
    // so only lead state is counted.
    let mut generator = Generator::new(GeneratorConfig {
        leads,
        ..GeneratorConfig::default()
    });
    let before = rss_bytes();
    let started = Instant::now();
    let mut store = LeadStore::default();
    for i in 0..events {
        let event = generator.next_event();
        let staged = store.stage(&event.lead_id);
        // What `Desk::apply` does first: remember the id (`[dedup]`).
        let d = scorer.model().dedup;
        if staged
            .state
            .first_time(&event.event_id, event.occurred_at, d.window, d.max_ids)
        {
            let outcome = scorer.apply(&mut staged.state, &event);
            staged.score_changed |= outcome.score_changed;
        }
        if (i + 1) % batch as u64 == 0 {
            store.commit();
        }
    }
    store.commit();
    let after = rss_bytes();
    let n = store.len() as u64;
    // What the average lead holds, to tell where the bytes go.
    let (mut attributes, mut attribute_bytes, mut contributions, mut history) = (0, 0, 0, 0);
    let (mut seen, mut seen_capacity) = (0, 0);
    for (_, lead) in store.iter() {
        seen += lead.seen.len();
        seen_capacity += lead.seen.capacity();
        attributes += lead.attributes.len();
        attribute_bytes += lead
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
        contributions += lead.contributions.len();
        history += lead
            .contributions
            .iter()
            .map(|c| c.history_len())
            .sum::<usize>();
    }
    let per = |x: usize| x as f64 / n.max(1) as f64;
    println!(
        "{{\"leads\":{n},\"events\":{events},\"seconds\":{:.1},\"rss_before\":{before},\"rss_after\":{after},\"bytes_per_lead\":{:.0},\"lead_state_size\":{},\"attributes_per_lead\":{:.2},\"attribute_text_bytes_per_lead\":{:.1},\"contributions_per_lead\":{:.2},\"history_entries_per_lead\":{:.2},\"seen_ids_per_lead\":{:.2},\"seen_id_bytes_per_lead\":{:.1}}}",
        started.elapsed().as_secs_f64(),
        after.saturating_sub(before) as f64 / n.max(1) as f64,
        std::mem::size_of::<leadpulse::core::LeadState>(),
        per(attributes),
        per(attribute_bytes),
        per(contributions),
        per(history),
        per(seen),
        per(seen_capacity * std::mem::size_of::<(u64, i64)>()),
    );
    Ok(())
}

/// The service's allocator, so memory and speed are measured as it runs,
/// with a switchable count of allocations for `allocations`.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

struct Counting;

// SAFETY: every call is passed unchanged to mimalloc, which upholds the
// `GlobalAlloc` contract; counting touches no memory of the caller's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Allocations (including reallocations) made by `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    f();
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// Scores the second half of a generated stream on a store that has seen
/// the first half, and reports heap allocations per event: pre-decoded,
/// with JSON decoding, and with what the loop encodes per changed lead at
/// commit.
fn allocations(model: &Path, leads: u32, events: usize, batch: usize) -> anyhow::Result<()> {
    use leadpulse::codec::{self, Format};
    let text = std::fs::read_to_string(model)
        .with_context(|| format!("cannot read {}", model.display()))?;
    let scorer = Scorer::new(Arc::new(Model::from_toml(
        &model.display().to_string(),
        &text,
    )?));
    let stream: Vec<leadpulse::core::Event> = Generator::new(GeneratorConfig {
        leads,
        seed: 7,
        ..GeneratorConfig::default()
    })
    .take(events)
    .collect();
    let (warm, measured) = stream.split_at(events / 2);
    let json: Vec<Vec<u8>> = measured
        .iter()
        .map(|e| codec::encode_event(e, Format::Json))
        .collect();
    let warm_store = || {
        let mut store = LeadStore::default();
        for e in warm {
            scorer.apply(&mut store.stage(&e.lead_id).state, e);
        }
        store.commit();
        store
    };
    let publish = |store: &LeadStore| {
        for (id, staged) in store.staged() {
            std::hint::black_box(codec::encode_state(id, &staged.state));
            let score = scorer.score_of(id, &staged.state);
            std::hint::black_box(codec::encode_score(&score, Format::Json));
        }
    };
    let run = |decode: bool, encode: bool| {
        let mut store = warm_store();
        allocations_in(|| {
            for (i, e) in measured.iter().enumerate() {
                let decoded;
                let event = if decode {
                    decoded = codec::decode_event(&json[i], None).expect("generated events decode");
                    &decoded
                } else {
                    e
                };
                let staged = store.stage(&event.lead_id);
                std::hint::black_box(scorer.apply(&mut staged.state, event));
                if (i + 1) % batch == 0 {
                    if encode {
                        publish(&store);
                    }
                    store.commit();
                }
            }
        })
    };
    let n = measured.len() as f64;
    println!(
        "{{\"events\":{},\"leads\":{leads},\"batch\":{batch},\"pre_decoded_per_event\":{:.2},\"json_per_event\":{:.2},\"json_and_publish_per_event\":{:.2}}}",
        measured.len(),
        run(false, false) as f64 / n,
        run(true, false) as f64 / n,
        run(true, true) as f64 / n,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    leadpulse::telemetry::init(&LogSettings {
        level: "warn".into(),
        ..LogSettings::default()
    });
    match cli.command {
        Command::Passthrough { config } => {
            let settings = settings(&config)?;
            let stop = stop_flag()?;
            let s = passthrough::run(&settings, &stop).map_err(|e| anyhow!(e))?;
            println!(
                "{{\"consumed\":{},\"produced\":{},\"transactions\":{}}}",
                s.consumed, s.produced, s.transactions
            );
        }
        Command::ChaosProduce {
            config,
            dir,
            events,
            leads,
            seed,
            malformed_every,
            rate,
        } => {
            let stop = stop_flag()?;
            let input = chaos::Input {
                events,
                leads,
                seed,
                malformed_every,
                rate,
            };
            let (sent, malformed) = chaos::produce(&settings(&config)?, &input, &dir, &stop)?;
            println!("{{\"events\":{sent},\"malformed\":{malformed}}}");
        }
        Command::ChaosCheck {
            config,
            dir,
            replay,
        } => {
            let report = chaos::check(&settings(&config)?, &dir, &replay)?;
            println!("{}", serde_json::to_string(&report)?);
            if !report.ok() {
                std::process::exit(1);
            }
        }
        Command::CreateTopics { config } => {
            leadpulse::service::ensure_topics(&settings(&config)?)?;
        }
        Command::Drain {
            config,
            timeout_secs,
        } => drain(&settings(&config)?, Duration::from_secs(timeout_secs))?,
        Command::Latency {
            config,
            warmup_secs,
        } => {
            let stop = stop_flag()?;
            latency(&settings(&config)?, Duration::from_secs(warmup_secs), &stop)?;
        }
        Command::StateMemory {
            model,
            leads,
            events,
            batch,
        } => state_memory(&model, leads, events.unwrap_or(u64::from(leads) * 3), batch)?,
        Command::Allocations {
            model,
            leads,
            events,
            batch,
        } => allocations(&model, leads, events, batch)?,
    }
    Ok(())
}
