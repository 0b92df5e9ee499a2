//! Reads changelog records (`leadpulse.v1.LeadState`) straight into lead
//! state, for restores.
//!
//! A restore decodes every lead of a partition, often millions. The prost
//! message would allocate every string and the attribute map before they are
//! packed into the state; this reads the wire format field by field,
//! borrowing strings from the record, and shares the model version and rule
//! ids between leads. The rarely present handoff goes through prost.

use std::sync::Arc;

use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
use prost::Message;
use smallvec::SmallVec;

use leadpulse_core::{
    Contribution, Disqualification, LeadState, Rejection, Stage, WatchCooldown, MAX_WINDOW_MATCHES,
};

/// Strings many leads share, kept once per restore.
#[derive(Default)]
pub struct StateReader {
    versions: Vec<Arc<str>>,
    rule_ids: Vec<Arc<str>>,
}

type Res<T> = Result<T, String>;

fn shared(cache: &mut Vec<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(hit) = cache.iter().find(|c| &***c == s) {
        return hit.clone();
    }
    let new: Arc<str> = Arc::from(s);
    // Bounded: rule ids and versions are few; anything beyond is not shared.
    if cache.len() < 4096 {
        cache.push(new.clone());
    }
    new
}

/// The body of a length-delimited field.
fn bytes<'a>(buf: &mut &'a [u8]) -> Res<&'a [u8]> {
    let len = decode_varint(buf).map_err(|e| e.to_string())? as usize;
    if len > buf.len() {
        return Err("a length runs past the end of the record".into());
    }
    let (body, rest) = buf.split_at(len);
    *buf = rest;
    Ok(body)
}

fn text<'a>(buf: &mut &'a [u8], field: &str) -> Res<&'a str> {
    std::str::from_utf8(bytes(buf)?).map_err(|_| format!("{field} is not UTF-8"))
}

fn varint(buf: &mut &[u8]) -> Res<u64> {
    decode_varint(buf).map_err(|e| e.to_string())
}

fn double(buf: &mut &[u8]) -> Res<f64> {
    if buf.len() < 8 {
        return Err("a double runs past the end of the record".into());
    }
    Ok(buf.get_f64_le())
}

/// Checks the wire type of a known field.
fn expect(field: &str, got: WireType, want: WireType) -> Res<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{field}: wire type {got:?}, expected {want:?}"))
    }
}

fn skip(wire: WireType, tag: u32, buf: &mut &[u8]) -> Res<()> {
    skip_field(wire, tag, buf, DecodeContext::default()).map_err(|e| e.to_string())
}

/// A window rule's matches from the per-day counts older records hold:
/// each at the start of its UTC day, so none counts longer than it did.
pub(super) fn window_from_days(days: &[(i64, u32)]) -> Vec<i64> {
    let mut window = Vec::new();
    for &(day, n) in days {
        let start = day.saturating_mul(leadpulse_core::DAY_MS);
        let room = MAX_WINDOW_MATCHES.saturating_sub(window.len());
        window.extend(std::iter::repeat_n(start, (n as usize).min(room)));
    }
    window.sort_unstable();
    window
}

/// A lead's seen event ids from their wire form (parallel lists, ages
/// before `updated_at`), oldest first.
pub(super) fn seen_from(ids: &[u64], ages: &[i64], updated_at: i64) -> Res<Vec<(u64, i64)>> {
    if ids.len() != ages.len() {
        return Err(format!("{} seen ids but {} ages", ids.len(), ages.len()));
    }
    let mut seen: Vec<(u64, i64)> = ids
        .iter()
        .zip(ages)
        .map(|(&id, &age)| (id, updated_at.saturating_sub(age)))
        .collect();
    seen.sort_by_key(|&(_, t)| t);
    Ok(seen)
}

impl StateReader {
    /// Decodes one changelog record.
    pub fn read(&mut self, record: &[u8]) -> Result<LeadState, Rejection> {
        self.lead(record).map_err(|detail| Rejection::Malformed {
            format: "protobuf",
            detail,
        })
    }

    fn lead(&mut self, mut buf: &[u8]) -> Res<LeadState> {
        let buf = &mut buf;
        let mut s = LeadState::default();
        let mut attributes: SmallVec<[(&str, &str); 12]> = SmallVec::new();
        let (mut seen_ids, mut seen_ages) = (Vec::new(), Vec::new());
        while buf.has_remaining() {
            let (tag, wire) = decode_key(buf).map_err(|e| e.to_string())?;
            use WireType::{LengthDelimited as Len, SixtyFourBit as F64, Varint as Int};
            match tag {
                2 => {
                    expect("contributions", wire, Len)?;
                    let body = bytes(buf)?;
                    s.contributions.push(self.contribution(body)?);
                }
                3 => {
                    expect("alerted", wire, Int)?;
                    s.alerted = varint(buf)? != 0;
                }
                4 => {
                    expect("alerts", wire, Int)?;
                    s.alerts = varint(buf)? as u32;
                }
                5 => {
                    expect("updated_at_ms", wire, Int)?;
                    s.updated_at = varint(buf)? as i64;
                }
                6 => {
                    expect("model_version", wire, Len)?;
                    s.model_version = shared(&mut self.versions, text(buf, "model_version")?);
                }
                9 => {
                    expect("attributes", wire, Len)?;
                    let mut entry = bytes(buf)?;
                    let (mut name, mut value) = ("", "");
                    while entry.has_remaining() {
                        let (tag, wire) = decode_key(&mut entry).map_err(|e| e.to_string())?;
                        match (tag, wire) {
                            (1, Len) => name = text(&mut entry, "attribute name")?,
                            (2, Len) => value = text(&mut entry, "attribute value")?,
                            _ => skip(wire, tag, &mut entry)?,
                        }
                    }
                    attributes.push((name, value));
                }
                10 => {
                    expect("fit", wire, F64)?;
                    s.fit = double(buf)?;
                }
                11 => {
                    expect("last_alert_at_ms", wire, Int)?;
                    s.last_alert_at = Some(varint(buf)? as i64);
                }
                12 => {
                    expect("disqualified", wire, Len)?;
                    let mut body = bytes(buf)?;
                    let mut d = Disqualification {
                        rule_id: Arc::from(""),
                        at: 0,
                        sticky: false,
                    };
                    while body.has_remaining() {
                        let (tag, wire) = decode_key(&mut body).map_err(|e| e.to_string())?;
                        match (tag, wire) {
                            (1, Len) => {
                                d.rule_id = shared(&mut self.rule_ids, text(&mut body, "rule_id")?)
                            }
                            (2, Int) => d.at = varint(&mut body)? as i64,
                            (3, Int) => d.sticky = varint(&mut body)? != 0,
                            _ => skip(wire, tag, &mut body)?,
                        }
                    }
                    s.disqualified = Some(Box::new(d));
                }
                13 => {
                    expect("held", wire, Len)?;
                    s.held.push(text(buf, "held")?.to_owned());
                }
                14 => {
                    expect("stage", wire, Len)?;
                    s.stage = Stage::parse(text(buf, "stage")?);
                }
                15 => {
                    expect("handoff", wire, Len)?;
                    let body = bytes(buf)?;
                    let h = crate::proto::Handoff::decode(body).map_err(|e| e.to_string())?;
                    s.handoff = Some(Box::new(super::protobuf::handoff_from(h)));
                }
                16 => {
                    expect("watch_cooldowns", wire, Len)?;
                    let mut body = bytes(buf)?;
                    let mut c = WatchCooldown {
                        watch_id: Arc::from(""),
                        fired_at: 0,
                        quiet_until: 0,
                    };
                    while body.has_remaining() {
                        let (tag, wire) = decode_key(&mut body).map_err(|e| e.to_string())?;
                        match (tag, wire) {
                            (1, Len) => c.watch_id = Arc::from(text(&mut body, "watch_id")?),
                            (2, Int) => c.fired_at = varint(&mut body)? as i64,
                            (3, Int) => c.quiet_until = varint(&mut body)? as i64,
                            _ => skip(wire, tag, &mut body)?,
                        }
                    }
                    s.watch_cooldowns.push(c);
                }
                18 => {
                    expect("seen_ids", wire, Len)?;
                    let mut packed = bytes(buf)?;
                    while packed.len() >= 8 {
                        seen_ids.push(packed.get_u64_le());
                    }
                }
                19 => {
                    expect("seen_age_ms", wire, Len)?;
                    let mut packed = bytes(buf)?;
                    while packed.has_remaining() {
                        let z = varint(&mut packed)?;
                        seen_ages.push((z >> 1) as i64 ^ -((z & 1) as i64));
                    }
                }
                20 => {
                    expect("next_refresh_at_ms", wire, Int)?;
                    s.next_refresh_at = Some(varint(buf)? as i64);
                }
                21 => {
                    expect("refreshed_at_ms", wire, Int)?;
                    s.refreshed_at = Some(varint(buf)? as i64);
                }
                _ => skip(wire, tag, buf)?,
            }
        }
        s.seen = seen_from(&seen_ids, &seen_ages, s.updated_at)?;
        s.attributes.update(&attributes);
        s.contributions.shrink_to_fit();
        Ok(s)
    }

    fn contribution(&mut self, mut body: &[u8]) -> Res<Contribution> {
        let buf = &mut body;
        // Resolved against the model on the lead's next event.
        let mut c = Contribution::new(Arc::from(""), u32::MAX, 0);
        let mut old_days: SmallVec<[(i64, u32); 8]> = SmallVec::new();
        while buf.has_remaining() {
            let (tag, wire) = decode_key(buf).map_err(|e| e.to_string())?;
            use WireType::{LengthDelimited as Len, SixtyFourBit as F64, Varint as Int};
            match (tag, wire) {
                (1, Len) => c.rule_id = shared(&mut self.rule_ids, text(buf, "rule_id")?),
                (2, F64) => c.weight = double(buf)?,
                (3, Int) => c.count = varint(buf)? as u32,
                (4, Int) => c.last_seen = varint(buf)? as i64,
                (5, Int) => c.as_of = varint(buf)? as i64,
                (6, Len) => {
                    let mut day = bytes(buf)?;
                    let (mut d, mut n) = (0i64, 0u32);
                    while day.has_remaining() {
                        let (tag, wire) = decode_key(&mut day).map_err(|e| e.to_string())?;
                        match (tag, wire) {
                            (1, Int) => d = varint(&mut day)? as i64,
                            (2, Int) => n = varint(&mut day)? as u32,
                            _ => skip(wire, tag, &mut day)?,
                        }
                    }
                    old_days.push((d, n));
                }
                (7, Len) => {
                    let mut packed = bytes(buf)?;
                    while packed.has_remaining() {
                        c.capped.push(varint(&mut packed)? as i64);
                    }
                }
                (7, Int) => c.capped.push(varint(buf)? as i64),
                (8, Len) => {
                    let mut packed = bytes(buf)?;
                    while packed.has_remaining() {
                        c.window.push(varint(&mut packed)? as i64);
                    }
                }
                (8, Int) => c.window.push(varint(buf)? as i64),
                _ => skip(wire, tag, buf)?,
            }
        }
        if c.window.is_empty() {
            c.window = window_from_days(&old_days);
        }
        c.window.sort_unstable();
        c.window.shrink_to_fit();
        c.capped.shrink_to_fit();
        Ok(c)
    }
}
