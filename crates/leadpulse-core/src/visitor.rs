//! Anonymous visitors: the events a web visitor sends before a form tells
//! who it is, kept per `visitor_id` on the partition that id hashes to,
//! and handed to the lead once it identifies.
//!
//! The hop between the two partitions is a record of the merges topic
//! ([`Merge`]), written in the transaction of the step that caused it:
//!
//! 1. an event of a lead that carries a `visitor_id` the lead has not
//!    linked yet sends a [`Merge::Link`], keyed by the visitor id;
//! 2. the visitor's partition answers it with a [`Merge::History`], keyed
//!    by the lead id: the events it kept, which it forgets, remembering
//!    the lead instead (later anonymous events of the visitor go to the
//!    lead one by one, as histories of one event);
//! 3. the lead's partition applies the history's events as the lead's own,
//!    at their own event times, so caps, `once`, windows, decay and
//!    `[dedup]` treat them as if the lead had sent them.
//!
//! A visitor lives `visitor_ttl_days` of event time after its latest
//! event, and keeps at most `max_events` events (the latest).

use std::collections::BTreeSet;

use super::event::{Event, Millis};
use super::model::{Model, VisitorLimits};
use super::store::{LeadId, LeadMap};

/// Changelog keys of visitors start with this: lead ids never start with
/// a NUL byte, and the routing balance's key is `"\0routing"`.
pub const VISITOR_KEY_PREFIX: &str = "\u{0}visitor\u{0}";

/// The longest `visitor_id` accepted: cookie ids are tens of bytes, and
/// each is a changelog key.
pub const MAX_VISITOR_ID_LEN: usize = 256;

/// The changelog key of a visitor.
pub fn visitor_key(visitor_id: &str) -> String {
    format!("{VISITOR_KEY_PREFIX}{visitor_id}")
}

/// What one anonymous visitor's partition remembers about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VisitorState {
    /// Events kept for the lead it may become, in the order read; each
    /// with an empty `lead_id`. At most `max_events`.
    pub events: Vec<Event>,
    /// Its latest event time (anonymous events and identifies).
    pub last_seen: Millis,
    /// The lead it was identified as, if it was: its later anonymous
    /// events are the lead's.
    pub lead_id: Option<String>,
}

impl VisitorState {
    /// The event time from which the visitor is forgotten.
    pub fn expires_at(&self, limits: &VisitorLimits) -> Millis {
        self.last_seen.saturating_add(limits.ttl)
    }
}

/// A record of the merges topic: the hop from a lead's partition to a
/// visitor's and back.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// `visitor_id` is `lead_id` since `identified_at` (the event time of
    /// the lead's event that said so). Keyed by the visitor id.
    Link {
        visitor_id: String,
        lead_id: String,
        identified_at: Millis,
    },
    /// A visitor's events, to apply as the lead's own (`lead_id` set,
    /// `visitor_id` cleared). Keyed by the lead id.
    History {
        lead_id: String,
        visitor_id: String,
        events: Vec<Event>,
    },
}

impl Merge {
    /// The record key: the partition that must read it.
    pub fn key(&self) -> &str {
        match self {
            Merge::Link { visitor_id, .. } => visitor_id,
            Merge::History { lead_id, .. } => lead_id,
        }
    }
}

/// Whether a visitor keeps an anonymous event for its lead: it counts
/// under some engagement rule, or tells the lead's company or account.
pub fn worth_keeping(model: &Model, event: &Event) -> bool {
    event.company_domain.is_some()
        || event.account_id.is_some()
        || model
            .rules_for(event.kind.event_type())
            .any(|r| r.matches(event))
}

/// The event as its lead's own.
fn as_lead_event(mut event: Event, lead_id: &str) -> Event {
    lead_id.clone_into(&mut event.lead_id);
    event.visitor_id = None;
    event
}

/// A partition's visitors (each with the expiry it is indexed under), an
/// index of when each expires, and those the open transaction changed (a
/// changed visitor that is gone is deleted from the changelog).
#[derive(Debug, Default)]
pub struct VisitorStore {
    visitors: LeadMap<(Millis, VisitorState)>,
    expiry: BTreeSet<(Millis, LeadId)>,
    changed: BTreeSet<LeadId>,
}

impl VisitorStore {
    pub fn len(&self) -> usize {
        self.visitors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visitors.is_empty()
    }

    pub fn get(&self, visitor_id: &str) -> Option<&VisitorState> {
        self.visitors.get(visitor_id).map(|(_, v)| v)
    }

    /// Every visitor, for tests and tallies.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &VisitorState)> {
        self.visitors.iter().map(|(k, (_, v))| (k.as_str(), v))
    }

    /// Puts a restored visitor back (not a change of the open transaction).
    pub fn restore(&mut self, visitor_id: &str, state: VisitorState, limits: &VisitorLimits) {
        self.remove(visitor_id);
        self.insert(visitor_id, state, limits);
    }

    /// Drops a visitor whose changelog record was deleted (restore).
    pub fn forget(&mut self, visitor_id: &str) {
        self.remove(visitor_id);
    }

    fn remove(&mut self, visitor_id: &str) -> Option<(Millis, VisitorState)> {
        let (at, v) = self.visitors.remove(visitor_id)?;
        self.expiry.remove(&(at, LeadId::from(visitor_id)));
        Some((at, v))
    }

    fn insert(&mut self, visitor_id: &str, state: VisitorState, limits: &VisitorLimits) {
        let at = state.expires_at(limits);
        self.expiry.insert((at, visitor_id.into()));
        self.visitors.insert(visitor_id.into(), (at, state));
    }

    /// The visitor's state for change, forgotten first if it expired
    /// at or before `at`.
    fn stage(&mut self, visitor_id: &str, at: Millis) -> VisitorState {
        self.changed.insert(visitor_id.into());
        match self.remove(visitor_id) {
            Some((expires, v)) if expires > at => v,
            _ => VisitorState::default(),
        }
    }

    fn put(&mut self, visitor_id: &str, state: VisitorState, limits: &VisitorLimits) {
        if state.events.is_empty() && state.lead_id.is_none() {
            return;
        }
        self.insert(visitor_id, state, limits);
    }

    /// An anonymous event: kept for the lead the visitor may become, or,
    /// once it has identified, handed to its lead at once.
    pub fn observe(&mut self, model: &Model, event: &Event) -> Option<Merge> {
        let limits = model.visitors;
        let visitor_id = event.visitor_id.as_deref()?;
        if !limits.is_on() {
            return None;
        }
        let keep = worth_keeping(model, event);
        if !keep && !self.visitors.contains_key(visitor_id) {
            return None;
        }
        let mut v = self.stage(visitor_id, event.occurred_at);
        v.last_seen = v.last_seen.max(event.occurred_at);
        let merge = match &v.lead_id {
            Some(lead_id) if keep => Some(Merge::History {
                lead_id: lead_id.clone(),
                visitor_id: visitor_id.to_owned(),
                events: vec![as_lead_event(event.clone(), lead_id)],
            }),
            Some(_) => None,
            None => {
                if keep {
                    v.events.push(event.clone());
                    let over = v.events.len().saturating_sub(limits.max_events);
                    v.events.drain(..over);
                }
                None
            }
        };
        self.put(visitor_id, v, &limits);
        merge
    }

    /// A link from the lead's partition: the visitor's kept events go to
    /// the lead (none if it had expired by `identified_at`), and it
    /// remembers the lead. `None` when there is nothing to hand over.
    pub fn link(
        &mut self,
        limits: &VisitorLimits,
        visitor_id: &str,
        lead_id: &str,
        identified_at: Millis,
    ) -> Option<Merge> {
        if !limits.is_on() {
            return None;
        }
        let mut v = self.stage(visitor_id, identified_at);
        v.last_seen = v.last_seen.max(identified_at);
        v.lead_id = Some(lead_id.to_owned());
        let events: Vec<Event> = std::mem::take(&mut v.events)
            .into_iter()
            .map(|e| as_lead_event(e, lead_id))
            .collect();
        self.put(visitor_id, v, limits);
        (!events.is_empty()).then(|| Merge::History {
            lead_id: lead_id.to_owned(),
            visitor_id: visitor_id.to_owned(),
            events,
        })
    }

    /// Forgets the visitors that expire at or before `now` (the
    /// partition's stream time); returns how many.
    pub fn expire(&mut self, now: Millis) -> usize {
        let mut n = 0;
        while let Some((at, _)) = self.expiry.first() {
            if *at > now {
                break;
            }
            let Some((_, id)) = self.expiry.pop_first() else {
                break;
            };
            self.visitors.remove(id.as_str());
            self.changed.insert(id);
            n += 1;
        }
        n
    }

    /// The visitors the open transaction changed, with their state (`None`:
    /// forgotten, to delete from the changelog).
    pub fn staged(&self) -> impl Iterator<Item = (&str, Option<&VisitorState>)> {
        self.changed
            .iter()
            .map(|id| (id.as_str(), self.get(id.as_str())))
    }

    /// True if the open transaction changed a visitor.
    pub fn is_dirty(&self) -> bool {
        !self.changed.is_empty()
    }

    /// The open transaction committed.
    pub fn commit(&mut self) {
        self.changed.clear();
    }
}

#[cfg(test)]
#[path = "visitor_tests.rs"]
mod tests;
