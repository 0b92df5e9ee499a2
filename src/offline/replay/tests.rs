//! Unit tests of `offline::replay`.

use super::*;

/// A visitor's views before its form, on any number of partitions,
/// count for the lead once, and a re-sent identify merges nothing.
#[test]
fn a_visitors_views_count_for_its_lead_once_on_any_partitions() {
    let model = Arc::new(
        Model::from_toml(
            "examples/model.toml",
            include_str!("../../../examples/model.toml"),
        )
        .expect("example model"),
    );
    let view = |id: &str, at: &str, path: &str| {
        format!(
            r#"{{"event_id":"{id}","visitor_id":"v-7f3a","type":"page_view","occurred_at":"2026-11-20T{at}Z","url":"https://x.io/{path}"}}"#
        )
    };
    let lines = [
        view("pv-1", "09:50:00", "pricing"),
        view("pv-2", "09:51:00", "pricing"),
        view("pv-3", "09:52:00", "security"),
        view("pv-4", "09:53:00", "pricing"),
        view("pv-5", "09:54:00", "security"),
        r#"{"event_id":"f-1","lead_id":"L-42","visitor_id":"v-7f3a","type":"form_submit","occurred_at":"2026-11-20T10:00:00Z","company_domain":"acme.io","form_id":"contact-sales","fields":{"email":"ann@acme.io","job_title":"Data Engineer","company_size":"51-200","country":"US"}}"#.to_owned(),
        r#"{"event_id":"id-1","lead_id":"L-42","visitor_id":"v-7f3a","type":"identify","occurred_at":"2026-11-20T11:00:00Z"}"#.to_owned(),
        view("pv-1", "09:50:00", "pricing"),
    ];
    let input = lines.join("\n");
    let mut results = Vec::new();
    for partitions in [1, 3, 7] {
        let mut options = ReplayOptions::new(i64::MAX / 2, 0);
        options.partitions = partitions;
        let out =
            replay(model.clone(), input.as_bytes(), &options, |_| {}, |_, _| {}).expect("replays");
        let scorer = Scorer::new(model.clone());
        assert_eq!(out.leads.len(), 1, "the visitor is no lead");
        let score = scorer.score_of("L-42", &out.leads["L-42"]);
        let count = |rule: &str| {
            score
                .reasons
                .iter()
                .find(|r| &*r.rule_id == rule)
                .map_or(0, |r| r.count)
        };
        assert_eq!((count("pricing-page"), count("security-page")), (3, 2));
        assert_eq!(out.counts.duplicates, 1, "pv-1 re-sent after the merge");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].event_id, "pv-3", "the third view crosses 70");
        results.push((score, out.alerts));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
}

#[test]
fn more_partitions_than_a_topic_may_have_are_refused_before_any_allocation() {
    let model = Arc::new(
        Model::from_toml(
            "examples/model.toml",
            include_str!("../../../examples/model.toml"),
        )
        .expect("example model"),
    );
    let mut options = ReplayOptions::new(0, 0);
    options.partitions = 2_000_000_000;
    let err = replay(model, &b""[..], &options, |_| {}, |_, _| {}).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at most 100000"), "{err}");
}

/// Leads alert at 50, accounts at 110: each person's 25 points (a
/// pricing view and a webinar) stay under both, five together pass
/// the account's.
const ACCOUNT_MODEL: &str = r#"
version = "acct-replay"

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
id = "webinar"
label = "Attended a webinar"
event = "webinar_attended"
points = 15
once = true

[qualify]
score_at_least = 50

[account]
score_at_least = 110
half_life_days = 14
"#;

/// Five people writing from `domain`, an hour apart.
fn committee(domain: &str) -> String {
    let mut lines = Vec::new();
    for i in 1..=5 {
        let at = |m: u32| format!("2026-11-20T{:02}:{m:02}:00Z", 8 + i);
        lines.push(format!(
            r#"{{"event_id":"p-{i}","lead_id":"L-{i}","type":"profile_update","occurred_at":"{}","attributes":{{"email":"person{i}@{domain}","name":"Person {i}"}}}}"#,
            at(0)
        ));
        lines.push(format!(
            r#"{{"event_id":"v-{i}","lead_id":"L-{i}","type":"page_view","occurred_at":"{}","url":"https://initech.io/pricing"}}"#,
            at(10)
        ));
        lines.push(format!(
            r#"{{"event_id":"w-{i}","lead_id":"L-{i}","type":"webinar_attended","occurred_at":"{}","webinar_id":"launch"}}"#,
            at(20)
        ));
    }
    lines.join("\n")
}

fn replay_committee(domain: &str, partitions: i32) -> ReplayOutcome {
    let model = Arc::new(Model::from_toml("m.toml", ACCOUNT_MODEL).expect("model"));
    let mut options = ReplayOptions::new(i64::MAX / 2, 0);
    options.partitions = partitions;
    replay(
        model,
        committee(domain).as_bytes(),
        &options,
        |_| {},
        |_, _| {},
    )
    .expect("replays")
}

#[test]
fn five_people_under_the_lead_threshold_make_one_account_alert_naming_them() {
    let mut seen = Vec::new();
    for partitions in [1, 4] {
        let out = replay_committee("initech.io", partitions);
        assert!(out.alerts.is_empty(), "no lead reaches 50");
        assert_eq!(out.account_alerts.len(), 1, "{:?}", out.account_alerts);
        let alert = &out.account_alerts[0];
        assert_eq!(alert.account, AccountKey::Domain("initech.io".into()));
        assert_eq!(alert.lead_id, "L-5", "the fifth webinar tips it");
        let mut named: Vec<&str> = alert.people.iter().map(|p| p.lead_id.as_str()).collect();
        named.sort_unstable();
        assert_eq!(named, ["L-1", "L-2", "L-3", "L-4", "L-5"]);
        assert!(alert.people.iter().all(|p| p.contact.name.is_some()));
        assert!(
            alert.score >= 110.0 && alert.score <= 125.0,
            "{}",
            alert.score
        );
        assert_eq!(out.accounts.len(), 1);
        seen.push(out.account_alerts);
    }
    assert_eq!(seen[0], seen[1], "the same on any number of partitions");
}

#[test]
fn the_backtest_shows_accounts_alerted_per_day_and_the_top_accounts() {
    let out = replay_committee("initech.io", 2);
    let model = Arc::new(Model::from_toml("m.toml", ACCOUNT_MODEL).expect("model"));
    let b = crate::offline::backtest::Backtest::new(&Scorer::new(model), &out);
    let acc = b.accounts.as_ref().expect("the model scores accounts");
    let day = 1_795_132_800_000_i64.div_euclid(crate::core::DAY_MS); // 2026-11-20
    assert_eq!(acc.alerted_per_day, BTreeMap::from([(day, 1)]));
    assert_eq!((acc.alerts, acc.accounts, acc.top.len()), (1, 1, 1));
    assert_eq!(
        (
            acc.top[0].account.as_str(),
            acc.top[0].alerts,
            acc.top[0].breadth
        ),
        ("domain:initech.io", 1, 5)
    );
    let text = crate::offline::backtest::render(&b, None);
    assert!(
        text.contains("## Accounts alerted per day (acct-replay)\n\n2026-11-20     1 "),
        "{text}"
    );
    assert!(
        text.contains("## Top accounts (acct-replay: 1 scored, 1 alerts)"),
        "{text}"
    );
    assert!(text.contains("domain:initech.io"), "{text}");
}

#[test]
fn the_same_people_on_free_mail_make_no_account() {
    let out = replay_committee("gmail.com", 1);
    assert!(out.accounts.is_empty());
    assert!(out.account_alerts.is_empty());
}

#[test]
fn without_an_account_section_nothing_about_accounts_is_kept() {
    let model = ACCOUNT_MODEL.split("[account]").next().unwrap();
    let model = Arc::new(Model::from_toml("m.toml", model).expect("model"));
    let options = ReplayOptions::new(i64::MAX / 2, 0);
    let out = replay(
        model,
        committee("initech.io").as_bytes(),
        &options,
        |_| {},
        |_, _| {},
    )
    .expect("replays");
    assert!(out.accounts.is_empty() && out.account_alerts.is_empty());
}

/// A challenger at 20 points alerts each of the committee's people, who
/// stay under the champion's 50; the champion's outputs are those of a
/// replay without it.
#[test]
fn a_challenger_in_shadow_alerts_on_its_own_and_leaves_the_champion_alone() {
    let champion = ACCOUNT_MODEL.split("[account]").next().unwrap();
    let challenger = champion
        .replace("acct-replay", "challenger-1")
        .replace("score_at_least = 50", "score_at_least = 20");
    let model = Arc::new(Model::from_toml("m.toml", champion).expect("model"));
    let mut options = ReplayOptions::new(i64::MAX / 2, 0);
    options.partitions = 3;
    let events = committee("initech.io");
    let plain = replay(
        model.clone(),
        events.as_bytes(),
        &options,
        |_| {},
        |_, _| {},
    )
    .expect("replays");
    options.shadow = Some(crate::core::Shadow::new(Arc::new(
        Model::from_toml("c.toml", &challenger).expect("challenger"),
    )));
    let shadowed = replay(
        model.clone(),
        events.as_bytes(),
        &options,
        |_| {},
        |_, _| {},
    )
    .expect("replays");
    let scorer = Scorer::new(model);
    assert_eq!(shadowed.alerts, plain.alerts);
    assert_eq!(shadowed.scores(&scorer), plain.scores(&scorer));
    assert!(plain.shadow_alerts.is_empty() && plain.shadow == Default::default());
    let alerted: Vec<&str> = shadowed
        .shadow_alerts
        .iter()
        .map(|a| a.event_id.as_str())
        .collect();
    assert_eq!(
        alerted,
        ["w-1", "w-2", "w-3", "w-4", "w-5"],
        "25 points pass 20"
    );
    assert!(shadowed
        .shadow_alerts
        .iter()
        .all(|a| &*a.model_version == "challenger-1" && a.owner_team.is_none()));
    assert_eq!(
        (shadowed.shadow.challenger_only, shadowed.shadow.both),
        (5, 0)
    );
    assert_eq!(shadowed.shadow_leads.len(), 5);
}
