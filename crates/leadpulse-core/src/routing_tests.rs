//! Tests of the roster file: warnings, and business hours as written.

use super::routing::Roster;

const TEAM: &str = r#"
[[team]]
id = "emea"
lead = "lars"

[[team.rep]]
id = "lars"

[[team.rep]]
id = "chloe"
"#;

#[test]
fn a_team_lead_who_takes_new_leads_is_warned_about() {
    let roster = Roster::from_toml("r.toml", TEAM).unwrap();
    let warnings = roster.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("team `emea`: its lead `lars` is also an available rep"),
        "{warnings:?}"
    );
}

#[test]
fn a_team_lead_who_takes_only_escalations_is_not() {
    let unavailable = TEAM.replace("id = \"lars\"\n", "id = \"lars\"\navailable = false\n");
    assert!(unavailable.contains("available = false"));
    let roster = Roster::from_toml("r.toml", &unavailable).unwrap();
    assert_eq!(roster.warnings(), Vec::<String>::new());
    let outside = TEAM.replace("lead = \"lars\"", "lead = \"erik\"");
    let roster = Roster::from_toml("r.toml", &outside).unwrap();
    assert_eq!(roster.warnings(), Vec::<String>::new());
}

const HOURS: &str =
    "[team.hours]\ntime_zone = \"Europe/Berlin\"\nopen = \"09:00\"\nclose = \"18:00\"\n";

fn error(text: &str) -> String {
    Roster::from_toml("r.toml", text).unwrap_err().to_string()
}

#[test]
fn business_hours_are_optional_and_24_7_is_plain_addition() {
    let roster = Roster::from_toml("r.toml", TEAM).unwrap();
    let team = roster.team("emea").unwrap();
    assert!(team.hours.is_none());
    for (at, span) in [(0, 1), (1_795_193_400_000, 3_600_000), (-5, i64::MAX)] {
        assert_eq!(team.deadline(at, span), at.saturating_add(span));
    }
    let roster = Roster::from_toml("r.toml", &format!("{TEAM}{HOURS}")).unwrap();
    let hours = roster.team("emea").unwrap().hours.as_ref().unwrap();
    assert_eq!(hours.to_string(), "Mon–Fri 09:00–18:00 Europe/Berlin");
}

#[test]
fn bad_business_hours_are_refused_naming_the_field() {
    let cases = [
        (
            HOURS.replace("Europe/Berlin", "Europe/Berln"),
            "r.toml:12:13: team `emea`: `team.hours.time_zone`: unknown time zone \
             `Europe/Berln`",
        ),
        (
            HOURS.replace("\"18:00\"", "\"6pm\""),
            "r.toml:14:9: team `emea`: `team.hours.close`: `6pm` is not a time of day",
        ),
        (
            HOURS.replace("\"18:00\"", "\"08:00\""),
            "team `emea`: `team.hours.close`: `open` (09:00) must be before `close` (08:00)",
        ),
        (
            format!("{HOURS}days = \"Mon-Fry\"\n"),
            "team `emea`: `team.hours.days`: `Fry` is not a day",
        ),
        (
            format!("{HOURS}holidays = [\"2026-12-25\", \"2026-13-01\"]\n"),
            "r.toml:15:27: team `emea`: `team.hours.holidays`: `2026-13-01` is not a date",
        ),
        (
            format!("{HOURS}timezone = \"UTC\"\n"),
            "unknown field `timezone`",
        ),
        (
            HOURS.replace("open = \"09:00\"\n", ""),
            "missing field `open`",
        ),
    ];
    for (hours, want) in cases {
        let e = error(&format!("{TEAM}{hours}"));
        assert!(e.contains(want), "{e}\nwant: {want}");
    }
    let e = error(&format!(
        "[hours]\ntime_zone = \"Mars/Olympus\"\nopen = \"09:00\"\nclose = \"18:00\"\n{TEAM}"
    ));
    assert!(
        e.contains("r.toml:2:13: `hours.time_zone`: unknown time zone `Mars/Olympus`"),
        "{e}"
    );
    // A year of working time at most.
    let e = error(&format!("sla_minutes = 200000\n{TEAM}{HOURS}").replace(
        "sla_minutes = 200000\n\n[[team]]\nid = \"emea\"\n",
        "\n[[team]]\nid = \"emea\"\nsla_minutes = 200000\n",
    ));
    assert!(
        e.contains("team `emea`: with business hours (Mon–Fri 09:00–18:00 Europe/Berlin) the SLA must be at most 366 working days (197640 minutes)"),
        "{e}"
    );
}

/// examples/routing.toml shows business hours in comments; uncommented,
/// they are a valid roster and mean what the comment says.
#[test]
fn the_example_business_hours_parse_and_do_what_they_say() {
    let example = include_str!("../../../examples/routing.toml");
    let block = "# [team.hours]\n# time_zone";
    assert!(example.contains(block), "the example shows business hours");
    let start = example.find(block).unwrap();
    let end = start + example[start..].find("\n\n").unwrap();
    let uncommented = example[start..end].replace("# ", "");
    let text = format!("{}{}{}", &example[..start], uncommented, &example[end..]);
    let roster = Roster::from_toml("routing.toml", &text).unwrap();
    let emea = roster.team("emea").unwrap();
    assert_eq!(
        emea.hours.as_ref().unwrap().to_string(),
        "Mon–Fri 09:00–18:00 Europe/Berlin, 4 holidays"
    );
    // Friday 2026-11-20 17:50 in Berlin (16:50 UTC), a 90-minute SLA:
    // Monday 10:20 (09:20 UTC).
    assert_eq!(
        emea.deadline(1_795_193_400_000, emea.sla),
        1_795_425_600_000
    );
    assert!(Roster::from_toml("routing.toml", example)
        .unwrap()
        .teams
        .iter()
        .all(|t| t.hours.is_none()));
}
