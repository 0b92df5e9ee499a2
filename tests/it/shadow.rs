//! A challenger in shadow against a real broker: the service scores a
//! generated stream under the champion (`examples/model.toml`, alerts at
//! 70) and a `[[shadow]]` challenger (alerts at 50), with a `kill -9`
//! mid-stream. The committed `shadow-alerts` equal `replay --shadow`'s
//! `shadow-alerts.ndjson` (once each), and the champion's `alerts` and
//! `scores` equal a replay without the challenger: it changes nothing the
//! champion publishes. `report` compares the two models alike from the
//! topics and from replay's folder.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use leadpulse::codec;
use leadpulse::core::Alert;

use crate::support::*;
use crate::visitors::wait_settled_on;

const EVENTS: usize = 3_000;
const LEADS: u32 = 300;
const CHALLENGER: &str = "b2b-saas-challenger";

#[test]
fn shadow_alerts_equal_replay_through_kill_9_and_leave_the_champion_alone() {
    let d = Deployment::new("shadow", 3);
    d.create_events_topic();
    let champion = std::fs::read_to_string(model_path()).unwrap();
    let challenger = champion
        .replace(
            "version = \"b2b-saas-2026-11\"",
            &format!("version = \"{CHALLENGER}\""),
        )
        .replace("score_at_least = 70", "score_at_least = 50");
    assert_ne!(challenger, champion);
    let challenger_path = d.dir.path().join("challenger.toml");
    std::fs::write(&challenger_path, &challenger).unwrap();
    let records = dataset(EVENTS, LEADS, 7);

    let shadow = format!("[[shadow]]\nmodel = \"{}\"\n", challenger_path.display());
    let config = d.config_with_model("a", &shadow, &model_path());
    let mut a = d.spawn_with_config("a", 1, &config);
    a.wait_for_log(
        "scoring a challenger model in shadow",
        Duration::from_secs(60),
    );
    a.wait_for_log("restored lead state", Duration::from_secs(60));
    let topic = d.topic("events");
    let producer = {
        let records = records.clone();
        std::thread::spawn(move || produce(&topic, &records, 150, Duration::from_millis(250)))
    };
    a.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    a.kill9();
    let mut a = d.spawn_with_config("a", 2, &config);
    a.wait_for_log("restored lead state", Duration::from_secs(60));
    producer.join().unwrap();
    wait_settled_on(
        &d,
        &["events", "merges", "accounts"],
        Duration::from_secs(120),
    );
    let log = a.terminate();
    assert!(log.contains("stopped"), "{log}");

    // The oracles: replay with the challenger, and without it.
    let dir = d.dir.path();
    let (with, without) = (dir.join("with"), dir.join("without"));
    std::fs::create_dir_all(&with).unwrap();
    std::fs::create_dir_all(&without).unwrap();
    let outputs = with.join("outputs");
    let shadowed = oracle_with(
        &records,
        &with,
        &[
            "--partitions",
            "3",
            "--shadow",
            challenger_path.to_str().unwrap(),
            "--outputs",
            outputs.to_str().unwrap(),
        ],
    );
    let plain_outputs = without.join("outputs");
    let plain = oracle_with(
        &records,
        &without,
        &[
            "--partitions",
            "3",
            "--outputs",
            plain_outputs.to_str().unwrap(),
        ],
    );
    assert!(shadowed.summary.contains("shadow:"), "{}", shadowed.summary);

    // (c) The champion: the same under replay with or without the
    // challenger, and the service's alerts, dead letters and scores are
    // replay's without it.
    assert_eq!(shadowed.alerts, plain.alerts);
    assert_eq!(shadowed.scores, plain.scores);
    assert_matches_oracle(&d, &records, &plain);
    // Byte for byte: the champion's committed alerts are the lines replay
    // writes with the challenger and without it.
    let lines = |file: std::path::PathBuf| -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|l| l.as_bytes().to_vec())
            .collect();
        v.sort();
        v
    };
    let mut champion_bytes: Vec<Vec<u8>> = read_all(&d.topic("alerts"))
        .into_iter()
        .map(|r| r.payload.unwrap())
        .collect();
    champion_bytes.sort();
    assert_eq!(
        champion_bytes,
        lines(plain_outputs.join("hot-lead-alerts.ndjson")),
        "the champion's alerts are not replay's bytes"
    );
    assert_eq!(
        lines(outputs.join("hot-lead-alerts.ndjson")),
        lines(plain_outputs.join("hot-lead-alerts.ndjson")),
        "replay's champion alerts change with a challenger"
    );

    // (b) The challenger: every committed shadow alert once, and exactly
    // replay's.
    let committed = read_all(&d.topic("shadow-alerts"));
    let mut got = BTreeMap::new();
    for r in &committed {
        let alert = codec::decode_alert(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(r.key.as_deref(), Some(alert.lead_id.as_bytes()));
        assert_eq!(
            r.headers.get("leadpulse-model-version").map(String::as_str),
            Some(CHALLENGER)
        );
        let id = alert.alert_id.clone();
        assert!(
            got.insert(id.clone(), alert).is_none(),
            "shadow alert {id} committed twice"
        );
    }
    let want: BTreeMap<String, Alert> =
        std::fs::read_to_string(outputs.join("shadow-alerts.ndjson"))
            .unwrap()
            .lines()
            .map(|l| codec::decode_alert(l.as_bytes()).unwrap())
            .map(|a| (a.alert_id.clone(), a))
            .collect();
    assert!(!want.is_empty(), "the challenger must alert");
    assert_eq!(got, want, "shadow-alerts differ from replay --shadow");
    assert!(want.values().all(|a| &*a.model_version == CHALLENGER));

    // The two models alert different leads, so the comparison means
    // something.
    let leads = |alerts: &mut dyn Iterator<Item = &Alert>| -> BTreeSet<String> {
        alerts.map(|a| a.lead_id.clone()).collect()
    };
    let champion_leads = leads(&mut plain.alerts.iter());
    let challenger_leads = leads(&mut want.values());
    assert!(!champion_leads.is_empty());
    assert!(
        !challenger_leads.is_subset(&champion_leads),
        "the challenger at 50 must alert leads the champion at 70 does not"
    );

    // The report's comparison reads the same from the topics as from
    // replay's folder.
    let section = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .arg("report")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let at = text
            .find("## Champion and challenger")
            .expect("the comparison");
        text[at..].to_owned()
    };
    let from_kafka = section(&["--config".as_ref(), config.as_os_str()]);
    let from_dir = section(&["--from".as_ref(), outputs.as_os_str()]);
    assert_eq!(from_kafka, from_dir);
    let only = challenger_leads.difference(&champion_leads).count();
    assert!(
        from_kafka.contains(&format!("only the challenger ({only}):")),
        "{from_kafka}"
    );
}
