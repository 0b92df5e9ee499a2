//! Startup check: reach the brokers and authenticate before anything else,
//! so wrong credentials or an untrusted certificate stop the service at once
//! with a message that says what to fix (and contains no secret).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use secrecy::ExposeSecret;

use super::PipelineError;
use crate::config::Settings;

/// How long `run` keeps trying to reach a broker that does not answer at all.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(60);

/// Remembers the first authentication or TLS error librdkafka reports.
#[derive(Default)]
struct Probe {
    failure: Mutex<Option<(RDKafkaErrorCode, String)>>,
}

impl ClientContext for Probe {
    /// librdkafka logs every failed connection attempt (hundreds a minute
    /// for an address nobody listens on); the probe's one error says it all.
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(?level, fac, "librdkafka: {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(
                code @ (RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::SSL),
            ) => {
                let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
                f.get_or_insert((code, reason.to_owned()));
            }
            _ => tracing::debug!(error = %error, "while connecting"),
        }
    }
}

impl ConsumerContext for Probe {}

/// Connects to the brokers and fetches metadata once. Fails fast on an
/// authentication or TLS error; fails after a minute when no broker answers.
pub fn check_connection(settings: &Settings) -> Result<(), PipelineError> {
    check_reachable(settings, UNREACHABLE_AFTER)
}

/// [`check_connection`] giving up after `within` when no broker answers,
/// for the tools (`report --config`, `generate --kafka`): one clear error
/// instead of librdkafka's log of every failed attempt.
pub fn check_reachable(settings: &Settings, within: Duration) -> Result<(), PipelineError> {
    let consumer: BaseConsumer<Probe> = super::reader_config(settings)
        // Authentication errors are final; do not let librdkafka retry quietly.
        .set("reconnect.backoff.max.ms", "1000")
        .create_with_context(Probe::default())
        .map_err(|e| PipelineError::Client(super::client_error(&e)))?;
    let started = Instant::now();
    loop {
        let attempt = within
            .saturating_sub(started.elapsed())
            .clamp(Duration::from_millis(100), Duration::from_millis(1000));
        let last = match consumer.fetch_metadata(None, attempt) {
            Ok(_) => return Ok(()),
            Err(e) => e.to_string(),
        };
        // Serves the error callbacks.
        let _ = consumer.poll(Duration::from_millis(100));
        let failure = consumer
            .context()
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((code, reason)) = failure {
            return Err(PipelineError::Authentication(explain(
                settings, code, &reason,
            )));
        }
        if started.elapsed() >= within {
            return Err(PipelineError::Unreachable(format!(
                "no broker of `{}` answered within {} s ({last})",
                settings.kafka.bootstrap_servers,
                within.as_secs_f64()
            )));
        }
    }
}

fn explain(settings: &Settings, code: RDKafkaErrorCode, reason: &str) -> String {
    let security = &settings.kafka.security;
    // librdkafka does not echo secrets, but make sure of it.
    let mut reason = reason.to_owned();
    for secret in [&security.password, &security.key_password]
        .into_iter()
        .flatten()
    {
        let secret = secret.expose_secret();
        if !secret.is_empty() {
            reason = reason.replace(secret, "[redacted]");
        }
    }
    let bootstrap = &settings.kafka.bootstrap_servers;
    if code == RDKafkaErrorCode::SSL {
        return format!(
            "TLS handshake with `{bootstrap}` failed: {reason}. Check kafka.security.ca_location \
             (the CA that signed the brokers' certificates) and, for mutual TLS, \
             certificate_location and key_location"
        );
    }
    let user = security.username.as_deref().unwrap_or("(none)");
    let mechanism = security.sasl_mechanism.map_or("?", |m| m.as_str());
    format!(
        "Kafka at `{bootstrap}` refused the credentials of user `{user}` (SASL {mechanism}): \
         {reason}. Check kafka.security.username and the password (kafka.security.password, \
         password_file or LEADPULSE_KAFKA__SECURITY__PASSWORD), and that the user exists for \
         this mechanism"
    )
}
