//! The records the service writes in a transaction: outputs with their
//! headers, and dead letters.

use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use super::topics::TopicNames;
use super::txn::{Transactions, TxnError};
use crate::codec::{self, Format};
use crate::core::tally::BatchCounts;
use crate::core::{Desk, Outcome, Rejection};

/// What output records need besides their payload: the transaction, the
/// topics and the headers every record carries.
pub(super) struct Outputs<'a> {
    txn: &'a Transactions,
    topics: &'a TopicNames,
    format: Format,
    model_version: &'a str,
}

impl<'a> Outputs<'a> {
    /// Borrows only what publishing needs, so the caller can change lead
    /// state while it publishes.
    pub(super) fn new(
        txn: &'a Transactions,
        topics: &'a TopicNames,
        format: Format,
        desk: &'a Desk,
    ) -> Self {
        Outputs {
            txn,
            topics,
            format,
            model_version: &desk.scorer().model().version,
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
                .payload(payload)
                .headers(headers),
        )
    }
}

/// Sends the original record to the DLQ with the reason in headers.
pub(super) fn dead_letter(
    txn: &Transactions,
    dlq: &str,
    m: &BorrowedMessage<'_>,
    rejection: &Rejection,
) -> Result<(), TxnError> {
    let detail = rejection.to_string();
    let partition = m.partition().to_string();
    let offset = m.offset().to_string();
    let mut headers = OwnedHeaders::new_with_capacity(6)
        .insert(Header {
            key: "leadpulse-dlq-reason",
            value: Some(rejection.code()),
        })
        .insert(Header {
            key: "leadpulse-dlq-detail",
            value: Some(&detail),
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
    if let Some(original) = m.headers() {
        for h in original.iter() {
            headers = headers.insert(h);
        }
    }
    let mut record = BaseRecord::<[u8], [u8]>::to(dlq).headers(headers);
    if let Some(k) = m.key() {
        record = record.key(k);
    }
    if let Some(p) = m.payload() {
        record = record.payload(p);
    }
    txn.send(record)
}
