//! `[account]`: how an account (the buying committee behind several leads)
//! is scored from its people. Optional: a model without it scores leads
//! only, and costs nothing more. `core::account` applies it.

use std::collections::BTreeSet;

use toml::Spanned;

use super::file::{AccountFile, AggregateFile};
use super::load::Loader;
use super::numbers::{number, DAYS, ENGAGED_ABOVE, PEOPLE, SCORE_LEVEL, THRESHOLD};
use super::{FitRule, DAY_MS};
use crate::attributes::Attributes;
use crate::event::Millis;

/// Web-mail domains: a person writing from one says nothing about an
/// employer, so these never form an account. `free_mail_domains` replaces
/// the list, `extra_free_mail_domains` adds to it.
pub const DEFAULT_FREE_MAIL_DOMAINS: &[&str] = &[
    "126.com",
    "163.com",
    "aol.com",
    "fastmail.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.fr",
    "icloud.com",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "t-online.de",
    "tutanota.com",
    "web.de",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.fr",
    "yandex.com",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
];

/// The attribute holding an account's key value (its `account_id` or its
/// domain), so a fit rule can name target accounts.
pub const ACCOUNT_ATTRIBUTE: &str = "account";

/// How an account's engagement is made of its people's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// The people's engagement added up: a committee counts more than one.
    Sum,
    /// The most engaged person's.
    Max,
}

impl Aggregate {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Max => "max",
        }
    }
}

/// A loaded `[account]` section.
#[derive(Debug, Clone)]
pub struct AccountModel {
    /// Domains that never form an account (lower case).
    pub free_mail: BTreeSet<String>,
    /// Fit rules on the account's attributes, in file order.
    pub fit_rules: Vec<FitRule>,
    /// How people's engagement adds up.
    pub aggregate: Aggregate,
    /// A person's engagement halves every this much event time after
    /// their latest contribution; `None`: it stays as the lead reported it.
    pub half_life: Option<Millis>,
    /// A person counts in the breadth when their engagement is above this.
    pub engaged_above: f64,
    /// A person counts in the breadth for this much event time after the
    /// latest contribution that had them engaged.
    pub breadth_window: Millis,
    /// The account alerts when its score reaches this ...
    pub score_at_least: Option<f64>,
    /// ... or when this many people are engaged in the window.
    pub breadth_at_least: Option<u32>,
    /// After an alert, the score must fall below this to re-arm (default:
    /// below `score_at_least`) ...
    pub rearm_below: Option<f64>,
    /// ... or this much event time must pass since the alert.
    pub cooldown: Option<Millis>,
    /// The most people an account keeps; past it, the one whose latest
    /// contribution is oldest is forgotten.
    pub max_people: usize,
}

impl AccountModel {
    /// 14 days: a buying committee shows up within a fortnight.
    pub const DEFAULT_BREADTH_DAYS: f64 = 14.0;
    /// 100 people: committees are 5–20 people; the rest is noise.
    pub const DEFAULT_MAX_PEOPLE: usize = 100;

    /// True when `domain` (normalised) or a domain it is under is free mail.
    pub fn is_free_mail(&self, domain: &str) -> bool {
        under_any(domain, |d| self.free_mail.contains(d))
    }

    /// The attribute names the account's fit rules read, besides
    /// [`ACCOUNT_ATTRIBUTE`]: what a lead's contribution must carry.
    pub fn attributes_read(&self) -> BTreeSet<&str> {
        self.fit_rules
            .iter()
            .map(|r| r.condition.attribute.as_str())
            .filter(|a| *a != ACCOUNT_ATTRIBUTE)
            .collect()
    }

    /// The attributes of a lead that the account's fit rules read.
    pub fn firmographics(&self, lead: &Attributes) -> Attributes {
        let read = self.attributes_read();
        lead.iter().filter(|(k, _)| read.contains(k)).collect()
    }

    /// The fit points of an account with these attributes.
    pub fn fit_of(&self, attributes: &Attributes) -> f64 {
        self.fit_rules
            .iter()
            .filter(|r| r.condition.holds(attributes))
            .map(|r| r.points)
            .sum::<f64>()
            + 0.0
    }
}

/// True when `domain` (normalised) or a domain it is under is in
/// [`DEFAULT_FREE_MAIL_DOMAINS`].
pub fn is_default_free_mail(domain: &str) -> bool {
    under_any(domain, |d| {
        DEFAULT_FREE_MAIL_DOMAINS.binary_search(&d).is_ok()
    })
}

/// True when `listed` holds `domain` or a domain it is under (`mail.gmx.de`
/// is under `gmx.de`; a top-level domain alone is never tried).
fn under_any(domain: &str, listed: impl Fn(&str) -> bool) -> bool {
    let mut d = domain;
    loop {
        if listed(d) {
            return true;
        }
        match d.split_once('.') {
            Some((_, parent)) if parent.contains('.') => d = parent,
            _ => return false,
        }
    }
}

/// A domain as accounts compare them: trimmed, lower case, without a
/// scheme, path, `www.` or trailing dot. `None` unless it looks like a
/// domain (a dot, no `@` or spaces).
pub fn normalise_domain(raw: &str) -> Option<String> {
    let mut d = raw.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = d.strip_prefix(scheme) {
            d = rest.to_owned();
        }
    }
    if let Some(i) = d.find('/') {
        d.truncate(i);
    }
    let d = d.trim_end_matches('.');
    let d = d.strip_prefix("www.").unwrap_or(d);
    let ok = d.contains('.')
        && !d.starts_with('.')
        && !d.contains("..")
        && !d.contains(|c: char| c == '@' || c.is_whitespace());
    ok.then(|| d.to_owned())
}

impl Loader<'_> {
    /// `[account]`, if sound: a threshold, numbers in range, domains that
    /// are domains, a re-arm level below the threshold.
    pub(super) fn account(&mut self, a: &Spanned<AccountFile>) -> Option<AccountModel> {
        let errors = self.src.error_count();
        let f = a.get_ref();
        let free_mail = self.free_mail(f);
        let fit_rules: Vec<Option<FitRule>> = f
            .fit
            .rules
            .iter()
            .map(|r| self.fit_rule("account fit rule", r))
            .collect();
        let days =
            |key: &str, v: &Option<Spanned<f64>>| v.as_ref().map(|v| DAYS.days(key, v, &self.src));
        let half_life = days("half_life_days", &f.half_life_days);
        let breadth_window = days("breadth_window_days", &f.breadth_window_days);
        let cooldown = days("cooldown_days", &f.cooldown_days);
        let engaged_above = f
            .engaged_above
            .as_ref()
            .map(|v| self.number(ENGAGED_ABOVE, "engaged_above", v));
        let score_at_least = f
            .score_at_least
            .as_ref()
            .map(|v| self.number(THRESHOLD, "score_at_least", v));
        let breadth_at_least = f
            .breadth_at_least
            .as_ref()
            .map(|v| self.number(PEOPLE, "breadth_at_least", v));
        let rearm_below = f
            .rearm_below
            .as_ref()
            .map(|v| self.number(SCORE_LEVEL, "rearm_below", v));
        let max_people = f
            .max_people
            .as_ref()
            .map(|v| self.number(PEOPLE, "max_people", v));
        if f.score_at_least.is_none() && f.breadth_at_least.is_none() {
            self.src.report(
                a.span(),
                "[account] needs a threshold: `score_at_least`, `breadth_at_least`, or both",
            );
        }
        match (&f.rearm_below, score_at_least) {
            (Some(r), None) => self.src.report(
                r.span(),
                "`rearm_below` needs `score_at_least`: it is the score an account must fall below to alert again",
            ),
            (Some(r), Some(Some(s))) if *r.get_ref() >= s => self.src.report(
                r.span(),
                format!(
                    "`rearm_below` ({}) must be below `score_at_least` ({}), or accounts would alert on every contribution",
                    number(*r.get_ref()),
                    number(s)
                ),
            ),
            _ => {}
        }
        let max = max_people
            .flatten()
            .map_or(AccountModel::DEFAULT_MAX_PEOPLE, |n| n as usize);
        if let (Some(b), Some(Some(n))) = (&f.breadth_at_least, breadth_at_least) {
            if n as usize > max {
                self.src.report(
                    b.span(),
                    format!("`breadth_at_least` ({n}) can never be reached: an account keeps at most {max} people (`max_people`)"),
                );
            }
        }
        if self.src.error_count() > errors {
            return None;
        }
        Some(AccountModel {
            free_mail: free_mail?,
            fit_rules: fit_rules.into_iter().collect::<Option<Vec<_>>>()?,
            aggregate: match f.engagement.as_ref().map(|e| *e.get_ref()) {
                None | Some(AggregateFile::Sum) => Aggregate::Sum,
                Some(AggregateFile::Max) => Aggregate::Max,
            },
            half_life: half_life.flatten(),
            engaged_above: engaged_above.flatten().unwrap_or(0.0),
            breadth_window: breadth_window
                .flatten()
                .unwrap_or((AccountModel::DEFAULT_BREADTH_DAYS * DAY_MS as f64) as Millis),
            score_at_least: score_at_least.flatten(),
            breadth_at_least: breadth_at_least.flatten().map(|n| n as u32),
            rearm_below: rearm_below.flatten(),
            cooldown: cooldown.flatten(),
            max_people: max,
        })
    }

    /// The free-mail list: the default, replaced or extended.
    fn free_mail(&self, f: &AccountFile) -> Option<BTreeSet<String>> {
        let errors = self.src.error_count();
        let mut set: BTreeSet<String> = match (&f.free_mail_domains, &f.extra_free_mail_domains) {
            (Some(_), Some(extra)) => {
                self.src.report(
                    extra.span(),
                    "give either `free_mail_domains` (replaces the default list) or `extra_free_mail_domains` (adds to it), not both",
                );
                return None;
            }
            (Some(_), None) => BTreeSet::new(),
            (None, _) => DEFAULT_FREE_MAIL_DOMAINS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
        };
        let given = f
            .free_mail_domains
            .as_ref()
            .map(|l| ("free_mail_domains", l))
            .or(f
                .extra_free_mail_domains
                .as_ref()
                .map(|l| ("extra_free_mail_domains", l)));
        let mut seen = BTreeSet::new();
        if let Some((key, list)) = given {
            for d in list.get_ref() {
                match normalise_domain(d.get_ref()) {
                    Some(n) if n == d.get_ref().as_str() => {
                        if !seen.insert(n.clone()) {
                            self.src
                                .warn(d.span(), format!("`{key}` lists `{n}` twice"));
                        }
                        set.insert(n);
                    }
                    Some(n) => self.src.report(
                        d.span(),
                        format!("`{key}` lists `{}`; write the domain as `{n}`", d.get_ref()),
                    ),
                    None => self.src.report(
                        d.span(),
                        format!(
                            "`{key}` lists `{}`, which is not a domain (write it as example.com)",
                            d.get_ref()
                        ),
                    ),
                }
            }
        }
        (self.src.error_count() == errors).then_some(set)
    }
}
