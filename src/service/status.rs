//! What the pipeline shares with the admin edge: readiness, restore
//! progress, the partitions this instance owns, and look-ups of a lead's
//! or an account's committed state.
//!
//! The pipeline thread owns the lead state and never shares it: the admin
//! edge sends a [`LeadQuery`] and the loop answers it between two polls,
//! from committed state only (what is staged in the open transaction is
//! invisible, exactly as it is to downstream consumers).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use crate::core::{AccountKey, AccountScore, LeadScore, LeadState, Scorer, Watches};

/// A lead as the admin edge shows it.
#[derive(Debug, Clone)]
pub struct LeadView {
    /// The score record, as it was last published on `lead-scores`.
    pub score: LeadScore,
    /// Alerts this lead has raised.
    pub alerts: u32,
    pub company_domain: Option<String>,
    pub account_id: Option<String>,
    /// Lifecycle stage.
    pub stage: Option<&'static str>,
    /// The latest handoff, as published on `lead-handoffs`.
    pub handoff: Option<crate::core::HandoffRecord>,
}

impl LeadView {
    pub fn new(scorer: &Scorer, lead_id: &str, state: &LeadState) -> Self {
        LeadView {
            score: scorer.score_of(lead_id, state),
            alerts: state.alerts,
            company_domain: state.attributes.get("company_domain").map(str::to_owned),
            account_id: state.attributes.get("account_id").map(str::to_owned),
            stage: state.stage.map(crate::core::Stage::as_str),
            handoff: state.handoff.as_ref().map(|h| crate::core::HandoffRecord {
                lead_id: lead_id.to_owned(),
                stage: state.stage,
                handoff: crate::core::Handoff::clone(h),
            }),
        }
    }
}

/// A request for one lead's committed state.
pub struct LeadQuery {
    /// The lead's partition of the events topic.
    pub partition: i32,
    pub lead_id: String,
    /// `None`: this instance owns the partition but has no such lead.
    pub reply: tokio::sync::oneshot::Sender<Option<LeadView>>,
}

/// A request for one account's committed score.
pub struct AccountQuery {
    /// The account's partition of the events topic (`lead-accounts` is
    /// co-partitioned with it).
    pub partition: i32,
    pub account: AccountKey,
    /// `None`: this instance owns the partition but has no such account,
    /// or the model has no `[account]`.
    pub reply: tokio::sync::oneshot::Sender<Option<AccountScore>>,
}

/// A point-in-time copy of the pipeline's state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Partitions of the events topic; 0 until the topics are checked.
    pub partitions: i32,
    /// The first assignment (possibly empty) has been received.
    pub joined: bool,
    /// SIGTERM received; the instance is draining.
    pub stopping: bool,
    /// Partitions owned and restored.
    pub owned: BTreeSet<i32>,
    /// Partitions being restored, with the changelog records read so far.
    pub restoring: BTreeMap<i32, u64>,
    /// Leads held in committed state.
    pub leads: usize,
    /// The brokers stopped answering: transactions cannot commit until they
    /// are back, and the instance retries by itself.
    pub kafka_unavailable: bool,
    /// The group consumer reaches no broker (from its statistics).
    pub brokers_down: bool,
    /// When the commit under way began, and how long one may take before
    /// the instance counts as unable to commit. librdkafka's
    /// `send_offsets_to_transaction` can wait for a lost coordinator past
    /// its timeout (librdkafka issue 5456), so a stuck commit is seen from
    /// outside the loop.
    pub commit_started: Option<std::time::Instant>,
    pub commit_limit: std::time::Duration,
}

impl Snapshot {
    /// Ready: in the group, every assigned partition restored, committing,
    /// not stopping.
    pub fn ready(&self) -> bool {
        self.joined
            && self.restoring.is_empty()
            && !self.stopping
            && !self.kafka_unavailable
            && !self.brokers_down
            && self
                .commit_started
                .is_none_or(|t| t.elapsed() <= self.commit_limit)
    }
}

/// The shared handle. Cheap to read; written by the pipeline thread.
pub struct Status {
    state: RwLock<Snapshot>,
    queries: mpsc::Sender<LeadQuery>,
    inbox: Mutex<mpsc::Receiver<LeadQuery>>,
    account_queries: mpsc::Sender<AccountQuery>,
    account_inbox: Mutex<mpsc::Receiver<AccountQuery>>,
    /// The watch table as the loop last read it; `None` before it was read.
    watches: RwLock<Option<Arc<Watches>>>,
}

impl Default for Status {
    fn default() -> Self {
        let (queries, inbox) = mpsc::channel();
        let (account_queries, account_inbox) = mpsc::channel();
        Status {
            state: RwLock::default(),
            queries,
            inbox: Mutex::new(inbox),
            account_queries,
            account_inbox: Mutex::new(account_inbox),
            watches: RwLock::default(),
        }
    }
}

impl Status {
    pub fn snapshot(&self) -> Snapshot {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        f(&mut self.state.write().unwrap_or_else(|p| p.into_inner()));
    }

    /// Asks the pipeline for a lead. The answer comes between two polls.
    pub fn query(&self, query: LeadQuery) {
        // The receiver lives as long as `self`: sending cannot fail.
        let _ = self.queries.send(query);
    }

    /// Answers every pending query with `lookup` (pipeline thread).
    pub fn answer(&self, mut lookup: impl FnMut(i32, &str) -> Option<LeadView>) {
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        while let Ok(q) = inbox.try_recv() {
            let _ = q.reply.send(lookup(q.partition, &q.lead_id));
        }
    }

    /// Asks the pipeline for an account. The answer comes between two polls.
    pub fn query_account(&self, query: AccountQuery) {
        let _ = self.account_queries.send(query);
    }

    /// Answers every pending account query with `lookup` (pipeline thread).
    pub fn answer_accounts(
        &self,
        mut lookup: impl FnMut(i32, &AccountKey) -> Option<AccountScore>,
    ) {
        let inbox = self.account_inbox.lock().unwrap_or_else(|p| p.into_inner());
        while let Ok(q) = inbox.try_recv() {
            let _ = q.reply.send(lookup(q.partition, &q.account));
        }
    }

    /// The watch table as the loop last read it (admin `GET /watches`).
    pub fn watches(&self) -> Option<Arc<Watches>> {
        self.watches
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_watches(&self, watches: Arc<Watches>) {
        *self.watches.write().unwrap_or_else(|p| p.into_inner()) = Some(watches);
    }

    pub fn set_partitions(&self, n: i32) {
        self.update(|s| s.partitions = n);
    }

    pub fn set_stopping(&self) {
        self.update(|s| s.stopping = true);
    }

    pub fn restore_started(&self, partitions: &[i32]) {
        self.update(|s| {
            s.joined = true;
            s.restoring.extend(partitions.iter().map(|&p| (p, 0)));
        });
    }

    pub fn restore_progress(&self, partition: i32, records: u64) {
        self.update(|s| {
            if let Some(n) = s.restoring.get_mut(&partition) {
                *n = records;
            }
        });
    }

    /// Restore ended, successfully or not: the partitions are owned when
    /// `ok`.
    pub fn restore_finished(&self, partitions: &[i32], ok: bool, leads: usize) {
        self.update(|s| {
            for p in partitions {
                s.restoring.remove(p);
                if ok {
                    s.owned.insert(*p);
                }
            }
            s.leads = leads;
        });
    }

    pub fn revoked(&self, partitions: &[i32], leads: usize) {
        self.update(|s| {
            for p in partitions {
                s.owned.remove(p);
                s.restoring.remove(p);
            }
            s.leads = leads;
        });
    }

    /// Whether transactions commit; an instance that cannot commit is not
    /// ready.
    pub fn set_kafka_available(&self, available: bool) {
        self.update(|s| s.kafka_unavailable = !available);
    }

    /// A commit begins; one that takes longer than `limit` makes the
    /// instance not ready until it ends.
    pub fn commit_started(&self, limit: std::time::Duration) {
        self.update(|s| {
            s.commit_started = Some(std::time::Instant::now());
            s.commit_limit = limit;
        });
    }

    pub fn commit_ended(&self) {
        self.update(|s| s.commit_started = None);
    }

    /// Whether the group consumer reaches a broker.
    pub fn set_brokers_up(&self, up: bool) {
        self.update(|s| s.brokers_down = !up);
    }

    pub fn set_leads(&self, leads: usize) {
        self.update(|s| s.leads = leads);
    }
}
