//! Unit tests of the scorer: one per rule kind and decision.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;

const D: Millis = DAY_MS;

/// A model exercising every rule kind; tests tweak it with `replace`.
pub(crate) const MODEL: &str = r#"
version = "unit-1"
respond_within_minutes = 30

[fit.grades]
A = 40
B = 20
C = 10

[[fit.rule]]
id = "senior"
label = "Senior title"
attribute = "job_title"
matches = '(?i)\b(vp|cto|head)\b'
points = 25

[[fit.rule]]
id = "big"
attribute = "employees"
at_least = 200
points = 15

[[fit.rule]]
id = "us"
attribute = "country"
in = ["US", "CA"]
points = 5

[engagement.groups.intent]
half_life_days = 10

[engagement.groups.research]
window_days = 7

[[engagement.rule]]
id = "pricing"
label = "Viewed pricing"
group = "intent"
event = "page_view"
url = "*/pricing*"
points = 20
cap = { max = 2, per_days = 7 }

[[engagement.rule]]
id = "security"
group = "intent"
event = "page_view"
url_regex = '/(security|trust)$'
points = 5

[[engagement.rule]]
id = "demo"
label = "Requested a demo"
group = "intent"
event = "form_submit"
form = "demo-request"
points = 40
once = true

[[engagement.rule]]
id = "whitepaper"
group = "research"
event = "content_download"
asset = "wp-1"
points = 5

[[engagement.rule]]
id = "launch-click"
event = "email_click"
campaign = "launch"
points = 3

[[engagement.rule]]
id = "webinar"
event = "webinar_attended"
webinar = "w-1"
points = 7

[[engagement.rule]]
id = "careers"
event = "page_view"
url = "*/careers"
points = -30

[[disqualify]]
id = "student"
label = "Student"
attribute = "job_title"
contains = "student"

[[disqualify]]
id = "free-mail"
attribute = "email_domain"
in = ["gmail.com"]

[[disqualify]]
id = "hard-bounce"
label = "Email hard-bounced"
event = "email_bounce"
bounce = "hard"

[qualify]
score_at_least = 50
rearm_below = 30

[handoff]
require = ["email"]
"#;

pub(crate) fn scorer_with(text: &str) -> Scorer {
    Scorer::new(Arc::new(Model::from_toml("unit.toml", text).unwrap()))
}

pub(crate) fn scorer() -> Scorer {
    scorer_with(MODEL)
}

pub(crate) fn event(n: u32, lead: &str, at: Millis, kind: EventKind) -> Event {
    Event {
        event_id: format!("e-{n}"),
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: at,
        company_domain: None,
        account_id: None,
        kind,
    }
}

pub(crate) fn view(url: &str) -> EventKind {
    EventKind::PageView {
        url: url.into(),
        referrer: None,
        duration_ms: None,
    }
}

fn form(id: &str) -> EventKind {
    EventKind::FormSubmit {
        form_id: id.into(),
        fields: BTreeMap::new(),
    }
}

fn profile(pairs: &[(&str, &str)]) -> EventKind {
    EventKind::ProfileUpdate {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Feeds events at the given times to one lead; returns the lead and outcomes.
fn feed(s: &Scorer, items: &[(Millis, EventKind)]) -> (LeadState, Vec<Scored>) {
    let mut lead = LeadState::default();
    let outs = items
        .iter()
        .enumerate()
        .map(|(i, (at, k))| s.apply(&mut lead, &event(i as u32, "L-1", *at, k.clone())))
        .collect();
    (lead, outs)
}

fn engagement(s: &Scorer, lead: &LeadState) -> f64 {
    s.engagement_at(lead, lead.updated_at)
}

#[test]
fn fit_rules_test_attributes_and_grade_the_lead() {
    let s = scorer();
    let (lead, _) = feed(
        &s,
        &[(
            0,
            profile(&[
                ("job_title", "VP Data"),
                ("employees", "250"),
                ("country", "us"),
            ]),
        )],
    );
    assert_eq!(lead.fit, 45.0);
    let rec = s.score_of("L-1", &lead);
    assert_eq!(rec.grade, Grade::A);
    assert_eq!(rec.fit, 45.0);
    assert_eq!(rec.engagement, 0.0);
    let (lead, _) = feed(
        &s,
        &[(
            0,
            profile(&[
                ("job_title", "Analyst"),
                ("employees", "many"),
                ("country", "FR"),
            ]),
        )],
    );
    assert_eq!(
        lead.fit, 0.0,
        "non-numeric at_least and values outside `in` do not match"
    );
    assert_eq!(s.score_of("L-1", &lead).grade, Grade::D);
}

#[test]
fn form_fields_are_attributes_and_email_gives_email_domain() {
    let s = scorer();
    let mut lead = LeadState::default();
    let mut e = event(
        1,
        "L",
        0,
        EventKind::FormSubmit {
            form_id: "contact".into(),
            fields: BTreeMap::from([
                ("email".into(), "Ann@Acme.IO".into()),
                ("job_title".into(), "CTO".into()),
            ]),
        },
    );
    e.company_domain = Some("acme.io".into());
    s.apply(&mut lead, &e);
    assert_eq!(lead.attributes.get("email_domain"), Some("acme.io"));
    assert_eq!(lead.attributes.get("company_domain"), Some("acme.io"));
    assert_eq!(lead.fit, 25.0);

    // An `email_domain` sent with the email wins over the derived one.
    let mut e = event(
        2,
        "L",
        1,
        EventKind::ProfileUpdate {
            attributes: BTreeMap::from([
                ("email".into(), "ann@mail.acme.io".into()),
                ("email_domain".into(), "acme.io".into()),
            ]),
        },
    );
    e.company_domain = None;
    s.apply(&mut lead, &e);
    assert_eq!(lead.attributes.get("email"), Some("ann@mail.acme.io"));
    assert_eq!(lead.attributes.get("email_domain"), Some("acme.io"));
}

#[test]
fn engagement_rules_match_type_and_every_condition() {
    let s = scorer();
    let (lead, _) = feed(
        &s,
        &[
            (0, view("https://x.io/security")),
            (1, view("https://x.io/security/overview")), // regex anchored at $
            (
                2,
                EventKind::ContentDownload {
                    asset_id: "wp-2".into(),
                },
            ),
            (
                3,
                EventKind::ContentDownload {
                    asset_id: "wp-1".into(),
                },
            ),
            (
                4,
                EventKind::EmailClick {
                    campaign_id: "other".into(),
                    url: "u".into(),
                },
            ),
            (
                5,
                EventKind::EmailClick {
                    campaign_id: "launch".into(),
                    url: "u".into(),
                },
            ),
            (
                6,
                EventKind::WebinarAttended {
                    webinar_id: "w-1".into(),
                },
            ),
            (7, form("newsletter")),
        ],
    );
    let ids: Vec<&str> = lead.contributions.iter().map(|c| &*c.rule_id).collect();
    assert_eq!(ids, ["security", "whitepaper", "launch-click", "webinar"]);
    assert!(
        (engagement(&s, &lead) - 20.0).abs() < 1e-6,
        "{}",
        engagement(&s, &lead)
    );
}

#[test]
fn once_counts_only_the_first_match() {
    let s = scorer();
    let (lead, outs) = feed(&s, &[(0, form("demo-request")), (D, form("demo-request"))]);
    assert_eq!(lead.contributions[0].count, 1);
    assert!(outs[0].score_changed);
}

#[test]
fn a_cap_limits_matches_per_window() {
    let s = scorer();
    let at = |d: f64| (d * D as f64) as Millis;
    let (lead, _) = feed(
        &s,
        &[
            (at(0.0), view("/pricing")),
            (at(1.0), view("/pricing")),
            (at(2.0), view("/pricing")),
            (at(8.0), view("/pricing")),
        ],
    );
    // Two within the first 7 days; the third is refused; day 8 counts again.
    assert_eq!(lead.contributions[0].count, 3);
    let (late, _) = feed(
        &s,
        &[(at(20.0), view("/pricing")), (at(5.0), view("/pricing"))],
    );
    assert_eq!(
        late.contributions[0].count, 1,
        "a match older than the window behind the latest is not counted"
    );
}

#[test]
fn half_life_decay_halves_points_per_half_life() {
    let s = scorer();
    let (lead, _) = feed(&s, &[(0, form("demo-request"))]);
    assert_eq!(engagement(&s, &lead), 40.0);
    assert!((s.engagement_at(&lead, 10 * D) - 20.0).abs() < 1e-9);
    assert!((s.engagement_at(&lead, 20 * D) - 10.0).abs() < 1e-9);
    // A later event evaluates the score at its own time.
    let (lead, _) = feed(&s, &[(0, form("demo-request")), (10 * D, view("/blog"))]);
    assert!((s.score_of("L-1", &lead).engagement - 20.0).abs() < 1e-9);
}

#[test]
fn window_decay_drops_matches_older_than_the_window() {
    let s = scorer();
    let asset = || EventKind::ContentDownload {
        asset_id: "wp-1".into(),
    };
    let (lead, _) = feed(&s, &[(0, asset()), (3 * D, asset())]);
    assert_eq!(engagement(&s, &lead), 10.0);
    assert_eq!(
        s.engagement_at(&lead, 7 * D + 1),
        5.0,
        "day 0 has left the 7-day window"
    );
    assert_eq!(s.engagement_at(&lead, 11 * D), 0.0);
}

#[test]
fn negative_points_lower_the_score_and_never_decay() {
    let s = scorer();
    let (lead, _) = feed(&s, &[(0, form("demo-request")), (1, view("/careers"))]);
    assert!((engagement(&s, &lead) - 10.0).abs() < 1e-6);
    // After 10 days the demo halves (20) but the penalty stays (-30).
    assert!((s.engagement_at(&lead, 10 * D + 1) - (-10.0)).abs() < 1e-3);
}

#[test]
fn alerts_fire_once_per_crossing_and_rearm_below_the_rearm_level() {
    let s = scorer();
    let with_email = profile(&[("email", "a@acme.io")]);
    let (lead, outs) = feed(
        &s,
        &[
            (0, with_email),
            (1, view("/pricing")),     // 20
            (2, form("demo-request")), // 60: alert
            (3, view("/pricing")),     // 80: no new alert
            (4, view("/careers")),     // 50: still alerted
            (5, view("/careers")),     // 20 < 30: re-armed
        ],
    );
    let alerts: Vec<&Alert> = outs.iter().filter_map(|o| o.alert.as_ref()).collect();
    assert_eq!(alerts.len(), 1);
    let a = alerts[0];
    assert_eq!(
        (a.crossed_at, a.respond_by, a.event_id.as_str()),
        (2, 2 + 30 * 60_000, "e-2")
    );
    assert_eq!(a.qualification, "score ≥ 50");
    assert!(!lead.alerted, "re-armed after falling below 30");
}

#[test]
fn a_cooldown_rearms_a_lead_that_stays_hot() {
    let s = scorer_with(&MODEL.replace("rearm_below = 30", "cooldown_days = 1"));
    let (_, outs) = feed(
        &s,
        &[
            (0, profile(&[("email", "a@acme.io")])),
            (1, form("demo-request")),
            (2, view("/pricing")),
            (D / 2, view("/security")),
            (3 * D / 2, view("/security")),
        ],
    );
    let at: Vec<Millis> = outs
        .iter()
        .filter_map(|o| o.alert.as_ref())
        .map(|a| a.crossed_at)
        .collect();
    assert_eq!(
        at,
        [2, 3 * D / 2],
        "one alert, then one more after the 1-day cooldown"
    );
}

#[test]
fn alert_ids_are_deterministic_and_differ_per_alert() {
    let s = scorer_with(&MODEL.replace("rearm_below = 30", "cooldown_days = 1"));
    let items = [
        (0, profile(&[("email", "a@acme.io")])),
        (1, form("demo-request")),
        (2, view("/pricing")),
        (2 * D, view("/pricing")),
    ];
    let ids = |s: &Scorer| -> Vec<String> {
        feed(s, &items)
            .1
            .into_iter()
            .filter_map(|o| o.alert)
            .map(|a| a.alert_id)
            .collect()
    };
    let first = ids(&s);
    assert_eq!(first.len(), 2);
    assert_ne!(first[0], first[1]);
    assert_eq!(first, ids(&s));
    assert_eq!(first[0].len(), 32);
}

#[test]
fn combined_conditions_need_every_part() {
    let s = scorer_with(&MODEL.replace(
        "score_at_least = 50\nrearm_below = 30",
        "engagement_at_least = 40\nfit_grade_at_least = \"B\"",
    ));
    let (_, outs) = feed(
        &s,
        &[
            (0, profile(&[("email", "a@x.io")])),
            (1, form("demo-request")),
        ],
    );
    assert!(
        outs.iter().all(|o| o.alert.is_none()),
        "engagement 40 but grade D"
    );
    let (_, outs) = feed(
        &s,
        &[
            (0, profile(&[("email", "a@x.io"), ("job_title", "CTO")])),
            (1, form("demo-request")),
        ],
    );
    let a = outs[1].alert.as_ref().expect("engagement 40 and grade B");
    assert_eq!((a.grade, a.fit, a.engagement), (Grade::B, 25.0, 40.0));
}

#[test]
fn disqualified_leads_never_alert_and_keep_the_reason() {
    let s = scorer();
    let (lead, outs) = feed(
        &s,
        &[
            (
                0,
                profile(&[("email", "a@acme.io"), ("job_title", "Student")]),
            ),
            (1, form("demo-request")),
            (2, view("/pricing")),
        ],
    );
    assert!(outs.iter().all(|o| o.alert.is_none()));
    let rec = s.score_of("L-1", &lead);
    let d = rec.disqualified.expect("disqualified");
    assert_eq!((&*d.rule_id, &*d.label, d.at), ("student", "Student", 0));
    assert!(
        rec.qualified,
        "it would qualify; the disqualification is what stops it"
    );
}

#[test]
fn attribute_disqualifications_lift_and_event_ones_stay() {
    let s = scorer();
    let (lead, outs) = feed(
        &s,
        &[
            (0, profile(&[("email", "a@gmail.com")])),
            (1, form("demo-request")),
            (2, profile(&[("email", "ann@acme.io")])),
            (3, view("/pricing")),
        ],
    );
    assert!(
        lead.disqualified.is_none(),
        "a company email lifts the free-mail disqualification"
    );
    assert!(
        outs[3].alert.is_some(),
        "and the lead alerts at its next qualifying event"
    );

    let bounce = EventKind::EmailBounce {
        campaign_id: "c".into(),
        bounce_type: BounceType::Hard,
    };
    let soft = EventKind::EmailBounce {
        campaign_id: "c".into(),
        bounce_type: BounceType::Soft,
    };
    let (lead, _) = feed(&s, &[(0, soft)]);
    assert!(
        lead.disqualified.is_none(),
        "a soft bounce does not disqualify"
    );
    let (lead, outs) = feed(
        &s,
        &[
            (0, bounce),
            (1, profile(&[("email", "ann@acme.io")])),
            (2, form("demo-request")),
            (3, view("/pricing")),
        ],
    );
    assert!(lead.disqualified.as_ref().is_some_and(|d| d.sticky));
    assert!(outs.iter().all(|o| o.alert.is_none()));
}

#[test]
fn missing_required_attributes_hold_the_lead_until_they_arrive() {
    let s = scorer();
    let (lead, outs) = feed(
        &s,
        &[
            (0, form("demo-request")),
            (1, view("/pricing")), // qualifies, no email: held
            (2, view("/pricing")), // still held: no second hold record
            (3, profile(&[("email", "a@acme.io")])), // email arrives: alert
        ],
    );
    let hold = outs[1].hold.as_ref().expect("held");
    assert_eq!(hold.missing, ["email"]);
    assert!(outs[2].hold.is_none() && outs[2].alert.is_none());
    assert!(outs[3].alert.is_some());
    assert!(lead.held.is_empty());
}

#[test]
fn reasons_explain_fit_and_engagement_and_add_up_to_the_score() {
    let s = scorer();
    let (lead, _) = feed(
        &s,
        &[
            (0, profile(&[("job_title", "CTO"), ("email", "a@acme.io")])),
            (D, view("/pricing")),
            (2 * D, view("/careers")),
            (3 * D, form("demo-request")),
        ],
    );
    let rec = s.score_of("L-1", &lead);
    let sum: f64 = rec.reasons.iter().map(|r| r.points).sum();
    assert!((sum - rec.score).abs() < 0.02, "{sum} vs {}", rec.score);
    let ids: Vec<(&str, ReasonKind)> = rec.reasons.iter().map(|r| (&*r.rule_id, r.kind)).collect();
    assert_eq!(
        ids,
        [
            ("demo", ReasonKind::Engagement),
            ("careers", ReasonKind::Engagement),
            ("senior", ReasonKind::Fit),
            ("pricing", ReasonKind::Engagement),
        ]
    );
    let pricing = rec
        .reasons
        .iter()
        .find(|r| &*r.rule_id == "pricing")
        .unwrap();
    assert!(
        pricing.points < 20.0 && pricing.points > 16.0,
        "decayed over 2 days: {}",
        pricing.points
    );
    assert_eq!(&*pricing.label, "Viewed pricing");
}

#[test]
fn explaining_a_score_gives_the_same_score_and_reasons_in_one_pass() {
    let s = scorer();
    let (lead, _) = feed(
        &s,
        &[
            (0, profile(&[("job_title", "CTO"), ("email", "a@acme.io")])),
            (D, view("/pricing")),
            (2 * D, view("/careers")),
            (3 * D, form("demo-request")),
        ],
    );
    for t in [
        lead.updated_at,
        lead.updated_at + D,
        lead.updated_at + 30 * D,
    ] {
        let (score, reasons) = s.explain_at(&lead, t);
        assert_eq!(score.to_bits(), s.score_at(&lead, t).to_bits(), "at {t}");
        let sum: f64 = reasons.iter().map(|r| r.points).sum();
        assert!((sum - score).abs() < 0.02, "at {t}: {sum} vs {score}");
    }
}

#[test]
fn a_new_model_rescores_from_stored_matches() {
    let s1 = scorer();
    let (mut lead, _) = feed(&s1, &[(0, view("/pricing")), (1, view("/security"))]);
    let s2 = scorer_with(
        &MODEL
            .replace("version = \"unit-1\"", "version = \"unit-2\"")
            .replace("points = 20\ncap", "points = 30\ncap")
            .replace("id = \"security\"", "id = \"security-v2\""),
    );
    let out = s2.apply(&mut lead, &event(9, "L-1", 2, view("/blog")));
    assert!(out.score_changed);
    assert_eq!(&*lead.model_version, "unit-2");
    let ids: Vec<&str> = lead.contributions.iter().map(|c| &*c.rule_id).collect();
    assert_eq!(ids, ["pricing"], "rules the new model lacks are dropped");
    assert!(
        (engagement(&s2, &lead) - 30.0).abs() < 1e-3,
        "pricing re-scored at 30 points"
    );
}

#[test]
fn future_dated_events_are_refused() {
    let e = event(1, "L", 10 * HOUR_MS, EventKind::Unsubscribe);
    assert!(admit(&e, 0, 24 * HOUR_MS).is_ok());
    let err = admit(&e, 0, HOUR_MS).unwrap_err();
    assert_eq!(err.code(), "future_timestamp");
    assert_eq!(
        err.to_string(),
        "occurred_at is 36000 s ahead of the record time (limit 3600 s)"
    );
}
