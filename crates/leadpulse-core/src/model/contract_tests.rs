//! The model contract: every number in range, every problem reported at
//! once with its place, warnings for what no lead can reach, and a summary
//! that names every condition.

use super::tests::BASE;
use super::*;

fn err(text: &str) -> ModelError {
    Model::from_toml("m.toml", text).unwrap_err()
}

/// `m.toml:LINE:COLUMN` of the first `needle` in `text`, to check where an
/// error points without counting lines by hand.
fn at(text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in model"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("m.toml:{line}:{column}")
}

/// The one error for `text`, which must point at `needle`.
fn one_error_at(text: &str, needle: &str) -> String {
    let e = err(text).to_string();
    assert!(!e.contains('\n'), "one error expected: {e}");
    let place = at(text, needle);
    assert!(
        e.starts_with(&format!("{place}: ")),
        "{e} should be at {place}"
    );
    e
}

const WINDOW: &str = "[engagement.groups.research]\nwindow_days = 7\n";

fn with_window(w: &str) -> String {
    BASE.replace(
        "[[engagement.rule]]\nid = \"pricing\"",
        &format!(
            "{}\n[[engagement.rule]]\nid = \"pricing\"",
            WINDOW.replace("= 7", &format!("= {w}"))
        ),
    )
    .replace("group = \"intent\"", "group = \"research\"")
}

#[test]
fn a_fractional_window_is_honoured_and_zero_is_refused_where_it_is() {
    for (w, ms) in [
        ("7", 7 * DAY_MS),
        ("0.5", DAY_MS / 2),
        ("1.5", DAY_MS * 3 / 2),
    ] {
        let m = Model::from_toml("m.toml", &with_window(w)).unwrap();
        let pricing = m.rule("pricing").unwrap();
        assert_eq!(m.decay_of(pricing), Decay::Window(ms), "window_days = {w}");
    }
    for w in ["0", "-1", "3651"] {
        let text = with_window(w);
        let e = err(&text).to_string();
        // The line of the key; the error points at its value, column 15.
        let line = at(&text, &format!("window_days = {w}\n"));
        let place = line.strip_suffix(":1").unwrap();
        assert!(e.starts_with(&format!("{place}:15: ")), "{e}");
        assert!(
            e.ends_with(&format!(
                "`window_days` must be a number of days from 0.001 to 3650, not {w}"
            )),
            "{e}"
        );
    }
}

#[test]
fn the_summary_shows_fractional_days_as_given() {
    let text = BASE
        .replace("half_life_days = 14", "half_life_days = 0.5")
        .replace(
            "score_at_least = 50",
            "score_at_least = 50\ncooldown_days = 1.5",
        )
        .replace(
            "points = 10\n",
            "points = 10\ncap = { max = 2, per_days = 0.25 }\n",
        );
    let s = Model::from_toml("m.toml", &text).unwrap().summary();
    assert!(s.contains("halves every 0.5 days (12 hours)"), "{s}");
    assert!(s.contains("at most 2× per 0.25 days (6 hours)"), "{s}");
    assert!(s.contains("or 1.5 days (36 hours) pass"), "{s}");
    assert!(!s.contains(" 0 days"), "{s}");
    let s = Model::from_toml("m.toml", &with_window("1"))
        .unwrap()
        .summary();
    assert!(s.contains("counts for 1 day\n"), "{s}");
    let s = Model::from_toml("m.toml", &with_window("0.5"))
        .unwrap()
        .summary();
    assert!(s.contains("counts for 0.5 days (12 hours)\n"), "{s}");
}

#[test]
fn durations_that_would_overflow_are_refused() {
    let cases = [
        (
            BASE.replace("score_at_least = 50", "score_at_least = 50\ncooldown_days = 1e12"),
            "1e12",
            "`cooldown_days` must be a number of days from 0.001 to 3650, not 1e12",
        ),
        (
            BASE.replace(
                "points = 10\n",
                "points = 10\ncap = { max = 2, per_days = 6e10 }\n",
            ),
            "6e10",
            "`cap.per_days` must be a number of days from 0.001 to 3650, not 6e10",
        ),
        (
            BASE.replace("version = \"t1\"", "version = \"t1\"\nrespond_within_minutes = 4294967295"),
            "4294967295",
            "`respond_within_minutes` must be a whole number of minutes from 1 to 43200, not 4294967295",
        ),
        (
            BASE.replace("half_life_days = 14", "half_life_days = inf"),
            "inf",
            "`half_life_days` must be a number of days from 0.001 to 3650, not inf",
        ),
        (
            BASE.replace("half_life_days = 14", "half_life_days = 1e-9"),
            "1e-9",
            "`half_life_days` must be a number of days from 0.001 to 3650, not 1e-9",
        ),
        (
            BASE.replace(
                "points = 10\n",
                "points = 10\ncap = { max = 100000, per_days = 7 }\n",
            ),
            "100000",
            "`cap.max` must be a whole number from 1 to 1000, not 100000",
        ),
    ];
    for (text, needle, message) in cases {
        let e = one_error_at(&text, needle);
        assert!(e.ends_with(message), "{e}\nshould end with {message}");
    }
}

#[test]
fn the_largest_allowed_numbers_load() {
    let text = BASE
        .replace(
            "version = \"t1\"",
            "version = \"t1\"\nrespond_within_minutes = 43200",
        )
        .replace("half_life_days = 14", "half_life_days = 3650")
        .replace(
            "points = 10\n",
            "points = 10000\ncap = { max = 1000, per_days = 3650 }\n",
        )
        .replace(
            "score_at_least = 50",
            "score_at_least = 50\ncooldown_days = 3650",
        );
    let m = Model::from_toml("m.toml", &text).unwrap();
    assert_eq!(m.respond_within, 30 * DAY_MS);
    assert_eq!(m.qualify.cooldown, Some(3650 * DAY_MS));
}

#[test]
fn numbers_that_are_not_finite_or_too_large_are_refused() {
    let cases = [
        (
            BASE.replace("points = 10\n", "points = 1e307\n"),
            "1e307",
            "rule `pricing`: `points` must be a non-zero number from -10000 to 10000, not 1e307",
        ),
        (
            BASE.replace("points = 25", "points = nan"),
            "nan",
            "fit rule `senior`: `points` must be a non-zero number from -10000 to 10000, not NaN",
        ),
        (
            BASE.replace(
                "score_at_least = 50",
                "score_at_least = 50\nrearm_below = nan",
            ),
            "nan",
            "`rearm_below` must be a number from -1000000 to 1000000, not NaN",
        ),
        (
            BASE.replace("A = 40", "A = nan"),
            "nan",
            "`A` must be a number from -1000000 to 1000000, not NaN",
        ),
        (
            BASE.replace("C = 10", "C = -inf"),
            "-inf",
            "`C` must be a number from -1000000 to 1000000, not -inf",
        ),
        (
            BASE.replace(r#"matches = '(?i)\b(vp|cto)\b'"#, "at_least = nan"),
            "nan",
            "`at_least` must be a number from -1e15 to 1e15, not NaN",
        ),
        (
            BASE.replace(r#"matches = '(?i)\b(vp|cto)\b'"#, "below = 1e300"),
            "1e300",
            "`below` must be a number from -1e15 to 1e15, not 1e300",
        ),
        (
            BASE.replace("score_at_least = 50", "score_at_least = inf"),
            "inf",
            "`score_at_least` must be a number above 0 and at most 1000000, not inf",
        ),
        (
            BASE.replace(
                "score_at_least = 50",
                "score_at_least = 50\nengagement_at_least = -0.5",
            ),
            "-0.5",
            "`engagement_at_least` must be a number above 0 and at most 1000000, not -0.5",
        ),
        (
            BASE.replace(
                "score_at_least = 50",
                "engagement_levels = [40, nan]\ncells = [\"A1\"]",
            ),
            "nan",
            "`engagement_levels` must be a number from -1000000 to 1000000, not NaN",
        ),
    ];
    for (text, needle, message) in cases {
        let e = err(&text).to_string();
        let place = at(&text, needle);
        assert!(
            e.lines().any(|l| l == format!("{place}: {message}")),
            "{e}\nshould say at {place}: {message}"
        );
    }
}

#[test]
fn too_many_engagement_levels_are_refused() {
    let text = BASE.replace(
        "score_at_least = 50",
        "engagement_levels = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]\ncells = [\"A1\"]",
    );
    let e = one_error_at(&text, "[10,");
    assert!(e.ends_with("may list at most 9 levels, not 10"), "{e}");
}

#[test]
fn an_empty_or_padded_handoff_attribute_is_refused() {
    let text = format!("{BASE}\n[handoff]\nrequire = [\"email\", \"\"]\n");
    let e = one_error_at(&text, "\"\"]");
    assert!(e.contains("empty attribute name"), "{e}");
    let text = format!("{BASE}\n[handoff]\nrequire = [\" job_title\"]\n");
    let e = one_error_at(&text, "\" job_title\"");
    assert!(e.ends_with("write `job_title`"), "{e}");
    let text = format!("{BASE}\n[handoff]\nrequire = [\"email\", \"email\"]\n");
    let m = Model::from_toml("m.toml", &text).unwrap();
    assert_eq!(m.require, ["email"]);
    let twice = at(&text, "\"email\"]");
    assert!(
        m.warnings()
            .iter()
            .any(|w| w.to_string() == format!("{twice}: warning: `require` lists `email` twice")),
        "{:?}",
        m.warnings()
    );
}

#[test]
fn every_error_in_the_file_is_reported_in_file_order() {
    let text = BASE
        .replace("B = 25", "B = 40")
        .replace("points = 10\n", "points = 1e307\n")
        .replace("form = \"demo-request\"", "url = \"*/demo\"")
        .replace(
            "score_at_least = 50",
            "score_at_least = 50\ncooldown_days = 1e12",
        );
    let e = err(&text);
    assert_eq!(e.errors().len(), 4, "{e}");
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "{shown}");
    for (line, needle) in lines.iter().zip(["40\nC", "1e307", "\"*/demo\"", "1e12"]) {
        let place = at(&text, needle);
        assert!(
            line.starts_with(&format!("{place}: ")),
            "{line} should be at {place}"
        );
    }
    assert!(lines[0].contains("grade bands overlap"), "{shown}");
    assert!(lines[2].contains("can never match"), "{shown}");
}

#[test]
fn a_single_error_is_shown_alone() {
    let e = err(&BASE.replace("B = 25", "B = 40"));
    assert_eq!(e.errors().len(), 1);
    assert!(matches!(e, ModelError::Invalid { .. }));
}

#[test]
fn grades_no_lead_can_reach_are_warnings() {
    // Fit gives at most 25: nobody is grade A (40).
    let m = Model::from_toml("m.toml", BASE).unwrap();
    let w: Vec<String> = m.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [format!(
            "{}: warning: no lead can be grade A: it needs 40 fit points and the fit rules give at most 25",
            at(BASE, "40\n")
        )]
    );
    assert!(
        m.summary().ends_with(&format!("\n{}\n", w[0])),
        "{}",
        m.summary()
    );
    // C at 0 with no negative fit rule: every lead is at least C.
    let text = BASE
        .replace("A = 40", "A = 25")
        .replace("B = 25", "B = 10")
        .replace("C = 10", "C = 0");
    let m = Model::from_toml("m.toml", &text).unwrap();
    let w: Vec<String> = m.warnings().iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        w,
        ["no lead can be grade D: every lead has at least 0 fit points, and D is below 0"]
    );
}

#[test]
fn matrix_cells_no_lead_can_reach_are_warnings() {
    let bounded = BASE.replace("points = 10\n", "points = 10\nonce = true\n");
    let text = bounded.replace(
        "score_at_least = 50",
        "engagement_levels = [60, 30]\ncells = [\"A2\", \"B1\", \"C2\", \"D3\"]\nfit_grade_at_least = \"C\"",
    );
    let m = Model::from_toml("m.toml", &text).unwrap();
    let w: Vec<String> = m.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            format!("{}: warning: no lead can be grade A: it needs 40 fit points and the fit rules give at most 25", at(&text, "40\n")),
            format!("{}: warning: cell `A2` can never hold: no lead can be grade A (fit is between 0 and 25 points)", at(&text, "\"A2\"")),
            format!("{}: warning: cell `B1` can never hold: no lead can reach engagement level 1 (engagement is between 0 and 50)", at(&text, "\"B1\"")),
            format!("{}: warning: cell `D3` never qualifies: `fit_grade_at_least` asks for grade C or better", at(&text, "\"D3\"")),
        ]
    );
}

#[test]
fn the_summary_names_every_condition() {
    let text = format!(
        "{BASE}\n[[disqualify]]\nid = \"bounced\"\nevent = \"email_bounce\"\nbounce = \"hard\"\n\n[[disqualify]]\nid = \"unsub\"\nevent = \"unsubscribe\"\n"
    );
    let s = Model::from_toml("m.toml", &text).unwrap().summary();
    assert!(
        s.contains("page_view where url matches \"*/pricing*\", halves every 14 days"),
        "{s}"
    );
    assert!(
        s.contains("form_submit where form = \"demo-request\", first time only"),
        "{s}"
    );
    assert!(
        s.contains("on email_bounce events where bounce = \"hard\""),
        "{s}"
    );
    assert!(s.contains("on any unsubscribe event\n"), "{s}");
    let example = include_str!("../../../../examples/model.toml");
    let s = Model::from_toml("examples/model.toml", example)
        .unwrap()
        .summary();
    assert!(
        s.contains(
            "page_view where url matches regex '/(security|trust)(/|$)', at most 2× per 30 days"
        ),
        "{s}"
    );
}

#[test]
fn rules_on_sales_feedback_are_refused() {
    let text = BASE
        .replace("event = \"form_submit\"", "event = \"deal_won\"")
        .replace("form = \"demo-request\"\n", "");
    let e = one_error_at(&text, "\"deal_won\"");
    assert!(
        e.contains("rule `demo` can never match: `deal_won` is sales feedback"),
        "{e}"
    );
    let text = format!("{BASE}\n[[disqualify]]\nid = \"lost\"\nevent = \"deal_lost\"\n");
    let e = one_error_at(&text, "\"deal_lost\"");
    assert!(
        e.contains("disqualifier `lost` can never match: `deal_lost` is sales feedback"),
        "{e}"
    );
}

#[test]
fn disqualifier_keys_of_the_other_kind_are_refused() {
    let text =
        format!("{BASE}\n[[disqualify]]\nid = \"x\"\nevent = \"unsubscribe\"\nequals = \"y\"\n");
    let e = one_error_at(&text, "\"y\"");
    assert!(
        e.ends_with(
            "disqualifier `x`: `equals` is an attribute test, but this disqualifier is on an event"
        ),
        "{e}"
    );
    let text = format!("{BASE}\n[[disqualify]]\nid = \"x\"\nattribute = \"a\"\nequals = \"y\"\nbounce = \"hard\"\n");
    let e = one_error_at(&text, "\"hard\"");
    assert!(
        e.ends_with("`bounce` is an event condition, but this disqualifier is on an attribute"),
        "{e}"
    );
}
