//! Tests of account ownership in routing: named accounts on the roster,
//! the CRM's account owner attribute, their precedence, and their checks.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::account::{default_account_key, AccountAlert, AccountKey, AccountTrigger};
use super::attributes::Attributes;
use super::desk::Desk;
use super::event::{EventKind, Millis};
use super::lead::LeadState;
use super::model::{Grade, DEFAULT_FREE_MAIL_DOMAINS};
use super::routing::{Roster, RoutingState};
use super::tests::{event, scorer_with, view, MODEL};

const ROSTER: &str = r#"
account_owner_attribute = "account_owner"

[[named_account]]
account = "acme.com"
rep = "bob"

[[named_account]]
account = "id:001-GLOBEX"
rep = "zed"

[[named_account]]
account = "domain:initech.io"
rep = "lee"

[[team]]
id = "us"
lead = "lee"
territory = { country = ["US"] }
[[team.rep]]
id = "ann"
[[team.rep]]
id = "bob"
[[team.rep]]
id = "lee"
available = false

[[team]]
id = "rest"
lead = "zed"
[[team.rep]]
id = "zed"
"#;

fn roster() -> Roster {
    Roster::from_toml("roster.toml", ROSTER).unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    let mut a = Attributes::default();
    for (k, v) in pairs {
        a.insert(k, v);
    }
    a
}

/// (team, rep, via) of a lead with these attributes, routed first.
fn route(roster: &Roster, pairs: &[(&str, &str)]) -> (String, String, &'static str) {
    let a = attrs(pairs);
    let key = default_account_key(&a);
    let o = roster.route(
        &mut RoutingState::default(),
        &a,
        key.as_ref(),
        Grade::A,
        None,
        None,
    );
    (o.team.to_string(), o.rep.to_string(), o.via)
}

#[test]
fn named_accounts_load_with_their_keys() {
    let r = roster();
    let named: Vec<(String, &str)> = r
        .account_owners
        .named
        .iter()
        .map(|(k, v)| (k.to_string(), &**v))
        .collect();
    assert_eq!(
        named,
        [
            ("id:001-GLOBEX".to_owned(), "zed"),
            ("domain:acme.com".to_owned(), "bob"),
            ("domain:initech.io".to_owned(), "lee"),
        ]
    );
    assert_eq!(r.account_owners.attribute.as_deref(), Some("account_owner"));
}

#[test]
fn a_named_account_owner_gets_its_leads_ahead_of_territory() {
    let r = roster();
    // US territory would give `ann` (fewest leads, first); the account is bob's.
    assert_eq!(
        route(&r, &[("country", "US"), ("email", "kim@acme.com")]),
        ("us".into(), "bob".into(), "named_account")
    );
    // A lead in France of a US rep's account still goes to the rep, in his team.
    assert_eq!(
        route(
            &r,
            &[
                ("country", "FR"),
                ("company_domain", "https://www.Acme.com/")
            ]
        ),
        ("us".into(), "bob".into(), "named_account")
    );
    assert_eq!(
        route(&r, &[("country", "US"), ("account_id", "001-GLOBEX")]),
        ("rest".into(), "zed".into(), "named_account")
    );
    // No account: territory as before.
    assert_eq!(
        route(&r, &[("country", "US"), ("email", "kim@gmail.com")]),
        ("us".into(), "ann".into(), "territory")
    );
}

#[test]
fn the_roster_wins_over_the_crm_attribute_which_wins_over_territory() {
    let r = roster();
    assert_eq!(
        route(
            &r,
            &[
                ("country", "US"),
                ("company_domain", "acme.com"),
                ("account_owner", "zed")
            ]
        ),
        ("us".into(), "bob".into(), "named_account")
    );
    assert_eq!(
        route(
            &r,
            &[
                ("country", "US"),
                ("company_domain", "umbrella.com"),
                ("account_owner", " zed ")
            ]
        ),
        ("rest".into(), "zed".into(), "account_owner")
    );
    // A rep the roster does not know: territory.
    assert_eq!(
        route(&r, &[("country", "US"), ("account_owner", "nobody")]),
        ("us".into(), "ann".into(), "territory")
    );
    // The lead's own owner comes first: someone already works with the person.
    assert_eq!(
        route(
            &r,
            &[
                ("country", "US"),
                ("company_domain", "acme.com"),
                ("owner", "ann")
            ]
        ),
        ("us".into(), "ann".into(), "owner")
    );
}

#[test]
fn an_account_owner_on_leave_leaves_the_lead_to_territory() {
    let r = roster();
    // initech.io is lee's, who is `available = false`.
    assert_eq!(
        route(&r, &[("country", "US"), ("company_domain", "initech.io")]),
        ("us".into(), "ann".into(), "territory")
    );
    let mut state = RoutingState::default();
    let a = attrs(&[("country", "US"), ("company_domain", "acme.com")]);
    let key = default_account_key(&a);
    // A breach of bob's moves the lead on in his team, not back to him.
    let o = r.route(
        &mut state,
        &a,
        key.as_ref(),
        Grade::A,
        Some("bob"),
        Some("us"),
    );
    assert_eq!((&*o.rep, o.via), ("ann", "territory"));
}

#[test]
fn account_owned_leads_do_not_count_in_the_round_robin() {
    let r = roster();
    let mut state = RoutingState::default();
    let a = attrs(&[("country", "US"), ("company_domain", "acme.com")]);
    let key = default_account_key(&a);
    for _ in 0..3 {
        r.route(&mut state, &a, key.as_ref(), Grade::A, None, None);
    }
    assert_eq!(state, RoutingState::default());
}

fn error(extra: &str) -> String {
    Roster::from_toml(
        "r.toml",
        &format!("{extra}\n[[team]]\nid = \"t\"\nlead = \"boss\"\n[[team.rep]]\nid = \"ann\"\n"),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn an_unknown_rep_of_a_named_account_is_refused_with_the_field_and_line() {
    let err = error("[[named_account]]\naccount = \"acme.com\"\nrep = \"bob\"\n");
    assert!(
        err.starts_with("r.toml:3:")
            && err.contains("`named_account.rep`")
            && err.contains("`bob`"),
        "{err}"
    );
    // The team lead who is no rep of a team owns no account.
    let err = error("[[named_account]]\naccount = \"acme.com\"\nrep = \"boss\"\n");
    assert!(err.contains("`named_account.rep`"), "{err}");
}

#[test]
fn bad_named_accounts_are_refused_with_the_field_and_line() {
    for (account, says) in [
        ("not a domain", "must be `id:"),
        ("gmail.com", "free-mail"),
        ("id:", "must be `id:"),
        ("domain:", "must be `id:"),
    ] {
        let err = error(&format!(
            "[[named_account]]\naccount = \"{account}\"\nrep = \"ann\"\n"
        ));
        assert!(
            err.starts_with("r.toml:2:")
                && err.contains("`named_account.account`")
                && err.contains(says),
            "{account}: {err}"
        );
    }
    let err = error(
        "[[named_account]]\naccount = \"acme.com\"\nrep = \"ann\"\n\
         [[named_account]]\naccount = \"domain:www.acme.com\"\nrep = \"ann\"\n",
    );
    assert!(
        err.starts_with("r.toml:5:") && err.contains("named twice"),
        "{err}"
    );
    let err = error("account_owner_attribute = \" \"\n");
    assert!(
        err.starts_with("r.toml:1:") && err.contains("`account_owner_attribute`"),
        "{err}"
    );
    let err = error("[[named_account]]\naccount = \"acme.com\"\nowner = \"ann\"\n");
    assert!(err.contains("owner"), "unknown keys are refused: {err}");
}

#[test]
fn the_default_free_mail_list_is_sorted_for_its_binary_search() {
    assert!(DEFAULT_FREE_MAIL_DOMAINS.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        default_account_key(&attrs(&[("email", "kim@mail.gmx.de")])),
        None
    );
    assert_eq!(
        default_account_key(&attrs(&[("email", "kim@acme.com")])),
        Some(AccountKey::Domain("acme.com".into()))
    );
}

fn profile(pairs: &[(&str, &str)]) -> EventKind {
    EventKind::ProfileUpdate {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn the_desk_hands_a_named_accounts_lead_to_its_owner_with_the_reason() {
    let desk = Desk::new(scorer_with(MODEL), Some(Arc::new(roster())));
    let mut routing = RoutingState::default();
    let mut lead = LeadState::default();
    let t: Millis = 600_000;
    desk.apply(
        &mut routing,
        &mut lead,
        &event(
            1,
            "L",
            t - 2,
            profile(&[("email", "kim@acme.com"), ("country", "US")]),
        ),
    );
    desk.apply(
        &mut routing,
        &mut lead,
        &event(
            2,
            "L",
            t - 1,
            EventKind::FormSubmit {
                form_id: "demo-request".into(),
                fields: BTreeMap::new(),
            },
        ),
    );
    let out = desk.apply(&mut routing, &mut lead, &event(3, "L", t, view("/pricing")));
    let a = out.alert.expect("the lead alerts");
    assert_eq!(
        (
            a.owner_team.as_deref(),
            a.owner_rep.as_deref(),
            a.routed_via.as_deref()
        ),
        (Some("us"), Some("bob"), Some("named_account"))
    );
    let h = lead.handoff.expect("handed off");
    assert_eq!((h.rep.as_str(), h.via.as_str()), ("bob", "named_account"));
}

/// An account alert of `account`, before any owner is named.
fn account_alert(account: AccountKey) -> AccountAlert {
    AccountAlert {
        alert_id: "a-1".into(),
        account,
        trigger: AccountTrigger::Breadth,
        score: 80.0,
        fit: 20.0,
        engagement: 60.0,
        breadth: 5,
        threshold: Some(70.0),
        breadth_threshold: Some(5),
        crossed_at: 1_000,
        lead_id: "L".into(),
        fit_reasons: Vec::new(),
        people: Vec::new(),
        model_version: "m".into(),
        owner_team: None,
        owner_rep: None,
    }
}

#[test]
fn an_account_alert_goes_to_the_named_account_owner_when_available() {
    let desk = Desk::new(scorer_with(MODEL), Some(Arc::new(roster())));
    let owned = |key: AccountKey| {
        let mut a = account_alert(key);
        desk.own_account_alert(&mut a);
        (a.owner_team, a.owner_rep)
    };
    assert_eq!(
        owned(AccountKey::Domain("acme.com".into())),
        (Some("us".into()), Some("bob".into()))
    );
    assert_eq!(
        owned(AccountKey::Id("001-GLOBEX".into())),
        (Some("rest".into()), Some("zed".into()))
    );
    // lee, on leave, and an account nobody is named for: no owner.
    assert_eq!(owned(AccountKey::Domain("initech.io".into())), (None, None));
    assert_eq!(
        owned(AccountKey::Domain("umbrella.com".into())),
        (None, None)
    );
    // Without a roster, no owner either.
    let mut a = account_alert(AccountKey::Domain("acme.com".into()));
    Desk::new(scorer_with(MODEL), None).own_account_alert(&mut a);
    assert_eq!((a.owner_team, a.owner_rep), (None, None));
}
