//! Rep watchlists against a real broker: watches made over the admin HTTP
//! edge and the CLI, alerts that fire exactly once per matching event
//! through a kill -9 and a rebalance, and `replay --watches` as the oracle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use leadpulse::codec;
use leadpulse::core::{Event, EventKind};
use leadpulse::tools::generate::GeneratorConfig;
use serde_json::{json, Value};

use crate::support::*;

const TOKEN: &str = "watch-token-0123456789abcdef";
const EVENTS: usize = 6_000;
const LEADS: u32 = 600;
/// The company of the generated stream the company watch follows.
const COMPANY: &str = "globex.com";
const PERSON_LEAD: &str = "P-ana";
const PERSON_EMAIL: &str = "Ana.Lopez@person.example";

/// A config with a roster and an admin token.
fn config(d: &Deployment, instance: &str) -> PathBuf {
    let routing = d.dir.path().join("routing.toml");
    std::fs::write(&routing, include_str!("../../examples/routing.toml")).unwrap();
    let path = d.config(
        instance,
        &format!("[routing]\npath = \"{}\"\n", routing.display()),
    );
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\""),
        1,
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// One HTTP/1.1 request: (status, body).
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response: {raw:?}"));
    (status, body.to_owned())
}

/// Waits until the instance's watch table holds `n` watches.
fn wait_watches(addr: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = http(addr, "GET", "/watches", Some(TOKEN), "");
        if code == 200 {
            let v: Value = serde_json::from_str(&body).unwrap();
            if v["watches"].as_array().unwrap().len() >= n {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{n} watches not seen: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The person's own events: a profile with the email, then activity.
fn person_events(start: i64) -> Vec<InputRecord> {
    let ev = |n: i64, kind: EventKind| Event {
        event_id: format!("{PERSON_LEAD}-{n}"),
        lead_id: PERSON_LEAD.into(),
        occurred_at: start + n * 1_000,
        company_domain: Some("person.example".into()),
        account_id: None,
        kind,
    };
    let view = |url: &str| EventKind::PageView {
        url: url.into(),
        referrer: None,
        duration_ms: None,
    };
    let profile = EventKind::ProfileUpdate {
        attributes: [("email".to_owned(), PERSON_EMAIL.to_owned())].into(),
    };
    vec![
        record(&ev(0, view("https://leadpulse.example/blog"))),
        record(&ev(1, profile)),
        record(&ev(2, view("https://leadpulse.example/docs/start"))),
        record(&ev(
            3,
            EventKind::FormSubmit {
                form_id: "demo-request".into(),
                fields: BTreeMap::new(),
            },
        )),
        record(&ev(4, view("https://leadpulse.example/pricing"))),
    ]
}

/// Alerts by id from the watch-alerts topic; fails on a duplicate id.
fn committed_alerts(d: &Deployment) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for r in read_all(&d.topic("watch-alerts")) {
        let v: Value = serde_json::from_slice(r.payload.as_deref().unwrap()).unwrap();
        let id = v["watch_alert_id"].as_str().unwrap().to_owned();
        assert_eq!(
            r.key.as_deref(),
            v["rep"].as_str().map(str::as_bytes),
            "keyed by rep"
        );
        assert!(out.insert(id.clone(), v).is_none(), "duplicate alert {id}");
    }
    out
}

#[test]
fn company_and_person_watches_fire_once_per_matching_event_through_kill_9_and_a_rebalance() {
    let d = Deployment::new("watches", 3);
    d.create_events_topic();
    let cfg_a = config(&d, "a");
    let cfg_b = config(&d, "b");

    let mut a = d.spawn_with_config("a", 1, &cfg_a);
    let addr = a.admin_addr();
    a.wait_for_log("watch table read", Duration::from_secs(60));

    // Authentication is required, and reps must be in the roster.
    let company = json!({
        "watch_id": "w-acme",
        "rep": "ana",
        "target": {"kind": "domain", "value": COMPANY},
        "condition": {"events": ["page_view", "content_download"]},
        "note": "Acme is evaluating"
    })
    .to_string();
    let (code, _) = http(&addr, "POST", "/watches", None, &company);
    assert_eq!(code, 401);
    let (code, _) = http(&addr, "GET", "/watches", Some("wrong-token-0123456789"), "");
    assert_eq!(code, 401);
    let stranger = company.replace("\"ana\"", "\"zed-unknown\"");
    let (code, body) = http(&addr, "POST", "/watches", Some(TOKEN), &stranger);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("zed-unknown"),
        "the error names the rep: {body}"
    );
    let bad = company.replace("]}", "], \"form\": \"demo\"}");
    let (code, body) = http(&addr, "POST", "/watches", Some(TOKEN), &bad);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("condition"), "{body}");

    let (code, body) = http(&addr, "POST", "/watches", Some(TOKEN), &company);
    assert_eq!(code, 201, "{body}");
    let person = json!({
        "rep": "ben",
        "target": {"kind": "email", "value": PERSON_EMAIL},
    })
    .to_string();
    let (code, body) = http(&addr, "POST", "/watches", Some(TOKEN), &person);
    assert_eq!(code, 201, "{body}");
    let person_id = serde_json::from_str::<Value>(&body).unwrap()["watch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_watches(&addr, 2);
    let (code, _) = http(&addr, "POST", "/watches", Some(TOKEN), &company);
    assert_eq!(code, 409, "an id is used once");

    // Events from after the watches were made.
    std::thread::sleep(Duration::from_millis(50));
    let start = now_ms() + 1_000;
    let mut records = dataset_from(
        EVENTS,
        GeneratorConfig {
            start,
            ..generator_config(LEADS, 41)
        },
    )
    .to_vec();
    records.extend(person_events(start + 10_000));
    let topic = d.topic("events");
    let producer = {
        let records = records.clone();
        std::thread::spawn(move || produce(&topic, &records, 300, Duration::from_millis(600)))
    };

    // kill -9 mid-stream, then two instances (a rebalance).
    a.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    a.kill9();
    let mut a = d.spawn_with_config("a", 2, &cfg_a);
    a.wait_for_log("transaction committed", Duration::from_secs(90));
    let mut b = d.spawn_with_config("b", 1, &cfg_b);
    b.wait_for_log("watch table read", Duration::from_secs(60));
    a.wait_for_log("partitions revoked", Duration::from_secs(90));
    producer.join().unwrap();
    d.wait_caught_up(Duration::from_secs(180));
    a.terminate();
    b.terminate();

    // Exactly once per matching event, counted from the events themselves.
    let alerts = committed_alerts(&d);
    let mut want_company = BTreeSet::new();
    for r in records.iter().filter(|r| !r.malformed) {
        let e = codec::decode_event(r.ndjson.as_bytes(), None).unwrap();
        let kind = matches!(
            e.kind,
            EventKind::PageView { .. } | EventKind::ContentDownload { .. }
        );
        if e.company_domain.as_deref() == Some(COMPANY) && kind {
            want_company.insert(e.event_id);
        }
    }
    assert!(
        want_company.len() > 5,
        "the stream must visit the company's pages: {} of {} records, first {:?}",
        want_company.len(),
        records.len(),
        records.first().map(|r| &r.ndjson)
    );
    let fired = |watch: &str| -> BTreeSet<String> {
        alerts
            .values()
            .filter(|a| a["watch_id"] == watch)
            .map(|a| a["event_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(fired("w-acme"), want_company);
    let person_fired = fired(&person_id);
    let want_person: BTreeSet<String> = (2..=4).map(|n| format!("{PERSON_LEAD}-{n}")).collect();
    assert_eq!(person_fired, want_person, "after the email is known");
    assert_eq!(alerts.len(), want_company.len() + want_person.len());
    let sample = alerts.values().find(|a| a["watch_id"] == "w-acme").unwrap();
    assert_eq!(sample["rep"], "ana");
    assert_eq!(sample["note"], "Acme is evaluating");
    assert_eq!(
        sample["target"],
        json!({"kind": "domain", "value": COMPANY})
    );

    // replay --watches, with the table as `watch ls --ndjson` prints it,
    // gives the same alerts.
    let ls = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["watch", "ls", "--ndjson", "--config"])
        .arg(&cfg_a)
        .output()
        .unwrap();
    assert!(
        ls.status.success(),
        "{}",
        String::from_utf8_lossy(&ls.stderr)
    );
    let watches_file = d.dir.path().join("watches.ndjson");
    std::fs::write(&watches_file, &ls.stdout).unwrap();
    assert_eq!(String::from_utf8_lossy(&ls.stdout).lines().count(), 2);
    let events_file = d.dir.path().join("events.ndjson");
    let text: String = records.iter().map(|r| format!("{}\n", r.ndjson)).collect();
    std::fs::write(&events_file, text).unwrap();
    let replayed = d.dir.path().join("replayed-watch-alerts.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["replay", "--model"])
        .arg(model_path())
        .arg("--events")
        .arg(&events_file)
        .args(["--partitions", "3", "--watches"])
        .arg(&watches_file)
        .arg("--watch-alerts")
        .arg(&replayed)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    let oracle: BTreeMap<String, Value> = std::fs::read_to_string(&replayed)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["watch_alert_id"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    assert_eq!(
        alerts, oracle,
        "the service's watch alerts differ from replay"
    );
    assert!(
        summary.contains(&format!("{} watch alerts", oracle.len())),
        "{summary}"
    );
}

#[test]
fn the_cli_adds_lists_and_removes_watches_and_refuses_unknown_reps() {
    let d = Deployment::new("watch-cli", 1);
    d.create_events_topic();
    let cfg = config(&d, "cli");
    let leadpulse = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .arg("watch")
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = leadpulse(&["add", "--rep", "nobody-here", "--domain", "acme.io"]);
    assert!(!ok);
    assert!(err.contains("unknown rep `nobody-here`"), "{err}");
    let (ok, _, err) = leadpulse(&[
        "add",
        "--rep",
        "ana",
        "--domain",
        "acme.io",
        "--form",
        "x",
        "--event",
        "page_view",
    ]);
    assert!(!ok);
    assert!(err.contains("`form` applies only to form_submit"), "{err}");

    let (ok, out, err) = leadpulse(&[
        "add",
        "--rep",
        "ana",
        "--domain",
        "Acme.io",
        "--event",
        "page_view",
        "--url",
        "*/pricing*",
        "--id",
        "w-cli",
        "--cooldown-minutes",
        "30",
    ]);
    assert!(ok, "{err}");
    let added = codec::decode_watch(out.trim().as_bytes()).unwrap();
    assert_eq!(added.cooldown, 30 * 60_000);
    let (ok, out, _) = leadpulse(&["ls"]);
    assert!(ok);
    assert!(
        out.contains("w-cli") && out.contains("domain acme.io"),
        "{out}"
    );
    let (ok, _, err) = leadpulse(&["add", "--rep", "ana", "--lead", "L-1", "--id", "w-cli"]);
    assert!(!ok && err.contains("exists"), "{err}");

    let (ok, _, err) = leadpulse(&["rm", "w-cli"]);
    assert!(ok, "{err}");
    let (_, out, _) = leadpulse(&["ls"]);
    assert!(!out.contains("w-cli"), "{out}");
    let (_, out, _) = leadpulse(&["ls", "--include-deleted", "--ndjson"]);
    let deleted = codec::decode_watch(out.trim().as_bytes()).unwrap();
    assert!(deleted.deleted_at.is_some_and(|t| t >= deleted.created_at));
    let (ok, _, _) = leadpulse(&["rm", "w-cli", "--purge"]);
    assert!(ok);
    let (_, out, _) = leadpulse(&["ls", "--include-deleted", "--ndjson"]);
    assert_eq!(out.trim(), "", "a tombstone forgets it");
}
