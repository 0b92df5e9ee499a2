use super::*;
use crate::core::Contact;
use crate::core::Handoff as CoreHandoff;

const T0: Millis = 1_790_000_000_000;
const MIN: Millis = 60_000;

fn record(alert: &str, team: &str, rep: &str, handed_min: i64) -> HandoffRecord {
    let handed_at = T0 + handed_min * MIN;
    HandoffRecord {
        lead_id: format!("L-{alert}"),
        stage: Some(Stage::Mql),
        handoff: CoreHandoff {
            alert_id: alert.to_owned(),
            team: team.to_owned(),
            rep: rep.to_owned(),
            via: "territory".into(),
            handed_at,
            respond_by: handed_at + 60 * MIN,
            feedback_by: handed_at + 3 * 1440 * MIN,
            qualified_by: "demo-request".into(),
            grade: "A".into(),
            score: 80.0,
            ..CoreHandoff::default()
        },
    }
}

fn contacted(mut r: HandoffRecord, after_min: i64) -> HandoffRecord {
    let h = &mut r.handoff;
    h.first_contact_at = Some(h.handed_at + after_min * MIN);
    h.sla = if h.first_contact_at.unwrap() < h.respond_by {
        SlaStatus::Met
    } else {
        SlaStatus::Breached
    };
    r
}

fn feedback(mut r: HandoffRecord, kind: &str, reason: Option<&str>) -> HandoffRecord {
    let at = r.handoff.handed_at + 120 * MIN;
    r.handoff.feedback = Some((kind.to_owned(), at, reason.map(str::to_owned)));
    if kind == "rejected" && r.handoff.sla == SlaStatus::Open {
        r.handoff.sla = SlaStatus::Closed;
    }
    r
}

fn stage(alert: &str, to: Stage, at: Millis) -> StageChange {
    StageChange {
        lead_id: format!("L-{alert}"),
        from: None,
        to,
        at,
        cause: crate::core::StageCause::Alert,
        alert_id: Some(alert.to_owned()),
        team: None,
        rep: None,
        reason: None,
    }
}

fn breach(r: &HandoffRecord, rep: &str, n: u32) -> SlaBreach {
    SlaBreach {
        breach_id: format!("{}-{n}", r.handoff.alert_id),
        lead_id: r.lead_id.clone(),
        alert_id: r.handoff.alert_id.clone(),
        team: r.handoff.team.clone(),
        rep: rep.to_owned(),
        escalate_to: "lead".into(),
        respond_by: r.handoff.respond_by + i64::from(n - 1) * 60 * MIN,
        breach_number: n,
        reassigned_to: None,
        new_respond_by: None,
        contact: Contact::default(),
    }
}

/// A varied set: met, late, never contacted, rejected before contact,
/// rejected after contact, won and lost deals, two teams, an unrouted lead.
fn sample() -> ReportInput {
    let mut input = ReportInput::default();
    let recs = vec![
        feedback(
            contacted(record("a1", "east", "ana", 0), 12),
            "accepted",
            None,
        ),
        feedback(
            contacted(record("a2", "east", "ana", 30), 95),
            "rejected",
            Some("no budget"),
        ),
        contacted(record("a3", "east", "ben", 60), 44),
        record("a4", "east", "ben", 90),
        feedback(
            record("a5", "west", "cara", 100),
            "rejected",
            Some("student"),
        ),
        feedback(
            contacted(record("a6", "west", "cara", 200), 5),
            "accepted",
            None,
        ),
        feedback(
            contacted(record("a7", "west", "dan", 300), 59),
            "accepted",
            None,
        ),
        feedback(
            contacted(record("a8", "west", "dan", 400), 61),
            "rejected",
            Some("no budget"),
        ),
        record("a9", "", "", 500),
    ];
    for mut r in recs {
        match r.handoff.alert_id.as_str() {
            "a1" => r.handoff.won_amount = Some(12_500.0),
            "a6" => r.handoff.lost_reason = Some("price".into()),
            "a7" => {
                r.handoff.won_amount = Some(40_000.0);
                r.handoff.qualified_by = "pricing-page".into();
            }
            "a4" => r.handoff.feedback_overdue = true,
            _ => {}
        }
        input.add_handoff(r);
    }
    let at = |a: &str| input.handoffs[a].handoff.handed_at;
    let mut stages = vec![];
    for a in ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"] {
        stages.push(stage(a, Stage::Mql, at(a)));
    }
    for (a, to) in [
        ("a1", Stage::Sal),
        ("a1", Stage::Sql),
        ("a1", Stage::Opportunity),
        ("a1", Stage::Customer),
        ("a6", Stage::Sal),
        ("a6", Stage::Opportunity), // skipped SQL: still counts as reaching it
        ("a6", Stage::Recycled),
        ("a7", Stage::Customer),
        ("a8", Stage::Recycled),
    ] {
        stages.push(stage(a, to, at(a) + 1440 * MIN));
    }
    // A transition of a lead that was never handed over: ignored.
    stages.push(StageChange {
        alert_id: None,
        ..stage("zz", Stage::Lead, T0)
    });
    input.stages = stages;
    let b1 = breach(&input.handoffs["a4"], "ben", 1);
    let b2 = breach(&input.handoffs["a4"], "ana", 2);
    input.breaches = vec![b1, b2];
    input
}

/// The independent definition of each handoff's SLA outcome.
fn outcome(h: &CoreHandoff, as_of: Millis) -> &'static str {
    match h.sla {
        SlaStatus::Met => "met",
        SlaStatus::Breached => "breached",
        SlaStatus::Closed => "closed",
        SlaStatus::Open if h.respond_by <= as_of => "overdue",
        SlaStatus::Open => "pending",
    }
}

fn furthest(input: &ReportInput, alert: &str) -> usize {
    input
        .stages
        .iter()
        .filter(|c| c.alert_id.as_deref() == Some(alert))
        .filter_map(|c| FUNNEL.iter().position(|&s| s == c.to))
        .max()
        .unwrap_or(0)
}

fn expected(input: &ReportInput, keep: impl Fn(&HandoffRecord) -> bool) -> Figures {
    let as_of = input.latest_time().unwrap();
    let hs: Vec<&HandoffRecord> = input.handoffs.values().filter(|r| keep(r)).collect();
    let count = |o: &str| {
        hs.iter()
            .filter(|r| outcome(&r.handoff, as_of) == o)
            .count() as u32
    };
    let mut follow_up: Vec<Millis> = hs
        .iter()
        .filter_map(|r| r.handoff.first_contact_at.map(|t| t - r.handoff.handed_at))
        .collect();
    follow_up.sort_unstable();
    let mut funnel = [0; 5];
    for r in &hs {
        for (i, n) in funnel.iter_mut().enumerate() {
            *n += u32::from(furthest(input, &r.handoff.alert_id) >= i);
        }
    }
    let fb = |k: &str| {
        hs.iter()
            .filter(|r| r.handoff.feedback.as_ref().is_some_and(|f| f.0 == k))
            .count() as u32
    };
    let mut rejections = BTreeMap::new();
    let mut rules: BTreeMap<String, RuleOutcome> = BTreeMap::new();
    for r in &hs {
        if let Some((_, _, Some(reason))) = &r.handoff.feedback {
            *rejections.entry(reason.clone()).or_default() += 1;
        }
        let o = rules.entry(rule_name(&r.handoff.qualified_by)).or_default();
        o.passed += 1;
        if let Some(a) = r.handoff.won_amount {
            o.won += 1;
            o.won_amount += a;
        } else if r.handoff.lost_reason.is_some() {
            o.lost += 1;
        }
    }
    Figures {
        passed: hs.len() as u32,
        sla: SlaCounts {
            met: count("met"),
            breached: count("breached"),
            overdue_open: count("overdue"),
            pending: count("pending"),
            closed: count("closed"),
        },
        follow_up,
        funnel,
        accepted: fb("accepted"),
        rejected: fb("rejected"),
        awaiting_feedback: hs.iter().filter(|r| r.handoff.feedback.is_none()).count() as u32,
        feedback_overdue: hs.iter().filter(|r| r.handoff.feedback_overdue).count() as u32,
        rejections,
        won: rules.values().map(|o| o.won).sum(),
        won_amount: rules.values().map(|o| o.won_amount).sum(),
        lost: rules.values().map(|o| o.lost).sum(),
        rules,
        breaches: 0,
    }
}

fn without_breaches(f: &Figures) -> Figures {
    Figures {
        breaches: 0,
        ..f.clone()
    }
}

#[test]
fn overall_figures_follow_from_the_records() {
    let input = sample();
    let report = Report::new(&input, Period::default());
    let want = expected(&input, |_| true);
    assert_eq!(without_breaches(&report.overall), want);
    assert_eq!(report.overall.breaches as usize, input.breaches.len());
    assert_eq!(report.as_of, input.latest_time());
    let s = want.sla;
    assert_eq!(
        report.overall.sla.within(),
        Some(f64::from(s.met) / f64::from(s.met + s.breached + s.overdue_open))
    );
}

#[test]
fn each_outcome_kind_occurs_in_the_sample() {
    // Guards the other tests: the sample must exercise every branch.
    let input = sample();
    let s = Report::new(&input, Period::default()).overall.sla;
    assert!(s.met > 0 && s.breached > 0 && s.closed > 0 && s.overdue_open > 0);
    let mut later = input.clone();
    let last = later.latest_time().unwrap();
    later.add_handoff(record("late", "east", "ana", (last - T0) / MIN));
    let s = Report::new(&later, Period::default()).overall.sla;
    assert_eq!(s.pending, 1, "a deadline after the as-of time is pending");
}

#[test]
fn teams_and_reps_partition_the_overall_figures() {
    let input = sample();
    let report = Report::new(&input, Period::default());
    for g in report.teams.iter().chain(&report.reps) {
        let want = expected(&input, |r| {
            or_unrouted(&r.handoff.team) == g.team
                && g.rep
                    .as_ref()
                    .is_none_or(|rep| or_unrouted(&r.handoff.rep) == *rep)
        });
        assert_eq!(without_breaches(&g.figures), want, "{} {:?}", g.team, g.rep);
        let breaches = input
            .breaches
            .iter()
            .filter(|b| b.team == g.team && g.rep.as_ref().is_none_or(|r| *r == b.rep))
            .count();
        assert_eq!(
            g.figures.breaches as usize, breaches,
            "{} {:?}",
            g.team, g.rep
        );
    }
    let sum = |gs: &[Group], f: fn(&Figures) -> u32| gs.iter().map(|g| f(&g.figures)).sum::<u32>();
    for groups in [&report.teams, &report.reps] {
        assert_eq!(sum(groups, |f| f.passed), report.overall.passed);
        assert_eq!(sum(groups, |f| f.sla.met), report.overall.sla.met);
        assert_eq!(sum(groups, |f| f.breaches), report.overall.breaches);
        assert_eq!(sum(groups, |f| f.funnel[3]), report.overall.funnel[3]);
    }
    let teams: BTreeSet<&str> = input
        .handoffs
        .values()
        .map(|r| r.handoff.team.as_str())
        .collect();
    assert_eq!(report.teams.len(), teams.len());
    assert!(report.teams.iter().any(|g| g.team == UNROUTED));
}

#[test]
fn a_breach_counts_for_the_rep_who_missed_it() {
    let input = sample();
    let report = Report::new(&input, Period::default());
    let b = &input.breaches[1];
    let owner = &input.handoffs[&b.alert_id].handoff.rep;
    assert_ne!(&b.rep, owner, "the sample reassigns after the first breach");
    let rep = report
        .reps
        .iter()
        .find(|g| g.team == b.team && g.rep.as_deref() == Some(b.rep.as_str()))
        .unwrap();
    let missed = input.breaches.iter().filter(|x| x.rep == b.rep).count();
    assert_eq!(rep.figures.breaches as usize, missed);
}

#[test]
fn the_period_selects_by_handoff_time_since_inclusive_until_exclusive() {
    let input = sample();
    let times: Vec<Millis> = input
        .handoffs
        .values()
        .map(|r| r.handoff.handed_at)
        .collect();
    let (since, until) = (times[2], times[6]);
    let period = Period {
        since: Some(since),
        until: Some(until),
    };
    let report = Report::new(&input, period);
    let want = expected(&input, |r| {
        r.handoff.handed_at >= since && r.handoff.handed_at < until
    });
    assert_eq!(without_breaches(&report.overall), want);
    assert_eq!(
        report.span,
        Some((since, *times.iter().filter(|&&t| t < until).max().unwrap()))
    );
    let empty = Report::new(
        &input,
        Period {
            since: Some(until),
            until: Some(until),
        },
    );
    assert_eq!(empty.overall.passed, 0);
    assert_eq!(empty.overall.sla.within(), None);
    assert_eq!(empty.overall.median(), None);
    assert!(empty.teams.is_empty() && empty.reps.is_empty());
}

#[test]
fn the_latest_record_of_a_handoff_wins() {
    let mut input = ReportInput::default();
    let first = record("x", "east", "ana", 0);
    let later = contacted(first.clone(), 10);
    input.add_handoff(first);
    input.add_handoff(later.clone());
    assert_eq!(input.handoffs.len(), 1);
    assert_eq!(input.handoffs["x"], later);
    input.remove_handoff("x");
    assert!(input.handoffs.is_empty());
}

#[test]
fn percentiles_are_nearest_rank() {
    let samples: Vec<Vec<Millis>> = vec![
        vec![5],
        vec![1, 2],
        vec![3, 1, 2],
        vec![10, 40, 20, 30],
        (1..=10).map(|x| x * 7 % 11).collect(),
        (0..37).map(|x| (x * 13 % 37) * 1000).collect(),
    ];
    for mut v in samples {
        v.sort_unstable();
        for p in [50, 90, 100] {
            // The smallest value that at least p% of the values are at or under.
            let want = v
                .iter()
                .copied()
                .find(|&x| v.iter().filter(|&&y| y <= x).count() * 100 >= p as usize * v.len());
            assert_eq!(percentile(&v, p), want, "p{p} of {v:?}");
        }
    }
    assert_eq!(percentile(&[], 50), None);
}

#[test]
fn the_histogram_counts_every_follow_up_once() {
    let input = sample();
    let f = Report::new(&input, Period::default()).overall;
    let hist = f.follow_up_histogram();
    assert_eq!(hist.iter().sum::<u32>() as usize, f.follow_up.len());
    let bounds: Vec<Millis> = FOLLOW_UP_BUCKETS_MIN.iter().map(|m| m * MIN).collect();
    for (i, n) in hist.iter().enumerate() {
        let lo = if i == 0 { Millis::MIN } else { bounds[i - 1] };
        let hi = bounds.get(i).copied().unwrap_or(Millis::MAX);
        let want = f.follow_up.iter().filter(|&&t| t >= lo && t < hi).count();
        assert_eq!(*n as usize, want, "bucket {i}");
    }
}

#[test]
fn formats() {
    assert_eq!(fmt_duration(Some(42 * MIN + 29_000)), "42m");
    assert_eq!(fmt_duration(Some(65 * MIN)), "1h 05m");
    assert_eq!(
        fmt_duration(Some((2 * 1440 + 3 * 60 + 10) * MIN)),
        "2d 03h 10m"
    );
    assert_eq!(fmt_duration(None), "–");
    assert_eq!(fmt_amount(1_234_500.0), "1,234,500");
    assert_eq!(fmt_amount(99.5), "99.50");
    assert_eq!(fmt_amount(0.0), "0");
    assert_eq!(fmt_pct(Some(0.4213)), "42.1%");
    assert_eq!(fmt_pct(None), "–");
    assert_eq!(fmt_time(T0), "2026-09-21 14:13 UTC");
}

#[test]
fn markdown_shows_the_computed_figures() {
    let input = sample();
    let report = Report::new(&input, Period::default());
    let md = markdown::render(&report, &Currency::parse("eur").unwrap());
    let f = &report.overall;
    let row = |label: &str, value: String| format!("| {label} | {value} |");
    for line in [
        row("Leads passed to sales", f.passed.to_string()),
        row(
            "Contacted within SLA",
            format!(
                "{} ({} of {})",
                fmt_pct(f.sla.within()),
                f.sla.met,
                f.sla.judged()
            ),
        ),
        row("Median follow-up", fmt_duration(f.median())),
        row("p90 follow-up", fmt_duration(f.p90())),
        row("Won amount", format!("EUR {}", fmt_amount(f.won_amount))),
    ] {
        assert!(md.contains(&line), "missing {line:?} in\n{md}");
    }
    for (reason, n) in &f.rejections {
        assert!(md.contains(&format!("| {reason} | {n} |")), "{reason}");
    }
    for g in &report.reps {
        let rep = g.rep.as_deref().unwrap();
        assert!(
            md.contains(&format!("| {} | {rep} | {} |", g.team, g.figures.passed)),
            "{rep}"
        );
    }
}

#[test]
fn html_is_self_contained_and_escaped() {
    let mut input = sample();
    let mut r = record("evil", "<script>alert(1)</script>", "o'neil & co", 10);
    r.handoff.qualified_by = "\"quoted\"".into();
    input.add_handoff(r);
    let page = html::render(
        &Report::new(&input, Period::default()),
        &Currency::default(),
    );
    assert!(!page.contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("o&#39;neil &amp; co"));
    for external in ["http://", "https://", "src=", "@import", "url("] {
        assert!(!page.contains(external), "{external} in the page");
    }
    assert_eq!(page.matches("<svg").count(), 3);
    assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
}

#[test]
fn a_currency_is_a_three_letter_code_that_labels_amounts() {
    let eur = Currency::parse("eur").unwrap();
    assert_eq!(eur.code(), "EUR");
    assert_eq!(eur.amount(235_500.0), "EUR 235,500");
    assert_eq!(eur.column("won amount"), "won amount (EUR)");
    assert_eq!(Currency::default().code(), "USD");
    for bad in ["", "EU", "EURO", "€", "E1R", "ÉUR"] {
        let err = Currency::parse(bad).unwrap_err();
        assert!(
            err.contains("ISO 4217") && err.contains(&format!("{bad:?}")),
            "{err}"
        );
    }
}

#[test]
fn html_names_the_currency_and_aligns_text_left_and_figures_right() {
    let report = Report::new(&sample(), Period::default());
    let page = html::render(&report, &Currency::parse("EUR").unwrap());
    let f = &report.overall;
    assert!(page.contains(&format!(">EUR {}<", fmt_amount(f.won_amount))));
    assert!(page.contains(r#"<th class="num">won amount (EUR)</th>"#));
    // Every header is aligned as its column: text or figure.
    assert!(page.contains(
        r#"<th class="text">team</th><th class="text">rep</th><th class="num">passed</th>"#
    ));
    assert!(!page.contains("<th>") && !page.contains("<td>"));
    for rule in [
        ".charts { display: grid;",
        "th.text, td.text { text-align: left; }",
        "th.num, td.num { text-align: right; }",
        ".chart svg { display: block; width: 100%; height: auto; }",
    ] {
        assert!(page.contains(rule), "no {rule:?} in the style");
    }
}

fn alert(lead: &str, model: &str, at_min: i64) -> Alert {
    Alert {
        alert_id: format!("{model}-{lead}-{at_min}"),
        lead_id: lead.to_owned(),
        score: 80.0,
        fit: 30.0,
        engagement: 50.0,
        grade: crate::core::Grade::A,
        threshold: 70.0,
        qualification: "score ≥ 70".into(),
        crossed_at: T0 + at_min * MIN,
        respond_by: T0 + (at_min + 60) * MIN,
        model_version: model.into(),
        event_id: format!("e-{lead}"),
        reasons: Vec::new(),
        company_domain: None,
        account_id: None,
        owner_team: None,
        owner_rep: None,
        routed_via: None,
        contact: Contact::default(),
    }
}

#[test]
fn champion_and_challenger_compare_by_lead_in_the_period_and_only_with_a_challenger() {
    let mut input = ReportInput {
        alerts: vec![
            alert("L-1", "v1", 0),
            alert("L-2", "v1", 10),
            alert("L-2", "v1", 20),
            alert("L-9", "v1", -10),
        ],
        ..ReportInput::default()
    };
    let period = Period {
        since: Some(T0),
        until: None,
    };
    assert_eq!(
        Report::new(&input, period).shadow,
        None,
        "no challenger ran"
    );
    input.shadow_alerts = vec![
        alert("L-2", "v2", 5),
        alert("L-3", "v2", 6),
        alert("L-4", "v2", 7),
    ];
    let c = Report::new(&input, period)
        .shadow
        .expect("a challenger ran");
    assert_eq!(
        (c.champion.alerts, c.champion.leads),
        (3, 2),
        "L-9 is before"
    );
    assert_eq!((c.challenger.alerts, c.challenger.leads), (3, 3));
    assert_eq!(
        (c.champion.models.clone(), c.challenger.models.clone()),
        (vec!["v1".to_owned()], vec!["v2".to_owned()])
    );
    assert_eq!(c.both, 1);
    assert_eq!(c.champion_only, ["L-1"]);
    assert_eq!(c.challenger_only, ["L-3", "L-4"]);
    let text = markdown::render(
        &Report::new(&input, period),
        &Currency::parse("USD").unwrap(),
    );
    assert!(text.contains("## Champion and challenger"), "{text}");
    assert!(text.contains("only the challenger (2): L-3 L-4"), "{text}");
    let html = html::render(
        &Report::new(&input, period),
        &Currency::parse("USD").unwrap(),
    );
    assert!(html.contains(r#"<table id="shadow">"#), "{html}");
}

mod account_figures {
    use super::*;
    use crate::core::account::PersonShare;
    use crate::core::{AccountAlert, AccountKey, AccountTrigger};

    fn person(lead: &str) -> PersonShare {
        PersonShare {
            lead_id: lead.to_owned(),
            contact: Contact::default(),
            engagement: 20.0,
            engaged_at: Some(T0),
            in_breadth: true,
            reasons: Vec::new(),
        }
    }

    fn account_alert(domain: &str, n: u32, at_min: i64, people: &[&str]) -> AccountAlert {
        AccountAlert {
            alert_id: format!("{domain}-{n}"),
            account: AccountKey::Domain(domain.to_owned()),
            trigger: AccountTrigger::Breadth,
            score: 120.0,
            fit: 20.0,
            engagement: 100.0,
            breadth: people.len() as u32,
            threshold: Some(110.0),
            breadth_threshold: Some(3),
            crossed_at: T0 + at_min * MIN,
            lead_id: people[0].to_owned(),
            fit_reasons: Vec::new(),
            people: people.iter().map(|p| person(p)).collect(),
            model_version: "v1".into(),
            owner_team: None,
            owner_rep: None,
        }
    }

    /// acme.com: two alerts naming L-a1..L-a3, whose handoffs are contacted
    /// after the first alert only, one accepted and won; initech.io: one
    /// alert nobody followed up; L-x: a handoff of no known account.
    fn input() -> ReportInput {
        let mut input = ReportInput::default();
        input.add_account_alert(account_alert("acme.com", 1, 10, &["L-a1", "L-a2"]));
        input.add_account_alert(account_alert("acme.com", 2, 500, &["L-a2", "L-a3"]));
        input.add_account_alert(account_alert("initech.io", 1, 20, &["L-i1"]));
        let won = |mut r: HandoffRecord| {
            r.handoff.won_amount = Some(5000.0);
            r
        };
        input.add_handoff(won(feedback(
            contacted(record("a1", "us", "ann", 30), 20),
            "accepted",
            None,
        )));
        input.add_handoff(contacted(record("a2", "us", "ann", 40), 90));
        input.add_handoff(record("i1", "us", "bob", 25));
        input.add_handoff(record("x", "us", "bob", 25));
        input
            .stages
            .push(stage("a1", Stage::Customer, T0 + 600 * MIN));
        input
    }

    #[test]
    fn accounts_passed_followed_up_and_converted_follow_from_the_records() {
        let report = Report::new(&input(), Period::default());
        let a = &report.accounts;
        assert_eq!((a.passed, a.alerts, a.followed_up), (2, 3, 1));
        let rows: Vec<(&str, u32, u32, u32)> = a
            .rows
            .iter()
            .map(|r| (r.account.as_str(), r.alerts, r.followed_up, r.people))
            .collect();
        assert_eq!(
            rows,
            [("domain:acme.com", 2, 1, 3), ("domain:initech.io", 1, 0, 1)]
        );
        let acme = &a.rows[0].figures;
        assert_eq!((acme.passed, acme.accepted, acme.won), (2, 1, 1));
        assert_eq!((acme.sla.met, acme.sla.breached), (1, 1));
        assert_eq!(acme.funnel, [2, 1, 1, 1, 1]);
        assert_eq!(a.rows[1].figures.passed, 1);
        // A lead of no known account counts overall, for no account.
        assert_eq!(report.overall.passed, 4);
        let by_accounts: u32 = a.rows.iter().map(|r| r.figures.passed).sum();
        assert_eq!(by_accounts, 3);
    }

    #[test]
    fn the_period_selects_account_alerts_by_their_time() {
        let period = Period {
            since: Some(T0 + 100 * MIN),
            until: None,
        };
        let report = Report::new(&input(), period);
        let a = &report.accounts;
        assert_eq!((a.passed, a.alerts), (1, 1));
        assert_eq!(a.rows[0].account, "domain:acme.com");
        assert_eq!(
            a.rows[0].figures.passed, 0,
            "its handoffs are before the period"
        );
    }

    #[test]
    fn both_renderings_show_the_accounts_and_none_without_account_records() {
        let report = Report::new(&input(), Period::default());
        let currency = Currency::default();
        let md = markdown::render(&report, &currency);
        for line in [
            "| Accounts passed to sales | 2 |",
            "| Account alerts followed up | 1 (33.3%) |",
            "| domain:acme.com | 2 | 1 (50.0%) | 3 | 2 | 50.0% (1/2) | 1 (50.0%) |",
            "| domain:initech.io | 1 | 0 (0.0%) | 1 | 1 |",
        ] {
            assert!(md.contains(line), "missing {line:?} in\n{md}");
        }
        let page = html::render(&report, &currency);
        assert!(page.contains(r#"<table id="by-account">"#) && page.contains("domain:initech.io"));
        let plain = Report::new(&sample(), Period::default());
        assert!(!markdown::render(&plain, &currency).contains("## Accounts"));
        assert!(!html::render(&plain, &currency).contains("by-account"));
    }
}
