//! Visitors' events, changelog records and merges records round-trip.

use super::*;
use leadpulse_core::{Event, EventKind, Merge, Rejection, VisitorState};

fn anonymous_view(id: &str, at: i64) -> Event {
    Event {
        event_id: id.into(),
        lead_id: String::new(),
        visitor_id: Some("v-1".into()),
        occurred_at: at,
        company_domain: Some("acme.io".into()),
        account_id: None,
        kind: EventKind::PageView {
            url: "https://x.io/docs".into(),
            referrer: None,
            duration_ms: Some(3),
        },
    }
}

#[test]
fn anonymous_and_identify_events_round_trip_in_both_formats() {
    let json = r#"{"event_id":"e","visitor_id":"v-1","type":"page_view","occurred_at":"2026-11-20T10:00:00Z","url":"https://x.io/docs"}"#;
    let e = decode_event(json.as_bytes(), None).unwrap();
    assert!(e.is_anonymous());
    assert_eq!(e.key(), "v-1");
    let identify = r#"{"event_id":"i","lead_id":"L-1","visitor_id":"v-1","type":"identify","occurred_at":"2026-11-20T10:00:00Z"}"#;
    let i = decode_event(identify.as_bytes(), None).unwrap();
    assert_eq!(i.kind, EventKind::Identify);
    assert_eq!(i.key(), "L-1");
    for e in [e, i] {
        for format in [Format::Json, Format::Protobuf] {
            assert_eq!(decode_event(&encode_event(&e, format), None).unwrap(), e);
        }
    }
    let js = String::from_utf8(encode_event(&anonymous_view("e", 0), Format::Json)).unwrap();
    assert!(!js.contains("lead_id"), "{js}");
}

#[test]
fn visitor_ids_are_checked_with_a_field() {
    let cases = [
        (
            r#"{"event_id":"e","visitor_id":"v","type":"form_submit","occurred_at":"2026-11-20T10:00:00Z","form_id":"f"}"#,
            "invalid field `lead_id`",
        ),
        (
            r#"{"event_id":"e","lead_id":"L","type":"identify","occurred_at":"2026-11-20T10:00:00Z"}"#,
            "missing field `visitor_id`",
        ),
        (
            r#"{"event_id":"e","lead_id":" ","visitor_id":" ","type":"page_view","occurred_at":"2026-11-20T10:00:00Z","url":"u"}"#,
            "missing field `lead_id`",
        ),
    ];
    for (json, want) in cases {
        let err = decode_event(json.as_bytes(), None).unwrap_err();
        assert!(err.to_string().contains(want), "{json}: {err}");
    }
    let long = format!(
        r#"{{"event_id":"e","visitor_id":"{}","type":"page_view","occurred_at":"2026-11-20T10:00:00Z","url":"u"}}"#,
        "v".repeat(2000)
    );
    assert!(matches!(
        decode_event(long.as_bytes(), None),
        Err(Rejection::InvalidField { field, .. }) if field == "visitor_id"
    ));
}

#[test]
fn visitor_state_round_trips() {
    let v = VisitorState {
        events: vec![anonymous_view("a", 5), anonymous_view("b", -0)],
        last_seen: 1_780_000_000_000,
        lead_id: Some("L-1".into()),
    };
    let bytes = encode_visitor("v-1", &v);
    assert_eq!(decode_visitor(&bytes).unwrap(), ("v-1".to_owned(), v));
    let empty = VisitorState::default();
    assert_eq!(
        decode_visitor(&encode_visitor("", &empty)).unwrap(),
        (String::new(), empty)
    );
}

#[test]
fn merges_round_trip_and_broken_ones_are_refused() {
    let mut own = anonymous_view("a", 7);
    own.lead_id = "L-1".into();
    own.visitor_id = None;
    for m in [
        Merge::Link {
            visitor_id: "v-1".into(),
            lead_id: "L-1".into(),
            identified_at: 1_780_000_000_000,
        },
        Merge::History {
            lead_id: "L-1".into(),
            visitor_id: "v-1".into(),
            events: vec![own.clone(), own.clone()],
        },
    ] {
        assert_eq!(decode_merge(&encode_merge(&m)).unwrap(), m);
    }
    let stray = Merge::History {
        lead_id: "L-2".into(),
        visitor_id: "v-1".into(),
        events: vec![own],
    };
    let err = decode_merge(&encode_merge(&stray)).unwrap_err();
    assert!(err.to_string().contains("history.events.lead_id"), "{err}");
    assert!(decode_merge(b"\x0a\x02\x08").is_err());
    assert!(decode_merge(b"").is_err(), "no kind");
}
