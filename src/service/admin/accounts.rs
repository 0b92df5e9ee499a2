//! `GET /accounts/{key}`: an account's committed score, breadth and top
//! people, like `/leads/{id}`. The key is the record key of
//! `account-scores` (`domain:initech.com`, `id:0015g…`); the account lives
//! in the partition of `lead-accounts` it hashes to, which is the events
//! topic's partition of the same number.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{error, owner_of, App, QUERY_TIMEOUT};
use crate::codec::{self, Format};
use crate::core::partitioner::partition_for_key;
use crate::core::AccountKey;
use crate::service::status::AccountQuery;

pub(super) async fn account(State(app): State<Arc<App>>, Path(key): Path<String>) -> Response {
    let Some(account) = AccountKey::parse(&key) else {
        return error(
            StatusCode::BAD_REQUEST,
            "an account key is `domain:<domain>` or `id:<account_id>`, as on account-scores",
        );
    };
    let s = app.status.snapshot();
    let instance = app.settings.kafka.instance_id();
    if s.partitions == 0 {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not connected to Kafka yet",
        );
    }
    let partition = partition_for_key(key.as_bytes(), s.partitions);
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
                format!("account `{key}` lives in partition {partition}, owned by instance `{o}`")
            }
            None => format!(
                "account `{key}` lives in partition {partition}, not owned by this instance"
            ),
        };
        let body = json!({
            "account_key": key,
            "partition": partition,
            "owner": owner,
            "error": message,
        });
        return (StatusCode::MISDIRECTED_REQUEST, Json(body)).into_response();
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    app.status.query_account(AccountQuery {
        partition,
        account,
        reply,
    });
    match tokio::time::timeout(QUERY_TIMEOUT, answer).await {
        Ok(Ok(Some(score))) => {
            // The record `account-scores` would carry now, and where it lives.
            let mut body: Value =
                serde_json::from_slice(&codec::encode_account_score(&score, Format::Json))
                    .unwrap_or_else(|_| json!({}));
            if let Some(o) = body.as_object_mut() {
                o.insert("partition".into(), json!(partition));
                o.insert("instance".into(), json!(instance));
            }
            Json(body).into_response()
        }
        Ok(Ok(None)) => {
            let body = json!({
                "account_key": key,
                "partition": partition,
                "instance": instance,
                "error": "no committed state for this account (or the model has no [account])",
            });
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
        Ok(Err(_)) | Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the pipeline did not answer in time; retry shortly",
        ),
    }
}
