//! Accounts against a real broker: five people of each company, their
//! leads spread over the three partitions, each stay under the lead
//! threshold and together pass the account's; people on free mail form no
//! account. Through a `kill -9` and a rebalance onto a second instance,
//! the committed `account-scores` (the last record per account) and
//! `account-alerts` (once each) equal `replay --outputs`'s files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use leadpulse::codec;
use leadpulse::core::partitioner::partition_for_key;
use leadpulse::core::{AccountAlert, AccountScore, Event, EventKind};

use crate::support::*;
use crate::visitors::wait_settled_on;

const PARTITIONS: i32 = 3;
const COMPANIES: usize = 16;
const H: i64 = 3_600_000;

/// Leads alert at 50, accounts at 110: each person's 25 points (a pricing
/// view and a webinar) stay under both; an account passes 110 only with
/// all five webinars, whatever order its people's contributions reach it.
const MODEL: &str = r#"
version = "acct-broker"

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

fn ev(id: String, lead: &str, at: i64, kind: EventKind) -> InputRecord {
    record(&Event {
        event_id: id,
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: at,
        company_domain: None,
        account_id: None,
        kind,
    })
}

/// Five lead ids of `company`, at most two on a partition: every
/// partition holds one of them.
fn people(company: &str) -> Vec<String> {
    let mut per = BTreeMap::<i32, usize>::new();
    let ids: Vec<String> = (0..)
        .map(|j| format!("L-{company}-{j}"))
        .filter(|id| {
            let n = per
                .entry(partition_for_key(id.as_bytes(), PARTITIONS))
                .or_default();
            *n += 1;
            *n <= 2
        })
        .take(5)
        .collect();
    ids
}

/// Person `i` (1..=5) of a company writing from `domain`: a profile with
/// their email, a pricing view, a webinar, `i` hours after `base`.
fn person(lead: &str, i: i64, domain: &str, base: i64) -> Vec<InputRecord> {
    let at = base + i * H;
    let attributes = [
        ("email", format!("person{i}@{domain}")),
        ("name", format!("Person {i}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vec![
        ev(
            format!("{lead}-p"),
            lead,
            at,
            EventKind::ProfileUpdate { attributes },
        ),
        ev(
            format!("{lead}-v"),
            lead,
            at + 600_000,
            EventKind::PageView {
                url: format!("https://{domain}/pricing"),
                referrer: None,
                duration_ms: None,
            },
        ),
        ev(
            format!("{lead}-w"),
            lead,
            at + 1_200_000,
            EventKind::WebinarAttended {
                webinar_id: "launch".into(),
            },
        ),
    ]
}

/// `replay --partitions 3 --outputs DIR` of the records: the final score
/// of each account, and its alerts.
fn replayed(
    records: &[InputRecord],
    dir: &Path,
    model: &Path,
    routing: Option<&Path>,
) -> (BTreeMap<String, AccountScore>, Vec<AccountAlert>) {
    let events = dir.join("account-events.ndjson");
    let outputs = dir.join("replayed");
    let text: String = records.iter().map(|r| format!("{}\n", r.ndjson)).collect();
    std::fs::write(&events, text).unwrap();
    let mut replay = Command::new(env!("CARGO_BIN_EXE_leadpulse"));
    replay
        .args(["replay", "--partitions", "3", "--model"])
        .arg(model);
    if let Some(routing) = routing {
        replay.arg("--routing").arg(routing);
    }
    let out = replay
        .arg("--events")
        .arg(&events)
        .arg("--outputs")
        .arg(&outputs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = |file: &str| {
        std::fs::read_to_string(outputs.join(file))
            .unwrap()
            .lines()
            .map(|l| l.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    let scores = lines("account-scores.ndjson")
        .iter()
        .map(|l| codec::decode_account_score(l).unwrap())
        .map(|s| (s.account.to_string(), s))
        .collect();
    let alerts = lines("account-alerts.ndjson")
        .iter()
        .map(|l| codec::decode_account_alert(l).unwrap())
        .collect();
    (scores, alerts)
}

#[test]
fn a_committee_spread_over_partitions_alerts_its_account_once_through_kill_9_and_a_rebalance() {
    let d = Deployment::new("accounts", PARTITIONS);
    d.create_events_topic();
    let model = d.dir.path().join("accounts-model.toml");
    std::fs::write(&model, MODEL).unwrap();
    let now = now_ms();
    let base = now - 10 * H;

    // Person by person, company after company: the people of one company
    // are hours apart, their events interleaved with the other companies'.
    let companies: Vec<(String, Vec<String>)> = (0..COMPANIES)
        .map(|k| {
            let company = format!("{}-{k}", d.name);
            (format!("{company}.example"), people(&company))
        })
        .collect();
    let free: Vec<String> = (0..5).map(|i| format!("L-{}-free-{i}", d.name)).collect();
    let mut records = Vec::new();
    for i in 0..5 {
        for (k, (domain, leads)) in companies.iter().enumerate() {
            let at = base + k as i64 * 60_000;
            records.extend(person(&leads[i], i as i64 + 1, domain, at));
        }
        records.extend(person(&free[i], i as i64 + 1, "gmail.com", base));
    }

    // The first company is a named account: its surge alert names cat.
    let routing = d.dir.path().join("routing.toml");
    std::fs::write(
        &routing,
        format!(
            "[[named_account]]\naccount = \"{}\"\nrep = \"cat\"\n\n\
             [[team]]\nid = \"abm\"\nlead = \"lee\"\n[[team.rep]]\nid = \"cat\"\n",
            companies[0].0
        ),
    )
    .unwrap();
    let extra = format!("[routing]\npath = \"{}\"\n", routing.display());
    let config = d.config_with_model("a", &extra, &model);
    let mut a = d.spawn_with_config("a", 1, &config);
    a.wait_for_log("restored lead state", Duration::from_secs(60));
    let topic = d.topic("events");
    let producer = {
        let records = records.clone();
        std::thread::spawn(move || produce(&topic, &records, 20, Duration::from_millis(400)))
    };
    a.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    a.kill9();
    let mut a = d.spawn_with_config("a", 2, &config);
    a.wait_for_log("transaction committed", Duration::from_secs(90));
    let config_b = d.config_with_model("b", &extra, &model);
    let mut b = d.spawn_with_config("b", 1, &config_b);
    b.wait_for_log("restored lead state", Duration::from_secs(90));
    a.wait_for_log("partitions revoked", Duration::from_secs(90));
    producer.join().unwrap();
    wait_settled_on(&d, &["events", "accounts"], Duration::from_secs(180));
    a.terminate();
    b.terminate();

    let mut scores = BTreeMap::new();
    for r in read_all(&d.topic("account-scores")) {
        let s = codec::decode_account_score(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(r.key.as_deref(), Some(s.account.to_string().as_bytes()));
        scores.insert(s.account.to_string(), s);
    }
    let mut alerts: Vec<AccountAlert> = read_all(&d.topic("account-alerts"))
        .iter()
        .map(|r| codec::decode_account_alert(r.payload.as_deref().unwrap()).unwrap())
        .collect();
    let ids: BTreeSet<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
    assert_eq!(ids.len(), alerts.len(), "an account alert committed twice");
    assert!(
        read_all(&d.topic("alerts")).is_empty(),
        "no lead passes 50 alone"
    );

    // Every company is one account, in market once; free mail is none.
    assert_eq!(scores.len(), COMPANIES, "{:?}", scores.keys());
    assert!(!scores.keys().any(|k| k.contains("gmail")));
    assert_eq!(alerts.len(), COMPANIES);
    for (domain, leads) in &companies {
        let s = &scores[&format!("domain:{domain}")];
        assert!(s.alerted && s.score >= 110.0, "{s:?}");
        let mut named: Vec<&str> = s.people.iter().map(|p| p.lead_id.as_str()).collect();
        named.sort_unstable();
        let mut expected: Vec<&str> = leads.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(named, expected);
    }

    for a in &alerts {
        let named = a.account.to_string() == format!("domain:{}", companies[0].0);
        let owner = named.then(|| ("abm".to_owned(), "cat".to_owned()));
        assert_eq!(
            a.owner_team.clone().zip(a.owner_rep.clone()),
            owner,
            "{}",
            a.account
        );
    }

    // The oracle: replay of the same events, on as many partitions.
    let (want_scores, mut want_alerts) = replayed(&records, d.dir.path(), &model, Some(&routing));
    assert_eq!(scores, want_scores);
    alerts.sort_by(|x, y| x.alert_id.cmp(&y.alert_id));
    want_alerts.sort_by(|x, y| x.alert_id.cmp(&y.alert_id));
    assert_eq!(alerts, want_alerts);
}

/// `replay --outputs`' account records, in JSON, are what the AsyncAPI
/// document's `AccountScore` and `AccountAlert` schemas (and so
/// `proto/json/`, which the Schema Registry gets) say, checked by the
/// `jsonschema` package from PyPI.
#[test]
fn replayed_account_records_match_their_json_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("accounts-model.toml");
    std::fs::write(&model, MODEL).unwrap();
    let base = now_ms() - 10 * H;
    let leads = people("schemas");
    let records: Vec<InputRecord> = leads
        .iter()
        .enumerate()
        .flat_map(|(i, lead)| person(lead, i as i64 + 1, "schemas.example", base))
        .collect();
    let (scores, alerts) = replayed(&records, dir.path(), &model, None);
    assert_eq!((scores.len(), alerts.len()), (1, 1));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let outputs = dir.path().join("replayed");
    let check = r##"
import json, sys, jsonschema, yaml
schemas = yaml.safe_load(open(sys.argv[1]))["components"]["schemas"]
for name, path in (("AccountScore", sys.argv[2]), ("AccountAlert", sys.argv[3])):
    v = jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}},
        format_checker=jsonschema.FormatChecker())
    lines = [l for l in open(path) if l.strip()]
    assert lines, path
    for line in lines:
        v.validate(json.loads(line))
print("ok")
"##;
    let out = Command::new(python())
        .arg("-c")
        .arg(check)
        .arg(root.join("docs/asyncapi.yaml"))
        .arg(outputs.join("account-scores.ndjson"))
        .arg(outputs.join("account-alerts.ndjson"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
