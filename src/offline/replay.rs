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
use crate::core::tally::BatchCounts;
use crate::core::{
    admit, AccountAlert, AccountKey, AccountScore, AccountScorer, AccountState, Alert, Desk,
    EnrichmentHold, Event, FeedbackOverdue, HandoffRecord, LeadContribution, LeadScore, LeadState,
    LeadStore, Merge, Millis, Model, Outcome, PartitionState, Rejection, Roster, Scorer, Shadow,
    ShadowTally, SlaBreach, StageChange, WatchAlert, Watches,
};

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
    /// The reps' watches (`replay --watches`), as the service's table
    /// holds them.
    pub watches: Arc<Watches>,
    /// A challenger scored in shadow (`replay --shadow`, `[[shadow]]` in
    /// `run`): each lead event the champion applies is applied to it too,
    /// through the same [`Shadow::apply`] as the service's.
    pub shadow: Option<Shadow>,
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
            watches: Arc::default(),
            shadow: None,
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
    /// Every watch alert, in order.
    pub watch_alerts: Vec<WatchAlert>,
    /// The final state of every account (the model's `[account]`; empty
    /// without it).
    pub accounts: BTreeMap<AccountKey, AccountState>,
    /// Every account alert, in order.
    pub account_alerts: Vec<AccountAlert>,
    /// With a challenger: its alerts, in order, as `run` publishes them
    /// to `shadow-alerts`.
    pub shadow_alerts: Vec<Alert>,
    /// With a challenger: both models' alerts on lead events compared.
    pub shadow: ShadowTally,
    /// With a challenger: every lead's state under it.
    pub shadow_leads: LeadStore,
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

    /// Final account score records, ordered by account key.
    pub fn account_scores(&self, scorer: &AccountScorer) -> Vec<AccountScore> {
        self.accounts
            .iter()
            .map(|(key, state)| scorer.score_of(key, state))
            .collect()
    }

    /// A lead whose score record changed contributes to its account, if
    /// the model scores accounts and the lead has one: applied at once, in
    /// the order of the leads' steps, as the account's partition will
    /// read them from `lead-accounts`.
    fn contribute(
        &mut self,
        accounts: Option<&AccountScorer>,
        lead_id: &str,
        lead: &LeadState,
        desk: &Desk,
    ) {
        let Some(accounts) = accounts else {
            return;
        };
        let Some(key) = accounts.key_of(&lead.attributes) else {
            return;
        };
        let score = desk.scorer().score_of(lead_id, lead);
        let c = LeadContribution::of(key, &score, lead, accounts.rules());
        let state = self.accounts.entry(c.account.clone()).or_default();
        if let Some(mut alert) = accounts.apply(state, &c).alert {
            desk.own_account_alert(&mut alert);
            self.account_alerts.push(alert);
        }
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

/// Replays NDJSON events (one JSON event per line; blank lines are skipped),
/// calling `on_alert` for each alert as it fires. A bad line is counted as
/// dead-lettered, exactly as `run` would, and reported to `on_reject` with
/// its 1-based line number.
///
/// Each lead lives in the [`PartitionState`] of its murmur2 partition, as
/// in `run`; timers fire on the stream time of the whole file, earliest
/// deadline first across partitions.
pub fn replay(
    model: Arc<Model>,
    input: impl BufRead,
    options: &ReplayOptions,
    mut on_alert: impl FnMut(&Alert),
    mut on_reject: impl FnMut(usize, &Rejection),
) -> std::io::Result<ReplayOutcome> {
    let accounts = AccountScorer::new(model.clone());
    let accounts = accounts.as_ref();
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
    let mut parts: Vec<PartitionState> =
        (0..partitions).map(|_| PartitionState::default()).collect();
    let mut stream_time = Millis::MIN;
    let mut out = ReplayOutcome::default();

    for (i, line) in input.split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.counts.consumed += 1;
        let decoded = codec::decode_event(&line, Some(b"application/json"))
            .and_then(|e| admit(&e, options.reference_time, options.max_future_skew).map(|()| e));
        let p = decoded.as_ref().map_or(0, |e| {
            partition_for_key(e.key().as_bytes(), partitions) as usize
        });
        let checked = decoded.and_then(|e| parts[p].check(&e).map(|()| e));
        let event = match checked {
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
            &desk,
            accounts,
            &mut parts,
            stream_time,
            &mut out,
            &mut on_alert,
        );

        let merge = if event.is_anonymous() {
            out.counts.scored += 1;
            parts[p].visit(&desk, &event)
        } else {
            apply_event(
                &desk,
                accounts,
                options,
                &mut parts[p],
                &event,
                &mut out,
                &mut on_alert,
            )
        };
        // Every event is its own transaction here.
        parts[p].commit();
        if let Some(merge) = merge {
            hop(
                &desk,
                accounts,
                options,
                &mut parts,
                merge,
                &mut out,
                &mut on_alert,
            );
        }
    }
    if let Some(until) = options.until {
        fire_due(&desk, accounts, &mut parts, until, &mut out, &mut on_alert);
    }
    for part in parts {
        for (id, state) in part.into_store().into_leads() {
            out.leads.insert(id.into(), state);
        }
    }
    Ok(out)
}

/// Applies an event of a lead to its partition and keeps what it did;
/// returns the link to its visitor, if it named a new one.
fn apply_event(
    desk: &Desk,
    accounts: Option<&AccountScorer>,
    options: &ReplayOptions,
    part: &mut PartitionState,
    event: &Event,
    out: &mut ReplayOutcome,
    on_alert: &mut dyn FnMut(&Alert),
) -> Option<Merge> {
    // Checked by the caller; timers fired since change no attributes.
    let step = part.apply_watched(desk, &options.watches, event).ok()?;
    out.watch_alerts.extend(step.watch_alerts);
    let record = step
        .outcome
        .handoff_changed
        .then(|| HandoffRecord::of(&event.lead_id, step.lead))
        .flatten();
    if step.outcome.duplicate {
        out.counts.duplicates += 1;
    } else {
        out.counts.scored += 1;
    }
    if step.outcome.score_changed {
        out.contribute(accounts, &event.lead_id, step.lead, desk);
    }
    if let Some(shadow) = &options.shadow {
        // As `run`: after the champion, on every event it applied; each
        // event is its own transaction.
        let step = shadow.apply(&mut out.shadow_leads, event, step.outcome.alert.is_some());
        out.shadow_leads.commit();
        out.shadow.observe(&step);
        out.shadow_alerts.extend(step.alert);
    }
    out.absorb(record, step.outcome, on_alert);
    step.merge
}

/// The merges topic's hop, taken at once: a link is answered by the
/// visitor's partition, and the history it sends is applied to the lead
/// right away, event by event, as the lead's own (docs/model.md, "Anonymous
/// visitors", says why `run` agrees). A merged event the lead's state
/// limits refuse is left out, in `run` too.
fn hop(
    desk: &Desk,
    accounts: Option<&AccountScorer>,
    options: &ReplayOptions,
    parts: &mut [PartitionState],
    merge: Merge,
    out: &mut ReplayOutcome,
    on_alert: &mut dyn FnMut(&Alert),
) {
    let mut queue = std::collections::VecDeque::from([merge]);
    while let Some(merge) = queue.pop_front() {
        let p = partition_for_key(merge.key().as_bytes(), parts.len() as i32) as usize;
        let part = &mut parts[p];
        match merge {
            Merge::Link {
                visitor_id,
                lead_id,
                identified_at,
            } => queue.extend(part.link(desk, &visitor_id, &lead_id, identified_at)),
            Merge::History { events, .. } => {
                for event in &events {
                    if part.check(event).is_ok() {
                        queue.extend(apply_event(
                            desk, accounts, options, part, event, out, on_alert,
                        ));
                    }
                }
            }
        }
        part.commit();
    }
}

/// Fires every timer due at `now`, earliest deadline first (ties by lead
/// id) across the partitions.
fn fire_due(
    desk: &Desk,
    accounts: Option<&AccountScorer>,
    parts: &mut [PartitionState],
    now: Millis,
    out: &mut ReplayOutcome,
    on_alert: &mut dyn FnMut(&Alert),
) {
    loop {
        let next = parts
            .iter()
            .enumerate()
            .filter_map(|(p, part)| part.next_due(now).map(|due| (due, p)))
            .min();
        let Some((_, p)) = next else {
            return;
        };
        let part = &mut parts[p];
        if let Some((lead_id, step)) = part.fire_next(desk, now) {
            let record = step
                .outcome
                .handoff_changed
                .then(|| HandoffRecord::of(&lead_id, step.lead))
                .flatten();
            if step.outcome.score_changed {
                out.contribute(accounts, &lead_id, step.lead, desk);
            }
            out.absorb(record, step.outcome, on_alert);
        }
        part.commit();
    }
}

#[cfg(test)]
mod tests;
