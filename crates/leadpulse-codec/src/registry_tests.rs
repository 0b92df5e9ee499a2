use super::*;
use crate::{encode_event, Format};
use leadpulse_core::{Event, EventKind};

fn event() -> Event {
    Event {
        event_id: "e-1".into(),
        lead_id: "L-1".into(),
        visitor_id: None,
        occurred_at: 1_760_000_000_000,
        company_domain: None,
        account_id: None,
        kind: EventKind::PageView {
            url: "https://example.com/pricing".into(),
            referrer: None,
            duration_ms: None,
        },
    }
}

const EVENTS_PROTO: &str = include_str!("../../../proto/leadpulse/v1/events.proto");

#[test]
fn schema_ids_are_read_from_framed_records_only() {
    assert_eq!(schema_id(&[0, 0, 0, 1, 2, 9]), Some(258));
    assert_eq!(schema_id(b"{\"a\":1}"), None);
    assert_eq!(schema_id(&[0, 0, 1]), None);
    assert_eq!(schema_id(&encode_event(&event(), Format::Protobuf)), None);
}

#[test]
fn frames_round_trip_with_message_indexes() {
    let framed = frame(7, Some(0), b"xy");
    assert_eq!(framed, [0, 0, 0, 0, 7, 0, b'x', b'y']);
    let framed = frame(7, Some(2), b"xy");
    assert_eq!(&framed[5..], [2, 4, b'x', b'y']);
    assert_eq!(message_indexes(&framed[5..]), Some((vec![2], &b"xy"[..])));
    assert_eq!(frame(7, None, b"{}"), [0, 0, 0, 0, 7, b'{', b'}']);
    // A count past any real nesting, or a list cut short, is no framing.
    assert_eq!(message_indexes(&[0x7e]), None);
    assert_eq!(message_indexes(&[4, 2]), None);
}

#[test]
fn the_contracts_own_proto_text_fits_and_decodes() {
    let verdict = judge(Some(SchemaType::Protobuf), EVENTS_PROTO, &[]);
    let Verdict::Protobuf(messages) = &verdict else {
        panic!("{verdict:?}");
    };
    assert_eq!(messages.iter().find(|(p, _)| *p == [0]).unwrap().1, Ok(()));
    // PageView is not an event: its field 3 is no timestamp.
    let page_view = messages.iter().find(|(p, _)| *p == [1]).unwrap();
    let why = page_view.1.as_ref().unwrap_err();
    assert!(why.contains("`occurred_at`) is uint64"), "{why}");
    let bytes = frame(3, Some(0), &encode_event(&event(), Format::Protobuf));
    assert_eq!(decode_framed(&bytes, &verdict), Ok(event()));
    let wrong = frame(3, Some(1), &encode_event(&event(), Format::Protobuf));
    assert_eq!(
        decode_framed(&wrong, &verdict).unwrap_err().code(),
        "incompatible_schema"
    );
}

#[test]
fn a_base64_descriptor_as_confluent_clients_register_it_is_read() {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET).unwrap();
    let file = set
        .file
        .iter()
        .find(|f| f.name().ends_with("events.proto"))
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec());
    let verdict = judge(Some(SchemaType::Protobuf), &b64, &[]);
    let bytes = frame(3, Some(0), &encode_event(&event(), Format::Protobuf));
    assert_eq!(decode_framed(&bytes, &verdict), Ok(event()));
}

#[test]
fn a_field_number_with_another_type_is_incompatible() {
    let schema = r#"syntax = "proto3";
        message Other {
          string event_id = 1;
          int64 lead_id = 2;
          string occurred_at = 3;
        }"#;
    let verdict = judge(Some(SchemaType::Protobuf), schema, &[]);
    let Verdict::Protobuf(m) = &verdict else {
        panic!("{verdict:?}")
    };
    let why = m[0].1.as_ref().unwrap_err();
    assert!(why.contains("field 2 (`lead_id`) is int64"), "{why}");
    let bytes = frame(9, Some(0), b"");
    let err = decode_framed(&bytes, &verdict).unwrap_err();
    assert_eq!(err.code(), "incompatible_schema");
    assert!(err.to_string().contains("schema id 9"), "{err}");
}

#[test]
fn nested_messages_are_compared_too() {
    let schema = r#"syntax = "proto3";
        import "google/protobuf/timestamp.proto";
        message Ev {
          string event_id = 1;
          string lead_id = 2;
          google.protobuf.Timestamp occurred_at = 3;
          Pv page_view = 10;
        }
        message Pv { int32 url = 1; }"#;
    let Verdict::Protobuf(m) = judge(Some(SchemaType::Protobuf), schema, &[]) else {
        panic!()
    };
    let why = m
        .iter()
        .find(|(p, _)| *p == [0])
        .unwrap()
        .1
        .as_ref()
        .unwrap_err();
    assert!(why.contains("`page_view.url`"), "{why}");
}

#[test]
fn references_are_resolved_by_import_name() {
    let main = r#"syntax = "proto3";
        import "shared/time.proto";
        message Ev { string event_id = 1; string lead_id = 2; shared.When occurred_at = 3; }"#;
    let dep = r#"syntax = "proto3"; package shared; message When { int64 seconds = 1; int32 nanos = 2; }"#;
    let refs = [("shared/time.proto".to_owned(), dep.to_owned())];
    let Verdict::Protobuf(m) = judge(Some(SchemaType::Protobuf), main, &refs) else {
        panic!()
    };
    assert_eq!(m[0].1, Ok(()));
    let missing = judge(Some(SchemaType::Protobuf), main, &[]);
    assert!(matches!(missing, Verdict::Incompatible(_)), "{missing:?}");
}

#[test]
fn json_schemas_must_require_what_every_event_has() {
    let good = r#"{"type":"object","required":["event_id","lead_id","type","occurred_at"],
        "properties":{"lead_id":{"type":"string"},"duration_ms":{"type":"number"}}}"#;
    let verdict = judge(Some(SchemaType::Json), good, &[]);
    assert!(matches!(verdict, Verdict::Json), "{verdict:?}");
    let json = encode_event(&event(), Format::Json);
    assert_eq!(decode_framed(&frame(4, None, &json), &verdict), Ok(event()));

    let lax = r#"{"type":"object","required":["event_id","lead_id","type"]}"#;
    let Verdict::Incompatible(why) = judge(Some(SchemaType::Json), lax, &[]) else {
        panic!()
    };
    assert!(why.contains("`occurred_at`"), "{why}");
    let typed = r#"{"required":["event_id","lead_id","type","occurred_at"],
        "properties":{"lead_id":{"type":"integer"}}}"#;
    let Verdict::Incompatible(why) = judge(Some(SchemaType::Json), typed, &[]) else {
        panic!()
    };
    assert!(why.contains("`lead_id` has type"), "{why}");
    assert!(matches!(judge(None, "{}", &[]), Verdict::Incompatible(_)));
}

#[test]
fn output_schemas_are_at_hand() {
    assert_eq!(output_message_index("leadpulse.v1.Reason"), Some(0));
    assert!(output_message_index("leadpulse.v1.LeadScore").is_some());
    assert!(!outputs_schema_base64().is_empty());
    for name in ["LeadScore", "HotLeadAlert", "SlaBreach", "WatchAlert"] {
        let s: serde_json::Value = serde_json::from_str(output_json_schema(name).unwrap()).unwrap();
        assert_eq!(s["title"], format!("leadpulse.v1.{name}"));
    }
}

#[test]
fn leadpulse_reads_its_own_framed_outputs() {
    assert_eq!(unframed(b"{\"a\":1}"), b"{\"a\":1}");
    assert_eq!(unframed(&frame(5, None, b"{\"a\":1}")), b"{\"a\":1}");
    assert_eq!(unframed(&frame(5, Some(3), b"\x0a\x01x")), b"\x0a\x01x");
}
