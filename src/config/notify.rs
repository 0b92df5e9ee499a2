//! `[notify]`: `leadpulse notify`, the role that delivers alerts, breaches
//! and overdue feedback to people, and takes their one-click feedback.
//! Every channel is checked at load, so `config check` refuses a bad one
//! naming the field (e.g. `notify.channel[0].secrets`).

use std::path::PathBuf;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SettingsError;

/// The notifier: its consumer group, retries, links and channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// The notifier's own consumer group (it reads read_committed and
    /// commits an offset once its record is delivered or dead-lettered).
    pub group_id: String,
    /// The notifier's HTTP listener: `/metrics`, `/healthz`, and the
    /// feedback endpoints when `[notify.feedback]` is enabled.
    pub listen: String,
    /// The lead page, with `{lead_id}` (and optionally `{alert_id}`)
    /// replaced, e.g. `https://app.example/leads/{lead_id}`.
    pub lead_url: Option<String>,
    /// The lead in the CRM, e.g. `https://crm.example/leads/{lead_id}`.
    pub crm_url: Option<String>,
    /// Attempts per delivery before it is dead-lettered (the retry budget).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with full jitter.
    pub backoff_initial_ms: u64,
    /// Longest retry delay (and longest `Retry-After` honoured).
    pub backoff_max_ms: u64,
    /// One HTTP request or SMTP session.
    pub request_timeout_ms: u64,
    /// Records being delivered at once, over all partitions.
    pub max_in_flight: usize,
    /// How often the delivered prefix of each partition is committed.
    pub commit_interval_ms: u64,
    /// Where people are notified.
    #[serde(rename = "channel")]
    pub channels: Vec<ChannelSettings>,
    /// The one-click feedback endpoint.
    pub feedback: FeedbackSettings,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            group_id: "leadpulse-notify".into(),
            listen: "127.0.0.1:9899".into(),
            lead_url: None,
            crm_url: None,
            max_attempts: 8,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            request_timeout_ms: 10_000,
            max_in_flight: 256,
            commit_interval_ms: 1_000,
            channels: Vec::new(),
            feedback: FeedbackSettings::default(),
        }
    }
}

/// One place notifications go.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelSettings {
    /// An HTTPS endpoint signed per Standard Webhooks 1.0.
    Webhook(WebhookChannel),
    /// Slack: a bot token (`chat.postMessage`) or an incoming webhook.
    Slack(SlackChannel),
    /// Email over SMTP.
    Email(EmailChannel),
    /// A Microsoft Teams incoming webhook (Adaptive Card).
    Teams(TeamsChannel),
}

impl ChannelSettings {
    /// The channel's name (unique): part of the idempotency key and of
    /// metric labels.
    pub fn name(&self) -> &str {
        match self {
            ChannelSettings::Webhook(c) => &c.name,
            ChannelSettings::Slack(c) => &c.name,
            ChannelSettings::Email(c) => &c.name,
            ChannelSettings::Teams(c) => &c.name,
        }
    }

    /// `webhook`, `slack`, `email` or `teams`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelSettings::Webhook(_) => "webhook",
            ChannelSettings::Slack(_) => "slack",
            ChannelSettings::Email(_) => "email",
            ChannelSettings::Teams(_) => "teams",
        }
    }

    /// Requests in flight to this channel's endpoint at most.
    pub fn max_concurrency(&self) -> usize {
        match self {
            ChannelSettings::Webhook(c) => c.max_concurrency,
            ChannelSettings::Slack(c) => c.max_concurrency,
            ChannelSettings::Email(c) => c.max_concurrency,
            ChannelSettings::Teams(c) => c.max_concurrency,
        }
    }
}

fn four() -> usize {
    4
}

/// A Standard Webhooks endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub name: String,
    /// `https://…`; `http://` only for a loopback host with
    /// `allow_http_localhost`.
    pub url: String,
    /// One `whsec_…` secret, or two while rotating: every request is then
    /// signed with both.
    #[serde(default, deserialize_with = "secrets")]
    pub secrets: Vec<SecretString>,
    /// Or a file (a mounted Kubernetes Secret) with the secrets, one a
    /// line.
    #[serde(default)]
    pub secrets_file: Option<PathBuf>,
    #[serde(default)]
    pub allow_http_localhost: bool,
    #[serde(default = "four")]
    pub max_concurrency: usize,
}

/// A Slack workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    pub name: String,
    /// A bot token (`xoxb-…`) with `chat:write`: messages go to the rep
    /// (`slack_user`) and the team channel (`slack_channel`).
    #[serde(default, deserialize_with = "optional_secret")]
    pub token: Option<SecretString>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// Or an incoming webhook URL: one fixed channel, no buttons updated.
    #[serde(default, deserialize_with = "optional_secret")]
    pub webhook_url: Option<SecretString>,
    /// The Web API's base URL (a test or a proxy may stand in).
    #[serde(default = "slack_api")]
    pub api_base: String,
    /// Send to the rep's `slack_user` (direct message).
    #[serde(default = "yes")]
    pub to_rep: bool,
    /// Send to the team's `slack_channel`.
    #[serde(default = "yes")]
    pub to_team: bool,
    #[serde(default)]
    pub allow_http_localhost: bool,
    #[serde(default = "four")]
    pub max_concurrency: usize,
}

fn slack_api() -> String {
    "https://slack.com/api".into()
}

fn yes() -> bool {
    true
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required), port 587.
    Starttls,
    /// TLS from the first byte (SMTPS), port 465.
    Tls,
    /// No TLS: only with `allow_plaintext_localhost` to a loopback host.
    None,
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    pub name: String,
    pub host: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
    #[serde(default = "starttls")]
    pub tls: SmtpTls,
    /// Extra CA certificate (PEM) to trust, e.g. a private relay's.
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    #[serde(default, deserialize_with = "optional_secret")]
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `leadpulse <alerts@example.com>`.
    pub from: String,
    #[serde(default)]
    pub allow_plaintext_localhost: bool,
    #[serde(default = "four")]
    pub max_concurrency: usize,
}

fn smtp_port() -> u16 {
    587
}

fn starttls() -> SmtpTls {
    SmtpTls::Starttls
}

/// A Teams incoming webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsChannel {
    pub name: String,
    #[serde(deserialize_with = "secret")]
    pub url: SecretString,
    #[serde(default)]
    pub allow_http_localhost: bool,
    #[serde(default = "four")]
    pub max_concurrency: usize,
}

/// The one-click feedback endpoint of `leadpulse notify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackSettings {
    /// Serve the endpoints on `notify.listen` (Slack buttons and email
    /// links need them).
    pub enabled: bool,
    /// How people reach it, e.g. `https://leadpulse.example.com`: links in
    /// email start with it.
    pub public_url: Option<String>,
    /// HMAC key of the email links (at least 32 bytes).
    #[serde(deserialize_with = "optional_secret")]
    pub link_key: Option<SecretString>,
    pub link_key_file: Option<PathBuf>,
    /// How long an email link works.
    pub link_ttl_hours: u64,
    /// Slack's signing secret (App → Basic Information).
    #[serde(deserialize_with = "optional_secret")]
    pub slack_signing_secret: Option<SecretString>,
    pub slack_signing_secret_file: Option<PathBuf>,
}

impl Default for FeedbackSettings {
    fn default() -> Self {
        FeedbackSettings {
            enabled: false,
            public_url: None,
            link_key: None,
            link_key_file: None,
            link_ttl_hours: 72,
            slack_signing_secret: None,
            slack_signing_secret_file: None,
        }
    }
}

/// A Standard Webhooks secret's key bytes: the base64 after `whsec_`.
pub fn webhook_key(secret: &SecretString) -> Option<Vec<u8>> {
    let b64 = secret.expose_secret().strip_prefix("whsec_")?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|k| k.len() >= 24 && k.len() <= 64)
}

/// `url` as an endpoint leadpulse may call: https, or http to a loopback
/// host when `allow_http_localhost`. The message never holds the URL (an
/// incoming webhook's URL is its secret).
pub fn endpoint_problem(url: &str, allow_http_localhost: bool) -> Option<String> {
    let Ok(u) = reqwest::Url::parse(url) else {
        return Some("is not a URL".into());
    };
    let loopback = matches!(
        u.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match u.scheme() {
        "https" if u.host_str().is_some() => None,
        "http" if allow_http_localhost && loopback => None,
        "http" if loopback => Some(
            "is http://; leadpulse calls https:// endpoints only (set allow_http_localhost = true \
             for a receiver on this machine)"
                .into(),
        ),
        _ => Some("must be an https:// URL".into()),
    }
}

impl NotifySettings {
    /// Reads the `_file` secrets and checks every channel; errors name the
    /// field.
    pub(super) fn resolve(&mut self) -> Result<(), SettingsError> {
        let bad = |key: String, message: String| Err(SettingsError::Field { key, message });
        if self.group_id.trim().is_empty() {
            return bad("notify.group_id".into(), "must not be empty".into());
        }
        for (key, template) in [("lead_url", &self.lead_url), ("crm_url", &self.crm_url)] {
            if let Some(t) = template {
                let sample = t.replace("{lead_id}", "x").replace("{alert_id}", "x");
                if !t.contains("{lead_id}") || reqwest::Url::parse(&sample).is_err() {
                    return bad(
                        format!("notify.{key}"),
                        "must be a URL with `{lead_id}` in it, e.g. https://crm.example/leads/{lead_id}"
                            .into(),
                    );
                }
            }
        }
        if !(1..=100).contains(&self.max_attempts) {
            return bad(
                "notify.max_attempts".into(),
                "must be between 1 and 100".into(),
            );
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return bad(
                "notify.backoff_max_ms".into(),
                "must be at least notify.backoff_initial_ms, which must be positive".into(),
            );
        }
        if !(100..=300_000).contains(&self.request_timeout_ms) {
            return bad(
                "notify.request_timeout_ms".into(),
                "must be between 100 and 300000".into(),
            );
        }
        if !(1..=100_000).contains(&self.max_in_flight) {
            return bad(
                "notify.max_in_flight".into(),
                "must be between 1 and 100000".into(),
            );
        }
        if !(10..=60_000).contains(&self.commit_interval_ms) {
            return bad(
                "notify.commit_interval_ms".into(),
                "must be between 10 and 60000".into(),
            );
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(
                "notify.listen".into(),
                "must be an IP address and port, e.g. 127.0.0.1:9899".into(),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, channel) in self.channels.iter_mut().enumerate() {
            let key = |field: &str| format!("notify.channel[{i}].{field}");
            let name = channel.name().to_owned();
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
                || !names.insert(name.clone())
            {
                return bad(
                    key("name"),
                    format!(
                        "`{name}` must be unique, 1-64 characters of letters, digits, `-` and `_`"
                    ),
                );
            }
            if !(1..=1_000).contains(&channel.max_concurrency()) {
                return bad(key("max_concurrency"), "must be between 1 and 1000".into());
            }
            match channel {
                ChannelSettings::Webhook(w) => {
                    if let Some(p) = endpoint_problem(&w.url, w.allow_http_localhost) {
                        return bad(key("url"), p);
                    }
                    if let Some(path) = &w.secrets_file {
                        if !w.secrets.is_empty() {
                            return bad(
                                key("secrets_file"),
                                "set either `secrets` or `secrets_file`, not both".into(),
                            );
                        }
                        let text =
                            std::fs::read_to_string(path).map_err(|e| SettingsError::Field {
                                key: key("secrets_file"),
                                message: format!("cannot read {}: {e}", path.display()),
                            })?;
                        w.secrets = text
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(SecretString::from)
                            .collect();
                    }
                    if w.secrets.is_empty() || w.secrets.len() > 2 {
                        return bad(
                            key("secrets"),
                            "must hold one secret, or two while rotating".into(),
                        );
                    }
                    if w.secrets.iter().any(|s| webhook_key(s).is_none()) {
                        return bad(
                            key("secrets"),
                            "each must be `whsec_` followed by base64 of 24 to 64 random bytes \
                             (Standard Webhooks)"
                                .into(),
                        );
                    }
                }
                ChannelSettings::Slack(s) => {
                    read_secret_file(&mut s.token, &s.token_file, &key("token_file"))?;
                    match (&s.token, &s.webhook_url) {
                        (Some(_), Some(_)) | (None, None) => {
                            return bad(
                                key("token"),
                                "set either a bot `token` or a `webhook_url`".into(),
                            )
                        }
                        (Some(t), None) if !t.expose_secret().starts_with("xox") => {
                            return bad(key("token"), "must be a Slack token (`xoxb-…`)".into())
                        }
                        (None, Some(u)) => {
                            if let Some(p) =
                                endpoint_problem(u.expose_secret(), s.allow_http_localhost)
                            {
                                return bad(key("webhook_url"), p);
                            }
                        }
                        _ => {}
                    }
                    if let Some(p) = endpoint_problem(&s.api_base, s.allow_http_localhost) {
                        return bad(key("api_base"), p);
                    }
                    if !s.to_rep && !s.to_team {
                        return bad(
                            key("to_rep"),
                            "`to_rep` and `to_team` are both false: nobody would be told".into(),
                        );
                    }
                }
                ChannelSettings::Email(e) => {
                    read_secret_file(&mut e.password, &e.password_file, &key("password_file"))?;
                    if e.host.trim().is_empty() {
                        return bad(key("host"), "must not be empty".into());
                    }
                    if e.from.parse::<lettre::message::Mailbox>().is_err() {
                        return bad(
                            key("from"),
                            "must be an address like `leadpulse <alerts@example.com>`".into(),
                        );
                    }
                    if e.username.is_some() != e.password.is_some() {
                        return bad(
                            key("password"),
                            "set `username` and `password` together (or neither)".into(),
                        );
                    }
                    let loopback = matches!(e.host.as_str(), "localhost" | "127.0.0.1" | "::1");
                    if e.tls == SmtpTls::None && !(e.allow_plaintext_localhost && loopback) {
                        return bad(
                            key("tls"),
                            "`none` sends mail (and passwords) in clear text; only for a loopback \
                             host with allow_plaintext_localhost = true"
                                .into(),
                        );
                    }
                    if let Some(ca) = &e.ca_file {
                        if !ca.is_file() {
                            return bad(key("ca_file"), format!("{} is not a file", ca.display()));
                        }
                    }
                }
                ChannelSettings::Teams(t) => {
                    if let Some(p) = endpoint_problem(t.url.expose_secret(), t.allow_http_localhost)
                    {
                        return bad(key("url"), p);
                    }
                }
            }
        }
        let f = &mut self.feedback;
        read_secret_file(
            &mut f.link_key,
            &f.link_key_file,
            "notify.feedback.link_key_file",
        )?;
        read_secret_file(
            &mut f.slack_signing_secret,
            &f.slack_signing_secret_file,
            "notify.feedback.slack_signing_secret_file",
        )?;
        if f.enabled && f.link_key.is_none() && f.slack_signing_secret.is_none() {
            return bad(
                "notify.feedback.link_key".into(),
                "the endpoint needs a `link_key` (email links), a `slack_signing_secret` \
                     (Slack buttons), or both"
                    .into(),
            );
        }
        if let Some(k) = &f.link_key {
            if k.expose_secret().len() < 32 {
                return bad(
                    "notify.feedback.link_key".into(),
                    "must be at least 32 characters".into(),
                );
            }
            match &f.public_url {
                None => {
                    return bad(
                        "notify.feedback.public_url".into(),
                        "is needed with a link_key: email links start with it".into(),
                    )
                }
                Some(u) => {
                    if let Some(p) = endpoint_problem(u, true) {
                        return bad("notify.feedback.public_url".into(), p);
                    }
                }
            }
        }
        if !(1..=24 * 90).contains(&f.link_ttl_hours) {
            return bad(
                "notify.feedback.link_ttl_hours".into(),
                "must be between 1 and 2160".into(),
            );
        }
        Ok(())
    }
}

/// Fills `secret` from `file` when one is given.
fn read_secret_file(
    secret: &mut Option<SecretString>,
    file: &Option<PathBuf>,
    key: &str,
) -> Result<(), SettingsError> {
    let Some(path) = file else { return Ok(()) };
    if secret.is_some() {
        return Err(SettingsError::Field {
            key: key.into(),
            message: "set either the secret or its `_file`, not both".into(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Field {
        key: key.into(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    *secret = Some(SecretString::from(text.trim_end_matches(['\r', '\n'])));
    Ok(())
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn optional_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(SecretString::from))
}

fn secrets<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    Vec::<String>::deserialize(d).map(|v| v.into_iter().map(SecretString::from).collect())
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
