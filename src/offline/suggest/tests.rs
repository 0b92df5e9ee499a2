//! The parts of `model suggest` that need no generated stream; the
//! acceptance tests on data with known drivers are in tests/it/model_suggest.rs.

use super::*;

const MODEL: &str = include_str!("../../../examples/model.toml");

fn options() -> SuggestOptions {
    let reference = codec::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    SuggestOptions::new(ReplayOptions::new(reference, 0))
}

#[test]
fn an_outcome_is_its_stage_or_any_later_one_short_of_recycling() {
    assert!(Target::Accepted.by_stage(Stage::Sal));
    assert!(Target::Accepted.by_stage(Stage::Customer));
    assert!(!Target::Accepted.by_stage(Stage::Mql));
    assert!(!Target::Accepted.by_stage(Stage::Recycled));
    assert!(Target::Sql.by_stage(Stage::Opportunity));
    assert!(!Target::Sql.by_stage(Stage::Sal));
    assert!(Target::Won.by_stage(Stage::Customer));
    assert!(!Target::Won.by_stage(Stage::Opportunity));
    assert!(Target::Sql.by_feedback(&Feedback::DealWon { amount: 1.0 }));
    assert!(!Target::Won.by_feedback(&Feedback::Qualified));
    assert!(!Target::Accepted.by_feedback(&Feedback::Rejected {
        reason: "no".into()
    }));
}

#[test]
fn no_events_or_a_bad_model_is_refused_with_a_reason() {
    let err = suggest("m.toml", MODEL, b"\n\n", &[], &options()).unwrap_err();
    assert!(matches!(err, SuggestError::NoEvents), "{err}");
    let err = suggest("m.toml", "version = 1", b"", &[], &options()).unwrap_err();
    assert!(err.to_string().contains("m.toml"), "{err}");
}

#[test]
fn too_few_outcomes_name_the_minimum_and_what_was_found() {
    let line = |lead: &str, t: &str, kind: &str| {
        format!(
            r#"{{"event_id":"{lead}-{t}","lead_id":"{lead}","occurred_at":"2026-09-{t}T10:00:00Z",{kind}}}"#
        )
    };
    let mut events = String::new();
    for i in 0..40 {
        let lead = format!("L{i}");
        events += &line(
            &lead,
            "01",
            r#""type":"page_view","url":"https://x/pricing""#,
        );
        events.push('\n');
        if i < 3 {
            events += &line(&lead, "02", r#""type":"deal_won","amount":100"#);
            events.push('\n');
        }
    }
    events += &line("L0", "30", r#""type":"page_view","url":"https://x/""#);
    let err = suggest("m.toml", MODEL, events.as_bytes(), &[], &options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "needs at least 50 won leads in the training window (before 2026-09-21), found 3: \
         give a longer window of events, an earlier --holdout-from, or lower --min-outcomes"
    );
}
