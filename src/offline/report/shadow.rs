//! Champion and challenger side by side (`[[shadow]]`): the alerts each
//! model raised in the report's period, from `hot-lead-alerts` and
//! `shadow-alerts`, and which leads one of them alerted and the other did
//! not. Pure, like the rest of the report.

use std::collections::BTreeSet;

use crate::core::Alert;

use super::Period;

/// One model's alerts in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Side {
    /// The model versions its alerts name, in order (more than one when
    /// the model changed in the period).
    pub models: Vec<String>,
    pub alerts: u32,
    /// Distinct leads alerted.
    pub leads: u32,
}

/// The comparison, shown only when there are challenger alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub champion: Side,
    pub challenger: Side,
    /// Leads alerted under both models (the overlap).
    pub both: u32,
    /// Leads only the champion alerted, by lead id.
    pub champion_only: Vec<String>,
    /// Leads only the challenger alerted, by lead id.
    pub challenger_only: Vec<String>,
}

impl Comparison {
    /// `None` without challenger alerts in the period: no `[[shadow]]` ran.
    pub fn new(champion: &[Alert], challenger: &[Alert], period: Period) -> Option<Comparison> {
        let side = |alerts: &[Alert]| {
            let mut side = Side::default();
            let mut leads = BTreeSet::new();
            for a in alerts.iter().filter(|a| period.contains(a.crossed_at)) {
                side.alerts += 1;
                leads.insert(a.lead_id.clone());
                if !side.models.iter().any(|m| **m == *a.model_version) {
                    side.models.push(a.model_version.to_string());
                }
            }
            side.leads = leads.len() as u32;
            (side, leads)
        };
        let (challenger, theirs) = side(challenger);
        if challenger.alerts == 0 {
            return None;
        }
        let (champion, ours) = side(champion);
        Some(Comparison {
            champion,
            challenger,
            both: ours.intersection(&theirs).count() as u32,
            champion_only: ours.difference(&theirs).cloned().collect(),
            challenger_only: theirs.difference(&ours).cloned().collect(),
        })
    }

    /// The rows of the section's table: figure, champion, challenger.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let (a, b) = (&self.champion, &self.challenger);
        vec![
            vec!["model".into(), a.models.join(", "), b.models.join(", ")],
            vec!["alerts".into(), a.alerts.to_string(), b.alerts.to_string()],
            vec![
                "leads alerted".into(),
                a.leads.to_string(),
                b.leads.to_string(),
            ],
            vec![
                "alerted under both".into(),
                self.both.to_string(),
                self.both.to_string(),
            ],
            vec![
                "alerted under this model only".into(),
                self.champion_only.len().to_string(),
                self.challenger_only.len().to_string(),
            ],
        ]
    }

    /// "only champion (2): L-1 L-2", at most `LISTED` ids.
    pub fn only_lines(&self) -> [String; 2] {
        let line = |who: &str, ids: &[String]| {
            let mut s = format!("only {who} ({}): ", ids.len());
            if ids.is_empty() {
                s.push_str("(none)");
            }
            s.push_str(
                &ids.iter()
                    .take(LISTED)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            if ids.len() > LISTED {
                s.push_str(" …");
            }
            s
        };
        [
            line("the champion", &self.champion_only),
            line("the challenger", &self.challenger_only),
        ]
    }
}

/// Lead ids listed per side; the counts are complete.
pub const LISTED: usize = 20;

/// The section's table headers.
pub const HEADERS: [&str; 3] = ["figure", "champion", "challenger"];
