//! The changelog record of a lead (`leadpulse.v1.LeadState`), written
//! straight from the state.
//!
//! Every changed lead is written once per transaction, so this is on the
//! service's hottest path. Building the prost message first would copy every
//! string and the attribute map only to throw them away; this writes the same
//! wire format field by field into one buffer. `proto.rs` decodes it with
//! the generated types, and the tests check both agree.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use leadpulse_core::{Handoff, LeadState};

/// Field writers following proto3's rules: default scalars are left out,
/// `optional` ones are written whenever set.
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn key(&mut self, tag: u32, wire: WireType) {
        encode_key(tag, wire, &mut self.buf);
    }

    fn str(&mut self, tag: u32, s: &str) {
        if !s.is_empty() {
            self.str_always(tag, s);
        }
    }

    fn str_always(&mut self, tag: u32, s: &str) {
        self.key(tag, WireType::LengthDelimited);
        encode_varint(s.len() as u64, &mut self.buf);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn u32(&mut self, tag: u32, v: u32) {
        if v != 0 {
            self.key(tag, WireType::Varint);
            encode_varint(u64::from(v), &mut self.buf);
        }
    }

    fn i64(&mut self, tag: u32, v: i64) {
        if v != 0 {
            self.i64_always(tag, v);
        }
    }

    fn i64_always(&mut self, tag: u32, v: i64) {
        self.key(tag, WireType::Varint);
        encode_varint(v as u64, &mut self.buf);
    }

    fn opt_i64(&mut self, tag: u32, v: Option<i64>) {
        if let Some(v) = v {
            self.i64_always(tag, v);
        }
    }

    fn f64(&mut self, tag: u32, v: f64) {
        if v != 0.0 {
            self.f64_always(tag, v);
        }
    }

    fn f64_always(&mut self, tag: u32, v: f64) {
        self.key(tag, WireType::SixtyFourBit);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn bool(&mut self, tag: u32, v: bool) {
        if v {
            self.key(tag, WireType::Varint);
            self.buf.push(1);
        }
    }

    /// A nested message: its length is known only once written, so one
    /// byte is reserved (enough below 128 bytes, the usual case) and the
    /// body moved when the length needs more.
    fn message(&mut self, tag: u32, body: impl FnOnce(&mut Writer)) {
        self.key(tag, WireType::LengthDelimited);
        let at = self.buf.len();
        self.buf.push(0);
        body(self);
        let len = self.buf.len() - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
        } else {
            let mut prefix = Vec::with_capacity(encoded_len_varint(len as u64));
            encode_varint(len as u64, &mut prefix);
            self.buf.splice(at..at + 1, prefix);
        }
    }
}

/// A lead's changelog record.
pub(super) fn encode_state(lead_id: &str, s: &LeadState) -> Vec<u8> {
    let mut w = Writer {
        buf: Vec::with_capacity(256),
    };
    w.str(1, lead_id);
    for c in &s.contributions {
        w.message(2, |w| {
            w.str(1, &c.rule_id);
            w.f64(2, c.weight);
            w.u32(3, c.count);
            w.i64(4, c.last_seen);
            w.i64(5, c.as_of);
            if !c.capped.is_empty() {
                // Packed, as proto3 writes repeated scalars.
                w.message(7, |w| {
                    for &t in &c.capped {
                        encode_varint(t as u64, &mut w.buf);
                    }
                });
            }
            if !c.window.is_empty() {
                w.message(8, |w| {
                    for &t in &c.window {
                        encode_varint(t as u64, &mut w.buf);
                    }
                });
            }
        });
    }
    w.bool(3, s.alerted);
    w.u32(4, s.alerts);
    w.i64(5, s.updated_at);
    w.str(6, &s.model_version);
    for (name, value) in &s.attributes {
        w.message(9, |w| {
            w.str(1, name);
            w.str(2, value);
        });
    }
    w.f64(10, s.fit);
    w.opt_i64(11, s.last_alert_at);
    if let Some(d) = &s.disqualified {
        w.message(12, |w| {
            w.str(1, &d.rule_id);
            w.i64(2, d.at);
            w.bool(3, d.sticky);
        });
    }
    for missing in &s.held {
        w.str_always(13, missing);
    }
    w.str(14, s.stage.map_or("", |st| st.as_str()));
    if let Some(h) = &s.handoff {
        w.message(15, |w| handoff(w, h));
    }
    for c in &s.watch_cooldowns {
        w.message(16, |w| {
            w.str(1, &c.watch_id);
            w.i64(2, c.fired_at);
            w.i64(3, c.quiet_until);
        });
    }
    if !s.seen.is_empty() {
        w.message(18, |w| {
            for &(id, _) in &s.seen {
                w.buf.extend_from_slice(&id.to_le_bytes());
            }
        });
        // Ages are small varints; times would take 6 bytes each.
        w.message(19, |w| {
            for &(_, t) in &s.seen {
                let age = s.updated_at.saturating_sub(t);
                // sint64: zigzag.
                encode_varint(((age << 1) ^ (age >> 63)) as u64, &mut w.buf);
            }
        });
    }
    w.opt_i64(20, s.next_refresh_at);
    w.opt_i64(21, s.refreshed_at);
    w.buf
}

fn handoff(w: &mut Writer, h: &Handoff) {
    w.str(1, &h.alert_id);
    w.str(2, &h.team);
    w.str(3, &h.rep);
    w.str(4, &h.via);
    w.i64(5, h.handed_at);
    w.i64(6, h.respond_by);
    w.opt_i64(7, h.contact_due);
    w.opt_i64(8, h.first_contact_at);
    w.str(9, h.sla.as_str());
    w.u32(10, h.breaches);
    w.u32(11, h.reassignments);
    w.i64(12, h.feedback_by);
    if let Some((feedback, at, reason)) = &h.feedback {
        w.str_always(13, feedback);
        w.i64_always(14, *at);
        if let Some(reason) = reason {
            w.str_always(15, reason);
        }
    }
    w.bool(16, h.feedback_overdue);
    w.str(17, &h.qualified_by);
    w.str(18, &h.grade);
    w.f64(19, h.score);
    if let Some(amount) = h.won_amount {
        w.f64_always(20, amount);
    }
    if let Some(reason) = &h.lost_reason {
        w.str_always(21, reason);
    }
}
