//! The Schema Registry edge: a blocking client of the Confluent REST API,
//! the schema-id cache of the inputs, and the registration of the outputs'
//! schemas at startup.
//!
//! Schema ids never change meaning, so a schema's verdict is cached for the
//! life of the process: records of a known id decode while the registry is
//! away. An unknown id (404, error 40403) is not cached: it may be a schema
//! registered a moment later.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::codec::registry::{self as wire, SchemaType, Verdict};
use crate::codec::Format;
use crate::config::{SchemaRegistrySettings, Settings, Topic};

/// The answer for one schema id.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The registry has it: what it means for the events.
    Known(Arc<Verdict>),
    /// The registry answered that it has no schema of that id.
    Unknown,
    /// The registry did not answer usefully (down, slow, 5xx): try later.
    Unavailable(String),
}

/// A client of one registry, with the verdicts of the ids seen so far.
pub struct Registry {
    http: reqwest::blocking::Client,
    base: String,
    auth: Option<(String, SecretString)>,
    verdicts: HashMap<u32, Arc<Verdict>>,
}

/// One registry answer: the status and the JSON body, if it was JSON.
struct Answer {
    status: u16,
    body: serde_json::Value,
}

impl Registry {
    /// A client of `settings`' registry; fails only on unusable TLS files.
    pub fn new(settings: &SchemaRegistrySettings) -> Result<Registry, String> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let mut http = reqwest::blocking::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        if let Some(ca) = &settings.ca_location {
            let cert = reqwest::Certificate::from_pem(&read(ca)?)
                .map_err(|e| format!("schema_registry.ca_location: {e}"))?;
            http = http.add_root_certificate(cert);
        }
        if let (Some(c), Some(k)) = (&settings.certificate_location, &settings.key_location) {
            let identity = reqwest::Identity::from_pkcs8_pem(&read(c)?, &read(k)?)
                .map_err(|e| format!("schema_registry.key_location: {e}"))?;
            http = http.identity(identity);
        }
        let http = http
            .build()
            .map_err(|e| format!("schema registry client: {e}"))?;
        let auth = settings.username.clone().zip(settings.password.clone());
        Ok(Registry {
            http,
            base: settings.url.trim().trim_end_matches('/').to_owned(),
            auth,
            verdicts: HashMap::new(),
        })
    }

    /// The cached verdict of `id`, without asking the registry.
    pub fn cached(&self, id: u32) -> Option<Arc<Verdict>> {
        self.verdicts.get(&id).cloned()
    }

    /// The verdict of `id`: from the cache, else fetched (with the files
    /// it references), judged and cached.
    pub fn lookup(&mut self, id: u32) -> Lookup {
        if let Some(v) = self.cached(id) {
            return Lookup::Known(v);
        }
        let lookup = self.fetch(id);
        crate::telemetry::schema_registry_lookup(match &lookup {
            Lookup::Known(_) => "known",
            Lookup::Unknown => "unknown",
            Lookup::Unavailable(_) => "unavailable",
        });
        lookup
    }

    fn fetch(&mut self, id: u32) -> Lookup {
        let answer = match self.get(&format!("/schemas/ids/{id}")) {
            Ok(a) => a,
            Err(e) => return Lookup::Unavailable(e),
        };
        match answer.status {
            200 => {}
            404 if answer.body["error_code"] == 40403 => return Lookup::Unknown,
            s => return Lookup::Unavailable(refusal(s, &answer.body)),
        }
        let kind = schema_type(&answer.body);
        let text = answer.body["schema"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut references = Vec::new();
        if let Err(e) = self.references(&answer.body, &mut references, 0) {
            return Lookup::Unavailable(e);
        }
        let verdict = Arc::new(wire::judge(kind, &text, &references));
        self.verdicts.insert(id, verdict.clone());
        Lookup::Known(verdict)
    }

    /// Collects the files `schema` references (by import name), depth first.
    fn references(
        &self,
        schema: &serde_json::Value,
        out: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<(), String> {
        let Some(refs) = schema["references"].as_array() else {
            return Ok(());
        };
        if depth > 8 {
            return Err("schema references nest deeper than 8".into());
        }
        for r in refs {
            let (Some(name), Some(subject), Some(version)) = (
                r["name"].as_str(),
                r["subject"].as_str(),
                r["version"].as_i64(),
            ) else {
                continue;
            };
            if out.iter().any(|(n, _)| n == name) {
                continue;
            }
            let path = format!("/subjects/{}/versions/{version}", encode(subject));
            let answer = self.get(&path)?;
            if answer.status != 200 {
                return Err(refusal(answer.status, &answer.body));
            }
            let text = answer.body["schema"].as_str().unwrap_or_default();
            out.push((name.to_owned(), text.to_owned()));
            self.references(&answer.body, out, depth + 1)?;
        }
        Ok(())
    }

    /// Whether the registry answers its API (`GET /subjects`): `Ok(false)`
    /// when it does not answer (yet), an error when something answers
    /// that is not its API (a wrong URL, refused credentials).
    pub fn check(&self) -> Result<bool, String> {
        let Ok(answer) = self.get("/subjects") else {
            return Ok(false);
        };
        match answer.status {
            200 => Ok(true),
            s @ 400..=499 => Err(refusal(s, &answer.body)),
            _ => Ok(false),
        }
    }

    /// Registers `schema` under `subject` (the registry's compatibility
    /// rule applies) and returns its id. `Err(Ok(why))` is a refusal to
    /// report; `Err(Err(e))` means the registry did not answer.
    pub fn register(
        &self,
        subject: &str,
        kind: SchemaType,
        schema: &str,
    ) -> Result<u32, Result<String, String>> {
        let body = serde_json::json!({
            "schema": schema,
            "schemaType": match kind { SchemaType::Protobuf => "PROTOBUF", SchemaType::Json => "JSON" },
        });
        let path = format!("/subjects/{}/versions", encode(subject));
        let answer = self.post(&path, &body).map_err(Err)?;
        match answer.status {
            200 => answer.body["id"]
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| Ok(format!("`{subject}`: the registry answered no id"))),
            409 => {
                let why = self.incompatibility(&path, &body);
                Err(Ok(format!(
                    "`{subject}`: the registry refuses leadpulse's schema as incompatible with \
                     the subject's latest version under its compatibility rule ({})",
                    why.unwrap_or_else(|| refusal(409, &answer.body))
                )))
            }
            s if s >= 500 => Err(Err(refusal(s, &answer.body))),
            s => Err(Ok(format!("`{subject}`: {}", refusal(s, &answer.body)))),
        }
    }

    /// The registry's reasons for an incompatibility, when it gives them.
    fn incompatibility(&self, versions_path: &str, body: &serde_json::Value) -> Option<String> {
        let path = format!("/compatibility{}/latest?verbose=true", versions_path);
        let answer = self.post(&path, body).ok()?;
        let messages = answer.body["messages"].as_array()?;
        let text: Vec<&str> = messages.iter().filter_map(|m| m.as_str()).collect();
        (!text.is_empty()).then(|| text.join("; "))
    }

    fn get(&self, path: &str) -> Result<Answer, String> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    fn post(&self, path: &str, body: &serde_json::Value) -> Result<Answer, String> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(body.to_string());
        self.send(req)
    }

    fn send(&self, mut req: reqwest::blocking::RequestBuilder) -> Result<Answer, String> {
        if let Some((user, password)) = &self.auth {
            req = req.basic_auth(user, Some(password.expose_secret()));
        }
        let response = req
            .header(
                "accept",
                "application/vnd.schemaregistry.v1+json, application/json",
            )
            .send()
            .map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().map_err(|e| transport(&e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }
}

/// What went wrong on the way, without the URL's query or any secret.
fn transport(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("schema registry {what}")
}

fn refusal(status: u16, body: &serde_json::Value) -> String {
    match body["message"].as_str() {
        Some(m) => format!("schema registry answered {status}: {}", cut(m, 300)),
        None => format!("schema registry answered {status}"),
    }
}

fn cut(s: &str, limit: usize) -> &str {
    let mut end = s.len().min(limit);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn schema_type(body: &serde_json::Value) -> Option<SchemaType> {
    match body["schemaType"].as_str() {
        Some("PROTOBUF") => Some(SchemaType::Protobuf),
        Some("JSON") => Some(SchemaType::Json),
        _ => None,
    }
}

/// A subject as one URL path segment.
fn encode(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How each output topic is framed: its schema id and, for protobuf, the
/// message's index in `outputs.proto`.
#[derive(Debug, Clone, Default)]
pub struct OutputFraming {
    by_topic: HashMap<String, (u32, Option<i32>)>,
}

impl OutputFraming {
    /// `payload` framed for `topic`, or as it is for a topic not framed.
    pub fn frame<'a>(&self, topic: &str, payload: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        match self.by_topic.get(topic) {
            Some(&(id, index)) => wire::frame(id, index, payload).into(),
            None => payload.into(),
        }
    }
}

/// The outputs written in the wire format and the record each holds.
/// Watch alerts are JSON in either output format. The account topics are
/// registered whether or not the model has an `[account]`: their subjects
/// then exist before the first record does.
const OUTPUTS: [(Topic, &str); 10] = [
    (Topic::Scores, "LeadScore"),
    (Topic::Alerts, "HotLeadAlert"),
    (Topic::Enrichment, "EnrichmentHold"),
    (Topic::Breaches, "SlaBreach"),
    (Topic::Overdue, "FeedbackOverdue"),
    (Topic::Lifecycle, "StageChange"),
    (Topic::Handoffs, "HandoffRecord"),
    (Topic::WatchAlerts, "WatchAlert"),
    (Topic::AccountScores, "AccountScore"),
    (Topic::AccountAlerts, "AccountAlert"),
];

/// Registers the outputs' schemas under `<topic>-value` and returns the
/// framing. A registry that does not answer is asked again, backing off up
/// to 5 s, until `give_up` says stop; a refusal (an incompatible change
/// under the subject's rule, say) is returned to stop the start.
pub fn register_outputs(
    settings: &Settings,
    registry: &Registry,
    give_up: &dyn Fn() -> bool,
) -> Result<OutputFraming, String> {
    let mut framing = OutputFraming::default();
    let names = crate::config::TopicNames::from_settings(settings);
    let protobuf = wire::outputs_schema_base64();
    for (topic, message) in OUTPUTS {
        let name = names.name(topic).to_owned();
        let subject = format!("{name}-value");
        let proto =
            settings.pipeline.output_format == Format::Protobuf && topic != Topic::WatchAlerts;
        let (kind, schema, index) = if proto {
            let index = wire::output_message_index(&format!("leadpulse.v1.{message}"))
                .ok_or_else(|| format!("outputs.proto has no {message}"))?;
            (SchemaType::Protobuf, protobuf.as_str(), Some(index))
        } else {
            let schema = wire::output_json_schema(message)
                .ok_or_else(|| format!("no JSON Schema for {message}"))?;
            (SchemaType::Json, schema, None)
        };
        let mut backoff = Duration::from_millis(200);
        let id = loop {
            match registry.register(&subject, kind, schema) {
                Ok(id) => break id,
                Err(Ok(refused)) => return Err(refused),
                Err(Err(away)) => {
                    if give_up() {
                        return Err(format!("`{subject}`: {away}"));
                    }
                    tracing::warn!(subject, error = %away, "cannot register the output schema yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        tracing::info!(subject, schema_id = id, "output schema registered");
        framing.by_topic.insert(name, (id, index));
    }
    Ok(framing)
}
