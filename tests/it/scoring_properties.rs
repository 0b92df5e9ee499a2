//! Property tests of the scoring core: invariants that must hold for any
//! event stream, in any order.

use std::collections::BTreeMap;
use std::sync::Arc;

use leadpulse::core::{
    BounceType, Cap, Desk, Event, EventKind, LeadState, Millis, Model, PartitionState, Scorer,
    DAY_MS,
};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../examples/model.toml");

/// The walking-skeleton semantics: no decay, caps, disqualifiers or
/// handoff rules, so the score is the plain sum of matching rules.
const PLAIN: &str = r#"
version = "plain"
[[engagement.rule]]
id = "pricing"
event = "page_view"
url = "*/pricing*"
points = 15
[[engagement.rule]]
id = "demo"
event = "form_submit"
form = "demo-request"
points = 40
[[engagement.rule]]
id = "careers"
event = "page_view"
url = "*/careers*"
points = -10
[[engagement.rule]]
id = "unsubscribed"
event = "unsubscribe"
points = -20
[qualify]
score_at_least = 60
"#;

fn scorer(text: &str) -> Scorer {
    Scorer::new(Arc::new(Model::from_toml("model.toml", text).unwrap()))
}

fn kind() -> impl Strategy<Value = EventKind> {
    let page = prop::sample::select(vec![
        "/pricing",
        "/product",
        "/blog/a",
        "/careers",
        "/customers/x",
        "/security",
        "/",
    ]);
    let attrs = prop::collection::btree_map(
        prop::sample::select(vec![
            "job_title",
            "email",
            "company_size",
            "country",
            "industry",
        ]),
        prop::sample::select(vec![
            "CTO",
            "Student",
            "a@acme.io",
            "b@gmail.com",
            "201-1000",
            "US",
            "software",
            "Engineer",
        ]),
        0..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<BTreeMap<_, _>>()
    });
    prop_oneof![
        4 => page.prop_map(|p| EventKind::PageView {
            url: format!("https://leadpulse.example{p}"),
            referrer: None,
            duration_ms: None
        }),
        2 => prop::sample::select(vec!["demo-request", "contact-sales", "newsletter", "other"]).prop_map(
            |f| EventKind::FormSubmit { form_id: f.into(), fields: BTreeMap::new() }
        ),
        1 => Just(EventKind::EmailOpen { campaign_id: "c".into() }),
        1 => Just(EventKind::EmailClick { campaign_id: "c".into(), url: "https://x/".into() }),
        1 => Just(EventKind::ContentDownload { asset_id: "a".into() }),
        1 => Just(EventKind::WebinarAttended { webinar_id: "w".into() }),
        2 => attrs.prop_map(|attributes| EventKind::ProfileUpdate { attributes }),
        1 => Just(EventKind::Unsubscribe),
        1 => prop::bool::ANY.prop_map(|hard| EventKind::EmailBounce {
            campaign_id: "c".into(),
            bounce_type: if hard { BounceType::Hard } else { BounceType::Soft },
        }),
    ]
}

/// A stream over a handful of leads, in event-time order, spanning weeks.
fn stream() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..4, kind(), 0i64..(3 * DAY_MS)), 1..150).prop_map(|items| {
        let mut t = 1_795_165_200_000;
        items
            .into_iter()
            .enumerate()
            .map(|(i, (lead, kind, gap))| {
                t += gap;
                Event {
                    event_id: format!("e-{i}"),
                    lead_id: format!("L-{lead}"),
                    occurred_at: t,
                    company_domain: None,
                    account_id: None,
                    kind,
                }
            })
            .collect()
    })
}

fn run(scorer: &Scorer, events: &[Event]) -> (Vec<String>, BTreeMap<String, LeadState>) {
    let mut leads: BTreeMap<String, LeadState> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        let lead = leads.entry(e.lead_id.clone()).or_default();
        let o = scorer.apply(lead, e);
        if let Some(a) = o.alert {
            out.push(format!(
                "alert {} {} {} {}",
                a.alert_id, a.lead_id, a.score, a.crossed_at
            ));
        }
        if let Some(h) = o.hold {
            out.push(format!("hold {} {:?}", h.lead_id, h.missing));
        }
    }
    (out, leads)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The same events give the same alerts, holds and states, every time.
    #[test]
    fn replay_is_deterministic(events in stream()) {
        let s = scorer(EXAMPLE);
        let (a1, l1) = run(&s, &events);
        let (a2, l2) = run(&scorer(EXAMPLE), &events);
        prop_assert_eq!(a1, a2);
        prop_assert_eq!(l1, l2);
    }

    /// With plain rules, exactly one alert per upward crossing of the
    /// threshold, where the score is recomputed independently as the sum of
    /// matching rules.
    #[test]
    fn one_alert_per_upward_crossing(events in stream()) {
        let s = scorer(PLAIN);
        let model = s.model().clone();
        let threshold = model.qualify.score_at_least.unwrap();
        let mut naive: BTreeMap<&str, f64> = BTreeMap::new();
        let mut leads: BTreeMap<String, LeadState> = BTreeMap::new();
        for e in &events {
            let before = *naive.get(e.lead_id.as_str()).unwrap_or(&0.0);
            let after = before
                + model.rules.iter().filter(|r| r.matches(e)).map(|r| r.points).sum::<f64>();
            naive.insert(&e.lead_id, after);
            let crossed = before < threshold && after >= threshold;
            let alert = s.apply(leads.entry(e.lead_id.clone()).or_default(), e).alert;
            prop_assert_eq!(alert.is_some(), crossed, "event {} of {}: {} -> {}", e.event_id, e.lead_id, before, after);
        }
    }

    /// While no events arrive, decay never raises a score.
    #[test]
    fn decay_never_increases_a_score(events in stream(), mut later in prop::collection::vec(0i64..(120 * DAY_MS), 1..8)) {
        let s = scorer(EXAMPLE);
        let (_, leads) = run(&s, &events);
        later.sort_unstable();
        for lead in leads.values() {
            let mut previous = s.score_at(lead, lead.updated_at);
            for dt in &later {
                let now = s.score_at(lead, lead.updated_at + dt);
                prop_assert!(now <= previous + 1e-9, "score rose from {} to {} after {} ms", previous, now, dt);
                previous = now;
            }
        }
    }

    /// The reasons of every score add up to the score, within rounding.
    #[test]
    fn reasons_sum_to_the_score(events in stream()) {
        let s = scorer(EXAMPLE);
        let (_, leads) = run(&s, &events);
        for (id, lead) in &leads {
            let record = s.score_of(id, lead);
            let sum: f64 = record.reasons.iter().map(|r| r.points).sum();
            let tolerance = 0.005 * (record.reasons.len() + 1) as f64 + 0.01 * (lead.contributions.len() as f64);
            prop_assert!((sum - record.score).abs() <= tolerance, "{}: reasons {} vs score {}", id, sum, record.score);
            prop_assert!((record.fit + record.engagement - record.score).abs() <= 0.011);
        }
    }

    /// A disqualified lead never alerts, and event-based disqualification
    /// (unsubscribe, hard bounce) is permanent.
    #[test]
    fn a_disqualified_lead_never_alerts(events in stream()) {
        let s = scorer(EXAMPLE);
        let mut leads: BTreeMap<String, LeadState> = BTreeMap::new();
        let mut sticky: BTreeMap<String, bool> = BTreeMap::new();
        for e in &events {
            let lead = leads.entry(e.lead_id.clone()).or_default();
            let alert = s.apply(lead, e).alert;
            if alert.is_some() {
                prop_assert!(lead.disqualified.is_none(), "{} alerted while disqualified", e.lead_id);
                prop_assert!(!sticky.get(&e.lead_id).copied().unwrap_or(false), "{} alerted after a permanent disqualification", e.lead_id);
            }
            if lead.disqualified.as_ref().is_some_and(|d| d.sticky) {
                sticky.insert(e.lead_id.clone(), true);
            }
        }
    }

    /// However events are ordered, no window of a capped rule's length holds
    /// more counted matches than its cap.
    #[test]
    fn caps_hold_under_any_event_order(
        times in prop::collection::vec(0i64..(40 * DAY_MS), 1..60),
        order in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let s = scorer(EXAMPLE);
        let rule = s.model().rule("pricing-page").unwrap();
        let Cap::PerWindow { max, window } = rule.cap else { panic!("pricing-page is capped per window") };
        // A deterministic shuffle of the arrival order.
        let mut arrival: Vec<(u64, Millis)> = times
            .iter()
            .enumerate()
            .map(|(i, t)| (seed.wrapping_mul(i as u64 + 1).rotate_left((order.index(64)) as u32), *t))
            .collect();
        arrival.sort_unstable();
        let mut lead = LeadState::default();
        let mut counted: Vec<Millis> = Vec::new();
        for (i, (_, t)) in arrival.iter().enumerate() {
            let before = lead.contributions.first().map_or(0, |c| c.count);
            let e = Event {
                event_id: format!("e-{i}"),
                lead_id: "L".into(),
                occurred_at: 1_795_165_200_000 + t,
                company_domain: None,
                account_id: None,
                kind: EventKind::PageView { url: "https://x/pricing".into(), referrer: None, duration_ms: None },
            };
            s.apply(&mut lead, &e);
            if lead.contributions.first().map_or(0, |c| c.count) > before {
                counted.push(e.occurred_at);
            }
        }
        counted.sort_unstable();
        for &start in &counted {
            let in_window = counted.iter().filter(|&&x| x >= start && x < start + window).count();
            prop_assert!(in_window <= max as usize, "{} counted matches within {} ms of {}", in_window, window, start);
        }
    }

    /// Re-sent copies of events (next to the first, or later while the
    /// first is within the `[dedup]` window) change no alert, hold, score
    /// record or state: they count once.
    #[test]
    fn re_sent_events_count_once(
        events in stream(),
        copies in prop::collection::vec((any::<prop::sample::Index>(), 0usize..20), 0..40),
    ) {
        let desk = Desk::new(scorer(EXAMPLE), None);
        let window = desk.scorer().model().dedup.window;
        // Each copy goes `delay` events after its original, unless the
        // stream has moved a window past the original by then.
        let mut dirty: Vec<Event> = Vec::new();
        let mut pending: Vec<(usize, Event)> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            dirty.push(e.clone());
            for (at, copy) in std::mem::take(&mut pending) {
                if at == i { dirty.push(copy) } else { pending.push((at, copy)) }
            }
            for (pick, delay) in &copies {
                if pick.index(events.len()) == i {
                    let at = (i + delay).min(events.len() - 1);
                    if events[at].occurred_at - e.occurred_at < window {
                        if *delay == 0 { dirty.push(e.clone()) } else { pending.push((at, e.clone())) }
                    }
                }
            }
        }
        let run = |stream: &[Event]| {
            let mut p = PartitionState::default();
            let mut out = Vec::new();
            let mut duplicates = 0;
            for e in stream {
                let step = p.apply(&desk, e).unwrap();
                if step.outcome.duplicate {
                    duplicates += 1;
                    continue;
                }
                let score = step.outcome.score_changed.then(|| desk.scorer().score_of(&e.lead_id, step.lead));
                out.push(format!("{:?} {:?} {:?}", step.outcome.alert, step.outcome.hold, score));
                p.store_mut().commit();
            }
            let leads: BTreeMap<String, LeadState> =
                p.into_store().into_leads().map(|(id, s)| (id.to_string(), s)).collect();
            (out, leads, duplicates)
        };
        let (want, want_leads, none) = run(&events);
        let (got, got_leads, duplicates) = run(&dirty);
        prop_assert_eq!(none, 0);
        prop_assert_eq!(duplicates, dirty.len() - events.len());
        prop_assert_eq!(got, want);
        prop_assert_eq!(got_leads, want_leads);
    }
}
