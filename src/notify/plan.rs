//! Who is told what on which channel for one record: the deliveries, each
//! with its idempotency key and its ready payload. Pure (the caller gives
//! the time).

use serde_json::json;

use super::deliver::Payload;
use super::notice::{clip, delivery_id, Notice};
use super::render::{slack_limits, Links, View};
use crate::config::ChannelSettings;
use crate::core::{Millis, Roster};

/// One notification to send.
pub struct Delivery {
    /// Index of the channel in `[notify] channel`.
    pub channel: usize,
    /// The idempotency key (`webhook-id`, Slack metadata, Message-ID).
    pub id: String,
    /// Who or where, for the DLQ header: a rep id, a Slack id or `webhook`.
    pub target: String,
    pub payload: Payload,
}

/// Why a delivery could not even be built (a bad address in the roster).
#[derive(Debug)]
pub struct Unbuildable {
    pub channel: usize,
    pub id: String,
    pub target: String,
    pub reason: String,
}

/// Every delivery of `notice` over `channels`.
pub fn plan(
    notice: &Notice,
    channels: &[ChannelSettings],
    roster: Option<&Roster>,
    links: &Links<'_>,
    now: Millis,
) -> (Vec<Delivery>, Vec<Unbuildable>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let rep_of = |id: &str| roster.and_then(|r| r.rep(id));
    let primary = notice.recipients.first().map(|r| &**r);
    for (i, channel) in channels.iter().enumerate() {
        let name = channel.name();
        match channel {
            ChannelSettings::Webhook(_) | ChannelSettings::Teams(_) => {
                let target = primary.unwrap_or("-").to_owned();
                let id = delivery_id(&notice.source_id, name, &target);
                let view = View::new(notice, primary.and_then(rep_of), roster, links, now, &id);
                let body = match channel {
                    ChannelSettings::Teams(_) => view.teams_card(),
                    _ => view.webhook_body(now),
                };
                let payload =
                    Payload::Json(serde_json::to_vec(&body).expect("JSON values serialise"));
                out.push(Delivery {
                    channel: i,
                    id,
                    target,
                    payload,
                });
            }
            ChannelSettings::Slack(s) => {
                let mut targets: Vec<(String, Option<&str>)> = Vec::new();
                if s.token.is_none() {
                    targets.push(("webhook".into(), primary));
                } else {
                    if s.to_rep {
                        for r in &notice.recipients {
                            if let Some(u) = rep_of(r).and_then(|r| r.slack_user.as_deref()) {
                                targets.push((u.to_owned(), Some(&**r)));
                            }
                        }
                    }
                    if s.to_team {
                        let team = notice.team.as_deref().and_then(|t| roster?.team(t));
                        if let Some(c) = team.and_then(|t| t.slack_channel.as_deref()) {
                            targets.push((c.to_owned(), primary));
                        }
                    }
                }
                for (target, rep) in targets {
                    let id = delivery_id(&notice.source_id, name, &target);
                    let view = View::new(notice, rep.and_then(rep_of), roster, links, now, &id);
                    let text = clip(&view.text(None, 0), slack_limits::MESSAGE_TEXT);
                    let mut message = json!({
                        "text": text,
                        "blocks": view.slack_blocks(true),
                        "unfurl_links": false,
                    });
                    if s.token.is_some() {
                        message["channel"] = json!(target);
                        // Slack's message metadata carries the idempotency key.
                        message["metadata"] = json!({
                            "event_type": "leadpulse_notification",
                            "event_payload": {
                                "notification_id": id,
                                "lead_id": notice.lead_id,
                                "alert_id": notice.alert_id,
                            }
                        });
                    }
                    out.push(Delivery {
                        channel: i,
                        id,
                        target,
                        payload: Payload::Slack(message),
                    });
                }
            }
            ChannelSettings::Email(e) => {
                for r in &notice.recipients {
                    let Some(rep) = rep_of(r) else { continue };
                    let Some(address) = &rep.email else { continue };
                    let id = delivery_id(&notice.source_id, name, r);
                    let view = View::new(notice, Some(rep), roster, links, now, &id);
                    match email(&view, &e.from, &rep.name, address, &id, links) {
                        Ok(m) => out.push(Delivery {
                            channel: i,
                            id,
                            target: r.to_string(),
                            payload: Payload::Email(Box::new(m)),
                        }),
                        Err(reason) => bad.push(Unbuildable {
                            channel: i,
                            id,
                            target: r.to_string(),
                            reason,
                        }),
                    }
                }
            }
        }
    }
    (out, bad)
}

/// The email: text and HTML alternatives, `Message-ID` from the
/// idempotency key (so a re-sent copy is the same message to mail clients).
fn email(
    view: &View<'_>,
    from: &str,
    name: &str,
    address: &str,
    id: &str,
    links: &Links<'_>,
) -> Result<lettre::Message, String> {
    use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
    let from: Mailbox = from.parse().map_err(|_| "bad from address".to_owned())?;
    let to = Mailbox::new(
        Some(name.to_owned()),
        address
            .parse()
            .map_err(|_| "the rep's email does not parse".to_owned())?,
    );
    let domain = from.email.domain().to_owned();
    let mut subject = view.notice.headline();
    if view.deadline.as_ref().is_some_and(|d| d.passed) {
        subject.push_str(" (overdue)");
    }
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{id}@{domain}>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(view.text(links.signer, links.link_expires)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(view.html(links.signer, links.link_expires)),
                ),
        )
        .map_err(|e| format!("cannot build the email: {e}"))
}
