use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::*;
use crate::codec::{self, Format};
use crate::core::{EventType, Grade};

const T0: Millis = 1_790_000_000_000;

fn alerts(n: usize) -> Vec<Alert> {
    (0..n)
        .map(|i| {
            let crossed_at = T0 + i as Millis * 7 * MIN;
            let sla = if i % 3 == 0 { 90 * MIN } else { HOUR };
            Alert {
                alert_id: format!("{:032x}", i * 7919 + 13),
                lead_id: format!("L-{i:06}"),
                score: 80.0,
                fit: 40.0,
                engagement: 40.0,
                grade: Grade::B,
                threshold: 70.0,
                qualification: "score ≥ 70".into(),
                crossed_at,
                respond_by: crossed_at + sla,
                model_version: Arc::from("m1"),
                event_id: format!("e-{i}"),
                reasons: Vec::new(),
                company_domain: Some("globex.com".into()),
                account_id: None,
                owner_team: Some("inbound".into()),
                owner_rep: Some(["sam", "priya", "tom"][i % 3].into()),
                routed_via: Some("territory".into()),
                contact: Default::default(),
            }
        })
        .collect()
}

fn by_lead(events: &[Event]) -> BTreeMap<&str, Vec<&Event>> {
    let mut m: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        m.entry(e.lead_id.as_str()).or_default().push(e);
    }
    m
}

fn types(events: &[&Event]) -> Vec<EventType> {
    events.iter().map(|e| e.kind.event_type()).collect()
}

#[test]
fn the_same_seed_gives_the_same_events_and_another_seed_others() {
    let a = alerts(200);
    let o = SimOptions::default();
    let first = simulate(&a, &o);
    assert_eq!(first, simulate(&a, &o));
    let other = simulate(&a, &SimOptions { seed: 2, ..o });
    assert_ne!(first, other);
    let ids = |v: &[Event]| {
        v.iter()
            .map(|e| e.event_id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert!(
        ids(&first).is_disjoint(&ids(&other)),
        "ids depend on the seed"
    );
    assert_eq!(ids(&first).len(), first.len(), "ids are unique");
}

#[test]
fn an_alert_s_feedback_does_not_depend_on_the_other_alerts() {
    let a = alerts(50);
    let o = SimOptions::default();
    let all = simulate(&a, &o);
    for alert in a.iter().step_by(7) {
        let alone = simulate(std::slice::from_ref(alert), &o);
        let within: Vec<Event> = all
            .iter()
            .filter(|e| e.lead_id == alert.lead_id)
            .cloned()
            .collect();
        assert_eq!(alone, within);
    }
}

#[test]
fn events_are_in_time_order_and_round_trip_through_the_json_codec() {
    let events = simulate(&alerts(300), &SimOptions::default());
    assert!(events
        .windows(2)
        .all(|w| (w[0].occurred_at, &w[0].event_id) <= (w[1].occurred_at, &w[1].event_id)));
    for e in &events {
        let bytes = codec::encode_event(e, Format::Json);
        let back = codec::decode_event(&bytes, None).unwrap();
        assert_eq!(&back, e);
        assert!(e.kind.event_type().is_feedback());
    }
}

#[test]
fn the_plan_matches_the_events_and_the_on_time_share_holds() {
    let a = alerts(2000);
    for on_time in [0.0, 0.3, 0.7, 1.0] {
        let o = SimOptions {
            on_time,
            ..SimOptions::default()
        };
        let (events, plans) = simulate_with_plans(&a, &o);
        let leads = by_lead(&events);
        let mut answered = 0;
        let mut in_time = 0;
        for (alert, plan) in a.iter().zip(&plans) {
            let mine = leads
                .get(alert.lead_id.as_str())
                .cloned()
                .unwrap_or_default();
            let first = mine.first().copied();
            match plan.first_response {
                None => assert!(mine.is_empty(), "a silent lead gets no feedback"),
                Some(t) => {
                    let first = first.expect("an answered lead has feedback");
                    assert_eq!(first.occurred_at, t);
                    if plan.first_contact.is_some() {
                        assert_eq!(plan.first_contact, Some(t));
                        assert!(matches!(
                            first.kind.event_type(),
                            EventType::LeadContacted | EventType::LeadAccepted
                        ));
                    } else {
                        assert_eq!(types(&mine), [EventType::LeadRejected]);
                    }
                    assert!(t > alert.crossed_at);
                    assert_eq!(plan.on_time, t < alert.respond_by);
                    answered += 1;
                    in_time += u32::from(plan.on_time);
                }
            }
            for e in &mine {
                let EventKind::Feedback { rep_id, .. } = &e.kind else {
                    unreachable!()
                };
                assert_eq!(rep_id, &alert.owner_rep);
            }
        }
        let share = f64::from(in_time) / f64::from(answered);
        assert!(
            (share - on_time).abs() < 0.04,
            "on-time share {share} for --on-time {on_time}"
        );
        let silent = plans.iter().filter(|p| p.first_response.is_none()).count();
        let silent_share = silent as f64 / plans.len() as f64;
        assert!(
            (silent_share - o.silent).abs() < 0.03,
            "silent {silent_share}"
        );
    }
}

#[test]
fn the_funnel_is_coherent_and_every_outcome_occurs() {
    let a = alerts(1000);
    let events = simulate(&a, &SimOptions::default());
    let mut seen = BTreeSet::new();
    for (_, mine) in by_lead(&events) {
        let t = types(&mine);
        seen.extend(t.iter().copied());
        let has = |x: EventType| t.contains(&x);
        let pos = |x: EventType| t.iter().position(|&y| y == x);
        assert!(!(has(EventType::LeadAccepted) && has(EventType::LeadRejected)));
        if has(EventType::LeadQualified) {
            assert!(pos(EventType::LeadAccepted) < pos(EventType::LeadQualified));
        }
        if has(EventType::OpportunityCreated) {
            assert!(pos(EventType::LeadQualified) < pos(EventType::OpportunityCreated));
        }
        for closing in [EventType::DealWon, EventType::DealLost] {
            if has(closing) {
                assert!(pos(EventType::OpportunityCreated) < pos(closing));
            }
        }
        assert!(!(has(EventType::DealWon) && has(EventType::DealLost)));
        for e in &mine {
            let EventKind::Feedback { feedback, .. } = &e.kind else {
                unreachable!()
            };
            match feedback {
                Feedback::Rejected { reason } => assert!(REJECT_REASONS.contains(&reason.as_str())),
                Feedback::DealLost { reason } => assert!(LOSS_REASONS.contains(&reason.as_str())),
                Feedback::DealWon { amount } => assert!(*amount > 0.0),
                _ => {}
            }
        }
    }
    for t in [
        EventType::LeadContacted,
        EventType::LeadAccepted,
        EventType::LeadRejected,
        EventType::LeadQualified,
        EventType::OpportunityCreated,
        EventType::DealWon,
        EventType::DealLost,
        EventType::LeadRecycled,
    ] {
        assert!(seen.contains(&t), "{t} never simulated");
    }
}

#[test]
fn invalid_shares_are_refused() {
    assert!(SimOptions::default().validate().is_ok());
    for bad in [
        SimOptions {
            on_time: 1.5,
            ..SimOptions::default()
        },
        SimOptions {
            silent: -0.1,
            ..SimOptions::default()
        },
        SimOptions {
            accept: 0.8,
            reject: 0.3,
            ..SimOptions::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

#[test]
fn merging_keeps_each_stream_s_order_and_sorts_by_time() {
    let line = |id: &str, t: &str| {
        format!(
            r#"{{"event_id":"{id}","lead_id":"L-1","type":"email_open","occurred_at":"{t}","campaign_id":"c"}}"#
        )
        .into_bytes()
    };
    let a = vec![
        line("a1", "2026-11-01T10:00:00Z"),
        b"not json".to_vec(),
        line("a2", "2026-11-01T12:00:00Z"),
        line("a3", "2026-11-01T12:00:00Z"),
    ];
    let b = vec![
        line("b1", "2026-11-01T09:00:00Z"),
        line("b2", "2026-11-01T12:00:00Z"),
        line("b3", "2026-11-02T00:00:00Z"),
    ];
    let merged = merge_by_time(&a, &b);
    let order: Vec<String> = merged
        .iter()
        .map(|l| {
            codec::decode_event(l, None)
                .map(|e| e.event_id)
                .unwrap_or_else(|_| "bad".into())
        })
        .collect();
    assert_eq!(order, ["b1", "a1", "bad", "a2", "a3", "b2", "b3"]);
}
