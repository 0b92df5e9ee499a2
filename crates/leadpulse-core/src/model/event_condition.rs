//! Event conditions written outside a model file, such as a rep's watch:
//! the same keys, the same URL globs and the same "can never match" checks
//! as an engagement rule, over one or more event types.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::condition::{event_matcher, EventFields, EventMatcher};
use super::error::Source;
use crate::event::{BounceType, EventKind, EventType};

/// An event condition as written (JSON or TOML): the keys of an
/// engagement rule, with `events` naming one or more types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventConditionSpec {
    /// The event types; empty means every engagement type the other keys
    /// apply to (every one but `profile_update` when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webinar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce: Option<BounceType>,
}

/// A compiled [`EventConditionSpec`]: one engagement-rule matcher per
/// event type.
#[derive(Debug, Clone)]
pub struct EventCondition {
    spec: EventConditionSpec,
    /// Indexed by [`EventType::index`]; `None` for types it does not cover.
    by_type: Vec<Option<EventMatcher>>,
    /// The types `by_type` covers, a bit each by [`EventType::index`].
    types: u32,
    /// [`EventCondition::describe`], once: every alert of a watch says it.
    described: Arc<str>,
}

impl PartialEq for EventCondition {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl EventCondition {
    /// Compiles a condition, or says everything wrong with it.
    pub fn new(spec: EventConditionSpec) -> Result<EventCondition, String> {
        let spell = |s: &Option<String>| s.clone().map(|v| Spanned::new(0..0, v));
        let (url, url_regex, form, asset, campaign, webinar) = (
            spell(&spec.url),
            spell(&spec.url_regex),
            spell(&spec.form),
            spell(&spec.asset),
            spell(&spec.campaign),
            spell(&spec.webinar),
        );
        let bounce = spec.bounce.map(|b| Spanned::new(0..0, b));
        let fields = || EventFields {
            url: url.as_ref(),
            url_regex: url_regex.as_ref(),
            form: form.as_ref(),
            asset: asset.as_ref(),
            campaign: campaign.as_ref(),
            webinar: webinar.as_ref(),
            bounce: bounce.as_ref(),
        };
        let compile = |t: EventType| {
            let src = Source::new("condition", "");
            let m = event_matcher("the condition", &Spanned::new(0..0, t), fields(), &src);
            (m, src)
        };
        let mut by_type: Vec<Option<EventMatcher>> = vec![None; EventType::ALL.len()];
        if spec.events.is_empty() {
            // A profile update is data about the lead, not something it did.
            let activity = |t: &EventType| !t.is_feedback() && *t != EventType::ProfileUpdate;
            for t in EventType::ALL.into_iter().filter(activity) {
                by_type[t.index()] = compile(t).0;
            }
            if by_type.iter().all(Option::is_none) {
                return Err("the condition can never match: no event type has all of its keys (url applies to page_view and email_click, form to form_submit, asset to content_download, campaign to email events, webinar to webinar_attended, bounce to email_bounce)".into());
            }
        } else {
            let mut errors = Vec::new();
            for &t in &spec.events {
                let (m, src) = compile(t);
                match m {
                    Some(m) => by_type[t.index()] = Some(m),
                    None => errors.extend(messages(src)),
                }
            }
            errors.dedup();
            if !errors.is_empty() {
                return Err(errors.join("; "));
            }
        }
        let types = (by_type.iter().enumerate())
            .filter(|(_, m)| m.is_some())
            .fold(0, |bits, (i, _)| bits | 1 << i);
        let mut condition = EventCondition {
            spec,
            by_type,
            types,
            described: Arc::from(""),
        };
        condition.described = condition.describe().into();
        Ok(condition)
    }

    /// The condition as written.
    pub fn spec(&self) -> &EventConditionSpec {
        &self.spec
    }

    /// True when an event of this kind meets the condition.
    pub fn matches(&self, kind: &EventKind) -> bool {
        self.by_type[kind.event_type().index()]
            .as_ref()
            .is_some_and(|m| m.matches(kind))
    }

    /// The event types the condition can match, a bit each by
    /// [`EventType::index`]: an event of another type never meets it.
    pub fn event_types(&self) -> u32 {
        self.types
    }

    /// [`EventCondition::describe`], shared.
    pub fn described(&self) -> Arc<str> {
        self.described.clone()
    }

    /// The condition in words, e.g. `page_view with url matches "*/pricing*"`.
    pub fn describe(&self) -> String {
        let types: Vec<&str> = if self.spec.events.is_empty() {
            vec!["any event"]
        } else {
            self.spec.events.iter().map(|t| t.as_str()).collect()
        };
        let keys = self
            .by_type
            .iter()
            .flatten()
            .next()
            .map(EventMatcher::describe)
            .unwrap_or_default();
        if keys.is_empty() {
            types.join(" or ")
        } else {
            format!("{} with {}", types.join(" or "), keys.join(" and "))
        }
    }
}

fn messages(src: Source<'_>) -> Vec<String> {
    match src.finish() {
        Ok(_) => Vec::new(),
        Err(e) => e
            .errors()
            .iter()
            .map(|e| match e {
                super::ModelError::Invalid { message, .. }
                | super::ModelError::Syntax { message, .. } => message.clone(),
                other => other.to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(events: &[EventType]) -> EventConditionSpec {
        EventConditionSpec {
            events: events.to_vec(),
            ..Default::default()
        }
    }

    fn view(url: &str) -> EventKind {
        EventKind::PageView {
            url: url.into(),
            referrer: None,
            duration_ms: None,
        }
    }

    #[test]
    fn url_globs_match_like_engagement_rules() {
        let c = EventCondition::new(EventConditionSpec {
            url: Some("*/pricing*".into()),
            ..spec(&[EventType::PageView])
        })
        .unwrap();
        assert!(c.matches(&view("https://a.io/pricing?x=1")));
        assert!(!c.matches(&view("https://a.io/blog")));
        assert!(!c.matches(&EventKind::EmailClick {
            campaign_id: "c".into(),
            url: "https://a.io/pricing".into()
        }));
        assert_eq!(c.describe(), r#"page_view with url matches "*/pricing*""#);
    }

    #[test]
    fn without_types_the_keys_choose_them() {
        let c = EventCondition::new(EventConditionSpec {
            url: Some("*/pricing*".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(c.matches(&view("https://a.io/pricing")));
        assert!(c.matches(&EventKind::EmailClick {
            campaign_id: "c".into(),
            url: "https://a.io/pricing".into()
        }));
        let any = EventCondition::new(EventConditionSpec::default()).unwrap();
        assert!(any.matches(&EventKind::Unsubscribe));
        assert!(!any.matches(&EventKind::ProfileUpdate {
            attributes: BTreeMap::new()
        }));
        assert!(!any.matches(&EventKind::Feedback {
            feedback: crate::event::Feedback::Contacted,
            rep_id: None
        }));
        let form = EventCondition::new(EventConditionSpec {
            form: Some("demo".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(form.matches(&EventKind::FormSubmit {
            form_id: "demo".into(),
            fields: BTreeMap::new()
        }));
        assert!(!form.matches(&EventKind::FormSubmit {
            form_id: "other".into(),
            fields: BTreeMap::new()
        }));
    }

    #[test]
    fn conditions_that_can_never_match_are_refused() {
        let err = EventCondition::new(EventConditionSpec {
            form: Some("demo".into()),
            ..spec(&[EventType::PageView])
        })
        .unwrap_err();
        assert!(err.contains("`form` applies only to form_submit"), "{err}");
        let err = EventCondition::new(spec(&[EventType::LeadContacted])).unwrap_err();
        assert!(err.contains("sales feedback"), "{err}");
        let err = EventCondition::new(EventConditionSpec {
            form: Some("demo".into()),
            asset: Some("a".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("can never match"), "{err}");
        let err = EventCondition::new(EventConditionSpec {
            url: Some("[".into()),
            ..spec(&[EventType::PageView])
        })
        .unwrap_err();
        assert!(err.contains("not a valid glob"), "{err}");
    }
}
