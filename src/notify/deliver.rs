//! Sending one notification on one channel, and the retry policy around
//! it: exponential backoff with full jitter, `Retry-After` honoured,
//! permanent refusals (410, 4xx other than 408/429, SMTP 5xx) not retried.
//! Each endpoint has its own concurrency bound, held only while a request
//! is in flight (never while backing off), so one slow endpoint never
//! holds up another.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::config::{ChannelSettings, NotifySettings, SmtpTls};

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Delivered,
    /// Worth another try, after at least `after` when the endpoint said so.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The endpoint refused for good: dead-letter now.
    Refused {
        reason: String,
    },
}

impl Attempt {
    /// The metric label: `delivered`, `retry` or `refused`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Attempt::Delivered => "delivered",
            Attempt::Retry { .. } => "retry",
            Attempt::Refused { .. } => "refused",
        }
    }
}

/// How an HTTP answer is treated. `retry_after` is the header's value.
pub fn classify_http(status: u16, retry_after: Option<&str>) -> Attempt {
    let after = retry_after.and_then(parse_retry_after);
    match status {
        200..=299 => Attempt::Delivered,
        408 | 429 | 500..=599 => Attempt::Retry {
            reason: format!("HTTP {status}"),
            after,
        },
        _ => Attempt::Refused {
            reason: format!("HTTP {status}"),
        },
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    let ms = when.as_millisecond() - now.as_millisecond();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// The delay before attempt `n + 1` (after `n` failures): full jitter over
/// `initial × 2^(n-1)`, capped; never shorter than the endpoint's
/// `Retry-After` (itself capped).
pub fn backoff(
    n: u32,
    initial: Duration,
    max: Duration,
    after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let ceiling = initial
        .saturating_mul(
            1u32.checked_shl(n.saturating_sub(1).min(30))
                .unwrap_or(u32::MAX),
        )
        .min(max);
    let jittered = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
    match after {
        Some(a) => a.min(max).max(jittered),
        None => jittered,
    }
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per key,
/// space-separated (Standard Webhooks 1.0).
pub fn webhook_signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| {
            let mut mac = Hmac::<Sha256>::new_from_slice(k).expect("HMAC takes any key length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One message ready to send.
pub enum Payload {
    /// A JSON body POSTed to the channel's URL.
    Json(Vec<u8>),
    /// Slack `chat.postMessage` (with its `channel`) or an incoming webhook.
    Slack(serde_json::Value),
    /// An email.
    Email(Box<lettre::Message>),
}

/// A configured channel with its client and its endpoint's bound.
pub struct Endpoint {
    pub name: String,
    pub kind: &'static str,
    pub settings: ChannelSettings,
    pub limit: Arc<Semaphore>,
    http: reqwest::Client,
    smtp: Option<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
    webhook_keys: Vec<Vec<u8>>,
}

/// Why an endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("notify.channel `{channel}`: {message}")]
pub struct EndpointError {
    channel: String,
    message: String,
}

impl Endpoint {
    pub fn new(
        settings: &ChannelSettings,
        notify: &NotifySettings,
    ) -> Result<Endpoint, EndpointError> {
        let err = |message: String| EndpointError {
            channel: settings.name().to_owned(),
            message,
        };
        let timeout = Duration::from_millis(notify.request_timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("leadpulse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let mut smtp = None;
        let mut webhook_keys = Vec::new();
        match settings {
            ChannelSettings::Webhook(w) => {
                webhook_keys = w
                    .secrets
                    .iter()
                    .filter_map(crate::config::webhook_key)
                    .collect();
            }
            ChannelSettings::Email(e) => {
                use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
                let mut tls = TlsParameters::builder(e.host.clone());
                if let Some(ca) = &e.ca_file {
                    let pem = std::fs::read(ca).map_err(|x| err(format!("ca_file: {x}")))?;
                    let cert =
                        Certificate::from_pem(&pem).map_err(|x| err(format!("ca_file: {x}")))?;
                    tls = tls.add_root_certificate(cert);
                }
                let tls = tls.build().map_err(|x| err(format!("TLS: {x}")))?;
                let mut b =
                    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(
                        &e.host,
                    )
                    .port(e.port)
                    .timeout(Some(timeout))
                    .tls(match e.tls {
                        SmtpTls::Starttls => Tls::Required(tls),
                        SmtpTls::Tls => Tls::Wrapper(tls),
                        SmtpTls::None => Tls::None,
                    });
                if let (Some(u), Some(p)) = (&e.username, &e.password) {
                    b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                        u.clone(),
                        p.expose_secret().to_owned(),
                    ));
                }
                smtp = Some(b.build());
            }
            _ => {}
        }
        Ok(Endpoint {
            name: settings.name().to_owned(),
            kind: settings.kind(),
            limit: Arc::new(Semaphore::new(settings.max_concurrency())),
            settings: settings.clone(),
            http,
            smtp,
            webhook_keys,
        })
    }

    /// One attempt. `id` is the idempotency key.
    pub async fn send(&self, id: &str, payload: &Payload) -> Attempt {
        let _permit = self.limit.acquire().await.expect("never closed");
        match (&self.settings, payload) {
            (ChannelSettings::Webhook(w), Payload::Json(body)) => {
                let ts = unix_now();
                let sig = webhook_signature(&self.webhook_keys, id, ts, body);
                let req = self
                    .http
                    .post(&w.url)
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig)
                    .body(body.clone());
                http_attempt(req).await
            }
            (ChannelSettings::Teams(t), Payload::Json(body)) => {
                let req = self
                    .http
                    .post(t.url.expose_secret())
                    .header("content-type", "application/json")
                    .body(body.clone());
                http_attempt(req).await
            }
            (ChannelSettings::Slack(s), Payload::Slack(message)) => {
                let (url, token) = match (&s.token, &s.webhook_url) {
                    (Some(token), _) => (
                        format!("{}/chat.postMessage", s.api_base.trim_end_matches('/')),
                        Some(token),
                    ),
                    (None, Some(u)) => (u.expose_secret().to_owned(), None),
                    (None, None) => {
                        return Attempt::Refused {
                            reason: "no token or webhook_url".into(),
                        }
                    }
                };
                let mut req = self
                    .http
                    .post(url)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(message.to_string());
                if let Some(token) = token {
                    req = req.bearer_auth(token.expose_secret());
                }
                slack_attempt(req, token.is_some()).await
            }
            (ChannelSettings::Email(_), Payload::Email(message)) => {
                use lettre::AsyncTransport;
                let smtp = self.smtp.as_ref().expect("built for email channels");
                match smtp.send((**message).clone()).await {
                    Ok(_) => Attempt::Delivered,
                    Err(e) if e.is_permanent() => Attempt::Refused {
                        reason: smtp_reason(&e),
                    },
                    Err(e) => Attempt::Retry {
                        reason: smtp_reason(&e),
                        after: None,
                    },
                }
            }
            _ => Attempt::Refused {
                reason: "payload does not fit the channel".into(),
            },
        }
    }
}

/// An SMTP error without addresses: its code, or its kind.
fn smtp_reason(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP {code}"),
        None if e.is_timeout() => "SMTP timeout".into(),
        None if e.is_tls() => "SMTP TLS error".into(),
        None => "SMTP connection error".into(),
    }
}

/// The error text of a failed request, without its URL (an incoming
/// webhook's URL is a secret).
fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

async fn http_attempt(req: reqwest::RequestBuilder) -> Attempt {
    match req.send().await {
        Ok(resp) => {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let status = resp.status().as_u16();
            // Read the body so the connection can be reused.
            let _ = resp.bytes().await;
            classify_http(status, retry_after.as_deref())
        }
        Err(e) => Attempt::Retry {
            reason: transport_reason(&e),
            after: None,
        },
    }
}

/// Slack answers 200 with `{"ok": false, "error": …}` for most failures.
async fn slack_attempt(req: reqwest::RequestBuilder, web_api: bool) -> Attempt {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Retry {
                reason: transport_reason(&e),
                after: None,
            }
        }
    };
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    let http = classify_http(status, retry_after.as_deref());
    if http != Attempt::Delivered || !web_api {
        return http;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if v["ok"] == true {
        return Attempt::Delivered;
    }
    let error = v["error"].as_str().unwrap_or("unknown").to_owned();
    match error.as_str() {
        "ratelimited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "team_added_to_org" => Attempt::Retry {
            reason: format!("slack {error}"),
            after: retry_after.as_deref().and_then(parse_retry_after),
        },
        _ => Attempt::Refused {
            reason: format!("slack {}", super::notice::clip(&error, 64)),
        },
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Wall-clock milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A secret's bytes for HMAC.
pub fn secret_bytes(s: &SecretString) -> Vec<u8> {
    s.expose_secret().as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_refusals_are_not_retried() {
        assert_eq!(classify_http(204, None), Attempt::Delivered);
        for s in [400, 401, 403, 404, 410, 413, 422, 301] {
            assert!(
                matches!(classify_http(s, None), Attempt::Refused { .. }),
                "{s}"
            );
        }
        for s in [408, 429, 500, 502, 503] {
            assert!(
                matches!(classify_http(s, None), Attempt::Retry { .. }),
                "{s}"
            );
        }
        assert_eq!(
            classify_http(429, Some("7")),
            Attempt::Retry {
                reason: "HTTP 429".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        assert!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_doubles_is_capped_and_respects_retry_after() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(backoff(1, i, m, None, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(4, i, m, None, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(30, i, m, None, 1.0), m);
        assert_eq!(backoff(3, i, m, None, 0.5), Duration::from_millis(200));
        assert_eq!(
            backoff(1, i, m, Some(Duration::from_secs(2)), 0.0),
            Duration::from_secs(2)
        );
        assert_eq!(backoff(1, i, m, Some(Duration::from_secs(60)), 0.0), m);
    }

    #[test]
    fn webhook_signatures_follow_standard_webhooks() {
        // The Standard Webhooks reference test vector.
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let sig = webhook_signature(
            std::slice::from_ref(&key),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let two = webhook_signature(
            &[key.clone(), key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(two, format!("{sig} {sig}"));
    }
}
