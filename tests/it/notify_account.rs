//! `leadpulse notify` reads `account-alerts`: each account alert reaches
//! the account's owner on a Standard Webhooks receiver (signatures verified
//! by the `standardwebhooks` package, 30% failures) and by email on a real
//! SMTP server, once per alert by its idempotency key, JSON and protobuf
//! records alike, explaining the surge: the account, its score and
//! breadth, and who engaged, with what, and when. A record that does not
//! decode is dead-lettered, and the partition still commits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use leadpulse::codec::{self, Format};
use leadpulse::core::{
    AccountAlert, AccountKey, AccountReason, AccountTrigger, Contact, PersonShare,
};
use leadpulse::notify::delivery_id;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::Value;

use crate::notify::{self_signed, Helper, Notifier, ROSTER, SECRET_NEW};
use crate::support::*;

fn account_alert(i: usize, now: i64) -> AccountAlert {
    let person = |p: usize, name: &str| PersonShare {
        lead_id: format!("lead-{i}-{p}"),
        contact: Contact {
            name: Some(name.to_owned()),
            title: Some("VP Engineering".into()),
            company: Some(format!("Initech {i}")),
        },
        engagement: 30.0 - p as f64,
        engaged_at: Some(now - 60_000 * p as i64),
        in_breadth: true,
        reasons: vec![AccountReason {
            rule_id: "webinar".into(),
            label: "Attended a webinar".into(),
            points: 30.0 - p as f64,
            last_seen: now - 60_000 * p as i64,
        }],
    };
    AccountAlert {
        alert_id: format!("{i:032x}"),
        account: AccountKey::Domain(format!("initech{i}.com")),
        trigger: AccountTrigger::Score,
        score: 95.0,
        fit: 20.0,
        engagement: 75.0,
        breadth: 3,
        threshold: Some(80.0),
        breadth_threshold: None,
        crossed_at: now - 60_000,
        lead_id: format!("lead-{i}-0"),
        fit_reasons: vec![AccountReason {
            rule_id: "industry".into(),
            label: "Target industry".into(),
            points: 20.0,
            last_seen: now - 60_000,
        }],
        people: vec![
            person(0, "Peter Gibbons"),
            person(1, "Ana Lima"),
            person(2, "Milton Waddams"),
        ],
        model_version: "v1".into(),
        owner_team: Some("emea".into()),
        owner_rep: Some("lars".into()),
    }
}

#[test]
fn account_alerts_reach_the_owner_by_webhook_and_email_once_each() {
    let n = Notifier::new("notify-account");
    let dir = n.d.dir.path();
    let log = dir.join("received.ndjson");
    let receiver = Helper::start(
        "webhook_receiver.py",
        &[
            "--secret",
            SECRET_NEW,
            "--log",
            log.to_str().unwrap(),
            "--keep-bodies",
        ],
    );
    let (cert, key) = self_signed(dir);
    let inbox = dir.join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let smtp = Helper::start(
        "smtp_server.py",
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--user",
            "leadpulse",
            "--password",
            "s3cret-smtp",
            "--out",
            inbox.to_str().unwrap(),
        ],
    );
    let roster = dir.join("routing.toml");
    std::fs::write(&roster, ROSTER).unwrap();

    // Every alert is on the topic twice (JSON and protobuf alternate), and
    // one record is broken: the owner is still told once per alert id.
    let now = now_ms();
    let alerts: Vec<AccountAlert> = (0..20).map(|i| account_alert(i, now)).collect();
    let producer: ThreadedProducer<DefaultProducerContext> = Access::plain()
        .client()
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let topic = n.d.topic("account-alerts");
    for (k, a) in alerts.iter().chain(&alerts).enumerate() {
        let format = if k % 2 == 0 {
            Format::Json
        } else {
            Format::Protobuf
        };
        let payload = codec::encode_account_alert(a, format);
        let key = a.account.to_string();
        producer
            .send(BaseRecord::to(&topic).key(&key).payload(&payload))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer
        .send(
            BaseRecord::to(&topic)
                .key("domain:broken.example")
                .payload(&b"{\"alert_id\": 7}"[..]),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();

    let config = n.config(&format!(
        r#"[routing]
path = "{roster}"

{notify}
max_attempts = 40
backoff_initial_ms = 20
backoff_max_ms = 500
request_timeout_ms = 1000
lead_url = "https://app.example/leads/{{lead_id}}"

[[notify.channel]]
kind = "webhook"
name = "crm"
url = "http://127.0.0.1:{port}/hooks/leadpulse"
secrets = ["{SECRET_NEW}"]
allow_http_localhost = true

[[notify.channel]]
kind = "email"
name = "mail"
host = "localhost"
port = {smtp}
tls = "starttls"
ca_file = "{cert}"
username = "leadpulse"
password = "s3cret-smtp"
from = "leadpulse <alerts@example.com>"
"#,
        roster = roster.display(),
        notify = n.notify_section(),
        port = receiver.port,
        smtp = smtp.port,
        cert = cert.display(),
    ));
    let s = n.spawn(&config, 0);
    n.wait_committed_on("account-alerts", Duration::from_secs(240));
    let notify_log = s.terminate();

    // The webhook: every alert delivered, de-duplicated by webhook-id to
    // exactly one per alert, every signature valid.
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["valid"] == true), "a bad signature");
    let mut delivered: BTreeMap<String, Value> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["status"] == 200) {
        delivered.insert(l["id"].as_str().unwrap().to_owned(), l["body"].clone());
    }
    let expected: BTreeSet<String> = alerts
        .iter()
        .map(|a| delivery_id(&a.alert_id, "crm", "lars"))
        .collect();
    let got: BTreeSet<String> = delivered.keys().cloned().collect();
    assert_eq!(got, expected, "{notify_log}");
    let a = &alerts[0];
    let body = &delivered[&delivery_id(&a.alert_id, "crm", "lars")];
    assert_eq!(body["type"], "account.surge");
    let d = &body["data"];
    assert_eq!(d["source_id"], a.alert_id);
    assert_eq!(d["rep_id"], "lars");
    assert_eq!(d["team"], "emea");
    assert_eq!(d["score"], 95.0);
    assert_eq!(d["company_domain"], "initech0.com");
    assert_eq!(d["links"]["lead"], Value::Null);
    assert_eq!(d["feedback_links"], serde_json::json!([]));
    assert_eq!(d["account"]["account_key"], "domain:initech0.com");
    assert_eq!(d["account"]["breadth"], 3);
    assert_eq!(d["account"]["people"][1]["name"], "Ana Lima");
    assert_eq!(
        d["account"]["people"][1]["reasons"][0]["label"],
        "Attended a webinar"
    );

    // The email: one message per alert, to the owner.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mails = |a: &AccountAlert| {
        inbox.join(format!(
            "{}@example.com.txt",
            delivery_id(&a.alert_id, "mail", "lars")
        ))
    };
    while !alerts.iter().all(|a| mails(a).exists()) {
        assert!(Instant::now() < deadline, "missing mail:\n{notify_log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(mails(a))
        .unwrap()
        .replace("\r\n", "\n");
    for want in [
        "Account in market: Initech 0 (score 95, 3 people engaged)",
        "Account `domain:initech0.com`",
        "3 people of Initech 0 engaged within the breadth window: score 95 reached 80",
        "+20 Target industry",
        "Who engaged:\n  Peter Gibbons, VP Engineering (lead lead-0-0): 30 points (+30 Attended a webinar); last engaged ",
        "Ana Lima, VP Engineering (lead lead-0-1): 29 points",
        " CET",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    assert!(!text.contains("feedback?"), "{text}");

    // The broken record went to the DLQ with its reason.
    let dlq = read_all(&n.d.topic("notifications-dlq"));
    let reasons: Vec<&str> = dlq
        .iter()
        .map(|r| r.headers["leadpulse-dlq-reason"].as_str())
        .collect();
    assert_eq!(reasons, ["malformed"], "{notify_log}");
    assert!(!notify_log.contains("lars@example.com"), "PII in the log");
}
