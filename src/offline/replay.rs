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
    Merge, Millis, Model, Outcome, PartitionState, Rejection, Roster, Scorer, SlaBreach,
    StageChange, WatchAlert, Watches,
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
mod tests {
    use super::*;

    /// A visitor's views before its form, on any number of partitions,
    /// count for the lead once, and a re-sent identify merges nothing.
    #[test]
    fn a_visitors_views_count_for_its_lead_once_on_any_partitions() {
        let model = Arc::new(
            Model::from_toml(
                "examples/model.toml",
                include_str!("../../examples/model.toml"),
            )
            .expect("example model"),
        );
        let view = |id: &str, at: &str, path: &str| {
            format!(
                r#"{{"event_id":"{id}","visitor_id":"v-7f3a","type":"page_view","occurred_at":"2026-11-20T{at}Z","url":"https://x.io/{path}"}}"#
            )
        };
        let lines = [
            view("pv-1", "09:50:00", "pricing"),
            view("pv-2", "09:51:00", "pricing"),
            view("pv-3", "09:52:00", "security"),
            view("pv-4", "09:53:00", "pricing"),
            view("pv-5", "09:54:00", "security"),
            r#"{"event_id":"f-1","lead_id":"L-42","visitor_id":"v-7f3a","type":"form_submit","occurred_at":"2026-11-20T10:00:00Z","company_domain":"acme.io","form_id":"contact-sales","fields":{"email":"ann@acme.io","job_title":"Data Engineer","company_size":"51-200","country":"US"}}"#.to_owned(),
            r#"{"event_id":"id-1","lead_id":"L-42","visitor_id":"v-7f3a","type":"identify","occurred_at":"2026-11-20T11:00:00Z"}"#.to_owned(),
            view("pv-1", "09:50:00", "pricing"),
        ];
        let input = lines.join("\n");
        let mut results = Vec::new();
        for partitions in [1, 3, 7] {
            let mut options = ReplayOptions::new(i64::MAX / 2, 0);
            options.partitions = partitions;
            let out = replay(model.clone(), input.as_bytes(), &options, |_| {}, |_, _| {})
                .expect("replays");
            let scorer = Scorer::new(model.clone());
            assert_eq!(out.leads.len(), 1, "the visitor is no lead");
            let score = scorer.score_of("L-42", &out.leads["L-42"]);
            let count = |rule: &str| {
                score
                    .reasons
                    .iter()
                    .find(|r| &*r.rule_id == rule)
                    .map_or(0, |r| r.count)
            };
            assert_eq!((count("pricing-page"), count("security-page")), (3, 2));
            assert_eq!(out.counts.duplicates, 1, "pv-1 re-sent after the merge");
            assert_eq!(out.alerts.len(), 1);
            assert_eq!(out.alerts[0].event_id, "pv-3", "the third view crosses 70");
            results.push((score, out.alerts));
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    }

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

    /// Leads alert at 50, accounts at 110: each person's 25 points (a
    /// pricing view and a webinar) stay under both, five together pass
    /// the account's.
    const ACCOUNT_MODEL: &str = r#"
version = "acct-replay"

[engagement.groups.intent]
half_life_days = 14

[[engagement.rule]]
id = "pricing"
label = "Viewed pricing"
group = "intent"
event = "page_view"
url = "*/pricing*"
points = 10

[[engagement.rule]]
id = "webinar"
label = "Attended a webinar"
event = "webinar_attended"
points = 15
once = true

[qualify]
score_at_least = 50

[account]
score_at_least = 110
half_life_days = 14
"#;

    /// Five people writing from `domain`, an hour apart.
    fn committee(domain: &str) -> String {
        let mut lines = Vec::new();
        for i in 1..=5 {
            let at = |m: u32| format!("2026-11-20T{:02}:{m:02}:00Z", 8 + i);
            lines.push(format!(
                r#"{{"event_id":"p-{i}","lead_id":"L-{i}","type":"profile_update","occurred_at":"{}","attributes":{{"email":"person{i}@{domain}","name":"Person {i}"}}}}"#,
                at(0)
            ));
            lines.push(format!(
                r#"{{"event_id":"v-{i}","lead_id":"L-{i}","type":"page_view","occurred_at":"{}","url":"https://initech.io/pricing"}}"#,
                at(10)
            ));
            lines.push(format!(
                r#"{{"event_id":"w-{i}","lead_id":"L-{i}","type":"webinar_attended","occurred_at":"{}","webinar_id":"launch"}}"#,
                at(20)
            ));
        }
        lines.join("\n")
    }

    fn replay_committee(domain: &str, partitions: i32) -> ReplayOutcome {
        let model = Arc::new(Model::from_toml("m.toml", ACCOUNT_MODEL).expect("model"));
        let mut options = ReplayOptions::new(i64::MAX / 2, 0);
        options.partitions = partitions;
        replay(
            model,
            committee(domain).as_bytes(),
            &options,
            |_| {},
            |_, _| {},
        )
        .expect("replays")
    }

    #[test]
    fn five_people_under_the_lead_threshold_make_one_account_alert_naming_them() {
        let mut seen = Vec::new();
        for partitions in [1, 4] {
            let out = replay_committee("initech.io", partitions);
            assert!(out.alerts.is_empty(), "no lead reaches 50");
            assert_eq!(out.account_alerts.len(), 1, "{:?}", out.account_alerts);
            let alert = &out.account_alerts[0];
            assert_eq!(alert.account, AccountKey::Domain("initech.io".into()));
            assert_eq!(alert.lead_id, "L-5", "the fifth webinar tips it");
            let mut named: Vec<&str> = alert.people.iter().map(|p| p.lead_id.as_str()).collect();
            named.sort_unstable();
            assert_eq!(named, ["L-1", "L-2", "L-3", "L-4", "L-5"]);
            assert!(alert.people.iter().all(|p| p.contact.name.is_some()));
            assert!(
                alert.score >= 110.0 && alert.score <= 125.0,
                "{}",
                alert.score
            );
            assert_eq!(out.accounts.len(), 1);
            seen.push(out.account_alerts);
        }
        assert_eq!(seen[0], seen[1], "the same on any number of partitions");
    }

    #[test]
    fn the_backtest_shows_accounts_alerted_per_day_and_the_top_accounts() {
        let out = replay_committee("initech.io", 2);
        let model = Arc::new(Model::from_toml("m.toml", ACCOUNT_MODEL).expect("model"));
        let b = crate::offline::backtest::Backtest::new(&Scorer::new(model), &out);
        let acc = b.accounts.as_ref().expect("the model scores accounts");
        let day = 1_795_132_800_000_i64.div_euclid(crate::core::DAY_MS); // 2026-11-20
        assert_eq!(acc.alerted_per_day, BTreeMap::from([(day, 1)]));
        assert_eq!((acc.alerts, acc.accounts, acc.top.len()), (1, 1, 1));
        assert_eq!(
            (
                acc.top[0].account.as_str(),
                acc.top[0].alerts,
                acc.top[0].breadth
            ),
            ("domain:initech.io", 1, 5)
        );
        let text = crate::offline::backtest::render(&b, None);
        assert!(
            text.contains("## Accounts alerted per day (acct-replay)\n\n2026-11-20     1 "),
            "{text}"
        );
        assert!(
            text.contains("## Top accounts (acct-replay: 1 scored, 1 alerts)"),
            "{text}"
        );
        assert!(text.contains("domain:initech.io"), "{text}");
    }

    #[test]
    fn the_same_people_on_free_mail_make_no_account() {
        let out = replay_committee("gmail.com", 1);
        assert!(out.accounts.is_empty());
        assert!(out.account_alerts.is_empty());
    }

    #[test]
    fn without_an_account_section_nothing_about_accounts_is_kept() {
        let model = ACCOUNT_MODEL.split("[account]").next().unwrap();
        let model = Arc::new(Model::from_toml("m.toml", model).expect("model"));
        let options = ReplayOptions::new(i64::MAX / 2, 0);
        let out = replay(
            model,
            committee("initech.io").as_bytes(),
            &options,
            |_| {},
            |_, _| {},
        )
        .expect("replays");
        assert!(out.accounts.is_empty() && out.account_alerts.is_empty());
    }
}
