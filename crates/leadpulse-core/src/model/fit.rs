//! `[fit]`: grade bands and fit rules (who the lead is).

use super::condition::{attr_condition, AttrFields};
use super::file::{FitFile, FitRuleFile, GradesFile};
use super::load::{max_fit, min_fit, Loader};
use super::numbers::{number, SCORE_LEVEL};
use super::{FitRule, Grades};

/// Grades when the file gives no bands: every lead is D.
const NO_GRADES: Grades = Grades {
    a: f64::INFINITY,
    b: f64::INFINITY,
    c: f64::INFINITY,
};

impl Loader<'_> {
    /// The grade bands and the fit rules, if the section is sound. Bands
    /// must be strictly decreasing, and grade C reachable by the rules;
    /// a band no lead can fall in is a warning.
    pub(super) fn fit(&mut self, f: &FitFile) -> Option<(Grades, Vec<FitRule>)> {
        let errors = self.src.error_count();
        let grades = match &f.grades {
            None => Some(NO_GRADES),
            Some(g) => self.grades(g.get_ref()),
        };
        let rules: Vec<Option<FitRule>> = f
            .rules
            .iter()
            .map(|r| self.fit_rule("fit rule", r))
            .collect();
        if self.src.error_count() > errors {
            return None;
        }
        let (grades, rules) = (grades?, rules.into_iter().collect::<Option<Vec<_>>>()?);
        if let Some(g) = &f.grades {
            self.check_bands(g.get_ref(), &grades, &rules);
        }
        (self.src.error_count() == errors).then_some((grades, rules))
    }

    /// One fit rule; `kind` names it in messages (`fit rule`, `account fit rule`).
    pub(super) fn fit_rule(&mut self, kind: &str, r: &FitRuleFile) -> Option<FitRule> {
        let id = self.unique_id(kind, &r.id);
        let owner = Self::owner(kind, &r.id);
        let condition = attr_condition(
            &owner,
            &r.attribute,
            AttrFields {
                equals: &r.equals,
                in_: &r.in_,
                matches: &r.matches,
                contains: &r.contains,
                at_least: &r.at_least,
                below: &r.below,
            },
            &self.src,
        );
        let points = self.points(&owner, &r.points);
        let id = id?;
        Some(FitRule {
            points: points?,
            label: r.label.clone().unwrap_or_else(|| id.clone()).into(),
            id: id.into(),
            condition: condition?,
        })
    }

    fn grades(&self, f: &GradesFile) -> Option<Grades> {
        let a = self.number(SCORE_LEVEL, "A", &f.a);
        let b = self.number(SCORE_LEVEL, "B", &f.b);
        let c = self.number(SCORE_LEVEL, "C", &f.c);
        let (a, b, c) = (a?, b?, c?);
        if a <= b {
            self.src.report(
                f.b.span(),
                format!("grade bands overlap: A starts at {a} fit points, so B must start below it, not at {b}"),
            );
        }
        if b <= c {
            self.src.report(
                f.c.span(),
                format!("grade bands overlap: B starts at {b} fit points, so C must start below it, not at {c}"),
            );
        }
        (a > b && b > c).then_some(Grades { a, b, c })
    }

    /// Grade C must be reachable (or every lead is D); any other grade no
    /// lead's fit can fall in is a warning.
    fn check_bands(&self, f: &GradesFile, g: &Grades, rules: &[FitRule]) {
        let (min, max) = (min_fit(rules), max_fit(rules));
        if g.c > max {
            self.src.report(
                f.c.span(),
                format!("grade C needs {} fit points but the fit rules give at most {}, so every lead would be grade D", number(g.c), number(max)),
            );
            return;
        }
        for (grade, lo, hi, at) in [
            ("A", g.a, f64::INFINITY, &f.a),
            ("B", g.b, g.a, &f.b),
            ("C", g.c, g.b, &f.c),
        ] {
            if lo > max {
                self.src.warn(
                    at.span(),
                    format!(
                        "no lead can be grade {grade}: it needs {} fit points and the fit rules give at most {}",
                        number(lo),
                        number(max)
                    ),
                );
            } else if hi <= min {
                self.src.warn(
                    at.span(),
                    format!(
                        "no lead can be grade {grade}: every lead has at least {} fit points, which is grade {}",
                        number(min),
                        g.grade(min)
                    ),
                );
            }
        }
        if g.c <= min {
            self.src.warn(
                f.c.span(),
                format!(
                    "no lead can be grade D: every lead has at least {} fit points, and D is below {}",
                    number(min),
                    number(g.c)
                ),
            );
        }
    }
}
