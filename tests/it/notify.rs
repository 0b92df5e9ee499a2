//! `leadpulse notify` against real receivers: a misbehaving Standard
//! Webhooks receiver (Python, signatures verified by the `standardwebhooks`
//! package) through five `kill -9`s, an SMTP server with STARTTLS and AUTH
//! (aiosmtpd), a stand-in for Slack's Web API, and the one-click feedback
//! endpoint writing to the broker.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leadpulse::codec::{self, Format};
use leadpulse::core::{Alert, Contact, Grade, Reason, ReasonKind};
use leadpulse::notify::delivery_id;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::support::*;

const SECRET_OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(crate) const SECRET_NEW: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// A Python helper of tests/contract/ that prints `listening PORT`.
pub(crate) struct Helper {
    child: Child,
    pub(crate) port: u16,
}

impl Helper {
    pub(crate) fn start(script: &str, args: &[&str]) -> Helper {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/contract")
            .join(script);
        let mut child = Command::new(python())
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python helper");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"));
        Helper { child, port }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Topics and group of one notifier deployment.
pub(crate) struct Notifier {
    pub(crate) d: Deployment,
}

impl Notifier {
    pub(crate) fn new(prefix: &str) -> Notifier {
        let d = Deployment::new(prefix, 3);
        for t in [
            "alerts",
            "breaches",
            "overdue",
            "feedback",
            "watch-alerts",
            "account-alerts",
        ] {
            d.create_topic(&d.topic(t), &[]);
        }
        Notifier { d }
    }

    pub(crate) fn config(&self, extra: &str) -> PathBuf {
        let d = &self.d;
        let path = d.dir.path().join("notify.toml");
        let text = format!(
            r#"
[kafka]
bootstrap_servers = "{bootstrap}"
group_id = "{group}"
instance_id = "n1"

[kafka.consumer]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "1000"

[topics]
alerts = "{alerts}"
breaches = "{breaches}"
overdue = "{overdue}"
feedback = "{feedback}"
watch_alerts = "{watch_alerts}"
account_alerts = "{account_alerts}"
notifications_dlq = "{dlq}"
partitions = 3
replication_factor = 1

{extra}
"#,
            bootstrap = bootstrap(),
            group = d.group(),
            alerts = d.topic("alerts"),
            breaches = d.topic("breaches"),
            overdue = d.topic("overdue"),
            feedback = d.topic("feedback"),
            watch_alerts = d.topic("watch-alerts"),
            account_alerts = d.topic("account-alerts"),
            dlq = d.topic("notifications-dlq"),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn spawn(&self, config: &Path, run: usize) -> Service {
        let log = self.d.dir.path().join(format!("notify-{run}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .args(["notify", "--config"])
            .arg(config)
            .env("RUST_LOG", "leadpulse=debug,info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start leadpulse notify");
        Service { child, log }
    }

    /// Waits until the notifier's group has committed every record of
    /// the alerts topic.
    pub(crate) fn wait_committed(&self, timeout: Duration) {
        self.wait_committed_on("alerts", timeout)
    }

    /// Waits until the notifier's group has committed every record of
    /// one of its input topics.
    pub(crate) fn wait_committed_on(&self, input: &str, timeout: Duration) {
        let consumer: BaseConsumer = Access::plain()
            .client()
            .set("group.id", format!("{}-notify", self.d.name))
            .create()
            .unwrap();
        let topic = self.d.topic(input);
        let deadline = Instant::now() + timeout;
        loop {
            let mut tpl = TopicPartitionList::new();
            let mut ends = BTreeMap::new();
            for p in 0..self.d.partitions {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .unwrap();
                ends.insert(p, high);
                tpl.add_partition(&topic, p);
            }
            let committed = consumer.committed_offsets(tpl, Duration::from_secs(10));
            let done = committed.as_ref().is_ok_and(|c| {
                ends.iter().all(|(&p, &high)| {
                    high == 0
                        || matches!(c.find_partition(&topic, p).map(|e| e.offset()),
                            Some(Offset::Offset(o)) if o >= high)
                })
            });
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the notifier did not commit {topic} within {timeout:?}: ends {ends:?}, committed {committed:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub(crate) fn notify_section(&self) -> String {
        format!(
            "[notify]\ngroup_id = \"{}-notify\"\nlisten = \"127.0.0.1:0\"\n",
            self.d.name
        )
    }
}

fn alert(n: usize, lead: &str, rep: &str, respond_by: i64) -> Alert {
    Alert {
        alert_id: format!("alert-{n:04}-{lead}"),
        lead_id: lead.into(),
        score: 80.0 + (n % 10) as f64,
        fit: 40.0,
        engagement: 40.0,
        grade: Grade::A,
        threshold: 70.0,
        qualification: "score ≥ 70".into(),
        crossed_at: respond_by - 3_600_000,
        respond_by,
        model_version: "test".into(),
        event_id: format!("e-{n}"),
        reasons: vec![
            Reason {
                rule_id: "pricing".into(),
                label: "Visited pricing".into(),
                kind: ReasonKind::Engagement,
                points: 25.0,
                count: 3,
                last_seen: respond_by - 3_700_000,
            },
            Reason {
                rule_id: "cto".into(),
                label: "Title: CTO".into(),
                kind: ReasonKind::Fit,
                points: 20.0,
                count: 1,
                last_seen: respond_by - 3_600_000,
            },
        ],
        company_domain: Some("initech.com".into()),
        account_id: None,
        owner_team: Some("emea".into()),
        owner_rep: Some(rep.into()),
        routed_via: Some("territory".into()),
        contact: Contact {
            name: Some("Peter Gibbons".into()),
            title: Some("VP Engineering".into()),
            company: Some("Initech".into()),
        },
    }
}

fn produce_alerts(topic: &str, alerts: &[Alert]) {
    let producer: ThreadedProducer<DefaultProducerContext> = Access::plain()
        .client()
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for a in alerts {
        let payload = codec::encode_alert(a, Format::Json);
        let mut record = BaseRecord::to(topic).key(&a.lead_id).payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// One request the receiver logged.
struct Received {
    id: String,
    lead_id: Option<String>,
    status: u16,
    valid: bool,
}

fn received(log: &Path) -> Vec<Received> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with('}'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Received {
                id: v["id"].as_str().unwrap_or("").to_owned(),
                lead_id: v["lead_id"].as_str().map(str::to_owned),
                status: v["status"].as_u64().unwrap() as u16,
                valid: v["valid"].as_bool().unwrap(),
            }
        })
        .collect()
}

#[test]
fn every_alert_arrives_exactly_once_by_webhook_id_through_faults_and_five_kills() {
    let n = Notifier::new("notify-webhook");
    let log = n.d.dir.path().join("received.ndjson");
    // The receiver knows only the new secret: every request carries both
    // signatures while the secret rotates, and the new one must verify.
    let receiver = Helper::start(
        "webhook_receiver.py",
        &["--secret", SECRET_NEW, "--log", log.to_str().unwrap()],
    );
    let now = now_ms();
    let alerts: Vec<Alert> = (0..1_000)
        .map(|i| {
            let lead = if i % 50 == 7 {
                format!("lead-{i}-gone")
            } else {
                format!("lead-{i}")
            };
            alert(i, &lead, "lars", now + 3_600_000)
        })
        .collect();
    let expected: BTreeMap<String, &Alert> = alerts
        .iter()
        .map(|a| (delivery_id(&a.alert_id, "crm", "lars"), a))
        .collect();
    assert_eq!(expected.len(), 1_000);
    produce_alerts(&n.d.topic("alerts"), &alerts);

    let config = n.config(&format!(
        r#"{notify}
max_attempts = 40
backoff_initial_ms = 20
backoff_max_ms = 1000
request_timeout_ms = 1000
commit_interval_ms = 200

[[notify.channel]]
kind = "webhook"
name = "crm"
url = "http://127.0.0.1:{port}/hooks/leadpulse"
secrets = ["{SECRET_OLD}", "{SECRET_NEW}"]
allow_http_localhost = true
max_concurrency = 4
"#,
        notify = n.notify_section(),
        port = receiver.port,
    ));

    let mut killed_mid_delivery = 0;
    for run in 0..5 {
        let mut s = n.spawn(&config, run);
        let start = received(&log).len();
        let deadline = Instant::now() + Duration::from_secs(120);
        while received(&log).len() < start + 120 {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("notify exited ({status}):\n{}", s.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "run {run}: no progress:\n{}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let log_text = s.kill9();
        assert!(log_text.contains("notify: delivering"), "{log_text}");
        let delivered: BTreeSet<String> = received(&log)
            .into_iter()
            .filter(|r| r.status < 300 || r.status == 410)
            .map(|r| r.id)
            .collect();
        if delivered.len() < expected.len() {
            killed_mid_delivery += 1;
        }
    }
    assert_eq!(
        killed_mid_delivery, 5,
        "every kill came before the end of delivery"
    );

    let s = n.spawn(&config, 5);
    n.wait_committed(Duration::from_secs(300));
    let last_log = s.terminate();

    let all = received(&log);
    assert!(
        all.iter().all(|r| r.valid),
        "a signature did not verify with standardwebhooks"
    );
    assert!(
        all.iter().any(|r| r.status == 500),
        "the receiver never failed"
    );
    assert!(
        all.iter().any(|r| r.status == 429),
        "the receiver never limited"
    );
    let mut delivered: BTreeMap<&str, usize> = BTreeMap::new();
    for r in all.iter().filter(|r| r.status < 300) {
        *delivered.entry(&r.id).or_default() += 1;
    }
    let refused: BTreeSet<&str> = all
        .iter()
        .filter(|r| r.status == 410)
        .map(|r| r.id.as_str())
        .collect();
    for (id, a) in &expected {
        if a.lead_id.ends_with("-gone") {
            assert!(refused.contains(id.as_str()), "{id} was never offered");
            assert!(!delivered.contains_key(id.as_str()));
        } else {
            assert!(
                delivered.contains_key(id.as_str()),
                "alert {} never arrived:\n{last_log}",
                a.alert_id
            );
        }
    }
    // De-duplicated by webhook-id, each alert once, and nothing else.
    assert!(delivered.keys().all(|id| expected.contains_key(*id)));
    assert_eq!(delivered.len() + refused.len(), expected.len());
    let redelivered = delivered.values().filter(|&&c| c > 1).count();
    println!(
        "{} requests, {} ids delivered ({redelivered} more than once), {} refused",
        all.len(),
        delivered.len(),
        refused.len()
    );
    for r in &all {
        let a = expected[&r.id];
        assert_eq!(r.lead_id.as_deref(), Some(a.lead_id.as_str()));
    }

    // The DLQ holds exactly what the receiver refused for good.
    let dlq = read_all(&n.d.topic("notifications-dlq"));
    let dead: BTreeSet<String> = dlq
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap())
        .collect();
    let refused_owned: BTreeSet<String> = refused.iter().map(|s| s.to_string()).collect();
    assert_eq!(dead, refused_owned);
    for r in &dlq {
        assert_eq!(r.headers["leadpulse-dlq-reason"], "refused");
        assert_eq!(r.headers["leadpulse-dlq-detail"], "HTTP 410");
        assert_eq!(r.headers["leadpulse-notify-channel"], "crm");
        let a = codec::decode_alert(r.payload.as_deref().unwrap()).unwrap();
        assert!(a.lead_id.ends_with("-gone"));
    }
    assert!(!last_log.contains("whsec_"), "a secret in the log");
}

pub(crate) const ROSTER: &str = r#"
[[team]]
id = "emea"
lead = "ingrid"
slack_channel = "C0123ABCD"
[[team.rep]]
id = "lars"
name = "Lars Jensen"
email = "lars@example.com"
slack_user = "U024BE7LH"
time_zone = "Europe/Berlin"
[[team.rep]]
id = "ingrid"
name = "Ingrid Berg"
available = false
"#;

pub(crate) fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("smtp.pem"), dir.join("smtp.key"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl req failed");
    (cert, key)
}

#[test]
fn email_reaches_an_smtp_server_over_starttls_with_auth_and_says_what_to_do() {
    let n = Notifier::new("notify-email");
    let dir = n.d.dir.path();
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
    let now = now_ms();
    let on_time = alert(1, "lead-on-time", "lars", now + 2 * 3_600_000);
    let late = alert(2, "lead-late", "lars", now - 10 * 60_000);
    produce_alerts(&n.d.topic("alerts"), &[on_time.clone(), late.clone()]);
    let config = n.config(&format!(
        r#"[routing]
path = "{roster}"

{notify}
crm_url = "https://crm.example/leads/{{lead_id}}"
lead_url = "https://app.example/leads/{{lead_id}}"

[notify.feedback]
enabled = true
public_url = "https://leadpulse.example"
link_key = "0123456789abcdef0123456789abcdef-test"

[[notify.channel]]
kind = "email"
name = "mail"
host = "localhost"
port = {port}
tls = "starttls"
ca_file = "{cert}"
username = "leadpulse"
password = "s3cret-smtp"
from = "leadpulse <alerts@example.com>"
"#,
        roster = roster.display(),
        notify = n.notify_section(),
        port = smtp.port,
        cert = cert.display(),
    ));
    let s = n.spawn(&config, 0);
    let id_on_time = delivery_id(&on_time.alert_id, "mail", "lars");
    let id_late = delivery_id(&late.alert_id, "mail", "lars");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(inbox.join(format!("{id_late}@example.com.eml")).exists()
        && inbox.join(format!("{id_on_time}@example.com.eml")).exists())
    {
        assert!(Instant::now() < deadline, "no mail:\n{}", s.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    n.wait_committed(Duration::from_secs(60));
    let log = s.terminate();
    let read = |id: &str, ext: &str| {
        std::fs::read_to_string(inbox.join(format!("{id}@example.com.{ext}")))
            .unwrap()
            .replace("\r\n", "\n")
    };
    let raw = read(&id_on_time, "eml");
    assert!(
        raw.starts_with("X-Test-Tls: True\nX-Test-Auth: True\n"),
        "{raw}"
    );
    assert!(
        raw.contains("Subject: Hot lead: Peter Gibbons at Initech (score 81, grade A)"),
        "{raw}"
    );
    let text = read(&id_on_time, "txt");
    for want in [
        "Peter Gibbons, VP Engineering at Initech · Lead `lead-on-time` at initech.com",
        "respond by ",
        " CET (in 1 h 59 min)",
        "+25 Visited pricing (×3)",
        "+20 Title: CTO",
        "Latest activity:\n  Visited pricing, last ",
        "Lead: https://app.example/leads/lead-on-time",
        "CRM: https://crm.example/leads/lead-on-time",
        "Contacted: https://leadpulse.example/feedback?action=contacted&lead=lead-on-time&alert=",
        "Reject (no_budget): https://leadpulse.example/feedback?action=reject",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    let late_raw = read(&id_late, "eml");
    assert!(late_raw.contains("(overdue)"), "{late_raw}");
    let late_text = read(&id_late, "txt");
    assert!(
        late_text.contains("OVERDUE: respond by") && late_text.contains("has passed (10 min ago)"),
        "{late_text}"
    );
    assert!(
        !log.contains("s3cret-smtp") && !log.contains("lars@example.com"),
        "{log}"
    );
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.1 POST: the status.
fn http_post(addr: &str, path: &str, headers: &[(&str, String)], body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn slack_signature(secret: &str, ts: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={sig}")
}

#[test]
fn slack_gets_block_kit_and_a_button_press_reaches_lead_feedback_once() {
    const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    let n = Notifier::new("notify-slack");
    let dir = n.d.dir.path();
    let api_log = dir.join("slack.ndjson");
    let api = Helper::start("slack_api.py", &["--log", api_log.to_str().unwrap()]);
    let roster = dir.join("routing.toml");
    std::fs::write(&roster, ROSTER).unwrap();
    let a = alert(1, "lead-slack", "lars", now_ms() + 3_600_000);
    produce_alerts(&n.d.topic("alerts"), std::slice::from_ref(&a));
    let config = n.config(&format!(
        r#"[routing]
path = "{roster}"

{notify}
crm_url = "https://crm.example/leads/{{lead_id}}"

[notify.feedback]
enabled = true
slack_signing_secret = "{SIGNING}"

[[notify.channel]]
kind = "slack"
name = "slack"
token = "xoxb-test-token"
api_base = "http://127.0.0.1:{port}/api"
allow_http_localhost = true
"#,
        roster = roster.display(),
        notify = n.notify_section(),
        port = api.port,
    ));
    let mut s = n.spawn(&config, 0);
    let requests = |path: &str| -> Vec<Value> {
        std::fs::read_to_string(&api_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["path"] == path)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while requests("/api/chat.postMessage").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no Slack post:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let posts = requests("/api/chat.postMessage");
    let channels: BTreeSet<&str> = posts
        .iter()
        .map(|p| p["body"]["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, BTreeSet::from(["U024BE7LH", "C0123ABCD"]));
    for p in &posts {
        assert_eq!(p["auth"], "Bearer xoxb-test-token");
        let target = p["body"]["channel"].as_str().unwrap();
        assert_eq!(
            p["body"]["metadata"]["event_payload"]["notification_id"],
            delivery_id(&a.alert_id, "slack", target)
        );
    }
    let blocks = posts[0]["body"]["blocks"].clone();
    let actions = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    let accept = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action_id"] == "accept")
        .unwrap();

    // Press "Accept" as Slack would, twice.
    let addr = {
        s.wait_for_log("notify HTTP listening", Duration::from_secs(30));
        let log = s.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("notify HTTP listening"))
            .unwrap();
        line.split("addr=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": "U024BE7LH"},
        "actions": [{"action_id": "accept", "value": accept["value"], "type": "button"}],
        "response_url": format!("http://127.0.0.1:{}/response/1", api.port),
        "message": {"blocks": blocks},
    });
    let body = format!("payload={}", form_encode(&payload.to_string()));
    let press = |ts: i64, secret: &str, body: &str| {
        let ts = ts.to_string();
        http_post(
            &addr,
            "/slack/interactions",
            &[
                ("X-Slack-Request-Timestamp", ts.clone()),
                ("X-Slack-Signature", slack_signature(secret, &ts, body)),
            ],
            body,
        )
    };
    let now = now_ms() / 1000;
    // Forged: a wrong secret, an old timestamp, a changed body.
    assert_eq!(press(now, "not-the-secret", &body), 401);
    assert_eq!(press(now - 301, SIGNING, &body), 401);
    {
        let ts = now.to_string();
        let sig = slack_signature(SIGNING, &ts, &body);
        let changed = body.replace("accept", "contacted");
        let status = http_post(
            &addr,
            "/slack/interactions",
            &[
                ("X-Slack-Request-Timestamp", ts),
                ("X-Slack-Signature", sig),
            ],
            &changed,
        );
        assert_eq!(status, 401);
    }
    assert_eq!(press(now, SIGNING, &body), 200);
    assert_eq!(press(now, SIGNING, &body), 200);

    let feedback = read_all(&n.d.topic("feedback"));
    assert_eq!(feedback.len(), 1, "a double click is one feedback event");
    let event: Value = serde_json::from_slice(feedback[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(feedback[0].key.as_deref(), Some(&b"lead-slack"[..]));
    assert_eq!(event["type"], "lead_accepted");
    assert_eq!(event["rep_id"], "lars");
    assert_eq!(event["lead_id"], "lead-slack");
    assert_eq!(
        event["event_id"],
        leadpulse::notify::feedback_event_id(
            &a.alert_id,
            &leadpulse::notify::Action::Accept,
            "lars"
        )
    );
    // The message now says who acted.
    let deadline = Instant::now() + Duration::from_secs(30);
    while requests("/response/1").is_empty() {
        assert!(Instant::now() < deadline, "no message update");
        std::thread::sleep(Duration::from_millis(100));
    }
    let update = &requests("/response/1")[0]["body"];
    assert_eq!(update["replace_original"], true);
    assert!(update["text"]
        .as_str()
        .unwrap()
        .contains("Marked *accepted* by <@U024BE7LH>"));
    assert!(
        !update.to_string().contains("leadpulse_feedback"),
        "the buttons are gone"
    );
    let log = s.terminate();
    assert!(
        !log.contains("xoxb-test-token") && !log.contains(SIGNING),
        "{log}"
    );
}
