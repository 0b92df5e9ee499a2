use super::*;
use crate::core::{EventKind, Rejection};

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
    let long = "x".repeat(crate::core::attributes::MAX_VALUE_LEN + 1);
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
