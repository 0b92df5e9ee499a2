//! The TOML schema of a model file, as written. `load` turns it into a
//! [`Model`](super::Model) and validates it; keeping the shape apart keeps
//! the checks readable.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::Grade;
use crate::event::{BounceType, EventType};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelFile {
    pub(super) version: Spanned<String>,
    pub(super) respond_within_minutes: Option<Spanned<u32>>,
    #[serde(default)]
    pub(super) fit: FitFile,
    #[serde(default)]
    pub(super) engagement: EngagementFile,
    #[serde(default)]
    pub(super) disqualify: Vec<DisqualifyFile>,
    pub(super) qualify: Spanned<QualifyFile>,
    #[serde(default)]
    pub(super) handoff: HandoffFile,
    #[serde(default)]
    pub(super) dedup: DedupFile,
    #[serde(default)]
    pub(super) visitors: VisitorsFile,
    pub(super) refresh: Option<RefreshFile>,
    pub(super) account: Option<Spanned<AccountFile>>,
}

/// `[account]`: scoring accounts (buying committees) from their people.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountFile {
    pub(super) free_mail_domains: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) extra_free_mail_domains: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) fit: AccountFitFile,
    pub(super) engagement: Option<Spanned<AggregateFile>>,
    pub(super) half_life_days: Option<Spanned<f64>>,
    pub(super) engaged_above: Option<Spanned<f64>>,
    pub(super) breadth_window_days: Option<Spanned<f64>>,
    pub(super) score_at_least: Option<Spanned<f64>>,
    pub(super) breadth_at_least: Option<Spanned<f64>>,
    pub(super) rearm_below: Option<Spanned<f64>>,
    pub(super) cooldown_days: Option<Spanned<f64>>,
    pub(super) max_people: Option<Spanned<f64>>,
}

/// `[account] engagement`: how the people's engagement adds up.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum AggregateFile {
    Sum,
    Max,
}

/// `[[account.fit.rule]]`: the same rules as `[[fit.rule]]`, on the account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountFitFile {
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<FitRuleFile>,
}

/// `[refresh]`: re-publish scores that decay has moved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshFile {
    pub(super) step: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) mql_to_lead: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FitFile {
    pub(super) grades: Option<Spanned<GradesFile>>,
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<FitRuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GradesFile {
    #[serde(rename = "A")]
    pub(super) a: Spanned<f64>,
    #[serde(rename = "B")]
    pub(super) b: Spanned<f64>,
    #[serde(rename = "C")]
    pub(super) c: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FitRuleFile {
    pub(super) id: Spanned<String>,
    pub(super) label: Option<String>,
    pub(super) attribute: Spanned<String>,
    pub(super) equals: Option<Spanned<String>>,
    #[serde(rename = "in")]
    pub(super) in_: Option<Spanned<Vec<String>>>,
    pub(super) matches: Option<Spanned<String>>,
    pub(super) contains: Option<Spanned<String>>,
    pub(super) at_least: Option<Spanned<f64>>,
    pub(super) below: Option<Spanned<f64>>,
    pub(super) points: Spanned<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EngagementFile {
    #[serde(default)]
    pub(super) groups: BTreeMap<String, Spanned<GroupFile>>,
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupFile {
    pub(super) half_life_days: Option<Spanned<f64>>,
    pub(super) window_days: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    pub(super) id: Spanned<String>,
    pub(super) label: Option<String>,
    pub(super) group: Option<Spanned<String>>,
    pub(super) event: Spanned<EventType>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) url_regex: Option<Spanned<String>>,
    pub(super) form: Option<Spanned<String>>,
    pub(super) asset: Option<Spanned<String>>,
    pub(super) campaign: Option<Spanned<String>>,
    pub(super) webinar: Option<Spanned<String>>,
    pub(super) bounce: Option<Spanned<BounceType>>,
    pub(super) points: Spanned<f64>,
    pub(super) once: Option<Spanned<bool>>,
    pub(super) cap: Option<Spanned<CapFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CapFile {
    pub(super) max: Spanned<u32>,
    pub(super) per_days: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DisqualifyFile {
    pub(super) id: Spanned<String>,
    pub(super) label: Option<String>,
    pub(super) event: Option<Spanned<EventType>>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) campaign: Option<Spanned<String>>,
    pub(super) bounce: Option<Spanned<BounceType>>,
    pub(super) attribute: Option<Spanned<String>>,
    pub(super) equals: Option<Spanned<String>>,
    #[serde(rename = "in")]
    pub(super) in_: Option<Spanned<Vec<String>>>,
    pub(super) matches: Option<Spanned<String>>,
    pub(super) contains: Option<Spanned<String>>,
    pub(super) at_least: Option<Spanned<f64>>,
    pub(super) below: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QualifyFile {
    pub(super) score_at_least: Option<Spanned<f64>>,
    pub(super) engagement_at_least: Option<Spanned<f64>>,
    pub(super) fit_grade_at_least: Option<Spanned<Grade>>,
    pub(super) engagement_levels: Option<Spanned<Vec<Spanned<f64>>>>,
    pub(super) cells: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) rearm_below: Option<Spanned<f64>>,
    pub(super) cooldown_days: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HandoffFile {
    #[serde(default)]
    pub(super) require: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DedupFile {
    pub(super) window_hours: Option<Spanned<f64>>,
    pub(super) max_ids: Option<Spanned<f64>>,
}

/// `[visitors]`: how long, and how much, anonymous history is kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VisitorsFile {
    pub(super) visitor_ttl_days: Option<Spanned<f64>>,
    pub(super) max_events: Option<Spanned<f64>>,
}
