//! Unit tests of the scorer.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;

pub(crate) const MODEL: &str = r#"
version = "unit-1"
threshold = 50

[[rule]]
id = "pricing"
label = "Viewed pricing"
event = "page_view"
url = "*/pricing*"
points = 20

[[rule]]
id = "demo"
label = "Requested a demo"
event = "form_submit"
form = "demo-request"
points = 40

[[rule]]
id = "careers"
event = "page_view"
url = "*/careers"
points = -30

[[rule]]
id = "whitepaper"
event = "content_download"
asset = "wp-1"
points = 5
"#;

pub(crate) fn scorer() -> Scorer {
    Scorer::new(Arc::new(Model::from_toml("unit.toml", MODEL).unwrap()))
}

pub(crate) fn event(n: u32, lead: &str, at: Millis, kind: EventKind) -> Event {
    Event {
        event_id: format!("e-{n}"),
        lead_id: lead.into(),
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

#[test]
fn rules_match_on_type_and_their_conditions() {
    let s = scorer();
    let mut lead = LeadState::default();
    s.apply(
        &mut lead,
        &event(1, "L", 1, view("https://x.io/pricing?plan=pro")),
    );
    s.apply(&mut lead, &event(2, "L", 2, view("https://x.io/blog")));
    s.apply(&mut lead, &event(3, "L", 3, form("newsletter")));
    s.apply(
        &mut lead,
        &event(
            4,
            "L",
            4,
            EventKind::ContentDownload {
                asset_id: "wp-2".into(),
            },
        ),
    );
    s.apply(
        &mut lead,
        &event(
            5,
            "L",
            5,
            EventKind::ContentDownload {
                asset_id: "wp-1".into(),
            },
        ),
    );
    assert_eq!(lead.score(), 25.0);
    assert_eq!(lead.contributions.len(), 2);
    assert_eq!(lead.updated_at, 5);
}

#[test]
fn alerts_fire_on_the_upward_crossing_only_and_rearm_below_the_threshold() {
    let s = scorer();
    let mut lead = LeadState::default();
    let out = |lead: &mut LeadState, n, kind| {
        s.apply(lead, &event(n, "L-1", i64::from(n) * 1000, kind))
            .alert
    };
    assert!(out(&mut lead, 1, view("/pricing")).is_none()); // 20
    let first = out(&mut lead, 2, form("demo-request")).expect("crossed at 60"); // 60
    assert_eq!(first.crossed_at, 2000);
    assert_eq!(first.respond_by, 2000 + HOUR_MS);
    assert_eq!(first.event_id, "e-2");
    assert!(
        out(&mut lead, 3, view("/pricing")).is_none(),
        "still above: no new alert"
    ); // 80
    assert!(out(&mut lead, 4, view("/careers")).is_none()); // 50, still above
    assert!(out(&mut lead, 5, view("/careers")).is_none()); // 20, re-armed
    assert!(!lead.above_threshold);
    let second = out(&mut lead, 6, form("demo-request")).expect("second crossing"); // 60
    assert_ne!(first.alert_id, second.alert_id);
    assert_eq!(lead.alerts, 2);
}

#[test]
fn alert_ids_are_deterministic() {
    let run = || {
        let s = scorer();
        let mut lead = LeadState::default();
        s.apply(&mut lead, &event(1, "L-9", 10, form("demo-request")));
        s.apply(&mut lead, &event(2, "L-9", 20, view("/pricing")))
            .alert
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.alert_id, b.alert_id);
    assert_eq!(a.alert_id.len(), 32);
}

#[test]
fn reasons_explain_the_score_largest_first() {
    let s = scorer();
    let mut lead = LeadState::default();
    for (n, kind) in [
        view("/pricing"),
        view("/careers"),
        form("demo-request"),
        view("/pricing"),
    ]
    .into_iter()
    .enumerate()
    {
        s.apply(&mut lead, &event(n as u32, "L", n as i64, kind));
    }
    let reasons = s.reasons(&lead);
    let ids: Vec<&str> = reasons.iter().map(|r| &*r.rule_id).collect();
    assert_eq!(ids, ["demo", "pricing", "careers"], "ties break by rule id");
    assert_eq!(reasons[1].count, 2);
    assert_eq!(&*reasons[1].label, "Viewed pricing");
    assert_eq!(&*reasons[2].label, "careers", "label defaults to the id");
    let sum: f64 = reasons.iter().map(|r| r.points).sum();
    assert_eq!(sum, lead.score());
    assert_eq!(s.score_of("L", &lead).score, 50.0);
}

#[test]
fn profile_attributes_and_identity_are_kept() {
    let s = scorer();
    let mut lead = LeadState::default();
    let mut e = event(
        1,
        "L",
        1,
        EventKind::ProfileUpdate {
            attributes: BTreeMap::from([("job_title".into(), "CTO".into())]),
        },
    );
    e.company_domain = Some("acme.io".into());
    let out = s.apply(&mut lead, &e);
    assert!(out.score_changed, "a new lead gets its first score record");
    assert_eq!(lead.attributes["job_title"], "CTO");
    assert_eq!(lead.company_domain.as_deref(), Some("acme.io"));
    assert_eq!(&*lead.model_version, "unit-1");
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
