//! `[qualify]`: when a lead is sales-ready, and when it may alert again;
//! and the check that a lead can reach it at all.

use std::collections::BTreeSet;

use toml::Spanned;

use super::file::QualifyFile;
use super::load::{max_engagement, max_fit, min_engagement, min_fit, Loader};
use super::numbers::{number, DAYS, MAX_LEVELS, SCORE_LEVEL, THRESHOLD};
use super::{FitRule, Grade, Grades, Matrix, Qualify, Rule};

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

/// A matrix cell such as `A2`, if it names a grade and a level up to
/// `levels + 1`.
fn parse_cell(c: &str, levels: usize) -> Option<(Grade, u8)> {
    let mut chars = c.chars();
    let grade = chars.next().and_then(Grade::parse)?;
    let level = chars.as_str().parse::<u8>().ok()?;
    (level >= 1 && usize::from(level) <= levels + 1).then_some((grade, level))
}

impl Loader<'_> {
    /// `[qualify]`, if sound: at least one score condition, numbers in
    /// range, a well-formed matrix, a re-arm level below the threshold.
    pub(super) fn qualify(&self, q: &Spanned<QualifyFile>) -> Option<Qualify> {
        let errors = self.src.error_count();
        let f = q.get_ref();
        let matrix = self.matrix(f);
        let score_at_least = f
            .score_at_least
            .as_ref()
            .map(|v| self.number(THRESHOLD, "score_at_least", v));
        let engagement_at_least = f
            .engagement_at_least
            .as_ref()
            .map(|v| self.number(THRESHOLD, "engagement_at_least", v));
        let rearm_below = f
            .rearm_below
            .as_ref()
            .map(|v| self.number(SCORE_LEVEL, "rearm_below", v));
        let cooldown = f
            .cooldown_days
            .as_ref()
            .map(|v| DAYS.days("cooldown_days", v, &self.src));
        if f.score_at_least.is_none() && f.engagement_at_least.is_none() && matrix.is_none() {
            self.src.report(
                q.span(),
                "[qualify] needs a score condition: `score_at_least`, `engagement_at_least`, or a matrix (`engagement_levels` + `cells`)",
            );
        }
        if let (Some(r), Some(Some(s))) = (&f.rearm_below, score_at_least) {
            if *r.get_ref() >= s {
                self.src.report(
                    r.span(),
                    format!("`rearm_below` ({}) must be below `score_at_least` ({s}), or leads would alert on every event", number(*r.get_ref())),
                );
            }
        }
        if self.src.error_count() > errors {
            return None;
        }
        Some(Qualify {
            score_at_least: score_at_least.flatten(),
            engagement_at_least: engagement_at_least.flatten(),
            fit_grade_at_least: f.fit_grade_at_least.as_ref().map(|s| *s.get_ref()),
            matrix: matrix.flatten(),
            rearm_below: rearm_below.flatten(),
            cooldown: cooldown.flatten(),
        })
    }

    /// The grade × engagement-level matrix: `None` if the file has none,
    /// `Some(None)` if it has one with errors.
    fn matrix(&self, f: &QualifyFile) -> Option<Option<Matrix>> {
        match (&f.engagement_levels, &f.cells) {
            (None, None) => None,
            (Some(levels), Some(cells)) => {
                let errors = self.src.error_count();
                let l: Vec<f64> = levels
                    .get_ref()
                    .iter()
                    .filter_map(|v| self.number(SCORE_LEVEL, "engagement_levels", v))
                    .collect();
                if l.is_empty() || l.windows(2).any(|w| w[0] <= w[1]) {
                    self.src.report(
                        levels.span(),
                        "`engagement_levels` must list decreasing engagement scores, level 1 first",
                    );
                } else if l.len() > MAX_LEVELS {
                    self.src.report(
                        levels.span(),
                        format!(
                            "`engagement_levels` may list at most {MAX_LEVELS} levels, not {}",
                            l.len()
                        ),
                    );
                }
                let mut set = BTreeSet::new();
                for c in cells.get_ref() {
                    match parse_cell(c.get_ref(), levels.get_ref().len()) {
                        Some(cell) => {
                            set.insert(cell);
                        }
                        None => self.src.report(
                            c.span(),
                            format!(
                                "cell `{}` is not a grade A–D followed by a level 1–{}",
                                c.get_ref(),
                                levels.get_ref().len() + 1
                            ),
                        ),
                    }
                }
                if cells.get_ref().is_empty() {
                    self.src.report(
                        cells.span(),
                        "`cells` is empty, so no lead can ever qualify",
                    );
                }
                Some((self.src.error_count() == errors).then_some(Matrix {
                    levels: l,
                    cells: set,
                }))
            }
            (Some(s), None) => {
                self.src.report(
                    s.span(),
                    "`engagement_levels` needs `cells` (e.g. [\"A1\", \"A2\", \"B1\"])",
                );
                Some(None)
            }
            (None, Some(s)) => {
                self.src.report(
                    s.span(),
                    "`cells` needs `engagement_levels` (e.g. [50, 30, 15])",
                );
                Some(None)
            }
        }
    }

    /// Thresholds no lead can reach are errors; matrix cells no lead can
    /// fall in, or that other conditions exclude, are warnings.
    pub(super) fn check_reachable(
        &self,
        q: &Spanned<QualifyFile>,
        qualify: &Qualify,
        grades: &Grades,
        fit_rules: &[FitRule],
        rules: &[Rule],
    ) {
        let f = q.get_ref();
        let max_eng = max_engagement(rules);
        let max_fit = max_fit(fit_rules);
        let bound = |v: Option<f64>| v.map_or("unbounded".to_owned(), number);
        if let (Some(e), Some(max)) = (&f.engagement_at_least, max_eng) {
            if *e.get_ref() > max {
                self.src.report(
                    e.span(),
                    format!(
                        "no lead can reach engagement {}: the engagement rules give at most {}",
                        number(*e.get_ref()),
                        number(max)
                    ),
                );
            }
        }
        if let Some(s) = &f.score_at_least {
            let max = max_eng.map(|m| m + max_fit);
            if max.is_some_and(|m| *s.get_ref() > m) {
                self.src.report(
                    s.span(),
                    format!(
                        "no lead can reach score {}: fit gives at most {} and engagement at most {}",
                        number(*s.get_ref()),
                        number(max_fit),
                        bound(max_eng)
                    ),
                );
            }
        }
        if let Some(g) = &f.fit_grade_at_least {
            let best = grades.grade(max_fit);
            if best > *g.get_ref() {
                self.src.report(
                    g.span(),
                    format!(
                        "no lead can reach fit grade {}: the fit rules give at most {} points (grade {best})",
                        g.get_ref(),
                        number(max_fit)
                    ),
                );
            }
        }
        if !rules.iter().any(|r| r.points > 0.0) && max_fit <= 0.0 {
            self.src.report(
                q.span(),
                "no rule gives positive points, so no lead can ever qualify",
            );
        }
        if let (Some(m), Some(cells)) = (&qualify.matrix, &f.cells) {
            let reach = Reach {
                fit: (min_fit(fit_rules), max_fit),
                engagement: (
                    min_engagement(rules).unwrap_or(f64::NEG_INFINITY),
                    max_eng.unwrap_or(f64::INFINITY),
                ),
            };
            for c in cells.get_ref() {
                if let Some(cell) = parse_cell(c.get_ref(), m.levels.len()) {
                    if let Some(why) = reach.cell(cell, m, grades, qualify) {
                        self.src
                            .warn(c.span(), format!("cell `{}` {why}", c.get_ref()));
                    }
                }
            }
        }
    }
}

/// The fit and engagement a lead can have, as (least, most).
struct Reach {
    fit: (f64, f64),
    engagement: (f64, f64),
}

impl Reach {
    /// Why no lead can qualify through a matrix cell, if none can.
    fn cell(
        &self,
        (grade, level): (Grade, u8),
        m: &Matrix,
        g: &Grades,
        q: &Qualify,
    ) -> Option<String> {
        let (fit_lo, fit_hi) = match grade {
            Grade::A => (g.a, f64::INFINITY),
            Grade::B => (g.b, g.a),
            Grade::C => (g.c, g.b),
            Grade::D => (f64::NEG_INFINITY, g.c),
        };
        let i = usize::from(level) - 1;
        let eng_lo = m.levels.get(i).copied().unwrap_or(f64::NEG_INFINITY);
        let eng_hi = if i == 0 {
            f64::INFINITY
        } else {
            m.levels[i - 1]
        };
        if fit_lo > self.fit.1 || fit_hi <= self.fit.0 {
            return Some(format!(
                "can never hold: no lead can be grade {grade} (fit is between {} and {} points)",
                number(self.fit.0),
                number(self.fit.1)
            ));
        }
        if eng_lo > self.engagement.1 || eng_hi <= self.engagement.0 {
            return Some(format!(
                "can never hold: no lead can reach engagement level {level} (engagement is between {} and {})",
                number(self.engagement.0),
                number(self.engagement.1)
            ));
        }
        if q.fit_grade_at_least.is_some_and(|min| grade > min) {
            return Some(format!(
                "never qualifies: `fit_grade_at_least` asks for grade {} or better",
                q.fit_grade_at_least.map_or("", Grade::as_str)
            ));
        }
        if q.engagement_at_least.is_some_and(|min| eng_hi <= min) {
            return Some(format!(
                "never qualifies: level {level} is below `engagement_at_least` ({})",
                number(q.engagement_at_least.unwrap_or_default())
            ));
        }
        None
    }
}
