//! `leadpulse watch add|ls|rm`: the reps' watches on the `lead-watches`
//! topic, and the watch files `replay --watches` reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use leadpulse::codec::{self, TargetJson, WatchJson};
use leadpulse::config::Settings;
use leadpulse::core::{EventConditionSpec, EventType, Millis, Roster, Watch, Watches};
use leadpulse::service::{self, watches as table};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a watch: tell a rep when a lead, a person (email), a company
    /// (domain) or an account does something.
    Add(Box<AddArgs>),
    /// List the watches on the topic (JSON lines with `--ndjson`, the
    /// format `replay --watches` reads).
    Ls(LsArgs),
    /// Delete a watch: it stops applying from now on (with `--purge`, a
    /// tombstone removes it entirely).
    Rm(RmArgs),
}

#[derive(clap::Args)]
pub struct Common {
    /// Config file (TOML); `LEADPULSE_SECTION__KEY` variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    common: Common,
    /// The rep to tell (a rep id of the roster).
    #[arg(long)]
    rep: String,
    /// Watch one lead, by id.
    #[arg(long, group = "target")]
    lead: Option<String>,
    /// Watch a person, by email address.
    #[arg(long, group = "target")]
    email: Option<String>,
    /// Watch a company, by web domain (e.g. acme.com).
    #[arg(long, group = "target")]
    domain: Option<String>,
    /// Watch a CRM account, by id.
    #[arg(long, group = "target")]
    account: Option<String>,
    /// Event types (repeat or comma-separate); default: every engagement
    /// type the other conditions apply to.
    #[arg(long = "event", value_delimiter = ',')]
    events: Vec<String>,
    /// URL glob, as in a model rule (e.g. `*/pricing*`).
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    form: Option<String>,
    #[arg(long)]
    asset: Option<String>,
    #[arg(long)]
    campaign: Option<String>,
    #[arg(long)]
    webinar: Option<String>,
    /// When the watch stops applying (RFC 3339 or a date).
    #[arg(long)]
    expires: Option<String>,
    /// Quiet per lead for this long after an alert.
    #[arg(long, default_value_t = 0)]
    cooldown_minutes: u32,
    /// Words shown in the alert.
    #[arg(long)]
    note: Option<String>,
    /// The watch id; chosen for you when absent.
    #[arg(long)]
    id: Option<String>,
    /// Roster to check the rep against; defaults to `routing.path`.
    #[arg(long)]
    routing: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    common: Common,
    /// Only this rep's watches.
    #[arg(long)]
    rep: Option<String>,
    /// Deleted watches too.
    #[arg(long)]
    include_deleted: bool,
    /// One `lead-watches` record per line instead of a table.
    #[arg(long)]
    ndjson: bool,
}

#[derive(clap::Args)]
pub struct RmArgs {
    #[command(flatten)]
    common: Common,
    id: String,
    /// Remove it entirely with a tombstone, instead of marking it deleted
    /// (a replay of older events no longer sees it).
    #[arg(long)]
    purge: bool,
}

const READ_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Add(args) => add(*args),
        Command::Ls(args) => ls(args),
        Command::Rm(args) => rm(args),
    }
}

fn settings(c: &Common) -> anyhow::Result<Settings> {
    Ok(Settings::load(c.config.as_deref(), std::env::vars())?)
}

fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args.common)?;
    let (kind, value) = [
        ("lead", &args.lead),
        ("email", &args.email),
        ("domain", &args.domain),
        ("account", &args.account),
    ]
    .into_iter()
    .find_map(|(k, v)| v.clone().map(|v| (k, v)))
    .ok_or_else(|| anyhow!("give the target: --lead, --email, --domain or --account"))?;
    let events = args
        .events
        .iter()
        .map(|e| {
            e.trim()
                .parse::<EventType>()
                .map_err(|_| anyhow!("--event: unknown event type `{e}`"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let expires_at = args
        .expires
        .as_deref()
        .map(super::parse_time("--expires"))
        .transpose()?;
    let json = WatchJson {
        watch_id: args.id,
        rep: args.rep,
        target: TargetJson {
            kind: kind.into(),
            value,
        },
        condition: EventConditionSpec {
            events,
            url: args.url,
            form: args.form,
            asset: args.asset,
            campaign: args.campaign,
            webinar: args.webinar,
            ..Default::default()
        },
        created_at: None,
        expires_at: expires_at.map(codec::format_rfc3339),
        deleted_at: None,
        cooldown_minutes: args.cooldown_minutes,
        note: args.note,
    };
    let seed = serde_json::to_vec(&json)?;
    let watch = json
        .into_watch(|| table::new_watch_id(&seed), super::now_ms())
        .map_err(|e| anyhow!(e))?;
    let routing = args.routing.or_else(|| settings.routing.path.clone());
    let roster = routing.as_deref().map(super::load_roster).transpose()?;
    table::check_rep(&watch, roster.as_deref()).map_err(|e| anyhow!(e))?;
    service::ensure_topics(&settings)?;
    let existing = table::read_watches(&settings, READ_TIMEOUT)?;
    if existing.get(&watch.id).is_some() {
        bail!(
            "watch `{}` exists; delete it and add a new one under another id",
            watch.id
        );
    }
    put(&settings, &watch, false)?;
    println!("{}", String::from_utf8_lossy(&codec::encode_watch(&watch)));
    Ok(ExitCode::SUCCESS)
}

fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args.common)?;
    let watches = table::read_watches(&settings, READ_TIMEOUT)?;
    let shown: Vec<&Watch> = watches
        .iter()
        .filter(|w| args.rep.as_deref().is_none_or(|r| *w.rep == *r))
        .filter(|w| args.include_deleted || w.deleted_at.is_none())
        .collect();
    if args.ndjson {
        for w in shown {
            println!("{}", String::from_utf8_lossy(&codec::encode_watch(w)));
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<12} {:<28} {:<40} {:<9} ends",
        "id", "rep", "target", "condition", "cooldown"
    );
    for w in shown {
        let ends = w.ends_at().map_or("-".into(), codec::format_rfc3339);
        println!(
            "{:<20} {:<12} {:<28} {:<40} {:<9} {}",
            w.id,
            w.rep,
            w.target.to_string(),
            w.condition.describe(),
            format!("{} min", w.cooldown / 60_000),
            ends
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn rm(args: RmArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args.common)?;
    let watches = table::read_watches(&settings, READ_TIMEOUT)?;
    let Some(current) = watches.get(&args.id) else {
        bail!("no watch `{}` on `{}`", args.id, settings.topics.watches);
    };
    let mut deleted = current.clone();
    if deleted.deleted_at.is_none() {
        deleted.deleted_at = Some(super::now_ms().max(deleted.created_at));
    }
    put(&settings, &deleted, args.purge)?;
    println!(
        "watch `{}` {}",
        args.id,
        if args.purge { "purged" } else { "deleted" }
    );
    Ok(ExitCode::SUCCESS)
}

fn put(settings: &Settings, watch: &Watch, purge: bool) -> anyhow::Result<()> {
    let writer = table::WatchWriter::new(settings).map_err(|e| anyhow!(e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(async {
            if purge {
                writer.purge(&watch.id).await
            } else {
                writer.put(watch).await
            }
        })
        .map_err(|e| anyhow!(e))
}

/// Reads a watch file for `replay --watches`: NDJSON (one `lead-watches`
/// record per line) or, for a `.toml` file, `[[watch]]` tables. A watch
/// without `created_at` applies from the first event; one without
/// `watch_id` is named after its place in the file. With a roster, every
/// rep must be in it.
pub fn load_file(path: &Path, roster: Option<&Roster>) -> anyhow::Result<Watches> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read watch file {}", path.display()))?;
    let origin = path.display().to_string();
    let entries: Vec<(String, WatchJson)> = if path.extension().is_some_and(|e| e == "toml") {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            watch: Vec<WatchJson>,
        }
        let file: File = toml::from_str(&text).map_err(|e| anyhow!("{origin}: {e}"))?;
        file.watch
            .into_iter()
            .enumerate()
            .map(|(i, w)| (format!("{origin}: watch {}", i + 1), w))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let at = format!("{origin}:{}", i + 1);
                WatchJson::parse(l.as_bytes())
                    .map(|w| (at.clone(), w))
                    .map_err(|e| anyhow!("{at}: {e}"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut watches = Watches::new();
    for (n, (at, json)) in entries.into_iter().enumerate() {
        let watch = json
            .into_watch(|| format!("watch-{}", n + 1), Millis::MIN)
            .map_err(|e| anyhow!("{at}: {e}"))?;
        if roster.is_some() {
            table::check_rep(&watch, roster).map_err(|e| anyhow!("{at}: {e}"))?;
        }
        if watches.get(&watch.id).is_some() {
            bail!("{at}: watch `{}` appears twice", watch.id);
        }
        watches.upsert(watch);
    }
    Ok(watches)
}
