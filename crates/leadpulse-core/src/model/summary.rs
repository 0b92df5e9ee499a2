//! What a model means in plain words: the text `model check` prints, for
//! marketing ops and sales to check a model against what they agreed.

use super::{Cap, Decay, DisqualifyWhen, Model, DAY_MS};

impl Model {
    /// A short human summary of what the model means, for `model check`.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let q = &self.qualify;
        let _ = writeln!(out, "model {}", self.version);
        let _ = writeln!(
            out,
            "A lead is sales-ready when {}; reps then have {} minutes to respond.",
            q.describe(),
            self.respond_within / 60_000
        );
        match (q.rearm_below, q.cooldown) {
            (Some(r), Some(c)) => {
                let _ = writeln!(out, "After an alert it alerts again only once its score falls below {r} or {} days pass.", c / DAY_MS);
            }
            (Some(r), None) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once its score falls below {r}."
                );
            }
            (None, Some(c)) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once it stops qualifying or {} days pass.",
                    c / DAY_MS
                );
            }
            (None, None) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once it stops qualifying."
                );
            }
        }
        if !self.require.is_empty() {
            let _ = writeln!(
                out,
                "Before handoff these must be known: {} (otherwise the lead waits on leads-needing-enrichment).",
                self.require.join(", ")
            );
        }
        if !self.fit_rules.is_empty() {
            let g = &self.grades;
            let _ = writeln!(
                out,
                "\nFit (who they are), at most {} points; grade A ≥ {}, B ≥ {}, C ≥ {}, else D:",
                self.max_fit(),
                g.a,
                g.b,
                g.c
            );
            for r in &self.fit_rules {
                let _ = writeln!(
                    out,
                    "  {:>+6}  {:<40} {}",
                    r.points,
                    r.label,
                    r.condition.describe()
                );
            }
        }
        let _ = writeln!(out, "\nEngagement (what they do):");
        for r in &self.rules {
            let decay = match self.decay_of(r) {
                Decay::None => String::new(),
                Decay::HalfLife(h) => format!(", halves every {} days", h / DAY_MS),
                Decay::Window(w) => format!(", counts for {} days", w / DAY_MS),
            };
            let cap = match r.cap {
                Cap::None => String::new(),
                Cap::Once => ", first time only".into(),
                Cap::PerWindow { max, window } => {
                    format!(", at most {max}× per {} days", window / DAY_MS)
                }
            };
            let decay = if r.points < 0.0 { String::new() } else { decay };
            let _ = writeln!(
                out,
                "  {:>+6}  {:<40} {}{cap}{decay}",
                r.points, r.label, r.event
            );
        }
        if !self.disqualifiers.is_empty() {
            let _ = writeln!(out, "\nNever alerts when:");
            for d in &self.disqualifiers {
                let when = match &d.when {
                    DisqualifyWhen::Event(t, _) => format!("on any {t} event that matches"),
                    DisqualifyWhen::Attribute(c) => c.describe(),
                };
                let _ = writeln!(out, "  {:<40} {}", d.label, when);
            }
        }
        out
    }
}
