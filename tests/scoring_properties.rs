//! Property tests of the scoring core: invariants that must hold for any
//! event stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use leadpulse::core::{Event, EventKind, LeadState, Model, Scorer};
use proptest::prelude::*;

const MODEL: &str = include_str!("../examples/model.toml");

fn scorer() -> Scorer {
    Scorer::new(Arc::new(
        Model::from_toml("examples/model.toml", MODEL).unwrap(),
    ))
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
    prop_oneof![
        page.prop_map(|p| EventKind::PageView {
            url: format!("https://leadpulse.example{p}"),
            referrer: None,
            duration_ms: None
        }),
        prop::sample::select(vec!["demo-request", "contact-sales", "newsletter", "other"])
            .prop_map(|f| EventKind::FormSubmit {
                form_id: f.into(),
                fields: BTreeMap::new()
            }),
        Just(EventKind::EmailOpen {
            campaign_id: "c".into()
        }),
        Just(EventKind::EmailClick {
            campaign_id: "c".into(),
            url: "https://x/".into()
        }),
        Just(EventKind::ContentDownload {
            asset_id: "a".into()
        }),
        Just(EventKind::WebinarAttended {
            webinar_id: "w".into()
        }),
        Just(EventKind::Unsubscribe),
    ]
}

/// A stream of events over a handful of leads, in event-time order.
fn stream() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..5, kind(), 0i64..600_000), 1..200).prop_map(|items| {
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
    let mut alerts = Vec::new();
    for e in events {
        let lead = leads.entry(e.lead_id.clone()).or_default();
        if let Some(a) = scorer.apply(lead, e).alert {
            alerts.push(format!(
                "{}|{}|{}|{}",
                a.alert_id, a.lead_id, a.score, a.crossed_at
            ));
        }
    }
    (alerts, leads)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The same events give the same alerts and states, every time.
    #[test]
    fn replay_is_deterministic(events in stream()) {
        let s = scorer();
        let (a1, l1) = run(&s, &events);
        let (a2, l2) = run(&s, &events);
        prop_assert_eq!(a1, a2);
        prop_assert_eq!(l1, l2);
    }

    /// Exactly one alert per upward crossing of the threshold, where the
    /// score is recomputed independently as the plain sum of matching rules.
    #[test]
    fn one_alert_per_upward_crossing(events in stream()) {
        let s = scorer();
        let model = s.model().clone();
        let mut naive: BTreeMap<&str, f64> = BTreeMap::new();
        let mut leads: BTreeMap<String, LeadState> = BTreeMap::new();
        for e in &events {
            let before = *naive.get(e.lead_id.as_str()).unwrap_or(&0.0);
            let after = before
                + model.rules.iter().filter(|r| r.matches(e)).map(|r| r.points).sum::<f64>();
            naive.insert(&e.lead_id, after);
            // The score starts at 0 < threshold, so "crossed" means
            // below-before and at-or-above-after.
            let crossed = before < model.threshold && after >= model.threshold;
            let alert = s.apply(leads.entry(e.lead_id.clone()).or_default(), e).alert;
            prop_assert_eq!(alert.is_some(), crossed, "event {} of {}: {} -> {}", e.event_id, e.lead_id, before, after);
        }
    }

    /// The reasons of every score add up to the score.
    #[test]
    fn reasons_sum_to_the_score(events in stream()) {
        let s = scorer();
        let (_, leads) = run(&s, &events);
        for (id, lead) in &leads {
            let record = s.score_of(id, lead);
            let sum: f64 = record.reasons.iter().map(|r| r.points).sum();
            prop_assert!((sum - record.score).abs() < 1e-9, "{}: reasons {} vs score {}", id, sum, record.score);
        }
    }
}
