//! Loading a model: parse the TOML, then build and check it one section at
//! a time (header, fit, engagement, disqualifiers, qualify, handoff,
//! account). Each section reports every problem it finds and carries on,
//! so one run of `model check` lists all of them; checks that need other
//! sections (can any lead reach the threshold?) run when those sections
//! are sound.

use std::collections::BTreeSet;

use toml::Spanned;

use super::error::Source;
use super::file::{DedupFile, HandoffFile, ModelFile, RefreshFile, VisitorsFile};
use super::numbers::{
    number, Bounds, DEDUP_MAX_IDS, DEDUP_WINDOW_HOURS, POINTS, RESPOND_WITHIN_MINUTES, THRESHOLD,
    VISITOR_MAX_EVENTS, VISITOR_TTL_DAYS,
};
use super::{Dedup, FitRule, Model, ModelError, Refresh, Rule, VisitorLimits, DAY_MS};
use crate::event::{Millis, HOUR_MS};

/// State shared by the sections while a file loads: where problems point
/// (and the list of them), and the ids seen so far (ids are unique across
/// the whole model).
pub(super) struct Loader<'a> {
    pub(super) src: Source<'a>,
    ids: BTreeSet<String>,
}

impl Model {
    /// Parses and validates a model. `origin` names the file in errors.
    /// Every problem found is in the error, in file order (see
    /// [`ModelError::errors`]); [`Model::warnings`] lists what is valid but
    /// probably unintended.
    pub fn from_toml(origin: &str, text: &str) -> Result<Model, ModelError> {
        let file: ModelFile = toml::from_str(text).map_err(|e| ModelError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut l = Loader {
            src: Source::new(origin, text),
            ids: BTreeSet::new(),
        };
        let version = l.version(&file.version);
        let respond_within = l.respond_within(&file.respond_within_minutes);
        let fit = l.fit(&file.fit);
        let groups = l.groups(&file.engagement.groups);
        let rules = l.rules(&file.engagement.rules, &groups);
        let disqualifiers = l.disqualifiers(&file.disqualify);
        let qualify = l.qualify(&file.qualify);
        let require = l.require(&file.handoff);
        let dedup = l.dedup(&file.dedup);
        let visitors = l.visitors(&file.visitors);
        let refresh = match &file.refresh {
            None => Some(None),
            Some(r) => l.refresh(r).map(Some),
        };
        let account = match &file.account {
            None => Some(None),
            Some(a) => l.account(a).map(Some),
        };
        if let (Some((grades, fit_rules)), Some((rules, _)), Some(qualify)) =
            (&fit, &rules, &qualify)
        {
            l.check_reachable(&file.qualify, qualify, grades, fit_rules, rules);
        }
        let warnings = l.src.finish()?;
        let (
            Some(version),
            Some(respond_within),
            Some((grades, fit_rules)),
            Some((rules, by_type)),
            Some((disqualifiers, dq_by_type)),
            Some(qualify),
            Some(require),
            Some(dedup),
            Some(visitors),
            Some(refresh),
            Some(account),
        ) = (
            version,
            respond_within,
            fit,
            rules,
            disqualifiers,
            qualify,
            require,
            dedup,
            visitors,
            refresh,
            account,
        )
        else {
            return Err(ModelError::Syntax {
                origin: origin.to_owned(),
                message: "the model is invalid, but no check said where (please report this)"
                    .to_owned(),
            });
        };
        Ok(Model {
            version: version.into(),
            respond_within,
            fit_rules,
            grades,
            groups,
            rules,
            disqualifiers,
            qualify,
            require,
            dedup,
            visitors,
            refresh,
            account,
            by_type,
            dq_by_type,
            warnings,
        })
    }
}

impl Loader<'_> {
    fn version(&self, v: &Spanned<String>) -> Option<String> {
        let version = v.get_ref().trim();
        if version.is_empty() {
            self.src.report(
                v.span(),
                "`version` must not be empty: it is named in every output",
            );
            return None;
        }
        Some(version.to_owned())
    }

    fn respond_within(&self, m: &Option<Spanned<u32>>) -> Option<Millis> {
        let Some(m) = m else {
            return Some(HOUR_MS);
        };
        let minutes = RESPOND_WITHIN_MINUTES.check_at(
            "respond_within_minutes",
            f64::from(*m.get_ref()),
            m.span(),
            &self.src,
        )?;
        Some(minutes as Millis * 60_000)
    }

    /// `[handoff] require`: attribute names, which must be written as they
    /// are kept (an empty or padded name is never known, so it would hold
    /// every lead forever).
    fn refresh(&self, r: &RefreshFile) -> Option<Refresh> {
        let step = match &r.step {
            Some(s) => self.number(THRESHOLD, "step", s)?,
            None => 1.0,
        };
        Some(Refresh {
            step,
            mql_to_lead: r.mql_to_lead,
        })
    }

    fn require(&self, h: &HandoffFile) -> Option<Vec<String>> {
        let errors = self.src.error_count();
        let mut names: Vec<String> = Vec::new();
        for name in &h.require {
            let n = name.get_ref();
            if n.trim().is_empty() {
                self.src.report(
                    name.span(),
                    "`require` lists an empty attribute name, which no lead ever has: every lead would wait for enrichment forever",
                );
            } else if n.trim() != n {
                self.src.report(
                    name.span(),
                    format!(
                        "`require` lists `{n}` with spaces around it; write `{}`",
                        n.trim()
                    ),
                );
            } else if names.contains(n) {
                self.src
                    .warn(name.span(), format!("`require` lists `{n}` twice"));
            } else {
                names.push(n.clone());
            }
        }
        (self.src.error_count() == errors).then_some(names)
    }

    /// `[dedup]`: each bound in range, defaults for those not given.
    fn dedup(&self, d: &DedupFile) -> Option<Dedup> {
        let mut dedup = Dedup::DEFAULT;
        if let Some(h) = &d.window_hours {
            let hours = self.number(DEDUP_WINDOW_HOURS, "window_hours", h)?;
            dedup.window = (hours * HOUR_MS as f64).round() as Millis;
        }
        if let Some(n) = &d.max_ids {
            dedup.max_ids = self.number(DEDUP_MAX_IDS, "max_ids", n)? as usize;
        }
        Some(dedup)
    }

    /// `[visitors]`: each bound in range, defaults for those not given.
    fn visitors(&self, v: &VisitorsFile) -> Option<VisitorLimits> {
        let mut limits = VisitorLimits::DEFAULT;
        if let Some(d) = &v.visitor_ttl_days {
            let days = self.number(VISITOR_TTL_DAYS, "visitor_ttl_days", d)?;
            limits.ttl = (days * DAY_MS as f64).round() as Millis;
        }
        if let Some(n) = &v.max_events {
            limits.max_events = self.number(VISITOR_MAX_EVENTS, "max_events", n)? as usize;
        }
        Some(limits)
    }

    /// A rule's id, trimmed; reported if empty or already used.
    pub(super) fn unique_id(&mut self, kind: &str, id: &Spanned<String>) -> Option<String> {
        let name = id.get_ref().trim().to_owned();
        if name.is_empty() {
            self.src
                .report(id.span(), format!("{kind} `id` must not be empty"));
            return None;
        }
        if !self.ids.insert(name.clone()) {
            self.src.report(
                id.span(),
                format!("id `{name}` is used twice; rule ids must be unique across the model"),
            );
            return None;
        }
        Some(name)
    }

    /// A rule's `points`: in range and not 0.
    pub(super) fn points(&self, owner: &str, p: &Spanned<f64>) -> Option<f64> {
        let v = *p.get_ref();
        if v == 0.0 || !POINTS.holds(v) {
            self.src.report(
                p.span(),
                format!(
                    "{owner}: `points` must be a non-zero number from {} to {}, not {}",
                    number(POINTS.min),
                    number(POINTS.max),
                    number(v)
                ),
            );
            return None;
        }
        Some(v)
    }

    /// What a rule is called in messages: its id as written.
    pub(super) fn owner(kind: &str, id: &Spanned<String>) -> String {
        format!("{kind} `{}`", id.get_ref().trim())
    }

    /// Checks a number against its range; see [`Bounds::check`].
    pub(super) fn number(&self, b: Bounds, key: &str, v: &Spanned<f64>) -> Option<f64> {
        b.check(key, v, &self.src)
    }
}

/// The most engagement points a lead could ever hold, if bounded.
pub(super) fn max_engagement(rules: &[Rule]) -> Option<f64> {
    let mut total = 0.0;
    for r in rules.iter().filter(|r| r.points > 0.0) {
        match r.cap {
            super::Cap::Once => total += r.points,
            _ => return None,
        }
    }
    Some(total)
}

/// The least engagement a lead could hold, if bounded: negative points
/// never decay, so only `once` rules bound it.
pub(super) fn min_engagement(rules: &[Rule]) -> Option<f64> {
    let mut total = 0.0;
    for r in rules.iter().filter(|r| r.points < 0.0) {
        match r.cap {
            super::Cap::Once => total += r.points,
            _ => return None,
        }
    }
    Some(total + 0.0)
}

/// The most fit points a lead could ever hold.
pub(super) fn max_fit(fit_rules: &[FitRule]) -> f64 {
    // `+ 0.0` turns the empty sum's -0 into 0 for messages.
    fit_rules.iter().map(|r| r.points.max(0.0)).sum::<f64>() + 0.0
}

/// The fewest fit points a lead could hold.
pub(super) fn min_fit(fit_rules: &[FitRule]) -> f64 {
    fit_rules.iter().map(|r| r.points.min(0.0)).sum::<f64>() + 0.0
}
