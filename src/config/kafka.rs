//! `[kafka]` and `[kafka.security]`: how to reach the brokers, who we are
//! in the consumer group, and the secrets that must never reach a log.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SettingsError;

/// How to reach Kafka and who we are in the consumer group. `Debug` shows
/// the property maps' keys only.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// The consumer group; instances sharing it split the partitions.
    pub group_id: String,
    /// Names this instance; the transactional id is `<group_id>-<instance_id>`.
    /// Keep it stable across restarts so a restarted instance fences its
    /// predecessor at once. Defaults to `$HOSTNAME`.
    pub instance_id: Option<String>,
    /// librdkafka properties for every client (consumer, producer, admin).
    pub properties: BTreeMap<String, String>,
    /// librdkafka properties for the consumer only.
    pub consumer: BTreeMap<String, String>,
    /// librdkafka properties for the producer only.
    pub producer: BTreeMap<String, String>,
    /// TLS and SASL; secrets come from here (or `*_file`), never from the
    /// property maps.
    pub security: SecuritySettings,
}

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `[kafka.security]`: how to authenticate to the brokers and trust them.
/// Secrets are held in [`SecretString`]s: `Debug` prints them redacted and
/// nothing logs them. After [`Settings::load`], `password` and
/// `key_password` hold the contents of their `*_file` if one was given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: Option<SecurityProtocol>,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`; required with SASL.
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user.
    pub username: Option<String>,
    /// The SASL password. Prefer `password_file` or the environment
    /// (`LEADPULSE_KAFKA__SECURITY__PASSWORD`) to a literal in the file.
    pub password: Option<SecretString>,
    /// A file holding the SASL password (a mounted secret); one trailing
    /// newline is ignored.
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) that signed the brokers' certificates
    /// (`ssl.ca.location`); the system store when absent.
    pub ca_location: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (`ssl.certificate.location`).
    pub certificate_location: Option<PathBuf>,
    /// PEM private key of the client certificate (`ssl.key.location`).
    pub key_location: Option<PathBuf>,
    /// Password of an encrypted `key_location`.
    pub key_password: Option<SecretString>,
    /// A file holding `key_password`.
    pub key_password_file: Option<PathBuf>,
}

impl SecuritySettings {
    /// The librdkafka properties these settings stand for, secrets included:
    /// hand them to a `ClientConfig` only, never to a log line.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(protocol) = self.protocol {
            p.push(("security.protocol", protocol.as_str().to_owned()));
        }
        if let Some(m) = self.sasl_mechanism {
            p.push(("sasl.mechanism", m.as_str().to_owned()));
        }
        if let Some(u) = &self.username {
            p.push(("sasl.username", u.clone()));
        }
        if let Some(pw) = &self.password {
            p.push(("sasl.password", pw.expose_secret().to_owned()));
        }
        let path = |p: &PathBuf| p.display().to_string();
        if let Some(ca) = &self.ca_location {
            p.push(("ssl.ca.location", path(ca)));
        }
        if let Some(c) = &self.certificate_location {
            p.push(("ssl.certificate.location", path(c)));
        }
        if let Some(k) = &self.key_location {
            p.push(("ssl.key.location", path(k)));
        }
        if let Some(pw) = &self.key_password {
            p.push(("ssl.key.password", pw.expose_secret().to_owned()));
        }
        p
    }

    /// Reads `*_file` secrets and checks the combination.
    pub(super) fn resolve(&mut self) -> Result<(), SettingsError> {
        let read = |key: &'static str, path: &Path| {
            std::fs::read_to_string(path)
                .map(|s| {
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    SecretString::from(s.strip_suffix('\r').unwrap_or(s).to_owned())
                })
                .map_err(|e| SettingsError::Invalid {
                    key,
                    message: format!("cannot read {}: {e}", path.display()),
                })
        };
        let both = |key| SettingsError::Invalid {
            key,
            message: "set either the secret or its `_file`, not both".into(),
        };
        if let Some(f) = &self.password_file {
            if self.password.is_some() {
                return Err(both("kafka.security.password_file"));
            }
            self.password = Some(read("kafka.security.password_file", f)?);
        }
        if let Some(f) = &self.key_password_file {
            if self.key_password.is_some() {
                return Err(both("kafka.security.key_password_file"));
            }
            self.key_password = Some(read("kafka.security.key_password_file", f)?);
        }
        let protocol = self.protocol.unwrap_or(SecurityProtocol::Plaintext);
        let invalid = |key, message: &str| {
            Err(SettingsError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if protocol.uses_sasl() {
            if self.sasl_mechanism.is_none() {
                return invalid(
                    "kafka.security.sasl_mechanism",
                    "is required with a SASL protocol: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                );
            }
            if self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
                return invalid(
                    "kafka.security.username",
                    "is required with a SASL protocol",
                );
            }
            if self.password.is_none() {
                return invalid(
                    "kafka.security.password",
                    "is required with a SASL protocol (or password_file, or LEADPULSE_KAFKA__SECURITY__PASSWORD)",
                );
            }
        } else if self.sasl_mechanism.is_some() || self.username.is_some() {
            return invalid(
                "kafka.security.protocol",
                "must be SASL_SSL or SASL_PLAINTEXT when a SASL mechanism or username is set",
            );
        }
        let tls_paths = [
            &self.ca_location,
            &self.certificate_location,
            &self.key_location,
        ];
        if !protocol.uses_tls() && tls_paths.iter().any(|p| p.is_some()) {
            return invalid(
                "kafka.security.protocol",
                "must be SSL or SASL_SSL when TLS files are set",
            );
        }
        if self.certificate_location.is_some() != self.key_location.is_some() {
            return invalid(
                "kafka.security.key_location",
                "a client certificate needs its key, and a key its certificate",
            );
        }
        for (key, path) in [
            ("kafka.security.ca_location", &self.ca_location),
            (
                "kafka.security.certificate_location",
                &self.certificate_location,
            ),
            ("kafka.security.key_location", &self.key_location),
        ] {
            if let Some(p) = path {
                if !p.is_file() {
                    return invalid(key, &format!("{} is not a readable file", p.display()));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// A property map by its keys: a value may be a misplaced secret.
        struct Keys<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Keys<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.keys()).finish()
            }
        }
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("group_id", &self.group_id)
            .field("instance_id", &self.instance_id)
            .field("properties", &Keys(&self.properties))
            .field("consumer", &Keys(&self.consumer))
            .field("producer", &Keys(&self.producer))
            .field("security", &self.security)
            .finish()
    }
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            bootstrap_servers: "127.0.0.1:9092".into(),
            group_id: "leadpulse".into(),
            instance_id: None,
            properties: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            security: SecuritySettings::default(),
        }
    }
}

impl KafkaSettings {
    /// The property maps hold no secrets (those belong in
    /// `[kafka.security]`) and nothing librdkafka would refuse, so a client
    /// is never created from a config whose error would print a value.
    pub(super) fn check_properties(&self) -> Result<(), SettingsError> {
        let maps = [
            ("kafka.properties", &self.properties),
            ("kafka.consumer", &self.consumer),
            ("kafka.producer", &self.producer),
        ];
        for (section, map) in maps {
            if let Some(key) = map.keys().find(|k| is_secret_property(k)) {
                return Err(SettingsError::Invalid {
                    key: "kafka.security",
                    message: format!(
                        "holds secrets: move `{key}` out of [{section}] into [kafka.security] \
                         (password, password_file, key_password, key_password_file), \
                         where it is kept out of logs and debug output"
                    ),
                });
            }
        }
        for (section, map) in maps {
            for (key, value) in map {
                if let Some(message) = librdkafka_refuses(key, value) {
                    return Err(SettingsError::Property {
                        section,
                        property: key.clone(),
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// The instance id, defaulted from the host name.
    pub fn instance_id(&self) -> String {
        self.instance_id
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "leadpulse".into())
    }

    /// The producer's `transactional.id`.
    pub fn transactional_id(&self) -> String {
        format!("{}-{}", self.group_id, self.instance_id())
    }
}

/// librdkafka properties that carry secrets (librdkafka marks them
/// sensitive).
fn is_secret_property(key: &str) -> bool {
    matches!(
        key,
        "sasl.password"
            | "ssl.key.password"
            | "ssl.keystore.password"
            | "ssl.key.pem"
            | "ssl_key"
            | "sasl.oauthbearer.client.secret"
            | "sasl.oauthbearer.config"
            | "sasl.oauthbearer.assertion.private.key.passphrase"
            | "sasl.oauthbearer.assertion.private.key.pem"
    )
}

/// Asks librdkafka whether it knows `key` and takes `value`, the way
/// every client is configured. The answer never holds the value: a
/// misspelt secret (`sasl.passwrd`) is refused without being printed.
fn librdkafka_refuses(key: &str, value: &str) -> Option<String> {
    let mut config = rdkafka::ClientConfig::new();
    config.set(key, value);
    match config.create_native_config() {
        Ok(_) => None,
        Err(KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..)) => Some(
            "is not a librdkafka property: check its spelling in librdkafka's \
             CONFIGURATION.md (its value is not shown)"
                .into(),
        ),
        Err(KafkaError::ClientConfig(_, desc, ..)) => Some(format!(
            "has a value librdkafka refuses: {}",
            without_value(&desc, value)
        )),
        Err(KafkaError::Nul(_)) => Some("holds a NUL character".into()),
        Err(_) => Some("is refused by librdkafka (its value is not shown)".into()),
    }
}

/// librdkafka's explanation with `value` blanked out, or nothing of it
/// when the value cannot be taken out cleanly.
fn without_value(desc: &str, value: &str) -> String {
    let desc = desc.trim();
    if value.is_empty() {
        return desc.to_owned();
    }
    let redacted = desc.replace(value, "[not shown]");
    if redacted.contains(value) {
        "(its value is not shown)".to_owned()
    } else {
        redacted
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    fn load(text: &str) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadpulse.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(&path), std::iter::empty())
    }

    #[test]
    fn a_misspelt_property_is_refused_by_name_without_its_value() {
        let err = load("[kafka.properties]\n\"sasl.passwrd\" = \"hunter22-secret\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`[kafka.properties] \"sasl.passwrd\"`")
                && err.contains("is not a librdkafka property"),
            "{err}"
        );
        assert!(!err.contains("hunter22"), "{err}");
        for section in ["consumer", "producer"] {
            let err = load(&format!(
                "[kafka.{section}]\n\"fetch.wait.max.msec\" = \"hunter22\"\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                err.contains(&format!("`[kafka.{section}] \"fetch.wait.max.msec\"`")),
                "{err}"
            );
            assert!(!err.contains("hunter22"), "{err}");
        }
    }

    #[test]
    fn a_value_librdkafka_refuses_is_explained_without_the_value() {
        for (key, value) in [
            ("linger.ms", "hunter22"),
            ("linger.ms", "99999999"),
            ("compression.type", "hunter22"),
            ("enable.idempotence", "hunter22"),
        ] {
            let err = load(&format!("[kafka.producer]\n\"{key}\" = \"{value}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("`[kafka.producer] \"{key}\"`"))
                    && err.contains("librdkafka refuses"),
                "{err}"
            );
            assert!(!err.contains(value), "{err}");
        }
    }

    #[test]
    fn known_properties_pass_and_secrets_are_sent_to_kafka_security() {
        let s = load(
            "[kafka.properties]\n\"statistics.interval.ms\" = \"1000\"\n\
             [kafka.consumer]\n\"fetch.wait.max.ms\" = \"50\"\n\
             [kafka.producer]\n\"linger.ms\" = \"20\"\n\"compression.type\" = \"gzip\"\n",
        )
        .unwrap();
        assert_eq!(s.kafka.producer["compression.type"], "gzip");
        let debug = format!("{s:?}");
        assert!(
            debug.contains("\"linger.ms\"") && !debug.contains("gzip"),
            "Debug shows property values: {debug}"
        );
        for key in [
            "sasl.password",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.assertion.private.key.passphrase",
        ] {
            let err = load(&format!("[kafka.properties]\n\"{key}\" = \"hunter22\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("[kafka.security]") && !err.contains("hunter22"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_value_is_taken_out_of_librdkafkas_explanation() {
        assert_eq!(
            without_value(
                "Invalid value \"lz5\" for configuration property \"x\"",
                "lz5"
            ),
            "Invalid value \"[not shown]\" for configuration property \"x\""
        );
        // A value that reappears once blanked out gives nothing of the text.
        assert_eq!(
            without_value("a[not shown]b", "n"),
            "(its value is not shown)"
        );
    }
}
