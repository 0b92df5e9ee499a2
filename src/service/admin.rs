//! The admin HTTP edge: `/metrics`, `/healthz`, `/readyz`, `/leads/{id}`
//! and `/accounts/{key}`, served by axum on a small runtime of its own thread, so
//! nothing here can slow the Kafka loop down.
//!
//! It reads the pipeline only through [`Status`]: readiness from its
//! snapshot, leads by asking the loop, which answers from committed state.
//!
//! `/metrics` and the probes are open; `/leads/{id}` and `/accounts/{key}`
//! return per-lead data and ask for `admin.token` (loopback clients need none when no token is
//! set). Timeouts, a connection cap and a body limit keep clients from
//! holding descriptors or memory: see [`server`] and docs/config.md.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::consumer::{BaseConsumer, Consumer};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::codec::{self, Format};
use crate::config::Settings;
use crate::core::partitioner::partition_for_key;
use crate::core::Roster;
use crate::service::status::{LeadQuery, Status};
use crate::telemetry;

mod accounts;
mod server;
mod watches;

pub(crate) use server::serve as serve_router;

/// How long `/leads/{id}` waits for the loop (busy with a restore, say).
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

struct App {
    status: Arc<Status>,
    prometheus: PrometheusHandle,
    settings: Settings,
    /// A client for describing the consumer group, made on first use.
    group_reader: Mutex<Option<Arc<BaseConsumer>>>,
    /// Watches name roster reps: `POST /watches` checks them against it.
    roster: Option<Arc<Roster>>,
    /// The producer of `lead-watches` records, made on first use.
    watch_writer: Mutex<Option<Arc<crate::service::watches::WatchWriter>>>,
}

/// Binds `settings.admin.listen` and serves on a new thread. Returns the
/// bound address (useful with port 0).
pub fn spawn(
    settings: &Settings,
    status: Arc<Status>,
    prometheus: PrometheusHandle,
) -> std::io::Result<SocketAddr> {
    spawn_with_roster(settings, status, prometheus, None)
}

/// [`spawn`], checking the reps of new watches against `roster`.
pub fn spawn_with_roster(
    settings: &Settings,
    status: Arc<Status>,
    prometheus: PrometheusHandle,
    roster: Option<Arc<Roster>>,
) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(&settings.admin.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App {
        status,
        prometheus,
        settings: settings.clone(),
        group_reader: Mutex::new(None),
        roster,
        watch_writer: Mutex::new(None),
    });
    let limits = settings.admin.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("admin-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "admin HTTP cannot listen");
                        return;
                    }
                };
                server::serve(listener, router(app), &limits).await;
            })
        })?;
    if settings.admin.token.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "no admin.token: /leads/{{id}} answers only loopback clients on this address"
        );
    }
    tracing::info!(%addr, "admin HTTP listening");
    Ok(addr)
}

fn router(app: Arc<App>) -> Router {
    let limits = &app.settings.admin;
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    let leads = Router::new()
        .route("/leads/{id}", get(lead))
        .route("/accounts/{key}", get(accounts::account))
        .route("/watches", get(watches::list).post(watches::create))
        .route(
            "/watches/{id}",
            get(watches::get_one).delete(watches::delete),
        )
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(leads)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .with_state(app)
}

/// Lets a request for per-lead data through with the bearer token, or,
/// when no token is configured, from loopback only.
async fn authorize(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let token = app.settings.admin.token.as_ref();
    if allowed(token, request.headers(), &peer) {
        return next.run(request).await;
    }
    let message = if token.is_some() {
        "send the admin token: `Authorization: Bearer <admin.token>`"
    } else {
        "per-lead data is served to loopback clients only unless admin.token is set"
    };
    let mut response = error(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"leadpulse admin\""),
    );
    response
}

/// The token, compared in constant time (its length is not secret), or
/// no token and a loopback peer.
fn allowed(token: Option<&SecretString>, headers: &HeaderMap, peer: &SocketAddr) -> bool {
    let Some(token) = token else {
        return server::is_loopback(peer);
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, sent)| sent.trim());
    sent.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(token.expose_secret().as_bytes())))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    telemetry::ready(app.status.snapshot().ready());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.prometheus.render(),
    )
        .into_response()
}

/// Liveness: the process answers. A fatal Kafka error ends the process
/// instead of turning this red, so the orchestrator restarts it either way.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: in the group, every assigned partition restored, not stopping.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let s = app.status.snapshot();
    let ready = s.ready();
    telemetry::ready(ready);
    let restoring: serde_json::Map<String, Value> = s
        .restoring
        .iter()
        .map(|(p, n)| (p.to_string(), json!(n)))
        .collect();
    let body = json!({
        "ready": ready,
        "joined": s.joined,
        "stopping": s.stopping,
        "partitions": s.owned,
        "restoring": restoring,
        "leads": s.leads,
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn lead(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let s = app.status.snapshot();
    let instance = app.settings.kafka.instance_id();
    if s.partitions == 0 {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not connected to Kafka yet",
        );
    }
    let partition = partition_for_key(id.as_bytes(), s.partitions);
    if s.restoring.contains_key(&partition) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("partition {partition} is being restored; retry shortly"),
        );
    }
    if !s.owned.contains(&partition) {
        let owner = owner_of(&app, partition).await;
        let message = match &owner {
            Some(o) => {
                format!("lead `{id}` lives in partition {partition}, owned by instance `{o}`")
            }
            None => {
                format!("lead `{id}` lives in partition {partition}, not owned by this instance")
            }
        };
        let body = json!({
            "lead_id": id,
            "partition": partition,
            "owner": owner,
            "error": message,
        });
        return (StatusCode::MISDIRECTED_REQUEST, Json(body)).into_response();
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    app.status.query(LeadQuery {
        partition,
        lead_id: id.clone(),
        reply,
    });
    match tokio::time::timeout(QUERY_TIMEOUT, answer).await {
        Ok(Ok(Some(view))) => {
            let mut body: Value =
                serde_json::from_slice(&codec::encode_score(&view.score, Format::Json))
                    .unwrap_or_else(|_| json!({}));
            if let Some(o) = body.as_object_mut() {
                o.insert("alerts".into(), json!(view.alerts));
                o.insert("company_domain".into(), json!(view.company_domain));
                o.insert("account_id".into(), json!(view.account_id));
                o.insert("stage".into(), json!(view.stage));
                // Owner, deadlines and SLA status of the latest handoff.
                let handoff = view.handoff.as_ref().and_then(|h| {
                    serde_json::from_slice::<Value>(&codec::encode_handoff(h, Format::Json)).ok()
                });
                o.insert("handoff".into(), handoff.unwrap_or(Value::Null));
                o.insert("partition".into(), json!(partition));
                o.insert("instance".into(), json!(instance));
            }
            Json(body).into_response()
        }
        Ok(Ok(None)) => {
            let body = json!({
                "lead_id": id,
                "partition": partition,
                "instance": instance,
                "error": "no committed state for this lead",
            });
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
        Ok(Err(_)) | Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the pipeline did not answer in time; retry shortly",
        ),
    }
}

fn error(code: StatusCode, message: &str) -> Response {
    (code, Json(json!({ "error": message }))).into_response()
}

/// The instance that owns `partition` of the events topic, from the
/// consumer group's description (client ids are `leadpulse-<instance_id>`).
async fn owner_of(app: &Arc<App>, partition: i32) -> Option<String> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let reader = {
            let mut slot = app.group_reader.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = crate::service::reader_config(&app.settings)
                    .create::<BaseConsumer>()
                    .ok()
                    .map(Arc::new);
            }
            slot.clone()?
        };
        let group = &app.settings.kafka.group_id;
        let groups = reader
            .fetch_group_list(Some(group), Duration::from_secs(5))
            .ok()?;
        let topic = &app.settings.topics.events;
        groups
            .groups()
            .iter()
            .flat_map(|g| g.members())
            .find(|m| {
                m.assignment()
                    .and_then(|a| assigned_partitions(a, topic))
                    .is_some_and(|ps| ps.contains(&partition))
            })
            .map(|m| {
                m.client_id()
                    .strip_prefix("leadpulse-")
                    .unwrap_or(m.client_id())
                    .to_owned()
            })
    })
    .await
    .ok()
    .flatten()
}

/// Decodes a consumer-protocol assignment (version, [topic, [partition]],
/// user data) and returns the partitions of `topic`.
fn assigned_partitions(bytes: &[u8], topic: &str) -> Option<Vec<i32>> {
    let mut r = bytes;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, rest) = (r.get(..n)?, r.get(n..)?);
        r = rest;
        Some(head)
    };
    let _version = i16::from_be_bytes(take(2)?.try_into().ok()?);
    let topics = i32::from_be_bytes(take(4)?.try_into().ok()?);
    for _ in 0..topics.max(0) {
        let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
        let name = take(len.max(0) as usize)?.to_vec();
        let n = i32::from_be_bytes(take(4)?.try_into().ok()?);
        let mut partitions = Vec::with_capacity(n.max(0) as usize);
        for _ in 0..n.max(0) {
            partitions.push(i32::from_be_bytes(take(4)?.try_into().ok()?));
        }
        if name == topic.as_bytes() {
            return Some(partitions);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{allowed, assigned_partitions};
    use axum::http::{header, HeaderMap, HeaderValue};
    use secrecy::SecretString;
    use std::net::SocketAddr;

    fn bearer(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn per_lead_data_needs_the_token_or_a_loopback_peer_without_one() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let local6: SocketAddr = "[::1]:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let none = HeaderMap::new();
        for peer in [&local, &local6, &mapped] {
            assert!(allowed(None, &none, peer), "{peer}");
        }
        assert!(!allowed(None, &none, &remote));
        assert!(!allowed(None, &bearer("Bearer anything"), &remote));

        let token = SecretString::from("s3cret-token-0123456789");
        let t = Some(&token);
        for peer in [&local, &remote] {
            assert!(allowed(t, &bearer("Bearer s3cret-token-0123456789"), peer));
            assert!(allowed(t, &bearer("bearer s3cret-token-0123456789"), peer));
            assert!(!allowed(t, &none, peer), "a token is asked of loopback too");
            for wrong in [
                "Bearer s3cret-token-012345678",
                "Bearer s3cret-token-01234567890",
                "Bearer ",
                "Basic s3cret-token-0123456789",
                "s3cret-token-0123456789",
            ] {
                assert!(!allowed(t, &bearer(wrong), peer), "{wrong}");
            }
        }
    }

    #[test]
    fn decodes_a_consumer_protocol_assignment() {
        let mut b = vec![0, 1]; // version 1
        b.extend(2i32.to_be_bytes());
        for (topic, parts) in [("other", vec![9i32]), ("lead-events", vec![0, 3])] {
            b.extend((topic.len() as i16).to_be_bytes());
            b.extend(topic.as_bytes());
            b.extend((parts.len() as i32).to_be_bytes());
            for p in parts {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes()); // no user data
        assert_eq!(assigned_partitions(&b, "lead-events"), Some(vec![0, 3]));
        assert_eq!(assigned_partitions(&b, "missing"), None);
        assert_eq!(assigned_partitions(&b[..7], "lead-events"), None);
    }
}
