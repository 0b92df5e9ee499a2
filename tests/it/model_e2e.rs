//! The scoring model in the running service, against a real Kafka broker:
//! a changed model file takes effect without a restart, and a lead held for
//! enrichment alerts once the missing attribute arrives.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use leadpulse::codec::{self, Format};
use leadpulse::core::{Event, EventKind, LeadState, Model, Scorer};

use crate::support::*;

const EXAMPLE: &str = include_str!("../../examples/model.toml");

fn record(event: &Event) -> InputRecord {
    InputRecord {
        key: event.lead_id.clone(),
        payload: codec::encode_event(event, Format::Json),
        content_type: Some("application/json"),
        ndjson: String::from_utf8(codec::encode_event(event, Format::Json)).unwrap(),
        malformed: false,
    }
}

#[test]
fn a_changed_model_file_takes_effect_without_a_restart() {
    let d = Deployment::new("model-reload", 2);
    d.create_events_topic();
    let model_file = d.dir.path().join("model.toml");
    std::fs::write(&model_file, EXAMPLE).unwrap();
    let config = d.config_with_model("a", "", &model_file);
    let mut service = d.spawn_with_config("a", 1, &config);

    let all = dataset(4_000, 300, 11);
    let (first, second) = all.split_at(2_000);
    produce(&d.topic("events"), first, 0, Duration::ZERO);
    service.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(120));

    // A model that asks for less: more leads alert under it.
    let v2_text = EXAMPLE
        .replace(
            "version = \"b2b-saas-2026-11\"",
            "version = \"b2b-saas-2026-11-v2\"",
        )
        .replace("score_at_least = 70", "score_at_least = 55")
        .replace("rearm_below = 45", "rearm_below = 40");
    std::fs::write(&model_file, &v2_text).unwrap();
    service.wait_for_log("model reloaded", Duration::from_secs(30));
    produce(&d.topic("events"), second, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(120));
    let log = service.terminate();
    assert!(log.contains("to=b2b-saas-2026-11-v2"), "{log}");

    // The oracle: the same core, v1 for the first half, v2 for the second,
    // on the same lead states.
    let v1 = Scorer::new(Arc::new(Model::from_toml("v1", EXAMPLE).unwrap()));
    let v2 = Scorer::new(Arc::new(Model::from_toml("v2", &v2_text).unwrap()));
    let mut leads: BTreeMap<String, LeadState> = BTreeMap::new();
    let mut want = BTreeMap::new();
    for (scorer, part) in [(&v1, first), (&v2, second)] {
        for r in part.iter().filter(|r| !r.malformed) {
            let event = codec::decode_event(&r.payload, None).unwrap();
            let lead = leads.entry(event.lead_id.clone()).or_default();
            if let Some(a) = scorer.apply(lead, &event).alert {
                want.insert(a.alert_id.clone(), a);
            }
        }
    }
    let got: BTreeMap<String, _> = read_all(&d.topic("alerts"))
        .iter()
        .map(|r| {
            let a = codec::decode_alert(r.payload.as_deref().unwrap()).unwrap();
            (a.alert_id.clone(), a)
        })
        .collect();
    let v2_alerts = got
        .values()
        .filter(|a| &*a.model_version == "b2b-saas-2026-11-v2")
        .count();
    assert!(v2_alerts > 0, "no alert names the new model");
    assert_eq!(
        got.len(),
        want.len(),
        "alerts: {} from Kafka, {} expected",
        got.len(),
        want.len()
    );
    for (id, a) in &want {
        assert_eq!(got.get(id), Some(a), "alert {id} differs");
    }
    // Every score record written after the reload names the new model.
    let scores = read_all(&d.topic("scores"));
    let last: BTreeMap<String, String> = scores
        .iter()
        .map(|r| {
            let s = codec::decode_score(r.payload.as_deref().unwrap()).unwrap();
            (s.lead_id.clone(), s.model_version.to_string())
        })
        .collect();
    let touched_late: Vec<&String> = second
        .iter()
        .filter(|r| !r.malformed)
        .map(|r| &r.key)
        .collect();
    for lead in touched_late {
        assert_eq!(
            last[lead], "b2b-saas-2026-11-v2",
            "lead {lead}'s latest score names the old model"
        );
    }
}

#[test]
fn an_enrichment_hold_turns_into_an_alert_when_the_missing_field_arrives() {
    let d = Deployment::new("model-hold", 1);
    d.create_events_topic();
    let t0 = now_ms() - 3_600_000;
    let lead = "L-hold-1";
    let ev = |n: i64, kind: EventKind| Event {
        event_id: format!("hold-{n}"),
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: t0 + n * 60_000,
        company_domain: Some("initech.com".into()),
        account_id: None,
        kind,
    };
    let profile = |pairs: &[(&str, &str)]| EventKind::ProfileUpdate {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let view = |path: &str| EventKind::PageView {
        url: format!("https://leadpulse.example{path}"),
        referrer: None,
        duration_ms: None,
    };
    let before: Vec<InputRecord> = [
        ev(
            0,
            profile(&[
                ("email", "pat@initech.com"),
                ("company_size", "1001-5000"),
                ("country", "US"),
            ]),
        ),
        ev(
            1,
            EventKind::FormSubmit {
                form_id: "demo-request".into(),
                fields: BTreeMap::new(),
            },
        ),
        ev(2, view("/pricing")),
        ev(3, view("/pricing")),
        ev(4, view("/pricing")),
    ]
    .iter()
    .map(record)
    .collect();
    let after = vec![record(&ev(5, profile(&[("job_title", "Director of IT")])))];

    let mut service = d.spawn("a", 1);
    produce(&d.topic("events"), &before, 0, Duration::ZERO);
    service.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(60));

    let holds = read_all(&d.topic("enrichment"));
    assert_eq!(holds.len(), 1, "one hold record for the lead");
    let hold = codec::decode_hold(holds[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(
        (hold.lead_id.as_str(), hold.missing.clone()),
        (lead, vec!["job_title".to_owned()])
    );
    assert!(
        read_all(&d.topic("alerts")).is_empty(),
        "no alert while the job title is missing"
    );
    let scores = read_all(&d.topic("scores"));
    let last = codec::decode_score(scores.last().unwrap().payload.as_deref().unwrap()).unwrap();
    assert_eq!(
        last.missing,
        ["job_title"],
        "the score record says what is missing"
    );

    produce(&d.topic("events"), &after, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(60));
    service.terminate();
    let alerts = read_all(&d.topic("alerts"));
    assert_eq!(
        alerts.len(),
        1,
        "the lead alerts once the job title arrives"
    );
    let alert = codec::decode_alert(alerts[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(alert.lead_id, lead);
    assert_eq!(alert.event_id, "hold-5");
    assert!(alert.crossed_at >= hold.held_at);
}
