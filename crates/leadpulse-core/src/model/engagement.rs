//! `[engagement]`: rule groups (how points decay) and engagement rules
//! (what the lead does, with caps).

use std::collections::BTreeMap;

use toml::Spanned;

use super::condition::{event_matcher, EventFields};
use super::file::{GroupFile, RuleFile};
use super::load::{days, Loader};
use super::{Cap, Decay, Group, ModelError, Rule};
use crate::event::EventType;

/// Rule indexes per event type.
pub(super) type ByType = [Vec<usize>; EventType::ALL.len()];

impl Loader<'_> {
    /// The groups; index 0 is the implicit `default` group, which a file
    /// may give a decay.
    pub(super) fn groups(
        &self,
        file: &BTreeMap<String, Spanned<GroupFile>>,
    ) -> Result<Vec<Group>, ModelError> {
        let mut groups = vec![Group {
            name: "default".into(),
            decay: Decay::None,
        }];
        for (name, g) in file {
            let decay = match (g.get_ref().half_life_days, g.get_ref().window_days) {
                (None, None) => Decay::None,
                (Some(h), None) => Decay::HalfLife(days(g.span(), h, "half_life_days", &self.src)?),
                (None, Some(w)) => Decay::Window(days(g.span(), w, "window_days", &self.src)?),
                (Some(_), Some(_)) => {
                    return Err(self.src.at(
                        g.span(),
                        format!(
                        "group `{name}`: choose either `half_life_days` or `window_days`, not both"
                    ),
                    ))
                }
            };
            if name == "default" {
                groups[0].decay = decay;
            } else {
                groups.push(Group {
                    name: name.as_str().into(),
                    decay,
                });
            }
        }
        Ok(groups)
    }

    /// The engagement rules, in file order, and their index by event type.
    pub(super) fn rules(
        &mut self,
        file: &[RuleFile],
        groups: &[Group],
    ) -> Result<(Vec<Rule>, ByType), ModelError> {
        let mut rules = Vec::new();
        let mut by_type = ByType::default();
        for r in file {
            let rule = self.rule(r, groups)?;
            by_type[rule.event.index()].push(rules.len());
            rules.push(rule);
        }
        Ok((rules, by_type))
    }

    fn rule(&mut self, r: &RuleFile, groups: &[Group]) -> Result<Rule, ModelError> {
        let id = self.unique_id("rule", &r.id)?;
        let owner = format!("rule `{id}`");
        let event = *r.event.get_ref();
        let matcher = event_matcher(
            &owner,
            event,
            EventFields {
                url: r.url.as_ref(),
                url_regex: r.url_regex.as_ref(),
                form: r.form.as_ref(),
                asset: r.asset.as_ref(),
                campaign: r.campaign.as_ref(),
                webinar: r.webinar.as_ref(),
                bounce: r.bounce.as_ref(),
            },
            &self.src,
        )?;
        let group = match &r.group {
            None => 0,
            Some(g) => groups
                .iter()
                .position(|x| *x.name == *g.get_ref())
                .ok_or_else(|| {
                    let known: Vec<&str> = groups.iter().map(|g| &*g.name).collect();
                    self.src.at(
                        g.span(),
                        format!(
                            "{owner}: group `{}` is not defined under [engagement.groups] (known: {})",
                            g.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?,
        };
        let cap = self.cap(&owner, r)?;
        Ok(Rule {
            points: self.points(&owner, &r.points)?,
            label: r.label.clone().unwrap_or_else(|| id.clone()).into(),
            id: id.into(),
            event,
            group,
            cap,
            matcher,
        })
    }

    fn cap(&self, owner: &str, r: &RuleFile) -> Result<Cap, ModelError> {
        Ok(match (&r.once, &r.cap) {
            (Some(o), Some(_)) if *o.get_ref() => {
                return Err(self.src.at(
                    o.span(),
                    format!("{owner}: use either `once` or `cap`, not both"),
                ))
            }
            (Some(o), _) if *o.get_ref() => Cap::Once,
            (_, Some(c)) => {
                let f = c.get_ref();
                if f.max == 0 {
                    return Err(self
                        .src
                        .at(c.span(), format!("{owner} can never count: `cap.max` is 0")));
                }
                Cap::PerWindow {
                    max: f.max,
                    window: days(c.span(), f.per_days, "cap.per_days", &self.src)?,
                }
            }
            _ => Cap::None,
        })
    }
}
