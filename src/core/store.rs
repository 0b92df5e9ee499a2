//! Lead state for one partition, with transactional visibility: changes are
//! staged until the Kafka transaction that carries them commits.

use std::collections::HashMap;

use super::lead::LeadState;
use super::routing::RoutingState;

/// The changelog key of a partition's routing balance. Lead ids never
/// start with a NUL byte.
pub const ROUTING_KEY: &str = "\u{0}routing";

/// The leads of one input partition, and its routing balance.
///
/// Committed states are boxed: the table then holds a key and a pointer per
/// lead, not the whole `LeadState` (a few hundred bytes, mostly the rarely
/// set handoff), so its spare capacity costs little at millions of leads,
/// and a commit moves a state into its existing allocation.
#[derive(Debug, Default)]
pub struct LeadStore {
    committed: HashMap<String, Box<LeadState>>,
    staged: HashMap<String, Staged>,
    routing: RoutingState,
    routing_staged: Option<RoutingState>,
}

/// A lead changed in the open transaction.
#[derive(Debug, Clone)]
pub struct Staged {
    /// The state as it will be once the transaction commits.
    pub state: LeadState,
    /// Whether the score record must be republished.
    pub score_changed: bool,
    /// Whether the handoff record must be republished.
    pub handoff_changed: bool,
}

impl LeadStore {
    /// A lead's state for change in the open transaction; a new lead starts
    /// from the default state.
    pub fn stage(&mut self, lead_id: &str) -> &mut Staged {
        if !self.staged.contains_key(lead_id) {
            // Copy-on-write per transaction: the first event of a lead in a
            // batch copies its committed state (cheap: attributes are
            // shared until changed); later ones reuse the staged copy.
            let state = self
                .committed
                .get(lead_id)
                .map(|s| LeadState::clone(s))
                .unwrap_or_default();
            self.staged.insert(
                lead_id.to_owned(),
                Staged {
                    state,
                    score_changed: false,
                    handoff_changed: false,
                },
            );
        }
        self.staged.get_mut(lead_id).expect("inserted above")
    }

    /// A lead's staged state together with the partition's staged routing
    /// balance, for a change that may route the lead.
    pub fn stage_routed(&mut self, lead_id: &str) -> (&mut Staged, &mut RoutingState) {
        self.stage(lead_id);
        let routing = self
            .routing_staged
            .get_or_insert_with(|| self.routing.clone());
        let staged = self.staged.get_mut(lead_id).expect("staged above");
        (staged, routing)
    }

    /// The routing balance changed in the open transaction, if it did.
    pub fn staged_routing(&self) -> Option<&RoutingState> {
        self.routing_staged.as_ref().filter(|r| **r != self.routing)
    }

    /// Puts the routing balance read back from the changelog.
    pub fn restore_routing(&mut self, routing: RoutingState) {
        self.routing = routing;
    }

    /// The leads changed in the open transaction.
    pub fn staged(&self) -> impl Iterator<Item = (&String, &Staged)> {
        self.staged.iter()
    }

    /// The number of leads changed in the open transaction.
    pub fn staged_len(&self) -> usize {
        self.staged.len()
    }

    /// The transaction committed: its changes become the state.
    pub fn commit(&mut self) {
        for (id, s) in self.staged.drain() {
            match self.committed.get_mut(&id) {
                Some(slot) => **slot = s.state,
                None => {
                    self.committed.insert(id, Box::new(s.state));
                }
            }
        }
        if let Some(r) = self.routing_staged.take() {
            self.routing = r;
        }
    }

    /// The transaction aborted: forget its changes.
    pub fn abort(&mut self) {
        self.staged.clear();
        self.routing_staged = None;
    }

    /// Puts a lead's state read back from the changelog.
    pub fn restore(&mut self, lead_id: String, state: LeadState) {
        self.committed.insert(lead_id, Box::new(state));
    }

    /// Removes a lead (a changelog tombstone).
    pub fn forget(&mut self, lead_id: &str) {
        self.committed.remove(lead_id);
    }

    /// The committed state of a lead.
    pub fn get(&self, lead_id: &str) -> Option<&LeadState> {
        self.committed.get(lead_id).map(|s| &**s)
    }

    /// The number of leads with committed state.
    pub fn len(&self) -> usize {
        self.committed.len()
    }

    /// True when no lead has committed state.
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty()
    }

    /// Every committed lead.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &LeadState)> {
        self.committed.iter().map(|(id, s)| (id, &**s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_changes_are_invisible_until_commit_and_dropped_on_abort() {
        let mut store = LeadStore::default();
        store.stage("L-1").state.alerts = 1;
        assert!(store.get("L-1").is_none());
        store.commit();
        assert_eq!(store.get("L-1").unwrap().alerts, 1);

        store.stage("L-1").state.alerts = 2;
        assert_eq!(
            store.stage("L-1").state.alerts,
            2,
            "staged reads see staged writes"
        );
        store.abort();
        assert_eq!(store.get("L-1").unwrap().alerts, 1);
        assert_eq!(store.staged_len(), 0);
    }
}
