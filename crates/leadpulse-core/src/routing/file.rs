//! The roster file as written: its TOML shape, defaults and limits, and
//! the checks that turn it into a [`Roster`] with errors at line and column.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::super::account::AccountKey;
use super::super::event::Millis;
use super::super::hours::{self, BusinessHours, MAX_WORKING_DAYS};
use super::super::model::{is_default_free_mail, normalise_domain, ModelError};
use super::{AccountOwners, Rep, Roster, Team};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterFile {
    #[serde(default = "default_sla")]
    default_sla_minutes: Spanned<f64>,
    #[serde(default = "default_feedback_days")]
    feedback_business_days: Spanned<u32>,
    #[serde(default = "default_reassignments")]
    max_reassignments: u32,
    #[serde(default = "default_reasons")]
    rejection_reasons: Spanned<Vec<String>>,
    /// Business hours of every team that has none of its own.
    hours: Option<HoursFile>,
    #[serde(default, rename = "team")]
    teams: Vec<TeamFile>,
    /// The lead attribute that holds its account's owner (a rep id).
    account_owner_attribute: Option<Spanned<String>>,
    #[serde(default, rename = "named_account")]
    named_accounts: Vec<NamedAccountFile>,
}

/// `[[named_account]]`: an account and the rep who owns it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedAccountFile {
    /// `id:<account_id>`, `domain:<domain>`, or a bare domain.
    account: Spanned<String>,
    rep: Spanned<String>,
}

/// A named account's key as written, or why it is none.
fn named_key(raw: &str) -> Result<AccountKey, &'static str> {
    let raw = raw.trim();
    let domain = |d: &str| match normalise_domain(d) {
        Some(d) if is_default_free_mail(&d) => Err("is a free-mail domain, which is no account"),
        Some(d) => Ok(AccountKey::Domain(d)),
        None => Err("must be `id:<account_id>`, `domain:<domain>` or a domain like `acme.com`"),
    };
    match raw.split_once(':') {
        Some(("id", id)) if !id.trim().is_empty() => Ok(AccountKey::Id(id.trim().to_owned())),
        Some(("domain", d)) => domain(d),
        _ => domain(raw),
    }
}

/// The rejection reasons when a roster names none.
pub const DEFAULT_REJECTION_REASONS: [&str; 8] = [
    "no_budget",
    "not_a_decision_maker",
    "student_or_job_seeker",
    "existing_customer",
    "bad_timing",
    "not_a_fit",
    "competitor",
    "duplicate",
];

fn default_reasons() -> Spanned<Vec<String>> {
    Spanned::new(0..0, DEFAULT_REJECTION_REASONS.map(str::to_owned).to_vec())
}

fn default_sla() -> Spanned<f64> {
    Spanned::new(0..0, 60.0)
}
fn default_feedback_days() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}

/// The longest SLA, 30 days (as a model's `respond_within_minutes`): a
/// handoff's deadlines stay dates, and event time cannot overflow.
pub const MAX_SLA_MINUTES: f64 = 43_200.0;
/// The longest feedback window, a year of business days: the deadline is
/// counted day by day.
pub const MAX_FEEDBACK_BUSINESS_DAYS: u32 = 260;

fn sla_ok(m: f64) -> bool {
    m.is_finite() && m > 0.0 && m <= MAX_SLA_MINUTES
}
fn default_reassignments() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamFile {
    id: Spanned<String>,
    name: Option<String>,
    lead: Spanned<String>,
    sla_minutes: Option<Spanned<f64>>,
    #[serde(default)]
    reassign_on_breach: bool,
    #[serde(default)]
    territory: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "rep")]
    reps: Vec<RepFile>,
    slack_channel: Option<Spanned<String>>,
    /// Replaces the roster's `[hours]` as a whole.
    hours: Option<HoursFile>,
}

/// `[hours]` or `[team.hours]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursFile {
    time_zone: Spanned<String>,
    days: Option<Spanned<String>>,
    open: Spanned<String>,
    close: Spanned<String>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepFile {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default = "yes")]
    available: bool,
    email: Option<Spanned<String>>,
    slack_user: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
}

/// Roughly `local@domain.tld`: enough to catch a name typed into the field.
fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        && !domain.contains('@')
}

/// A Slack id: a letter from `kinds` then upper-case letters and digits.
fn slack_id(s: &str, kinds: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| kinds.contains(&c))
        && s.len() >= 3
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn yes() -> bool {
    true
}

fn minutes(m: f64) -> Millis {
    (m * 60_000.0).round() as Millis
}

impl Roster {
    /// Parses and validates a roster. Errors name the line and column.
    pub fn from_toml(origin: &str, text: &str) -> Result<Roster, ModelError> {
        let file: RosterFile = toml::from_str(text).map_err(|e| ModelError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let at = |span: std::ops::Range<usize>, message: String| {
            let before = &text[..span.start.min(text.len())];
            ModelError::Invalid {
                origin: origin.to_owned(),
                line: before.matches('\n').count() + 1,
                column: before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
                message,
            }
        };
        if !sla_ok(*file.default_sla_minutes.get_ref()) {
            return Err(at(
                file.default_sla_minutes.span(),
                format!(
                    "`default_sla_minutes` must be above 0 and at most {MAX_SLA_MINUTES} (30 days)"
                ),
            ));
        }
        if *file.feedback_business_days.get_ref() > MAX_FEEDBACK_BUSINESS_DAYS {
            return Err(at(
                file.feedback_business_days.span(),
                format!(
                    "`feedback_business_days` must be at most {MAX_FEEDBACK_BUSINESS_DAYS} (a year)"
                ),
            ));
        }
        if file.teams.is_empty() {
            return Err(ModelError::Invalid {
                origin: origin.to_owned(),
                line: 1,
                column: 1,
                message: "a roster needs at least one [[team]]".into(),
            });
        }
        let hours = |file: &HoursFile, team: Option<&str>| -> Result<BusinessHours, ModelError> {
            let whose = team.map_or_else(String::new, |t| format!("team `{t}`: "));
            let field = |name: &str, span: std::ops::Range<usize>, e: String| {
                let table = if team.is_some() {
                    "team.hours"
                } else {
                    "hours"
                };
                at(span, format!("{whose}`{table}.{name}`: {e}"))
            };
            let zone = file.time_zone.get_ref().trim();
            let tz = hours::parse_time_zone(zone)
                .map_err(|e| field("time_zone", file.time_zone.span(), e))?;
            let days = match &file.days {
                Some(d) => {
                    hours::parse_days(d.get_ref()).map_err(|e| field("days", d.span(), e))?
                }
                None => hours::parse_days("Mon-Fri").expect("a valid default"),
            };
            let open = hours::parse_clock(file.open.get_ref(), false)
                .map_err(|e| field("open", file.open.span(), e))?;
            let close = hours::parse_clock(file.close.get_ref(), true)
                .map_err(|e| field("close", file.close.span(), e))?;
            let mut holidays = BTreeSet::new();
            for h in &file.holidays {
                holidays.insert(
                    hours::parse_date(h.get_ref()).map_err(|e| field("holidays", h.span(), e))?,
                );
            }
            if !days.contains(&true) {
                let span = file.days.as_ref().map_or(file.open.span(), |d| d.span());
                return Err(field("days", span, "names no working day".into()));
            }
            BusinessHours::new(tz, zone, days, open, close, holidays)
                .map_err(|e| field("close", file.close.span(), e))
        };
        let default_hours = match &file.hours {
            Some(h) => Some(hours(h, None)?),
            None => None,
        };
        let mut teams: Vec<Team> = Vec::new();
        let mut rep_ids = BTreeSet::new();
        for t in &file.teams {
            let id = t.id.get_ref().trim().to_owned();
            if id.is_empty() || teams.iter().any(|x| *x.id == *id) {
                return Err(at(
                    t.id.span(),
                    format!("team id `{id}` is empty or used twice"),
                ));
            }
            let sla = match &t.sla_minutes {
                Some(m) if !sla_ok(*m.get_ref()) => {
                    return Err(at(
                        m.span(),
                        format!(
                            "team `{id}`: `sla_minutes` must be above 0 and at most \
                             {MAX_SLA_MINUTES} (30 days)"
                        ),
                    ))
                }
                Some(m) => minutes(*m.get_ref()),
                None => minutes(*file.default_sla_minutes.get_ref()),
            };
            let mut reps = Vec::new();
            for r in &t.reps {
                let rid = r.id.get_ref().trim().to_owned();
                if rid.is_empty() || !rep_ids.insert(rid.clone()) {
                    return Err(at(
                        r.id.span(),
                        format!("rep id `{rid}` is empty or used twice"),
                    ));
                }
                if let Some(e) = &r.email {
                    if !plausible_email(e.get_ref()) {
                        return Err(at(
                            e.span(),
                            format!("rep `{rid}`: `email` is not an email address"),
                        ));
                    }
                }
                if let Some(u) = &r.slack_user {
                    if !slack_id(u.get_ref(), &['U', 'W']) {
                        return Err(at(
                            u.span(),
                            format!(
                                "rep `{rid}`: `slack_user` must be a Slack user id like \
                                 `U024BE7LH` (from the user's profile, \"Copy member ID\")"
                            ),
                        ));
                    }
                }
                let time_zone = match &r.time_zone {
                    None => None,
                    Some(z) => Some(jiff::tz::db().get(z.get_ref()).map_err(|_| {
                        at(
                            z.span(),
                            format!(
                                "rep `{rid}`: `time_zone` `{}` is not an IANA time zone \
                                 (e.g. `Europe/Berlin`, `America/New_York`)",
                                z.get_ref()
                            ),
                        )
                    })?),
                };
                reps.push(Rep {
                    name: r.name.clone().unwrap_or_else(|| rid.clone()),
                    id: rid.into(),
                    available: r.available,
                    email: r.email.as_ref().map(|e| e.get_ref().clone()),
                    slack_user: r.slack_user.as_ref().map(|u| u.get_ref().clone()),
                    time_zone,
                });
            }
            if reps.is_empty() {
                return Err(at(t.id.span(), format!("team `{id}` has no [[team.rep]]")));
            }
            let lead = t.lead.get_ref().trim();
            if lead.is_empty() {
                return Err(at(
                    t.lead.span(),
                    format!("team `{id}`: `lead` must name the team lead's rep id"),
                ));
            }
            if let Some(c) = &t.slack_channel {
                let name = c.get_ref();
                let ok = slack_id(name, &['C', 'G'])
                    || name.strip_prefix('#').is_some_and(|n| {
                        !n.is_empty()
                            && n.len() <= 80
                            && n.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c)
                            })
                    });
                if !ok {
                    return Err(at(
                        c.span(),
                        format!(
                            "team `{id}`: `slack_channel` must be a channel id like `C0123ABCD` \
                             or a name like `#sales-emea`"
                        ),
                    ));
                }
            }
            let team_hours = match &t.hours {
                Some(h) => Some(hours(h, Some(&id))?),
                None => default_hours.clone(),
            };
            if let Some(h) = &team_hours {
                let longest = Millis::from(MAX_WORKING_DAYS) * h.day_length();
                if sla > longest {
                    let span = t.sla_minutes.as_ref().map_or(t.id.span(), |m| m.span());
                    return Err(at(
                        span,
                        format!(
                            "team `{id}`: with business hours ({h}) the SLA must be at most \
                             {MAX_WORKING_DAYS} working days ({} minutes)",
                            longest / 60_000
                        ),
                    ));
                }
            }
            teams.push(Team {
                slack_channel: t.slack_channel.as_ref().map(|c| c.get_ref().clone()),
                name: t.name.clone().unwrap_or_else(|| id.clone()),
                id: id.into(),
                lead: lead.into(),
                sla,
                reassign_on_breach: t.reassign_on_breach,
                territory: t
                    .territory
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.iter().map(|s| s.to_ascii_lowercase()).collect(),
                        )
                    })
                    .collect(),
                reps,
                hours: team_hours,
            });
        }
        let last = file.teams.last().expect("checked non-empty");
        if !teams.last().expect("non-empty").territory.is_empty() {
            return Err(at(
                last.id.span(),
                "the last team must have no territory, so that every lead gets an owner".into(),
            ));
        }
        let reasons = file.rejection_reasons.get_ref();
        let mut seen = BTreeSet::new();
        for r in reasons {
            let ok = !r.is_empty()
                && r.len() <= 40
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok || r == "other" || !seen.insert(r.as_str()) {
                return Err(at(
                    file.rejection_reasons.span(),
                    format!(
                        "`rejection_reasons`: `{r}` must be snake_case (a-z, 0-9, _; at most 40), \
                         not `other` (kept for reasons outside the list), and listed once"
                    ),
                ));
            }
        }
        if reasons.is_empty() || reasons.len() > 20 {
            return Err(at(
                file.rejection_reasons.span(),
                "`rejection_reasons` must list between 1 and 20 reasons".into(),
            ));
        }
        let mut named = BTreeMap::new();
        for n in &file.named_accounts {
            let written = n.account.get_ref();
            let key = named_key(written).map_err(|e| {
                at(
                    n.account.span(),
                    format!("`named_account.account` `{written}` {e}"),
                )
            })?;
            let rep = n.rep.get_ref().trim();
            if !rep_ids.contains(rep) {
                return Err(at(
                    n.rep.span(),
                    format!(
                        "`named_account.rep`: `{rep}` (for account `{key}`) is not a rep of any \
                         team; name a `[[team.rep]]` id"
                    ),
                ));
            }
            if named.insert(key.clone(), rep.into()).is_some() {
                return Err(at(
                    n.account.span(),
                    format!("`named_account.account`: account `{key}` is named twice"),
                ));
            }
        }
        let attribute = match &file.account_owner_attribute {
            Some(a) if a.get_ref().trim().is_empty() => {
                return Err(at(
                    a.span(),
                    "`account_owner_attribute` must name a lead attribute, e.g. \
                     `account_owner`"
                        .into(),
                ))
            }
            Some(a) => Some(a.get_ref().trim().to_owned()),
            None => None,
        };
        Ok(Roster {
            teams,
            feedback_business_days: file.feedback_business_days.into_inner(),
            max_reassignments: file.max_reassignments,
            rejection_reasons: reasons.clone(),
            account_owners: AccountOwners { named, attribute },
        })
    }
}
