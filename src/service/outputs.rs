//! The records the service writes in a transaction: outputs with their
//! headers, and dead letters.

use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::BaseRecord;
use rdkafka::types::RDKafkaErrorCode;

use super::registry::OutputFraming;
use super::topics::TopicNames;
use super::txn::{Transactions, TxnError};
use crate::codec::{self, Format};
use crate::core::tally::BatchCounts;
use crate::core::{Desk, Outcome, Rejection, WatchAlert};

/// What output records need besides their payload: the transaction, the
/// topics and the headers every record carries.
pub(super) struct Outputs<'a> {
    txn: &'a Transactions,
    topics: &'a TopicNames,
    format: Format,
    model_version: &'a str,
    /// Schema Registry framing of the outputs that have it.
    framing: &'a OutputFraming,
}

impl<'a> Outputs<'a> {
    /// Borrows only what publishing needs, so the caller can change lead
    /// state while it publishes.
    pub(super) fn new(
        txn: &'a Transactions,
        topics: &'a TopicNames,
        format: Format,
        desk: &'a Desk,
        framing: &'a OutputFraming,
    ) -> Self {
        Outputs {
            txn,
            topics,
            format,
            model_version: &desk.scorer().model().version,
            framing,
        }
    }

    /// The same, with the `leadpulse-model-version` header of another model
    /// (the challenger's on `shadow-alerts`).
    pub(super) fn for_model(self, model_version: &'a str) -> Self {
        Outputs {
            model_version,
            ..self
        }
    }

    /// Publishes what one event or timer produced (in the open transaction).
    pub(super) fn emit(&self, outcome: &Outcome, counts: &mut BatchCounts) -> Result<(), TxnError> {
        let (f, t) = (self.format, self.topics);
        if let Some(alert) = &outcome.alert {
            counts.alerts += 1;
            self.publish(&t.alerts, &alert.lead_id, &codec::encode_alert(alert, f))?;
        }
        if let Some(hold) = &outcome.hold {
            counts.holds += 1;
            self.publish(&t.enrichment, &hold.lead_id, &codec::encode_hold(hold, f))?;
        }
        for b in &outcome.breaches {
            self.publish(&t.breaches, &b.lead_id, &codec::encode_breach(b, f))?;
        }
        if let Some(o) = &outcome.overdue {
            self.publish(&t.overdue, &o.lead_id, &codec::encode_overdue(o, f))?;
        }
        for c in &outcome.stages {
            self.publish(&t.lifecycle, &c.lead_id, &codec::encode_stage(c, f))?;
        }
        Ok(())
    }

    /// Publishes the watch alerts of one event (always JSON), keyed by the
    /// watching rep, so one rep's alerts stay in order.
    pub(super) fn emit_watch_alerts(&self, alerts: &[WatchAlert]) -> Result<(), TxnError> {
        for a in alerts {
            let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
                key: "content-type",
                value: Some(Format::Json.content_type()),
            });
            self.txn.send(
                BaseRecord::to(&self.topics.watch_alerts)
                    .key(a.rep.as_bytes())
                    .payload(
                        &*self
                            .framing
                            .frame(&self.topics.watch_alerts, &codec::encode_watch_alert(a)),
                    )
                    .headers(headers),
            )?;
        }
        Ok(())
    }

    pub(super) fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), TxnError> {
        let headers = OwnedHeaders::new_with_capacity(2)
            .insert(Header {
                key: "content-type",
                value: Some(self.format.content_type()),
            })
            .insert(Header {
                key: "leadpulse-model-version",
                value: Some(self.model_version),
            });
        self.txn.send(
            BaseRecord::to(topic)
                .key(key.as_bytes())
                .payload(&*self.framing.frame(topic, payload))
                .headers(headers),
        )
    }
}

/// The most of a refusal's text a dead letter carries: refusals quote the
/// value they refuse, which may be as large as the record.
const DETAIL_LIMIT: usize = 1024;
/// The original headers are copied while they total at most this.
const HEADERS_LIMIT: usize = 16 * 1024;
/// Room kept for the record's framing beyond key, value and headers.
const OVERHEAD: usize = 1024;
/// A key up to this long is kept when the payload has to be left out.
const KEY_LIMIT: usize = 4096;

/// What of the original record a dead letter carries.
#[derive(Clone, Copy)]
struct Keep {
    key: bool,
    payload: bool,
    headers: bool,
}

/// Sends the original record to the DLQ with the reason in headers. The
/// dead letter always fits `max_record` bytes (the producer's
/// `message.max.bytes`): the detail is cut short, and a key, payload or
/// headers too large to fit are replaced by their size and xxh3 hash, with
/// the source topic, partition and offset to find them by. A record that
/// cannot be produced is never retried into an abort loop.
pub(super) fn dead_letter(
    txn: &Transactions,
    dlq: &str,
    max_record: usize,
    m: &BorrowedMessage<'_>,
    rejection: &Rejection,
) -> Result<(), TxnError> {
    let key_len = m.key().map_or(0, <[u8]>::len);
    let payload_len = m.payload().map_or(0, <[u8]>::len);
    let original_headers: usize = m.headers().map_or(0, |hs| {
        hs.iter()
            .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len))
            .sum()
    });
    let own_headers = 6 * 64 + DETAIL_LIMIT + m.topic().len();
    let keep_headers = original_headers <= HEADERS_LIMIT;
    let room = max_record
        .saturating_sub(OVERHEAD + own_headers)
        .saturating_sub(if keep_headers { original_headers } else { 0 });
    let keep = if key_len + payload_len <= room {
        Keep {
            key: true,
            payload: true,
            headers: keep_headers,
        }
    } else {
        Keep {
            key: key_len <= KEY_LIMIT.min(room),
            payload: false,
            headers: keep_headers,
        }
    };
    match txn.send(dead_letter_record(dlq, m, rejection, keep)) {
        Err(TxnError::Abortable(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageSizeTooLarge,
        ))) => {
            let bare = Keep {
                key: false,
                payload: false,
                headers: false,
            };
            txn.send(dead_letter_record(dlq, m, rejection, bare))
        }
        sent => sent,
    }
}

fn dead_letter_record<'a>(
    dlq: &'a str,
    m: &'a BorrowedMessage<'_>,
    rejection: &Rejection,
    keep: Keep,
) -> BaseRecord<'a, [u8], [u8]> {
    let detail = rejection.to_string();
    let detail = truncated(&detail, DETAIL_LIMIT);
    let partition = m.partition().to_string();
    let offset = m.offset().to_string();
    let mut headers = OwnedHeaders::new_with_capacity(8)
        .insert(Header {
            key: "leadpulse-dlq-reason",
            value: Some(rejection.code()),
        })
        .insert(Header {
            key: "leadpulse-dlq-detail",
            value: Some(detail),
        })
        .insert(Header {
            key: "leadpulse-source-topic",
            value: Some(m.topic()),
        })
        .insert(Header {
            key: "leadpulse-source-partition",
            value: Some(&partition),
        })
        .insert(Header {
            key: "leadpulse-source-offset",
            value: Some(&offset),
        });
    for (what, bytes, kept) in [
        ("key", m.key(), keep.key),
        ("payload", m.payload(), keep.payload),
    ] {
        if let (Some(bytes), false) = (bytes, kept) {
            let reference = format!(
                "size={} xxh3={:016x}",
                bytes.len(),
                xxhash_rust::xxh3::xxh3_64(bytes)
            );
            headers = headers.insert(Header {
                key: &format!("leadpulse-dlq-{what}-omitted"),
                value: Some(&reference),
            });
        }
    }
    match m.headers() {
        Some(original) if keep.headers => {
            for h in original.iter() {
                headers = headers.insert(h);
            }
        }
        Some(original) => {
            headers = headers.insert(Header {
                key: "leadpulse-dlq-headers-omitted",
                value: Some(&original.count().to_string()),
            });
        }
        None => {}
    }
    let mut record = BaseRecord::<[u8], [u8]>::to(dlq).headers(headers);
    if let (Some(k), true) = (m.key(), keep.key) {
        record = record.key(k);
    }
    if let (Some(p), true) = (m.payload(), keep.payload) {
        record = record.payload(p);
    }
    record
}

/// `text` cut to at most `limit` bytes on a character boundary.
fn truncated(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::truncated;

    #[test]
    fn details_are_cut_on_a_character_boundary() {
        assert_eq!(truncated("abc", 10), "abc");
        assert_eq!(truncated("abcdef", 3), "abc");
        assert_eq!(truncated("aé", 2), "a");
    }
}
