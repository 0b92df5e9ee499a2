//! The scoring core: event → lead state → decisions.
//!
//! Pure and deterministic on event time: no clocks, no I/O, no async. The
//! Kafka service (`run`), file replay (`replay`) and the embedded demo all
//! drive this same code, which is why `replay` can serve as the oracle for
//! the service.

pub mod account;
pub mod admit;
pub mod attributes;
pub mod desk;
pub mod event;
pub mod hours;
pub mod lead;
pub mod model;
pub mod outcome;
pub mod partition;
pub mod partitioner;
pub mod refresh;
pub mod routing;
pub mod scorer;
pub mod shadow;
pub mod store;
pub mod tally;
pub mod visitor;
pub mod watch;

pub use account::{
    account_key, default_account_key, AccountAlert, AccountKey, AccountOutcome, AccountReason,
    AccountScore, AccountScorer, AccountState, AccountTrigger, LeadContribution, PersonShare,
    ACCOUNT_KEY_PREFIX,
};
pub use admit::{admit, Rejection};
pub use attributes::Attributes;
pub use desk::Desk;
pub use event::{BounceType, Event, EventKind, EventType, Feedback, Millis, HOUR_MS};
pub use hours::BusinessHours;
pub use lead::{
    Contribution, Disqualification, Handoff, LeadState, SlaStatus, Stage, WatchCooldown, WatchMiss,
    MAX_WINDOW_MATCHES,
};
pub use model::{
    AccountModel, Aggregate, Cap, Decay, EventCondition, EventConditionSpec, Grade, Model,
    ModelError, Refresh, Rule, VisitorLimits, DAY_MS,
};
pub use outcome::{
    Alert, Contact, DisqualifiedBy, EnrichmentHold, FeedbackOverdue, HandoffRecord, LeadScore,
    Outcome, Reason, ReasonKind, Scored, SlaBreach, StageCause, StageChange,
};
pub use partition::{PartitionState, Step};
pub use routing::{
    AccountOwners, Owner, Rep, Roster, RoutingState, Team, DEFAULT_REJECTION_REASONS,
};
pub use scorer::Scorer;
pub use shadow::{shadow_key, Agreement, Shadow, ShadowStep, ShadowTally, SHADOW_KEY_PREFIX};
pub use store::{LeadId, LeadStore, Staged, ROUTING_KEY};
pub use visitor::{Merge, VisitorState, VisitorStore, VISITOR_KEY_PREFIX};
pub use watch::{Target, Watch, WatchAlert, Watches};

#[cfg(test)]
mod account_routing_tests;
#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod desk_tests;
#[cfg(test)]
mod hours_tests;
#[cfg(test)]
mod refresh_tests;
#[cfg(test)]
mod routing_tests;
#[cfg(test)]
pub(crate) mod tests;
