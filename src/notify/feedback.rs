//! The notifier's HTTP listener: `/healthz`, `/metrics`, and one-click
//! feedback: Slack's interactivity requests (`POST /slack/interactions`,
//! signature checked) and signed email links (`GET /feedback` shows a
//! confirmation, its button `POST`s). A valid click writes one feedback
//! event to `lead-feedback` with a deterministic `event_id`, so a double
//! click is the same event and the desk counts it once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::deliver::{now_ms, secret_bytes};
use super::links::{
    feedback_event_id, form_pairs, slack_signature_ok, Action, Click, LinkCheck, LinkSigner,
};
use crate::codec::{self, Format};
use crate::config::{ChannelSettings, Settings, Topic, TopicNames};
use crate::core::{Event, EventKind, Feedback, Roster};
use crate::telemetry;

/// Slack sends interaction payloads of a few KiB; a message's blocks can
/// make them larger.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Feedback event ids written recently, so a double click is not even
/// written twice (the desk ignores a repeat anyway).
const RECENT: usize = 10_000;

struct App {
    prometheus: Option<PrometheusHandle>,
    roster: Option<Arc<Roster>>,
    signer: Option<LinkSigner>,
    slack_secret: Option<Vec<u8>>,
    producer: Option<FutureProducer>,
    feedback_topic: String,
    /// Origins a Slack `response_url` may have: Slack's, and the configured
    /// API bases (a test's stand-in).
    slack_origins: Vec<String>,
    http: reqwest::Client,
    recent: Mutex<HashSet<String>>,
}

/// Binds `notify.listen` and serves until the task is aborted.
pub async fn serve_http(
    settings: &Settings,
    roster: Option<Arc<Roster>>,
    prometheus: Option<PrometheusHandle>,
    names: &TopicNames,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let f = &settings.notify.feedback;
    let signer = match (&f.link_key, &f.public_url) {
        (Some(k), Some(u)) => Some(LinkSigner::new(&secret_bytes(k), u)),
        _ => None,
    };
    let producer = if f.enabled {
        Some(
            crate::service::client_base(settings)
                .set("enable.idempotence", "true")
                // Feedback is co-partitioned with the events: Kafka's default
                // partitioner, as docs/events.md asks of every producer.
                .set("partitioner", "murmur2_random")
                .set("linger.ms", "0")
                .create::<FutureProducer>()
                .map_err(|e| crate::service::client_error(&e))?,
        )
    } else {
        None
    };
    let mut slack_origins = vec!["https://hooks.slack.com".to_owned()];
    for c in &settings.notify.channels {
        if let ChannelSettings::Slack(s) = c {
            if let Ok(u) = reqwest::Url::parse(&s.api_base) {
                slack_origins.push(u.origin().ascii_serialization());
            }
        }
    }
    let app = Arc::new(App {
        prometheus,
        roster,
        signer,
        slack_secret: f.slack_signing_secret.as_ref().map(secret_bytes),
        producer,
        feedback_topic: names.name(Topic::Feedback).to_owned(),
        slack_origins,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?,
        recent: Mutex::new(HashSet::new()),
    });
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics));
    if f.enabled {
        router = router
            .route("/feedback", get(confirm_link).post(post_link))
            .route("/slack/interactions", post(slack));
    }
    let router = router
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(settings.admin.request_timeout_ms),
        ))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&settings.notify.listen)
        .await
        .map_err(|e| {
            format!(
                "notify HTTP cannot listen on {}: {e}",
                settings.notify.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, feedback = f.enabled, "notify HTTP listening");
    let limits = settings.admin.clone();
    Ok(tokio::spawn(async move {
        crate::service::admin::serve_router(listener, router, &limits).await
    }))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    match &app.prometheus {
        Some(p) => p.render().into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off").into_response(),
    }
}

fn unix_now() -> i64 {
    now_ms() / 1000
}

/// A link's click, expiry and signature from its query or form.
fn link_click(pairs: &[(String, String)]) -> Option<(Click, i64, String)> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let action = Action::parse(get("action")?, get("reason"))?;
    Some((
        Click {
            lead_id: get("lead")?.to_owned(),
            alert_id: get("alert")?.to_owned(),
            rep: get("rep")?.to_owned(),
            action,
        },
        get("exp")?.parse().ok()?,
        get("sig")?.to_owned(),
    ))
}

fn checked_link(
    app: &App,
    pairs: &[(String, String)],
) -> Result<Click, (StatusCode, &'static str)> {
    let Some(signer) = &app.signer else {
        return Err((StatusCode::NOT_FOUND, "email links are not configured"));
    };
    let Some((click, exp, sig)) = link_click(pairs) else {
        telemetry::feedback_refused("malformed");
        return Err((StatusCode::BAD_REQUEST, "this link is incomplete"));
    };
    match signer.verify(&click, exp, &sig, unix_now()) {
        LinkCheck::Valid => Ok(click),
        LinkCheck::Expired => {
            telemetry::feedback_refused("expired");
            Err((StatusCode::GONE, "this link has expired"))
        }
        LinkCheck::BadSignature => {
            telemetry::feedback_refused("bad_signature");
            Err((StatusCode::UNAUTHORIZED, "this link is not valid"))
        }
    }
}

/// `GET /feedback?…`: a page with one button, so a mail scanner that
/// follows links records nothing.
async fn confirm_link(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    let pairs = form_pairs(q.as_deref().unwrap_or(""));
    match checked_link(&app, &pairs) {
        Err((code, why)) => (code, Html(page(why))).into_response(),
        Ok(click) => {
            let fields: String = pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                        html(k),
                        html(v)
                    )
                })
                .collect();
            Html(format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\"><p>Lead <b>{}</b>: \
                 mark as <b>{}</b>?</p><form method=\"post\" action=\"/feedback\">{fields}\
                 <button type=\"submit\">Confirm</button></form></body></html>",
                html(&click.lead_id),
                html(&click.action.past_tense())
            ))
            .into_response()
        }
    }
}

/// `POST /feedback` (a form of the link's fields): records the click.
async fn post_link(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let pairs = form_pairs(&String::from_utf8_lossy(&body));
    let click = match checked_link(&app, &pairs) {
        Ok(c) => c,
        Err((code, why)) => return (code, Html(page(why))).into_response(),
    };
    if let Err(refused) = check_reason(&app, &click.action) {
        return refused.into_response();
    }
    match record(&app, &click, "email").await {
        Ok(()) => Html(page(&format!(
            "Thanks: lead {} is marked {}.",
            click.lead_id,
            click.action.past_tense()
        )))
        .into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// A rejection's reason must be one of the roster's.
fn check_reason(app: &App, action: &Action) -> Result<(), (StatusCode, &'static str)> {
    if let Action::Reject(r) = action {
        let known = app
            .roster
            .as_deref()
            .is_some_and(|ro| ro.rejection_reasons.iter().any(|x| x == r));
        if !known {
            telemetry::feedback_refused("unknown_reason");
            return Err((StatusCode::BAD_REQUEST, "unknown rejection reason"));
        }
    }
    Ok(())
}

/// `POST /slack/interactions`: a button press or a reason picked.
async fn slack(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &app.slack_secret else {
        return (StatusCode::NOT_FOUND, "Slack is not configured").into_response();
    };
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if !slack_signature_ok(
        secret,
        h("x-slack-request-timestamp"),
        &body,
        h("x-slack-signature"),
        unix_now(),
    ) {
        telemetry::feedback_refused("bad_signature");
        tracing::warn!("notify: Slack request with a bad or stale signature refused");
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let pairs = form_pairs(&String::from_utf8_lossy(&body));
    let Some(payload) = pairs
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Value>(v).ok())
    else {
        telemetry::feedback_refused("malformed");
        return (StatusCode::BAD_REQUEST, "no payload").into_response();
    };
    let Some(action) = payload["actions"].get(0) else {
        return StatusCode::OK.into_response();
    };
    let action_id = action["action_id"].as_str().unwrap_or("");
    let (act, value) = match action_id {
        "contacted" | "accept" => (
            Action::parse(action_id, None),
            action["value"].as_str().unwrap_or("").to_owned(),
        ),
        "reject" => {
            let v = action["selected_option"]["value"].as_str().unwrap_or("");
            match v.split_once('|') {
                Some((reason, rest)) => (Action::parse("reject", Some(reason)), rest.to_owned()),
                None => (None, String::new()),
            }
        }
        // Link buttons (open lead, open CRM) also report a click.
        _ => return StatusCode::OK.into_response(),
    };
    let Some(click) = act.and_then(|a| Click::from_button(&value, a)) else {
        telemetry::feedback_refused("malformed");
        return (StatusCode::BAD_REQUEST, "unknown action").into_response();
    };
    let user = payload["user"]["id"].as_str().unwrap_or("").to_owned();
    // The rep who clicked, when the roster knows their Slack id.
    let rep = app
        .roster
        .as_deref()
        .and_then(|r| r.rep_by_slack_user(&user))
        .map_or_else(|| click.rep.clone(), |r| r.id.to_string());
    let click = Click { rep, ..click };
    if let Err(refused) = check_reason(&app, &click.action) {
        return refused.into_response();
    }
    if let Err(refused) = record(&app, &click, "slack").await {
        return refused.into_response();
    }
    if let Some(url) = payload["response_url"].as_str() {
        update_message(&app, url, &payload["message"], &click, &user).await;
    }
    StatusCode::OK.into_response()
}

/// Replaces the message's buttons with who acted, through `response_url`.
async fn update_message(app: &App, url: &str, message: &Value, click: &Click, user: &str) {
    let allowed = reqwest::Url::parse(url).is_ok_and(|u| {
        app.slack_origins
            .contains(&u.origin().ascii_serialization())
    });
    if !allowed {
        tracing::warn!("notify: Slack response_url outside Slack's origin; not followed");
        return;
    }
    let mut blocks: Vec<Value> = message["blocks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b["block_id"] != "leadpulse_feedback")
        .collect();
    let who = if user.is_empty() {
        click.rep.clone()
    } else {
        format!("<@{user}>")
    };
    let text = format!(
        ":white_check_mark: Marked *{}* by {who}",
        click.action.past_tense()
    );
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    let body = json!({"replace_original": true, "text": text, "blocks": blocks});
    let req = app
        .http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Err(e) = req.send().await {
        tracing::warn!(
            timeout = e.is_timeout(),
            "notify: could not update the Slack message"
        );
    }
}

/// Writes the click as a feedback event and waits for the broker.
async fn record(
    app: &App,
    click: &Click,
    via: &'static str,
) -> Result<(), (StatusCode, &'static str)> {
    let Some(producer) = &app.producer else {
        return Err((StatusCode::NOT_FOUND, "feedback is off"));
    };
    let event_id = feedback_event_id(&click.alert_id, &click.action, &click.rep);
    let reason_label = match &click.action {
        Action::Reject(r) => app
            .roster
            .as_deref()
            .map_or("other", |ro| ro.reason_label(r))
            .to_owned(),
        _ => String::new(),
    };
    if app.recent.lock().expect("not poisoned").contains(&event_id) {
        telemetry::feedback_click(click.action.name(), &reason_label, via, true);
        return Ok(());
    }
    let feedback = match &click.action {
        Action::Contacted => Feedback::Contacted,
        Action::Accept => Feedback::Accepted,
        Action::Reject(r) => Feedback::Rejected { reason: r.clone() },
    };
    let event = Event {
        event_id: event_id.clone(),
        lead_id: click.lead_id.clone(),
        occurred_at: now_ms(),
        company_domain: None,
        account_id: None,
        kind: EventKind::Feedback {
            feedback,
            rep_id: Some(click.rep.clone()),
        },
    };
    let bytes = codec::encode_event(&event, Format::Json);
    let record = FutureRecord::to(&app.feedback_topic)
        .key(&click.lead_id)
        .payload(&bytes)
        .headers(
            rdkafka::message::OwnedHeaders::new().insert(rdkafka::message::Header {
                key: "content-type",
                value: Some("application/json"),
            }),
        );
    match producer.send(record, Duration::from_secs(10)).await {
        Ok(_) => {
            let mut recent = app.recent.lock().expect("not poisoned");
            if recent.len() >= RECENT {
                recent.clear();
            }
            recent.insert(event_id);
            drop(recent);
            telemetry::feedback_click(click.action.name(), &reason_label, via, false);
            tracing::info!(
                action = click.action.name(),
                via,
                "notify: feedback recorded"
            );
            Ok(())
        }
        Err((e, _)) => {
            tracing::warn!(error = %e, "notify: cannot write feedback");
            Err((StatusCode::SERVICE_UNAVAILABLE, "try again in a moment"))
        }
    }
}

fn page(text: &str) -> String {
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{}</p></body></html>",
        html(text)
    )
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
