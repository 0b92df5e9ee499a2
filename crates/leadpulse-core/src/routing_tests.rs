//! Tests of the roster file: notification fields, rejection reasons,
//! warnings, and business hours as written.

use super::Roster;

fn roster(rep_extra: &str, team_extra: &str) -> Result<Roster, String> {
    Roster::from_toml(
        "r.toml",
        &format!("[[team]]\nid = \"t\"\nlead = \"boss\"\n{team_extra}\n[[team.rep]]\nid = \"ann\"\n{rep_extra}\n"),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn notification_fields_load() {
    let r = roster(
        "email = \"ann@example.com\"\nslack_user = \"U024BE7LH\"\ntime_zone = \"America/New_York\"",
        "slack_channel = \"#sales-emea\"",
    )
    .unwrap();
    let ann = r.rep("ann").unwrap();
    assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
    assert_eq!(r.rep_by_slack_user("U024BE7LH").unwrap().id.as_ref(), "ann");
    assert_eq!(
        ann.time_zone.as_ref().and_then(|z| z.iana_name()),
        Some("America/New_York")
    );
    assert_eq!(r.teams[0].slack_channel.as_deref(), Some("#sales-emea"));
    assert_eq!(r.reason_label("No budget"), "no_budget");
    assert_eq!(r.reason_label("free text nobody listed"), "other");
}

#[test]
fn bad_values_name_the_field_and_line() {
    for (rep, team, field) in [
        ("email = \"Ann Lopez\"", "", "`email`"),
        ("slack_user = \"ann\"", "", "`slack_user`"),
        ("time_zone = \"Mars/Olympus\"", "", "`time_zone`"),
        ("", "slack_channel = \"sales emea\"", "`slack_channel`"),
    ] {
        let err = roster(rep, team).unwrap_err();
        assert!(err.contains(field) && err.contains("r.toml:"), "{err}");
    }
    let err = Roster::from_toml(
        "r.toml",
        "rejection_reasons = [\"No Budget\"]\n[[team]]\nid = \"t\"\nlead = \"b\"\n[[team.rep]]\nid = \"a\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("rejection_reasons") && err.starts_with("r.toml:1:"),
        "{err}"
    );
}

const TEAM: &str = r#"
[[team]]
id = "emea"
lead = "lars"

[[team.rep]]
id = "lars"

[[team.rep]]
id = "chloe"
"#;

/// Found writing the `roster` fuzz target's deadline property: an SLA
/// of 1e300 minutes became i64::MAX ms, and `respond_by` overflowed on
/// the first handoff; a feedback window of u32::MAX business days took
/// minutes to count.
#[test]
fn deadlines_too_far_out_to_count_are_refused_with_their_position() {
    for (text, want) in [
        (
            format!("default_sla_minutes = 1e300\n{TEAM}"),
            "routing.toml:1:23: `default_sla_minutes` must be above 0 and at most 43200",
        ),
        (
            format!("default_sla_minutes = 0\n{TEAM}"),
            "routing.toml:1:23: `default_sla_minutes` must be above 0",
        ),
        (
            format!("feedback_business_days = 4294967295\n{TEAM}"),
            "routing.toml:1:26: `feedback_business_days` must be at most 260",
        ),
        (
            TEAM.replace("lead = \"lars\"", "lead = \"lars\"\nsla_minutes = 43200.5"),
            "routing.toml:5:15: team `emea`: `sla_minutes` must be above 0 and at most 43200",
        ),
    ] {
        let got = Roster::from_toml("routing.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(got.starts_with(want), "{text}\n  got: {got}\n want: {want}");
    }
    let longest = format!("default_sla_minutes = 43200\nfeedback_business_days = 260\n{TEAM}");
    let roster = Roster::from_toml("routing.toml", &longest).unwrap();
    assert_eq!(roster.teams[0].sla, 30 * 86_400_000);
    let friday = 1_795_687_200_000; // 2026-11-20T10:00:00Z
    assert_eq!(
        roster.feedback_by(&roster.teams[0], friday),
        friday + 364 * 86_400_000
    );
}

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
    // 30 days at most, with business hours too.
    let e = error(&format!("sla_minutes = 200000\n{TEAM}{HOURS}").replace(
        "sla_minutes = 200000\n\n[[team]]\nid = \"emea\"\n",
        "\n[[team]]\nid = \"emea\"\nsla_minutes = 200000\n",
    ));
    assert!(
        e.contains("team `emea`: `sla_minutes` must be above 0 and at most 43200 (30 days)"),
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
