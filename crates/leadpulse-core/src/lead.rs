//! Per-lead state: everything the scorer remembers about one lead.

use std::sync::Arc;

use super::attributes::Attributes;
use super::event::Millis;

/// What leadpulse knows about one lead. Engagement is kept per rule, not
/// only as a total, so scores can be explained and re-scored under a new
/// model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadState {
    /// Engagement per rule, in the order the rules first counted.
    pub contributions: Vec<Contribution>,
    /// Fit points under `model_version`, from `attributes`.
    pub fit: f64,
    /// True from an alert until the lead re-arms (falls below the re-arm
    /// level, or the cooldown passes); this is what makes alerts fire once
    /// per crossing.
    pub alerted: bool,
    /// Event time of the latest alert.
    pub last_alert_at: Option<Millis>,
    /// How many alerts this lead has raised; part of each alert's id.
    pub alerts: u32,
    /// The latest event time seen for this lead. Scores are evaluated at it.
    pub updated_at: Millis,
    /// The model that last scored this lead.
    pub model_version: Arc<str>,
    /// Profile attributes: `profile_update` attributes, form fields,
    /// `company_domain`, `account_id`, and `email_domain` derived from `email`.
    pub attributes: Attributes,
    /// Why the lead may not be handed to sales, if it may not.
    /// Boxed: few leads are disqualified.
    pub disqualified: Option<Box<Disqualification>>,
    /// While the lead qualifies but lacks required attributes: which.
    pub held: Vec<String>,
    /// Where the lead is in the funnel; `None` before its first event.
    pub stage: Option<Stage>,
    /// The latest handoff to sales, with its follow-up timers.
    pub handoff: Option<Box<Handoff>>,
    /// Watches quiet for this lead after an alert (`core::watch`), so a
    /// cooldown holds exactly once across restarts and rebalances.
    pub watch_cooldowns: Vec<WatchCooldown>,
    /// Events already applied, to count a re-sent one once: the xxh3 of
    /// each `event_id` with its event time, oldest first, bounded by the
    /// model's `[dedup]`.
    pub seen: Vec<(u64, Millis)>,
    /// When decay may next have moved the published score far enough to
    /// re-publish it (the model's `[refresh]`); a timer like the SLA's.
    pub next_refresh_at: Option<Millis>,
    /// When decay last re-published the score, if after the latest event:
    /// the published score is evaluated then.
    pub refreshed_at: Option<Millis>,
    /// Visitors linked to this lead (`core::visitor`): the xxh3 of each
    /// `visitor_id`, oldest first, at most [`MAX_LINKED_VISITORS`], so a
    /// re-sent identify asks for the visitor's history once.
    pub linked_visitors: Vec<u64>,
    /// The watch table and keys that last found no watch on this lead
    /// (`core::watch`), so its next events skip the index. Memory only.
    pub watch_miss: WatchMiss,
}

/// A stamp of a watch table's generation and a revision of the lead's
/// watch keys (email, domain, account; the lead id is the state's own), in
/// the high bits, and in the low bits the event types that no watch on
/// those keys can match (`core::watch`); 0, the default, skips nothing. It
/// is a cache: not in the changelog, and two leads that differ only in it
/// are equal.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchMiss(pub(crate) u64);

impl PartialEq for WatchMiss {
    fn eq(&self, _: &WatchMiss) -> bool {
        true
    }
}

/// The most visitor ids a lead remembers as linked: people browse from a
/// few devices; one seen again after 16 others asks again, and gets the
/// (by then empty) history once more.
pub const MAX_LINKED_VISITORS: usize = 16;

impl LeadState {
    /// The time its published score is evaluated at: the latest event, or
    /// a later decay refresh.
    pub fn scored_at(&self) -> Millis {
        self.refreshed_at
            .map_or(self.updated_at, |r| r.max(self.updated_at))
    }
}

/// A watch that alerted for a lead and is quiet for it until `quiet_until`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchCooldown {
    pub watch_id: Arc<str>,
    /// Event time of the alert.
    pub fired_at: Millis,
    pub quiet_until: Millis,
}

impl LeadState {
    /// Records `event_id` (dated `at`) and says whether it is new to the
    /// lead. Ids dated `window` or more before the lead's latest event
    /// are forgotten, and only the `max_ids` latest are kept, so the set
    /// holds the same ids whatever order events arrive in. An event too old
    /// to be kept is new every time.
    pub fn first_time(
        &mut self,
        event_id: &str,
        at: Millis,
        window: Millis,
        max_ids: usize,
    ) -> bool {
        if window <= 0 || max_ids == 0 {
            return true;
        }
        // Feedback does not move `updated_at`, so the latest id counts too.
        let latest = self.seen.last().map_or(Millis::MIN, |&(_, t)| t);
        let now = self.updated_at.max(at).max(latest);
        let horizon = now.saturating_sub(window);
        let old = self.seen.partition_point(|&(_, t)| t <= horizon);
        self.seen.drain(..old);
        let id = seen_id(event_id);
        if self.seen.iter().any(|&(h, _)| h == id) {
            return false;
        }
        if at > horizon {
            let i = self.seen.partition_point(|&(_, t)| t <= at);
            self.seen.insert(i, (id, at));
        }
        // A drain, not one removal: a reloaded model may keep fewer ids.
        let over = self.seen.len().saturating_sub(max_ids);
        self.seen.drain(..over);
        true
    }
}

impl LeadState {
    /// Remembers `visitor_id` as linked; true if it was not yet.
    pub fn link_visitor(&mut self, visitor_id: &str) -> bool {
        let id = seen_id(visitor_id);
        if self.linked_visitors.contains(&id) {
            return false;
        }
        self.linked_visitors.push(id);
        let over = self
            .linked_visitors
            .len()
            .saturating_sub(MAX_LINKED_VISITORS);
        self.linked_visitors.drain(..over);
        true
    }
}

/// The id kept for an `event_id`. xxh3 is specified, so ids read back from
/// the changelog match across builds; a collision within one lead's few
/// hundred ids has odds of about 1 in 10^14.
pub fn seen_id(event_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(event_id.as_bytes())
}

/// Lifecycle stages, from first touch to customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Known only through email and newsletter activity.
    Subscriber,
    /// Has shown interest (a form, a download, a webinar, a job title).
    Lead,
    /// Marketing-qualified: handed to sales by an alert.
    Mql,
    /// Sales-accepted.
    Sal,
    /// Sales-qualified.
    Sql,
    /// An opportunity is open.
    Opportunity,
    /// The deal was won.
    Customer,
    /// Handed back to marketing for nurture (rejected, lost or recycled).
    Recycled,
    /// Disqualified by the model.
    Disqualified,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Subscriber,
        Stage::Lead,
        Stage::Mql,
        Stage::Sal,
        Stage::Sql,
        Stage::Opportunity,
        Stage::Customer,
        Stage::Recycled,
        Stage::Disqualified,
    ];

    /// The wire name, e.g. `mql`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Subscriber => "subscriber",
            Stage::Lead => "lead",
            Stage::Mql => "mql",
            Stage::Sal => "sal",
            Stage::Sql => "sql",
            Stage::Opportunity => "opportunity",
            Stage::Customer => "customer",
            Stage::Recycled => "recycled",
            Stage::Disqualified => "disqualified",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Whether the first contact came within the SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlaStatus {
    /// Waiting for the first contact.
    #[default]
    Open,
    /// Contacted or accepted before the deadline.
    Met,
    /// A deadline passed without contact.
    Breached,
    /// Rejected before any contact: no SLA outcome.
    Closed,
}

impl SlaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaStatus::Open => "open",
            SlaStatus::Met => "met",
            SlaStatus::Breached => "breached",
            SlaStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<SlaStatus> {
        [
            SlaStatus::Open,
            SlaStatus::Met,
            SlaStatus::Breached,
            SlaStatus::Closed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A lead handed to sales: owner, deadlines and what sales said.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handoff {
    /// The alert that handed the lead over.
    pub alert_id: String,
    pub team: String,
    /// The current owner.
    pub rep: String,
    /// How the owner was chosen (`owner`, `named_account`, `account_owner`,
    /// `territory`, `team_lead`).
    pub via: String,
    /// Event time of the handoff (the alert's `crossed_at`).
    pub handed_at: Millis,
    /// The first deadline (the alert's `respond_by`).
    pub respond_by: Millis,
    /// The deadline the contact timer waits for; `None` once contacted,
    /// rejected, or out of reassignments.
    pub contact_due: Option<Millis>,
    pub first_contact_at: Option<Millis>,
    pub sla: SlaStatus,
    pub breaches: u32,
    pub reassignments: u32,
    /// Accept/reject deadline.
    pub feedback_by: Millis,
    /// `accepted` or `rejected`, with its time and (for rejections) reason.
    pub feedback: Option<(String, Millis, Option<String>)>,
    pub feedback_overdue: bool,
    /// The engagement rule with the largest share when the lead qualified.
    pub qualified_by: String,
    /// Fit grade at handoff (A–D).
    pub grade: String,
    /// Score at handoff.
    pub score: f64,
    /// Set when the deal is won.
    pub won_amount: Option<f64>,
    /// Set when the deal is lost.
    pub lost_reason: Option<String>,
}

/// A disqualification and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Disqualification {
    /// The disqualifier's id.
    pub rule_id: Arc<str>,
    /// Event time it was found.
    pub at: Millis,
    /// Event-based disqualifications (unsubscribe, hard bounce) stay;
    /// attribute-based ones are lifted when the attribute changes.
    pub sticky: bool,
}

/// The most match times a window rule keeps per lead: a lead with more
/// matches inside one window (a bot, say) counts the latest this many, as
/// if the rule were capped there.
pub const MAX_WINDOW_MATCHES: usize = 1000;

/// One engagement rule's share of a lead's score. Stores matches, not
/// points, so a new model with other points can re-score it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The rule that counted.
    pub rule_id: Arc<str>,
    /// Index of the rule in the scorer's model; resolved when the model is
    /// adopted, `u32::MAX` until then.
    pub rule: u32,
    /// Counted matches, decayed to `as_of` when the rule's group has a half-life.
    pub weight: f64,
    /// Event time `weight` is valid at.
    pub as_of: Millis,
    /// Counted matches, ever.
    pub count: u32,
    /// Event time of the latest counted match.
    pub last_seen: Millis,
    /// For window decay: event times of the counted matches still inside
    /// the window, oldest first; at most [`MAX_WINDOW_MATCHES`].
    pub window: Vec<Millis>,
    /// For `cap = { max, per_days }`: event times of recent counted matches.
    pub capped: Vec<Millis>,
}

impl Contribution {
    /// An empty contribution of a rule.
    pub fn new(rule_id: Arc<str>, rule: u32, at: Millis) -> Self {
        Contribution {
            rule_id,
            rule,
            weight: 0.0,
            as_of: at,
            count: 0,
            last_seen: at,
            window: Vec::new(),
            capped: Vec::new(),
        }
    }
}

impl Contribution {
    /// Entries kept for window decay and per-window caps.
    pub fn history_len(&self) -> usize {
        self.window.len() + self.capped.len()
    }
}
