//! Accounts: the `[account]` section, account keys, and account scores
//! and alerts from lead contributions.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::account::{PersonShare, MAX_SHOWN_PEOPLE};
use super::tests::{event, view};
use super::*;

const H: Millis = HOUR_MS;
const D: Millis = DAY_MS;
/// 2026-11-02T09:00:00Z.
const T0: Millis = 1_793_610_000_000;

/// Lead alerts at 50; an account at 130 of fit + summed engagement.
const LEADS: &str = r#"
version = "acct-1"

[fit.grades]
A = 40
B = 20
C = 10

[[fit.rule]]
id = "senior"
attribute = "job_title"
matches = '(?i)\b(vp|cto)\b'
points = 25

[engagement.groups.intent]
half_life_days = 14

[[engagement.rule]]
id = "pricing"
label = "Viewed pricing"
group = "intent"
event = "page_view"
url = "*/pricing*"
points = 10

[[engagement.rule]]
id = "webinar"
label = "Attended a webinar"
event = "webinar_attended"
points = 15
once = true

[qualify]
score_at_least = 50
"#;

const ACCOUNT: &str = r#"
[account]
score_at_least = 130
half_life_days = 14
engaged_above = 5

[[account.fit.rule]]
id = "acct-software"
label = "Software company"
attribute = "industry"
equals = "software"
points = 20
"#;

/// [`ACCOUNT`] with `lines` added to its `[account]` table.
fn account_with(lines: &str) -> String {
    ACCOUNT.replacen("[account]\n", &format!("[account]\n{lines}"), 1)
}

fn model(account: &str) -> Arc<Model> {
    Arc::new(Model::from_toml("m.toml", &format!("{LEADS}{account}")).unwrap())
}

fn err(account: &str) -> String {
    Model::from_toml("m.toml", &format!("{LEADS}{account}"))
        .unwrap_err()
        .to_string()
}

/// `m.toml:LINE:COL` of the first `needle` in the account part, or of
/// its value when it reads `key = value`.
fn at(account: &str, needle: &str) -> String {
    let text = format!("{LEADS}{account}");
    let value = needle.find("= ").map_or(0, |k| k + 2);
    let i = LEADS.len() + account.find(needle).expect("needle in the section") + value;
    let before = &text[..i];
    let line = before.matches('\n').count() + 1;
    let col = i - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("m.toml:{line}:{col}")
}

fn profile(pairs: &[(&str, &str)]) -> EventKind {
    EventKind::ProfileUpdate {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn webinar() -> EventKind {
    EventKind::WebinarAttended {
        webinar_id: "w-1".into(),
    }
}

/// What happened to the account when person `i` (email at `domain`)
/// updates their profile, views pricing and attends a webinar, an hour
/// after person `i - 1`: every lead score becomes a contribution, as the
/// service would route it. Returns the lead alerts and account alerts.
struct Run {
    scorer: Scorer,
    accounts: AccountScorer,
    leads: BTreeMap<String, LeadState>,
    states: BTreeMap<AccountKey, AccountState>,
    lead_alerts: usize,
    alerts: Vec<AccountAlert>,
    n: u32,
}

impl Run {
    fn new(m: Arc<Model>) -> Run {
        Run {
            scorer: Scorer::new(m.clone()),
            accounts: AccountScorer::new(m).expect("the model has [account]"),
            leads: BTreeMap::new(),
            states: BTreeMap::new(),
            lead_alerts: 0,
            alerts: Vec::new(),
            n: 0,
        }
    }

    fn step(&mut self, lead: &str, at: Millis, kind: EventKind) {
        self.n += 1;
        let e = event(self.n, lead, at, kind);
        let state = self.leads.entry(lead.to_owned()).or_default();
        let scored = self.scorer.apply(state, &e);
        self.lead_alerts += usize::from(scored.alert.is_some());
        let Some(key) = self.accounts.key_of(&state.attributes) else {
            return;
        };
        let score = self.scorer.score_of(lead, state);
        let c = LeadContribution::of(key.clone(), &score, state, self.accounts.rules());
        let account = self.states.entry(key).or_default();
        let out = self.accounts.apply(account, &c);
        self.alerts.extend(out.alert);
    }

    fn person(&mut self, i: u32, domain: &str) {
        let lead = format!("L-{i}");
        let at = T0 + Millis::from(i) * H;
        let email = format!("p{i}@{domain}");
        let name = format!("Person {i}");
        self.step(
            &lead,
            at,
            profile(&[
                ("email", &email),
                ("name", &name),
                ("job_title", "Engineer"),
                ("industry", "software"),
            ]),
        );
        self.step(&lead, at + 60_000, view("https://x.io/pricing"));
        self.step(&lead, at + 120_000, webinar());
    }
}

#[test]
fn five_people_under_the_lead_threshold_make_one_account_alert() {
    let mut run = Run::new(model(ACCOUNT));
    for i in 1..=5 {
        run.person(i, "acme.com");
    }
    assert_eq!(run.lead_alerts, 0, "each person alone stays under 50");
    assert_eq!(run.alerts.len(), 1, "{:#?}", run.alerts);
    let a = &run.alerts[0];
    assert_eq!(a.account, AccountKey::Domain("acme.com".into()));
    assert_eq!(a.trigger, AccountTrigger::Score);
    assert_eq!(a.lead_id, "L-5", "the fifth person tipped it");
    assert_eq!(a.crossed_at, T0 + 5 * H + 120_000);
    assert_eq!(a.breadth, 5);
    assert_eq!(a.fit, 20.0);
    assert!(a.score >= 130.0 && a.score < 145.0, "{}", a.score);
    let mut named: Vec<&str> = a.people.iter().map(|p| p.lead_id.as_str()).collect();
    named.sort();
    assert_eq!(named, ["L-1", "L-2", "L-3", "L-4", "L-5"]);
    for p in &a.people {
        let rules: Vec<&str> = p.reasons.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(rules, ["webinar", "pricing"], "{p:?}");
        assert!(p.in_breadth && p.engaged_at.is_some());
        assert!(p.contact.name.as_deref().unwrap().starts_with("Person "));
    }
    assert_eq!(
        a.people[0].lead_id, "L-5",
        "the most engaged (least decayed) first"
    );
    assert_eq!(a.fit_reasons[0].rule_id, "acct-software");
    // The id is the account's and its crossing count's, nothing else.
    let mut again = Run::new(model(ACCOUNT));
    for i in [3, 1, 2, 5, 4] {
        again.person(i, "acme.com");
    }
    assert_eq!(again.alerts.len(), 1);
    assert_eq!(again.alerts[0].alert_id, a.alert_id);
    assert_eq!(a.alert_id.len(), 32);
    // Event time decides, not arrival: the fourth person came last, yet
    // the alert is the one the people in their own order raised, naming
    // the latest of them.
    assert_eq!(again.alerts[0], *a);
}

#[test]
fn free_mail_users_form_no_account() {
    let mut run = Run::new(model(ACCOUNT));
    for (i, d) in (1..).zip([
        "gmail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "icloud.com",
    ]) {
        run.person(i, d);
    }
    assert!(run.states.is_empty() && run.alerts.is_empty());
    let mut run = Run::new(model(ACCOUNT));
    for i in 1..=5 {
        run.person(i, "gmail.com");
    }
    assert!(run.states.is_empty() && run.alerts.is_empty());
}

#[test]
fn a_lead_belongs_to_its_account_id_then_its_domain_never_free_mail() {
    let m = model(ACCOUNT);
    let r = m.account.as_ref().unwrap();
    let key = |pairs: &[(&str, &str)]| account_key(&pairs.iter().copied().collect(), r);
    assert_eq!(
        key(&[("account_id", " 001X "), ("company_domain", "acme.com")]),
        Some(AccountKey::Id("001X".into()))
    );
    assert_eq!(
        key(&[
            ("company_domain", "https://WWW.Acme.com/about"),
            ("email", "a@b.io")
        ]),
        Some(AccountKey::Domain("acme.com".into()))
    );
    // A free-mail company domain falls back to the email's domain.
    assert_eq!(
        key(&[("company_domain", "gmail.com"), ("email", "ana@Initech.io")]),
        Some(AccountKey::Domain("initech.io".into()))
    );
    assert_eq!(
        key(&[("email_domain", "mail.yahoo.com")]),
        None,
        "under a free-mail domain"
    );
    assert_eq!(key(&[("email", "ana@gmx.de")]), None);
    assert_eq!(key(&[("company_domain", "n/a")]), None, "not a domain");
    assert_eq!(key(&[("job_title", "CTO")]), None);
    for k in [
        AccountKey::Id("a:b".into()),
        AccountKey::Domain("acme.com".into()),
    ] {
        assert_eq!(AccountKey::parse(&k.to_string()), Some(k));
    }
    assert_eq!(AccountKey::parse("acme.com"), None);
}

#[test]
fn the_free_mail_list_can_be_replaced_or_extended() {
    let m = model(&account_with(
        "extra_free_mail_domains = [\"example.org\"]\n",
    ));
    let r = m.account.as_ref().unwrap();
    assert!(r.is_free_mail("example.org") && r.is_free_mail("gmail.com"));
    let m = model(&account_with("free_mail_domains = [\"example.org\"]\n"));
    let r = m.account.as_ref().unwrap();
    assert!(r.is_free_mail("example.org") && !r.is_free_mail("gmail.com"));
    let both = account_with("free_mail_domains = []\nextra_free_mail_domains = [\"y.org\"]\n");
    let e = err(&both);
    let want = format!("{}: give either", at(&both, "extra_free_mail_domains = "));
    assert!(e.starts_with(&want) && e.contains("not both"), "{e}");
    let bad = account_with("extra_free_mail_domains = [\"@corp\", \"Gmail.COM\"]\n");
    let e = err(&bad);
    assert!(
        e.contains(&format!(
            "{}: `extra_free_mail_domains` lists `@corp`, which is not a domain",
            at(&bad, "\"@corp\"")
        )),
        "{e}"
    );
    assert!(e.contains("write the domain as `gmail.com`"), "{e}");
}

fn contribution(lead: &str, at: Millis, engagement: f64) -> LeadContribution {
    LeadContribution {
        account: AccountKey::Domain("acme.com".into()),
        lead_id: lead.into(),
        engagement,
        reasons: vec![AccountReason {
            rule_id: "pricing".into(),
            label: "Viewed pricing".into(),
            points: engagement,
            last_seen: at,
        }],
        contact: Contact::default(),
        attributes: Attributes::default(),
        at,
    }
}

fn accounts(section: &str) -> AccountScorer {
    AccountScorer::new(model(section)).unwrap()
}

#[test]
fn a_re_sent_contribution_counts_its_person_once() {
    let s = accounts("[account]\nbreadth_at_least = 3\n");
    let mut state = AccountState::default();
    let c = contribution("L-1", T0, 30.0);
    assert!(s.apply(&mut state, &c).changed);
    for _ in 0..5 {
        let out = s.apply(&mut state, &c);
        assert!(!out.changed && out.alert.is_none());
        assert_eq!(out.score.breadth, 1);
    }
    // A later contribution of the same person replaces the earlier one.
    let out = s.apply(&mut state, &contribution("L-1", T0 + H, 40.0));
    assert_eq!((out.score.breadth, out.score.engagement), (1, 40.0));
    // A late one (dated before) changes nothing it describes.
    let out = s.apply(&mut state, &contribution("L-1", T0 + 30 * 60_000, 90.0));
    assert_eq!(out.score.engagement, 40.0);
    assert!(!out.changed);
    s.apply(&mut state, &contribution("L-2", T0 + 2 * H, 10.0));
    let out = s.apply(&mut state, &contribution("L-3", T0 + 3 * H, 10.0));
    let a = out.alert.expect("three distinct people");
    assert_eq!((a.trigger, a.breadth), (AccountTrigger::Breadth, 3));
    assert_eq!(state.people.len(), 3);
}

#[test]
fn breadth_counts_people_engaged_within_the_window_exactly() {
    // 0.5 days is exactly 12 hours from each engaged contribution.
    let s =
        accounts("[account]\nbreadth_at_least = 3\nbreadth_window_days = 0.5\nengaged_above = 5\n");
    let mut state = AccountState::default();
    s.apply(&mut state, &contribution("A", T0, 10.0));
    let out = s.apply(&mut state, &contribution("B", T0 + 12 * H - 1, 10.0));
    assert_eq!(out.score.breadth, 2);
    // At exactly 12 hours A is out: B and C count, not three.
    let out = s.apply(&mut state, &contribution("C", T0 + 12 * H, 10.0));
    assert_eq!(out.score.breadth, 2);
    assert!(out.alert.is_none());
    let shown: Vec<(&str, bool)> = out
        .score
        .people
        .iter()
        .map(|p| (p.lead_id.as_str(), p.in_breadth))
        .collect();
    assert_eq!(shown, [("A", false), ("B", true), ("C", true)]);
    // Engagement at or below `engaged_above` does not count.
    let out = s.apply(&mut state, &contribution("D", T0 + 12 * H, 5.0));
    assert_eq!(out.score.breadth, 2);
    let out = s.apply(&mut state, &contribution("E", T0 + 12 * H, 5.01));
    assert_eq!(out.score.breadth, 3);
    assert_eq!(out.alert.map(|a| a.trigger), Some(AccountTrigger::Breadth));
}

#[test]
fn an_account_re_arms_after_falling_below_and_alerts_again() {
    let s = accounts("[account]\nscore_at_least = 100\nrearm_below = 60\nhalf_life_days = 1\n");
    let mut state = AccountState::default();
    s.apply(&mut state, &contribution("A", T0, 60.0));
    let first = s
        .apply(&mut state, &contribution("B", T0, 60.0))
        .alert
        .unwrap();
    // Still above 60 (and above 100): no second alert.
    let out = s.apply(&mut state, &contribution("C", T0 + H, 1.0));
    assert!(out.alert.is_none() && out.score.alerted);
    // Two days on, A and B have decayed to 15 each: below 60, re-armed.
    let out = s.apply(&mut state, &contribution("C", T0 + 2 * D, 20.0));
    assert!(out.alert.is_none() && !out.score.alerted && out.changed);
    assert_eq!(out.score.engagement, 50.0);
    let second = s
        .apply(&mut state, &contribution("D", T0 + 2 * D, 80.0))
        .alert
        .unwrap();
    assert_ne!(first.alert_id, second.alert_id);
    assert_eq!(state.alerts, 2);
    assert_eq!(second.crossed_at, T0 + 2 * D);
}

#[test]
fn without_rearm_below_an_account_re_arms_below_the_threshold_or_after_the_cooldown() {
    let s = accounts("[account]\nscore_at_least = 100\ncooldown_days = 7\n");
    let mut state = AccountState::default();
    assert!(s
        .apply(&mut state, &contribution("A", T0, 120.0))
        .alert
        .is_some());
    assert!(s
        .apply(&mut state, &contribution("A", T0 + D, 110.0))
        .alert
        .is_none());
    // Seven days after the alert the cooldown re-arms it, while still hot.
    let out = s.apply(&mut state, &contribution("A", T0 + 7 * D, 105.0));
    assert_eq!(out.alert.map(|a| a.crossed_at), Some(T0 + 7 * D));
    let out = s.apply(&mut state, &contribution("A", T0 + 8 * D, 99.0));
    assert!(!out.score.alerted);
    assert!(s
        .apply(&mut state, &contribution("A", T0 + 9 * D, 100.0))
        .alert
        .is_some());
}

#[test]
fn max_takes_the_most_engaged_person_and_negatives_never_decay() {
    let s = accounts("[account]\nscore_at_least = 100\nengagement = \"max\"\nhalf_life_days = 1\n");
    let mut state = AccountState::default();
    s.apply(&mut state, &contribution("A", T0, 40.0));
    let out = s.apply(&mut state, &contribution("B", T0, 30.0));
    assert_eq!(out.score.engagement, 40.0);
    let s = accounts("[account]\nscore_at_least = 100\nhalf_life_days = 1\n");
    let mut state = AccountState::default();
    s.apply(&mut state, &contribution("A", T0, -10.0));
    let out = s.apply(&mut state, &contribution("B", T0 + D, 20.0));
    assert_eq!(out.score.engagement, 10.0, "-10 stays, 20 is fresh");
}

#[test]
fn an_account_keeps_at_most_max_people_forgetting_the_oldest() {
    let s = accounts("[account]\nbreadth_at_least = 3\nmax_people = 3\n");
    let mut state = AccountState::default();
    for (i, lead) in ["A", "B", "C", "D"].into_iter().enumerate() {
        s.apply(&mut state, &contribution(lead, T0 + i as Millis * H, 10.0));
    }
    let kept: Vec<&str> = state.people.keys().map(String::as_str).collect();
    assert_eq!(kept, ["B", "C", "D"]);
    // Older than everyone kept: forgotten at once.
    assert!(!s.apply(&mut state, &contribution("E", T0, 10.0)).changed);
    assert_eq!(state.people.len(), 3);
}

#[test]
fn a_contribution_that_is_not_a_bounded_number_changes_nothing() {
    let s = accounts("[account]\nscore_at_least = 100\n");
    let mut state = AccountState::default();
    for bad in [f64::NAN, f64::INFINITY, -1e300, 1.1e15] {
        let out = s.apply(&mut state, &contribution("A", T0, bad));
        assert!(!out.changed && state.people.is_empty());
        assert_eq!(out.score.score, 0.0);
    }
}

#[test]
fn a_model_without_account_has_no_account_scorer() {
    let m = Arc::new(Model::from_toml("m.toml", LEADS).unwrap());
    assert!(m.account.is_none());
    assert!(AccountScorer::new(m).is_none());
}

#[test]
fn target_accounts_are_fit_rules_on_the_account_attribute() {
    let s = accounts(
        "[account]\nscore_at_least = 50\n\n[[account.fit.rule]]\nid = \"targets\"\nattribute = \"account\"\nin = [\"acme.com\", \"001X\"]\npoints = 50\n",
    );
    let mut state = AccountState::default();
    let out = s.apply(&mut state, &contribution("A", T0, 0.0));
    assert_eq!(out.score.fit, 50.0);
    assert_eq!(out.alert.map(|a| a.trigger), Some(AccountTrigger::Score));
    assert_eq!(
        s.rules().attributes_read().len(),
        0,
        "`account` is the key, not a lead attribute"
    );
}

#[test]
fn bad_account_sections_are_refused_where_they_are() {
    let text = "[account]\nhalf_life_days = 14\n";
    let e = err(text);
    let want = format!("{}: [account] needs a threshold", at(text, "[account]"));
    assert!(e.starts_with(&want), "{e}");
    for (text, needle, says) in [
        (
            "[account]\nbreadth_at_least = 2.5\n",
            "breadth_at_least = 2.5",
            "`breadth_at_least` must be a whole number from 1 to 1000, not 2.5",
        ),
        (
            "[account]\nscore_at_least = nan\n",
            "score_at_least = nan",
            "`score_at_least` must be a number above 0 and at most 1000000, not NaN",
        ),
        (
            "[account]\nscore_at_least = 1e300\n",
            "score_at_least = 1e300",
            "not 1e300",
        ),
        (
            "[account]\nscore_at_least = 10\nhalf_life_days = 1e12\n",
            "half_life_days = 1e12",
            "`half_life_days` must be a number of days from 0.001 to 3650, not 1e12",
        ),
        (
            "[account]\nscore_at_least = 10\nbreadth_window_days = inf\n",
            "breadth_window_days = inf",
            "`breadth_window_days` must be a number of days from 0.001 to 3650, not inf",
        ),
        (
            "[account]\nscore_at_least = 10\ncooldown_days = 0\n",
            "cooldown_days = 0",
            "`cooldown_days` must be",
        ),
        (
            "[account]\nscore_at_least = 10\nengaged_above = -1\n",
            "engaged_above = -1",
            "`engaged_above` must be a number from 0 to 1000000, not -1",
        ),
        (
            "[account]\nscore_at_least = 10\nmax_people = 0\n",
            "max_people = 0",
            "`max_people` must be a whole number from 1 to 1000, not 0",
        ),
        (
            "[account]\nscore_at_least = 10\nrearm_below = 10\n",
            "rearm_below = 10",
            "`rearm_below` (10) must be below `score_at_least` (10)",
        ),
        (
            "[account]\nbreadth_at_least = 3\nrearm_below = 1\n",
            "rearm_below = 1",
            "`rearm_below` needs `score_at_least`",
        ),
        (
            "[account]\nbreadth_at_least = 30\nmax_people = 20\n",
            "breadth_at_least = 30",
            "`breadth_at_least` (30) can never be reached",
        ),
    ] {
        let e = err(text);
        let want = format!("{}: ", at(text, needle));
        assert!(
            e.starts_with(&want) && e.contains(says),
            "{text}: want {want}… {says}\n got {e}"
        );
    }
    // Shapes TOML refuses are named with their line too.
    for (text, says) in [
        (
            "[account]\nscore_at_least = 10\nbreadth_window = 14\n",
            "breadth_window",
        ),
        (
            "[account]\nscore_at_least = 10\nengagement = \"avg\"\n",
            "avg",
        ),
    ] {
        let e = err(text);
        let line = LEADS.matches('\n').count() + 3;
        assert!(
            e.contains(says) && e.contains(&format!("line {line}")),
            "{e}"
        );
    }
    // Account fit rules share the model's ids and conditions.
    let dup = "[account]\nscore_at_least = 10\n[[account.fit.rule]]\nid = \"senior\"\nattribute = \"industry\"\nequals = \"x\"\npoints = 5\n";
    assert!(
        err(dup).contains("id `senior` is used twice"),
        "{}",
        err(dup)
    );
    let bad = "[account]\nscore_at_least = 10\n[[account.fit.rule]]\nid = \"size\"\nattribute = \"employees\"\nat_least = nan\npoints = 5\n";
    let e = err(bad);
    assert!(
        e.starts_with(&format!("{}: `at_least`", at(bad, "at_least = nan"))),
        "{e}"
    );
}

/// The example `[account]` in docs/model.md loads, with its stated values.
#[test]
fn the_account_example_in_docs_model_md_loads() {
    let docs = include_str!("../../../docs/model.md");
    let section = &docs[docs.find("\n## Accounts").expect("an Accounts section")..];
    let block = section.split("```toml\n").nth(1).expect("a toml block");
    let block = &block[..block.find("```").unwrap()];
    let m = model(block);
    let a = m.account.as_ref().unwrap();
    assert_eq!(a.breadth_window, 14 * D);
    assert_eq!(a.aggregate, Aggregate::Sum);
    assert!(a.breadth_at_least.is_some() && a.score_at_least.is_some());
    assert!(a.is_free_mail("gmail.com") && a.is_free_mail("mailbox.example"));
    let s = m.summary();
    for line in [
        "Accounts (not yet scored by `leadpulse run`): a lead belongs to its account_id, else its company or email domain, never one of 36 free-mail domains.",
        "An account alerts when its score (fit + the sum of its people's engagement, halving every 14 days) reaches 120, or when 3 people were engaged (engagement above 10) within 14 days.",
        "After an alert it alerts again only once its score is below 80 and fewer than 3 people are engaged, or once 30 days pass; it keeps at most 100 people.",
        "Named target account",
    ] {
        assert!(s.contains(line), "{s}");
    }
    // Its worked example.
    let mut run = Run::new(m.clone());
    for i in 1..=5 {
        run.person(i, "initech.io");
    }
    assert_eq!(run.lead_alerts, 0);
    assert_eq!(run.alerts.len(), 1, "{:#?}", run.alerts);
    let alert = &run.alerts[0];
    assert_eq!(alert.trigger, AccountTrigger::Breadth);
    assert_eq!((alert.lead_id.as_str(), alert.breadth), ("L-3", 3));
    assert_eq!(alert.people.len(), 3);
    assert!((alert.score - 95.0).abs() < 0.5, "{}", alert.score);
    assert!(alert
        .people
        .iter()
        .all(|p| (24.8..=25.0).contains(&p.engagement) && p.reasons.len() == 2));
    let acme = AccountKey::Domain("initech.io".into());
    let last = run.accounts.score_of(&acme, &run.states[&acme]);
    assert!((last.score - 145.0).abs() < 1.0 && last.alerted, "{last:?}");
    let mut run = Run::new(m);
    for (i, d) in (1..).zip(["gmail.com", "yahoo.com", "gmx.de", "qq.com", "proton.me"]) {
        run.person(i, d);
    }
    assert!(run.alerts.is_empty() && run.states.is_empty());
}

/// The oracle: each person's latest contribution (by time, then
/// engagement), decayed to the latest time; breadth by brute force.
fn oracle(cs: &[(u8, Millis, f64)], half_life: Millis, window: Millis) -> (f64, u32) {
    let t = cs.iter().map(|c| c.1).max().unwrap_or(0);
    let mut latest: BTreeMap<u8, (Millis, f64)> = BTreeMap::new();
    let mut engaged: BTreeMap<u8, Millis> = BTreeMap::new();
    for &(lead, at, e) in cs {
        let l = latest.entry(lead).or_insert((at, e));
        if (at, e) > *l {
            *l = (at, e);
        }
        if e > 0.0 {
            let g = engaged.entry(lead).or_insert(at);
            *g = (*g).max(at);
        }
    }
    let sum = latest
        .values()
        .map(|&(at, e)| e * 0.5f64.powf((t - at) as f64 / half_life as f64))
        .sum();
    let breadth = engaged.values().filter(|&&at| at + window > t).count() as u32;
    (sum, breadth)
}

fn feed(s: &AccountScorer, cs: &[(u8, Millis, f64)]) -> (AccountState, Vec<AccountOutcome>) {
    let mut state = AccountState::default();
    let outs = cs
        .iter()
        .map(|&(lead, at, e)| s.apply(&mut state, &contribution(&format!("L-{lead}"), at, e)))
        .collect();
    (state, outs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// In any order, re-sent or not, an account ends with the same score
    /// and breadth, which are the oracle's; a re-sent contribution changes
    /// nothing; one alert per crossing.
    #[test]
    fn account_scores_follow_the_oracle_in_any_order(
        cs in prop::collection::vec((0u8..6, 0i64..(30 * 24), 0u32..80), 1..40)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
    ) {
        let s = accounts("[account]\nscore_at_least = 120\nbreadth_at_least = 4\nhalf_life_days = 7\nbreadth_window_days = 3.5\nmax_people = 6\n");
        let to = |v: &[(u8, i64, u32)]| -> Vec<(u8, Millis, f64)> {
            v.iter().map(|&(l, h, e)| (l, T0 + h * H, f64::from(e) / 2.0)).collect()
        };
        let (a, b) = (to(&cs.0), to(&cs.1));
        let (sa, outs) = feed(&s, &a);
        let (sb, _) = feed(&s, &b);
        let key = AccountKey::Domain("acme.com".into());
        let (ra, rb) = (s.score_of(&key, &sa), s.score_of(&key, &sb));
        prop_assert_eq!((ra.score, ra.breadth, &ra.people), (rb.score, rb.breadth, &rb.people));
        let (sum, breadth) = oracle(&a, 7 * D, 84 * H);
        prop_assert!((ra.engagement - sum).abs() < 0.011, "{} vs {}", ra.engagement, sum);
        prop_assert_eq!(ra.breadth, breadth);
        prop_assert!(ra.breadth as usize <= sa.people.len() && sa.people.len() <= 6);
        // Re-sent: nothing changes.
        let mut again = sa.clone();
        for &(lead, at, e) in &a {
            let out = s.apply(&mut again, &contribution(&format!("L-{lead}"), at, e));
            prop_assert!(!out.changed && out.alert.is_none());
        }
        prop_assert_eq!(&again, &sa);
        // Alerts: as many as the state counts, each after a re-arm.
        let alerts = outs.iter().filter(|o| o.alert.is_some()).count() as u32;
        prop_assert_eq!(alerts, sa.alerts);
        let mut armed = true;
        for o in &outs {
            if o.alert.is_some() {
                prop_assert!(armed, "an alert while alerted");
            }
            armed = !o.score.alerted;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However many people engage, an account keeps at most `max_people`,
    /// shows at most [`MAX_SHOWN_PEOPLE`], and its breadth never exceeds
    /// the people it keeps; scores stay finite.
    #[test]
    fn an_account_s_people_are_bounded(
        cs in prop::collection::vec((0u16..40, 0i64..(60 * 24), -20i32..200), 1..120),
    ) {
        let s = accounts("[account]\nbreadth_at_least = 4\nmax_people = 20\nhalf_life_days = 3\n");
        let mut state = AccountState::default();
        for &(lead, h, e) in &cs {
            let c = contribution(&format!("L-{lead}"), T0 + h * H, f64::from(e));
            let out = s.apply(&mut state, &c);
            prop_assert!(state.people.len() <= 20);
            prop_assert!(out.score.breadth as usize <= state.people.len());
            prop_assert!(out.score.people.len() <= MAX_SHOWN_PEOPLE);
            prop_assert!(out.score.score.is_finite());
            let shown: Vec<&PersonShare> = out.score.people.iter().collect();
            prop_assert!(shown.windows(2).all(|w| w[0].engagement >= w[1].engagement));
        }
    }
}
