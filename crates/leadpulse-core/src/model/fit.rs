//! `[fit]`: grade bands and fit rules (who the lead is).

use super::condition::{attr_condition, AttrFields};
use super::file::FitFile;
use super::load::Loader;
use super::{FitRule, Grades, ModelError};

impl Loader<'_> {
    /// The grade bands and the fit rules; bands must be strictly
    /// decreasing, and grade C reachable by the rules.
    pub(super) fn fit(&mut self, f: &FitFile) -> Result<(Grades, Vec<FitRule>), ModelError> {
        let grades = self.grades(f)?;
        let mut fit_rules = Vec::new();
        for r in &f.rules {
            let id = self.unique_id("fit rule", &r.id)?;
            let owner = format!("fit rule `{id}`");
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
            )?;
            fit_rules.push(FitRule {
                points: self.points(&owner, &r.points)?,
                label: r.label.clone().unwrap_or_else(|| id.clone()).into(),
                id: id.into(),
                condition,
            });
        }
        if let Some(g) = &f.grades {
            let max_fit: f64 = fit_rules.iter().map(|r| r.points.max(0.0)).sum::<f64>() + 0.0;
            let c = g.get_ref().c.get_ref();
            if *c > max_fit {
                return Err(self.src.at(
                    g.get_ref().c.span(),
                    format!("grade C needs {c} fit points but the fit rules give at most {max_fit}, so every lead would be grade D"),
                ));
            }
        }
        Ok((grades, fit_rules))
    }

    fn grades(&self, f: &FitFile) -> Result<Grades, ModelError> {
        let Some(g) = &f.grades else {
            return Ok(Grades {
                a: f64::INFINITY,
                b: f64::INFINITY,
                c: f64::INFINITY,
            });
        };
        let f = g.get_ref();
        let (a, b, c) = (*f.a.get_ref(), *f.b.get_ref(), *f.c.get_ref());
        if a <= b {
            return Err(self.src.at(
                f.b.span(),
                format!("grade bands overlap: A starts at {a} fit points, so B must start below it, not at {b}"),
            ));
        }
        if b <= c {
            return Err(self.src.at(
                f.c.span(),
                format!("grade bands overlap: B starts at {b} fit points, so C must start below it, not at {c}"),
            ));
        }
        Ok(Grades { a, b, c })
    }
}
