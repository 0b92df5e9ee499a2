//! `leadpulse notify` reads `watch-alerts`: each watch alert reaches the
//! watching rep on a Standard Webhooks receiver (signatures verified by
//! the `standardwebhooks` package, 30% failures) and by email on a real
//! SMTP server, once per alert by its idempotency key, with who the lead
//! is, which watch matched, what they did, the score and its reasons, the
//! deadline in the rep's time zone and the links.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use leadpulse::codec;
use leadpulse::core::{Contact, EventType, Reason, ReasonKind, Target, WatchAlert};
use leadpulse::notify::delivery_id;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::Value;

use crate::notify::{self_signed, Helper, Notifier, ROSTER, SECRET_NEW};
use crate::support::*;

fn watch_alert(i: usize, now: i64) -> WatchAlert {
    let (target, note) = if i % 2 == 0 {
        (
            Target::Domain("initech.com".into()),
            Some("renewal talks".into()),
        )
    } else {
        (Target::Email(format!("p{i}@initech.com")), None)
    };
    WatchAlert {
        watch_alert_id: format!("{i:032x}"),
        watch_id: format!("w-{}", i % 2).into(),
        rep: "lars".into(),
        target,
        note,
        condition: "page_view with url matching */pricing*".into(),
        lead_id: format!("lead-{i}"),
        event_id: format!("e-{i}"),
        event_type: EventType::PageView,
        occurred_at: now - 60_000,
        url: Some(format!("https://initech.example/pricing?v={i}")),
        item: None,
        score: 64.5,
        company_domain: Some("initech.com".into()),
        account_id: None,
        contact: Contact {
            name: Some(format!("Peter Gibbons {i}")),
            title: Some("VP Engineering".into()),
            company: Some("Initech".into()),
        },
        reasons: vec![
            Reason {
                rule_id: "pricing".into(),
                label: "Visited pricing".into(),
                kind: ReasonKind::Engagement,
                points: 24.5,
                count: 2,
                last_seen: now - 60_000,
            },
            Reason {
                rule_id: "vp".into(),
                label: "Senior title".into(),
                kind: ReasonKind::Fit,
                points: 40.0,
                count: 1,
                last_seen: now - 60_000,
            },
        ],
        respond_by: (i % 3 == 0).then_some(now + 3_600_000),
        alert_id: (i % 3 == 0).then(|| format!("alert-{i}")),
    }
}

#[test]
fn watch_alerts_reach_the_watching_rep_by_webhook_and_email_once_each() {
    let n = Notifier::new("notify-watch");
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

    // Every alert is on the topic twice: the notifier must still tell the
    // rep once per alert id.
    let now = now_ms();
    let alerts: Vec<WatchAlert> = (0..40).map(|i| watch_alert(i, now)).collect();
    let producer: ThreadedProducer<DefaultProducerContext> = Access::plain()
        .client()
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    for a in alerts.iter().chain(&alerts) {
        let payload = codec::encode_watch_alert(a);
        producer
            .send(
                BaseRecord::to(&n.d.topic("watch-alerts"))
                    .key(&*a.rep)
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
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
crm_url = "https://crm.example/leads/{{lead_id}}"

[notify.feedback]
enabled = true
public_url = "https://leadpulse.example"
link_key = "0123456789abcdef0123456789abcdef-test"

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
    n.wait_committed_on("watch-alerts", Duration::from_secs(240));
    let notify_log = s.terminate();

    // The webhook: every alert delivered, de-duplicated by webhook-id to
    // exactly one per alert, every signature valid.
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["valid"] == true), "a bad signature");
    assert!(
        lines.iter().any(|l| l["status"] == 500),
        "the receiver never failed"
    );
    let mut delivered: BTreeMap<String, Value> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["status"] == 200) {
        delivered.insert(l["id"].as_str().unwrap().to_owned(), l["body"].clone());
    }
    let expected: BTreeSet<String> = alerts
        .iter()
        .map(|a| delivery_id(&a.watch_alert_id, "crm", "lars"))
        .collect();
    let got: BTreeSet<String> = delivered.keys().cloned().collect();
    assert_eq!(got, expected, "{notify_log}");
    let a = &alerts[0];
    let body = &delivered[&delivery_id(&a.watch_alert_id, "crm", "lars")];
    assert_eq!(body["type"], "lead.watch_matched");
    let d = &body["data"];
    assert_eq!(d["lead_id"], "lead-0");
    assert_eq!(d["rep_id"], "lars");
    assert_eq!(d["contact"]["name"], "Peter Gibbons 0");
    assert_eq!(d["contact"]["title"], "VP Engineering");
    assert_eq!(d["watch"]["watch_id"], "w-0");
    assert_eq!(d["watch"]["target"], "domain initech.com");
    assert_eq!(d["watch"]["note"], "renewal talks");
    assert_eq!(d["watch"]["url"], "https://initech.example/pricing?v=0");
    assert_eq!(d["score"], 64.5);
    assert_eq!(d["reasons"][0]["label"], "Visited pricing");
    assert_eq!(d["deadline"]["time_zone"], "Europe/Berlin");
    assert_eq!(d["links"]["crm"], "https://crm.example/leads/lead-0");
    assert_eq!(d["feedback_links"][0]["label"], "Contacted");
    // Without a handoff to the rep there is nothing to give feedback on.
    let unhanded = &delivered[&delivery_id(&alerts[1].watch_alert_id, "crm", "lars")]["data"];
    assert_eq!(unhanded["feedback_links"], serde_json::json!([]));
    assert_eq!(unhanded["deadline"], Value::Null);

    // The email: one message per alert, to the watching rep.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mails = |a: &WatchAlert| {
        inbox.join(format!(
            "{}@example.com.txt",
            delivery_id(&a.watch_alert_id, "mail", "lars")
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
        "Watched lead active: Peter Gibbons 0 at Initech (score 64) viewed https://initech.example/pricing?v=0",
        "Peter Gibbons 0, VP Engineering at Initech · Lead `lead-0` at initech.com",
        "Your watch on domain initech.com (page_view with url matching */pricing*) matched: “renewal talks”.",
        "respond by ",
        " CET (in ",
        "+40 Senior title",
        "+24.5 Visited pricing (×2)",
        "Latest activity:\n  viewed https://initech.example/pricing?v=0 (page view), ",
        "Lead: https://app.example/leads/lead-0",
        "CRM: https://crm.example/leads/lead-0",
        "Contacted: https://leadpulse.example/feedback?action=contacted&lead=lead-0&alert=alert-0&rep=lars",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    assert!(!notify_log.contains("lars@example.com"), "PII in the log");
}
