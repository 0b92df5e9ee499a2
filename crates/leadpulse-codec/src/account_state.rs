//! The accounts' changelog record: an account's state, keyed by account.

use super::*;

/// Encodes an account's state for the accounts' changelog (protobuf,
/// key: the account key).
pub fn encode_account_state(account: &AccountKey, s: &AccountState) -> Vec<u8> {
    pb::AccountState {
        account_key: account.to_string(),
        people: s
            .people
            .iter()
            .map(|(id, p)| pb::AccountMember {
                lead_id: id.clone(),
                engagement: p.engagement,
                at_ms: p.at,
                engaged_at_ms: p.engaged_at,
                reasons: p
                    .reasons
                    .iter()
                    .map(|r| pb::AccountMemberReason {
                        rule_id: r.rule_id.clone(),
                        label: r.label.clone(),
                        points: r.points,
                        last_seen_ms: r.last_seen,
                    })
                    .collect(),
                name: p.contact.name.clone(),
                title: p.contact.title.clone(),
                company: p.contact.company.clone(),
                attributes: attributes_out(&p.attributes),
            })
            .collect(),
        updated_at_ms: s.updated_at,
        alerted: s.alerted,
        last_alert_at_ms: s.last_alert_at,
        alerts: s.alerts,
    }
    .encode_to_vec()
}

/// Decodes an accounts' changelog record: the account and its state. A
/// record the scorer could not have written (a bad key, a person twice or
/// without a lead id, an engagement out of range, too many reasons) is
/// refused, so a restore never holds what `apply` would not.
pub fn decode_account_state(bytes: &[u8]) -> Result<(AccountKey, AccountState), Rejection> {
    let s = pb::AccountState::decode(bytes).map_err(proto_error)?;
    let account = key_in("account_key", &s.account_key)?;
    let mut people = BTreeMap::new();
    for p in s.people {
        if p.lead_id.is_empty() {
            return Err(Rejection::MissingField("people.lead_id".into()));
        }
        let person = Person {
            engagement: engagement_in("people.engagement", p.engagement)?,
            at: p.at_ms,
            engaged_at: p.engaged_at_ms,
            reasons: reasons_checked("people.reasons", p.reasons)?
                .into_iter()
                .map(|r| AccountReason {
                    rule_id: r.rule_id,
                    label: r.label,
                    points: r.points,
                    last_seen: r.last_seen_ms,
                })
                .collect(),
            contact: Contact {
                name: p.name,
                title: p.title,
                company: p.company,
            },
            attributes: attributes_in("people.attributes", &p.attributes)?,
        };
        if people.insert(p.lead_id.clone(), person).is_some() {
            return Err(Rejection::InvalidField {
                field: "people.lead_id".into(),
                detail: format!("{:?} is kept twice", p.lead_id),
            });
        }
    }
    Ok((
        account,
        AccountState {
            people,
            updated_at: s.updated_at_ms,
            alerted: s.alerted,
            last_alert_at: s.last_alert_at_ms,
            alerts: s.alerts,
        },
    ))
}
