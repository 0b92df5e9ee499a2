//! One-click feedback: the actions, signed email links, Slack's request
//! signature and the deterministic feedback event id. Pure and
//! constant-time where it compares secrets.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::notice::encode;

type HmacSha256 = Hmac<Sha256>;

/// What a rep can say with one click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Contacted,
    Accept,
    /// With a reason from the roster's `rejection_reasons`.
    Reject(String),
}

impl Action {
    /// The wire name (`action` of a link, `action_id` of a button).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Contacted => "contacted",
            Action::Accept => "accept",
            Action::Reject(_) => "reject",
        }
    }

    /// The action named `name` (with `reason` for a rejection).
    pub fn parse(name: &str, reason: Option<&str>) -> Option<Action> {
        match (name, reason) {
            ("contacted", _) => Some(Action::Contacted),
            ("accept", _) => Some(Action::Accept),
            ("reject", Some(r)) if !r.is_empty() => Some(Action::Reject(r.to_owned())),
            _ => None,
        }
    }

    /// For people: `contacted`, `accepted`, `rejected (no_budget)`.
    pub fn past_tense(&self) -> String {
        match self {
            Action::Contacted => "contacted".into(),
            Action::Accept => "accepted".into(),
            Action::Reject(r) => format!("rejected ({r})"),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Action::Reject(r) => r,
            _ => "",
        }
    }
}

/// The feedback event's id: the same click (alert, action, rep) always
/// gives the same id, so a double click is one event.
pub fn feedback_event_id(alert_id: &str, action: &Action, rep: &str) -> String {
    let mut h = Sha256::new();
    for part in [alert_id, action.name(), rep] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    let d = h.finalize();
    let mut id = String::from("fb-");
    for b in &d[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// What a signed link (or a Slack button's value) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub lead_id: String,
    pub alert_id: String,
    pub rep: String,
    pub action: Action,
}

impl Click {
    /// A Slack button's `value`: `alert|lead|rep` (Slack signs the whole
    /// request, so the value needs no signature of its own).
    pub fn button_value(lead_id: &str, alert_id: &str, rep: &str) -> String {
        format!("{}|{}|{}", encode(alert_id), encode(lead_id), encode(rep))
    }

    /// Reads a button value back.
    pub fn from_button(value: &str, action: Action) -> Option<Click> {
        let mut parts = value.split('|').map(decode);
        let (alert_id, lead_id, rep) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() || lead_id.is_empty() || alert_id.is_empty() {
            return None;
        }
        Some(Click {
            lead_id,
            alert_id,
            rep,
            action,
        })
    }
}

/// Signs and checks email links with the configured key.
pub struct LinkSigner {
    key: Vec<u8>,
    base: String,
}

impl LinkSigner {
    pub fn new(key: &[u8], public_url: &str) -> LinkSigner {
        LinkSigner {
            key: key.to_vec(),
            base: public_url.trim_end_matches('/').to_owned(),
        }
    }

    fn mac(&self, c: &Click, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in [
            c.lead_id.as_str(),
            c.alert_id.as_str(),
            c.rep.as_str(),
            c.action.name(),
            c.action.reason(),
            &expires.to_string(),
        ] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The link a rep clicks: `{public_url}/feedback?…&exp=…&sig=…`. It
    /// opens a confirmation page whose button posts the feedback, so a mail
    /// scanner that follows links records nothing.
    pub fn link(&self, c: &Click, expires_unix: i64) -> String {
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.mac(c, expires_unix).finalize().into_bytes());
        let mut url = format!(
            "{}/feedback?action={}&lead={}&alert={}&rep={}",
            self.base,
            c.action.name(),
            encode(&c.lead_id),
            encode(&c.alert_id),
            encode(&c.rep)
        );
        if let Action::Reject(r) = &c.action {
            url.push_str(&format!("&reason={}", encode(r)));
        }
        url.push_str(&format!("&exp={expires_unix}&sig={sig}"));
        url
    }

    /// Checks a link's signature (constant time) and expiry at `now_unix`.
    pub fn verify(&self, c: &Click, expires_unix: i64, sig: &str, now_unix: i64) -> LinkCheck {
        let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
            return LinkCheck::BadSignature;
        };
        if self.mac(c, expires_unix).verify_slice(&sig).is_err() {
            return LinkCheck::BadSignature;
        }
        if expires_unix < now_unix {
            return LinkCheck::Expired;
        }
        LinkCheck::Valid
    }
}

/// The result of checking a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCheck {
    Valid,
    BadSignature,
    Expired,
}

/// Slack requests older (or newer) than this are refused: replay protection.
pub const SLACK_MAX_SKEW_SECS: i64 = 300;

/// Checks `X-Slack-Signature` (`v0=` hex HMAC-SHA256 of
/// `v0:{timestamp}:{body}` with the signing secret), constant time, and
/// that `X-Slack-Request-Timestamp` is within five minutes of `now_unix`.
pub fn slack_signature_ok(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now_unix: i64,
) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now_unix - ts).abs() > SLACK_MAX_SKEW_SECS {
        return false;
    }
    let Some(hex) = signature.strip_prefix("v0=") else {
        return false;
    };
    let Some(expected) = from_hex(hex) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Percent-decoding (and `+` as a space, as forms send it).
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `a=1&b=2` into pairs, decoded.
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example ("Verifying requests from Slack").
    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: &str = "1531420618";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_passes() {
        let now = SLACK_TS.parse::<i64>().unwrap() + 10;
        assert!(slack_signature_ok(
            SLACK_SECRET.as_bytes(),
            SLACK_TS,
            SLACK_BODY.as_bytes(),
            SLACK_SIG,
            now
        ));
    }

    #[test]
    fn a_changed_body_an_old_timestamp_or_a_wrong_secret_fail() {
        let now = SLACK_TS.parse::<i64>().unwrap();
        let changed = SLACK_BODY.replace("roadrunner", "coyote");
        assert!(!slack_signature_ok(
            SLACK_SECRET.as_bytes(),
            SLACK_TS,
            changed.as_bytes(),
            SLACK_SIG,
            now
        ));
        assert!(!slack_signature_ok(
            SLACK_SECRET.as_bytes(),
            SLACK_TS,
            SLACK_BODY.as_bytes(),
            SLACK_SIG,
            now + SLACK_MAX_SKEW_SECS + 1
        ));
        assert!(!slack_signature_ok(
            b"another-secret",
            SLACK_TS,
            SLACK_BODY.as_bytes(),
            SLACK_SIG,
            now
        ));
        assert!(!slack_signature_ok(
            SLACK_SECRET.as_bytes(),
            SLACK_TS,
            SLACK_BODY.as_bytes(),
            "v1=00",
            now
        ));
    }

    #[test]
    fn links_verify_until_they_expire_and_not_when_changed() {
        let s = LinkSigner::new(b"0123456789abcdef0123456789abcdef", "https://lp.example/");
        let c = Click {
            lead_id: "lead 1".into(),
            alert_id: "a1".into(),
            rep: "lars".into(),
            action: Action::Reject("no_budget".into()),
        };
        let url = s.link(&c, 2_000);
        assert!(url.starts_with(
            "https://lp.example/feedback?action=reject&lead=lead%201&alert=a1&rep=lars&reason=no_budget&exp=2000&sig="
        ));
        let sig = url.rsplit("sig=").next().unwrap();
        assert_eq!(s.verify(&c, 2_000, sig, 1_999), LinkCheck::Valid);
        assert_eq!(s.verify(&c, 2_000, sig, 2_001), LinkCheck::Expired);
        assert_eq!(s.verify(&c, 3_000, sig, 1_999), LinkCheck::BadSignature);
        let other = Click {
            action: Action::Reject("competitor".into()),
            ..c.clone()
        };
        assert_eq!(s.verify(&other, 2_000, sig, 1_999), LinkCheck::BadSignature);
        let accept = Click {
            action: Action::Accept,
            ..c
        };
        assert_eq!(
            s.verify(&accept, 2_000, sig, 1_999),
            LinkCheck::BadSignature
        );
    }

    #[test]
    fn a_double_click_is_one_event_id() {
        let a = feedback_event_id("a1", &Action::Contacted, "lars");
        assert_eq!(a, feedback_event_id("a1", &Action::Contacted, "lars"));
        assert_ne!(a, feedback_event_id("a1", &Action::Accept, "lars"));
        assert_ne!(a, feedback_event_id("a2", &Action::Contacted, "lars"));
        let v = Click::button_value("lead|1", "a1", "lars");
        let c = Click::from_button(&v, Action::Accept).unwrap();
        assert_eq!(c.lead_id, "lead|1");
        assert_eq!(c.rep, "lars");
    }
}
