//! Accounts on the broker (`core::account`): the hop from a lead's
//! partition to its account's, as the visitors' `lead-merges` hop is.
//!
//! A step that changes a lead's score record produces the lead's
//! [`LeadContribution`] to `lead-accounts`, in the step's transaction,
//! keyed by the account and partitioned as the events topic is (murmur2
//! over its partition count). The instance that owns that partition reads
//! it with the assign-only reader of the feedback and merges, so its offset
//! commits with what it caused: the account's state on the changelog (keys
//! under [`ACCOUNT_KEY_PREFIX`], beside the partition's leads and visitors),
//! its score on `account-scores` and, once per crossing, its alert on
//! `account-alerts`.

use std::collections::BTreeMap;

use rdkafka::message::Message;
use rdkafka::producer::BaseRecord;

use super::engine::{Consumed, Engine};
use super::outputs::Outputs;
use super::topics::TopicNames;
use super::txn::{Transactions, TxnError};
use crate::codec::{self, Format};
use crate::core::lead::LeadState;
use crate::core::partitioner::partition_for_key;
use crate::core::{AccountKey, AccountScorer, AccountState, LeadContribution, Rejection, Scorer};

#[cfg(doc)]
use crate::core::ACCOUNT_KEY_PREFIX;

/// The accounts of one partition: what committed, and what the open
/// transaction changed, so an abort only drops the latter.
#[derive(Debug, Default)]
pub(super) struct AccountBook {
    committed: BTreeMap<AccountKey, AccountState>,
    staged: BTreeMap<AccountKey, AccountState>,
}

impl AccountBook {
    /// A partition's accounts as the changelog holds them.
    pub(super) fn restored(committed: BTreeMap<AccountKey, AccountState>) -> AccountBook {
        AccountBook {
            committed,
            staged: BTreeMap::new(),
        }
    }

    /// The account's committed state (what the admin edge shows).
    pub(super) fn committed(&self, key: &AccountKey) -> Option<&AccountState> {
        self.committed.get(key)
    }

    /// The account's state, as the open transaction sees it.
    fn get(&self, key: &AccountKey) -> AccountState {
        self.staged
            .get(key)
            .or_else(|| self.committed.get(key))
            .cloned()
            .unwrap_or_default()
    }

    /// The transaction committed: what it changed is the committed state.
    pub(super) fn commit(&mut self) {
        let staged = std::mem::take(&mut self.staged);
        self.committed.extend(staged);
    }

    /// The transaction aborted: back to what committed.
    pub(super) fn discard(&mut self) {
        self.staged.clear();
    }

    /// Accounts held, committed or staged.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.committed.len()
            + self
                .staged
                .keys()
                .filter(|k| !self.committed.contains_key(*k))
                .count()
    }
}

/// Produces the contribution of a lead whose score record `step` changed,
/// if the model scores accounts and the lead has one.
pub(super) fn contribute(
    txn: &Transactions,
    topics: &TopicNames,
    partition_count: i32,
    scorer: &Scorer,
    lead_id: &str,
    lead: &LeadState,
) -> Result<(), TxnError> {
    let Some(accounts) = AccountScorer::new(scorer.model().clone()) else {
        return Ok(());
    };
    let Some(account) = accounts.key_of(&lead.attributes) else {
        return Ok(());
    };
    let score = scorer.score_of(lead_id, lead);
    let c = LeadContribution::of(account, &score, lead, accounts.rules());
    let key = c.account.to_string();
    txn.send(
        BaseRecord::to(&topics.accounts)
            .partition(partition_for_key(key.as_bytes(), partition_count))
            .key(key.as_bytes())
            .payload(&codec::encode_contribution(&c, Format::Protobuf)),
    )
}

impl Engine {
    /// A `lead-accounts` record: applied to its account, on this partition.
    /// Its alert, if it made the account cross, is produced at once; the
    /// state and the score at commit ([`Engine::publish_accounts`]). With a
    /// model that no longer has `[account]` it changes nothing.
    pub(super) fn account_record(
        &mut self,
        m: &Consumed<'_>,
        partition: i32,
    ) -> Result<Result<(), TxnError>, Rejection> {
        let c = codec::decode_contribution(m.payload().unwrap_or_default())?;
        let key = c.account.to_string();
        if m.key() != Some(key.as_bytes()) {
            return Err(Rejection::KeyMismatch);
        }
        let Some(accounts) = AccountScorer::new(self.desk.scorer().model().clone()) else {
            return Ok(Ok(()));
        };
        let book = self.accounts.entry(partition).or_default();
        let mut state = book.get(&c.account);
        let out = accounts.apply(&mut state, &c);
        self.batch.counts.account_contributions += 1;
        if out.changed {
            book.staged.insert(c.account, state);
        }
        let Some(mut alert) = out.alert else {
            return Ok(Ok(()));
        };
        self.desk.own_account_alert(&mut alert);
        let outputs = Outputs::new(
            &self.txn,
            &self.topics,
            self.format,
            &self.desk,
            &self.framing,
        );
        let payload = codec::encode_account_alert(&alert, self.format);
        let published = outputs.publish(&self.topics.account_alerts, &key, &payload);
        self.batch.counts.account_alerts += 1;
        Ok(published)
    }

    /// Writes each account the open transaction changed: its state to the
    /// changelog (its partition's), its score to `account-scores`. Returns
    /// the scores written.
    pub(super) fn publish_accounts(&self) -> Result<u64, TxnError> {
        let mut scores = 0;
        let outputs = Outputs::new(
            &self.txn,
            &self.topics,
            self.format,
            &self.desk,
            &self.framing,
        );
        let scorer = AccountScorer::new(self.desk.scorer().model().clone());
        for (&partition, book) in &self.accounts {
            for (account, state) in &book.staged {
                self.txn.send(
                    BaseRecord::to(&self.topics.changelog)
                        .partition(partition)
                        .key(account.changelog_key().as_bytes())
                        .payload(&codec::encode_account_state(account, state)),
                )?;
                if let Some(scorer) = &scorer {
                    let score = scorer.score_of(account, state);
                    let payload = codec::encode_account_score(&score, self.format);
                    outputs.publish(&self.topics.account_scores, &account.to_string(), &payload)?;
                    scores += 1;
                }
            }
        }
        Ok(scores)
    }

    /// Accounts held in committed state on this instance.
    pub(super) fn accounts_held(&self) -> usize {
        self.accounts.values().map(|b| b.committed.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abort_drops_what_the_transaction_changed_and_a_commit_keeps_it() {
        let key = |d: &str| AccountKey::Domain(d.into());
        let alerted = AccountState {
            alerted: true,
            ..AccountState::default()
        };
        let mut book =
            AccountBook::restored(BTreeMap::from([(key("a.io"), AccountState::default())]));
        book.staged.insert(key("a.io"), alerted.clone());
        book.staged.insert(key("b.io"), alerted.clone());
        assert_eq!(
            book.get(&key("a.io")),
            alerted,
            "the transaction sees its own"
        );
        assert_eq!(book.len(), 2);
        book.discard();
        assert_eq!(book.get(&key("a.io")), AccountState::default());
        assert_eq!(book.len(), 1);
        book.staged.insert(key("b.io"), alerted.clone());
        book.commit();
        book.discard();
        assert_eq!(book.get(&key("b.io")), alerted);
        assert_eq!(book.len(), 2);
    }
}
