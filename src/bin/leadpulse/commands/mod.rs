//! One module per subcommand, and the few helpers they share.

pub mod config;
pub mod demo;
pub mod generate;
pub mod model;
pub mod notify;
pub mod replay;
pub mod report;
pub mod run;
pub mod simulate_sales;
pub mod watch;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use leadpulse::codec::parse_rfc3339;
use leadpulse::config::LogSettings;
use leadpulse::core::{Millis, Model, Roster};

/// The model built into the binary, used by `demo` when none is given.
pub const EXAMPLE_MODEL: &str = include_str!("../../../../examples/model.toml");
/// The roster built into the binary, used by `demo`.
pub const EXAMPLE_ROUTING: &str = include_str!("../../../../examples/routing.toml");

/// Offline commands log warnings only, to stderr.
pub fn quiet_logging() {
    leadpulse::telemetry::init(&LogSettings {
        level: "warn".into(),
        ..LogSettings::default()
    });
}

pub fn proto_descriptors() -> anyhow::Result<ExitCode> {
    io::stdout().write_all(leadpulse::proto::FILE_DESCRIPTOR_SET)?;
    Ok(ExitCode::SUCCESS)
}

pub fn load_model(path: &Path) -> anyhow::Result<Arc<Model>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    Ok(Arc::new(Model::from_toml(
        &path.display().to_string(),
        &text,
    )?))
}

/// Reads and checks a roster, and logs what in it is valid but probably
/// not meant (a team lead who takes new leads escalates to themselves).
pub fn load_roster(path: &Path) -> anyhow::Result<Arc<Roster>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read routing file {}", path.display()))?;
    let roster = Roster::from_toml(&path.display().to_string(), &text)?;
    warn_about(&path.display().to_string(), &roster);
    Ok(Arc::new(roster))
}

/// Logs the roster's warnings (stderr for the offline commands, the
/// service's log for `run`).
pub fn warn_about(origin: &str, roster: &Roster) {
    for warning in roster.warnings() {
        tracing::warn!(routing = origin, "{warning}");
    }
}

/// Dead letters by reason, as a table with a total: most frequent first.
pub fn dead_letter_table(by_reason: &[(&str, u64)], indent: &str) -> String {
    let mut rows = by_reason.to_vec();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let total: u64 = rows.iter().map(|(_, n)| n).sum();
    let width = rows
        .iter()
        .map(|(r, _)| r.len())
        .chain(["reason".len(), "total".len()])
        .max()
        .unwrap_or(0);
    let mut out = format!("{indent}{:<width$}  records\n", "reason");
    for (reason, n) in rows.iter().copied().chain([("total", total)]) {
        out.push_str(&format!("{indent}{reason:<width$}  {n:>7}\n"));
    }
    out
}

/// The wall clock, for the defaults of offline commands (`--reference-time`).
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Set by SIGTERM or SIGINT; a second signal while stopping exits at once.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone())?;
        signal_hook::flag::register(sig, flag.clone())?;
    }
    Ok(flag)
}

/// An RFC 3339 time, or a date (midnight UTC).
pub fn parse_time(flag: &'static str) -> impl Fn(&str) -> anyhow::Result<Millis> {
    move |s| {
        let full = if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_owned()
        };
        parse_rfc3339(&full).map_err(|e| {
            anyhow::anyhow!("{flag}: expected an RFC 3339 time or a date like 2026-11-01 ({e})")
        })
    }
}

/// A positive number of seconds from a flag.
pub fn seconds(flag: &'static str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{flag}: expected a positive number of seconds, not {secs}"))
}

/// The non-blank lines of a file.
pub fn read_lines(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect())
}

/// Writes one record per line.
pub fn write_ndjson(path: &Path, records: impl Iterator<Item = Vec<u8>>) -> anyhow::Result<()> {
    let mut f = BufWriter::new(
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    for r in records {
        f.write_all(&r)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dead_letter_table;

    #[test]
    fn dead_letters_read_as_a_table_most_frequent_first_with_a_total() {
        let table = dead_letter_table(
            &[
                ("missing_field", 9),
                ("unknown_type", 4),
                ("future_timestamp", 4),
                ("malformed", 8),
            ],
            "  ",
        );
        assert_eq!(
            table,
            "  reason            records\n\
             \x20 missing_field           9\n\
             \x20 malformed               8\n\
             \x20 future_timestamp        4\n\
             \x20 unknown_type            4\n\
             \x20 total                  25\n"
        );
        assert!(!table.contains("(\""), "no debug output: {table}");
    }
}
