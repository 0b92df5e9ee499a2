//! Kafka security against a real broker's SASL_SSL listener, with a CA, a
//! broker certificate and a client certificate made when the broker
//! started (`scripts/kafka/start.sh --sasl`, openssl + keytool).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use leadpulse::codec;
use leadpulse::config::Settings;

use crate::support::*;

/// The SASL_SSL listener and its TLS folder. Fails, never skips.
fn sasl() -> (String, PathBuf) {
    match (
        std::env::var("KAFKA_SASL_BOOTSTRAP"),
        std::env::var("KAFKA_TLS_DIR"),
    ) {
        (Ok(b), Ok(d)) if !b.is_empty() && !d.is_empty() => (b, PathBuf::from(d)),
        _ => panic!(
            "KAFKA_SASL_BOOTSTRAP and KAFKA_TLS_DIR are not set. These tests need a broker with \
             a SASL_SSL listener: run `scripts/test.sh`, which starts one, or \
             `scripts/kafka/start.sh --sasl` and export the two variables it prints"
        ),
    }
}

/// Access through SASL_SSL with `mechanism`, mutual TLS, and the password
/// in `password_file` (the real one unless given).
fn access(mechanism: &str, password_file: Option<PathBuf>) -> Access {
    let (bootstrap, tls) = sasl();
    let real = tls.join("password");
    let password = std::fs::read_to_string(&real).unwrap().trim().to_owned();
    let file = password_file.unwrap_or(real);
    let path = |f: &str| tls.join(f).display().to_string();
    Access {
        bootstrap,
        properties: vec![
            ("security.protocol".into(), "sasl_ssl".into()),
            ("sasl.mechanism".into(), mechanism.into()),
            ("sasl.username".into(), "leadpulse".into()),
            ("sasl.password".into(), password),
            ("ssl.ca.location".into(), path("ca.pem")),
            ("ssl.certificate.location".into(), path("client.pem")),
            ("ssl.key.location".into(), path("client.key")),
        ],
        service_toml: format!(
            r#"
[kafka.security]
protocol = "SASL_SSL"
sasl_mechanism = "{mechanism}"
username = "leadpulse"
password_file = "{}"
ca_location = "{}"
certificate_location = "{}"
key_location = "{}"
"#,
            file.display(),
            path("ca.pem"),
            path("client.pem"),
            path("client.key"),
        ),
    }
}

fn real_password() -> String {
    let (_, tls) = sasl();
    std::fs::read_to_string(tls.join("password"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn scram_sha_512_with_mutual_tls_scores_end_to_end() {
    let access = access("SCRAM-SHA-512", None);
    let d = Deployment::on("sec-scram", 2, access.clone());
    d.create_events_topic();
    let records = dataset(3_000, 200, 11);
    produce_on(
        &access.client(),
        &d.topic("events"),
        &records,
        0,
        Duration::ZERO,
    );
    let mut s = d.spawn("a", 1);
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(120));
    let log = s.terminate();
    assert!(!log.contains(&real_password()), "the password was logged");

    let oracle = oracle(&records, d.dir.path());
    let want: BTreeSet<String> = oracle.alerts.iter().map(|a| a.alert_id.clone()).collect();
    assert!(!want.is_empty());
    let got: Vec<String> = read_all_on(&access.client(), &d.topic("alerts"))
        .iter()
        .map(|r| {
            codec::decode_alert(r.payload.as_deref().unwrap())
                .unwrap()
                .alert_id
        })
        .collect();
    assert_eq!(got.len(), want.len(), "duplicate or missing alerts");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

#[test]
fn plain_scram_sha_256_and_scram_sha_512_all_authenticate() {
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let d = Deployment::on("sec-mech", 1, access(mechanism, None));
        let settings = Settings::load(Some(&d.config("a", "")), std::iter::empty()).unwrap();
        leadpulse::service::check_connection(&settings)
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
    }
}

#[test]
fn a_wrong_password_fails_fast_with_a_clear_message_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-password");
    let wrong_secret = "not-the-password-7d1f";
    std::fs::write(&wrong, wrong_secret).unwrap();
    let d = Deployment::on("sec-wrong", 1, access("SCRAM-SHA-256", Some(wrong)));
    let mut s = d.spawn("a", 1);
    // Fails on its own, long before the 60 s it gives an unreachable broker.
    let status = s.wait_exit(Duration::from_secs(50));
    let log = s.log_text();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("refused the credentials of user `leadpulse` (SASL SCRAM-SHA-256)"),
        "{log}"
    );
    assert!(!log.contains("no broker of"), "{log}");
    assert!(
        !log.contains(wrong_secret),
        "the wrong password was logged:\n{log}"
    );
    assert!(
        !log.contains(&real_password()),
        "the password was logged:\n{log}"
    );
}
