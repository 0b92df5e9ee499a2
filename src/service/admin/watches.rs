//! `POST /watches`, `GET /watches`, `GET` and `DELETE /watches/{id}`: the
//! reps' watches, behind the admin token like `/leads/{id}`.
//!
//! Writes go to the `lead-watches` topic, never to the loop: every
//! instance (this one included) picks them up from there. Reads answer
//! from this instance's copy of the table. The service sets `created_at`
//! and `deleted_at` from its clock, so a watch applies to events from its
//! creation on, in `run` and in `replay` alike (docs/sales-loop.md).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{error, App};
use crate::codec::WatchJson;
use crate::core::{Millis, Watch};
use crate::service::watches::{check_rep, new_watch_id, WatchWriter};

#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    /// Only this rep's watches.
    rep: Option<String>,
    /// Deleted watches too.
    #[serde(default)]
    include_deleted: bool,
}

pub(super) async fn list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    let Some(table) = app.status.watches() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the watch table has not been read yet",
        );
    };
    let watches: Vec<WatchJson> = table
        .iter()
        .filter(|w| q.rep.as_deref().is_none_or(|r| *w.rep == *r))
        .filter(|w| q.include_deleted || w.deleted_at.is_none())
        .map(WatchJson::of)
        .collect();
    Json(json!({ "watches": watches })).into_response()
}

pub(super) async fn get_one(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(table) = app.status.watches() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the watch table has not been read yet",
        );
    };
    match table.get(&id) {
        Some(w) => Json(WatchJson::of(w)).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no watch `{id}`")),
    }
}

pub(super) async fn create(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let json = match WatchJson::parse(&body) {
        Ok(j) => j,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    for (field, set) in [
        ("created_at", json.created_at.is_some()),
        ("deleted_at", json.deleted_at.is_some()),
    ] {
        if set {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("`{field}` is set by leadpulse, not by the request"),
            );
        }
    }
    let watch = match json.into_watch(|| new_watch_id(&body), wall_clock_ms()) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    if let Err(e) = check_rep(&watch, app.roster.as_deref()) {
        return error(StatusCode::BAD_REQUEST, &e);
    }
    if let Some(table) = app.status.watches() {
        if table.get(&watch.id).is_some() {
            return error(
                StatusCode::CONFLICT,
                &format!(
                    "watch `{}` exists; delete it and create a new one under another id",
                    watch.id
                ),
            );
        }
    }
    match write(&app, &watch).await {
        Ok(()) => (StatusCode::CREATED, Json(WatchJson::of(&watch))).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

pub(super) async fn delete(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(table) = app.status.watches() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the watch table has not been read yet",
        );
    };
    let Some(current) = table.get(&id) else {
        return error(StatusCode::NOT_FOUND, &format!("no watch `{id}`"));
    };
    if current.deleted_at.is_some() {
        return Json(WatchJson::of(current)).into_response();
    }
    let mut deleted = current.clone();
    deleted.deleted_at = Some(wall_clock_ms().max(deleted.created_at));
    match write(&app, &deleted).await {
        Ok(()) => Json(WatchJson::of(&deleted)).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

async fn write(app: &Arc<App>, watch: &Watch) -> Result<(), String> {
    let writer = {
        let mut slot = app.watch_writer.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(Arc::new(WatchWriter::new(&app.settings)?));
        }
        slot.clone().expect("set above")
    };
    writer.put(watch).await
}

fn wall_clock_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
