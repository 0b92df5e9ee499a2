//! The scoring model: the shared, versioned definition of a sales-ready lead.
//!
//! Parsed from TOML (see `docs/model.md`). Unknown keys are errors, and every
//! validation error names the line and column it is about.

use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;

use super::event::{Event, EventKind, EventType, Millis, HOUR_MS};

/// A model that failed to load. The message is meant for the person editing
/// the file: it says where, and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Not valid TOML, or a key/value of the wrong shape.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// Valid TOML that does not make a usable model.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    version: Spanned<String>,
    threshold: Spanned<f64>,
    #[serde(default = "default_respond_within")]
    respond_within_minutes: Spanned<u32>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleFile>,
}

fn default_respond_within() -> Spanned<u32> {
    Spanned::new(0..0, 60)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: Spanned<String>,
    label: Option<String>,
    event: Spanned<EventType>,
    url: Option<Spanned<String>>,
    form: Option<Spanned<String>>,
    asset: Option<Spanned<String>>,
    campaign: Option<Spanned<String>>,
    webinar: Option<Spanned<String>>,
    points: Spanned<f64>,
}

/// A loaded, validated model. Immutable; share it behind an `Arc`.
#[derive(Debug)]
pub struct Model {
    /// Named in every output, so any score can be traced to the model that made it.
    pub version: Arc<str>,
    /// The score at or above which a lead is sales-ready.
    pub threshold: f64,
    /// How long a rep has to respond to an alert.
    pub respond_within: Millis,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    by_type: [Vec<usize>; EventType::ALL.len()],
}

/// One scoring rule: events it matches give it points.
#[derive(Debug)]
pub struct Rule {
    /// Stable identifier; state and explanations refer to rules by it.
    pub id: Arc<str>,
    /// What the rule means to a person, shown in alerts.
    pub label: Arc<str>,
    /// The event type it matches.
    pub event: EventType,
    /// Points per matching event; negative points lower the score.
    pub points: f64,
    matcher: Matcher,
}

#[derive(Debug, Default)]
struct Matcher {
    url: Option<GlobMatcher>,
    form: Option<String>,
    asset: Option<String>,
    campaign: Option<String>,
    webinar: Option<String>,
}

impl Rule {
    /// True when `event` is of the rule's type and passes every condition.
    pub fn matches(&self, event: &Event) -> bool {
        if event.kind.event_type() != self.event {
            return false;
        }
        let m = &self.matcher;
        if let Some(glob) = &m.url {
            match event.kind.url() {
                Some(url) if glob.is_match(url) => {}
                _ => return false,
            }
        }
        match &event.kind {
            EventKind::FormSubmit { form_id, .. } => eq_opt(&m.form, form_id),
            EventKind::ContentDownload { asset_id } => eq_opt(&m.asset, asset_id),
            EventKind::EmailOpen { campaign_id } | EventKind::EmailClick { campaign_id, .. } => {
                eq_opt(&m.campaign, campaign_id)
            }
            EventKind::WebinarAttended { webinar_id } => eq_opt(&m.webinar, webinar_id),
            _ => true,
        }
    }
}

fn eq_opt(want: &Option<String>, got: &str) -> bool {
    want.as_deref().is_none_or(|w| w == got)
}

impl Model {
    /// Parses and validates a model. `origin` names the file in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Model, ModelError> {
        let file: ModelFile = toml::from_str(text).map_err(|e| ModelError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_col(text, span.start);
            ModelError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                message,
            }
        };

        let version = file.version.get_ref().trim();
        if version.is_empty() {
            return Err(at(
                file.version.span(),
                "`version` must not be empty: it is named in every output".into(),
            ));
        }
        let threshold = *file.threshold.get_ref();
        if !threshold.is_finite() || threshold <= 0.0 {
            return Err(at(
                file.threshold.span(),
                format!("`threshold` must be a positive number, not {threshold}"),
            ));
        }
        if *file.respond_within_minutes.get_ref() == 0 {
            return Err(at(
                file.respond_within_minutes.span(),
                "`respond_within_minutes` must be at least 1".into(),
            ));
        }

        let mut rules = Vec::with_capacity(file.rules.len());
        let mut by_type: [Vec<usize>; EventType::ALL.len()] = Default::default();
        for raw in file.rules {
            let id = raw.id.get_ref().trim().to_owned();
            if id.is_empty() {
                return Err(at(raw.id.span(), "rule `id` must not be empty".into()));
            }
            if rules.iter().any(|r: &Rule| *r.id == *id) {
                return Err(at(
                    raw.id.span(),
                    format!("rule id `{id}` is used twice; rule ids must be unique"),
                ));
            }
            let event = *raw.event.get_ref();
            let points = *raw.points.get_ref();
            if !points.is_finite() || points == 0.0 {
                return Err(at(
                    raw.points.span(),
                    format!("rule `{id}`: `points` must be a non-zero number"),
                ));
            }
            let mut matcher = Matcher::default();
            let applies = |key: &str, value: &Spanned<String>, types: &[EventType]| {
                if types.contains(&event) {
                    Ok(value.get_ref().clone())
                } else {
                    let names: Vec<_> = types.iter().map(|t| t.as_str()).collect();
                    Err(at(
                        value.span(),
                        format!(
                            "rule `{id}` can never match: `{key}` applies only to {} events, not {event}",
                            names.join(" and ")
                        ),
                    ))
                }
            };
            if let Some(url) = &raw.url {
                let pattern = applies("url", url, &[EventType::PageView, EventType::EmailClick])?;
                let glob = GlobBuilder::new(&pattern)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| {
                        at(
                            url.span(),
                            format!("rule `{id}`: `url` is not a valid glob: {}", e.kind()),
                        )
                    })?;
                matcher.url = Some(glob.compile_matcher());
            }
            if let Some(v) = &raw.form {
                matcher.form = Some(applies("form", v, &[EventType::FormSubmit])?);
            }
            if let Some(v) = &raw.asset {
                matcher.asset = Some(applies("asset", v, &[EventType::ContentDownload])?);
            }
            if let Some(v) = &raw.campaign {
                matcher.campaign = Some(applies(
                    "campaign",
                    v,
                    &[EventType::EmailOpen, EventType::EmailClick],
                )?);
            }
            if let Some(v) = &raw.webinar {
                matcher.webinar = Some(applies("webinar", v, &[EventType::WebinarAttended])?);
            }
            by_type[event.index()].push(rules.len());
            rules.push(Rule {
                label: raw.label.unwrap_or_else(|| id.clone()).into(),
                id: id.into(),
                event,
                points,
                matcher,
            });
        }
        if !rules.iter().any(|r| r.points > 0.0) {
            return Err(at(
                file.threshold.span(),
                "no rule gives positive points, so no lead can ever reach the threshold".into(),
            ));
        }

        Ok(Model {
            version: version.into(),
            threshold,
            respond_within: Millis::from(*file.respond_within_minutes.get_ref()) * HOUR_MS / 60,
            rules,
            by_type,
        })
    }

    /// The rules that could match an event of type `t`, in file order.
    pub fn rules_for(&self, t: EventType) -> impl Iterator<Item = &Rule> {
        self.by_type[t.index()].iter().map(|&i| &self.rules[i])
    }

    /// Looks a rule up by id (used when explaining stored contributions).
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.id == id)
    }

    /// A few lines saying what the model means, for `model check`.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "model {}: a lead is sales-ready at {} points; reps have {} min to respond.",
            self.version,
            self.threshold,
            self.respond_within / 60_000
        );
        for r in &self.rules {
            let _ = writeln!(
                out,
                "  {:>+7} {:<18} {} ({})",
                r.points, r.event, r.label, r.id
            );
        }
        out
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
version = "t1"
threshold = 50

[[rule]]
id = "pricing"
label = "Viewed pricing"
event = "page_view"
url = "*/pricing*"
points = 10

[[rule]]
id = "demo"
event = "form_submit"
form = "demo-request"
points = 40
"#;

    #[test]
    fn loads_rules_and_indexes_them_by_type() {
        let m = Model::from_toml("m.toml", OK).unwrap();
        assert_eq!(&*m.version, "t1");
        assert_eq!(m.respond_within, HOUR_MS);
        assert_eq!(m.rules_for(EventType::PageView).count(), 1);
        assert_eq!(m.rules_for(EventType::EmailOpen).count(), 0);
        assert_eq!(&*m.rule("demo").unwrap().label, "demo");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let text = OK.replace("points = 40", "points = 40\npionts = 3");
        let err = Model::from_toml("m.toml", &text).unwrap_err().to_string();
        assert!(err.contains("pionts"), "{err}");
        assert!(err.contains("line 17"), "{err}");
    }

    #[test]
    fn condition_for_another_type_is_an_error_with_position() {
        let text = OK.replace("form = \"demo-request\"", "url = \"*/demo\"");
        let err = Model::from_toml("m.toml", &text).unwrap_err().to_string();
        assert_eq!(
            err,
            "m.toml:15:7: rule `demo` can never match: `url` applies only to page_view and email_click events, not form_submit"
        );
    }

    #[test]
    fn bad_glob_duplicate_id_and_bad_threshold_are_errors() {
        let bad_glob = OK.replace("*/pricing*", "*/pricing[");
        assert!(Model::from_toml("m", &bad_glob)
            .unwrap_err()
            .to_string()
            .contains("not a valid glob"));
        let dup = OK.replace("id = \"demo\"", "id = \"pricing\"");
        assert!(Model::from_toml("m", &dup)
            .unwrap_err()
            .to_string()
            .contains("used twice"));
        let neg = OK.replace("threshold = 50", "threshold = -1");
        assert!(Model::from_toml("m", &neg)
            .unwrap_err()
            .to_string()
            .starts_with("m:3:13:"));
    }

    #[test]
    fn unknown_event_type_is_a_syntax_error() {
        let text = OK.replace("\"page_view\"", "\"page_vue\"");
        let err = Model::from_toml("m", &text).unwrap_err().to_string();
        assert!(err.contains("page_vue"), "{err}");
    }
}
