//! `[[disqualify]]`: what stops a lead from ever alerting.

use super::condition::{attr_condition, event_matcher, AttrFields, EventFields};
use super::engagement::ByType;
use super::file::DisqualifyFile;
use super::load::Loader;
use super::{Disqualifier, DisqualifyWhen, EventMatcherHandle, ModelError};

impl Loader<'_> {
    /// The disqualifiers, in file order, and the event-based ones' index by
    /// event type.
    pub(super) fn disqualifiers(
        &mut self,
        file: &[DisqualifyFile],
    ) -> Result<(Vec<Disqualifier>, ByType), ModelError> {
        let mut disqualifiers = Vec::new();
        let mut dq_by_type = ByType::default();
        for d in file {
            let dq = self.disqualifier(d)?;
            if let DisqualifyWhen::Event(t, _) = &dq.when {
                dq_by_type[t.index()].push(disqualifiers.len());
            }
            disqualifiers.push(dq);
        }
        Ok((disqualifiers, dq_by_type))
    }

    fn disqualifier(&mut self, d: &DisqualifyFile) -> Result<Disqualifier, ModelError> {
        let id = self.unique_id("disqualifier", &d.id)?;
        let owner = format!("disqualifier `{id}`");
        let when = match (&d.event, &d.attribute) {
            (Some(e), None) => {
                let t = *e.get_ref();
                let m = event_matcher(
                    &owner,
                    t,
                    EventFields {
                        url: d.url.as_ref(),
                        campaign: d.campaign.as_ref(),
                        bounce: d.bounce.as_ref(),
                        ..EventFields::default()
                    },
                    &self.src,
                )?;
                DisqualifyWhen::Event(t, EventMatcherHandle(m))
            }
            (None, Some(a)) => DisqualifyWhen::Attribute(attr_condition(
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
            )?),
            _ => {
                return Err(self.src.at(
                    d.id.span(),
                    format!("{owner}: give either `event` or `attribute` (exactly one)"),
                ))
            }
        };
        Ok(Disqualifier {
            label: d.label.clone().unwrap_or_else(|| id.clone()).into(),
            id: id.into(),
            when,
        })
    }
}
