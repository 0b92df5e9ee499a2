//! Accounts' records: every field survives both formats, and a broken
//! changelog or repartition record is refused, never panicked on.

use std::sync::Arc;

use super::*;
use leadpulse_core::account::{Person, PersonShare};
use leadpulse_core::Millis;

fn reason(id: &str, points: f64, at: Millis) -> AccountReason {
    AccountReason {
        rule_id: id.into(),
        label: format!("Rule {id}"),
        points,
        last_seen: at,
    }
}

fn contact(name: &str) -> Contact {
    Contact {
        name: Some(name.into()),
        title: Some("CTO".into()),
        company: None,
    }
}

fn people() -> Vec<PersonShare> {
    vec![
        PersonShare {
            lead_id: "L-1".into(),
            contact: contact("Ana Lima"),
            engagement: 25.5,
            engaged_at: Some(1_764_000_000_123),
            in_breadth: true,
            reasons: vec![reason("webinar", 15.0, 1_764_000_000_123)],
        },
        PersonShare {
            lead_id: "L-2".into(),
            contact: Contact::default(),
            engagement: -3.0,
            engaged_at: None,
            in_breadth: false,
            reasons: Vec::new(),
        },
    ]
}

fn score() -> AccountScore {
    AccountScore {
        account: AccountKey::Domain("initech.io".into()),
        score: 95.25,
        fit: 20.0,
        engagement: 75.25,
        breadth: 3,
        threshold: Some(120.0),
        breadth_threshold: None,
        qualified: false,
        alerted: true,
        fit_reasons: vec![reason("account-software", 20.0, 1_764_000_360_000)],
        people: people(),
        updated_at: 1_764_000_360_000,
        model_version: Arc::from("v7"),
    }
}

fn alert() -> AccountAlert {
    AccountAlert {
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        account: AccountKey::Id("0015g00000XyZ".into()),
        trigger: AccountTrigger::Breadth,
        score: 95.25,
        fit: 20.0,
        engagement: 75.25,
        breadth: 3,
        threshold: None,
        breadth_threshold: Some(3),
        crossed_at: 1_764_000_360_000,
        lead_id: "L-3".into(),
        fit_reasons: Vec::new(),
        people: people(),
        model_version: Arc::from("v7"),
        owner_team: Some("emea".into()),
        owner_rep: Some("lars".into()),
    }
}

fn contribution() -> LeadContribution {
    LeadContribution {
        account: AccountKey::Domain("initech.io".into()),
        lead_id: "L-1".into(),
        engagement: 25.0,
        reasons: vec![
            reason("webinar", 15.0, 1_764_000_000_000),
            reason("pricing", 10.0, 1_763_999_000_000),
        ],
        contact: contact("Ana Lima"),
        attributes: [("industry", "software"), ("employees", "250")]
            .into_iter()
            .collect(),
        at: 1_764_000_000_000,
    }
}

fn state() -> AccountState {
    let mut s = AccountState {
        updated_at: 1_764_000_360_000,
        alerted: true,
        last_alert_at: Some(1_764_000_360_000),
        alerts: 2,
        ..AccountState::default()
    };
    for (id, e, engaged) in [("L-1", 25.0, Some(1_764_000_000_000)), ("L-2", -4.5, None)] {
        s.people.insert(
            id.into(),
            Person {
                engagement: e,
                at: 1_764_000_000_000,
                engaged_at: engaged,
                reasons: vec![reason("webinar", 15.0, 1_764_000_000_000)],
                contact: contact(id),
                attributes: [("industry", "software")].into_iter().collect(),
            },
        );
    }
    s
}

#[test]
fn account_scores_round_trip_in_both_formats() {
    for format in [Format::Json, Format::Protobuf] {
        let bytes = encode_account_score(&score(), format);
        assert_eq!(decode_account_score(&bytes).unwrap(), score(), "{format:?}");
    }
}

#[test]
fn account_alerts_round_trip_in_both_formats() {
    for format in [Format::Json, Format::Protobuf] {
        let bytes = encode_account_alert(&alert(), format);
        assert_eq!(decode_account_alert(&bytes).unwrap(), alert(), "{format:?}");
    }
    let mut by_score = alert();
    by_score.trigger = AccountTrigger::Score;
    let json = encode_account_alert(&by_score, Format::Json);
    assert!(std::str::from_utf8(&json)
        .unwrap()
        .contains(r#""trigger":"score""#));
}

#[test]
fn the_json_alert_reads_as_docs_topics_md_says() {
    let v: serde_json::Value =
        serde_json::from_slice(&encode_account_alert(&alert(), Format::Json)).unwrap();
    assert_eq!(v["account_key"], "id:0015g00000XyZ");
    assert_eq!(v["trigger"], "breadth");
    assert_eq!(v["crossed_at"], "2025-11-24T16:06:00Z");
    assert_eq!(v["people"][0]["lead_name"], "Ana Lima");
    assert_eq!(v["people"][0]["engaged_at"], "2025-11-24T16:00:00.123Z");
    assert!(v["people"][1].get("engaged_at").is_none());
    assert!(
        v.get("threshold").is_none(),
        "a threshold not given is absent"
    );
}

#[test]
fn contributions_round_trip_in_both_formats() {
    for format in [Format::Json, Format::Protobuf] {
        let bytes = encode_contribution(&contribution(), format);
        assert_eq!(
            decode_contribution(&bytes).unwrap(),
            contribution(),
            "{format:?}"
        );
    }
}

#[test]
fn contributions_the_scorer_could_not_take_are_refused_naming_the_field() {
    let field =
        |c: &LeadContribution, format| match decode_contribution(&encode_contribution(c, format)) {
            Err(Rejection::InvalidField { field, .. }) => field,
            Err(Rejection::MissingField(field)) => field,
            other => panic!("{other:?}"),
        };
    for format in [Format::Json, Format::Protobuf] {
        let mut c = contribution();
        c.engagement = 1e16;
        assert_eq!(field(&c, format), "engagement");
        let mut c = contribution();
        c.reasons = (0..6).map(|i| reason(&i.to_string(), 1.0, 0)).collect();
        assert_eq!(field(&c, format), "reasons");
        let mut c = contribution();
        c.lead_id.clear();
        assert_eq!(field(&c, format), "lead_id");
    }
    let bad_key = br#"{"account_key":"acme.com","lead_id":"L","engagement":1,"reasons":[],"at":"2026-01-01T00:00:00Z"}"#;
    assert!(matches!(
        decode_contribution(bad_key),
        Err(Rejection::InvalidField { field, .. }) if field == "account_key"
    ));
}

#[test]
fn account_state_round_trips_through_the_changelog() {
    let key = AccountKey::Domain("initech.io".into());
    let bytes = encode_account_state(&key, &state());
    assert_eq!(
        decode_account_state(&bytes).unwrap(),
        (key.clone(), state())
    );
    let empty = encode_account_state(&key, &AccountState::default());
    assert_eq!(
        decode_account_state(&empty).unwrap(),
        (key, AccountState::default())
    );
}

#[test]
fn broken_account_state_records_are_refused_not_panicked_on() {
    let key = AccountKey::Id("A-1".into());
    let good = encode_account_state(&key, &state());
    // Every cut and every flipped byte of a good record either reads or is
    // refused; none panics.
    for n in 0..good.len() {
        let _ = decode_account_state(&good[..n]);
        for bit in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[n] ^= bit;
            let _ = decode_account_state(&b);
        }
    }
    assert!(decode_account_state(&[0xff, 0xff, 0xff]).is_err());
    assert!(decode_account_state(b"{\"account_key\":1}").is_err());
    // A record no scorer writes.
    let refused = |m: pb::AccountState| decode_account_state(&m.encode_to_vec()).unwrap_err();
    let member = |id: &str, e: f64| pb::AccountMember {
        lead_id: id.into(),
        engagement: e,
        ..Default::default()
    };
    let base = pb::AccountState {
        account_key: "id:A-1".into(),
        ..Default::default()
    };
    assert!(matches!(
        refused(pb::AccountState { account_key: "A-1".into(), ..base.clone() }),
        Rejection::InvalidField { field, .. } if field == "account_key"
    ));
    assert!(matches!(
        refused(pb::AccountState { people: vec![member("L", 1.0), member("L", 2.0)], ..base.clone() }),
        Rejection::InvalidField { field, .. } if field == "people.lead_id"
    ));
    assert!(matches!(
        refused(pb::AccountState { people: vec![member("", 1.0)], ..base.clone() }),
        Rejection::MissingField(field) if field == "people.lead_id"
    ));
    assert!(matches!(
        refused(pb::AccountState { people: vec![member("L", f64::NAN)], ..base.clone() }),
        Rejection::InvalidField { field, .. } if field == "people.engagement"
    ));
}
