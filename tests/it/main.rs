//! leadpulse's integration tests, in one binary so librdkafka is linked
//! once. Each module is one area (`e2e`, `faults`, `ops`, …); `support` is
//! what they share. Broker tests need `KAFKA_BOOTSTRAP` and fail, never
//! skip, without it (`scripts/test.sh` starts a broker).

mod support;

mod account_routing;
mod accounts;
mod admin_http;
mod architecture;
mod config_check;
mod contracts;
mod dedup;
mod docs_examples;
mod e2e;
mod faults;
mod handoff_stage;
mod hanging_txn;
mod model_e2e;
mod model_suggest;
mod newcomer;
mod notify;
mod notify_account;
mod notify_watch;
mod ops;
mod outage;
mod packaging;
mod poison;
mod refresh_e2e;
mod report;
mod routing_properties;
mod sales_e2e;
mod schema_registry;
mod scoring_properties;
mod security;
mod shadow;
mod visitors;
mod watches;
