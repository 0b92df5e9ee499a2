//! Accounts: the buying committee behind several leads. Several people of
//! one company engaging in the same fortnight each stay under the lead
//! threshold, yet the account is in market.
//!
//! Pure and driven by event time, like the scorer: an [`AccountState`]
//! takes one [`LeadContribution`] at a time (what a lead's latest score
//! says about it, keyed by its account) and returns the account's score
//! and, once per crossing, an [`AccountAlert`]. The state is plain sorted
//! data, kept on a changelog and replayed; `[account]` says how.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_128;

use super::attributes::Attributes;
use super::event::Millis;
use super::lead::LeadState;
use super::model::{
    is_default_free_mail, normalise_domain, AccountModel, Aggregate, Model, ACCOUNT_ATTRIBUTE,
};
use super::outcome::{Contact, LeadScore, Reason, ReasonKind};
use super::scorer::{halving, round2};

/// The most reasons kept per person: enough to say what they did.
pub const MAX_REASONS: usize = 5;
/// The most people a score record or an alert shows, most engaged first.
pub const MAX_SHOWN_PEOPLE: usize = 10;
/// The largest engagement a contribution may carry, either way: far above
/// any lead's, and small enough that `max_people` of them add up to a
/// finite score.
pub const MAX_CONTRIBUTED: f64 = 1e15;

/// Changelog keys of accounts start with this, followed by the key as
/// [`fmt::Display`] writes it: lead ids never start with a NUL byte, and
/// visitors' keys start with `"\0visitor\0"`.
pub const ACCOUNT_KEY_PREFIX: &str = "\u{0}account\u{0}";

/// Which account a lead belongs to: its `account_id`, else its company's
/// web domain. Written `id:<account_id>` or `domain:<domain>` as a record
/// key, so an id never meets a domain that happens to read the same.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountKey {
    /// The lead's `account_id` attribute, trimmed.
    Id(String),
    /// Its company domain, or its email's, normalised (see
    /// [`normalise_domain`]); never a free-mail domain.
    Domain(String),
}

impl AccountKey {
    /// The id or domain itself.
    pub fn value(&self) -> &str {
        match self {
            AccountKey::Id(v) | AccountKey::Domain(v) => v,
        }
    }

    /// A key as [`fmt::Display`] writes it.
    pub fn parse(s: &str) -> Option<AccountKey> {
        match s.split_once(':') {
            Some(("id", v)) if !v.is_empty() => Some(AccountKey::Id(v.to_owned())),
            Some(("domain", v)) if !v.is_empty() => Some(AccountKey::Domain(v.to_owned())),
            _ => None,
        }
    }

    /// The account's key in the changelog (see [`ACCOUNT_KEY_PREFIX`]).
    pub fn changelog_key(&self) -> String {
        format!("{ACCOUNT_KEY_PREFIX}{self}")
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountKey::Id(v) => write!(f, "id:{v}"),
            AccountKey::Domain(v) => write!(f, "domain:{v}"),
        }
    }
}

/// The account of a lead with these attributes: its `account_id`; else its
/// `company_domain`, unless free mail; else its email's domain
/// (`email_domain`, or the part of `email` after `@`), unless free mail.
/// `None`: the lead belongs to no account (a private person, or unknown).
pub fn account_key(attributes: &Attributes, rules: &AccountModel) -> Option<AccountKey> {
    account_key_by(attributes, |d| rules.is_free_mail(d))
}

/// [`account_key`] with the default free-mail list, for a model without `[account]`.
pub fn default_account_key(attributes: &Attributes) -> Option<AccountKey> {
    account_key_by(attributes, is_default_free_mail)
}

/// [`account_key`], `is_free_mail` telling the domains of no account.
fn account_key_by(
    attributes: &Attributes,
    is_free_mail: impl Fn(&str) -> bool,
) -> Option<AccountKey> {
    let attr = |name: &str| {
        attributes
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(id) = attr("account_id") {
        return Some(AccountKey::Id(id.to_owned()));
    }
    let email_domain = attr("email_domain").or_else(|| {
        attr("email")
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d)
    });
    [attr("company_domain"), email_domain]
        .into_iter()
        .flatten()
        .filter_map(normalise_domain)
        .find(|d| !is_free_mail(d))
        .map(AccountKey::Domain)
}

/// One rule's share of a person's or an account's score, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountReason {
    pub rule_id: String,
    pub label: String,
    /// Points, rounded to hundredths.
    pub points: f64,
    /// Event time of the rule's latest counted match.
    pub last_seen: Millis,
}

impl From<&Reason> for AccountReason {
    fn from(r: &Reason) -> AccountReason {
        AccountReason {
            rule_id: r.rule_id.to_string(),
            label: r.label.to_string(),
            points: r.points,
            last_seen: r.last_seen,
        }
    }
}

/// What one lead's latest score says about its account: the record the
/// service carries from the lead's partition to the account's.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadContribution {
    pub account: AccountKey,
    pub lead_id: String,
    /// The lead's engagement at `at`.
    pub engagement: f64,
    /// Its largest engagement reasons, at most [`MAX_REASONS`].
    pub reasons: Vec<AccountReason>,
    pub contact: Contact,
    /// The lead's attributes the account's fit rules read.
    pub attributes: Attributes,
    /// Event time of the lead's score.
    pub at: Millis,
}

impl LeadContribution {
    /// The contribution of a lead whose score record is `score`.
    pub fn of(
        account: AccountKey,
        score: &LeadScore,
        lead: &LeadState,
        rules: &AccountModel,
    ) -> LeadContribution {
        LeadContribution {
            account,
            lead_id: score.lead_id.clone(),
            engagement: score.engagement,
            reasons: score
                .reasons
                .iter()
                .filter(|r| r.kind == ReasonKind::Engagement)
                .take(MAX_REASONS)
                .map(AccountReason::from)
                .collect(),
            contact: Contact::of(lead),
            attributes: rules.firmographics(&lead.attributes),
            at: score.updated_at,
        }
    }
}

/// One person of an account, as their latest contribution described them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Engagement as the lead reported it at `at`.
    pub engagement: f64,
    /// Event time of the latest contribution.
    pub at: Millis,
    /// Event time of the latest contribution with engagement above
    /// `engaged_above`: the person counts in the breadth from it.
    pub engaged_at: Option<Millis>,
    pub reasons: Vec<AccountReason>,
    pub contact: Contact,
    pub attributes: Attributes,
}

/// What the service remembers about one account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountState {
    /// Its people by lead id; at most `[account] max_people`.
    pub people: BTreeMap<String, Person>,
    /// The latest contribution's event time: the score is evaluated at it.
    pub updated_at: Millis,
    /// True from an alert until the account re-arms.
    pub alerted: bool,
    /// Event time of the latest alert.
    pub last_alert_at: Option<Millis>,
    /// How many alerts the account has raised; part of each alert's id.
    pub alerts: u32,
}

/// A person as a score record or an alert shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonShare {
    pub lead_id: String,
    pub contact: Contact,
    /// Engagement at the record's time (decayed), rounded to hundredths.
    pub engagement: f64,
    /// When they were last engaged (see [`Person::engaged_at`]).
    pub engaged_at: Option<Millis>,
    /// They count in the breadth now.
    pub in_breadth: bool,
    pub reasons: Vec<AccountReason>,
}

/// An account's current score, for `account-scores`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountScore {
    pub account: AccountKey,
    pub score: f64,
    pub fit: f64,
    pub engagement: f64,
    /// Distinct people engaged within the breadth window.
    pub breadth: u32,
    /// `score_at_least`, if the model has one.
    pub threshold: Option<f64>,
    /// `breadth_at_least`, if the model has one.
    pub breadth_threshold: Option<u32>,
    /// A threshold is met now.
    pub qualified: bool,
    /// The account has alerted and not re-armed since.
    pub alerted: bool,
    /// The account fit rules that hold.
    pub fit_reasons: Vec<AccountReason>,
    /// The most engaged people, at most [`MAX_SHOWN_PEOPLE`].
    pub people: Vec<PersonShare>,
    pub updated_at: Millis,
    pub model_version: Arc<str>,
}

/// Which threshold an account alert crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTrigger {
    /// `score_at_least` (named when both are crossed at once).
    Score,
    /// `breadth_at_least`.
    Breadth,
}

impl AccountTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountTrigger::Score => "score",
            AccountTrigger::Breadth => "breadth",
        }
    }
}

/// An account became in market: who engaged, with what, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountAlert {
    /// Deterministic: the account key and its crossing count.
    pub alert_id: String,
    pub account: AccountKey,
    pub trigger: AccountTrigger,
    pub score: f64,
    pub fit: f64,
    pub engagement: f64,
    pub breadth: u32,
    pub threshold: Option<f64>,
    pub breadth_threshold: Option<u32>,
    /// The account's latest contribution time when it crossed.
    pub crossed_at: Millis,
    /// The lead of the latest contribution by event time (ties: the greater
    /// id), so arrival order across partitions names the same lead.
    pub lead_id: String,
    pub fit_reasons: Vec<AccountReason>,
    /// The most engaged people, at most [`MAX_SHOWN_PEOPLE`].
    pub people: Vec<PersonShare>,
    pub model_version: Arc<str>,
    /// The named account's owner ([`crate::Desk::own_account_alert`]).
    pub owner_team: Option<String>,
    pub owner_rep: Option<String>,
}

/// What one contribution did to an account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountOutcome {
    /// The account's state changed, so `account-scores` needs `score`.
    pub changed: bool,
    /// The account's score after the contribution.
    pub score: AccountScore,
    /// Set when this contribution made the account cross a threshold.
    pub alert: Option<AccountAlert>,
}

/// Applies a model's `[account]` section to accounts.
#[derive(Debug, Clone)]
pub struct AccountScorer {
    model: Arc<Model>,
}

/// An account evaluated at one time, unrounded.
struct View {
    fit: f64,
    engagement: f64,
    breadth: u32,
    fit_reasons: Vec<AccountReason>,
    people: Vec<PersonShare>,
}

impl AccountScorer {
    /// `None` when the model has no `[account]`: nothing about accounts runs.
    pub fn new(model: Arc<Model>) -> Option<AccountScorer> {
        model.account.is_some().then_some(AccountScorer { model })
    }

    /// The model's `[account]`.
    pub fn rules(&self) -> &AccountModel {
        self.model
            .account
            .as_ref()
            .expect("AccountScorer::new checks the section is there")
    }

    /// The account of a lead with these attributes (see [`account_key`]).
    pub fn key_of(&self, attributes: &Attributes) -> Option<AccountKey> {
        account_key(attributes, self.rules())
    }

    /// Applies one contribution to the state of its account, `c.account`.
    /// A contribution whose engagement is not a number within
    /// ±[`MAX_CONTRIBUTED`] changes nothing.
    pub fn apply(&self, state: &mut AccountState, c: &LeadContribution) -> AccountOutcome {
        let r = self.rules();
        let mut changed = false;
        if c.engagement.abs() <= MAX_CONTRIBUTED && remember(state, r, c) {
            changed = true;
            if c.at > state.updated_at {
                state.updated_at = c.at;
            }
        }
        let t = state.updated_at;
        let view = self.view(&c.account, state, t);
        let score = view.fit + view.engagement;
        let score_hit = r.score_at_least.is_some_and(|s| score >= s);
        let breadth_hit = r.breadth_at_least.is_some_and(|n| view.breadth >= n);
        if state.alerted {
            let score_fell = match r.score_at_least {
                None => true,
                Some(s) => score < r.rearm_below.unwrap_or(s),
            };
            let cooled = r
                .cooldown
                .zip(state.last_alert_at)
                .is_some_and(|(cooldown, at)| t >= at + cooldown);
            if (score_fell && !breadth_hit) || cooled {
                state.alerted = false;
                changed = true;
            }
        }
        let trigger = if score_hit {
            Some(AccountTrigger::Score)
        } else if breadth_hit {
            Some(AccountTrigger::Breadth)
        } else {
            None
        };
        let mut alert = None;
        if let (Some(trigger), false) = (trigger, state.alerted) {
            state.alerted = true;
            state.alerts += 1;
            state.last_alert_at = Some(t);
            changed = true;
            alert = Some(AccountAlert {
                alert_id: alert_id(&c.account, state.alerts),
                account: c.account.clone(),
                trigger,
                score: round2(score),
                fit: round2(view.fit),
                engagement: round2(view.engagement),
                breadth: view.breadth,
                threshold: r.score_at_least,
                breadth_threshold: r.breadth_at_least,
                crossed_at: t,
                lead_id: latest_person(state).unwrap_or(&c.lead_id).to_owned(),
                fit_reasons: view.fit_reasons.clone(),
                people: view.people.clone(),
                model_version: self.model.version.clone(),
                owner_team: None,
                owner_rep: None,
            });
        }
        AccountOutcome {
            changed,
            score: self.record(&c.account, state, view, t),
            alert,
        }
    }

    /// The account's score record at its latest contribution.
    pub fn score_of(&self, account: &AccountKey, state: &AccountState) -> AccountScore {
        let t = state.updated_at;
        self.record(account, state, self.view(account, state, t), t)
    }

    fn record(&self, account: &AccountKey, s: &AccountState, v: View, t: Millis) -> AccountScore {
        let r = self.rules();
        let score = v.fit + v.engagement;
        AccountScore {
            account: account.clone(),
            score: round2(score),
            fit: round2(v.fit),
            engagement: round2(v.engagement),
            breadth: v.breadth,
            threshold: r.score_at_least,
            breadth_threshold: r.breadth_at_least,
            qualified: r.score_at_least.is_some_and(|m| score >= m)
                || r.breadth_at_least.is_some_and(|n| v.breadth >= n),
            alerted: s.alerted,
            fit_reasons: v.fit_reasons,
            people: v.people,
            updated_at: t,
            model_version: self.model.version.clone(),
        }
    }

    /// A person's engagement at `t`: halving from their contribution's
    /// time; negative engagement never decays, so waiting never raises
    /// an account's score.
    fn engagement_at(&self, p: &Person, t: Millis) -> f64 {
        match self.rules().half_life {
            Some(h) if p.engagement > 0.0 => p.engagement * halving(t - p.at, h),
            _ => p.engagement,
        }
    }

    fn view(&self, account: &AccountKey, s: &AccountState, t: Millis) -> View {
        let r = self.rules();
        let mut shares: Vec<PersonShare> = Vec::with_capacity(s.people.len());
        let mut engagement = match r.aggregate {
            Aggregate::Sum => 0.0,
            Aggregate::Max => f64::NEG_INFINITY,
        };
        let mut breadth = 0;
        for (id, p) in &s.people {
            let e = self.engagement_at(p, t);
            engagement = match r.aggregate {
                Aggregate::Sum => engagement + e,
                Aggregate::Max => engagement.max(e),
            };
            let in_breadth = p.engaged_at.is_some_and(|at| at + r.breadth_window > t);
            breadth += u32::from(in_breadth);
            if in_breadth || round2(e) != 0.0 {
                shares.push(PersonShare {
                    lead_id: id.clone(),
                    contact: p.contact.clone(),
                    engagement: round2(e),
                    engaged_at: p.engaged_at,
                    in_breadth,
                    reasons: p.reasons.clone(),
                });
            }
        }
        if engagement == f64::NEG_INFINITY {
            engagement = 0.0;
        }
        shares.sort_by(|a, b| {
            b.engagement
                .total_cmp(&a.engagement)
                .then_with(|| a.lead_id.cmp(&b.lead_id))
        });
        shares.truncate(MAX_SHOWN_PEOPLE);
        let attributes = attributes_of(account, s);
        let fit_reasons = r
            .fit_rules
            .iter()
            .filter(|f| f.condition.holds(&attributes))
            .map(|f| AccountReason {
                rule_id: f.id.to_string(),
                label: f.label.to_string(),
                points: round2(f.points),
                last_seen: t,
            })
            .collect();
        View {
            fit: r.fit_of(&attributes),
            engagement: engagement + 0.0,
            breadth,
            fit_reasons,
            people: shares,
        }
    }
}

/// The account's attributes: each one from the person whose latest
/// contribution is latest (ties: the greater lead id), and
/// [`ACCOUNT_ATTRIBUTE`], the key's value.
fn attributes_of(account: &AccountKey, s: &AccountState) -> Attributes {
    let mut order: Vec<(&String, &Person)> = s.people.iter().collect();
    order.sort_by_key(|(id, p)| (p.at, *id));
    let mut merged: BTreeMap<&str, &str> = BTreeMap::new();
    for (_, p) in order {
        merged.extend(p.attributes.iter());
    }
    merged.insert(ACCOUNT_ATTRIBUTE, account.value());
    merged.into_iter().collect()
}

/// The lead id of the person whose latest contribution is latest (ties:
/// the greater lead id), as [`attributes_of`] orders them.
fn latest_person(s: &AccountState) -> Option<&str> {
    s.people
        .iter()
        .max_by_key(|(id, p)| (p.at, *id))
        .map(|(id, _)| id.as_str())
}

/// Keeps what `c` says about its person; true if anything changed. A
/// person's latest contribution (by event time, then by engagement)
/// describes them, so a re-sent or late one changes nothing but, if it
/// was engaged, when they were last engaged.
fn remember(state: &mut AccountState, r: &AccountModel, c: &LeadContribution) -> bool {
    let engaged = c.engagement > r.engaged_above;
    let person = || Person {
        engagement: c.engagement,
        at: c.at,
        engaged_at: None,
        reasons: c.reasons.iter().take(MAX_REASONS).cloned().collect(),
        contact: c.contact.clone(),
        attributes: c.attributes.clone(),
    };
    let mut changed = false;
    if let Some(p) = state.people.get_mut(&c.lead_id) {
        if c.at > p.at || (c.at == p.at && c.engagement > p.engagement) {
            let engaged_at = p.engaged_at;
            *p = Person {
                engaged_at,
                ..person()
            };
            changed = true;
        }
    } else {
        if state.people.len() >= r.max_people {
            let oldest = state
                .people
                .iter()
                .min_by_key(|(id, p)| (p.at, *id))
                .map(|(id, p)| (id.clone(), p.at));
            match oldest {
                // The newcomer is the oldest: it is forgotten at once.
                Some((_, at)) if at > c.at => return false,
                Some((id, _)) => {
                    state.people.remove(&id);
                }
                None => {}
            }
        }
        state.people.insert(c.lead_id.clone(), person());
        changed = true;
    }
    let p = state
        .people
        .get_mut(&c.lead_id)
        .expect("the person was just kept");
    if engaged && p.engaged_at.is_none_or(|at| c.at > at) {
        p.engaged_at = Some(c.at);
        changed = true;
    }
    changed
}

/// A stable 128-bit id, hex encoded, from the account and its crossing
/// count (xxh3, as lead alerts' ids, so it is the same on every build).
fn alert_id(account: &AccountKey, nth: u32) -> String {
    let key = account.to_string();
    let mut buf = Vec::with_capacity(key.len() + 13);
    buf.extend_from_slice(b"account\0");
    buf.extend_from_slice(key.as_bytes());
    buf.push(0);
    buf.extend_from_slice(&nth.to_le_bytes());
    format!("{:032x}", xxh3_128(&buf))
}
