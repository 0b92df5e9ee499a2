//! A challenger model scored in shadow: every lead event the champion
//! applies is applied, in the same order and on the same event time, to a
//! second per-lead state under the challenger's model. Its alerts are only
//! compared, never routed or notified; nothing of the champion's state or
//! outputs depends on it.
//!
//! The shadow state is a [`LeadStore`] of its own, kept beside the
//! champion's, and written to the changelog under [`SHADOW_KEY_PREFIX`], so
//! it survives crashes and follows partitions as the champion's does.
//! `replay --shadow` and the service both step it only through
//! [`Shadow::apply`], so `replay` stays the oracle for `shadow-alerts`.

use std::sync::Arc;

use super::desk::Desk;
use super::event::Event;
use super::model::Model;
use super::outcome::Alert;
use super::routing::RoutingState;
use super::scorer::Scorer;
use super::store::LeadStore;

/// The changelog key prefix of a lead's shadow state. Lead ids never start
/// with a NUL byte.
pub const SHADOW_KEY_PREFIX: &str = "\u{0}shadow\u{0}";

/// The changelog key of `lead_id`'s shadow state.
pub fn shadow_key(lead_id: &str) -> String {
    format!("{SHADOW_KEY_PREFIX}{lead_id}")
}

/// The challenger: its model's scorer and decisions, without a roster, so
/// its alerts have no owner and start no sales timers.
#[derive(Debug, Clone)]
pub struct Shadow {
    desk: Desk,
}

/// What one event did under the challenger.
#[derive(Debug, Default)]
pub struct ShadowStep {
    /// The challenger's alert, if the event made the lead cross its
    /// threshold.
    pub alert: Option<Alert>,
    /// How the two models' alerts on this event compare; `None` when
    /// neither alerted.
    pub agreement: Option<Agreement>,
}

/// How the champion's and the challenger's alerts on one event compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Both alerted on the event.
    Both,
    /// Only the champion alerted.
    ChampionOnly,
    /// Only the challenger alerted.
    ChallengerOnly,
}

impl Agreement {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Agreement::Both => "both",
            Agreement::ChampionOnly => "champion_only",
            Agreement::ChallengerOnly => "challenger_only",
        }
    }
}

impl Shadow {
    pub fn new(model: Arc<Model>) -> Self {
        Shadow {
            desk: Desk::new(Scorer::new(model), None),
        }
    }

    pub fn scorer(&self) -> &Scorer {
        self.desk.scorer()
    }

    /// Applies a lead event the champion has just applied to the lead's
    /// shadow state in `store`; `champion_alerted` says whether the
    /// champion alerted on it. Re-sent events are recognised by the
    /// challenger's own `[dedup]`, as the champion's by its.
    pub fn apply(
        &self,
        store: &mut LeadStore,
        event: &Event,
        champion_alerted: bool,
    ) -> ShadowStep {
        let staged = store.stage(&event.lead_id);
        // No roster: routing is never consulted, its balance is not kept.
        let mut routing = RoutingState::default();
        let outcome = self.desk.apply(&mut routing, &mut staged.state, event);
        staged.score_changed |= outcome.score_changed;
        let agreement = match (champion_alerted, outcome.alert.is_some()) {
            (true, true) => Some(Agreement::Both),
            (true, false) => Some(Agreement::ChampionOnly),
            (false, true) => Some(Agreement::ChallengerOnly),
            (false, false) => None,
        };
        ShadowStep {
            alert: outcome.alert,
            agreement,
        }
    }
}

/// Alerts per model and their agreement over a batch or a replay (the
/// shadow metrics' source).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShadowTally {
    pub champion_alerts: u64,
    pub challenger_alerts: u64,
    /// Events on which both alerted.
    pub both: u64,
    pub champion_only: u64,
    pub challenger_only: u64,
}

impl ShadowTally {
    pub fn observe(&mut self, step: &ShadowStep) {
        match step.agreement {
            None => {}
            Some(Agreement::Both) => {
                self.both += 1;
                self.champion_alerts += 1;
                self.challenger_alerts += 1;
            }
            Some(Agreement::ChampionOnly) => {
                self.champion_only += 1;
                self.champion_alerts += 1;
            }
            Some(Agreement::ChallengerOnly) => {
                self.challenger_only += 1;
                self.challenger_alerts += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{event, view, MODEL};

    fn challenger() -> Shadow {
        let text = MODEL
            .replace("version = \"unit-1\"", "version = \"unit-2\"")
            .replace("score_at_least = 50", "score_at_least = 35")
            .replace("require = [\"email\"]", "require = []");
        Shadow::new(Arc::new(Model::from_toml("unit.toml", &text).unwrap()))
    }

    #[test]
    fn the_challenger_alerts_on_its_own_state_and_compares_on_the_same_event() {
        let shadow = challenger();
        let mut store = LeadStore::default();
        let first = event(1, "L-1", 1_000, view("https://x.io/pricing"));
        let step = shadow.apply(&mut store, &first, false);
        assert!(step.alert.is_none() && step.agreement.is_none());
        let second = event(2, "L-1", 2_000, view("https://x.io/pricing"));
        let step = shadow.apply(&mut store, &second, false);
        let alert = step
            .alert
            .as_ref()
            .expect("40 points pass the challenger's 35");
        assert_eq!(&*alert.model_version, "unit-2");
        assert_eq!(step.agreement, Some(Agreement::ChallengerOnly));
        let mut tally = ShadowTally::default();
        tally.observe(&step);
        assert_eq!((tally.challenger_alerts, tally.champion_alerts), (1, 0));
        let again = shadow.apply(&mut store, &second, true);
        assert!(again.alert.is_none(), "a re-sent event does nothing");
        assert_eq!(again.agreement, Some(Agreement::ChampionOnly));
        assert_eq!(store.staged_len(), 1);
        assert!(store.get("L-1").is_some_and(|l| l.alerted));
    }
}
