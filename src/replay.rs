//! Offline replay: the scoring core over an NDJSON file of events.
//!
//! This is the oracle for `run`: the same events through the Kafka service
//! must give the same alerts and final scores.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::Arc;

use crate::codec;
use crate::core::{admit, Alert, LeadScore, LeadState, Millis, Model, Scorer};
use crate::telemetry::BatchCounts;

/// How replay judges events.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Stands in for the Kafka record time when refusing future-dated events.
    pub reference_time: Millis,
    /// Same meaning as `pipeline.max_future_skew_secs`, in milliseconds.
    pub max_future_skew: Millis,
}

/// Everything a replay produced.
#[derive(Debug, Default)]
pub struct ReplayOutcome {
    /// Lines read, scored, alerted and rejected (by reason).
    pub counts: BatchCounts,
    /// The final state of every lead.
    pub leads: HashMap<String, LeadState>,
}

impl ReplayOutcome {
    /// Final score records, ordered by lead id.
    pub fn scores(&self, scorer: &Scorer) -> Vec<LeadScore> {
        let ordered: BTreeMap<_, _> = self.leads.iter().collect();
        ordered
            .into_iter()
            .map(|(id, state)| scorer.score_of(id, state))
            .collect()
    }
}

/// Replays NDJSON events (one JSON event per line; blank lines are skipped),
/// calling `on_alert` for each alert in order. A bad line is counted as
/// dead-lettered, exactly as `run` would, and reported to `on_reject` with
/// its 1-based line number.
pub fn replay(
    model: Arc<Model>,
    input: impl BufRead,
    options: &ReplayOptions,
    mut on_alert: impl FnMut(&Alert),
    mut on_reject: impl FnMut(usize, &crate::core::Rejection),
) -> std::io::Result<ReplayOutcome> {
    let scorer = Scorer::new(model);
    let mut out = ReplayOutcome::default();
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.counts.consumed += 1;
        let decoded = codec::decode_event(&line, Some(b"application/json"))
            .and_then(|e| admit(&e, options.reference_time, options.max_future_skew).map(|()| e));
        match decoded {
            Err(rejection) => {
                out.counts.dead_letter(rejection.code());
                on_reject(i + 1, &rejection);
            }
            Ok(event) => {
                let lead = out.leads.entry(event.lead_id.clone()).or_default();
                let outcome = scorer.apply(lead, &event);
                out.counts.scored += 1;
                if let Some(alert) = outcome.alert {
                    out.counts.alerts += 1;
                    on_alert(&alert);
                }
            }
        }
    }
    Ok(out)
}
