//! A deterministic sales team: given the alerts a run produced, it writes
//! the feedback reps would give (first contacts within or after the SLA,
//! accepts and rejects with reasons, qualified leads, opportunities, won
//! and lost deals, and leads nobody answers). Tests and the demo use it to
//! drive the sales loop end to end. Pure: the same alerts and options give
//! the same events, ids included.
//!
//! Each alert gets its own random stream (the seed mixed with its
//! `alert_id`), so what happens to one lead does not depend on the others.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::core::{Alert, Event, EventKind, Feedback, Millis};

const MIN: Millis = 60_000;
const HOUR: Millis = 60 * MIN;
const DAY: Millis = 24 * HOUR;

/// Why sales rejects a lead.
pub const REJECT_REASONS: [&str; 5] = [
    "no budget",
    "not a decision maker",
    "student or job seeker",
    "existing customer",
    "bad timing",
];

/// Why a deal is lost.
pub const LOSS_REASONS: [&str; 4] = ["price", "competitor", "no decision", "timing"];

/// How the simulated team behaves. Shares are probabilities in `0..=1`.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    /// Of the leads a rep answers, the share answered (contacted, accepted
    /// or rejected) before the SLA deadline (`respond_by`).
    pub on_time: f64,
    /// Share of leads nobody ever answers: the SLA is breached and the
    /// feedback goes overdue.
    pub silent: f64,
    /// Of the answered leads, the share accepted.
    pub accept: f64,
    /// Of the answered leads, the share rejected (with a reason; some on
    /// sight, without a contact). The rest get no accept or reject, so
    /// their feedback goes overdue.
    pub reject: f64,
    /// Share of accepts and rejects given only after the feedback deadline
    /// (about 4 to 6 days after the handoff).
    pub late_feedback: f64,
    /// Of the accepted leads, the share qualified (SQL).
    pub qualify: f64,
    /// Of the qualified leads, the share with an opportunity.
    pub opportunity: f64,
    /// Of the opportunities, the share won; as many again (at most the
    /// rest) are lost, the remainder stay open.
    pub win: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            on_time: 0.7,
            silent: 0.1,
            accept: 0.65,
            reject: 0.25,
            late_feedback: 0.15,
            qualify: 0.6,
            opportunity: 0.7,
            win: 0.4,
        }
    }
}

impl SimOptions {
    /// Checks that every share is a probability and accept + reject ≤ 1.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("on_time", self.on_time),
            ("silent", self.silent),
            ("accept", self.accept),
            ("reject", self.reject),
            ("late_feedback", self.late_feedback),
            ("qualify", self.qualify),
            ("opportunity", self.opportunity),
            ("win", self.win),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, not {v}"));
            }
        }
        if self.accept + self.reject > 1.0 {
            return Err(format!(
                "accept + reject must not exceed 1 ({} + {})",
                self.accept, self.reject
            ));
        }
        Ok(())
    }
}

/// What the simulation intended for one alert; tests check the sales loop
/// against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub alert_id: String,
    pub lead_id: String,
    /// The rep's first answer (contact, accept or reject), if any.
    pub first_response: Option<Millis>,
    /// The first contact or acceptance; `None` for a lead rejected without
    /// a contact, or never answered.
    pub first_contact: Option<Millis>,
    /// True when the first answer comes before `respond_by`.
    pub on_time: bool,
}

/// Feedback events for `alerts`, ordered by event time (then event id).
pub fn simulate(alerts: &[Alert], options: &SimOptions) -> Vec<Event> {
    simulate_with_plans(alerts, options).0
}

/// [`simulate`], also returning the plan for each alert, in input order.
pub fn simulate_with_plans(alerts: &[Alert], options: &SimOptions) -> (Vec<Event>, Vec<Plan>) {
    let mut events = Vec::new();
    let mut plans = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let (mut e, plan) = one(alert, options);
        events.append(&mut e);
        plans.push(plan);
    }
    events.sort_by(|a, b| {
        a.occurred_at
            .cmp(&b.occurred_at)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    (events, plans)
}

/// Uniform time in `[lo, hi)`; `lo` when the range is empty.
fn between(rng: &mut ChaCha8Rng, lo: Millis, hi: Millis) -> Millis {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..hi)
    }
}

fn one(alert: &Alert, o: &SimOptions) -> (Vec<Event>, Plan) {
    let key = xxh3_64_with_seed(alert.alert_id.as_bytes(), o.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(key);
    let mut events = Vec::new();
    let mut push = |at: Millis, feedback: Feedback| {
        events.push(Event {
            event_id: format!("fb-{key:016x}-{}", events.len() + 1),
            lead_id: alert.lead_id.clone(),
            visitor_id: None,
            occurred_at: at,
            company_domain: alert.company_domain.clone(),
            account_id: alert.account_id.clone(),
            kind: EventKind::Feedback {
                feedback,
                rep_id: alert.owner_rep.clone(),
            },
        });
    };
    let mut plan = Plan {
        alert_id: alert.alert_id.clone(),
        lead_id: alert.lead_id.clone(),
        first_response: None,
        first_contact: None,
        on_time: false,
    };
    let handed = alert.crossed_at;
    let window = (alert.respond_by - handed).max(MIN);
    // Draw every decision up front, so each share applies independently.
    let silent = rng.random_bool(o.silent);
    let on_time = rng.random_bool(o.on_time);
    let decision: f64 = rng.random();
    let accept_first = rng.random_bool(0.25);
    let reject_first = rng.random_bool(0.3);
    let late_feedback = rng.random_bool(o.late_feedback);
    if silent {
        return (events, plan);
    }
    let contact = if on_time {
        handed + between(&mut rng, window / 20, window * 9 / 10)
    } else {
        alert.respond_by + between(&mut rng, window / 10, window * 3)
    };
    plan.first_response = Some(contact);
    plan.on_time = contact < alert.respond_by;
    let accepted = decision < o.accept;
    let rejected = !accepted && decision < o.accept + o.reject;
    if rejected && reject_first {
        // Rejected on sight, without a contact.
        let reason = REJECT_REASONS[rng.random_range(0..REJECT_REASONS.len())];
        push(
            contact,
            Feedback::Rejected {
                reason: reason.to_owned(),
            },
        );
        return (events, plan);
    }
    plan.first_contact = Some(contact);
    let decided_at = if late_feedback {
        handed + between(&mut rng, 4 * DAY, 6 * DAY)
    } else {
        contact + between(&mut rng, 10 * MIN, 30 * HOUR)
    }
    .max(contact);
    if accepted && accept_first && !late_feedback {
        push(contact, Feedback::Accepted);
    } else {
        push(contact, Feedback::Contacted);
        if accepted {
            push(decided_at, Feedback::Accepted);
        }
    }
    if rejected {
        let reason = REJECT_REASONS[rng.random_range(0..REJECT_REASONS.len())];
        push(
            decided_at,
            Feedback::Rejected {
                reason: reason.to_owned(),
            },
        );
    }
    if !accepted {
        return (events, plan);
    }
    let accepted_at = if accept_first && !late_feedback {
        contact
    } else {
        decided_at
    };
    if !rng.random_bool(o.qualify) {
        if rng.random_bool(0.3) {
            push(
                accepted_at + between(&mut rng, 2 * DAY, 10 * DAY),
                Feedback::Recycled {
                    reason: Some("not ready yet".into()),
                },
            );
        }
        return (events, plan);
    }
    let qualified_at = accepted_at + between(&mut rng, DAY, 5 * DAY);
    push(qualified_at, Feedback::Qualified);
    if !rng.random_bool(o.opportunity) {
        return (events, plan);
    }
    let opened_at = qualified_at + between(&mut rng, DAY, 7 * DAY);
    push(
        opened_at,
        Feedback::OpportunityCreated {
            opportunity_id: Some(format!("OPP-{:08x}", key as u32)),
        },
    );
    let outcome: f64 = rng.random();
    let closed_at = opened_at + between(&mut rng, 5 * DAY, 30 * DAY);
    if outcome < o.win {
        let amount = f64::from(rng.random_range(10u32..=300)) * 500.0;
        push(closed_at, Feedback::DealWon { amount });
    } else if outcome < (2.0 * o.win).min(1.0) {
        let reason = LOSS_REASONS[rng.random_range(0..LOSS_REASONS.len())];
        push(
            closed_at,
            Feedback::DealLost {
                reason: reason.to_owned(),
            },
        );
    }
    (events, plan)
}

/// Merges two NDJSON event streams, each in event-time order, into one in
/// event-time order. On equal times `a` comes first; a line whose time
/// cannot be read keeps its place after the line before it.
pub fn merge_by_time(a: &[Vec<u8>], b: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let times = |lines: &[Vec<u8>]| -> Vec<Millis> {
        let mut last = Millis::MIN;
        lines
            .iter()
            .map(|l| {
                if let Ok(e) = crate::codec::decode_event(l, Some(b"application/json")) {
                    last = e.occurred_at;
                }
                last
            })
            .collect()
    };
    let (ta, tb) = (times(a), times(b));
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len() + b.len());
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && ta[i] <= tb[j]) {
            out.push(a[i].clone());
            i += 1;
        } else {
            out.push(b[j].clone());
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
