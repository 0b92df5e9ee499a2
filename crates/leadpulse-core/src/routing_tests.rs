//! Unit tests of the roster's notification fields and rejection reasons.

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
