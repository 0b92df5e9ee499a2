//! `[qualify]`: when a lead is sales-ready, and when it may alert again;
//! and the check that a lead can reach it at all.

use std::collections::BTreeSet;

use toml::Spanned;

use super::error::Source;
use super::file::QualifyFile;
use super::load::days;
use super::{Grade, Matrix, Model, ModelError, Qualify};

impl Qualify {
    /// True when a lead with these parts is sales-ready.
    pub fn holds(&self, fit_grade: Grade, engagement: f64, score: f64) -> bool {
        self.score_at_least.is_none_or(|min| score >= min)
            && self.engagement_at_least.is_none_or(|min| engagement >= min)
            && self.fit_grade_at_least.is_none_or(|g| fit_grade <= g)
            && self
                .matrix
                .as_ref()
                .is_none_or(|m| m.cells.contains(&(fit_grade, m.level(engagement))))
    }

    /// The number published as `threshold`: the score (or engagement) a
    /// lead needs.
    pub fn threshold(&self) -> f64 {
        self.score_at_least
            .or(self.engagement_at_least)
            .unwrap_or(0.0)
    }

    /// The condition in words, e.g. `score ≥ 60 and fit grade ≥ C`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.score_at_least {
            parts.push(format!("score ≥ {s}"));
        }
        if let Some(e) = self.engagement_at_least {
            parts.push(format!("engagement ≥ {e}"));
        }
        if let Some(g) = self.fit_grade_at_least {
            parts.push(format!("fit grade {g} or better"));
        }
        if let Some(m) = &self.matrix {
            let cells: Vec<String> = m.cells.iter().map(|(g, l)| format!("{g}{l}")).collect();
            parts.push(format!("matrix cell in {}", cells.join("/")));
        }
        parts.join(" and ")
    }
}

impl Model {
    pub(super) fn qualify(
        q: &Spanned<QualifyFile>,
        src: &Source<'_>,
    ) -> Result<Qualify, ModelError> {
        let f = q.get_ref();
        let matrix = match (&f.engagement_levels, &f.cells) {
            (None, None) => None,
            (Some(levels), Some(cells)) => {
                let l = levels.get_ref();
                if l.is_empty() || l.windows(2).any(|w| w[0] <= w[1]) {
                    return Err(src.at(
                        levels.span(),
                        "`engagement_levels` must list decreasing engagement scores, level 1 first",
                    ));
                }
                let mut set = BTreeSet::new();
                for c in cells.get_ref() {
                    let mut chars = c.chars();
                    let cell = match (
                        chars.next().and_then(Grade::parse),
                        chars.as_str().parse::<u8>(),
                    ) {
                        (Some(g), Ok(n)) if n >= 1 && usize::from(n) <= l.len() + 1 => (g, n),
                        _ => {
                            return Err(src.at(
                                cells.span(),
                                format!(
                                    "cell `{c}` is not a grade A–D followed by a level 1–{}",
                                    l.len() + 1
                                ),
                            ))
                        }
                    };
                    set.insert(cell);
                }
                if set.is_empty() {
                    return Err(src.at(
                        cells.span(),
                        "`cells` is empty, so no lead can ever qualify",
                    ));
                }
                Some(Matrix {
                    levels: l.clone(),
                    cells: set,
                })
            }
            (Some(s), None) => {
                return Err(src.at(
                    s.span(),
                    "`engagement_levels` needs `cells` (e.g. [\"A1\", \"A2\", \"B1\"])",
                ))
            }
            (None, Some(s)) => {
                return Err(src.at(
                    s.span(),
                    "`cells` needs `engagement_levels` (e.g. [50, 30, 15])",
                ))
            }
        };
        let qualify = Qualify {
            score_at_least: f.score_at_least.as_ref().map(|s| *s.get_ref()),
            engagement_at_least: f.engagement_at_least.as_ref().map(|s| *s.get_ref()),
            fit_grade_at_least: f.fit_grade_at_least.as_ref().map(|s| *s.get_ref()),
            matrix,
            rearm_below: f.rearm_below.as_ref().map(|s| *s.get_ref()),
            cooldown: match &f.cooldown_days {
                None => None,
                Some(c) => Some(days(c.span(), *c.get_ref(), "cooldown_days", src)?),
            },
        };
        if qualify.score_at_least.is_none()
            && qualify.engagement_at_least.is_none()
            && qualify.matrix.is_none()
        {
            return Err(src.at(
                q.span(),
                "[qualify] needs a score condition: `score_at_least`, `engagement_at_least`, or a matrix (`engagement_levels` + `cells`)",
            ));
        }
        for (name, v) in [
            ("score_at_least", &f.score_at_least),
            ("engagement_at_least", &f.engagement_at_least),
        ] {
            if let Some(v) = v {
                if !v.get_ref().is_finite() || *v.get_ref() <= 0.0 {
                    return Err(src.at(v.span(), format!("`{name}` must be a positive number")));
                }
            }
        }
        if let (Some(r), Some(s)) = (&f.rearm_below, qualify.score_at_least) {
            if *r.get_ref() >= s {
                return Err(src.at(
                    r.span(),
                    format!("`rearm_below` ({}) must be below `score_at_least` ({s}), or leads would alert on every event", r.get_ref()),
                ));
            }
        }
        Ok(qualify)
    }

    pub(super) fn check_reachable(
        &self,
        q: &Spanned<QualifyFile>,
        src: &Source<'_>,
    ) -> Result<(), ModelError> {
        let f = q.get_ref();
        let max_eng = self.max_engagement();
        let bound = |v: Option<f64>| v.map_or("unbounded".to_owned(), |v| v.to_string());
        if let (Some(e), Some(max)) = (&f.engagement_at_least, max_eng) {
            if *e.get_ref() > max {
                return Err(src.at(
                    e.span(),
                    format!(
                        "no lead can reach engagement {}: the engagement rules give at most {max}",
                        e.get_ref()
                    ),
                ));
            }
        }
        if let Some(s) = &f.score_at_least {
            let max = max_eng.map(|m| m + self.max_fit());
            if max.is_some_and(|m| *s.get_ref() > m) {
                return Err(src.at(
                    s.span(),
                    format!(
                        "no lead can reach score {}: fit gives at most {} and engagement at most {}",
                        s.get_ref(),
                        self.max_fit(),
                        bound(max_eng)
                    ),
                ));
            }
        }
        if let Some(g) = &f.fit_grade_at_least {
            let best = self.grades.grade(self.max_fit());
            if best > *g.get_ref() {
                return Err(src.at(
                    g.span(),
                    format!(
                        "no lead can reach fit grade {}: the fit rules give at most {} points (grade {best})",
                        g.get_ref(),
                        self.max_fit()
                    ),
                ));
            }
        }
        if !self.rules.iter().any(|r| r.points > 0.0) && self.max_fit() <= 0.0 {
            return Err(src.at(
                q.span(),
                "no rule gives positive points, so no lead can ever qualify",
            ));
        }
        Ok(())
    }
}
