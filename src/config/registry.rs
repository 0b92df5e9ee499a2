//! `[schema_registry]`: a Confluent-compatible Schema Registry for the
//! wire format in (events and feedback) and, optionally, out.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use super::SettingsError;

/// The registry's address and credentials. Basic auth and TLS are set as
/// in `[kafka.security]`: a password or its `_file`, a CA file, an
/// optional client certificate and key (PEM).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaRegistrySettings {
    /// The base of the Confluent REST API, e.g. `http://registry:8081` or
    /// Apicurio's `http://registry:8080/apis/ccompat/v7`.
    pub url: String,
    /// The basic-auth user (`basic.auth.user.info`'s first half).
    pub username: Option<String>,
    /// The basic-auth password; prefer `password_file` or
    /// `LEADPULSE_SCHEMA_REGISTRY__PASSWORD`.
    pub password: Option<SecretString>,
    /// A file holding the password (a mounted secret).
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) that signed the registry's certificate; the
    /// system store when absent.
    pub ca_location: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    pub certificate_location: Option<PathBuf>,
    /// PEM (PKCS#8) private key of the client certificate.
    pub key_location: Option<PathBuf>,
    /// Writes the outputs in the wire format, their schemas registered at
    /// startup under `<topic>-value`.
    pub outputs: bool,
    /// How long one request may take; a registry slower than this counts
    /// as away, and the records that need it wait.
    pub timeout_ms: u64,
}

impl Default for SchemaRegistrySettings {
    fn default() -> Self {
        SchemaRegistrySettings {
            url: String::new(),
            username: None,
            password: None,
            password_file: None,
            ca_location: None,
            certificate_location: None,
            key_location: None,
            outputs: false,
            timeout_ms: 2_000,
        }
    }
}

impl SchemaRegistrySettings {
    /// Reads the password file and checks the section, naming the field.
    pub(super) fn resolve(&mut self) -> Result<(), SettingsError> {
        let bad = |key, message: &str| {
            Err(SettingsError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let url = match reqwest::Url::parse(self.url.trim()) {
            Ok(u) => u,
            Err(_) => {
                return bad(
                    "schema_registry.url",
                    "must be an http:// or https:// URL, e.g. http://registry:8081",
                )
            }
        };
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return bad("schema_registry.url", "must start with http:// or https://"),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return bad(
                "schema_registry.url",
                "must not hold credentials; set username and password",
            );
        }
        if let Some(f) = &self.password_file {
            if self.password.is_some() {
                return bad(
                    "schema_registry.password_file",
                    "set either the secret or its `_file`, not both",
                );
            }
            self.password = Some(read_secret(f)?);
        }
        if self
            .username
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            return bad("schema_registry.username", "must not be empty");
        }
        if self.username.is_some() != self.password.is_some() {
            return bad(
                "schema_registry.password",
                "basic auth needs both username and password (or password_file)",
            );
        }
        let files = [
            ("schema_registry.ca_location", &self.ca_location),
            (
                "schema_registry.certificate_location",
                &self.certificate_location,
            ),
            ("schema_registry.key_location", &self.key_location),
        ];
        if !tls && files.iter().any(|(_, p)| p.is_some()) {
            return bad(
                "schema_registry.url",
                "must be https:// when TLS files are set",
            );
        }
        if self.certificate_location.is_some() != self.key_location.is_some() {
            return bad(
                "schema_registry.key_location",
                "a client certificate needs its key, and a key its certificate",
            );
        }
        for (key, path) in files {
            if let Some(p) = path {
                if !p.is_file() {
                    return bad(key, &format!("{} is not a readable file", p.display()));
                }
            }
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return bad(
                "schema_registry.timeout_ms",
                "must be between 100 and 60000",
            );
        }
        Ok(())
    }
}

fn read_secret(path: &Path) -> Result<SecretString, SettingsError> {
    std::fs::read_to_string(path)
        .map(|s| SecretString::from(s.trim_end_matches(['\r', '\n']).to_owned()))
        .map_err(|e| SettingsError::Invalid {
            key: "schema_registry.password_file",
            message: format!("cannot read {}: {e}", path.display()),
        })
}
