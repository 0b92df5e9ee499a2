//! The service's configuration: a TOML file layered with `LEADPULSE_…`
//! environment overrides, secrets kept in `secrecy` types, and every check
//! `config check` runs.

mod settings;

pub use settings::*;
