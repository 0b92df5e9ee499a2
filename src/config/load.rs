//! Loading: the file, then `LEADPULSE_…` overrides from the environment,
//! then the checks that span sections.

use std::path::Path;

use super::{Settings, SettingsError};

const ENV_PREFIX: &str = "LEADPULSE_";

impl Settings {
    /// Loads `path` (or defaults when `None`), applies `LEADPULSE_*`
    /// overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let (origin, text) = match path {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|source| SettingsError::Read {
                    path: p.to_owned(),
                    source,
                })?,
            ),
            None => ("(defaults)".to_owned(), String::new()),
        };
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SettingsError::Parse {
                    origin: origin.clone(),
                    message: redact_password_lines(e.to_string().trim_end()),
                })?;
        let mut overridden = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let mut path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            if path.len() < 2 || path.iter().any(String::is_empty) {
                continue;
            }
            // librdkafka property names use dots: LEADPULSE_KAFKA__PROPERTIES__SASL_USERNAME.
            if path.len() == 3
                && path[0] == "kafka"
                && matches!(path[1].as_str(), "properties" | "consumer" | "producer")
            {
                path[2] = path[2].replace('_', ".");
            }
            set_path(&mut table, &path, typed_env_value(&path, &value));
            overridden.push(name);
        }
        let origin = if overridden.is_empty() {
            origin
        } else {
            format!("{origin} with {}", overridden.join(", "))
        };
        let mut settings: Settings =
            table
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError::Parse {
                    origin,
                    message: redact_password_lines(e.to_string().trim_end()),
                })?;
        settings.kafka.security.resolve()?;
        settings.admin.resolve()?;
        settings.notify.resolve()?;
        if let Some(registry) = &mut settings.schema_registry {
            registry.resolve()?;
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key, message: &str| {
            Err(SettingsError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if self.kafka.bootstrap_servers.trim().is_empty() {
            return bad("kafka.bootstrap_servers", "must not be empty");
        }
        if self.kafka.group_id.trim().is_empty() {
            return bad("kafka.group_id", "must not be empty");
        }
        self.kafka.check_properties()?;
        if self.admin.enabled && self.admin.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(
                "admin.listen",
                "must be an IP address and port, e.g. 127.0.0.1:9898",
            );
        }
        if self.shutdown.grace_period_secs == 0 {
            return bad("shutdown.grace_period_secs", "must be at least 1");
        }
        if !(10..=60_000).contains(&self.pipeline.commit_interval_ms) {
            return bad(
                "pipeline.commit_interval_ms",
                "must be between 10 and 60000",
            );
        }
        if self.pipeline.transaction_timeout_ms < 1_000 + 2 * self.pipeline.commit_interval_ms {
            return bad(
                "pipeline.transaction_timeout_ms",
                "must be at least 1000 + 2 × commit_interval_ms",
            );
        }
        if self.pipeline.max_future_skew_secs < 0 {
            return bad("pipeline.max_future_skew_secs", "must not be negative");
        }
        if self.shadow.len() > 1 {
            return bad(
                "shadow",
                "names more than one challenger; one [[shadow]] model is scored at a time",
            );
        }
        self.topics.check(&self.kafka.group_id)?;
        Ok(())
    }
}

/// TOML errors quote the offending line or value: when one is about a
/// password, blank out values, so a typo never prints a secret.
fn redact_password_lines(message: &str) -> String {
    if !message.to_ascii_lowercase().contains("password") {
        return message.to_owned();
    }
    message
        .lines()
        .map(|line| {
            if let Some(eq) = line.find('=') {
                return format!("{}= [redacted]", &line[..eq]);
            }
            if line.trim_start().starts_with("in `") {
                return line.to_owned(); // the key path
            }
            // `invalid type: integer `123`, expected …`: drop quoted values.
            let mut out = String::new();
            for (i, part) in line.split('`').enumerate() {
                out.push_str(if i % 2 == 1 { "`[redacted]`" } else { part });
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An environment value read as the type of the setting it overrides:
/// `LEADPULSE_KAFKA__INSTANCE_ID=0` is the string `"0"`,
/// `LEADPULSE_PIPELINE__COMMIT_INTERVAL_MS=250` the number 250. The
/// settings types themselves are asked: each reading (integer, float,
/// boolean, string) is tried alone at `path`, and the first one they accept
/// wins. When none is accepted, the integer or boolean reading is kept, so
/// the error then names the key and the expected type.
fn typed_env_value(path: &[String], raw: &str) -> toml::Value {
    let mut readings = Vec::with_capacity(4);
    if let Ok(i) = raw.parse::<i64>() {
        readings.push(toml::Value::Integer(i));
    }
    if let Ok(f) = raw.parse::<f64>() {
        if f.is_finite() {
            readings.push(toml::Value::Float(f));
        }
    }
    if let Ok(b) = raw.parse::<bool>() {
        readings.push(toml::Value::Boolean(b));
    }
    let string = toml::Value::String(raw.to_owned());
    if readings.is_empty() {
        return string;
    }
    readings.push(string);
    let accepts = |value: &toml::Value| {
        let mut probe = toml::Table::new();
        set_path(&mut probe, path, value.clone());
        probe.try_into::<Settings>().is_ok()
    };
    match readings.iter().position(accepts) {
        Some(i) => readings.swap_remove(i),
        None => readings.swap_remove(0),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("path has at least two parts");
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = entry.as_table_mut().expect("made a table above");
    }
    t.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadpulse.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn env_overrides_the_file() {
        let s = load(
            "[kafka]\nbootstrap_servers = \"a:1\"\n",
            &[
                ("LEADPULSE_KAFKA__BOOTSTRAP_SERVERS", "b:2"),
                ("LEADPULSE_PIPELINE__COMMIT_INTERVAL_MS", "250"),
                (
                    "LEADPULSE_KAFKA__PROPERTIES__SASL_MECHANISM",
                    "SCRAM-SHA-512",
                ),
                ("UNRELATED", "x"),
            ],
        )
        .unwrap();
        assert_eq!(s.kafka.bootstrap_servers, "b:2");
        assert_eq!(s.pipeline.commit_interval_ms, 250);
        assert_eq!(s.kafka.properties["sasl.mechanism"], "SCRAM-SHA-512");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = load("[pipeline]\ncommit_intervall_ms = 5\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("commit_intervall_ms"), "{err}");
        let err = load("", &[("LEADPULSE_PIPELINE__NOPE", "1")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope") && err.contains("LEADPULSE_PIPELINE__NOPE"),
            "{err}"
        );
    }

    #[test]
    fn secrets_come_from_files_or_env_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret-from-file\n").unwrap();
        let text = format!(
            "[kafka.security]\nprotocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\"\n\
             username = \"svc\"\npassword_file = \"{}\"\n",
            pw.display()
        );
        let s = load(&text, &[]).unwrap();
        let props = s.kafka.security.properties();
        assert!(props.contains(&("sasl.password", "s3cret-from-file".into())));
        assert!(props.contains(&("sasl.mechanism", "SCRAM-SHA-512".into())));
        assert!(props.contains(&("security.protocol", "sasl_ssl".into())));
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug leaks the secret"
        );

        // From the environment, kept a string even when it looks like a number.
        let s = load(
            "[kafka.security]\nprotocol = \"SASL_SSL\"\nsasl_mechanism = \"PLAIN\"\nusername = \"svc\"\n",
            &[("LEADPULSE_KAFKA__SECURITY__PASSWORD", "12345")],
        )
        .unwrap();
        assert!(s
            .kafka
            .security
            .properties()
            .contains(&("sasl.password", "12345".into())));
    }

    #[test]
    fn security_mistakes_are_explained_without_secrets() {
        let err = load(
            "[kafka.security]\nprotocol = \"SASL_SSL\"\nusername = \"svc\"\npassword = \"hunter22\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("kafka.security.sasl_mechanism"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
        let err = load(
            "[kafka.properties]\n\"sasl.password\" = \"hunter22\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[kafka.security]") && !err.contains("hunter22"),
            "{err}"
        );
        let err = load(
            "[kafka.security]\nprotocol = \"SSL\"\nca_location = \"/nope.pem\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("kafka.security.ca_location"), "{err}");
        let err = load("[kafka.security]\npassword = 12345678\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password") && !err.contains("12345678"),
            "{err}"
        );
        let err = load("[kafka.security]\npassword = \"hunter22\n", &[])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter22"), "{err}");
        let err = load("[admin]\nlisten = \"localhost\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("admin.listen"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key() {
        let err = load("[pipeline]\ncommit_interval_ms = 1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("pipeline.commit_interval_ms"), "{err}");
    }

    #[test]
    fn env_values_are_read_as_the_settings_type() {
        let s = load(
            "",
            &[
                ("LEADPULSE_KAFKA__INSTANCE_ID", "0"),
                ("LEADPULSE_KAFKA__GROUP_ID", "true"),
                ("LEADPULSE_KAFKA__PROPERTIES__LINGER_MS", "20"),
                ("LEADPULSE_TOPICS__EVENTS", "2024"),
                ("LEADPULSE_TOPICS__PARTITIONS", "12"),
                ("LEADPULSE_TOPICS__CREATE_MISSING", "false"),
                ("LEADPULSE_PIPELINE__MAX_FUTURE_SKEW_SECS", "-0"),
                ("LEADPULSE_ADMIN__ENABLED", "false"),
                ("LEADPULSE_LOG__LEVEL", "1.5"),
            ],
        )
        .unwrap();
        assert_eq!(s.kafka.instance_id.as_deref(), Some("0"));
        assert_eq!(s.kafka.transactional_id(), "true-0");
        assert_eq!(s.kafka.properties["linger.ms"], "20");
        assert_eq!(s.topics.events, "2024");
        assert_eq!(s.topics.partitions, 12);
        assert!(!s.topics.create_missing);
        assert_eq!(s.pipeline.max_future_skew_secs, 0);
        assert!(!s.admin.enabled);
        assert_eq!(s.log.level, "1.5");
    }

    #[test]
    fn an_env_value_of_the_wrong_type_names_the_variable_and_the_key() {
        for (name, value, key) in [
            (
                "LEADPULSE_PIPELINE__COMMIT_INTERVAL_MS",
                "fast",
                "commit_interval_ms",
            ),
            ("LEADPULSE_ADMIN__ENABLED", "yes", "enabled"),
            ("LEADPULSE_TOPICS__PARTITIONS", "1.5", "partitions"),
            (
                "LEADPULSE_TOPICS__REPLICATION_FACTOR",
                "3000000000",
                "replication_factor",
            ),
        ] {
            let err = load("", &[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(key), "{err}");
        }
    }
}
