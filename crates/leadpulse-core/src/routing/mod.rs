//! Routing: who gets a hot lead. The lead's existing owner wins; then the
//! owner of its account (a named account on the roster, else the CRM's
//! account owner attribute on the lead); otherwise territory rules pick a
//! team, and within the team the lead goes to the available rep with the
//! fewest leads of its grade (then the fewest leads), so reps get a fair
//! share by count **and** by quality.
//!
//! The roster is a TOML file (see `docs/sales-loop.md`). Routing is pure and
//! deterministic: the same leads in the same order give the same owners.

use std::collections::{BTreeMap, BTreeSet};

use super::account::AccountKey;
use super::attributes::Attributes;
use std::sync::Arc;

use super::event::Millis;
use super::hours::BusinessHours;
use super::model::Grade;

mod file;
pub use file::{DEFAULT_REJECTION_REASONS, MAX_FEEDBACK_BUSINESS_DAYS, MAX_SLA_MINUTES};

/// One sales rep.
#[derive(Debug, Clone)]
pub struct Rep {
    pub id: Arc<str>,
    pub name: String,
    /// Unavailable reps (on leave, at capacity) get no new leads.
    pub available: bool,
    /// Where email notifications go.
    pub email: Option<String>,
    /// Slack user id (`U…`/`W…`) for direct messages and button clicks.
    pub slack_user: Option<String>,
    /// IANA time zone, for showing deadlines in the rep's local time.
    pub time_zone: Option<jiff::tz::TimeZone>,
}

/// A sales team and the leads it covers.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: Arc<str>,
    pub name: String,
    /// Rep id of the team lead: breaches escalate to them, and they own
    /// leads when no rep of the team is available.
    pub lead: Arc<str>,
    /// Time to first contact; the roster's default when unset.
    pub sla: Millis,
    /// On a breach, hand the lead to the next rep with a fresh deadline.
    pub reassign_on_breach: bool,
    /// Attribute → accepted values (lower case). Empty: covers every lead.
    pub territory: BTreeMap<String, BTreeSet<String>>,
    pub reps: Vec<Rep>,
    /// Slack channel (`C…` id or `#name`) that team notifications go to.
    pub slack_channel: Option<String>,
    /// When the SLA and feedback clocks run; `None`: around the clock.
    pub hours: Option<BusinessHours>,
}

impl Team {
    /// The instant `span` of this team's working time after `from`: plain
    /// addition for a team that works around the clock.
    pub fn deadline(&self, from: Millis, span: Millis) -> Millis {
        match &self.hours {
            Some(h) => h.add(from, span),
            None => from.saturating_add(span),
        }
    }

    fn covers(&self, attributes: &Attributes) -> bool {
        self.territory.iter().all(|(attr, values)| {
            attributes
                .get(attr)
                .is_some_and(|v| values.contains(&v.to_ascii_lowercase()))
        })
    }
}

/// The sales organisation leads are routed to.
#[derive(Debug, Clone)]
pub struct Roster {
    pub teams: Vec<Team>,
    /// Business days after handoff by which the rep must accept or reject
    /// the lead: the team's working days with business hours, else Mon–Fri
    /// in UTC.
    pub feedback_business_days: u32,
    /// How often one handoff may be reassigned after breaches.
    pub max_reassignments: u32,
    /// The reasons a rep may give for rejecting a lead: the choices of the
    /// one-click buttons, and the only values of the rejections metric's
    /// `reason` label (anything else counts as `other`).
    pub rejection_reasons: Vec<String>,
    /// Who owns which accounts: their leads go to the owner, not by
    /// territory.
    pub account_owners: AccountOwners,
}

/// Account ownership: the account owner gets every lead of the account,
/// ahead of territory and round-robin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountOwners {
    /// Account → rep id, from the roster's `[[named_account]]`: the
    /// agreement sales made, so it wins over the CRM attribute.
    pub named: BTreeMap<AccountKey, Arc<str>>,
    /// The lead attribute in which the CRM syncs the owner of the lead's
    /// account (a rep id), e.g. `account_owner`; read on the lead routed.
    pub attribute: Option<String>,
}

impl AccountOwners {
    /// True when routing needs the lead's account key.
    pub fn names_accounts(&self) -> bool {
        !self.named.is_empty()
    }
}

/// Who owns a lead, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub team: Arc<str>,
    pub rep: Arc<str>,
    /// `owner` (the lead's existing owner attribute), `named_account` (the
    /// roster names the lead's account), `account_owner` (the lead's
    /// account owner attribute), `territory`, or `team_lead` (no rep of the
    /// team was available).
    pub via: &'static str,
}

/// Leads assigned per rep and grade, for one partition. Kept with the lead
/// state (in the changelog), so balance survives restarts and rebalances.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingState {
    /// Rep id → leads assigned, per grade A–D.
    pub assigned: BTreeMap<String, [u32; 4]>,
}

impl RoutingState {
    fn counts(&self, rep: &str) -> [u32; 4] {
        self.assigned.get(rep).copied().unwrap_or_default()
    }
}

fn grade_index(g: Grade) -> usize {
    match g {
        Grade::A => 0,
        Grade::B => 1,
        Grade::C => 2,
        Grade::D => 3,
    }
}

impl Roster {
    /// The team with this id.
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| &*t.id == id)
    }

    /// The rep with this id, in any team.
    pub fn rep(&self, id: &str) -> Option<&Rep> {
        self.teams
            .iter()
            .flat_map(|t| &t.reps)
            .find(|r| &*r.id == id)
    }

    /// The rep whose Slack user id this is.
    pub fn rep_by_slack_user(&self, user: &str) -> Option<&Rep> {
        self.teams
            .iter()
            .flat_map(|t| &t.reps)
            .find(|r| r.slack_user.as_deref() == Some(user))
    }

    /// `reason` when it is one of [`Roster::rejection_reasons`] (case,
    /// spaces and dashes aside: `No budget` is `no_budget`), else `other`:
    /// a bounded label for metrics.
    pub fn reason_label<'a>(&'a self, reason: &str) -> &'a str {
        let r: String = reason
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        self.rejection_reasons
            .iter()
            .find(|v| **v == r)
            .map_or("other", String::as_str)
    }

    /// The team a rep belongs to.
    pub fn team_of_rep(&self, rep: &str) -> Option<&Team> {
        self.teams
            .iter()
            .find(|t| t.reps.iter().any(|r| &*r.id == rep))
    }

    /// Picks the owner of a lead that is being handed to sales, and counts
    /// it. `account` is the lead's account, when the roster names accounts
    /// (see [`AccountOwners::names_accounts`]). `exclude` skips a rep (the
    /// one who just breached): a reassignment stays in the team, by
    /// territory.
    pub fn route(
        &self,
        state: &mut RoutingState,
        attributes: &Attributes,
        account: Option<&AccountKey>,
        grade: Grade,
        exclude: Option<&str>,
        team_hint: Option<&str>,
    ) -> Owner {
        if exclude.is_none() {
            if let Some(owner) = attributes.get("owner").and_then(|o| self.owner(o, "owner")) {
                return owner;
            }
            if let Some(owner) = self.account_owner(attributes, account) {
                return owner;
            }
        }
        let team = team_hint
            .and_then(|t| self.team(t))
            .or_else(|| self.teams.iter().find(|t| t.covers(attributes)))
            .unwrap_or_else(|| self.teams.last().expect("a roster has a team"));
        let g = grade_index(grade);
        let best = team
            .reps
            .iter()
            .enumerate()
            .filter(|(_, r)| r.available && exclude != Some(&*r.id))
            .min_by_key(|(i, r)| {
                let c = state.counts(&r.id);
                (c[g], c.iter().sum::<u32>(), *i)
            })
            .map(|(_, r)| r);
        match best {
            Some(rep) => {
                state.assigned.entry(rep.id.to_string()).or_default()[g] += 1;
                Owner {
                    team: team.id.clone(),
                    rep: rep.id.clone(),
                    via: "territory",
                }
            }
            None => Owner {
                team: team.id.clone(),
                rep: team.lead.clone(),
                via: "team_lead",
            },
        }
    }

    /// `rep` of its team, if the roster has that rep.
    fn owner(&self, rep: &str, via: &'static str) -> Option<Owner> {
        let team = self.team_of_rep(rep)?;
        let rep = team.reps.iter().find(|r| &*r.id == rep)?;
        Some(Owner {
            team: team.id.clone(),
            rep: rep.id.clone(),
            via,
        })
    }

    /// The available rep the roster's `[[named_account]]` names for the
    /// account: who hears of the account's surge alerts.
    pub fn named_account_owner(&self, account: &AccountKey) -> Option<Owner> {
        let rep = self.account_owners.named.get(account)?;
        self.available_owner(rep, "named_account")
    }

    /// `rep` as an owner, if the roster has them and they are available.
    fn available_owner(&self, rep: &str, via: &'static str) -> Option<Owner> {
        let owner = self.owner(rep, via)?;
        self.rep(&owner.rep)
            .is_some_and(|r| r.available)
            .then_some(owner)
    }

    /// The available owner of the lead's account: the roster's named
    /// account, else the rep the account owner attribute names. An owner
    /// on leave (`available = false`), or not on the roster, leaves the
    /// lead to territory routing.
    fn account_owner(
        &self,
        attributes: &Attributes,
        account: Option<&AccountKey>,
    ) -> Option<Owner> {
        let owners = &self.account_owners;
        let named = account
            .and_then(|a| owners.named.get(a))
            .map(|rep| (&**rep, "named_account"));
        let crm = || {
            let attr = owners.attribute.as_deref()?;
            let rep = attributes.get(attr)?.trim();
            Some((rep, "account_owner"))
        };
        let (rep, via) = named.or_else(crm)?;
        self.available_owner(rep, via)
    }

    /// What is valid but probably not meant, in words, for the commands
    /// that load a roster to show: a team lead who is also an available rep
    /// of the team gets new leads, and a breach on one of them escalates to
    /// that same person.
    pub fn warnings(&self) -> Vec<String> {
        self.teams
            .iter()
            .filter(|t| t.reps.iter().any(|r| r.id == t.lead && r.available))
            .map(|t| {
                format!(
                    "team `{}`: its lead `{}` is also an available rep of the team, so a breach \
                     on a lead `{}` owns escalates to `{}` themselves; name another lead, or mark \
                     `{}` `available = false` (a lead who takes escalations, not new leads)",
                    t.id, t.lead, t.lead, t.lead, t.lead
                )
            })
            .collect()
    }

    /// The feedback deadline for a handoff to `team` at `at`. With business
    /// hours, that many full working days of the team's business time
    /// later (see [`BusinessHours::add_working_days`]); around the clock,
    /// that many weekdays (Mon–Fri, UTC) later, same time of day.
    pub fn feedback_by(&self, team: &Team, at: Millis) -> Millis {
        if let Some(h) = &team.hours {
            return h.add_working_days(at, self.feedback_business_days);
        }
        const DAY: Millis = 86_400_000;
        let mut t = at;
        let mut left = self.feedback_business_days;
        while left > 0 {
            t += DAY;
            // 1970-01-01 was a Thursday: day 0 → Thu, so weekday = (d + 3) % 7 with Mon = 0.
            let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7);
            if weekday < 5 {
                left -= 1;
            }
        }
        t
    }
}
