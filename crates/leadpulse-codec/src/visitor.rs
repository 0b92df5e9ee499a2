//! Visitors' changelog records (`leadpulse.v1.VisitorState`) and the
//! records of the merges topic (`leadpulse.v1.LeadMerge`), both protobuf:
//! internal, and read back only by leadpulse.

use prost::Message;

use crate::proto as pb;
use leadpulse_core::{Event, Merge, Rejection, VisitorState};

use super::protobuf::{event_from, event_message, malformed};

fn events_from(events: Vec<pb::LeadEvent>) -> Result<Vec<Event>, Rejection> {
    events.into_iter().map(event_from).collect()
}

/// A visitor's changelog record.
pub fn encode_visitor(visitor_id: &str, v: &VisitorState) -> Vec<u8> {
    pb::VisitorState {
        visitor_id: visitor_id.to_owned(),
        events: v.events.iter().map(event_message).collect(),
        last_seen_ms: v.last_seen,
        lead_id: v.lead_id.clone(),
    }
    .encode_to_vec()
}

/// Reads a visitor's changelog record: its id and state.
pub fn decode_visitor(bytes: &[u8]) -> Result<(String, VisitorState), Rejection> {
    let m = pb::VisitorState::decode(bytes).map_err(malformed)?;
    let state = VisitorState {
        events: events_from(m.events)?,
        last_seen: m.last_seen_ms,
        lead_id: m.lead_id,
    };
    Ok((m.visitor_id, state))
}

/// A record of the merges topic.
pub fn encode_merge(merge: &Merge) -> Vec<u8> {
    use pb::lead_merge::Kind;
    let kind = match merge {
        Merge::Link {
            visitor_id,
            lead_id,
            identified_at,
        } => Kind::Link(pb::VisitorLink {
            visitor_id: visitor_id.clone(),
            lead_id: lead_id.clone(),
            identified_at_ms: *identified_at,
        }),
        Merge::History {
            lead_id,
            visitor_id,
            events,
        } => Kind::History(pb::VisitorHistory {
            lead_id: lead_id.clone(),
            visitor_id: visitor_id.clone(),
            events: events.iter().map(event_message).collect(),
        }),
    };
    pb::LeadMerge { kind: Some(kind) }.encode_to_vec()
}

/// Reads a record of the merges topic.
pub fn decode_merge(bytes: &[u8]) -> Result<Merge, Rejection> {
    use pb::lead_merge::Kind;
    let m = pb::LeadMerge::decode(bytes).map_err(malformed)?;
    let missing = |f: &str| Rejection::MissingField(f.to_owned());
    match m.kind.ok_or_else(|| missing("kind"))? {
        Kind::Link(l) if l.visitor_id.is_empty() => Err(missing("link.visitor_id")),
        Kind::Link(l) if l.lead_id.is_empty() => Err(missing("link.lead_id")),
        Kind::Link(l) => Ok(Merge::Link {
            visitor_id: l.visitor_id,
            lead_id: l.lead_id,
            identified_at: l.identified_at_ms,
        }),
        Kind::History(h) if h.lead_id.is_empty() => Err(missing("history.lead_id")),
        Kind::History(h) => {
            let events = events_from(h.events)?;
            if let Some(e) = events.iter().find(|e| e.lead_id != h.lead_id) {
                return Err(Rejection::InvalidField {
                    field: "history.events.lead_id".into(),
                    detail: format!("event {:?} is not of the history's lead", e.event_id),
                });
            }
            Ok(Merge::History {
                lead_id: h.lead_id,
                visitor_id: h.visitor_id,
                events,
            })
        }
    }
}
