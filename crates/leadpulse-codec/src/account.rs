//! Accounts on Kafka: `account-scores` and `account-alerts` (JSON or
//! protobuf, key = account key), the `lead-accounts` repartition record
//! (a lead's contribution to its account) and the accounts' changelog
//! record (protobuf). docs/topics.md lists them.

use std::collections::BTreeMap;
use std::sync::Arc;

use prost::Message;
use serde::{Deserialize, Serialize};

use super::protobuf::{malformed as proto_error, ms, ts};
use super::sales::{json_error, time_in, to_vec};
use super::time::format_rfc3339;
use super::Format;
use crate::proto as pb;
use leadpulse_core::account::{Person, PersonShare, MAX_CONTRIBUTED, MAX_REASONS};
use leadpulse_core::{
    AccountAlert, AccountKey, AccountReason, AccountScore, AccountState, AccountTrigger,
    Attributes, Contact, LeadContribution, Rejection,
};

fn key_in(field: &str, s: &str) -> Result<AccountKey, Rejection> {
    AccountKey::parse(s).ok_or_else(|| Rejection::InvalidField {
        field: field.to_owned(),
        detail: format!("not an account key (id:<account_id> or domain:<domain>): {s:?}"),
    })
}

fn trigger_in(s: &str) -> Result<AccountTrigger, Rejection> {
    match s {
        "score" => Ok(AccountTrigger::Score),
        "breadth" => Ok(AccountTrigger::Breadth),
        _ => Err(Rejection::InvalidField {
            field: "trigger".into(),
            detail: format!("not score or breadth: {s:?}"),
        }),
    }
}

/// An engagement a contribution or a kept person may carry.
fn engagement_in(field: &str, e: f64) -> Result<f64, Rejection> {
    if e.abs() <= MAX_CONTRIBUTED {
        Ok(e)
    } else {
        Err(Rejection::InvalidField {
            field: field.to_owned(),
            detail: format!("{e} is not a number within ±{MAX_CONTRIBUTED}"),
        })
    }
}

/// Attributes as a lead's state would keep them, or refused.
fn attributes_in(field: &str, map: &BTreeMap<String, String>) -> Result<Attributes, Rejection> {
    let pairs: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut a = Attributes::default();
    a.check_update(&pairs)
        .map_err(|detail| Rejection::InvalidField {
            field: field.to_owned(),
            detail,
        })?;
    a.update(&pairs);
    Ok(a)
}

fn attributes_out(a: &Attributes) -> BTreeMap<String, String> {
    a.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn reasons_checked<T>(field: &str, reasons: Vec<T>) -> Result<Vec<T>, Rejection> {
    if reasons.len() > MAX_REASONS {
        return Err(Rejection::InvalidField {
            field: field.to_owned(),
            detail: format!("{} reasons; at most {MAX_REASONS}", reasons.len()),
        });
    }
    Ok(reasons)
}

// ---- JSON ------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonJson {
    rule_id: String,
    label: String,
    points: f64,
    last_seen: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonJson {
    lead_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<String>,
    engagement: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    engaged_at: Option<String>,
    in_breadth: bool,
    reasons: Vec<ReasonJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreJson {
    account_key: String,
    score: f64,
    fit: f64,
    engagement: f64,
    breadth: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    breadth_threshold: Option<u32>,
    qualified: bool,
    alerted: bool,
    fit_reasons: Vec<ReasonJson>,
    people: Vec<PersonJson>,
    updated_at: String,
    model_version: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertJson {
    alert_id: String,
    account_key: String,
    trigger: String,
    score: f64,
    fit: f64,
    engagement: f64,
    breadth: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    breadth_threshold: Option<u32>,
    crossed_at: String,
    lead_id: String,
    fit_reasons: Vec<ReasonJson>,
    people: Vec<PersonJson>,
    model_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_rep: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContributionJson {
    account_key: String,
    lead_id: String,
    engagement: f64,
    reasons: Vec<ReasonJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    at: String,
}

fn reasons_json(r: &[AccountReason]) -> Vec<ReasonJson> {
    r.iter()
        .map(|r| ReasonJson {
            rule_id: r.rule_id.clone(),
            label: r.label.clone(),
            points: r.points,
            last_seen: format_rfc3339(r.last_seen),
        })
        .collect()
}

fn reasons_from_json(field: &str, r: Vec<ReasonJson>) -> Result<Vec<AccountReason>, Rejection> {
    r.into_iter()
        .map(|r| {
            Ok(AccountReason {
                last_seen: time_in(&format!("{field}.last_seen"), &r.last_seen)?,
                rule_id: r.rule_id,
                label: r.label,
                points: r.points,
            })
        })
        .collect()
}

fn people_json(p: &[PersonShare]) -> Vec<PersonJson> {
    p.iter()
        .map(|p| PersonJson {
            lead_id: p.lead_id.clone(),
            lead_name: p.contact.name.clone(),
            title: p.contact.title.clone(),
            company: p.contact.company.clone(),
            engagement: p.engagement,
            engaged_at: p.engaged_at.map(format_rfc3339),
            in_breadth: p.in_breadth,
            reasons: reasons_json(&p.reasons),
        })
        .collect()
}

fn people_from_json(p: Vec<PersonJson>) -> Result<Vec<PersonShare>, Rejection> {
    p.into_iter()
        .map(|p| {
            Ok(PersonShare {
                engaged_at: p
                    .engaged_at
                    .as_deref()
                    .map(|t| time_in("people.engaged_at", t))
                    .transpose()?,
                reasons: reasons_from_json("people.reasons", p.reasons)?,
                lead_id: p.lead_id,
                contact: Contact {
                    name: p.lead_name,
                    title: p.title,
                    company: p.company,
                },
                engagement: p.engagement,
                in_breadth: p.in_breadth,
            })
        })
        .collect()
}

// ---- protobuf ----------------------------------------------------------------

fn reasons_pb(r: &[AccountReason]) -> Vec<pb::AccountReason> {
    r.iter()
        .map(|r| pb::AccountReason {
            rule_id: r.rule_id.clone(),
            label: r.label.clone(),
            points: r.points,
            last_seen: ts(r.last_seen),
        })
        .collect()
}

fn reasons_from_pb(
    field: &str,
    r: Vec<pb::AccountReason>,
) -> Result<Vec<AccountReason>, Rejection> {
    r.into_iter()
        .map(|r| {
            Ok(AccountReason {
                last_seen: ms(&format!("{field}.last_seen"), r.last_seen)?,
                rule_id: r.rule_id,
                label: r.label,
                points: r.points,
            })
        })
        .collect()
}

fn people_pb(p: &[PersonShare]) -> Vec<pb::AccountPerson> {
    p.iter()
        .map(|p| pb::AccountPerson {
            lead_id: p.lead_id.clone(),
            lead_name: p.contact.name.clone(),
            title: p.contact.title.clone(),
            company: p.contact.company.clone(),
            engagement: p.engagement,
            engaged_at: p.engaged_at.and_then(ts),
            in_breadth: p.in_breadth,
            reasons: reasons_pb(&p.reasons),
        })
        .collect()
}

fn people_from_pb(p: Vec<pb::AccountPerson>) -> Result<Vec<PersonShare>, Rejection> {
    p.into_iter()
        .map(|p| {
            Ok(PersonShare {
                engaged_at: match p.engaged_at {
                    None => None,
                    t => Some(ms("people.engaged_at", t)?),
                },
                reasons: reasons_from_pb("people.reasons", p.reasons)?,
                lead_id: p.lead_id,
                contact: Contact {
                    name: p.lead_name,
                    title: p.title,
                    company: p.company,
                },
                engagement: p.engagement,
                in_breadth: p.in_breadth,
            })
        })
        .collect()
}

// ---- account-scores ------------------------------------------------------------

/// Encodes an account's score for `account-scores` (key: the account key).
pub fn encode_account_score(s: &AccountScore, format: Format) -> Vec<u8> {
    match format {
        Format::Json => to_vec(&ScoreJson {
            account_key: s.account.to_string(),
            score: s.score,
            fit: s.fit,
            engagement: s.engagement,
            breadth: s.breadth,
            threshold: s.threshold,
            breadth_threshold: s.breadth_threshold,
            qualified: s.qualified,
            alerted: s.alerted,
            fit_reasons: reasons_json(&s.fit_reasons),
            people: people_json(&s.people),
            updated_at: format_rfc3339(s.updated_at),
            model_version: s.model_version.to_string(),
        }),
        Format::Protobuf => pb::AccountScore {
            account_key: s.account.to_string(),
            score: s.score,
            fit: s.fit,
            engagement: s.engagement,
            breadth: s.breadth,
            threshold: s.threshold,
            breadth_threshold: s.breadth_threshold,
            qualified: s.qualified,
            alerted: s.alerted,
            fit_reasons: reasons_pb(&s.fit_reasons),
            people: people_pb(&s.people),
            updated_at: ts(s.updated_at),
            model_version: s.model_version.to_string(),
        }
        .encode_to_vec(),
    }
}

/// Decodes an account score written by [`encode_account_score`].
pub fn decode_account_score(bytes: &[u8]) -> Result<AccountScore, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => {
            let s: ScoreJson = serde_json::from_slice(bytes).map_err(json_error)?;
            Ok(AccountScore {
                account: key_in("account_key", &s.account_key)?,
                updated_at: time_in("updated_at", &s.updated_at)?,
                fit_reasons: reasons_from_json("fit_reasons", s.fit_reasons)?,
                people: people_from_json(s.people)?,
                score: s.score,
                fit: s.fit,
                engagement: s.engagement,
                breadth: s.breadth,
                threshold: s.threshold,
                breadth_threshold: s.breadth_threshold,
                qualified: s.qualified,
                alerted: s.alerted,
                model_version: Arc::from(s.model_version),
            })
        }
        Format::Protobuf => {
            let s = pb::AccountScore::decode(bytes).map_err(proto_error)?;
            Ok(AccountScore {
                account: key_in("account_key", &s.account_key)?,
                updated_at: ms("updated_at", s.updated_at)?,
                fit_reasons: reasons_from_pb("fit_reasons", s.fit_reasons)?,
                people: people_from_pb(s.people)?,
                score: s.score,
                fit: s.fit,
                engagement: s.engagement,
                breadth: s.breadth,
                threshold: s.threshold,
                breadth_threshold: s.breadth_threshold,
                qualified: s.qualified,
                alerted: s.alerted,
                model_version: Arc::from(s.model_version),
            })
        }
    }
}

// ---- account-alerts ------------------------------------------------------------

/// Encodes an account alert for `account-alerts` (key: the account key).
pub fn encode_account_alert(a: &AccountAlert, format: Format) -> Vec<u8> {
    match format {
        Format::Json => to_vec(&AlertJson {
            alert_id: a.alert_id.clone(),
            account_key: a.account.to_string(),
            trigger: a.trigger.as_str().to_owned(),
            score: a.score,
            fit: a.fit,
            engagement: a.engagement,
            breadth: a.breadth,
            threshold: a.threshold,
            breadth_threshold: a.breadth_threshold,
            crossed_at: format_rfc3339(a.crossed_at),
            lead_id: a.lead_id.clone(),
            fit_reasons: reasons_json(&a.fit_reasons),
            people: people_json(&a.people),
            model_version: a.model_version.to_string(),
            owner_team: a.owner_team.clone(),
            owner_rep: a.owner_rep.clone(),
        }),
        Format::Protobuf => pb::AccountAlert {
            alert_id: a.alert_id.clone(),
            account_key: a.account.to_string(),
            trigger: a.trigger.as_str().to_owned(),
            score: a.score,
            fit: a.fit,
            engagement: a.engagement,
            breadth: a.breadth,
            threshold: a.threshold,
            breadth_threshold: a.breadth_threshold,
            crossed_at: ts(a.crossed_at),
            lead_id: a.lead_id.clone(),
            fit_reasons: reasons_pb(&a.fit_reasons),
            people: people_pb(&a.people),
            model_version: a.model_version.to_string(),
            owner_team: a.owner_team.clone(),
            owner_rep: a.owner_rep.clone(),
        }
        .encode_to_vec(),
    }
}

/// Decodes an account alert written by [`encode_account_alert`].
pub fn decode_account_alert(bytes: &[u8]) -> Result<AccountAlert, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => {
            let a: AlertJson = serde_json::from_slice(bytes).map_err(json_error)?;
            Ok(AccountAlert {
                account: key_in("account_key", &a.account_key)?,
                trigger: trigger_in(&a.trigger)?,
                crossed_at: time_in("crossed_at", &a.crossed_at)?,
                fit_reasons: reasons_from_json("fit_reasons", a.fit_reasons)?,
                people: people_from_json(a.people)?,
                alert_id: a.alert_id,
                score: a.score,
                fit: a.fit,
                engagement: a.engagement,
                breadth: a.breadth,
                threshold: a.threshold,
                breadth_threshold: a.breadth_threshold,
                lead_id: a.lead_id,
                model_version: Arc::from(a.model_version),
                owner_team: a.owner_team.filter(|t| !t.is_empty()),
                owner_rep: a.owner_rep.filter(|r| !r.is_empty()),
            })
        }
        Format::Protobuf => {
            let a = pb::AccountAlert::decode(bytes).map_err(proto_error)?;
            Ok(AccountAlert {
                account: key_in("account_key", &a.account_key)?,
                trigger: trigger_in(&a.trigger)?,
                crossed_at: ms("crossed_at", a.crossed_at)?,
                fit_reasons: reasons_from_pb("fit_reasons", a.fit_reasons)?,
                people: people_from_pb(a.people)?,
                alert_id: a.alert_id,
                score: a.score,
                fit: a.fit,
                engagement: a.engagement,
                breadth: a.breadth,
                threshold: a.threshold,
                breadth_threshold: a.breadth_threshold,
                lead_id: a.lead_id,
                model_version: Arc::from(a.model_version),
                owner_team: a.owner_team.filter(|t| !t.is_empty()),
                owner_rep: a.owner_rep.filter(|r| !r.is_empty()),
            })
        }
    }
}

// ---- lead-accounts -------------------------------------------------------------

/// Encodes a lead's contribution for `lead-accounts` (key: the account key).
pub fn encode_contribution(c: &LeadContribution, format: Format) -> Vec<u8> {
    match format {
        Format::Json => to_vec(&ContributionJson {
            account_key: c.account.to_string(),
            lead_id: c.lead_id.clone(),
            engagement: c.engagement,
            reasons: reasons_json(&c.reasons),
            lead_name: c.contact.name.clone(),
            title: c.contact.title.clone(),
            company: c.contact.company.clone(),
            attributes: attributes_out(&c.attributes),
            at: format_rfc3339(c.at),
        }),
        Format::Protobuf => pb::LeadContribution {
            account_key: c.account.to_string(),
            lead_id: c.lead_id.clone(),
            engagement: c.engagement,
            reasons: reasons_pb(&c.reasons),
            lead_name: c.contact.name.clone(),
            title: c.contact.title.clone(),
            company: c.contact.company.clone(),
            attributes: attributes_out(&c.attributes),
            at: ts(c.at),
        }
        .encode_to_vec(),
    }
}

/// Decodes a contribution written by [`encode_contribution`]; one the
/// account's scorer could not take (no lead id, an engagement out of
/// range, too many reasons, attributes a lead could not hold) is refused.
pub fn decode_contribution(bytes: &[u8]) -> Result<LeadContribution, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    let c = match Format::sniff(bytes) {
        Format::Json => {
            let c: ContributionJson = serde_json::from_slice(bytes).map_err(json_error)?;
            LeadContribution {
                account: key_in("account_key", &c.account_key)?,
                at: time_in("at", &c.at)?,
                reasons: reasons_from_json("reasons", reasons_checked("reasons", c.reasons)?)?,
                attributes: attributes_in("attributes", &c.attributes)?,
                engagement: engagement_in("engagement", c.engagement)?,
                lead_id: c.lead_id,
                contact: Contact {
                    name: c.lead_name,
                    title: c.title,
                    company: c.company,
                },
            }
        }
        Format::Protobuf => {
            let c = pb::LeadContribution::decode(bytes).map_err(proto_error)?;
            LeadContribution {
                account: key_in("account_key", &c.account_key)?,
                at: ms("at", c.at)?,
                reasons: reasons_from_pb("reasons", reasons_checked("reasons", c.reasons)?)?,
                attributes: attributes_in("attributes", &c.attributes)?,
                engagement: engagement_in("engagement", c.engagement)?,
                lead_id: c.lead_id,
                contact: Contact {
                    name: c.lead_name,
                    title: c.title,
                    company: c.company,
                },
            }
        }
    };
    if c.lead_id.is_empty() {
        return Err(Rejection::MissingField("lead_id".into()));
    }
    Ok(c)
}

// ---- the accounts' changelog -----------------------------------------------------

#[path = "account_state.rs"]
mod state;
pub use state::{decode_account_state, encode_account_state};

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
