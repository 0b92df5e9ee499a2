//! One partition's share of the job, and the steps every driver takes
//! through it.
//!
//! The service keeps one [`PartitionState`] per assigned partition and
//! `replay` one per murmur2 partition of the deployment it reproduces. Both
//! apply events and fire timers only through these methods, so the order
//! of the steps (stream time, staging, the desk, the timer index) cannot
//! drift between them, and `replay` stays the oracle for `run`.

use std::collections::BTreeSet;

use super::admit::Rejection;
use super::desk::Desk;
use super::event::{Event, Millis};
use super::lead::LeadState;
use super::outcome::Outcome;
use super::scorer::check_state_limits;
use super::store::{LeadId, LeadMap, LeadStore};
use super::visitor::{Merge, VisitorStore};
use super::watch::{WatchAlert, Watches};

/// A partition's leads (with their routing balance), its anonymous
/// visitors, the open SLA and feedback timers of those leads, and the
/// latest event time read on it.
#[derive(Debug)]
pub struct PartitionState {
    store: LeadStore,
    visitors: VisitorStore,
    timers: Timers,
    stream_time: Millis,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState::new(LeadStore::default())
    }
}

/// What one step (an event, or a due timer) did to one lead.
#[derive(Debug)]
pub struct Step<'a> {
    /// What to publish.
    pub outcome: Outcome,
    /// The lead's state after the step.
    pub lead: &'a LeadState,
    /// When the lead was first contacted, before the step; `None` when it
    /// had no handoff (the sales-loop figures count first contacts).
    pub contact_before: Option<Option<Millis>>,
    /// The reps' watches the event met (`core::watch`).
    pub watch_alerts: Vec<WatchAlert>,
    /// A visitor the event linked to its lead, to send to the visitor's
    /// partition on the merges topic (`core::visitor`).
    pub merge: Option<Merge>,
}

impl PartitionState {
    /// A partition holding `store` (restored, or empty), with its timer
    /// index and stream time rebuilt from it.
    pub fn new(store: LeadStore) -> Self {
        let mut p = PartitionState {
            store,
            visitors: VisitorStore::default(),
            timers: Timers::default(),
            stream_time: Millis::MIN,
        };
        p.rebuild();
        p
    }

    pub fn store(&self) -> &LeadStore {
        &self.store
    }

    /// The store, to commit it. Callers that change lead state through it
    /// must [`rebuild`](Self::rebuild) afterwards.
    pub fn store_mut(&mut self) -> &mut LeadStore {
        &mut self.store
    }

    pub fn visitors(&self) -> &VisitorStore {
        &self.visitors
    }

    /// The visitors, to restore or commit them.
    pub fn visitors_mut(&mut self) -> &mut VisitorStore {
        &mut self.visitors
    }

    /// True if the open transaction changed a lead or a visitor.
    pub fn is_dirty(&self) -> bool {
        self.store.is_dirty() || self.visitors.is_dirty()
    }

    /// The open transaction committed: its leads and visitors are the
    /// committed state.
    pub fn commit(&mut self) {
        self.store.commit();
        self.visitors.commit();
    }

    /// An anonymous visitor's event: kept on this (the visitor's)
    /// partition, or, once the visitor identified, a history of one event
    /// for its lead. Moves the stream time, as every event does.
    pub fn visit(&mut self, desk: &Desk, event: &Event) -> Option<Merge> {
        self.stream_time = self.stream_time.max(event.occurred_at);
        let merge = self.visitors.observe(desk.scorer().model(), event);
        self.visitors.expire(self.stream_time);
        merge
    }

    /// A link read from the merges topic, on the visitor's partition: the
    /// history to send to the lead, if the visitor kept any. Event time
    /// does not move: the link's time is the lead partition's.
    pub fn link(
        &mut self,
        desk: &Desk,
        visitor_id: &str,
        lead_id: &str,
        at: Millis,
    ) -> Option<Merge> {
        let limits = desk.scorer().model().visitors;
        self.visitors.link(&limits, visitor_id, lead_id, at)
    }

    /// The partition's leads, for callers that own it to the end.
    pub fn into_store(self) -> LeadStore {
        self.store
    }

    /// The latest event time read on this partition.
    pub fn stream_time(&self) -> Millis {
        self.stream_time
    }

    /// Puts back the stream time of an aborted transaction's start, so its
    /// re-read events are judged as the first time.
    pub fn set_stream_time(&mut self, t: Millis) {
        self.stream_time = t;
    }

    /// Re-reads the timer index from the leads' state, and raises the
    /// stream time to the latest lead update (after a restore).
    pub fn rebuild(&mut self) {
        self.timers = Timers::default();
        let mut latest = Millis::MIN;
        for (id, lead) in self.store.iter() {
            self.timers.update(id, lead);
            latest = latest.max(lead.updated_at);
        }
        self.stream_time = self.stream_time.max(latest);
    }

    /// The earliest open deadline.
    pub fn earliest_deadline(&self) -> Option<Millis> {
        self.timers.earliest()
    }

    /// The earliest open deadline and its lead, if it is due at `now`.
    pub fn next_due(&self, now: Millis) -> Option<(Millis, &str)> {
        self.timers.first().filter(|(t, _)| *t <= now)
    }

    /// The number of leads with an open timer.
    pub fn open_timers(&self) -> usize {
        self.timers.len()
    }

    /// Applies an engagement or feedback event of one of this partition's
    /// leads, unless it would take the lead past its state limits.
    pub fn apply(&mut self, desk: &Desk, event: &Event) -> Result<Step<'_>, Rejection> {
        self.apply_watched(desk, &Watches::default(), event)
    }

    /// [`apply`](Self::apply), then the reps' watches: the alerts of those
    /// the event meets, their cooldowns kept in the lead's state.
    pub fn apply_watched(
        &mut self,
        desk: &Desk,
        watches: &Watches,
        event: &Event,
    ) -> Result<Step<'_>, Rejection> {
        self.check(event)?;
        self.stream_time = self.stream_time.max(event.occurred_at);
        let (staged, routing) = self.store.stage_routed(&event.lead_id);
        let contact_before = first_contact(&staged.state);
        let outcome = desk.apply(routing, &mut staged.state, event);
        staged.score_changed |= outcome.score_changed;
        staged.handoff_changed |= outcome.handoff_changed;
        self.timers.update(&event.lead_id, &staged.state);
        let limits = desk.scorer().model().visitors;
        let merge = match &event.visitor_id {
            Some(visitor_id) if limits.is_on() && staged.state.link_visitor(visitor_id) => {
                Some(Merge::Link {
                    visitor_id: visitor_id.clone(),
                    lead_id: event.lead_id.clone(),
                    identified_at: event.occurred_at,
                })
            }
            _ => None,
        };
        let watch_alerts = if watches.is_empty() {
            Vec::new()
        } else {
            let scorer = desk.scorer();
            watches.fire(event, &mut staged.state, |lead| {
                scorer.explain_at(lead, lead.updated_at)
            })
        };
        self.visitors.expire(self.stream_time);
        Ok(Step {
            outcome,
            lead: &staged.state,
            contact_before,
            watch_alerts,
            merge,
        })
    }

    /// Refuses an event that would take its lead past the state limits.
    pub fn check(&self, event: &Event) -> Result<(), Rejection> {
        if event.is_anonymous() {
            return Ok(());
        }
        match self.store.get(&event.lead_id) {
            Some(lead) => check_state_limits(lead, event),
            None => check_state_limits(&LeadState::default(), event),
        }
    }

    /// Fires the earliest timer due at `now`, if any, and returns its lead
    /// with what it did. A timer whose lead no longer has a deadline (it
    /// was met since) is dropped.
    pub fn fire_next(&mut self, desk: &Desk, now: Millis) -> Option<(LeadId, Step<'_>)> {
        let (lead_id, deadline) = loop {
            let lead_id = self.timers.pop_due(now)?;
            let lead = self.store.get(&lead_id);
            if let Some(deadline) = lead.and_then(Desk::next_deadline) {
                break (lead_id, deadline);
            }
        };
        let (staged, routing) = self.store.stage_routed(&lead_id);
        let outcome = desk.fire(routing, &lead_id, &mut staged.state, deadline);
        staged.score_changed |= outcome.score_changed;
        staged.handoff_changed |= outcome.handoff_changed;
        // `fire` always moves a due timer on; never spin on one that did not.
        let advanced = Desk::next_deadline(&staged.state) != Some(deadline);
        debug_assert!(advanced, "timer of {lead_id} did not advance");
        if advanced {
            self.timers.update(&lead_id, &staged.state);
        }
        let step = Step {
            outcome,
            lead: &staged.state,
            contact_before: None,
            watch_alerts: Vec::new(),
            merge: None,
        };
        Some((lead_id, step))
    }
}

/// When the lead was first contacted, before an event is applied.
fn first_contact(lead: &LeadState) -> Option<Option<Millis>> {
    lead.handoff.as_ref().map(|h| h.first_contact_at)
}

/// Open timers of a set of leads, earliest first (ties by lead id), so
/// timers fire in the same order in every driver.
#[derive(Debug, Default)]
struct Timers {
    due: BTreeSet<(Millis, LeadId)>,
    by_lead: LeadMap<Millis>,
}

impl Timers {
    /// Re-reads a lead's next deadline after its state changed.
    fn update(&mut self, lead_id: &str, lead: &LeadState) {
        let next = Desk::next_deadline(lead);
        // Most leads never have a timer: no look-up for them.
        if next.is_none() && self.by_lead.is_empty() {
            return;
        }
        if self.by_lead.get(lead_id).copied() == next {
            return;
        }
        if let Some(old) = self.by_lead.remove(lead_id) {
            self.due.remove(&(old, LeadId::from(lead_id)));
        }
        if let Some(next) = next {
            self.due.insert((next, LeadId::from(lead_id)));
            self.by_lead.insert(lead_id.into(), next);
        }
    }

    fn earliest(&self) -> Option<Millis> {
        self.due.first().map(|(t, _)| *t)
    }

    fn first(&self) -> Option<(Millis, &str)> {
        self.due.first().map(|(t, id)| (*t, id.as_str()))
    }

    /// Removes and returns a lead whose deadline is at or before `now`.
    fn pop_due(&mut self, now: Millis) -> Option<LeadId> {
        if self.earliest()? > now {
            return None;
        }
        let (_, id) = self.due.pop_first()?;
        self.by_lead.remove(id.as_str());
        Some(id)
    }

    fn len(&self) -> usize {
        self.by_lead.len()
    }
}
