//! Rep watchlists: "tell me when this person or this company does that".
//!
//! A [`Watch`] names a rep, a [`Target`] (a lead, an email, a company domain
//! or an account) and an [`EventCondition`] in the model's own condition
//! language. [`Watches`] indexes them by target, so an event costs a few
//! hash look-ups whatever the number of watches, and [`Watches::fire`]
//! turns an event that meets a watch into a [`WatchAlert`].
//!
//! Deterministic on event time: a watch is in effect for events that
//! occurred in `[created_at, expires_at or deleted_at)`, and its cooldown
//! is kept per lead in the lead's state, so replaying the same events
//! against the same watches gives the same alerts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use xxhash_rust::xxh3::Xxh3;

use super::attributes::Attributes;
use super::event::{Event, EventKind, EventType, Millis};
use super::lead::{LeadState, WatchCooldown, WatchMiss};
use super::model::EventCondition;
use super::outcome::{Contact, Reason};

/// What a watch follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// One lead, by its id (exact).
    Lead(String),
    /// A person by email address (case-insensitive): the lead's `email`
    /// attribute, or its id when the id is an email address.
    Email(String),
    /// A company by web domain (case-insensitive): the lead's
    /// `company_domain`, or its `email_domain` when no company domain is
    /// known.
    Domain(String),
    /// A CRM account, by the lead's `account_id` (exact).
    Account(String),
}

/// The target kinds, as written on the wire.
pub const TARGET_KINDS: [&str; 4] = ["lead", "email", "domain", "account"];

impl Target {
    /// A target from its kind (`lead`, `email`, `domain`, `account`) and
    /// value, normalised (emails and domains in lower case).
    pub fn parse(kind: &str, value: &str) -> Result<Target, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("the {kind} of a watch must not be empty"));
        }
        Ok(match kind {
            "lead" => Target::Lead(value.to_owned()),
            "email" if !value.contains('@') => {
                return Err(format!("`{value}` is not an email address"))
            }
            "email" => Target::Email(value.to_ascii_lowercase()),
            "domain" if value.contains(['@', '/', ' ']) => {
                return Err(format!(
                    "`{value}` is not a domain (write it as example.com)"
                ))
            }
            "domain" => Target::Domain(value.to_ascii_lowercase()),
            "account" => Target::Account(value.to_owned()),
            other => {
                return Err(format!(
                    "unknown target kind `{other}` (expected one of: {})",
                    TARGET_KINDS.join(", ")
                ))
            }
        })
    }

    /// `lead`, `email`, `domain` or `account`.
    pub fn kind(&self) -> &'static str {
        TARGET_KINDS[self.slot()]
    }

    pub fn value(&self) -> &str {
        match self {
            Target::Lead(v) | Target::Email(v) | Target::Domain(v) | Target::Account(v) => v,
        }
    }

    fn slot(&self) -> usize {
        match self {
            Target::Lead(_) => 0,
            Target::Email(_) => 1,
            Target::Domain(_) => 2,
            Target::Account(_) => 3,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.value())
    }
}

/// A rep's standing request to hear about a target's activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Stable id; the key on `lead-watches`, and part of every alert's id.
    pub id: Arc<str>,
    /// The rep who is told (a roster rep).
    pub rep: Arc<str>,
    pub target: Target,
    pub condition: EventCondition,
    /// Event time from which the watch applies.
    pub created_at: Millis,
    /// Event time at which it stops applying, if it expires.
    pub expires_at: Option<Millis>,
    /// Event time at which it was deleted; it still applies to events
    /// before it, so reprocessing them gives the same alerts.
    pub deleted_at: Option<Millis>,
    /// After an alert for a lead, quiet for that lead this long (0: every
    /// matching event alerts).
    pub cooldown: Millis,
    /// The rep's words for it, shown in the alert.
    pub note: Option<String>,
}

impl Watch {
    /// True when the watch applies to an event that occurred at `t`.
    pub fn in_effect(&self, t: Millis) -> bool {
        t >= self.created_at && self.ends_at().is_none_or(|end| t < end)
    }

    /// When it stops applying: its expiry or deletion, whichever is first.
    pub fn ends_at(&self) -> Option<Millis> {
        match (self.expires_at, self.deleted_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A watch met: the rep should hear about it (`watch-alerts`).
#[derive(Debug, Clone, PartialEq)]
pub struct WatchAlert {
    /// xxh3-128 of (watch id, lead id, event id): the same match always
    /// has the same id, so a consumer can de-duplicate.
    pub watch_alert_id: String,
    pub watch_id: Arc<str>,
    pub rep: Arc<str>,
    pub target: Target,
    pub note: Option<String>,
    /// The condition in words.
    pub condition: Arc<str>,
    pub lead_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub occurred_at: Millis,
    /// The page or link, for page views and email clicks.
    pub url: Option<String>,
    /// The form, asset, campaign or webinar the event was about.
    pub item: Option<String>,
    /// The lead's score after the event.
    pub score: f64,
    pub company_domain: Option<String>,
    pub account_id: Option<String>,
    /// Who the lead is (name, title, company), from its attributes.
    pub contact: Contact,
    /// Why the lead scores what it does after the event, largest share
    /// first.
    pub reasons: Vec<Reason>,
    /// The lead's open follow-up deadline, when it is handed to the
    /// watching rep and not yet contacted.
    pub respond_by: Option<Millis>,
    /// The hot-lead alert of the lead's handoff to the watching rep, if
    /// any: feedback on the watch alert is about that handoff.
    pub alert_id: Option<String>,
}

/// The watches in effect, indexed by target. Iteration and matching order
/// is by watch id, so every driver produces alerts in the same order.
#[derive(Debug, Default, Clone)]
pub struct Watches {
    by_id: BTreeMap<Arc<str>, Arc<Watch>>,
    /// Per target kind (see [`Target::slot`]), value → watches, by id.
    index: [hashbrown::HashMap<Box<str>, Vec<Arc<Watch>>>; 4],
    /// Unique to this content among every table of the process: a lead's
    /// [`WatchMiss`] stamp made under another table or content never
    /// matches it.
    generation: u64,
}

/// Hands out table generations; never 0, so a default stamp means unknown.
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The keys of a lead that watches target, read after the event.
struct WatchKeys<'a> {
    lead_id: &'a str,
    email: Option<&'a str>,
    /// The lead id, when it is an address other than `email`.
    id_email: Option<&'a str>,
    domain: Option<&'a str>,
    account_id: Option<&'a str>,
}

impl<'a> WatchKeys<'a> {
    fn of(event: &'a Event, attributes: &'a Attributes) -> WatchKeys<'a> {
        let [company_domain, account_id, email, email_domain] = attributes.keys();
        let id = event.lead_id.as_str();
        WatchKeys {
            lead_id: id,
            email,
            id_email: (id.contains('@') && email.is_none_or(|e| !e.eq_ignore_ascii_case(id)))
                .then_some(id),
            domain: company_domain.or(email_domain),
            account_id,
        }
    }

    /// The keys by index slot.
    fn slots(&self) -> [(usize, Option<&'a str>); 5] {
        [
            (0, Some(self.lead_id)),
            (1, self.email),
            (1, self.id_email),
            (2, self.domain),
            (3, self.account_id),
        ]
    }
}

/// The low bits of a [`WatchMiss`]: one per [`EventType`], set when no
/// watch on the lead's keys can match an event of that type.
const TYPE_BITS: u32 = EventType::ALL.len() as u32;
const ALL_TYPES: u64 = (1 << TYPE_BITS) - 1;

/// A lead's keys under table `generation`, as the high bits of a
/// [`WatchMiss`]. The keys come from the attributes and the lead id, which
/// is the lead's own, so the attributes' keys revision stands for them: two
/// integers hashed, where reading the four keys cost a pass over the
/// attributes. 46 bits of hash: a stale stamp taken for a fresh one (an
/// alert missed) is one chance in 7·10¹³ per change of keys or table.
fn stamp(generation: u64, attributes: &Attributes) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(&attributes.keys_revision().to_le_bytes(), generation)
        << TYPE_BITS
}

impl Watches {
    pub fn new() -> Watches {
        Watches::default()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Watch> {
        self.by_id.get(id).map(|w| &**w)
    }

    /// Every watch, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Watch> {
        self.by_id.values().map(|w| &**w)
    }

    /// Adds a watch, or replaces the one with its id.
    pub fn upsert(&mut self, watch: Watch) {
        self.remove(&watch.id.clone());
        self.changed();
        let watch = Arc::new(watch);
        let list = self.index[watch.target.slot()]
            .entry(Box::from(watch.target.value()))
            .or_default();
        let at = list.partition_point(|w| w.id < watch.id);
        list.insert(at, watch.clone());
        self.by_id.insert(watch.id.clone(), watch);
    }

    /// Forgets a watch entirely (a tombstone on `lead-watches`).
    pub fn remove(&mut self, id: &str) -> Option<Watch> {
        let old = self.by_id.remove(id)?;
        self.changed();
        let slot = old.target.slot();
        if let Some(list) = self.index[slot].get_mut(old.target.value()) {
            list.retain(|w| *w.id != *id);
            if list.is_empty() {
                self.index[slot].remove(old.target.value());
            }
        }
        Some(Arc::unwrap_or_clone(old))
    }

    /// The watches whose target is this lead and whose condition this
    /// event meets, in effect at its time, by id. Reads the lead's state
    /// after the event, so a form that gives the email counts.
    pub fn matching<'a>(&'a self, event: &Event, lead: &LeadState) -> Vec<&'a Watch> {
        if self.by_id.is_empty() {
            return Vec::new();
        }
        self.matching_keys(event, &WatchKeys::of(event, &lead.attributes))
            .0
    }

    /// [`Watches::matching`] on keys already read; also the event types
    /// (bits by [`EventType::index`]) that any watch on the keys can match,
    /// whatever its time or the event's other fields.
    fn matching_keys<'a>(&'a self, event: &Event, keys: &WatchKeys<'_>) -> (Vec<&'a Watch>, u64) {
        let mut found: Vec<&Watch> = Vec::new();
        let mut covered = 0u64;
        for (slot, key) in keys.slots() {
            let (Some(key), false) = (key, self.index[slot].is_empty()) else {
                continue;
            };
            let hit = if slot == 1 || slot == 2 {
                lookup_lower(&self.index[slot], key)
            } else {
                self.index[slot].get(key)
            };
            for w in hit.into_iter().flatten() {
                covered |= u64::from(w.condition.event_types());
                if w.in_effect(event.occurred_at) && w.condition.matches(&event.kind) {
                    found.push(w);
                }
            }
        }
        if found.len() > 1 {
            found.sort_by(|a, b| a.id.cmp(&b.id));
            found.dedup_by(|a, b| a.id == b.id);
        }
        (found, covered)
    }

    fn changed(&mut self) {
        self.generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The alerts an applied event raises, minding each watch's cooldown,
    /// which is kept in the lead's state (and so in its changelog record).
    /// `explain` gives the lead's score after the event and its reasons;
    /// it is called only when an alert is raised, and at most once (a full
    /// score costs more than matching).
    pub fn fire(
        &self,
        event: &Event,
        lead: &mut LeadState,
        explain: impl FnOnce(&LeadState) -> (f64, Vec<Reason>),
    ) -> Vec<WatchAlert> {
        if self.by_id.is_empty() {
            return Vec::new();
        }
        let t = event.occurred_at;
        // Most leads are nobody's target, and a watched lead's watches
        // name a few event types: once the index has said which types no
        // watch on this table and these keys can match, an event of such a
        // type does not ask it again.
        let stamp = stamp(self.generation, &lead.attributes);
        let type_bit = 1u64 << event.kind.event_type().index();
        if lead.watch_miss.0 & !ALL_TYPES == stamp && lead.watch_miss.0 & type_bit != 0 {
            return Vec::new();
        }
        let keys = WatchKeys::of(event, &lead.attributes);
        let (matched, covered) = self.matching_keys(event, &keys);
        lead.watch_miss = WatchMiss(stamp | (ALL_TYPES & !covered));
        if matched.is_empty() {
            return Vec::new();
        }
        // Cooldowns that have passed are no longer needed.
        lead.watch_cooldowns.retain(|c| c.quiet_until > t);
        let mut alerts: Vec<WatchAlert> = Vec::with_capacity(matched.len());
        let mut explain = Some(explain);
        for w in matched {
            if lead
                .watch_cooldowns
                .iter()
                .any(|c| c.watch_id == w.id && c.quiet_until > t)
            {
                continue;
            }
            if w.cooldown > 0 {
                lead.watch_cooldowns.push(WatchCooldown {
                    watch_id: w.id.clone(),
                    fired_at: t,
                    quiet_until: t.saturating_add(w.cooldown),
                });
            }
            // Explained for the first alert; the others share it.
            let (score, reasons) = match explain.take() {
                Some(f) => f(lead),
                None => (alerts[0].score, alerts[0].reasons.clone()),
            };
            alerts.push(alert(w, event, lead, score, reasons));
        }
        alerts
    }
}

/// Looks a case-insensitive key up without allocating when it is already
/// in lower case (the usual case).
fn lookup_lower<'m>(
    map: &'m hashbrown::HashMap<Box<str>, Vec<Arc<Watch>>>,
    key: &str,
) -> Option<&'m Vec<Arc<Watch>>> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        map.get(key.to_ascii_lowercase().as_str())
    } else {
        map.get(key)
    }
}

fn alert(
    w: &Watch,
    event: &Event,
    lead: &LeadState,
    score: f64,
    reasons: Vec<Reason>,
) -> WatchAlert {
    let item = match &event.kind {
        EventKind::FormSubmit { form_id, .. } => Some(form_id.clone()),
        EventKind::ContentDownload { asset_id } => Some(asset_id.clone()),
        EventKind::EmailOpen { campaign_id }
        | EventKind::EmailClick { campaign_id, .. }
        | EventKind::EmailBounce { campaign_id, .. } => Some(campaign_id.clone()),
        EventKind::WebinarAttended { webinar_id } => Some(webinar_id.clone()),
        _ => None,
    };
    let handoff = lead.handoff.as_ref().filter(|h| h.rep == *w.rep);
    let [company_domain, account_id, name, first, last, title, job_title, company, company_name] =
        lead.attributes.get_each([
            "company_domain",
            "account_id",
            "name",
            "first_name",
            "last_name",
            "title",
            "job_title",
            "company",
            "company_name",
        ]);
    WatchAlert {
        watch_alert_id: watch_alert_id(&w.id, &event.lead_id, &event.event_id),
        watch_id: w.id.clone(),
        rep: w.rep.clone(),
        target: w.target.clone(),
        note: w.note.clone(),
        condition: w.condition.described(),
        lead_id: event.lead_id.clone(),
        event_id: event.event_id.clone(),
        event_type: event.kind.event_type(),
        occurred_at: event.occurred_at,
        url: event.kind.url().map(str::to_owned),
        item,
        score: (score * 100.0).round() / 100.0,
        company_domain: company_domain.map(str::to_owned),
        account_id: account_id.map(str::to_owned),
        contact: Contact::from_values([name, first, last, title, job_title, company, company_name]),
        reasons,
        respond_by: handoff.and_then(|h| h.contact_due),
        alert_id: handoff.map(|h| h.alert_id.clone()),
    }
}

/// A stable 128-bit id, hex encoded (xxh3 is specified, so ids stay the
/// same across builds).
fn watch_alert_id(watch_id: &str, lead_id: &str, event_id: &str) -> String {
    let mut h = Xxh3::new();
    h.update(b"watch\0");
    for part in [watch_id, lead_id, event_id] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests;
