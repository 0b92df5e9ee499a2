//! `leadpulse notify`: the last mile. Reads `hot-lead-alerts`,
//! `sla-breaches`, `feedback-overdue`, `watch-alerts` and `account-alerts`
//! (read_committed, its own consumer group) and tells the people the
//! roster names (for a watch alert, the watching rep; for an account
//! alert, the account's owner), on Standard Webhooks,
//! Slack, email and Teams; takes their one-click feedback back to
//! `lead-feedback`. Reference: docs/notify.md.
//!
//! # Layout
//! - `notice`, `render`, `plan`, `links`, `offsets`: pure (what a person
//!   is told, each channel's payload, the idempotency keys, signatures,
//!   which offsets may commit), unit-tested.
//! - `deliver`: one attempt on one channel, and the retry policy.
//! - `run`: the consumer loop, dead letters, commits.
//! - `feedback`: the HTTP listener (metrics, Slack interactivity, links).

mod deliver;
mod feedback;
mod links;
mod notice;
mod offsets;
mod plan;
mod render;
mod run;

pub use deliver::{classify_http, webhook_signature, Attempt};
pub use links::{feedback_event_id, slack_signature_ok, Action, Click, LinkSigner};
pub use notice::{delivery_id, Notice, Record};
pub use render::slack_limits;
pub use run::{run, NotifyError, INPUTS};
