//! `[engagement]`: rule groups (how points decay) and engagement rules
//! (what the lead does, with caps).

use std::collections::BTreeMap;

use toml::Spanned;

use super::condition::{event_matcher, EventFields};
use super::file::{GroupFile, RuleFile};
use super::load::Loader;
use super::numbers::{CAP_MAX, DAYS};
use super::{Cap, Decay, Group, Rule};
use crate::event::EventType;

/// Rule indexes per event type.
pub(super) type ByType = [Vec<usize>; EventType::ALL.len()];

impl Loader<'_> {
    /// The groups; index 0 is the implicit `default` group, which a file
    /// may give a decay. A group with a bad decay is still listed (its
    /// error reported), so rules naming it get no second error.
    pub(super) fn groups(&self, file: &BTreeMap<String, Spanned<GroupFile>>) -> Vec<Group> {
        let mut groups = vec![Group {
            name: "default".into(),
            decay: Decay::None,
        }];
        for (name, g) in file {
            let decay = self.decay(name, g).unwrap_or(Decay::None);
            if name == "default" {
                groups[0].decay = decay;
            } else {
                groups.push(Group {
                    name: name.as_str().into(),
                    decay,
                });
            }
        }
        groups
    }

    fn decay(&self, name: &str, g: &Spanned<GroupFile>) -> Option<Decay> {
        match (&g.get_ref().half_life_days, &g.get_ref().window_days) {
            (None, None) => Some(Decay::None),
            (Some(h), None) => DAYS
                .days("half_life_days", h, &self.src)
                .map(Decay::HalfLife),
            (None, Some(w)) => DAYS.days("window_days", w, &self.src).map(Decay::Window),
            (Some(_), Some(_)) => {
                self.src.report(
                    g.span(),
                    format!(
                        "group `{name}`: choose either `half_life_days` or `window_days`, not both"
                    ),
                );
                None
            }
        }
    }

    /// The engagement rules, in file order, and their index by event type,
    /// if every rule is sound.
    pub(super) fn rules(
        &mut self,
        file: &[RuleFile],
        groups: &[Group],
    ) -> Option<(Vec<Rule>, ByType)> {
        let rules: Vec<Option<Rule>> = file.iter().map(|r| self.rule(r, groups)).collect();
        let rules = rules.into_iter().collect::<Option<Vec<Rule>>>()?;
        let mut by_type = ByType::default();
        for (i, rule) in rules.iter().enumerate() {
            by_type[rule.event.index()].push(i);
        }
        Some((rules, by_type))
    }

    fn rule(&mut self, r: &RuleFile, groups: &[Group]) -> Option<Rule> {
        let id = self.unique_id("rule", &r.id);
        let owner = Self::owner("rule", &r.id);
        let matcher = event_matcher(
            &owner,
            &r.event,
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
        );
        let group = match &r.group {
            None => Some(0),
            Some(g) => {
                let at = groups.iter().position(|x| *x.name == *g.get_ref());
                if at.is_none() {
                    let known: Vec<&str> = groups.iter().map(|g| &*g.name).collect();
                    self.src.report(
                        g.span(),
                        format!(
                            "{owner}: group `{}` is not defined under [engagement.groups] (known: {})",
                            g.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
                at
            }
        };
        let cap = self.cap(&owner, r);
        let points = self.points(&owner, &r.points);
        let id = id?;
        Some(Rule {
            points: points?,
            label: r.label.clone().unwrap_or_else(|| id.clone()).into(),
            id: id.into(),
            event: *r.event.get_ref(),
            group: group?,
            cap: cap?,
            matcher: matcher?,
        })
    }

    fn cap(&self, owner: &str, r: &RuleFile) -> Option<Cap> {
        match (&r.once, &r.cap) {
            (Some(o), Some(_)) if *o.get_ref() => {
                self.src.report(
                    o.span(),
                    format!("{owner}: use either `once` or `cap`, not both"),
                );
                None
            }
            (Some(o), _) if *o.get_ref() => Some(Cap::Once),
            (_, Some(c)) => {
                let f = c.get_ref();
                let max = if *f.max.get_ref() == 0 {
                    self.src.report(
                        f.max.span(),
                        format!("{owner} can never count: `cap.max` is 0"),
                    );
                    None
                } else {
                    CAP_MAX.check_at(
                        "cap.max",
                        f64::from(*f.max.get_ref()),
                        f.max.span(),
                        &self.src,
                    )
                };
                let window = DAYS.days("cap.per_days", &f.per_days, &self.src);
                Some(Cap::PerWindow {
                    max: max? as u32,
                    window: window?,
                })
            }
            _ => Some(Cap::None),
        }
    }
}
