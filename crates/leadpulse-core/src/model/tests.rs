//! Model parsing and validation: every error names the place to fix.

use super::*;

pub(crate) const BASE: &str = r#"
version = "t1"

[fit.grades]
A = 40
B = 25
C = 10

[[fit.rule]]
id = "senior"
attribute = "job_title"
matches = '(?i)\b(vp|cto)\b'
points = 25

[engagement.groups.intent]
half_life_days = 14

[[engagement.rule]]
id = "pricing"
label = "Viewed pricing"
group = "intent"
event = "page_view"
url = "*/pricing*"
points = 10

[[engagement.rule]]
id = "demo"
event = "form_submit"
form = "demo-request"
points = 40
once = true

[qualify]
score_at_least = 50
"#;

fn err(text: &str) -> String {
    Model::from_toml("m.toml", text).unwrap_err().to_string()
}

#[test]
fn a_valid_model_loads_and_indexes_rules_by_type() {
    let m = Model::from_toml("m.toml", BASE).unwrap();
    assert_eq!(&*m.version, "t1");
    assert_eq!(m.respond_within, HOUR_MS);
    assert_eq!(m.rules_for(EventType::PageView).count(), 1);
    assert_eq!(m.rules_for(EventType::EmailOpen).count(), 0);
    assert_eq!(m.groups.len(), 2, "default + intent");
    assert_eq!(
        m.decay_of(m.rule("pricing").unwrap()),
        Decay::HalfLife(14 * DAY_MS)
    );
    assert_eq!(m.rule("demo").unwrap().cap, Cap::Once);
    assert_eq!(m.grades.grade(40.0), Grade::A);
    assert_eq!(m.grades.grade(9.9), Grade::D);
    assert_eq!(m.qualify.describe(), "score ≥ 50");
}

#[test]
fn unknown_keys_are_errors_with_their_line() {
    let e = err(&BASE.replace("once = true", "once = true\npionts = 3"));
    assert!(e.contains("pionts") && e.contains("line 32"), "{e}");
    let e = err(&BASE.replace("[qualify]", "[qualify]\nthreshhold = 1"));
    assert!(e.contains("threshhold"), "{e}");
}

#[test]
fn conditions_for_another_event_type_can_never_match() {
    let e = err(&BASE.replace("form = \"demo-request\"", "url = \"*/demo\""));
    assert_eq!(
        e,
        "m.toml:29:7: rule `demo` can never match: `url` applies only to page_view and email_click events, not form_submit"
    );
}

#[test]
fn bad_globs_and_regexes_are_reported_where_they_are() {
    let e = err(&BASE.replace("*/pricing*", "*/pricing["));
    assert!(
        e.starts_with("m.toml:23:7:") && e.contains("not a valid glob"),
        "{e}"
    );
    let e = err(&BASE.replace(r"(?i)\b(vp|cto)\b", "(vp|cto"));
    assert_eq!(
        e,
        "m.toml:12:11: fit rule `senior`: `matches` is not a valid regex: unclosed group"
    );
}

#[test]
fn overlapping_grade_bands_are_errors() {
    let e = err(&BASE.replace("B = 25", "B = 40"));
    assert!(e.contains("grade bands overlap: A starts at 40"), "{e}");
    let e = err(&BASE.replace("C = 10", "C = 30"));
    assert!(e.contains("grade bands overlap: B starts at 25"), "{e}");
}

#[test]
fn thresholds_nothing_can_reach_are_errors() {
    // With every positive engagement rule capped to once, engagement is bounded.
    let bounded = BASE.replace("points = 10\n", "points = 10\nonce = true\n");
    let e = err(&bounded.replace("score_at_least = 50", "score_at_least = 80"));
    assert!(
        e.contains("no lead can reach score 80: fit gives at most 25 and engagement at most 50"),
        "{e}"
    );
    let e = err(&bounded.replace(
        "score_at_least = 50",
        "score_at_least = 50\nengagement_at_least = 60",
    ));
    assert!(e.contains("no lead can reach engagement 60"), "{e}");
    let e = err(&BASE.replace(
        "score_at_least = 50",
        "score_at_least = 50\nfit_grade_at_least = \"A\"",
    ));
    assert!(e.contains("no lead can reach fit grade A"), "{e}");
    let e = err(&BASE.replace("C = 10", "C = 26").replace("B = 25", "B = 30"));
    assert!(e.contains("every lead would be grade D"), "{e}");
}

#[test]
fn rules_that_can_never_count_are_errors() {
    let e = err(&BASE.replace("once = true", "cap = { max = 0, per_days = 7 }"));
    assert!(e.contains("can never count"), "{e}");
    let e = err(&BASE.replace("group = \"intent\"", "group = \"intnet\""));
    assert!(
        e.contains("group `intnet` is not defined") && e.contains("known: default, intent"),
        "{e}"
    );
    let e = err(&BASE.replace(r#"matches = '(?i)\b(vp|cto)\b'"#, "in = []"));
    assert!(e.contains("`in` is an empty list"), "{e}");
    let e = err(&BASE.replace(
        r#"matches = '(?i)\b(vp|cto)\b'"#,
        "equals = \"CTO\"\ncontains = \"vp\"",
    ));
    assert!(e.contains("give only one test"), "{e}");
    let e = err(&BASE.replace("id = \"demo\"", "id = \"pricing\""));
    assert!(e.contains("used twice"), "{e}");
}

#[test]
fn qualify_needs_a_score_condition_and_a_sane_rearm() {
    let e = err(&BASE.replace("score_at_least = 50", "fit_grade_at_least = \"B\""));
    assert!(e.contains("[qualify] needs a score condition"), "{e}");
    let e = err(&BASE.replace(
        "score_at_least = 50",
        "score_at_least = 50\nrearm_below = 60",
    ));
    assert!(e.contains("`rearm_below` (60) must be below"), "{e}");
    let e = err(&BASE.replace(
        "score_at_least = 50",
        "engagement_levels = [10, 20]\ncells = [\"A1\"]",
    ));
    assert!(e.contains("decreasing"), "{e}");
    let e = err(&BASE.replace(
        "score_at_least = 50",
        "engagement_levels = [20, 10]\ncells = [\"A9\"]",
    ));
    assert!(e.contains("cell `A9`"), "{e}");
}

#[test]
fn the_matrix_accepts_only_its_cells() {
    let m = Model::from_toml(
        "m",
        &BASE.replace(
            "score_at_least = 50",
            "engagement_levels = [40, 20, 10]\ncells = [\"A1\", \"A2\", \"B1\"]",
        ),
    )
    .unwrap();
    let q = &m.qualify;
    let mx = q.matrix.as_ref().unwrap();
    assert_eq!((mx.level(45.0), mx.level(20.0), mx.level(5.0)), (1, 2, 4));
    assert!(q.holds(Grade::A, 25.0, 0.0));
    assert!(q.holds(Grade::B, 40.0, 0.0));
    assert!(!q.holds(Grade::B, 39.0, 0.0));
    assert!(!q.holds(Grade::C, 100.0, 0.0));
}

#[test]
fn disqualifiers_need_an_event_or_an_attribute() {
    let e = err(&format!("{BASE}\n[[disqualify]]\nid = \"x\"\n"));
    assert!(e.contains("give either `event` or `attribute`"), "{e}");
    let e = err(&format!(
        "{BASE}\n[[disqualify]]\nid = \"x\"\nevent = \"email_open\"\nbounce = \"hard\"\n"
    ));
    assert!(e.contains("`bounce` applies only to email_bounce"), "{e}");
}

#[test]
fn the_shipped_example_model_is_valid_and_summarised() {
    let text = include_str!("../../../../examples/model.toml");
    let m = Model::from_toml("examples/model.toml", text).unwrap();
    let s = m.summary();
    assert!(s.contains("sales-ready when score ≥ 70"), "{s}");
    assert!(s.contains("Requested a demo"), "{s}");
    assert!(s.contains("first time only"), "{s}");
    assert!(s.contains("Never alerts when"), "{s}");
}
