//! Offline replay: the scoring core and the sales desk over an NDJSON file
//! of events (engagement and feedback, in any mix).
//!
//! This is the oracle for `run`: the same events through the Kafka service
//! must give the same alerts, final scores, routing, breaches and stages.
//! Timers fire on **stream time** (the latest event time read so far); in
//! `run` they fire on the wall clock. With `--report` replay is also the
//! backtest marketing and sales use to agree on a model change.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::Arc;

use crate::codec;
use crate::config::MAX_PARTITIONS;
use crate::core::partitioner::partition_for_key;
use crate::core::{
    admit, Alert, Desk, EnrichmentHold, FeedbackOverdue, HandoffRecord, LeadScore, LeadState,
    Millis, Model, Outcome, Rejection, Roster, RoutingState, Scorer, SlaBreach, StageChange,
    Timers,
};
use crate::telemetry::BatchCounts;

/// How replay judges events.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Stands in for the Kafka record time when refusing future-dated events.
    pub reference_time: Millis,
    /// Same meaning as `pipeline.max_future_skew_secs`, in milliseconds.
    pub max_future_skew: Millis,
    /// Routes alerts and runs the SLA loop; without it alerts have no owner.
    pub roster: Option<Arc<Roster>>,
    /// Partitions of the events topic in the deployment being reproduced:
    /// routing balance is kept per partition (murmur2 of the lead id), as
    /// in `run`. At most [`MAX_PARTITIONS`].
    pub partitions: i32,
    /// After the last event, fire the timers due up to this time.
    pub until: Option<Millis>,
}

impl ReplayOptions {
    /// Replay without routing, judging future dates against `reference_time`.
    pub fn new(reference_time: Millis, max_future_skew: Millis) -> Self {
        ReplayOptions {
            reference_time,
            max_future_skew,
            roster: None,
            partitions: 1,
            until: None,
        }
    }
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
    /// Every SLA breach, in order.
    pub breaches: Vec<SlaBreach>,
    /// Every overdue-feedback notice, in order.
    pub overdue: Vec<FeedbackOverdue>,
    /// Every lifecycle transition, in order.
    pub stages: Vec<StageChange>,
    /// The final record of every handoff, by alert id.
    pub handoffs: BTreeMap<String, HandoffRecord>,
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

    fn absorb(
        &mut self,
        handoff: Option<HandoffRecord>,
        outcome: Outcome,
        on_alert: &mut dyn FnMut(&Alert),
    ) {
        if let Some(alert) = outcome.alert {
            self.counts.alerts += 1;
            on_alert(&alert);
            self.alerts.push(alert);
        }
        if let Some(hold) = outcome.hold {
            self.counts.holds += 1;
            self.holds.push(hold);
        }
        self.breaches.extend(outcome.breaches);
        self.overdue.extend(outcome.overdue);
        self.stages.extend(outcome.stages);
        if let Some(record) = handoff {
            self.handoffs
                .insert(record.handoff.alert_id.clone(), record);
        }
    }
}

/// The handoff record to publish when `outcome` changed it.
fn changed_handoff(lead_id: &str, lead: &LeadState, outcome: &Outcome) -> Option<HandoffRecord> {
    let h = lead.handoff.as_ref().filter(|_| outcome.handoff_changed)?;
    Some(HandoffRecord {
        lead_id: lead_id.to_owned(),
        stage: lead.stage,
        handoff: crate::core::Handoff::clone(h),
    })
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
    let desk = Desk::new(Scorer::new(model), options.roster.clone());
    if options.partitions > MAX_PARTITIONS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} partitions: at most {MAX_PARTITIONS} are supported",
                options.partitions
            ),
        ));
    }
    let partitions = options.partitions.max(1);
    let mut routing: Vec<RoutingState> = vec![RoutingState::default(); partitions as usize];
    let mut timers = Timers::default();
    let mut stream_time = Millis::MIN;
    let mut out = ReplayOutcome::default();

    let fire_due = |now: Millis,
                    out: &mut ReplayOutcome,
                    timers: &mut Timers,
                    routing: &mut [RoutingState],
                    on_alert: &mut dyn FnMut(&Alert)| {
        while let Some(lead_id) = timers.pop_due(now) {
            let p = partition_for_key(lead_id.as_bytes(), partitions) as usize;
            let lead = out
                .leads
                .get_mut(&lead_id)
                .expect("timers belong to known leads");
            let due = Desk::next_deadline(lead).unwrap_or(now);
            let outcome = desk.fire(&mut routing[p], &lead_id, lead, due);
            let record = changed_handoff(&lead_id, lead, &outcome);
            if Desk::next_deadline(lead) == Some(due) {
                // `fire` always moves a due timer on; never spin on one.
                debug_assert!(false, "timer of {lead_id} did not advance");
                continue;
            }
            timers.update(&lead_id, lead);
            out.absorb(record, outcome, on_alert);
        }
    };

    for (i, line) in input.split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.counts.consumed += 1;
        let decoded = codec::decode_event(&line, Some(b"application/json"))
            .and_then(|e| admit(&e, options.reference_time, options.max_future_skew).map(|()| e));
        let event = match decoded {
            Err(rejection) => {
                out.counts.dead_letter(rejection.code());
                on_reject(i + 1, &rejection);
                continue;
            }
            Ok(event) => event,
        };
        let t = event.occurred_at;
        out.span = Some(out.span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        stream_time = stream_time.max(t);
        fire_due(
            stream_time,
            &mut out,
            &mut timers,
            &mut routing,
            &mut on_alert,
        );

        let p = partition_for_key(event.lead_id.as_bytes(), partitions) as usize;
        let lead = out.leads.entry(event.lead_id.clone()).or_default();
        let outcome = desk.apply(&mut routing[p], lead, &event);
        let record = changed_handoff(&event.lead_id, lead, &outcome);
        timers.update(&event.lead_id, lead);
        out.counts.scored += 1;
        out.absorb(record, outcome, &mut on_alert);
    }
    if let Some(until) = options.until {
        fire_due(until, &mut out, &mut timers, &mut routing, &mut on_alert);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_partitions_than_a_topic_may_have_are_refused_before_any_allocation() {
        let model = Arc::new(
            Model::from_toml(
                "examples/model.toml",
                include_str!("../../examples/model.toml"),
            )
            .expect("example model"),
        );
        let mut options = ReplayOptions::new(0, 0);
        options.partitions = 2_000_000_000;
        let err = replay(model, &b""[..], &options, |_| {}, |_, _| {}).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("at most 100000"), "{err}");
    }
}
