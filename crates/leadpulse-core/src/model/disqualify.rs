//! `[[disqualify]]`: what stops a lead from ever alerting.

use super::condition::{attr_condition, event_matcher, AttrFields, EventFields};
use super::engagement::ByType;
use super::file::DisqualifyFile;
use super::load::Loader;
use super::{Disqualifier, DisqualifyWhen, EventMatcherHandle};

impl Loader<'_> {
    /// The disqualifiers, in file order, and the event-based ones' index by
    /// event type, if every one is sound.
    pub(super) fn disqualifiers(
        &mut self,
        file: &[DisqualifyFile],
    ) -> Option<(Vec<Disqualifier>, ByType)> {
        let all: Vec<Option<Disqualifier>> = file.iter().map(|d| self.disqualifier(d)).collect();
        let all = all.into_iter().collect::<Option<Vec<Disqualifier>>>()?;
        let mut by_type = ByType::default();
        for (i, dq) in all.iter().enumerate() {
            if let DisqualifyWhen::Event(t, _) = &dq.when {
                by_type[t.index()].push(i);
            }
        }
        Some((all, by_type))
    }

    fn disqualifier(&mut self, d: &DisqualifyFile) -> Option<Disqualifier> {
        let id = self.unique_id("disqualifier", &d.id);
        let owner = Self::owner("disqualifier", &d.id);
        self.keys_that_do_not_apply(&owner, d);
        let when = match (&d.event, &d.attribute) {
            (Some(e), None) => event_matcher(
                &owner,
                e,
                EventFields {
                    url: d.url.as_ref(),
                    campaign: d.campaign.as_ref(),
                    bounce: d.bounce.as_ref(),
                    ..EventFields::default()
                },
                &self.src,
            )
            .map(|m| DisqualifyWhen::Event(*e.get_ref(), EventMatcherHandle(m))),
            (None, Some(a)) => attr_condition(
                &owner,
                a,
                AttrFields {
                    equals: &d.equals,
                    in_: &d.in_,
                    matches: &d.matches,
                    contains: &d.contains,
                    at_least: &d.at_least,
                    below: &d.below,
                },
                &self.src,
            )
            .map(DisqualifyWhen::Attribute),
            _ => {
                self.src.report(
                    d.id.span(),
                    format!("{owner}: give either `event` or `attribute` (exactly one)"),
                );
                None
            }
        };
        let id = id?;
        Some(Disqualifier {
            label: d.label.clone().unwrap_or_else(|| id.clone()).into(),
            id: id.into(),
            when: when?,
        })
    }

    /// Attribute tests on an event disqualifier, or event conditions on an
    /// attribute one, would be ignored: report them.
    fn keys_that_do_not_apply(&self, owner: &str, d: &DisqualifyFile) {
        let event_keys = [
            ("url", d.url.as_ref().map(|v| v.span())),
            ("campaign", d.campaign.as_ref().map(|v| v.span())),
            ("bounce", d.bounce.as_ref().map(|v| v.span())),
        ];
        let attribute_keys = [
            ("equals", d.equals.as_ref().map(|v| v.span())),
            ("in", d.in_.as_ref().map(|v| v.span())),
            ("matches", d.matches.as_ref().map(|v| v.span())),
            ("contains", d.contains.as_ref().map(|v| v.span())),
            ("at_least", d.at_least.as_ref().map(|v| v.span())),
            ("below", d.below.as_ref().map(|v| v.span())),
        ];
        let (ignored, kind, other): (&[_], _, _) = match (&d.event, &d.attribute) {
            (Some(_), None) => (&attribute_keys, "an event", "an attribute test"),
            (None, Some(_)) => (&event_keys, "an attribute", "an event condition"),
            _ => return,
        };
        for (key, span) in ignored {
            if let Some(span) = span {
                self.src.report(
                    span.clone(),
                    format!("{owner}: `{key}` is {other}, but this disqualifier is on {kind}"),
                );
            }
        }
    }
}
