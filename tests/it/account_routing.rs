//! Account ownership on the broker: a lead of a named account goes to the
//! account's owner, a lead whose CRM attribute names its account's owner
//! goes to that rep, and the rest by territory; `replay` of the same
//! events routes every lead alike.

use std::collections::BTreeMap;
use std::time::Duration;

use leadpulse::codec;
use leadpulse::core::{Event, EventKind};

use crate::support::*;

/// Territory gives US leads to ann or bob; the ACME account is cat's.
const ROSTER: &str = r#"
default_sla_minutes = 600
account_owner_attribute = "account_owner"

[[named_account]]
account = "id:ACME-1"
rep = "cat"

[[team]]
id = "us"
lead = "lee"
territory = { country = ["US"] }
[[team.rep]]
id = "ann"
[[team.rep]]
id = "bob"

[[team]]
id = "rest"
lead = "lee"
[[team.rep]]
id = "cat"
"#;

/// A profile update of `lead` with one attribute, before it turns hot.
fn attribute(lead: &str, at: i64, name: &str, value: &str) -> InputRecord {
    record(&Event {
        event_id: format!("{lead}-{name}"),
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: at - 10,
        company_domain: None,
        account_id: None,
        kind: EventKind::ProfileUpdate {
            attributes: [(name.to_owned(), value.to_owned())].into_iter().collect(),
        },
    })
}

/// Lead → (team, rep, routed via) of its alerts.
type Routes = BTreeMap<String, (String, String, String)>;

fn routes<'a>(payloads: impl Iterator<Item = &'a [u8]>) -> Routes {
    payloads
        .map(|p| codec::decode_alert(p).unwrap())
        .map(|a| {
            let route = (
                a.owner_team.unwrap_or_default(),
                a.owner_rep.unwrap_or_default(),
                a.routed_via.unwrap_or_default(),
            );
            (a.lead_id, route)
        })
        .collect()
}

#[test]
fn leads_of_an_owned_account_go_to_its_owner_on_the_broker_as_in_replay() {
    let d = Deployment::new("acctroute", 2);
    d.create_events_topic();
    let routing = d.dir.path().join("routing.toml");
    std::fs::write(&routing, ROSTER).unwrap();
    let extra = format!("[routing]\npath = \"{}\"\n", routing.display());
    let mut service = d.spawn_with("a", 1, &extra);
    service.wait_for_log("restored lead state", Duration::from_secs(60));

    let now = now_ms();
    let lead = |kind: &str, i: usize| format!("L-{}-{kind}-{i}", d.name);
    let mut events = Vec::new();
    let mut want = BTreeMap::new();
    for i in 0..3 {
        let l = lead("acme", i);
        events.push(attribute(&l, now, "account_id", "ACME-1"));
        events.extend(hot_lead(&l, now));
        want.insert(l, ("rest", "cat", "named_account"));
        let l = lead("crm", i);
        events.push(attribute(&l, now, "account_owner", "bob"));
        events.extend(hot_lead(&l, now));
        want.insert(l, ("us", "bob", "account_owner"));
        events.extend(hot_lead(&lead("plain", i), now));
    }
    produce(&d.topic("events"), &events, 0, Duration::ZERO);
    let live = routes(
        wait_records(&d.topic("alerts"), 9, Duration::from_secs(60))
            .iter()
            .map(|r| r.payload.as_deref().unwrap()),
    );
    service.terminate();

    assert_eq!(live.len(), 9, "one alert per lead: {live:?}");
    for (l, (team, rep, via)) in &want {
        assert_eq!(
            (live[l].0.as_str(), live[l].1.as_str(), live[l].2.as_str()),
            (*team, *rep, *via),
            "{l}"
        );
    }
    for i in 0..3 {
        let (team, rep, via) = &live[&lead("plain", i)];
        assert_eq!((team.as_str(), via.as_str()), ("us", "territory"));
        assert!(rep == "ann" || rep == "bob", "{rep}");
    }
    // The handoff records say why, as the alerts do.
    for r in read_all(&d.topic("handoffs")) {
        let h = codec::decode_handoff(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(h.handoff.via, live[&h.lead_id].2, "{}", h.lead_id);
    }

    // The oracle: replay of the same events with the same roster.
    let input = d.dir.path().join("replay-input.ndjson");
    let text: String = events.iter().map(|r| format!("{}\n", r.ndjson)).collect();
    std::fs::write(&input, text).unwrap();
    let out = d.dir.path().join("replay-out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["replay", "--partitions", "2", "--model"])
        .arg(model_path())
        .arg("--routing")
        .arg(&routing)
        .arg("--events")
        .arg(&input)
        .arg("--outputs")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "replay failed");
    let text = std::fs::read_to_string(out.join("hot-lead-alerts.ndjson")).unwrap();
    let replayed = routes(text.lines().map(str::as_bytes));
    assert_eq!(live, replayed, "routing differs from replay");
}
