//! Unit tests of routing, SLA timers, feedback and lifecycle stages.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::tests::{event, scorer_with, view, MODEL};
use super::*;

const MIN: Millis = 60_000;

const ROSTER: &str = r#"
default_sla_minutes = 60
feedback_business_days = 3
max_reassignments = 1

[[team]]
id = "us"
lead = "lee"
reassign_on_breach = true
territory = { country = ["US"] }
[[team.rep]]
id = "ann"
[[team.rep]]
id = "bob"
[[team.rep]]
id = "lee"
available = false

[[team]]
id = "rest"
lead = "zed"
sla_minutes = 30
[[team.rep]]
id = "zed"
"#;

fn desk() -> Desk {
    let scorer = scorer_with(MODEL);
    Desk::new(
        scorer,
        Some(Arc::new(Roster::from_toml("roster.toml", ROSTER).unwrap())),
    )
}

fn profile(pairs: &[(&str, &str)]) -> EventKind {
    EventKind::ProfileUpdate {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn demo() -> EventKind {
    EventKind::FormSubmit {
        form_id: "demo-request".into(),
        fields: BTreeMap::new(),
    }
}

fn fb(f: Feedback) -> EventKind {
    EventKind::Feedback {
        feedback: f,
        rep_id: None,
    }
}

/// Makes lead `id` alert at time `t` (profile, demo, pricing).
fn hot(
    d: &Desk,
    routing: &mut RoutingState,
    id: &str,
    country: &str,
    t: Millis,
) -> (LeadState, Outcome) {
    let mut lead = LeadState::default();
    d.apply(
        routing,
        &mut lead,
        &event(
            1,
            id,
            t - 2,
            profile(&[("email", "x@acme.io"), ("country", country)]),
        ),
    );
    d.apply(routing, &mut lead, &event(2, id, t - 1, demo()));
    let out = d.apply(routing, &mut lead, &event(3, id, t, view("/pricing")));
    assert!(out.alert.is_some(), "{id} should alert");
    (lead, out)
}

#[test]
fn alerts_get_an_owner_by_territory_and_the_team_sla() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (lead, out) = hot(&d, &mut routing, "L-1", "US", 10 * MIN);
    let a = out.alert.unwrap();
    assert_eq!(
        (
            a.owner_team.as_deref(),
            a.owner_rep.as_deref(),
            a.routed_via.as_deref()
        ),
        (Some("us"), Some("ann"), Some("territory"))
    );
    assert_eq!(a.respond_by, 10 * MIN + 60 * MIN);
    assert_eq!(lead.stage, Some(Stage::Mql));
    let (_, out) = hot(&d, &mut routing, "L-2", "FR", 10 * MIN);
    let a = out.alert.unwrap();
    assert_eq!(
        (a.owner_team.as_deref(), a.owner_rep.as_deref()),
        (Some("rest"), Some("zed"))
    );
    assert_eq!(a.respond_by, 40 * MIN, "team SLA of 30 minutes");
}

#[test]
fn the_existing_owner_wins() {
    let d = desk();
    let mut routing = RoutingState::default();
    let mut lead = LeadState::default();
    d.apply(
        &mut routing,
        &mut lead,
        &event(
            1,
            "L",
            0,
            profile(&[("email", "x@a.io"), ("country", "US"), ("owner", "bob")]),
        ),
    );
    d.apply(&mut routing, &mut lead, &event(2, "L", 1, demo()));
    let a = d
        .apply(&mut routing, &mut lead, &event(3, "L", 2, view("/pricing")))
        .alert
        .unwrap();
    assert_eq!(
        (a.owner_rep.as_deref(), a.routed_via.as_deref()),
        (Some("bob"), Some("owner"))
    );
}

#[test]
fn routing_balances_count_and_grade_and_skips_unavailable_reps() {
    let roster = Roster::from_toml("r", ROSTER).unwrap();
    let mut state = RoutingState::default();
    let us: crate::Attributes = [("country", "US")].into_iter().collect();
    // A skewed stream: mostly grade A.
    let grades = [
        Grade::A,
        Grade::A,
        Grade::A,
        Grade::B,
        Grade::A,
        Grade::D,
        Grade::A,
        Grade::A,
        Grade::C,
        Grade::A,
    ];
    for g in grades.iter().cycle().take(101) {
        let o = roster.route(&mut state, &us, None, *g, None, None);
        assert_ne!(&*o.rep, "lee", "unavailable reps get no leads");
    }
    let ann = state.assigned["ann"];
    let bob = state.assigned["bob"];
    for g in 0..4 {
        assert!(
            ann[g].abs_diff(bob[g]) <= 1,
            "grade {g}: {ann:?} vs {bob:?}"
        );
    }
}

#[test]
fn contact_before_the_deadline_meets_the_sla() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "US", 0);
    let out = d.apply(
        &mut routing,
        &mut lead,
        &event(9, "L-1", 30 * MIN, fb(Feedback::Contacted)),
    );
    assert!(out.handoff_changed && out.breaches.is_empty());
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!(
        (h.sla, h.first_contact_at),
        (SlaStatus::Met, Some(30 * MIN))
    );
    assert!(
        d.fire(&mut routing, "L-1", &mut lead, 2 * 60 * MIN)
            .breaches
            .is_empty(),
        "no breach after contact"
    );
}

#[test]
fn a_missed_deadline_breaches_once_escalates_and_reassigns() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "US", 0);
    assert_eq!(Desk::next_deadline(&lead), Some(60 * MIN));
    assert!(d
        .fire(&mut routing, "L-1", &mut lead, 59 * MIN)
        .breaches
        .is_empty());
    let out = d.fire(&mut routing, "L-1", &mut lead, 61 * MIN);
    assert_eq!(out.breaches.len(), 1);
    let b = &out.breaches[0];
    assert_eq!(
        (
            b.rep.as_str(),
            b.escalate_to.as_str(),
            b.respond_by,
            b.breach_number
        ),
        ("ann", "lee", 60 * MIN, 1)
    );
    assert_eq!(
        (b.reassigned_to.as_deref(), b.new_respond_by),
        (Some("bob"), Some(120 * MIN))
    );
    assert!(
        d.fire(&mut routing, "L-1", &mut lead, 61 * MIN)
            .breaches
            .is_empty(),
        "fires once"
    );
    // The second rep misses too: breach, no more reassignments.
    let out = d.fire(&mut routing, "L-1", &mut lead, 200 * MIN);
    assert_eq!(out.breaches.len(), 1);
    assert_eq!(
        (
            out.breaches[0].rep.as_str(),
            out.breaches[0].reassigned_to.as_deref()
        ),
        ("bob", None)
    );
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!(
        (h.sla, h.breaches, h.contact_due),
        (SlaStatus::Breached, 2, None)
    );
}

#[test]
fn a_late_contact_fires_the_breach_first() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "FR", 0);
    let out = d.apply(
        &mut routing,
        &mut lead,
        &event(9, "L-1", 45 * MIN, fb(Feedback::Contacted)),
    );
    assert_eq!(
        out.breaches.len(),
        1,
        "the 30-minute deadline passed before the contact"
    );
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!(
        (h.sla, h.first_contact_at),
        (SlaStatus::Breached, Some(45 * MIN))
    );
}

#[test]
fn feedback_overdue_fires_after_three_business_days() {
    let d = desk();
    let mut routing = RoutingState::default();
    // 2026-11-20 was a Friday: three business days later is Wednesday the 25th.
    let friday = 1_795_168_800_000;
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "US", friday);
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!(h.feedback_by, friday + 5 * 86_400_000);
    d.apply(
        &mut routing,
        &mut lead,
        &event(8, "L-1", friday + MIN, fb(Feedback::Contacted)),
    );
    let out = d.fire(&mut routing, "L-1", &mut lead, friday + 5 * 86_400_000);
    let o = out.overdue.expect("no accept or reject");
    assert_eq!((o.rep.as_str(), o.escalate_to.as_str()), ("ann", "lee"));
    assert!(
        d.fire(&mut routing, "L-1", &mut lead, friday + 9 * 86_400_000)
            .overdue
            .is_none(),
        "once"
    );
}

#[test]
fn feedback_moves_the_lead_through_the_stages() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, first) = hot(&d, &mut routing, "L-1", "US", 0);
    let mut stages: Vec<Stage> = first.stages.iter().map(|c| c.to).collect();
    for (n, f) in [
        Feedback::Accepted,
        Feedback::Qualified,
        Feedback::OpportunityCreated {
            opportunity_id: Some("o-1".into()),
        },
        Feedback::DealWon { amount: 12_000.0 },
    ]
    .into_iter()
    .enumerate()
    {
        let out = d.apply(
            &mut routing,
            &mut lead,
            &event(10 + n as u32, "L-1", MIN * (n as i64 + 1), fb(f)),
        );
        stages.extend(out.stages.iter().map(|c| c.to));
    }
    assert_eq!(
        stages,
        [
            Stage::Mql,
            Stage::Sal,
            Stage::Sql,
            Stage::Opportunity,
            Stage::Customer
        ]
    );
    assert_eq!(lead.stage, Some(Stage::Customer));
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!(
        (h.feedback.as_ref().map(|f| f.0.as_str()), h.won_amount),
        (Some("accepted"), Some(12_000.0))
    );
    assert_eq!(h.qualified_by, "demo");
}

#[test]
fn the_same_verdict_twice_changes_nothing_the_second_time() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "US", 0);
    let reject = || {
        fb(Feedback::Rejected {
            reason: "no_budget".into(),
        })
    };
    let first = d.apply(&mut routing, &mut lead, &event(9, "L-1", MIN, reject()));
    assert_eq!(first.stages.len(), 1);
    // Engagement earned after the rejection survives a repeated rejection.
    d.apply(&mut routing, &mut lead, &event(20, "L-1", 2 * MIN, demo()));
    let before = lead.clone();
    // Another id: the same id again is a re-sent event, caught before this.
    let again = d.apply(
        &mut routing,
        &mut lead,
        &event(21, "L-1", 3 * MIN, reject()),
    );
    assert_eq!(again, Outcome::default(), "a repeat has no effect");
    assert_eq!(lead.contributions, before.contributions);

    // An accept repeated after the lead moved on does not move it back.
    let (mut lead, _) = hot(&d, &mut routing, "L-2", "US", 0);
    d.apply(
        &mut routing,
        &mut lead,
        &event(9, "L-2", MIN, fb(Feedback::Accepted)),
    );
    d.apply(
        &mut routing,
        &mut lead,
        &event(10, "L-2", 2 * MIN, fb(Feedback::Qualified)),
    );
    let again = d.apply(
        &mut routing,
        &mut lead,
        &event(11, "L-2", 3 * MIN, fb(Feedback::Accepted)),
    );
    assert_eq!(again, Outcome::default());
    assert_eq!(lead.stage, Some(Stage::Sql));
}

#[test]
fn rejected_leads_go_back_to_nurture_with_engagement_reset() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "US", 0);
    let out = d.apply(
        &mut routing,
        &mut lead,
        &event(
            9,
            "L-1",
            MIN,
            fb(Feedback::Rejected {
                reason: "no budget".into(),
            }),
        ),
    );
    let change = out.stages.last().unwrap();
    assert_eq!(
        (change.to, change.reason.as_deref()),
        (Stage::Recycled, Some("no budget"))
    );
    assert!(lead.contributions.is_empty() && !lead.alerted);
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!((h.sla, h.contact_due), (SlaStatus::Closed, None));
    assert!(
        d.fire(&mut routing, "L-1", &mut lead, 10 * 60 * MIN)
            .breaches
            .is_empty(),
        "no breach after a rejection"
    );
    // Back to nurture: it must earn a new alert from scratch.
    d.apply(&mut routing, &mut lead, &event(20, "L-1", 2 * MIN, demo()));
    let again = d.apply(
        &mut routing,
        &mut lead,
        &event(21, "L-1", 3 * MIN, view("/pricing")),
    );
    assert!(again.alert.is_some());
    assert_eq!(lead.stage, Some(Stage::Mql));
}

#[test]
fn disqualification_is_a_stage() {
    let d = desk();
    let mut routing = RoutingState::default();
    let mut lead = LeadState::default();
    let out = d.apply(
        &mut routing,
        &mut lead,
        &event(1, "L", 0, profile(&[("job_title", "Student")])),
    );
    let to: Vec<Stage> = out.stages.iter().map(|c| c.to).collect();
    assert_eq!(to, [Stage::Subscriber, Stage::Lead, Stage::Disqualified]);
}

#[test]
fn a_team_with_business_hours_runs_its_clocks_on_working_time_only() {
    // EMEA works Mon–Fri 09:00–18:00 in Berlin (the roster's default
    // hours); the US team keeps its own hours; 25 December is a holiday.
    let roster = ROSTER.replace(
        "[[team]]\nid = \"us\"",
        "[hours]\ntime_zone = \"Europe/Berlin\"\nopen = \"09:00\"\nclose = \"18:00\"\n\
         holidays = [\"2026-11-23\"]\n\n[[team]]\nid = \"us\"",
    ) + "[team.hours]\ntime_zone = \"America/New_York\"\ndays = \"Mon-Fri\"\n\
         open = \"09:00\"\nclose = \"17:00\"\n";
    let roster = Roster::from_toml("roster.toml", &roster).unwrap();
    assert_eq!(
        roster
            .team("us")
            .unwrap()
            .hours
            .as_ref()
            .map(|h| h.to_string()),
        Some("Mon–Fri 09:00–18:00 Europe/Berlin, 1 holiday".to_owned()),
        "the first team has no hours of its own"
    );
    assert_eq!(
        roster
            .team("rest")
            .unwrap()
            .hours
            .as_ref()
            .map(|h| h.to_string()),
        Some("Mon–Fri 09:00–17:00 America/New_York".to_owned())
    );
    let d = Desk::new(scorer_with(MODEL), Some(Arc::new(roster)));
    let mut routing = RoutingState::default();
    // Friday 20 November 2026, 17:50 in Berlin (16:50 UTC); Monday the
    // 23rd is a holiday, so the 60 minutes end on Tuesday at 09:50.
    let friday = 1_795_193_400_000;
    let (mut lead, out) = hot(&d, &mut routing, "L-1", "US", friday);
    let a = out.alert.unwrap();
    let tuesday_0950 = 1_795_510_200_000;
    assert_eq!(a.respond_by, tuesday_0950);
    let h = lead.handoff.as_ref().unwrap();
    assert_eq!(h.contact_due, Some(tuesday_0950));
    // Three working days of 9 hours from Friday 17:50: Friday's 10 minutes,
    // Tuesday, Wednesday, and Thursday until 17:50.
    assert_eq!(h.feedback_by, tuesday_0950 + 2 * 86_400_000 + 8 * 3_600_000);
    // A breach reassigns with a fresh SLA of working time: Tuesday 10:50.
    let out = d.fire(&mut routing, "L-1", &mut lead, tuesday_0950);
    assert_eq!(out.breaches.len(), 1);
    assert_eq!(
        out.breaches[0].new_respond_by,
        Some(tuesday_0950 + 60 * MIN)
    );
    // New York: 30 minutes from Friday 16:50 (11:50 EST) end at 12:20.
    let (_, out) = hot(&d, &mut routing, "L-2", "FR", friday);
    assert_eq!(out.alert.unwrap().respond_by, friday + 30 * MIN);
}

#[test]
fn breaches_and_overdue_notices_say_who_the_lead_is() {
    let d = desk();
    let mut routing = RoutingState::default();
    let (mut lead, _) = hot(&d, &mut routing, "L-1", "US", 0);
    d.apply(
        &mut routing,
        &mut lead,
        &event(
            4,
            "L-1",
            MIN,
            profile(&[
                ("first_name", "Ana"),
                ("last_name", "Lima"),
                ("job_title", "CTO"),
                ("company", "Initech"),
            ]),
        ),
    );
    let who = Contact {
        name: Some("Ana Lima".into()),
        title: Some("CTO".into()),
        company: Some("Initech".into()),
    };
    let out = d.fire(&mut routing, "L-1", &mut lead, 61 * MIN);
    assert_eq!(out.breaches.len(), 1);
    assert_eq!(out.breaches[0].contact, who);
    let out = d.fire(&mut routing, "L-1", &mut lead, 30 * 86_400_000);
    assert_eq!(out.overdue.expect("no accept or reject").contact, who);
}
