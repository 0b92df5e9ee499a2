//! A routing roster: refused with an error that points at a line and
//! column, or loaded as a roster that gives every lead an owner of one of
//! its teams, with deadlines a 2026 handoff can represent.
#![no_main]

use leadpulse_core::{default_account_key, Attributes, Grade, Roster, RoutingState};
use leadpulse_fuzz::check_file_error;
use libfuzzer_sys::fuzz_target;

/// 2026-11-20T10:00:00Z, a Friday.
const HANDED_AT: i64 = 1_795_687_200_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let roster = match Roster::from_toml("routing.toml", text) {
        Err(e) => return check_file_error(&e, "routing.toml", text),
        Ok(roster) => roster,
    };
    let _ = roster.warnings();
    let mut state = RoutingState::default();
    let mut leads: Vec<Attributes> = vec![Attributes::default()];
    // A lead in each territory value, and one owned by each rep.
    for team in &roster.teams {
        let mut a = Attributes::default();
        for (attr, values) in &team.territory {
            if let Some(v) = values.iter().next() {
                a.insert(attr, v);
            }
        }
        leads.push(a);
        for rep in team.reps.iter().take(4) {
            let mut a = Attributes::default();
            a.insert("owner", &rep.id);
            leads.push(a);
        }
    }
    // A lead of each named account.
    for key in roster.account_owners.named.keys().take(8) {
        let mut a = Attributes::default();
        let (name, value) = match key {
            leadpulse_core::AccountKey::Id(id) => ("account_id", id),
            leadpulse_core::AccountKey::Domain(d) => ("company_domain", d),
        };
        a.insert(name, value);
        leads.push(a);
    }
    for (i, attributes) in leads.iter().take(64).enumerate() {
        let grade = [Grade::A, Grade::B, Grade::C, Grade::D][i % 4];
        let account = default_account_key(attributes);
        let owner = roster.route(&mut state, attributes, account.as_ref(), grade, None, None);
        let team = roster
            .team(&owner.team)
            .unwrap_or_else(|| panic!("{owner:?} is not of a team of the roster"));
        assert!(
            team.reps.iter().any(|r| r.id == owner.rep) || team.lead == owner.rep,
            "{owner:?}"
        );
        let respond_by = team.deadline(HANDED_AT, team.sla);
        assert!(
            respond_by > HANDED_AT,
            "team `{}`: an SLA of {} ms",
            team.id,
            team.sla
        );
        let feedback_by = roster.feedback_by(team, HANDED_AT);
        assert!(feedback_by >= HANDED_AT, "team `{}`", team.id);
        // A breach moves the lead on, with a fresh deadline from the breach.
        let again = roster.route(
            &mut state,
            attributes,
            None,
            grade,
            Some(&owner.rep),
            Some(&team.id),
        );
        assert_eq!(again.team, owner.team);
    }
});
