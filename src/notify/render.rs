//! A notice as each channel shows it: the Standard Webhooks payload, Slack
//! Block Kit (within Slack's limits), a Teams Adaptive Card, and the email's
//! text and HTML. Pure.

use serde_json::{json, Value};

use super::links::{Action, Click, LinkSigner};
use super::notice::{clip, fill, AccountSurge, Deadline, Notice};
use crate::codec::format_rfc3339;
use crate::core::{AccountReason, Millis, Rep, Roster};

/// The links a notice carries, from `[notify]`.
#[derive(Default)]
pub struct Links<'a> {
    pub lead_url: Option<&'a str>,
    pub crm_url: Option<&'a str>,
    /// Signs the email links; `None` without a feedback endpoint.
    pub signer: Option<&'a LinkSigner>,
    /// When email links stop working (Unix seconds).
    pub link_expires: i64,
}

/// A notice for one recipient.
pub struct View<'a> {
    pub notice: &'a Notice,
    /// The rep told (their time zone and name), if in the roster.
    pub rep: Option<&'a Rep>,
    /// The rep the feedback is about (the notice's responsible rep).
    pub rep_id: Option<&'a str>,
    pub deadline: Option<Deadline>,
    pub lead_url: Option<String>,
    pub crm_url: Option<String>,
    /// Rejection reasons offered.
    pub reasons: &'a [String],
    /// The notification's idempotency key.
    pub id: &'a str,
    /// Signs the one-click feedback links of the webhook body.
    pub signer: Option<&'a LinkSigner>,
    pub link_expires: i64,
}

impl<'a> View<'a> {
    pub fn new(
        notice: &'a Notice,
        rep: Option<&'a Rep>,
        roster: Option<&'a Roster>,
        links: &Links<'a>,
        now: Millis,
        id: &'a str,
    ) -> View<'a> {
        View {
            notice,
            rep,
            rep_id: notice.recipients.first().map(|r| &**r),
            deadline: notice
                .deadline
                .map(|at| Deadline::new(notice.kind, at, now, rep)),
            // An account alert is about no one lead: its people are listed
            // with their lead ids instead.
            lead_url: links
                .lead_url
                .filter(|_| notice.account.is_none())
                .map(|t| fill(t, &notice.lead_id, &notice.alert_id)),
            crm_url: links
                .crm_url
                .filter(|_| notice.account.is_none())
                .map(|t| fill(t, &notice.lead_id, &notice.alert_id)),
            reasons: roster.map_or(&[][..], |r| &r.rejection_reasons[..]),
            id,
            signer: links.signer,
            link_expires: links.link_expires,
        }
    }

    fn who(&self) -> String {
        let n = self.notice;
        if let Some(a) = &n.account {
            return format!("Account `{}`", a.key);
        }
        let mut s = match n.contact_line() {
            Some(c) => format!("{c} · Lead `{}`", n.lead_id),
            None => format!("Lead `{}`", n.lead_id),
        };
        if let Some(c) = &n.company {
            s.push_str(&format!(" at {c}"));
        }
        if let Some(a) = &n.account_id {
            s.push_str(&format!(" (account {a})"));
        }
        s
    }

    fn tz(&self) -> jiff::tz::TimeZone {
        self.rep
            .and_then(|r| r.time_zone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// Plain text, as an email body or a chat fallback.
    pub fn text(&self, signer: Option<&LinkSigner>, expires: i64) -> String {
        let n = self.notice;
        let mut out = format!("{}\n\n{}\n", n.headline(), self.who());
        if let Some(w) = &n.what {
            out.push_str(&format!("{w}\n"));
        }
        if let Some(d) = &self.deadline {
            let mark = if d.passed { "OVERDUE: " } else { "" };
            out.push_str(&format!("{mark}{}\n", d.text));
        }
        let reasons = n.reason_lines();
        if !reasons.is_empty() {
            out.push_str("\nWhy:\n");
            for r in reasons {
                out.push_str(&format!("  {r}\n"));
            }
        }
        let activities = n.activity_lines(&self.tz());
        if !activities.is_empty() {
            out.push_str(&format!("\n{}:\n", n.activity_heading()));
            for a in activities {
                out.push_str(&format!("  {a}\n"));
            }
        }
        out.push('\n');
        if let Some(u) = &self.lead_url {
            out.push_str(&format!("Lead: {u}\n"));
        }
        if let Some(u) = &self.crm_url {
            out.push_str(&format!("CRM: {u}\n"));
        }
        for (label, url) in self.feedback_links(signer, expires) {
            out.push_str(&format!("{label}: {url}\n"));
        }
        out
    }

    /// The signed one-click links of an email: contacted, accept, and one
    /// reject per reason.
    pub fn feedback_links(
        &self,
        signer: Option<&LinkSigner>,
        expires: i64,
    ) -> Vec<(String, String)> {
        let (Some(signer), Some(rep), true) = (signer, self.rep_id, self.notice.takes_feedback())
        else {
            return Vec::new();
        };
        let n = self.notice;
        let click = |action| Click {
            lead_id: n.lead_id.clone(),
            alert_id: n.alert_id.clone(),
            rep: rep.to_owned(),
            action,
        };
        let mut out = vec![
            (
                "Contacted".to_owned(),
                signer.link(&click(Action::Contacted), expires),
            ),
            (
                "Accept".to_owned(),
                signer.link(&click(Action::Accept), expires),
            ),
        ];
        for r in self.reasons {
            out.push((
                format!("Reject ({r})"),
                signer.link(&click(Action::Reject(r.clone())), expires),
            ));
        }
        out
    }

    /// The Standard Webhooks payload: `type`, `timestamp`, `data`.
    pub fn webhook_body(&self, now: Millis) -> Value {
        let n = self.notice;
        let reasons: Vec<Value> = n
            .reasons
            .iter()
            .map(|r| {
                json!({"rule_id": &*r.rule_id, "label": &*r.label, "kind": r.kind.as_str(),
                       "points": r.points, "count": r.count,
                       "last_seen": format_rfc3339(r.last_seen)})
            })
            .collect();
        json!({
            "type": n.kind.event_type(),
            "timestamp": format_rfc3339(now),
            "data": {
                "notification_id": self.id,
                "source_id": n.source_id,
                "lead_id": n.lead_id,
                "alert_id": (!n.alert_id.is_empty()).then_some(&n.alert_id),
                "company_domain": n.company,
                "account_id": n.account_id,
                "contact": {"name": n.contact.name, "title": n.contact.title,
                            "company": n.contact.company},
                "watch": n.watch.as_ref().map(|w| json!({
                    "watch_id": w.watch_id, "target": w.target, "condition": w.condition,
                    "note": w.note, "event_type": w.event_type, "event_id": w.event_id,
                    "occurred_at": format_rfc3339(w.occurred_at), "url": w.url,
                    "item": w.item, "did": w.did()})),
                "account": n.account.as_ref().map(account_json),
                "activities": n.activity_lines(&self.tz()),
                "score": n.score,
                "grade": n.grade.map(|g| g.as_str()),
                "reasons": reasons,
                "team": n.team,
                "rep_id": self.rep_id,
                "recipients": n.recipients.iter().map(|r| &**r).collect::<Vec<_>>(),
                "what": n.what,
                "deadline": self.deadline.as_ref().map(|d| json!({
                    "at": format_rfc3339(d.at), "local": d.local, "time_zone": d.zone,
                    "passed": d.passed, "text": d.text})),
                "links": {"lead": self.lead_url, "crm": self.crm_url},
                // The signed one-click links, as in the email: a receiver
                // can offer them as buttons.
                "feedback_links": self
                    .feedback_links(self.signer, self.link_expires)
                    .into_iter()
                    .map(|(label, url)| json!({"label": label, "url": url}))
                    .collect::<Vec<_>>(),
                "text": n.headline(),
                "who": self.who().replace('`', ""),
            }
        })
    }

    /// A Teams message with one Adaptive Card.
    pub fn teams_card(&self) -> Value {
        let n = self.notice;
        let mut body = vec![
            json!({"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true,
                   "text": n.headline()}),
            json!({"type": "TextBlock", "wrap": true, "text": self.who()}),
        ];
        if let Some(w) = &n.what {
            body.push(json!({"type": "TextBlock", "wrap": true, "text": w}));
        }
        if let Some(d) = &self.deadline {
            body.push(json!({"type": "TextBlock", "wrap": true,
                "color": if d.passed { "Attention" } else { "Default" }, "text": d.text}));
        }
        for r in n.reason_lines() {
            body.push(json!({"type": "TextBlock", "wrap": true, "spacing": "None", "text": r}));
        }
        let activities = n.activity_lines(&self.tz());
        if n.account.is_some() && !activities.is_empty() {
            body.push(
                json!({"type": "TextBlock", "weight": "Bolder", "wrap": true,
                             "text": n.activity_heading()}),
            );
        }
        for a in activities {
            body.push(json!({"type": "TextBlock", "wrap": true, "spacing": "None",
                             "isSubtle": true, "text": a}));
        }
        body.push(
            json!({"type": "TextBlock", "isSubtle": true, "size": "Small",
                         "text": format!("notification {}", self.id)}),
        );
        let actions: Vec<Value> = [
            ("Open lead", &self.lead_url),
            ("Open in CRM", &self.crm_url),
        ]
        .into_iter()
        .filter_map(|(t, u)| {
            u.as_ref()
                .map(|u| json!({"type": "Action.OpenUrl", "title": t, "url": u}))
        })
        .collect();
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard", "version": "1.4",
                    "body": body, "actions": actions,
                }
            }]
        })
    }

    /// Slack Block Kit blocks, within Slack's limits (see [`slack_limits`]).
    pub fn slack_blocks(&self, with_buttons: bool) -> Vec<Value> {
        let n = self.notice;
        let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text",
            "text": clip(&n.headline(), slack_limits::HEADER_TEXT), "emoji": true}})];
        let mut main = self.who().replace('`', "");
        if let Some(w) = &n.what {
            main.push_str(&format!("\n{w}"));
        }
        if let Some(d) = &self.deadline {
            let mark = if d.passed {
                ":warning: *Overdue:* "
            } else {
                ":alarm_clock: "
            };
            main.push_str(&format!("\n{mark}{}", d.text));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": clip(&escape_mrkdwn(&main), slack_limits::SECTION_TEXT)}}));
        let reasons = n.reason_lines();
        if !reasons.is_empty() {
            let fields: Vec<Value> = reasons
                .iter()
                .take(slack_limits::SECTION_FIELDS)
                .map(|r| json!({"type": "mrkdwn", "text": clip(&escape_mrkdwn(r), slack_limits::FIELD_TEXT)}))
                .collect();
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        let activities = n.activity_lines(&self.tz());
        if !activities.is_empty() {
            let text = format!("*{}*\n{}", n.activity_heading(), activities.join("\n"));
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                "text": clip(&escape_mrkdwn(&text), slack_limits::SECTION_TEXT)}}));
        }
        let mut elements: Vec<Value> = Vec::new();
        for (text, url, id) in [
            ("Open lead", &self.lead_url, "open_lead"),
            ("Open in CRM", &self.crm_url, "open_crm"),
        ] {
            if let Some(u) = url.as_ref().filter(|u| u.len() <= slack_limits::URL) {
                elements.push(json!({"type": "button", "action_id": id,
                    "text": {"type": "plain_text", "text": text}, "url": u}));
            }
        }
        if let (true, Some(rep), true) = (with_buttons, self.rep_id, n.takes_feedback()) {
            let value = clip(
                &Click::button_value(&n.lead_id, &n.alert_id, rep),
                slack_limits::BUTTON_VALUE,
            );
            elements.push(
                json!({"type": "button", "action_id": "contacted", "style": "primary",
                "text": {"type": "plain_text", "text": "Contacted"}, "value": value}),
            );
            elements.push(json!({"type": "button", "action_id": "accept",
                "text": {"type": "plain_text", "text": "Accept"}, "value": value}));
            if !self.reasons.is_empty() {
                let options: Vec<Value> = self
                    .reasons
                    .iter()
                    .take(slack_limits::SELECT_OPTIONS)
                    .map(|r| json!({"text": {"type": "plain_text",
                        "text": clip(&r.replace('_', " "), slack_limits::OPTION_TEXT)},
                        "value": format!("{}|{}", clip(r, 40), clip(&value, slack_limits::OPTION_VALUE - 41))}))
                    .collect();
                elements.push(json!({"type": "static_select", "action_id": "reject",
                    "placeholder": {"type": "plain_text", "text": "Reject…"}, "options": options}));
            }
        }
        if !elements.is_empty() {
            elements.truncate(slack_limits::ACTIONS_ELEMENTS);
            blocks.push(
                json!({"type": "actions", "block_id": "leadpulse_feedback", "elements": elements}),
            );
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("leadpulse · {}", self.id)}]}));
        blocks.truncate(slack_limits::BLOCKS);
        blocks
    }

    /// The email's HTML alternative.
    pub fn html(&self, signer: Option<&LinkSigner>, expires: i64) -> String {
        let n = self.notice;
        let e = escape_html;
        let mut out = format!(
            "<html><body style=\"font-family:sans-serif\"><h2>{}</h2><p>{}</p>",
            e(&n.headline()),
            e(&self.who().replace('`', ""))
        );
        if let Some(w) = &n.what {
            out.push_str(&format!("<p>{}</p>", e(w)));
        }
        if let Some(d) = &self.deadline {
            let style = if d.passed {
                " style=\"color:#b00\""
            } else {
                ""
            };
            out.push_str(&format!("<p{style}><b>{}</b></p>", e(&d.text)));
        }
        let reasons = n.reason_lines();
        if !reasons.is_empty() {
            out.push_str("<h3>Why</h3><ul>");
            for r in reasons {
                out.push_str(&format!("<li>{}</li>", e(&r)));
            }
            out.push_str("</ul>");
        }
        let activities = n.activity_lines(&self.tz());
        if !activities.is_empty() {
            out.push_str(&format!("<h3>{}</h3><ul>", n.activity_heading()));
            for a in activities {
                out.push_str(&format!("<li>{}</li>", e(&a)));
            }
            out.push_str("</ul>");
        }
        out.push_str("<p>");
        for (label, url) in [
            ("Open lead", &self.lead_url),
            ("Open in CRM", &self.crm_url),
        ] {
            if let Some(u) = url {
                out.push_str(&format!("<a href=\"{}\">{label}</a> ", e(u)));
            }
        }
        out.push_str("</p><p>");
        for (label, url) in self.feedback_links(signer, expires) {
            out.push_str(&format!("<a href=\"{}\">{}</a> · ", e(&url), e(&label)));
        }
        out.push_str("</p></body></html>");
        out
    }
}

/// An account alert's own fields in the webhook body (`data.account`).
fn account_json(a: &AccountSurge) -> Value {
    let reasons = |r: &[AccountReason]| -> Vec<Value> {
        r.iter()
            .map(|r| {
                json!({"rule_id": r.rule_id, "label": r.label, "points": r.points,
                       "last_seen": format_rfc3339(r.last_seen)})
            })
            .collect()
    };
    let people: Vec<Value> = a
        .people
        .iter()
        .map(|p| {
            json!({"lead_id": p.lead_id, "name": p.contact.name, "title": p.contact.title,
                   "company": p.contact.company, "engagement": p.engagement,
                   "engaged_at": p.engaged_at.map(format_rfc3339), "in_breadth": p.in_breadth,
                   "reasons": reasons(&p.reasons)})
        })
        .collect();
    json!({
        "account_key": a.key, "name": a.name, "trigger": a.trigger, "fit": a.fit,
        "engagement": a.engagement, "breadth": a.breadth, "threshold": a.threshold,
        "breadth_threshold": a.breadth_threshold, "crossed_at": format_rfc3339(a.crossed_at),
        "fit_reasons": reasons(&a.fit_reasons), "people": people,
    })
}

/// Slack's `&`, `<` and `>` escaping of mrkdwn text.
fn escape_mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Block Kit limits (api.slack.com/reference/block-kit): longer text is
/// refused with `invalid_blocks`, so every text is clipped to these.
pub mod slack_limits {
    /// Blocks per message.
    pub const BLOCKS: usize = 50;
    /// A header block's plain text.
    pub const HEADER_TEXT: usize = 150;
    /// A section block's text.
    pub const SECTION_TEXT: usize = 3000;
    /// A section's fields, and each field's text.
    pub const SECTION_FIELDS: usize = 10;
    pub const FIELD_TEXT: usize = 2000;
    /// Elements of an actions block.
    pub const ACTIONS_ELEMENTS: usize = 25;
    /// A button's text, `action_id`, `value` and `url`.
    pub const BUTTON_TEXT: usize = 75;
    pub const ACTION_ID: usize = 255;
    pub const BUTTON_VALUE: usize = 2000;
    pub const URL: usize = 3000;
    /// A static select's options, and each option's text and value.
    pub const SELECT_OPTIONS: usize = 100;
    pub const OPTION_TEXT: usize = 75;
    pub const OPTION_VALUE: usize = 150;
    /// The top-level `text` (a notification's fallback).
    pub const MESSAGE_TEXT: usize = 4000;
}

#[cfg(test)]
mod tests;
