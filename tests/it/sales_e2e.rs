//! The speed-to-lead loop against a real Kafka broker: alerts are routed,
//! some leads are contacted within the SLA and some are not, breaches fire
//! exactly once and only for the late ones (also across a `kill -9` while
//! timers are open), and the metrics agree with the events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use leadpulse::codec;
use leadpulse::core::{Event, EventKind, Feedback, SlaStatus, Stage};

use crate::support::*;

/// One team of three reps; a short SLA so the test sees deadlines pass.
fn roster(sla_minutes: f64) -> String {
    format!(
        r#"
default_sla_minutes = {sla_minutes}
feedback_business_days = 3
max_reassignments = 0

[[team]]
id = "inbound"
lead = "lee"

[[team.rep]]
id = "ann"
[[team.rep]]
id = "bob"
[[team.rep]]
id = "cat"
"#
    )
}

fn contact(lead: &str, rep: &str, at: i64) -> InputRecord {
    record(&Event {
        event_id: format!("{lead}-contact"),
        lead_id: lead.into(),
        occurred_at: at,
        company_domain: None,
        account_id: None,
        kind: EventKind::Feedback {
            feedback: Feedback::Contacted,
            rep_id: Some(rep.into()),
        },
    })
}

/// A running service with a short-SLA roster, after `n` leads have alerted.
struct Scenario {
    d: Deployment,
    /// Config lines that point the service at the roster.
    extra: String,
    service: Service,
    leads: Vec<String>,
    events: Vec<InputRecord>,
    /// Event time the leads became sales-ready.
    now: i64,
    /// Lead → the rep its alert was routed to.
    owner: BTreeMap<String, String>,
    /// Lead → its alert's `crossed_at` and `respond_by`.
    deadlines: BTreeMap<String, (i64, i64)>,
}

fn start(prefix: &str, sla_minutes: f64, n: usize) -> Scenario {
    let s = start_with(prefix, &roster(sla_minutes), n);
    for (lead, (crossed_at, respond_by)) in &s.deadlines {
        assert_eq!(
            respond_by - crossed_at,
            (sla_minutes * 60_000.0) as i64,
            "{lead}: the SLA runs around the clock"
        );
    }
    s
}

fn start_with(prefix: &str, roster: &str, n: usize) -> Scenario {
    let d = Deployment::new(prefix, 2);
    d.create_events_topic();
    let routing = d.dir.path().join("routing.toml");
    std::fs::write(&routing, roster).unwrap();
    let extra = format!("[routing]\npath = \"{}\"\n", routing.display());
    let mut service = d.spawn_with("a", 1, &extra);
    service.wait_for_log("restored lead state", Duration::from_secs(60));

    let leads: Vec<String> = (0..n).map(|i| format!("L-{prefix}-{i:02}")).collect();
    let now = now_ms();
    let events: Vec<InputRecord> = leads.iter().flat_map(|l| hot_lead(l, now)).collect();
    produce(&d.topic("events"), &events, 0, Duration::ZERO);

    let mut owner = BTreeMap::new();
    let mut deadlines = BTreeMap::new();
    for r in &wait_records(&d.topic("alerts"), n, Duration::from_secs(60)) {
        let a = codec::decode_alert(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(
            a.owner_team.as_deref(),
            Some("inbound"),
            "every alert gets an owner"
        );
        deadlines.insert(a.lead_id.clone(), (a.crossed_at, a.respond_by));
        owner.insert(a.lead_id.clone(), a.owner_rep.clone().unwrap());
    }
    assert_eq!(owner.len(), n, "one alert per lead");
    Scenario {
        d,
        extra,
        service,
        leads,
        events,
        now,
        owner,
        deadlines,
    }
}

/// Breaches by lead, failing on a duplicate breach id.
fn breaches(d: &Deployment) -> BTreeMap<String, u32> {
    let mut ids = BTreeSet::new();
    let mut by_lead = BTreeMap::new();
    for r in read_all(&d.topic("breaches")) {
        let b = codec::decode_breach(r.payload.as_deref().unwrap()).unwrap();
        assert!(
            ids.insert(b.breach_id.clone()),
            "breach {} published twice",
            b.breach_id
        );
        assert_eq!(b.escalate_to, "lee", "breaches escalate to the team lead");
        *by_lead.entry(b.lead_id).or_insert(0) += 1;
    }
    by_lead
}

fn check_handoffs(d: &Deployment, on_time: &BTreeSet<String>, late: &BTreeSet<String>) {
    let mut latest = BTreeMap::new();
    for r in read_all(&d.topic("handoffs")) {
        let h = codec::decode_handoff(r.payload.as_deref().unwrap()).unwrap();
        latest.insert(h.lead_id.clone(), h);
    }
    for lead in on_time {
        assert_eq!(
            latest[lead].handoff.sla,
            SlaStatus::Met,
            "{lead} was contacted in time"
        );
        assert!(latest[lead].handoff.first_contact_at.is_some());
    }
    for lead in late {
        assert_eq!(
            latest[lead].handoff.sla,
            SlaStatus::Breached,
            "{lead} was never contacted"
        );
    }
    let mql: BTreeSet<String> = read_all(&d.topic("lifecycle"))
        .iter()
        .map(|r| codec::decode_stage(r.payload.as_deref().unwrap()).unwrap())
        .filter(|c| c.to == Stage::Mql)
        .map(|c| c.lead_id)
        .collect();
    assert_eq!(
        mql.len(),
        on_time.len() + late.len(),
        "every handed-off lead became an MQL"
    );
}

/// `leadpulse replay --routing --outputs` of the records: lines per output file.
fn replay_outputs(
    d: &Deployment,
    records: &[InputRecord],
    partitions: i32,
) -> BTreeMap<String, Vec<String>> {
    let events = d.dir.path().join("replay-input.ndjson");
    let text: String = records.iter().map(|r| format!("{}\n", r.ndjson)).collect();
    std::fs::write(&events, text).unwrap();
    let out = d.dir.path().join("replay-out");
    let until = leadpulse::codec::format_rfc3339(now_ms());
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["replay", "--model"])
        .arg(model_path())
        .arg("--routing")
        .arg(d.dir.path().join("routing.toml"))
        .args([
            "--partitions",
            &partitions.to_string(),
            "--until",
            &until,
            "--events",
        ])
        .arg(&events)
        .arg("--outputs")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "replay failed");
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let lines = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
            (name, lines)
        })
        .collect()
}

#[test]
fn breaches_fire_once_and_only_for_leads_not_contacted_in_time() {
    let Scenario {
        d,
        extra,
        mut service,
        leads,
        events,
        owner,
        ..
    } = start("sla", 0.15, 12); // 9 s to first contact

    // Half are contacted at once, well before their deadline.
    let on_time: BTreeSet<String> = leads.iter().step_by(2).cloned().collect();
    let late: BTreeSet<String> = leads
        .iter()
        .filter(|l| !on_time.contains(*l))
        .cloned()
        .collect();
    let contacts: Vec<InputRecord> = on_time
        .iter()
        .map(|l| contact(l, &owner[l], now_ms()))
        .collect();
    produce(&d.topic("feedback"), &contacts, 0, Duration::ZERO);

    wait_records(&d.topic("breaches"), late.len(), Duration::from_secs(60));
    // Let the timers run on for a while: nothing more may fire.
    std::thread::sleep(Duration::from_secs(3));
    let (code, metrics) = service.get("/metrics");
    assert_eq!(code, 200);
    // The admin look-up shows stage, owner and SLA status.
    let lead = on_time.iter().next().unwrap();
    let (code, body) = service.get(&format!("/leads/{lead}"));
    assert_eq!(code, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["stage"], "mql", "{view}");
    assert_eq!(view["handoff"]["sla"], "met", "{view}");
    assert_eq!(
        view["handoff"]["rep"].as_str(),
        Some(owner[lead].as_str()),
        "{view}"
    );
    service.terminate();

    let fired = breaches(&d);
    assert_eq!(
        fired.keys().cloned().collect::<BTreeSet<_>>(),
        late,
        "breaches only for the late leads"
    );
    assert!(
        fired.values().all(|&n| n == 1),
        "each late lead breaches exactly once: {fired:?}"
    );
    check_handoffs(&d, &on_time, &late);

    // Replay of the same input gives the same routing, breaches and stages.
    let mut input: Vec<InputRecord> = events.clone();
    input.extend(contacts.iter().cloned());
    let replayed = replay_outputs(&d, &input, 2);
    let owners: BTreeMap<String, String> = replayed["hot-lead-alerts"]
        .iter()
        .map(|l| codec::decode_alert(l.as_bytes()).unwrap())
        .map(|a| (a.lead_id, a.owner_rep.unwrap()))
        .collect();
    assert_eq!(owners, owner, "routing differs from replay");
    let replayed_breaches: BTreeSet<String> = replayed["sla-breaches"]
        .iter()
        .map(|l| codec::decode_breach(l.as_bytes()).unwrap().lead_id)
        .collect();
    assert_eq!(replayed_breaches, late, "breaches differ from replay");
    let stages = |lines: Vec<String>| -> BTreeSet<(String, Option<Stage>, Stage)> {
        lines
            .iter()
            .map(|l| codec::decode_stage(l.as_bytes()).unwrap())
            .map(|c| (c.lead_id, c.from, c.to))
            .collect()
    };
    let live: Vec<String> = read_all(&d.topic("lifecycle"))
        .iter()
        .map(|r| String::from_utf8(r.payload.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        stages(live),
        stages(replayed["lead-lifecycle"].clone()),
        "stages differ from replay"
    );

    // The check-in report, read from the topics, agrees with the events.
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["report", "--config"])
        .arg(d.config("a", &extra))
        .output()
        .unwrap();
    let report_text = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(
        report.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&report.stderr)
    );
    for (figure, want) in [
        ("Leads passed to sales", leads.len().to_string()),
        (
            "Contacted within SLA",
            format!("50.0% ({} of {})", on_time.len(), leads.len()),
        ),
        ("SLA met", on_time.len().to_string()),
        ("SLA breached", late.len().to_string()),
        ("SLA deadlines missed", late.len().to_string()),
    ] {
        let row = format!("| {figure} | {want} |");
        assert!(
            report_text.contains(&row),
            "report lacks {row:?}:\n{report_text}"
        );
    }

    // The metrics agree with the events.
    assert_eq!(
        metric(&metrics, "leadpulse_handoffs_total{team=\"inbound\"}"),
        leads.len() as f64,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "leadpulse_sla_total{outcome=\"met\"}"),
        on_time.len() as f64
    );
    assert_eq!(
        metric(&metrics, "leadpulse_sla_total{outcome=\"breached\"}"),
        late.len() as f64
    );
    assert_eq!(
        metric(&metrics, "leadpulse_sla_breaches_total"),
        late.len() as f64
    );
    assert_eq!(
        metric(&metrics, "leadpulse_time_to_first_contact_seconds_count"),
        on_time.len() as f64
    );
    assert_eq!(
        metric(
            &metrics,
            "leadpulse_stage_transitions_total{from=\"lead\",to=\"mql\"}"
        ),
        leads.len() as f64
    );
}

#[test]
fn kill_9_with_open_timers_loses_none_and_fires_none_twice() {
    let Scenario {
        d,
        extra,
        service,
        leads,
        now,
        owner,
        ..
    } = start("kill", 0.1, 10); // 6 s to first contact
    let respond_by = now + 6_000;

    // The service dies with every timer open; half the leads are contacted
    // (in time, by event time) while it is down.
    service.kill9();
    let on_time: BTreeSet<String> = leads.iter().take(5).cloned().collect();
    let late: BTreeSet<String> = leads.iter().skip(5).cloned().collect();
    let contacts: Vec<InputRecord> = on_time
        .iter()
        .map(|l| contact(l, &owner[l], now_ms().min(respond_by - 1_000)))
        .collect();
    produce(&d.topic("feedback"), &contacts, 0, Duration::ZERO);
    // Restart only after every deadline has passed on the wall clock.
    while now_ms() < respond_by + 1_000 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut service = d.spawn_with("a", 2, &extra);
    service.wait_for_log("restored lead state", Duration::from_secs(60));
    wait_records(&d.topic("breaches"), late.len(), Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    let log = service.terminate();
    assert!(
        log.contains("leads=10"),
        "the restarted instance restores the ten leads:\n{log}"
    );

    let fired = breaches(&d);
    assert_eq!(
        fired.keys().cloned().collect::<BTreeSet<_>>(),
        late,
        "breaches only for the late leads"
    );
    assert!(
        fired.values().all(|&n| n == 1),
        "no timer fired twice: {fired:?}"
    );
    check_handoffs(&d, &on_time, &late);
}

/// A roster whose one team opens at `open` (a whole minute, UTC) for an
/// hour every day, in a fixed-offset zone that puts the opening near local
/// noon (so the hour never wraps past midnight); `sla_minutes` to first
/// contact.
fn business_hours_roster(open: i64, sla_minutes: f64) -> String {
    let minute_of_day = open.rem_euclid(86_400_000) / 60_000;
    let shift = 12 - minute_of_day / 60; // hours east of UTC, -11 ..= 12
    let zone = match shift {
        0 => "UTC".to_owned(),
        k if k > 0 => format!("Etc/GMT-{k}"),
        k => format!("Etc/GMT+{}", -k),
    };
    let local = (minute_of_day + shift * 60).rem_euclid(1440);
    let clock = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
    roster(sla_minutes).replace(
        "[[team.rep]]\nid = \"ann\"",
        &format!(
            "[team.hours]\ntime_zone = \"{zone}\"\ndays = \"Mon-Sun\"\nopen = \"{}\"\nclose = \"{}\"\n\n\
             [[team.rep]]\nid = \"ann\"",
            clock(local),
            clock(local + 60)
        ),
    )
}

#[test]
fn with_business_hours_the_sla_waits_for_the_opening_and_replay_agrees() {
    // The team opens a minute or two from now; the leads alert before
    // that, while it is closed, so their 15 seconds start at the opening.
    let sla = 0.25;
    let open = (now_ms() + 60_000).div_euclid(60_000) * 60_000 + 60_000;
    let Scenario {
        d,
        service,
        leads,
        events,
        now,
        owner,
        deadlines,
        ..
    } = start_with("hours", &business_hours_roster(open, sla), 8);
    let due = open + 15_000;
    for (lead, (crossed_at, respond_by)) in &deadlines {
        assert!(
            *crossed_at < open,
            "{lead} alerted while the team was closed"
        );
        assert_eq!(*respond_by, due, "{lead}: due 15 s after the opening");
    }

    // Half are contacted 16 s after their alert: late around the clock,
    // in time in business hours.
    let contacted_at = now + 16_000;
    assert!(
        contacted_at < open && now_ms() < due - 10_000,
        "the service took too long to start for this test's timing"
    );
    let on_time: BTreeSet<String> = leads.iter().step_by(2).cloned().collect();
    let late: BTreeSet<String> = leads
        .iter()
        .filter(|l| !on_time.contains(*l))
        .cloned()
        .collect();
    let contacts: Vec<InputRecord> = on_time
        .iter()
        .map(|l| contact(l, &owner[l], contacted_at))
        .collect();
    produce(&d.topic("feedback"), &contacts, 0, Duration::ZERO);

    // The others breach once the business-time deadline has passed.
    let fired = wait_records(&d.topic("breaches"), late.len(), Duration::from_secs(180));
    assert!(now_ms() >= due, "no breach before the deadline");
    for r in &fired {
        let b = codec::decode_breach(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(b.respond_by, due, "{b:?}");
    }
    std::thread::sleep(Duration::from_secs(3));
    service.terminate();
    let fired = breaches(&d);
    assert_eq!(
        fired.keys().cloned().collect::<BTreeSet<_>>(),
        late,
        "breaches only for the leads never contacted"
    );
    assert!(fired.values().all(|&n| n == 1), "{fired:?}");
    check_handoffs(&d, &on_time, &late);

    // Replay of the same input with the same roster: the same deadlines,
    // the same breaches, the same handoffs.
    let mut input: Vec<InputRecord> = events.clone();
    input.extend(contacts.iter().cloned());
    let replayed = replay_outputs(&d, &input, 2);
    let replayed_deadlines: BTreeMap<String, (i64, i64)> = replayed["hot-lead-alerts"]
        .iter()
        .map(|l| codec::decode_alert(l.as_bytes()).unwrap())
        .map(|a| (a.lead_id, (a.crossed_at, a.respond_by)))
        .collect();
    assert_eq!(
        replayed_deadlines, deadlines,
        "deadlines differ from replay"
    );
    let breach_set = |lines: Vec<String>| -> BTreeSet<(String, String, i64)> {
        lines
            .iter()
            .map(|l| codec::decode_breach(l.as_bytes()).unwrap())
            .map(|b| (b.breach_id, b.lead_id, b.respond_by))
            .collect()
    };
    let live: Vec<String> = read_all(&d.topic("breaches"))
        .iter()
        .map(|r| String::from_utf8(r.payload.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        breach_set(live),
        breach_set(replayed["sla-breaches"].clone()),
        "breaches differ from replay"
    );
    let handoffs = |lines: Vec<String>| -> BTreeMap<String, String> {
        lines
            .iter()
            .map(|l| codec::decode_handoff(l.as_bytes()).unwrap())
            .map(|h| (h.lead_id.clone(), format!("{:?}", h.handoff)))
            .collect()
    };
    let live: Vec<String> = read_all(&d.topic("handoffs"))
        .iter()
        .map(|r| String::from_utf8(r.payload.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        handoffs(live),
        handoffs(replayed["lead-handoffs"].clone()),
        "final handoffs differ from replay"
    );
}
