//! What marketing ops run on files, not on a live broker: `replay` (the
//! same core as `run`, so it is the oracle), the `replay --report`
//! backtest, the sales check-in report with its inputs, and `model suggest`
//! (points learned from the outcomes).

pub mod backtest;
pub mod replay;
pub mod report;
pub mod report_input;
pub mod suggest;
