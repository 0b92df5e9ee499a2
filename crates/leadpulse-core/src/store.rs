//! Lead state for one partition, updated in place, with the leads each open
//! Kafka transaction changed, so their records can be published with it.

use compact_str::CompactString;

use super::lead::LeadState;
use super::routing::RoutingState;

/// A lead id as a table key: ids of up to 24 bytes are stored inline.
pub type LeadId = CompactString;

/// A map keyed by lead id: hashbrown with foldhash, seeded per process
/// (lead ids are chosen by producers, so the hasher is keyed).
pub type LeadMap<V> = hashbrown::HashMap<LeadId, V>;

use std::hash::BuildHasher;

/// The changelog key of a partition's routing balance. Lead ids never
/// start with a NUL byte.
pub const ROUTING_KEY: &str = "\u{0}routing";

/// The leads of one input partition, and its routing balance.
///
/// States are changed in place: an event does not copy its lead's state.
/// The store remembers which leads the open transaction changed, so that
/// their changelog and score records go out in it. An aborted transaction
/// cannot be undone here; the caller drops the store and restores it from
/// the changelog, which holds exactly the committed states (what Kafka
/// Streams does under exactly-once). Aborts are rare; copying every lead's
/// state on its first event in each transaction was not.
///
/// States are boxed together with their lead id: the table holds one
/// pointer per lead, so its spare capacity (up to half the slots, right
/// after it grows) costs 9 bytes a slot at millions of leads.
#[derive(Debug, Default)]
pub struct LeadStore {
    leads: hashbrown::HashTable<Box<Slot>>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Leads changed in the open transaction, in the order first changed.
    changed: Vec<LeadId>,
    routing: RoutingState,
    routing_staged: Option<RoutingState>,
}

#[derive(Debug)]
struct Slot {
    id: LeadId,
    staged: Staged,
}

/// A lead's state, and what the open transaction changed about it.
#[derive(Debug, Clone, Default)]
pub struct Staged {
    /// The state as of the latest event applied.
    pub state: LeadState,
    /// Whether the score record must be republished.
    pub score_changed: bool,
    /// Whether the handoff record must be republished.
    pub handoff_changed: bool,
    /// Whether the open transaction changed this lead at all.
    changed: bool,
}

impl LeadStore {
    /// A lead's state for change in the open transaction; a new lead starts
    /// from the default state.
    pub fn stage(&mut self, lead_id: &str) -> &mut Staged {
        stage_in(&mut self.leads, &self.hasher, &mut self.changed, lead_id)
    }

    /// A lead's staged state together with the partition's staged routing
    /// balance, for a change that may route the lead.
    pub fn stage_routed(&mut self, lead_id: &str) -> (&mut Staged, &mut RoutingState) {
        let routing = self
            .routing_staged
            .get_or_insert_with(|| self.routing.clone());
        let staged = stage_in(&mut self.leads, &self.hasher, &mut self.changed, lead_id);
        (staged, routing)
    }

    fn slot(&self, lead_id: &str) -> Option<&Slot> {
        let hash = self.hasher.hash_one(lead_id);
        self.leads.find(hash, |s| s.id == lead_id).map(|s| &**s)
    }

    /// The routing balance changed in the open transaction, if it did.
    pub fn staged_routing(&self) -> Option<&RoutingState> {
        self.routing_staged.as_ref().filter(|r| **r != self.routing)
    }

    /// Puts the routing balance read back from the changelog.
    pub fn restore_routing(&mut self, routing: RoutingState) {
        self.routing = routing;
    }

    /// The leads changed in the open transaction, in the order first changed.
    pub fn staged(&self) -> impl Iterator<Item = (&LeadId, &Staged)> {
        self.changed.iter().map(|id| {
            let slot = self.slot(id).expect("changed leads have state");
            (id, &slot.staged)
        })
    }

    /// The number of leads changed in the open transaction.
    pub fn staged_len(&self) -> usize {
        self.changed.len()
    }

    /// The transaction committed: its changes are the committed state now.
    pub fn commit(&mut self) {
        for id in self.changed.drain(..) {
            let hash = self.hasher.hash_one(id.as_str());
            if let Some(slot) = self.leads.find_mut(hash, |s| s.id == id) {
                let s = &mut slot.staged;
                s.changed = false;
                s.score_changed = false;
                s.handoff_changed = false;
            }
        }
        if let Some(r) = self.routing_staged.take() {
            self.routing = r;
        }
    }

    /// True when the open transaction changed something here, so an abort
    /// must rebuild this store from the changelog.
    pub fn is_dirty(&self) -> bool {
        !self.changed.is_empty() || self.routing_staged.is_some()
    }

    /// Reserves room for `additional` more leads (before a restore).
    pub fn reserve(&mut self, additional: usize) {
        let hasher = &self.hasher;
        self.leads
            .reserve(additional, |s| hasher.hash_one(s.id.as_str()));
    }

    /// Puts a lead's state read back from the changelog.
    pub fn restore(&mut self, lead_id: &str, state: LeadState) {
        slot_in(&mut self.leads, &self.hasher, lead_id).staged = Staged {
            state,
            ..Staged::default()
        };
    }

    /// Removes a lead (a changelog tombstone).
    pub fn forget(&mut self, lead_id: &str) {
        let hash = self.hasher.hash_one(lead_id);
        if let Ok(entry) = self.leads.find_entry(hash, |s| s.id == lead_id) {
            entry.remove();
        }
    }

    /// A lead's state as of the latest event applied; the committed state
    /// whenever no transaction is open.
    pub fn get(&self, lead_id: &str) -> Option<&LeadState> {
        self.slot(lead_id).map(|s| &s.staged.state)
    }

    /// The number of leads with state.
    pub fn len(&self) -> usize {
        self.leads.len()
    }

    /// True when no lead has state.
    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
    }

    /// Every lead.
    /// Every lead and its state, consuming the store.
    pub fn into_leads(self) -> impl Iterator<Item = (LeadId, LeadState)> {
        self.leads.into_iter().map(|s| (s.id, s.staged.state))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&LeadId, &LeadState)> {
        self.leads.iter().map(|s| (&s.id, &s.staged.state))
    }
}

/// A lead's slot, made with the default state if the lead is new.
fn slot_in<'a>(
    leads: &'a mut hashbrown::HashTable<Box<Slot>>,
    hasher: &hashbrown::DefaultHashBuilder,
    lead_id: &str,
) -> &'a mut Slot {
    leads
        .entry(
            hasher.hash_one(lead_id),
            |s| s.id == lead_id,
            |s| hasher.hash_one(s.id.as_str()),
        )
        .or_insert_with(|| {
            Box::new(Slot {
                id: LeadId::from(lead_id),
                staged: Staged::default(),
            })
        })
        .into_mut()
}

/// A lead's state for change, listed once as changed in the open
/// transaction. Takes the store's fields so that `stage_routed` can hold
/// the routing balance at the same time with one table look-up.
fn stage_in<'a>(
    leads: &'a mut hashbrown::HashTable<Box<Slot>>,
    hasher: &hashbrown::DefaultHashBuilder,
    changed: &mut Vec<LeadId>,
    lead_id: &str,
) -> &'a mut Staged {
    let slot = &mut slot_in(leads, hasher, lead_id).staged;
    if !slot.changed {
        slot.changed = true;
        changed.push(LeadId::from(lead_id));
    }
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_leads_are_listed_once_until_commit() {
        let mut store = LeadStore::default();
        store.stage("L-1").state.alerts = 1;
        store.stage("L-2").score_changed = true;
        store.stage("L-1").state.alerts = 2;
        let changed: Vec<_> = store
            .staged()
            .map(|(id, s)| (id.to_string(), s.state.alerts))
            .collect();
        assert_eq!(changed, [("L-1".to_string(), 2), ("L-2".to_string(), 0)]);
        assert!(store.is_dirty());
        store.commit();
        assert_eq!(store.staged_len(), 0);
        assert!(!store.is_dirty());
        assert_eq!(store.get("L-1").unwrap().alerts, 2);
        assert!(store.stage("L-2").state.alerts == 0 && !store.stage("L-2").score_changed);
    }

    #[test]
    fn long_lead_ids_are_kept_whole() {
        let mut store = LeadStore::default();
        let id = "lead-with-an-id-longer-than-twenty-four-bytes@example.com";
        store.stage(id).state.alerts = 3;
        store.commit();
        assert_eq!(store.get(id).unwrap().alerts, 3);
        assert_eq!(store.iter().next().unwrap().0.as_str(), id);
    }
}
