//! What the fuzz targets share: the properties every error must have, and
//! a few valid events to drive models and rosters that load.

use std::sync::LazyLock;

use leadpulse_core::{Event, ModelError, Rejection};

/// A refused record must say why in words a person can act on: a named
/// field, the format that failed to parse, the type that is unknown.
pub fn check_rejection(r: &Rejection, format: &str) {
    let text = r.to_string();
    assert!(!text.trim().is_empty(), "an empty message for {r:?}");
    match r {
        Rejection::Malformed { format: f, detail } => {
            assert_eq!(*f, format, "{r:?}");
            assert!(!detail.trim().is_empty(), "{r:?}");
            if format == "json" {
                // serde_json says where: "… at line 1 column 7".
                assert!(detail.contains("line "), "no position in {r:?}");
            }
        }
        Rejection::MissingField(field) => assert!(!field.trim().is_empty(), "{r:?}"),
        Rejection::InvalidField { field, detail } => {
            assert!(!field.trim().is_empty(), "{r:?}");
            assert!(!detail.trim().is_empty(), "{r:?}");
        }
        Rejection::UnknownType(_) => {}
        other => panic!("a decoder gave a rejection only admission gives: {other:?}"),
    }
}

/// A model or roster error points into the file: its origin, and for a
/// check that failed, a line and column inside `text`.
pub fn check_file_error(e: &ModelError, origin: &str, text: &str) {
    let lines = text.split('\n').count();
    assert!(e.to_string().starts_with(origin), "{e}");
    assert!(!e.errors().is_empty(), "{e:?}");
    for one in e.errors() {
        match one {
            ModelError::Syntax {
                origin: o, message, ..
            } => {
                assert_eq!(o, origin);
                assert!(!message.trim().is_empty(), "{one:?}");
            }
            ModelError::Invalid {
                origin: o,
                line,
                column,
                message,
            } => {
                assert_eq!(o, origin);
                assert!(
                    (1..=lines).contains(line),
                    "line {line} of {lines}: {one:?}"
                );
                let width = text.split('\n').nth(line - 1).map_or(0, str::len);
                assert!(
                    (1..=width + 1).contains(column),
                    "column {column} of a {width}-byte line: {one:?}"
                );
                assert!(!message.trim().is_empty(), "{one:?}");
            }
            ModelError::Several(_) => panic!("nested Several in {e:?}"),
        }
    }
}

/// Valid events of every type from `examples/events.ndjson`, a few per
/// lead, for scoring with whatever model loads.
pub static EVENTS: LazyLock<Vec<Event>> = LazyLock::new(|| {
    let mut seen = std::collections::BTreeMap::<&'static str, usize>::new();
    include_str!("../../examples/events.ndjson")
        .lines()
        .filter_map(|line| {
            let e =
                leadpulse_codec::decode_event(line.as_bytes(), Some(b"application/json")).ok()?;
            let n = seen.entry(e.kind.event_type().as_str()).or_default();
            *n += 1;
            (*n <= 6).then_some(e)
        })
        .collect()
});
