//! What the integration tests share: the broker and deployments under test,
//! the service as a child process, input datasets, reading committed
//! outputs, the replay oracle, metrics, the contract tests' Python and the
//! schema registry.

mod broker;
mod deployment;
mod input;
mod metrics;
mod oracle;
mod output;
mod python;
mod registry;
mod service;

pub use broker::*;
pub use deployment::*;
pub use input::*;
pub use metrics::*;
pub use oracle::*;
pub use output::*;
pub use python::*;
pub use registry::*;
pub use service::*;
