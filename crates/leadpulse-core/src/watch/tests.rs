use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::desk::Desk;
use crate::model::EventConditionSpec;
use crate::partition::PartitionState;
use crate::tests::{event, scorer, view};

fn cond(events: &[EventType], url: Option<&str>) -> EventCondition {
    EventCondition::new(EventConditionSpec {
        events: events.to_vec(),
        url: url.map(str::to_owned),
        ..Default::default()
    })
    .unwrap()
}

fn watch(id: &str, target: Target, url: Option<&str>) -> Watch {
    Watch {
        id: id.into(),
        rep: "rep-ana".into(),
        target,
        condition: cond(&[EventType::PageView], url),
        created_at: 0,
        expires_at: None,
        deleted_at: None,
        cooldown: 0,
        note: None,
    }
}

fn with_domain(mut e: Event, domain: &str) -> Event {
    e.company_domain = Some(domain.into());
    e
}

fn run(watches: &Watches, events: &[Event]) -> Vec<WatchAlert> {
    let desk = Desk::new(scorer(), None);
    let mut part = PartitionState::default();
    let mut out = Vec::new();
    for e in events {
        out.extend(part.apply_watched(&desk, watches, e).unwrap().watch_alerts);
    }
    out
}

#[test]
fn targets_parse_and_normalise() {
    assert_eq!(
        Target::parse("email", " Ana@Acme.COM ").unwrap(),
        Target::Email("ana@acme.com".into())
    );
    assert_eq!(
        Target::parse("domain", "Acme.com").unwrap(),
        Target::Domain("acme.com".into())
    );
    assert_eq!(
        Target::parse("lead", "L-1").unwrap(),
        Target::Lead("L-1".into())
    );
    assert!(Target::parse("email", "acme.com").is_err());
    assert!(Target::parse("domain", "ana@acme.com").is_err());
    let err = Target::parse("company", "acme.com").unwrap_err();
    assert!(err.contains("lead, email, domain, account"), "{err}");
    assert!(Target::parse("lead", " ").is_err());
}

#[test]
fn a_company_watch_sees_every_lead_of_the_company() {
    let mut ws = Watches::new();
    ws.upsert(watch(
        "w-acme",
        Target::Domain("acme.com".into()),
        Some("*/pricing*"),
    ));
    let alerts = run(
        &ws,
        &[
            with_domain(
                event(1, "L-1", 1_000, view("https://x.io/pricing")),
                "ACME.com",
            ),
            with_domain(
                event(2, "L-2", 2_000, view("https://x.io/pricing")),
                "acme.com",
            ),
            with_domain(
                event(3, "L-3", 3_000, view("https://x.io/pricing")),
                "other.com",
            ),
            with_domain(
                event(4, "L-1", 4_000, view("https://x.io/blog")),
                "acme.com",
            ),
        ],
    );
    let leads: Vec<&str> = alerts.iter().map(|a| a.lead_id.as_str()).collect();
    assert_eq!(leads, ["L-1", "L-2"]);
    assert_eq!(alerts[0].url.as_deref(), Some("https://x.io/pricing"));
    assert_eq!(alerts[0].company_domain.as_deref(), Some("ACME.com"));
    assert_ne!(alerts[0].watch_alert_id, alerts[1].watch_alert_id);
}

#[test]
fn a_person_watch_matches_the_email_attribute_or_an_email_lead_id() {
    let mut ws = Watches::new();
    ws.upsert(watch("w-ana", Target::Email("ana@acme.com".into()), None));
    let profile = EventKind::ProfileUpdate {
        attributes: BTreeMap::from([("email".to_owned(), "Ana@Acme.com".to_owned())]),
    };
    let alerts = run(
        &ws,
        &[
            event(1, "L-1", 1_000, view("https://x.io/a")),
            event(2, "L-1", 2_000, profile),
            event(3, "L-1", 3_000, view("https://x.io/b")),
            event(4, "ana@acme.com", 4_000, view("https://x.io/c")),
        ],
    );
    let events: Vec<&str> = alerts.iter().map(|a| a.event_id.as_str()).collect();
    assert_eq!(events, ["e-3", "e-4"]);
}

#[test]
fn a_watch_applies_only_in_its_event_time_window() {
    let mut ws = Watches::new();
    let mut w = watch("w", Target::Lead("L-1".into()), None);
    w.created_at = 2_000;
    w.expires_at = Some(5_000);
    w.deleted_at = Some(4_000);
    ws.upsert(w);
    let events: Vec<Event> = (1..=5)
        .map(|i| event(i, "L-1", i as i64 * 1_000, view("/")))
        .collect();
    let fired: Vec<String> = run(&ws, &events).into_iter().map(|a| a.event_id).collect();
    assert_eq!(fired, ["e-2", "e-3"]);
}

#[test]
fn the_cooldown_is_kept_per_lead_in_its_state() {
    let mut ws = Watches::new();
    let mut w = watch("w", Target::Domain("acme.com".into()), None);
    w.cooldown = 10_000;
    ws.upsert(w);
    let desk = Desk::new(scorer(), None);
    let mut part = PartitionState::default();
    let mut fired = Vec::new();
    for (n, lead, at) in [
        (1, "L-1", 1_000),
        (2, "L-1", 5_000),
        (3, "L-2", 6_000),
        (4, "L-1", 11_000),
        (5, "L-1", 12_000),
    ] {
        let e = with_domain(event(n, lead, at, view("/")), "acme.com");
        let step = part.apply_watched(&desk, &ws, &e).unwrap();
        fired.extend(step.watch_alerts.into_iter().map(|a| a.event_id));
    }
    assert_eq!(fired, ["e-1", "e-3", "e-4"]);
    let cooldowns = &part.store().get("L-1").unwrap().watch_cooldowns;
    assert_eq!(cooldowns.len(), 1, "a passed cooldown is dropped");
    assert_eq!(cooldowns[0].fired_at, 11_000);
    assert_eq!(cooldowns[0].quiet_until, 21_000);
}

#[test]
fn a_lead_that_no_watch_targeted_is_seen_once_a_watch_targets_it() {
    let mut ws = Watches::new();
    ws.upsert(watch("w-other", Target::Lead("L-9".into()), None));
    let desk = Desk::new(scorer(), None);
    let mut part = PartitionState::default();
    let mut step = |ws: &Watches, t: u32| {
        part.apply_watched(&desk, ws, &event(t, "L-1", i64::from(t), view("/pricing")))
            .unwrap()
            .watch_alerts
            .into_iter()
            .map(|a| a.watch_id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(step(&ws, 1), "", "no watch on L-1: its miss is remembered");
    assert_eq!(step(&ws, 2), "");
    ws.upsert(watch("w-l1", Target::Lead("L-1".into()), None));
    assert_eq!(step(&ws, 3), "w-l1", "a new watch is seen at once");
    ws.remove("w-l1");
    assert_eq!(step(&ws, 4), "");
}

#[test]
fn upsert_replaces_and_remove_forgets() {
    let mut ws = Watches::new();
    ws.upsert(watch("w", Target::Lead("L-1".into()), None));
    ws.upsert(watch("w", Target::Lead("L-2".into()), None));
    assert_eq!(ws.len(), 1);
    let e1 = event(1, "L-1", 1, view("/"));
    let e2 = event(2, "L-2", 1, view("/"));
    let lead = LeadState::default();
    assert!(ws.matching(&e1, &lead).is_empty(), "the old target is gone");
    assert_eq!(ws.matching(&e2, &lead).len(), 1);
    assert!(ws.remove("w").is_some());
    assert!(ws.matching(&e2, &lead).is_empty());
    assert!(ws.is_empty());
    assert!(ws.index.iter().all(|m| m.is_empty()));
}

fn arb_target() -> impl Strategy<Value = Target> {
    let value = prop::sample::select(vec!["a", "b", "c"]);
    (0..4usize, value).prop_map(|(kind, v)| match kind {
        0 => Target::Lead(format!("L-{v}")),
        1 => Target::Email(format!("{v}@x.io")),
        2 => Target::Domain(format!("{v}.io")),
        _ => Target::Account(format!("acct-{v}")),
    })
}

fn arb_watch() -> impl Strategy<Value = Watch> {
    (
        0..40u32,
        arb_target(),
        prop::option::of(prop::sample::select(vec!["*/pricing*", "*/docs/*", "*"])),
        0..50i64,
        prop::option::of(0..100i64),
    )
        .prop_map(|(id, target, url, created, end)| {
            let mut w = watch(&format!("w-{id:02}"), target, url);
            w.created_at = created;
            w.expires_at = end;
            w
        })
}

fn arb_event() -> impl Strategy<Value = Event> {
    let v = prop::sample::select(vec!["a", "b", "c"]);
    (
        v.clone(),
        v.clone(),
        v,
        prop::sample::select(vec!["/pricing", "/docs/x", "/blog"]),
        0..100i64,
        any::<bool>(),
    )
        .prop_map(|(lead, dom, acct, url, at, email_id)| {
            let lead_id = if email_id {
                format!("{lead}@x.io")
            } else {
                format!("L-{lead}")
            };
            let mut e = event(0, &lead_id, at, view(&format!("https://s{url}")));
            e.company_domain = Some(format!("{dom}.io"));
            e.account_id = Some(format!("acct-{acct}"));
            e
        })
}

/// A watch on page views (as `arb_watch` makes it), on forms, or on any
/// activity, by `c`.
fn typed(mut w: Watch, c: u8) -> Watch {
    match c {
        0 => {}
        1 => w.condition = cond(&[EventType::FormSubmit], None),
        _ => w.condition = cond(&[], None),
    }
    w
}

/// The event as a page view, a form or an email open, by `k`.
fn retyped(mut e: Event, k: u8) -> Event {
    match k {
        0 => {}
        1 => {
            e.kind = EventKind::FormSubmit {
                form_id: "demo".into(),
                fields: BTreeMap::new(),
            }
        }
        _ => {
            e.kind = EventKind::EmailOpen {
                campaign_id: "c-1".into(),
            }
        }
    }
    e
}

/// What the index must find: a scan over every watch.
fn scan<'a>(all: &'a [Watch], e: &Event, lead: &LeadState) -> Vec<&'a str> {
    let mut hit: Vec<&str> = all
        .iter()
        .filter(|w| {
            let t = match &w.target {
                Target::Lead(v) => *v == e.lead_id,
                Target::Email(v) => {
                    lead.attributes.get("email") == Some(v.as_str()) || e.lead_id == *v
                }
                Target::Domain(v) => e.company_domain.as_deref() == Some(v.as_str()),
                Target::Account(v) => e.account_id.as_deref() == Some(v.as_str()),
            };
            t && w.in_effect(e.occurred_at) && w.condition.matches(&e.kind)
        })
        .map(|w| &*w.id)
        .collect();
    hit.sort();
    hit.dedup();
    hit
}

proptest! {
    /// The index finds exactly the watches a scan over all of them finds,
    /// after any sequence of upserts and removals.
    #[test]
    fn the_index_agrees_with_a_scan(
        watches in prop::collection::vec(arb_watch(), 0..30),
        removed in prop::collection::vec(0..40u32, 0..10),
        events in prop::collection::vec(arb_event(), 1..20),
    ) {
        let mut ws = Watches::new();
        let mut table: BTreeMap<String, Watch> = BTreeMap::new();
        for w in watches {
            table.insert(w.id.to_string(), w.clone());
            ws.upsert(w);
        }
        for r in removed {
            let id = format!("w-{r:02}");
            prop_assert_eq!(ws.remove(&id).is_some(), table.remove(&id).is_some());
        }
        let all: Vec<Watch> = table.into_values().collect();
        prop_assert_eq!(ws.len(), all.len());
        let lead = LeadState::default();
        for e in &events {
            let mut lead = lead.clone();
            let mut attrs = vec![];
            if let Some(d) = &e.company_domain { attrs.push(("company_domain", d.as_str())); }
            if let Some(a) = &e.account_id { attrs.push(("account_id", a.as_str())); }
            lead.attributes.update(&attrs);
            let found: Vec<&str> = ws.matching(e, &lead).iter().map(|w| &*w.id).collect();
            prop_assert_eq!(found, scan(&all, e, &lead));
        }
    }

    /// A lead's remembered miss never hides a watch: events of several
    /// types interleaved with upserts, removals, changes of the lead's keys
    /// and of its other attributes raise the same alerts as when the index
    /// is asked every time.
    #[test]
    fn the_remembered_miss_never_hides_a_watch(
        steps in prop::collection::vec(
            prop_oneof![
                (arb_watch(), 0..3u8).prop_map(|(w, c)| (Some(typed(w, c)), None, None)),
                (0..40u32).prop_map(|r| (None, Some(r), None)),
                (arb_event(), 0..3u8, 0..4u8)
                    .prop_map(|(e, k, a)| (None, None, Some((retyped(e, k), a)))),
            ],
            1..60,
        ),
    ) {
        let mut ws = Watches::new();
        let (mut cached, mut asked) = (LeadState::default(), LeadState::default());
        for (i, step) in steps.into_iter().enumerate() {
            match step {
                (Some(w), _, _) => ws.upsert(w),
                (_, Some(r), _) => { ws.remove(&format!("w-{r:02}")); }
                (_, _, Some((mut e, other))) => {
                    e.event_id = format!("e-{i}");
                    e.lead_id = "L-1".into();
                    let country = format!("C{other}");
                    for lead in [&mut cached, &mut asked] {
                        let mut attrs = vec![("country", country.as_str())];
                        if let Some(d) = &e.company_domain { attrs.push(("company_domain", d.as_str())); }
                        if let Some(a) = &e.account_id { attrs.push(("account_id", a.as_str())); }
                        if other == 0 { attrs.push(("email", "a@x.io")); }
                        lead.attributes.update(&attrs);
                    }
                    asked.watch_miss = WatchMiss::default();
                    let a = ws.fire(&e, &mut cached, |_| (0.0, Vec::new()));
                    let b = ws.fire(&e, &mut asked, |_| (0.0, Vec::new()));
                    prop_assert_eq!(a, b);
                }
                _ => unreachable!(),
            }
        }
    }

    /// The same events against the same watches give the same alerts,
    /// whichever way the watches were added.
    #[test]
    fn alerts_do_not_depend_on_insertion_order(
        watches in prop::collection::vec(arb_watch(), 0..20),
        events in prop::collection::vec(arb_event(), 1..30),
    ) {
        let mut forward = Watches::new();
        let mut backward = Watches::new();
        let mut unique: BTreeMap<String, Watch> = BTreeMap::new();
        for w in watches { unique.insert(w.id.to_string(), w); }
        for w in unique.values() { forward.upsert(w.clone()); }
        for w in unique.values().rev() { backward.upsert(w.clone()); }
        let events: Vec<Event> = events.into_iter().enumerate().map(|(i, mut e)| {
            e.event_id = format!("e-{i}");
            e
        }).collect();
        prop_assert_eq!(run(&forward, &events), run(&backward, &events));
    }
}

#[test]
fn a_watch_alert_says_who_the_lead_is_and_why_it_scores() {
    let mut ws = Watches::new();
    ws.upsert(watch("w-ana", Target::Email("ana@acme.com".into()), None));
    let profile = EventKind::ProfileUpdate {
        attributes: BTreeMap::from([
            ("email".to_owned(), "ana@acme.com".to_owned()),
            ("first_name".to_owned(), "Ana".to_owned()),
            ("last_name".to_owned(), "Lima".to_owned()),
            ("job_title".to_owned(), "CTO".to_owned()),
            ("company".to_owned(), "Acme".to_owned()),
        ]),
    };
    let alerts = run(
        &ws,
        &[
            event(1, "L-1", 1_000, profile),
            event(2, "L-1", 2_000, view("https://x.io/pricing")),
        ],
    );
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        a.contact,
        Contact {
            name: Some("Ana Lima".into()),
            title: Some("CTO".into()),
            company: Some("Acme".into()),
        }
    );
    let sum: f64 = a.reasons.iter().map(|r| r.points).sum();
    assert!(
        (sum - a.score).abs() < 0.05 * a.reasons.len().max(1) as f64,
        "{a:?}"
    );
    // Not handed to anyone: no deadline, no handoff to give feedback on.
    assert_eq!((a.respond_by, a.alert_id.as_deref()), (None, None));
}

#[test]
fn contact_details_fall_back_to_the_other_attribute_names() {
    let mut lead = LeadState::default();
    assert!(Contact::of(&lead).is_empty());
    lead.attributes.update(&[
        ("name", "Bo Chen"),
        ("first_name", "Bob"),
        ("title", "Head of IT"),
        ("job_title", "IT"),
        ("company_name", "Globex"),
    ]);
    let c = Contact::of(&lead);
    assert_eq!(c.name.as_deref(), Some("Bo Chen"));
    assert_eq!(c.title.as_deref(), Some("Head of IT"));
    assert_eq!(c.company.as_deref(), Some("Globex"));
}

#[test]
fn a_watch_alert_id_is_xxh3_128_of_its_parts() {
    let mut parts = b"watch\0".to_vec();
    for p in ["w-1", "L-1", "e-1"] {
        parts.extend_from_slice(p.as_bytes());
        parts.push(0);
    }
    assert_eq!(
        watch_alert_id("w-1", "L-1", "e-1"),
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&parts))
    );
}
