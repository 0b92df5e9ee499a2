//! Rep watches (`lead-watches`, JSON, key = watch id) and the alerts they
//! raise (`watch-alerts`, JSON), docs/topics.md.

use serde::{Deserialize, Serialize};

use super::json::{reasons_in, reasons_out, ReasonJson};
use super::time::{format_rfc3339, parse_rfc3339};
use leadpulse_core::{
    Contact, EventCondition, EventConditionSpec, EventType, Millis, Target, Watch, WatchAlert,
};

/// A watch as written on `lead-watches`, in a `replay --watches` file, or
/// in the body of `POST /watches`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchJson {
    /// Chosen by whoever creates the watch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_id: Option<String>,
    pub rep: String,
    pub target: TargetJson,
    #[serde(default)]
    pub condition: EventConditionSpec,
    /// RFC 3339; set by the service or the CLI when the watch is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Set by `DELETE /watches/{id}` and `watch rm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub cooldown_minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `{"kind": "domain", "value": "acme.com"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetJson {
    pub kind: String,
    pub value: String,
}

/// The longest watch id, rep id, target value or note accepted.
pub const MAX_WATCH_TEXT: usize = 1024;

impl WatchJson {
    /// Parses JSON, naming the field at fault.
    pub fn parse(bytes: &[u8]) -> Result<WatchJson, String> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || inner.is_syntax() || inner.is_eof() {
                format!("malformed json: {inner}")
            } else {
                format!("invalid field `{path}`: {inner}")
            }
        })
    }

    /// The watch, checked; `created_at` defaults to `now` and the id to
    /// `new_id` when absent.
    pub fn into_watch(self, new_id: impl FnOnce() -> String, now: Millis) -> Result<Watch, String> {
        let id = self.watch_id.unwrap_or_else(new_id);
        text("watch_id", &id)?;
        if id.starts_with('\0') {
            return Err("invalid field `watch_id`: must not start with a NUL byte".into());
        }
        text("rep", &self.rep)?;
        text("target.value", &self.target.value)?;
        let target = Target::parse(&self.target.kind, &self.target.value)
            .map_err(|e| format!("invalid field `target`: {e}"))?;
        let condition = EventCondition::new(self.condition)
            .map_err(|e| format!("invalid field `condition`: {e}"))?;
        let time = |field: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_rfc3339(s).map_err(|e| format!("invalid field `{field}`: {e}")))
                .transpose()
        };
        let created_at = time("created_at", &self.created_at)?.unwrap_or(now);
        let expires_at = time("expires_at", &self.expires_at)?;
        if expires_at.is_some_and(|e| e <= created_at) {
            return Err("invalid field `expires_at`: must be after the watch is created".into());
        }
        if let Some(note) = &self.note {
            if note.len() > MAX_WATCH_TEXT {
                return Err(format!(
                    "invalid field `note`: longer than {MAX_WATCH_TEXT} bytes"
                ));
            }
        }
        Ok(Watch {
            id: id.into(),
            rep: self.rep.trim().into(),
            target,
            condition,
            created_at,
            expires_at,
            deleted_at: time("deleted_at", &self.deleted_at)?,
            cooldown: i64::from(self.cooldown_minutes) * 60_000,
            note: self.note,
        })
    }

    /// A watch as written.
    pub fn of(w: &Watch) -> WatchJson {
        WatchJson {
            watch_id: Some(w.id.to_string()),
            rep: w.rep.to_string(),
            target: TargetJson {
                kind: w.target.kind().to_owned(),
                value: w.target.value().to_owned(),
            },
            condition: w.condition.spec().clone(),
            created_at: Some(format_rfc3339(w.created_at)),
            expires_at: w.expires_at.map(format_rfc3339),
            deleted_at: w.deleted_at.map(format_rfc3339),
            cooldown_minutes: (w.cooldown / 60_000) as u32,
            note: w.note.clone(),
        }
    }
}

fn text(field: &str, v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Err(format!("missing field `{field}`"));
    }
    if v.len() > MAX_WATCH_TEXT {
        return Err(format!(
            "invalid field `{field}`: longer than {MAX_WATCH_TEXT} bytes"
        ));
    }
    Ok(())
}

/// A `lead-watches` record value.
pub fn encode_watch(w: &Watch) -> Vec<u8> {
    serde_json::to_vec(&WatchJson::of(w)).expect("serializing plain data cannot fail")
}

/// Reads a `lead-watches` record value (its `created_at` must be set).
pub fn decode_watch(bytes: &[u8]) -> Result<Watch, String> {
    let json = WatchJson::parse(bytes)?;
    if json.created_at.is_none() {
        return Err("missing field `created_at`".into());
    }
    if json.watch_id.is_none() {
        return Err("missing field `watch_id`".into());
    }
    json.into_watch(String::new, 0)
}

/// Unknown fields are ignored on read: a newer writer may add some.
#[derive(Serialize, Deserialize)]
struct WatchAlertJson {
    watch_alert_id: String,
    watch_id: String,
    rep: String,
    target: TargetJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    condition: String,
    lead_id: String,
    event_id: String,
    event_type: EventType,
    occurred_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item: Option<String>,
    score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<ReasonJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    respond_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert_id: Option<String>,
}

/// A `watch-alerts` record value (always JSON).
pub fn encode_watch_alert(a: &WatchAlert) -> Vec<u8> {
    let json = WatchAlertJson {
        watch_alert_id: a.watch_alert_id.clone(),
        watch_id: a.watch_id.to_string(),
        rep: a.rep.to_string(),
        target: TargetJson {
            kind: a.target.kind().to_owned(),
            value: a.target.value().to_owned(),
        },
        note: a.note.clone(),
        condition: a.condition.to_string(),
        lead_id: a.lead_id.clone(),
        event_id: a.event_id.clone(),
        event_type: a.event_type,
        occurred_at: format_rfc3339(a.occurred_at),
        url: a.url.clone(),
        item: a.item.clone(),
        score: a.score,
        company_domain: a.company_domain.clone(),
        account_id: a.account_id.clone(),
        lead_name: a.contact.name.clone(),
        title: a.contact.title.clone(),
        company: a.contact.company.clone(),
        reasons: reasons_out(&a.reasons),
        respond_by: a.respond_by.map(format_rfc3339),
        alert_id: a.alert_id.clone(),
    };
    serde_json::to_vec(&json).expect("serializing plain data cannot fail")
}

/// Reads a `watch-alerts` record value, naming the field at fault.
pub fn decode_watch_alert(bytes: &[u8]) -> Result<WatchAlert, String> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let a: WatchAlertJson = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || inner.is_syntax() || inner.is_eof() {
            format!("malformed json: {inner}")
        } else {
            format!("invalid field `{path}`: {inner}")
        }
    })?;
    let time = |field: &str, v: &str| {
        parse_rfc3339(v).map_err(|e| format!("invalid field `{field}`: {e}"))
    };
    let target = Target::parse(&a.target.kind, &a.target.value)
        .map_err(|e| format!("invalid field `target`: {e}"))?;
    Ok(WatchAlert {
        occurred_at: time("occurred_at", &a.occurred_at)?,
        respond_by: a
            .respond_by
            .as_deref()
            .map(|t| time("respond_by", t))
            .transpose()?,
        reasons: reasons_in(a.reasons).map_err(|e| e.to_string())?,
        alert_id: a.alert_id,
        watch_alert_id: a.watch_alert_id,
        watch_id: a.watch_id.into(),
        rep: a.rep.into(),
        target,
        note: a.note,
        condition: a.condition.into(),
        lead_id: a.lead_id,
        event_id: a.event_id,
        event_type: a.event_type,
        url: a.url,
        item: a.item,
        score: a.score,
        company_domain: a.company_domain,
        account_id: a.account_id,
        contact: Contact {
            name: a.lead_name,
            title: a.title,
            company: a.company,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WATCH: &str = r#"{"watch_id":"w-1","rep":"ana","target":{"kind":"domain","value":"Acme.com"},"condition":{"events":["page_view"],"url":"*/pricing*"},"created_at":"2026-11-20T10:00:00Z","cooldown_minutes":30}"#;

    #[test]
    fn a_watch_round_trips() {
        let w = decode_watch(WATCH.as_bytes()).unwrap();
        assert_eq!(w.target, Target::Domain("acme.com".into()));
        assert_eq!(w.cooldown, 1_800_000);
        assert_eq!(w.created_at, 1_795_168_800_000);
        let again = decode_watch(&encode_watch(&w)).unwrap();
        assert_eq!(again, w);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (WATCH.replace("\"domain\"", "\"company\""), "`target`"),
            (
                WATCH.replace("page_view", "page_vue"),
                "`condition.events[0]`",
            ),
            (
                WATCH.replace("\"url\"", "\"form\""),
                "`condition`: the condition can never match: `form`",
            ),
            (WATCH.replace("2026-11-20T10", "yesterday"), "`created_at`"),
            (WATCH.replace("\"rep\":\"ana\"", "\"rep\":\" \""), "`rep`"),
            (WATCH.replace("cooldown_minutes", "cooldown"), "`cooldown`"),
            (WATCH.replace(r#""watch_id":"w-1","#, ""), "`watch_id`"),
        ];
        for (input, want) in cases {
            let err = decode_watch(input.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{input}\n got: {err}\nwant: {want}");
        }
    }

    #[test]
    fn a_watch_alert_round_trips_with_its_contact_reasons_and_deadline() {
        let a = WatchAlert {
            watch_alert_id: "00ff".into(),
            watch_id: "w-1".into(),
            rep: "ana".into(),
            target: Target::Domain("acme.com".into()),
            note: Some("renewal".into()),
            condition: "page_view".into(),
            lead_id: "L-1".into(),
            event_id: "e-1".into(),
            event_type: EventType::PageView,
            occurred_at: 1_795_168_800_000,
            url: Some("https://acme.example/pricing".into()),
            item: None,
            score: 71.5,
            company_domain: Some("acme.com".into()),
            account_id: None,
            contact: Contact {
                name: Some("Ana Lima".into()),
                title: Some("CTO".into()),
                company: Some("Acme".into()),
            },
            reasons: vec![leadpulse_core::Reason {
                rule_id: "pricing".into(),
                label: "Visited pricing".into(),
                kind: leadpulse_core::ReasonKind::Engagement,
                points: 20.0,
                count: 2,
                last_seen: 1_795_168_800_000,
            }],
            respond_by: Some(1_795_172_400_000),
            alert_id: Some("a-9".into()),
        };
        let bytes = encode_watch_alert(&a);
        assert_eq!(decode_watch_alert(&bytes).unwrap(), a);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(r#""lead_name":"Ana Lima","title":"CTO","company":"Acme""#));
        // Fields a newer writer adds are ignored; errors name the field.
        let newer = text.replacen('{', r#"{"later":1,"#, 1);
        assert_eq!(decode_watch_alert(newer.as_bytes()).unwrap(), a);
        let bad = text.replace("2026-11-20T10:00:00Z", "soon");
        let err = decode_watch_alert(bad.as_bytes()).unwrap_err();
        assert!(err.contains("`occurred_at`"), "{err}");
    }
}
