//! Loading a model: parse the TOML, then build and check it one section at
//! a time (header, fit, engagement, disqualifiers, qualify, handoff).

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::error::Source;
use super::file::ModelFile;
use super::{Model, ModelError, DAY_MS};
use crate::event::{Millis, HOUR_MS};

/// State shared by the sections while a file loads: where errors point,
/// and the ids seen so far (ids are unique across the whole model).
pub(super) struct Loader<'a> {
    pub(super) src: Source<'a>,
    ids: BTreeSet<String>,
}

impl Model {
    /// Parses and validates a model. `origin` names the file in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Model, ModelError> {
        let file: ModelFile = toml::from_str(text).map_err(|e| ModelError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut l = Loader {
            src: Source { origin, text },
            ids: BTreeSet::new(),
        };
        let version = l.version(&file.version)?;
        let respond_within = l.respond_within(&file.respond_within_minutes)?;
        let (grades, fit_rules) = l.fit(&file.fit)?;
        let groups = l.groups(&file.engagement.groups)?;
        let (rules, by_type) = l.rules(&file.engagement.rules, &groups)?;
        let (disqualifiers, dq_by_type) = l.disqualifiers(&file.disqualify)?;
        let qualify = Self::qualify(&file.qualify, &l.src)?;
        let model = Model {
            version: version.into(),
            respond_within,
            fit_rules,
            grades,
            groups,
            rules,
            disqualifiers,
            qualify,
            require: file.handoff.require.clone(),
            by_type,
            dq_by_type,
        };
        model.check_reachable(&file.qualify, &l.src)?;
        Ok(model)
    }
}

impl Loader<'_> {
    fn version(&self, v: &Spanned<String>) -> Result<String, ModelError> {
        let version = v.get_ref().trim();
        if version.is_empty() {
            return Err(self.src.at(
                v.span(),
                "`version` must not be empty: it is named in every output",
            ));
        }
        Ok(version.to_owned())
    }

    fn respond_within(&self, m: &Option<Spanned<u32>>) -> Result<Millis, ModelError> {
        match m {
            None => Ok(HOUR_MS),
            Some(m) if *m.get_ref() == 0 => Err(self
                .src
                .at(m.span(), "`respond_within_minutes` must be at least 1")),
            Some(m) => Ok(Millis::from(*m.get_ref()) * 60_000),
        }
    }

    /// A rule's id, trimmed; refused if empty or already used.
    pub(super) fn unique_id(
        &mut self,
        kind: &str,
        id: &Spanned<String>,
    ) -> Result<String, ModelError> {
        let name = id.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(self
                .src
                .at(id.span(), format!("{kind} `id` must not be empty")));
        }
        if !self.ids.insert(name.clone()) {
            return Err(self.src.at(
                id.span(),
                format!("id `{name}` is used twice; rule ids must be unique across the model"),
            ));
        }
        Ok(name)
    }

    /// A rule's `points`.
    pub(super) fn points(&self, owner: &str, p: &Spanned<f64>) -> Result<f64, ModelError> {
        let v = *p.get_ref();
        if !v.is_finite() || v == 0.0 {
            return Err(self.src.at(
                p.span(),
                format!("{owner}: `points` must be a non-zero number"),
            ));
        }
        Ok(v)
    }
}

/// A positive number of days, in milliseconds.
pub(super) fn days(
    span: Range<usize>,
    d: f64,
    what: &str,
    src: &Source<'_>,
) -> Result<Millis, ModelError> {
    if !d.is_finite() || d <= 0.0 {
        return Err(src.at(
            span,
            format!("`{what}` must be a positive number of days, not {d}"),
        ));
    }
    Ok((d * DAY_MS as f64).round() as Millis)
}
