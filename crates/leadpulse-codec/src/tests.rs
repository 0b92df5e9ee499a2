use super::*;
use leadpulse_core::{EventKind, Rejection};

const CANONICAL: &str = r#"{"event_id":"e-1","lead_id":"L-42","type":"page_view","occurred_at":"2026-11-20T10:00:00Z","url":"https://example.com/pricing"}"#;

#[test]
fn decodes_the_canonical_json_event() {
    let e = decode_event(CANONICAL.as_bytes(), None).unwrap();
    assert_eq!(e.lead_id, "L-42");
    assert_eq!(e.occurred_at, 1_795_168_800_000);
    assert!(
        matches!(e.kind, EventKind::PageView { ref url, .. } if url == "https://example.com/pricing")
    );
}

#[test]
fn json_and_protobuf_round_trip_to_the_same_event() {
    let e = decode_event(CANONICAL.as_bytes(), None).unwrap();
    let pb = encode_event(&e, Format::Protobuf);
    assert_eq!(decode_event(&pb, None).unwrap(), e, "sniffed as protobuf");
    assert_eq!(
        decode_event(&pb, Some(b"application/x-protobuf")).unwrap(),
        e
    );
    let js = encode_event(&e, Format::Json);
    assert_eq!(
        decode_event(&js, Some(b"application/json; charset=utf-8")).unwrap(),
        e
    );
}

#[test]
fn rejections_name_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"event_id":"e","type":"page_view","occurred_at":"2026-11-20T10:00:00Z","url":"u"}"#,
            "missing field `lead_id`",
        ),
        (
            r#"{"event_id":"e","lead_id":"L","type":"page_vue","occurred_at":"2026-11-20T10:00:00Z"}"#,
            "unknown event type `page_vue`",
        ),
        (
            r#"{"event_id":"e","lead_id":"L","type":"page_view","occurred_at":"yesterday","url":"u"}"#,
            "invalid field `occurred_at`",
        ),
        (
            r#"{"event_id":"e","lead_id":"L","type":"form_submit","occurred_at":"2026-11-20T10:00:00Z"}"#,
            "missing field `form_id`",
        ),
        (
            r#"{"event_id":"e","lead_id":7,"type":"unsubscribe","occurred_at":"2026-11-20T10:00:00Z"}"#,
            "invalid field `lead_id`",
        ),
        (
            r#"{"event_id":"e","lead_id":"","type":"unsubscribe","occurred_at":"2026-11-20T10:00:00Z"}"#,
            "missing field `lead_id`",
        ),
        (
            r#"{"event_id":"e","lead_id":"L","type":"profile_update","occurred_at":"2026-11-20T10:00:00Z","attributes":{"a":{"b":1}}}"#,
            "invalid field `attributes.a`",
        ),
        (r#"{"event_id":"e","#, "malformed json"),
    ];
    for (input, want) in cases {
        let got = decode_event(input.as_bytes(), None)
            .unwrap_err()
            .to_string();
        assert!(
            got.starts_with(want),
            "{input}\n  got: {got}\n want: {want}"
        );
    }
    let garbage = decode_event(&[0xff, 0x00, 0x13], None).unwrap_err();
    assert!(
        matches!(
            garbage,
            Rejection::Malformed {
                format: "protobuf",
                ..
            }
        ),
        "{garbage}"
    );
}

/// Found by the `decode_event_json` fuzz target: an event followed by more
/// bytes was refused as "not a JSON event", without saying where.
#[test]
fn trailing_bytes_after_an_event_are_refused_with_their_position() {
    let input = br#"{"event_id":"e","lead_id":"L","type":"unsubscribe","occurred_at":"2026-11-20T10:00:00Z"},"form_id":"x"}"#;
    let got = decode_event(input, Some(b"application/json")).unwrap_err();
    assert_eq!(
        got,
        Rejection::Malformed {
            format: "json",
            detail: "trailing characters at line 1 column 89".into(),
        }
    );
}

/// Found by the `decode_event_protobuf` fuzz target: a protobuf event in
/// the year 954,000 was accepted, and could not be written as JSON.
#[test]
fn event_times_outside_1970_to_9999_are_refused() {
    let event = example_events().next().unwrap();
    let year_10000 = 253_402_300_800_000;
    for (at, ok) in [
        (year_10000, false),
        (year_10000 - 1, true),
        (30_053_559_172_403_000, false),
        (0, true),
        (-1, false),
        (-62_135_596_800_000, false),
    ] {
        let e = leadpulse_core::Event {
            occurred_at: at,
            ..event.clone()
        };
        let bytes = encode_event(&e, Format::Protobuf);
        let got = decode_event(&bytes, None);
        if ok {
            assert_eq!(got, Ok(e.clone()), "{at}");
            let json = encode_event(&e, Format::Json);
            assert_eq!(decode_event(&json, None), Ok(e), "{at}");
        } else {
            assert!(
                matches!(&got, Err(Rejection::InvalidField { field, .. }) if field == "occurred_at"),
                "{at}: {got:?}"
            );
        }
    }
    let year_0 = br#"{"event_id":"e","lead_id":"L","type":"unsubscribe","occurred_at":"0000-12-31T00:00:00Z"}"#;
    assert!(decode_event(year_0, None)
        .unwrap_err()
        .to_string()
        .starts_with("invalid field `occurred_at`: "));
}

#[test]
fn numbers_in_attributes_become_strings() {
    let e = decode_event(
        br#"{"event_id":"e","lead_id":"L","type":"profile_update","occurred_at":"2026-11-20T10:00:00.250Z","attributes":{"employees":250,"title":"CTO"}}"#,
        None,
    )
    .unwrap();
    assert_eq!(e.occurred_at % 1000, 250);
    match e.kind {
        EventKind::ProfileUpdate { attributes } => assert_eq!(attributes["employees"], "250"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_attributes_are_refused_naming_the_field() {
    let long = "x".repeat(leadpulse_core::attributes::MAX_VALUE_LEN + 1);
    let json = format!(
        r#"{{"event_id":"e","lead_id":"L","type":"profile_update","occurred_at":"2026-11-20T10:00:00Z","attributes":{{"notes":"{long}"}}}}"#
    );
    match decode_event(json.as_bytes(), None) {
        Err(Rejection::InvalidField { field, detail }) => {
            assert_eq!(field, "attributes.notes");
            assert!(detail.contains("65536"), "{detail}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let json = format!(
        r#"{{"event_id":"e","lead_id":"L","type":"page_view","url":"/","occurred_at":"2026-11-20T10:00:00Z","company_domain":"{long}"}}"#
    );
    assert!(matches!(
        decode_event(json.as_bytes(), None),
        Err(Rejection::InvalidField { field, .. }) if field == "company_domain"
    ));
}

#[test]
fn the_direct_state_writer_matches_the_protobuf_message() {
    use leadpulse_core::{Disqualification, Handoff, SlaStatus, Stage};
    use prost::Message;

    let text = include_str!("../../../examples/model.toml");
    let model = leadpulse_core::Model::from_toml("examples/model.toml", text).unwrap();
    let scorer = leadpulse_core::Scorer::new(std::sync::Arc::new(model));
    let mut store = leadpulse_core::LeadStore::default();
    for event in example_events() {
        let staged = store.stage(&event.lead_id);
        scorer.apply(&mut staged.state, &event);
    }
    let mut states: Vec<(String, leadpulse_core::LeadState)> = store
        .iter()
        .map(|(id, s)| (id.to_string(), s.clone()))
        .collect();
    // Every optional part set, with values whose encodings need care:
    // negative times, long strings, large nested messages.
    let mut full = states[0].1.clone();
    full.disqualified = Some(Box::new(Disqualification {
        rule_id: "student".into(),
        at: -5,
        sticky: true,
    }));
    full.held = vec!["job_title".into(), String::new()];
    full.stage = Some(Stage::Sal);
    full.last_alert_at = Some(0);
    full.attributes.insert("notes", &"n".repeat(300));
    full.handoff = Some(Box::new(Handoff {
        alert_id: "a".repeat(200),
        team: "emea".into(),
        rep: "ana".into(),
        via: "territory".into(),
        handed_at: 1,
        respond_by: 2,
        contact_due: Some(0),
        first_contact_at: None,
        sla: SlaStatus::Breached,
        breaches: 2,
        reassignments: 1,
        feedback_by: 3,
        feedback: Some(("rejected".into(), 4, Some("no budget".into()))),
        feedback_overdue: true,
        qualified_by: "pricing".into(),
        grade: "B".into(),
        score: 0.0,
        won_amount: Some(0.0),
        lost_reason: Some(String::new()),
    }));
    full.watch_cooldowns = vec![
        leadpulse_core::WatchCooldown {
            watch_id: "w-acme".into(),
            fired_at: -3,
            quiet_until: 7_200_000,
        },
        leadpulse_core::WatchCooldown {
            watch_id: "w".repeat(150).into(),
            fired_at: 0,
            quiet_until: 1,
        },
    ];
    // Re-sent ids, one dated after `updated_at` (feedback does not move it).
    full.seen = vec![
        (7, full.updated_at - 86_400_000),
        (u64::MAX, full.updated_at),
        (0, full.updated_at + 3),
    ];
    states.push(("L-full".into(), full));
    states.push(("".into(), leadpulse_core::LeadState::default()));
    assert!(states
        .iter()
        .any(|(_, s)| s.contributions.iter().any(|c| !c.window.is_empty())));
    assert!(states
        .iter()
        .any(|(_, s)| s.contributions.iter().any(|c| !c.capped.is_empty())));
    for (id, state) in &states {
        let written = encode_state(id, state);
        let decoded = crate::proto::LeadState::decode(written.as_slice()).unwrap();
        assert_eq!(decoded, protobuf::state_message(id, state), "lead {id}");
        let back = decode_state(&written).unwrap();
        assert_eq!(back, protobuf::decode_state(&written).unwrap(), "lead {id}");
        let mut unresolved = state.clone();
        for c in &mut unresolved.contributions {
            c.rule = u32::MAX; // resolved again by the scorer
        }
        assert_eq!(back, unresolved, "lead {id}");
        let mut score = scorer.score_of(id, state);
        score.disqualified = state
            .disqualified
            .as_ref()
            .map(|d| leadpulse_core::DisqualifiedBy {
                rule_id: d.rule_id.clone(),
                label: "a \"quoted\" label".into(),
                at: d.at,
            });
        score.missing = state.held.clone();
        for format in [Format::Json, Format::Protobuf] {
            let bytes = encode_score(&score, format);
            assert_eq!(
                decode_score(&bytes).unwrap(),
                score,
                "lead {id}, {format:?}"
            );
        }
    }
}

#[test]
fn broken_changelog_records_are_refused_not_panicked_on() {
    let text = include_str!("../../../examples/model.toml");
    let model = leadpulse_core::Model::from_toml("examples/model.toml", text).unwrap();
    let scorer = leadpulse_core::Scorer::new(std::sync::Arc::new(model));
    let mut lead = leadpulse_core::LeadState::default();
    let busiest = busiest_lead();
    for event in example_events().filter(|e| e.lead_id == busiest) {
        scorer.apply(&mut lead, &event);
    }
    let record = encode_state("L-1", &lead);
    assert!(record.len() > 40);
    for cut in 0..record.len() {
        // Every truncation either decodes (it ended between fields) or is refused.
        let _ = decode_state(&record[..cut]);
    }
    let mut flipped = record.clone();
    for i in 0..flipped.len() {
        flipped[i] ^= 0xFF;
        let _ = decode_state(&flipped);
        flipped[i] ^= 0xFF;
    }
    assert!(matches!(
        decode_state(&[0x12, 0x7F, 0x01]),
        Err(Rejection::Malformed {
            format: "protobuf",
            ..
        })
    ));
}

/// The generated stream in `examples/events.ndjson` (the 1% malformed lines
/// skipped): a realistic mix of every event type and attribute.
fn example_events() -> impl Iterator<Item = leadpulse_core::Event> {
    include_str!("../../../examples/events.ndjson")
        .lines()
        .filter_map(|line| decode_event(line.as_bytes(), Some(b"application/json")).ok())
}

/// The lead with the most events in the example stream.
fn busiest_lead() -> String {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for e in example_events() {
        *counts.entry(e.lead_id).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.remove(0).0
}

#[test]
fn empty_optional_strings_are_absent_in_json_and_protobuf() {
    let json = r#"{"event_id":"e","lead_id":"L","type":"form_submit","occurred_at":"2026-11-20T10:00:00Z","company_domain":"","account_id":" ","form_id":"f","fields":{"email":"","job_title":"CTO","country":" "}}"#;
    let e = decode_event(json.as_bytes(), None).unwrap();
    assert_eq!(e.company_domain, None);
    assert_eq!(e.account_id, None);
    let EventKind::FormSubmit { fields, .. } = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["job_title"]);

    let mut with_empty = e.clone();
    with_empty.company_domain = Some(String::new());
    with_empty.account_id = Some(String::new());
    if let EventKind::FormSubmit { fields, .. } = &mut with_empty.kind {
        fields.insert("email".into(), String::new());
    }
    let pb = encode_event(&with_empty, Format::Protobuf);
    assert_eq!(
        decode_event(&pb, None).unwrap(),
        e,
        "protobuf drops them too"
    );

    let feedback = r#"{"event_id":"e","lead_id":"L","type":"lead_recycled","occurred_at":"2026-11-20T10:00:00Z","rep_id":"","reason":""}"#;
    let e = decode_event(feedback.as_bytes(), None).unwrap();
    assert!(
        matches!(
            e.kind,
            EventKind::Feedback {
                rep_id: None,
                feedback: leadpulse_core::Feedback::Recycled { reason: None }
            }
        ),
        "{e:?}"
    );
}

#[test]
fn events_before_1970_are_refused() {
    for at in [
        "1969-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
    ] {
        let json = CANONICAL.replace("2026-11-20T10:00:00Z", at);
        let r = decode_event(json.as_bytes(), None).unwrap_err();
        assert_eq!(r.code(), "invalid_field", "{at}: {r}");
        assert!(r.to_string().contains("occurred_at"), "{r}");
        let mut e = decode_event(CANONICAL.as_bytes(), None).unwrap();
        e.occurred_at = -1000;
        let r = decode_event(&encode_event(&e, Format::Protobuf), None).unwrap_err();
        assert_eq!(r.code(), "invalid_field", "protobuf {at}: {r}");
    }
    let epoch = CANONICAL.replace("2026-11-20T10:00:00Z", "1970-01-01T00:00:00Z");
    assert_eq!(decode_event(epoch.as_bytes(), None).unwrap().occurred_at, 0);
}

#[test]
fn an_event_must_be_a_json_object() {
    let fields: Vec<String> = (0..20).map(|i| format!("\"v{i}\"")).collect();
    for text in [
        format!("[{}]", fields.join(",")),
        r#"["e","L","page_view","2026-11-20T10:00:00Z"]"#.to_owned(),
        "\"page_view\"".to_owned(),
        "17".to_owned(),
        "null".to_owned(),
    ] {
        let r = decode_event(text.as_bytes(), Some(b"application/json")).unwrap_err();
        assert_eq!(r.code(), "malformed", "{text}: {r}");
    }
    let padded = format!(" \n{CANONICAL}");
    assert!(decode_event(padded.as_bytes(), None).is_ok());
}

#[test]
fn old_per_day_window_counts_are_read_as_matches_at_the_start_of_their_day() {
    use prost::Message;
    let old = crate::proto::LeadState {
        lead_id: "L".into(),
        contributions: vec![crate::proto::RuleContribution {
            rule_id: "webinar".into(),
            count: 3,
            days: vec![
                crate::proto::DayCount {
                    day: 20_400,
                    count: 2,
                },
                crate::proto::DayCount {
                    day: 20_399,
                    count: 1,
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = old.encode_to_vec();
    let day = leadpulse_core::DAY_MS;
    let want = vec![20_399 * day, 20_400 * day, 20_400 * day];
    assert_eq!(decode_state(&bytes).unwrap().contributions[0].window, want);
    assert_eq!(
        protobuf::decode_state(&bytes).unwrap().contributions[0].window,
        want
    );
    // Written back in the new form only.
    let state = decode_state(&bytes).unwrap();
    let again = crate::proto::LeadState::decode(encode_state("L", &state).as_slice()).unwrap();
    assert!(again.contributions[0].days.is_empty());
    assert_eq!(again.contributions[0].window_ms, want);
}
