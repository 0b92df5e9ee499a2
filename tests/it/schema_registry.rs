//! The Schema Registry wire format against a real registry (Apicurio
//! Registry, Confluent API): events framed by confluent-kafka's stock
//! serializers, mixed with plain ones, score as `replay` says; records of an
//! unknown schema id are dead-lettered; a registry outage loses nothing;
//! the outputs, framed, are read by the stock deserializers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leadpulse::codec;
use leadpulse::codec::registry::frame;
use leadpulse::core::partitioner::partition_for_key;

use crate::support::*;

/// An id no test registry hands out: its records are `unknown_schema`.
const UNKNOWN_ID: u32 = 2_000_000_001;

/// A quarter of the records plain JSON, a quarter plain protobuf (half of
/// those with a content-type header), a quarter each framed by
/// JSONSerializer and ProtobufSerializer (the two without the header);
/// every 100th an unknown schema id in place of the generator's malformed
/// record. Returns the records and the framing the Python script did.
fn mixed(
    url: &str,
    d: &Deployment,
    events: usize,
    json2: impl Fn(usize, &InputRecord) -> bool,
) -> Vec<InputRecord> {
    let mut records = dataset(events, 300, 41).to_vec();
    let mut which = Vec::new();
    for (i, r) in records.iter_mut().enumerate() {
        if r.malformed {
            r.payload = frame(UNKNOWN_ID, None, br#"{"event_id":"x","lead_id":"x"}"#);
            continue;
        }
        match i % 4 {
            2 if json2(i, r) => which.push((i, Framing::Json2)),
            2 => which.push((i, Framing::Json)),
            3 => which.push((i, Framing::Proto)),
            _ => {}
        }
    }
    let ids = frame_with_python(url, d.dir.path(), &d.topic("events"), &mut records, &which);
    assert!(ids["proto"].is_u64() && ids["json"].is_u64(), "{ids}");
    records
}

fn registry_toml(url: &str, format: &str) -> String {
    format!(
        "[pipeline]\noutput_format = \"{format}\"\n\n[schema_registry]\nurl = \"{url}\"\noutputs = true\n"
    )
}

/// The last score per lead in the Python reader's `records`.
fn python_scores(seen: &serde_json::Value) -> BTreeMap<String, f64> {
    let mut last = BTreeMap::new();
    for r in seen["records"].as_array().unwrap() {
        last.insert(
            r["lead_id"].as_str().unwrap().to_owned(),
            r["score"].as_f64().unwrap_or(0.0),
        );
    }
    last
}

fn dlq_reasons(d: &Deployment) -> BTreeMap<String, usize> {
    let mut reasons = BTreeMap::new();
    for r in read_all(&d.topic("dlq")) {
        *reasons
            .entry(r.headers["leadpulse-dlq-reason"].clone())
            .or_default() += 1;
    }
    reasons
}

/// The output topics framed, with the record each holds.
fn outputs(d: &Deployment) -> Vec<(String, &'static str)> {
    [
        ("scores", "LeadScore"),
        ("alerts", "HotLeadAlert"),
        ("enrichment", "EnrichmentHold"),
        ("breaches", "SlaBreach"),
        ("overdue", "FeedbackOverdue"),
        ("lifecycle", "StageChange"),
        ("handoffs", "HandoffRecord"),
        ("watch-alerts", "WatchAlert"),
    ]
    .into_iter()
    .map(|(t, m)| (d.topic(t), m))
    .collect()
}

/// Checks what the stock deserializers read against what leadpulse's own
/// reader and `replay` say.
fn assert_python_reads(url: &str, d: &Deployment, oracle: &Oracle, schema_type: &str) {
    let seen = read_with_python(url, d.dir.path(), &outputs(d));
    for (topic, _) in outputs(d) {
        let t = &seen[&topic];
        let want = if topic.ends_with("watch-alerts") {
            "JSON"
        } else {
            schema_type
        };
        assert_eq!(t["schema_type"], want, "{topic}");
        assert_eq!(
            t["count"].as_u64().unwrap() as usize,
            read_all(&topic).len(),
            "{topic}: the stock deserializer read another number of records"
        );
    }
    let alerts = &seen[&d.topic("alerts")];
    assert_eq!(
        alerts["count"].as_u64().unwrap() as usize,
        oracle.alerts.len()
    );
    let scores = python_scores(&seen[&d.topic("scores")]);
    assert_eq!(scores.len(), oracle.scores.len());
    for (lead, want) in &oracle.scores {
        assert!(
            (scores[lead] - want.score).abs() < 1e-9,
            "lead {lead}: {} read by Python, {} in replay",
            scores[lead],
            want.score
        );
    }
}

#[test]
fn framed_events_score_as_replay_says_and_unknown_ids_are_dead_lettered() {
    let url = registry_url();
    let d = Deployment::new("registry", 3);
    d.create_events_topic();
    let records = mixed(&url, &d, 10_000, |_, _| false);
    let unknown = records.iter().filter(|r| r.malformed).count();
    assert_eq!(unknown, 100);
    produce(&d.topic("events"), &records, 0, Duration::ZERO);
    let config = d.config("a", &registry_toml(&url, "protobuf"));
    let mut s = d.spawn_with_config("a", 1, &config);
    s.wait_for_log("output schema registered", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(180));
    s.terminate();

    let oracle = oracle(&records, d.dir.path());
    // Alerts, final scores, and the DLQ holding exactly the unknown-id records.
    assert_matches_oracle(&d, &records, &oracle);
    assert_eq!(
        dlq_reasons(&d),
        BTreeMap::from([("unknown_schema".to_owned(), unknown)])
    );
    // leadpulse's own outputs are framed too, with the subjects' ids.
    for r in read_all(&d.topic("scores")) {
        let payload = r.payload.unwrap();
        assert!(codec::registry::schema_id(&payload).is_some());
    }
    assert_python_reads(&url, &d, &oracle, "PROTOBUF");
}

#[test]
fn a_registry_outage_loses_and_dead_letters_nothing() {
    let registry = OwnRegistry::start();
    let d = Deployment::new("registry-outage", 3);
    d.create_events_topic();
    // In the second half, the JSON records of partition 0's leads carry a
    // schema version the service has not seen when the registry goes away.
    let records = mixed(&registry.url, &d, 4_000, |i, r| {
        i >= 2_000 && partition_for_key(r.key.as_bytes(), 3) == 0
    });
    let records: Vec<InputRecord> = records.into_iter().filter(|r| !r.malformed).collect();
    let (first, second) = records.split_at(records.len() / 2);
    produce(&d.topic("events"), first, 0, Duration::ZERO);
    let config = d.config("a", &registry_toml(&registry.url, "json"));
    let mut s = d.spawn_with_config("a", 1, &config);
    d.wait_caught_up(Duration::from_secs(120));

    registry.stop();
    let stopped = Instant::now();
    produce(&d.topic("events"), second, 0, Duration::ZERO);
    s.wait_for_log("its partition waits", Duration::from_secs(60));
    let (_, metrics) = s.get("/metrics");
    assert!(
        metric(
            &metrics,
            "leadpulse_schema_registry_lookups_total{result=\"unavailable\"}"
        ) >= 1.0,
        "{metrics}"
    );
    // The other partitions go on: they commit up to their end while
    // partition 0 waits at its first record of the new id.
    let mut others_done = false;
    while stopped.elapsed() < Duration::from_secs(30) {
        let progress = d.progress();
        others_done |= progress
            .iter()
            .all(|(&p, &(done, high))| p == 0 || done >= high);
        let (done, high) = progress[&0];
        assert!(
            done < high,
            "partition 0 went past a record it could not decode"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        others_done,
        "partitions 1 and 2 did not go on: {:?}",
        d.progress()
    );
    assert!(
        read_all(&d.topic("dlq")).is_empty(),
        "dead letters while the registry was away"
    );
    registry.restart();
    s.wait_for_log("the partition goes on", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(120));
    let log = s.terminate();
    assert!(
        !log.contains("aborting"),
        "a transaction was aborted:\n{log}"
    );

    let oracle = oracle(&records, d.dir.path());
    assert_matches_oracle(&d, &records, &oracle);
    assert!(dlq_reasons(&d).is_empty());
    assert_python_reads(&registry.url, &d, &oracle, "JSON");
}

/// Registers `schema` of `kind` under `subject` with a plain HTTP client;
/// returns its id.
fn register(url: &str, subject: &str, kind: &str, schema: &str) -> u32 {
    let response = reqwest::blocking::Client::new()
        .post(format!("{url}/subjects/{subject}/versions"))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(serde_json::json!({"schema": schema, "schemaType": kind}).to_string())
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.text());
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
    body["id"].as_u64().unwrap() as u32
}

#[test]
fn an_incompatible_output_schema_refuses_to_start_saying_why() {
    let url = registry_url();
    let d = Deployment::new("registry-refused", 1);
    d.create_events_topic();
    let old =
        r#"{"type":"object","properties":{"lead_id":{"type":"integer"}},"required":["lead_id"]}"#;
    register(&url, &format!("{}-value", d.topic("scores")), "JSON", old);
    let config = d.config("a", &registry_toml(&url, "json"));
    let mut s = d.spawn_with_config("a", 1, &config);
    let status = s.wait_exit(Duration::from_secs(60));
    let log = s.log_text();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains(&format!("`{}-value`", d.topic("scores")))
            && log.contains("incompatible with the subject's latest version"),
        "{log}"
    );
}

#[test]
fn an_event_schema_that_does_not_fit_the_contract_is_dead_lettered() {
    let url = registry_url();
    let d = Deployment::new("registry-misfit", 1);
    d.create_events_topic();
    let misfit = r#"syntax = "proto3";
message Ev {
  string event_id = 1;
  int64 lead_id = 2;
  string occurred_at = 3;
}
"#;
    let id = register(
        &url,
        &format!("{}-value", d.topic("events")),
        "PROTOBUF",
        misfit,
    );
    let mut records = hot_lead("L-fit", now_ms() - 60_000);
    let mut bad = records[0].clone();
    bad.payload = frame(id, Some(0), b"\x0a\x01e\x10\x07");
    bad.content_type = None;
    records.insert(1, bad);
    produce(&d.topic("events"), &records, 0, Duration::ZERO);
    let config = d.config("a", &format!("[schema_registry]\nurl = \"{url}\"\n"));
    let s = d.spawn_with_config("a", 1, &config);
    d.wait_caught_up(Duration::from_secs(60));
    s.terminate();
    let dlq = read_all(&d.topic("dlq"));
    assert_eq!(dlq.len(), 1);
    assert_eq!(
        dlq[0].headers["leadpulse-dlq-reason"],
        "incompatible_schema"
    );
    let detail = &dlq[0].headers["leadpulse-dlq-detail"];
    assert!(
        detail.contains(&format!("schema id {id}")) && detail.contains("`lead_id`) is int64"),
        "{detail}"
    );
    // The rest of the partition went on: the lead's alert is there.
    assert_eq!(read_all(&d.topic("alerts")).len(), 1);
}

#[test]
fn the_sales_loop_outputs_framed_are_read_by_the_stock_deserializers() {
    let url = registry_url();
    let d = Deployment::new("registry-sales", 2);
    d.create_events_topic();
    let routing = d.dir.path().join("routing.toml");
    std::fs::write(&routing, crate::sales_e2e::roster(0.05)).unwrap();
    let extra = format!(
        "{}\n[routing]\npath = \"{}\"\n",
        registry_toml(&url, "json"),
        routing.display()
    );
    let config = d.config("a", &extra);
    let mut s = d.spawn_with_config("a", 1, &config);
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    let leads: Vec<String> = (0..4).map(|i| format!("L-sales-{i}")).collect();
    let now = now_ms();
    let events: Vec<InputRecord> = leads.iter().flat_map(|l| hot_lead(l, now)).collect();
    produce(&d.topic("events"), &events, 0, Duration::ZERO);
    let mut owner = BTreeMap::new();
    for r in wait_records(&d.topic("alerts"), leads.len(), Duration::from_secs(60)) {
        let a = codec::decode_alert(r.payload.as_deref().unwrap()).unwrap();
        owner.insert(a.lead_id.clone(), a.owner_rep.unwrap());
    }
    // One lead's contact comes as framed feedback (JSONSerializer).
    let mut feedback = vec![crate::sales_e2e::contact(
        &leads[0],
        &owner[&leads[0]],
        now_ms(),
    )];
    frame_with_python(
        &url,
        d.dir.path(),
        &d.topic("feedback"),
        &mut feedback,
        &[(0, Framing::Json)],
    );
    produce(&d.topic("feedback"), &feedback, 0, Duration::ZERO);
    // The others miss their 3 s SLA.
    wait_records(
        &d.topic("breaches"),
        leads.len() - 1,
        Duration::from_secs(60),
    );
    let handoffs = wait_records(
        &d.topic("handoffs"),
        leads.len() + 1,
        Duration::from_secs(60),
    );
    s.terminate();
    assert!(read_all(&d.topic("dlq")).is_empty());
    let contacted = handoffs
        .iter()
        .map(|r| codec::decode_handoff(r.payload.as_deref().unwrap()).unwrap())
        .any(|h| h.lead_id == leads[0] && h.handoff.first_contact_at.is_some());
    assert!(contacted, "the framed contact was not applied");

    let seen = read_with_python(&url, d.dir.path(), &outputs(&d));
    for (topic, _) in outputs(&d) {
        let t = &seen[&topic];
        assert_eq!(t["schema_type"], "JSON", "{topic}");
        assert_eq!(
            t["count"].as_u64().unwrap() as usize,
            read_all(&topic).len(),
            "{topic}"
        );
    }
    for topic in ["alerts", "breaches", "lifecycle", "handoffs", "scores"] {
        assert!(
            seen[&d.topic(topic)]["count"].as_u64().unwrap() > 0,
            "{topic} is empty"
        );
    }
}

#[test]
fn a_url_that_is_not_the_registry_api_stops_the_start() {
    let url = registry_url();
    let wrong = url.trim_end_matches("/apis/ccompat/v7").to_owned() + "/apis/nothing-here";
    let d = Deployment::new("registry-wrong-url", 1);
    let config = d.config("a", &format!("[schema_registry]\nurl = \"{wrong}\"\n"));
    let mut s = d.spawn_with_config("a", 1, &config);
    let status = s.wait_exit(Duration::from_secs(60));
    let log = s.log_text();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("is schema_registry.url the base of its Confluent API"),
        "{log}"
    );
}

#[test]
fn the_registry_is_reached_over_tls_with_its_ca() {
    let tls = tempfile::tempdir().unwrap();
    let (cert, key) = (tls.path().join("cert.pem"), tls.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    // HTTPS on `port` beside the plain port start.sh waits on.
    let registry = OwnRegistry::start_with(&[
        ("QUARKUS_HTTP_SSL_PORT", &port),
        ("QUARKUS_HTTP_SSL_CERTIFICATE_FILES", &cert_s),
        ("QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES", &key_s),
    ]);
    let https = format!("https://127.0.0.1:{port}/apis/ccompat/v7");

    let d = Deployment::new("registry-tls", 1);
    d.create_events_topic();
    let mut records = hot_lead("L-tls", now_ms() - 60_000);
    let which: Vec<(usize, Framing)> = (0..records.len()).map(|i| (i, Framing::Json)).collect();
    frame_with_python(
        &registry.url,
        d.dir.path(),
        &d.topic("events"),
        &mut records,
        &which,
    );
    produce(&d.topic("events"), &records, 0, Duration::ZERO);
    let extra = format!(
        "[schema_registry]\nurl = \"{https}\"\nca_location = \"{cert_s}\"\noutputs = true\n"
    );
    let config = d.config("a", &extra);
    let mut s = d.spawn_with_config("a", 1, &config);
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    wait_records(&d.topic("alerts"), 1, Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(60));
    let log = s.terminate();
    assert!(log.contains("output schema registered"), "{log}");
    assert!(read_all(&d.topic("dlq")).is_empty());
    let alert = &read_all(&d.topic("alerts"))[0];
    assert!(codec::registry::schema_id(alert.payload.as_deref().unwrap()).is_some());
}

/// `proto/json/*.json`, the JSON Schemas leadpulse registers for its
/// outputs, are docs/asyncapi.yaml's with the references written out.
#[test]
fn the_registered_json_schemas_are_the_asyncapi_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(root.join("docs/asyncapi.yaml")).unwrap())
            .unwrap();
    let schemas = &doc["components"]["schemas"];
    fn inline(v: &serde_json::Value, schemas: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) if m.len() == 1 && m.contains_key("$ref") => {
                let name = m["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
                inline(&schemas[name], schemas)
            }
            serde_json::Value::Object(m) => m
                .iter()
                .map(|(k, x)| (k.clone(), inline(x, schemas)))
                .collect(),
            serde_json::Value::Array(a) => a.iter().map(|x| inline(x, schemas)).collect(),
            other => other.clone(),
        }
    }
    let accounts = ["AccountScore", "AccountAlert"];
    let outputs = outputs(&Deployment::new("unused", 1));
    for name in outputs.iter().map(|(_, n)| *n).chain(accounts) {
        let mut file: serde_json::Value =
            serde_json::from_str(codec::registry::output_json_schema(name).unwrap()).unwrap();
        let file = file.as_object_mut().unwrap();
        assert_eq!(
            file.remove("title").unwrap(),
            format!("leadpulse.v1.{name}")
        );
        assert!(file.remove("$schema").is_some());
        assert_eq!(
            serde_json::Value::Object(file.clone()),
            inline(&schemas[name], schemas),
            "proto/json/{name}.json differs from docs/asyncapi.yaml's {name}"
        );
    }
}
