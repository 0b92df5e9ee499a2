//! Anonymous visitors merged into leads: through the two partitions and
//! the merges hop, the lead ends as if it had sent the visitor's events.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::event::EventKind;
use crate::model::{Model, DAY_MS};
use crate::partition::PartitionState;
use crate::partitioner::partition_for_key;
use crate::tests::view;
use crate::{Alert, Desk, LeadState, Scorer};

const MODEL: &str = r#"
version = "visitors-1"

[[engagement.rule]]
id = "docs"
event = "page_view"
url = "*/docs*"
points = 10

[[engagement.rule]]
id = "pricing"
event = "page_view"
url = "*/pricing*"
points = 20
once = true

[[engagement.rule]]
id = "blog"
event = "page_view"
url = "*/blog*"
points = 5
cap = { max = 2, per_days = 7 }

[[engagement.rule]]
id = "demo"
event = "form_submit"
points = 30

[qualify]
score_at_least = 80

[visitors]
visitor_ttl_days = 10
max_events = 50
"#;

const PARTITIONS: i32 = 4;
const T0: i64 = 1_780_000_000_000;
const MIN: i64 = 60_000;

fn desk() -> Desk {
    Desk::new(
        Scorer::new(Arc::new(Model::from_toml("visitors.toml", MODEL).unwrap())),
        None,
    )
}

/// Partitions as `replay` keeps them, and the merges hop taken at once.
struct World {
    desk: Desk,
    parts: Vec<PartitionState>,
    alerts: Vec<Alert>,
    merges: usize,
}

fn part_of(key: &str) -> usize {
    partition_for_key(key.as_bytes(), PARTITIONS) as usize
}

impl World {
    fn new() -> Self {
        World {
            desk: desk(),
            parts: (0..PARTITIONS).map(|_| PartitionState::default()).collect(),
            alerts: Vec::new(),
            merges: 0,
        }
    }

    fn send(&mut self, event: &Event) {
        let p = part_of(event.key());
        let merge = if event.is_anonymous() {
            self.parts[p].visit(&self.desk, event)
        } else {
            let step = self.parts[p].apply(&self.desk, event).unwrap();
            self.alerts.extend(step.outcome.alert);
            step.merge
        };
        self.parts[p].commit();
        if let Some(m) = merge {
            self.hop(m);
        }
    }

    fn hop(&mut self, merge: Merge) {
        self.merges += 1;
        let p = part_of(merge.key());
        match merge {
            Merge::Link {
                visitor_id,
                lead_id,
                identified_at,
            } => {
                let history = self.parts[p].link(&self.desk, &visitor_id, &lead_id, identified_at);
                self.parts[p].commit();
                if let Some(h) = history {
                    self.hop(h);
                }
            }
            Merge::History { events, .. } => {
                for e in &events {
                    self.send(e);
                }
            }
        }
    }

    fn lead(&self, id: &str) -> LeadState {
        self.parts[part_of(id)]
            .store()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    fn score(&self, id: &str) -> f64 {
        let lead = self.lead(id);
        self.desk.scorer().score_at(&lead, lead.updated_at)
    }

    fn visitor(&self, id: &str) -> Option<&VisitorState> {
        self.parts[part_of(id)].visitors().get(id)
    }
}

fn ev(id: &str, lead: &str, visitor: Option<&str>, at: i64, kind: EventKind) -> Event {
    Event {
        event_id: id.into(),
        lead_id: lead.into(),
        visitor_id: visitor.map(Into::into),
        occurred_at: at,
        company_domain: None,
        account_id: None,
        kind,
    }
}

fn form() -> EventKind {
    EventKind::FormSubmit {
        form_id: "demo".into(),
        fields: BTreeMap::new(),
    }
}

/// A visitor and a lead whose ids hash to different partitions.
const VISITOR: &str = "v-cookie-1";
const LEAD: &str = "L-1";

#[test]
fn the_visitor_and_the_lead_live_on_different_partitions() {
    assert_ne!(part_of(VISITOR), part_of(LEAD));
}

#[test]
fn five_page_views_before_a_form_fill_count_toward_the_lead_once() {
    let mut w = World::new();
    for i in 0..5 {
        w.send(&ev(
            &format!("pv-{i}"),
            "",
            Some(VISITOR),
            T0 + i * MIN,
            view("https://x.io/docs/a"),
        ));
    }
    assert_eq!(w.visitor(VISITOR).unwrap().events.len(), 5);
    assert_eq!(w.score(LEAD), 0.0);
    w.send(&ev("form-1", LEAD, Some(VISITOR), T0 + 10 * MIN, form()));
    assert_eq!(w.score(LEAD), 30.0 + 5.0 * 10.0);
    assert_eq!(w.alerts.len(), 1, "the merged views take the lead over 80");
    assert_eq!(w.alerts[0].event_id, "pv-4", "the view that crossed");
    let v = w.visitor(VISITOR).unwrap();
    assert!(v.events.is_empty(), "handed over, forgotten");
    assert_eq!(v.lead_id.as_deref(), Some(LEAD));

    // An explicit identify, and the form re-sent: nothing merges again.
    let merges = w.merges;
    w.send(&ev(
        "id-1",
        LEAD,
        Some(VISITOR),
        T0 + 11 * MIN,
        EventKind::Identify,
    ));
    w.send(&ev("form-1", LEAD, Some(VISITOR), T0 + 10 * MIN, form()));
    assert_eq!(w.merges, merges, "the lead had linked the visitor");
    assert_eq!(w.score(LEAD), 80.0);
    assert_eq!(
        w.lead(LEAD)
            .contributions
            .iter()
            .map(|c| c.count)
            .sum::<u32>(),
        6
    );
}

#[test]
fn a_linked_visitors_later_views_go_to_the_lead_at_once() {
    let mut w = World::new();
    w.send(&ev("id-1", LEAD, Some(VISITOR), T0, EventKind::Identify));
    w.send(&ev(
        "pv-1",
        "",
        Some(VISITOR),
        T0 + MIN,
        view("https://x.io/docs"),
    ));
    assert_eq!(w.score(LEAD), 10.0);
    assert!(w.visitor(VISITOR).unwrap().events.is_empty());
}

#[test]
fn merged_history_obeys_once_and_caps_as_the_leads_own() {
    let mut w = World::new();
    // The lead saw pricing itself, and the blog twice.
    w.send(&ev("l-pr", LEAD, None, T0, view("https://x.io/pricing")));
    w.send(&ev(
        "l-b1",
        LEAD,
        None,
        T0 + MIN,
        view("https://x.io/blog/1"),
    ));
    // The visitor saw pricing twice and the blog three times that week.
    for (i, url) in ["pricing", "blog/2", "pricing", "blog/3", "blog/4"]
        .iter()
        .enumerate()
    {
        let at = T0 + (i as i64 + 2) * MIN;
        w.send(&ev(
            &format!("v-{i}"),
            "",
            Some(VISITOR),
            at,
            view(&format!("https://x.io/{url}")),
        ));
    }
    w.send(&ev(
        "id",
        LEAD,
        Some(VISITOR),
        T0 + DAY_MS,
        EventKind::Identify,
    ));
    let lead = w.lead(LEAD);
    let count = |rule: &str| {
        lead.contributions
            .iter()
            .find(|c| &*c.rule_id == rule)
            .unwrap()
            .count
    };
    assert_eq!(
        count("pricing"),
        1,
        "once, across the lead's and the visitor's views"
    );
    assert_eq!(count("blog"), 2, "at most 2 a week, merged or not");
    assert_eq!(w.score(LEAD), 20.0 + 2.0 * 5.0);
}

#[test]
fn a_visitor_quiet_for_its_ttl_merges_nothing() {
    let mut w = World::new();
    w.send(&ev("pv", "", Some(VISITOR), T0, view("https://x.io/docs")));
    w.send(&ev(
        "id",
        LEAD,
        Some(VISITOR),
        T0 + 10 * DAY_MS,
        EventKind::Identify,
    ));
    assert_eq!(w.score(LEAD), 0.0, "expired exactly at the ttl");
}

#[test]
fn the_visitors_partition_forgets_it_once_its_stream_time_passes_the_ttl() {
    let mut w = World::new();
    w.send(&ev("pv", "", Some(VISITOR), T0, view("https://x.io/docs")));
    let p = part_of(VISITOR);
    assert_eq!(w.parts[p].visitors().len(), 1);
    // Another visitor on the same partition moves its stream time on.
    let other = (0..)
        .map(|i| format!("v-other-{i}"))
        .find(|v| part_of(v) == p)
        .unwrap();
    w.parts[p].visit(
        &w.desk,
        &ev(
            "pv2",
            "",
            Some(&other),
            T0 + 10 * DAY_MS,
            view("https://x.io/docs"),
        ),
    );
    assert!(w.parts[p].visitors().get(VISITOR).is_none());
    let staged: Vec<_> = w.parts[p].visitors().staged().collect();
    assert!(
        staged.contains(&(VISITOR, None)),
        "deleted from the changelog: {staged:?}"
    );
}

#[test]
fn a_visitor_keeps_its_latest_max_events_and_only_what_counts() {
    let mut w = World::new();
    for i in 0..60 {
        w.send(&ev(
            &format!("pv-{i}"),
            "",
            Some(VISITOR),
            T0 + i * MIN,
            view("https://x.io/docs"),
        ));
        w.send(&ev(
            &format!("nc-{i}"),
            "",
            Some(VISITOR),
            T0 + i * MIN,
            view("https://x.io/careers"),
        ));
    }
    let v = w.visitor(VISITOR).unwrap();
    assert_eq!(v.events.len(), 50);
    assert_eq!(v.events[0].event_id, "pv-10");
    assert_eq!(v.last_seen, T0 + 59 * MIN);
}

#[test]
fn without_a_ttl_nothing_is_kept() {
    let text = MODEL.replace("visitor_ttl_days = 10", "visitor_ttl_days = 0");
    let desk = Desk::new(
        Scorer::new(Arc::new(Model::from_toml("v.toml", &text).unwrap())),
        None,
    );
    let mut p = PartitionState::default();
    assert!(p
        .visit(
            &desk,
            &ev("pv", "", Some(VISITOR), T0, view("https://x.io/docs"))
        )
        .is_none());
    assert!(p.visitors().is_empty());
    let step = p
        .apply(
            &desk,
            &ev("id", LEAD, Some(VISITOR), T0, EventKind::Identify),
        )
        .unwrap();
    assert!(step.merge.is_none());
}

proptest! {
    /// Whatever the views and when the visitor identifies, the lead ends
    /// with the state it would have had sending them itself after its own
    /// events up to the identify.
    #[test]
    fn merging_equals_the_lead_sending_the_events_itself(
        views in prop::collection::vec((0usize..4, 0i64..20 * DAY_MS), 0..30),
        own in prop::collection::vec((0usize..4, 0i64..20 * DAY_MS), 0..10),
        identify_at in 0i64..25 * DAY_MS,
    ) {
        let urls = ["docs/x", "pricing", "blog/y", "careers"];
        let mut w = World::new();
        let mut alone = World::new();
        for (i, (u, at)) in own.iter().enumerate() {
            let e = ev(&format!("o-{i}"), LEAD, None, T0 + at, view(&format!("https://x.io/{}", urls[*u])));
            w.send(&e);
            alone.send(&e);
        }
        // What the visitor's partition keeps: counted views, forgotten
        // after 10 quiet days (judged at each view, and at its stream time).
        let ttl = 10 * DAY_MS;
        let mut kept: Vec<Event> = Vec::new();
        let mut last_seen = i64::MIN;
        let mut stream = i64::MIN;
        for (i, (u, at)) in views.iter().enumerate() {
            let t = T0 + at;
            let e = ev(&format!("v-{i}"), "", Some(VISITOR), t, view(&format!("https://x.io/{}", urls[*u])));
            w.send(&e);
            let keep = *u != 3;
            let exists = !kept.is_empty();
            if keep || exists {
                if !exists || t >= last_seen + ttl {
                    kept.clear();
                    last_seen = i64::MIN;
                }
                last_seen = last_seen.max(t);
                if keep {
                    kept.push(e);
                }
            }
            stream = stream.max(t);
            if !kept.is_empty() && stream >= last_seen + ttl {
                kept.clear();
            }
        }
        let identify = ev("id", LEAD, Some(VISITOR), T0 + identify_at, EventKind::Identify);
        w.send(&identify);
        alone.send(&ev("id", LEAD, None, T0 + identify_at, EventKind::Identify));
        let expired = !kept.is_empty() && T0 + identify_at >= last_seen + ttl;
        if !expired {
            for mut e in kept {
                e.lead_id = LEAD.into();
                e.visitor_id = None;
                alone.send(&e);
            }
        }
        let mut merged = w.lead(LEAD);
        merged.linked_visitors.clear();
        prop_assert_eq!(merged, alone.lead(LEAD));
        prop_assert_eq!(w.alerts, alone.alerts);
    }
}

#[test]
fn a_kept_event_and_a_visitor_cost_what_docs_events_md_says() {
    // docs/events.md: about 200 bytes per kept event (plus its strings'
    // heap), about 150 per visitor (table entry and expiry index).
    let event = std::mem::size_of::<Event>();
    let visitor = std::mem::size_of::<(crate::store::LeadId, (i64, VisitorState))>()
        + std::mem::size_of::<(i64, crate::store::LeadId)>();
    println!("event {event} B, visitor {visitor} B");
    assert!(event <= 220, "{event}");
    assert!(visitor <= 150, "{visitor}");
}
