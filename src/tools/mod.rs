//! Developer tools: a deterministic synthetic event stream, the generator
//! to Kafka, the whole service on an in-process cluster, and a simulated
//! sales team.

pub mod demo;
pub mod generate;
pub mod produce;
pub mod simulate;
