//! Offline replay: the scoring core over an NDJSON file of events.
//!
//! This is the oracle for `run`: the same events through the Kafka service
//! must give the same alerts and final scores. With `--report` it is also
//! the backtest marketing and sales use to agree on a model change.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::Arc;

use crate::codec;
use crate::core::{
    admit, Alert, EnrichmentHold, LeadScore, LeadState, Millis, Model, Rejection, Scorer,
};
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
    /// Every alert, in order.
    pub alerts: Vec<Alert>,
    /// Every enrichment hold, in order.
    pub holds: Vec<EnrichmentHold>,
    /// Earliest and latest event time scored.
    pub span: Option<(Millis, Millis)>,
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
/// calling `on_alert` for each alert as it fires. A bad line is counted as
/// dead-lettered, exactly as `run` would, and reported to `on_reject` with
/// its 1-based line number.
pub fn replay(
    model: Arc<Model>,
    input: impl BufRead,
    options: &ReplayOptions,
    mut on_alert: impl FnMut(&Alert),
    mut on_reject: impl FnMut(usize, &Rejection),
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
                let t = event.occurred_at;
                out.span = Some(out.span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                let lead = out.leads.entry(event.lead_id.clone()).or_default();
                let outcome = scorer.apply(lead, &event);
                out.counts.scored += 1;
                if let Some(alert) = outcome.alert {
                    out.counts.alerts += 1;
                    on_alert(&alert);
                    out.alerts.push(alert);
                }
                if let Some(hold) = outcome.hold {
                    out.counts.holds += 1;
                    out.holds.push(hold);
                }
            }
        }
    }
    Ok(out)
}
