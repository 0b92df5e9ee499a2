//! The accounts of the check-in: the accounts passed to sales (their
//! `account-alerts`), whether they were followed up, and conversion per
//! account (the handoffs of the account's leads).
//!
//! A handoff record does not name its lead's account; the account records
//! do: a lead belongs to the account whose `account-scores` or
//! `account-alerts` record names it among its people (each record shows the
//! ten most engaged). docs/report.md defines every figure.

use std::collections::{BTreeMap, BTreeSet};

use super::{Figures, Handoff, Period, ReportInput};
use crate::core::{AccountAlert, AccountKey, AccountScore};

/// One account's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRow {
    /// The account key as its records write it: `domain:acme.com`, `id:…`.
    pub account: String,
    /// Account alerts raised in the period.
    pub alerts: u32,
    /// Of those, the ones followed up: a person the alert names was first
    /// contacted on a handoff at or after the alert.
    pub followed_up: u32,
    /// Distinct people its alerts in the period named.
    pub people: u32,
    /// The handoffs in the period of the account's leads.
    pub figures: Figures,
}

/// The accounts part of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accounts {
    /// Accounts with an alert in the period: passed to sales.
    pub passed: u32,
    /// Account alerts in the period.
    pub alerts: u32,
    /// Of those, followed up (see [`AccountRow::followed_up`]).
    pub followed_up: u32,
    /// One row per account with an alert or a handoff in the period: most
    /// alerts first, then most leads passed, then by key.
    pub rows: Vec<AccountRow>,
}

impl ReportInput {
    /// Adds an account alert, and learns the accounts of the people it names.
    pub fn add_account_alert(&mut self, alert: AccountAlert) {
        for p in &alert.people {
            self.lead_accounts
                .insert(p.lead_id.clone(), alert.account.clone());
        }
        self.account_alerts.push(alert);
    }

    /// Learns the accounts of the people an account score record names.
    pub fn add_account_score(&mut self, score: &AccountScore) {
        for p in &score.people {
            self.lead_accounts
                .insert(p.lead_id.clone(), score.account.clone());
        }
    }
}

impl Accounts {
    /// The account figures of the judged handoffs of `period`.
    pub(super) fn new(input: &ReportInput, period: Period, judged: &[Handoff<'_>]) -> Accounts {
        let mut figures: BTreeMap<&AccountKey, Figures> = BTreeMap::new();
        for h in judged {
            if let Some(account) = input.lead_accounts.get(&h.record.lead_id) {
                figures.entry(account).or_default().add(h);
            }
        }
        // The earliest first contact of each lead, over its handoffs.
        let mut contacted: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for r in input.handoffs.values() {
            if let Some(t) = r.handoff.first_contact_at {
                contacted.entry(r.lead_id.as_str()).or_default().push(t);
            }
        }
        #[derive(Default)]
        struct Alerted<'a> {
            alerts: u32,
            followed_up: u32,
            people: BTreeSet<&'a str>,
        }
        let mut alerted: BTreeMap<&AccountKey, Alerted<'_>> = BTreeMap::new();
        for a in input
            .account_alerts
            .iter()
            .filter(|a| period.contains(a.crossed_at))
        {
            let e = alerted.entry(&a.account).or_default();
            e.alerts += 1;
            let followed = a.people.iter().any(|p| {
                contacted
                    .get(p.lead_id.as_str())
                    .is_some_and(|ts| ts.iter().any(|&t| t >= a.crossed_at))
            });
            e.followed_up += u32::from(followed);
            e.people.extend(a.people.iter().map(|p| p.lead_id.as_str()));
        }
        let keys: BTreeSet<&AccountKey> = figures.keys().chain(alerted.keys()).copied().collect();
        let mut rows: Vec<AccountRow> = keys
            .into_iter()
            .map(|k| {
                let a = alerted.remove(k).unwrap_or_default();
                AccountRow {
                    account: k.to_string(),
                    alerts: a.alerts,
                    followed_up: a.followed_up,
                    people: a.people.len() as u32,
                    figures: figures.remove(k).unwrap_or_default(),
                }
            })
            .collect();
        rows.sort_by(|x, y| {
            (y.alerts, y.figures.passed)
                .cmp(&(x.alerts, x.figures.passed))
                .then_with(|| x.account.cmp(&y.account))
        });
        Accounts {
            passed: rows.iter().filter(|r| r.alerts > 0).count() as u32,
            alerts: rows.iter().map(|r| r.alerts).sum(),
            followed_up: rows.iter().map(|r| r.followed_up).sum(),
            rows,
        }
    }
}
