use super::*;

pub(crate) fn alert() -> Alert {
    Alert {
        alert_id: "a1".into(),
        lead_id: "lead-42".into(),
        score: 82.4,
        fit: 40.0,
        engagement: 42.4,
        grade: Grade::A,
        threshold: 70.0,
        qualification: "score ≥ 70".into(),
        crossed_at: 1_764_670_000_000,
        respond_by: 1_764_673_600_000,
        model_version: "v1".into(),
        event_id: "e1".into(),
        reasons: vec![
            Reason {
                rule_id: "pricing".into(),
                label: "Visited pricing".into(),
                kind: ReasonKind::Engagement,
                points: 25.0,
                count: 3,
                last_seen: 1_764_669_000_000,
            },
            Reason {
                rule_id: "cto".into(),
                label: "Title: CTO".into(),
                kind: ReasonKind::Fit,
                points: 20.0,
                count: 1,
                last_seen: 1_764_670_000_000,
            },
            Reason {
                rule_id: "demo".into(),
                label: "Requested a demo".into(),
                kind: ReasonKind::Engagement,
                points: 30.0,
                count: 1,
                last_seen: 1_764_670_000_000,
            },
        ],
        company_domain: Some("initech.com".into()),
        account_id: None,
        owner_team: Some("emea".into()),
        owner_rep: Some("lars".into()),
        routed_via: Some("territory".into()),
        contact: Contact::default(),
    }
}

/// A watch on initech.com met by a pricing page view of a known person,
/// whose lead is handed to the watching rep.
pub(crate) fn watch_alert() -> WatchAlert {
    let a = alert();
    WatchAlert {
        watch_alert_id: "0123456789abcdef0123456789abcdef".into(),
        watch_id: "w-7".into(),
        rep: "lars".into(),
        target: crate::core::Target::Domain("initech.com".into()),
        note: Some("renewal talks in Q1".into()),
        condition: "page_view with url matching */pricing*".into(),
        lead_id: "lead-42".into(),
        event_id: "e9".into(),
        event_type: crate::core::EventType::PageView,
        occurred_at: 1_764_671_000_000,
        url: Some("https://initech.example/pricing".into()),
        item: None,
        score: 82.4,
        company_domain: Some("initech.com".into()),
        account_id: None,
        contact: Contact {
            name: Some("Peter Gibbons".into()),
            title: Some("VP Engineering".into()),
            company: Some("Initech".into()),
        },
        reasons: a.reasons,
        respond_by: Some(1_764_673_600_000),
        alert_id: Some("a1".into()),
    }
}

#[test]
fn a_watch_alert_goes_to_the_watching_rep_and_says_who_which_watch_and_what_they_did() {
    let n = Notice::of(&Record::Watch(watch_alert()), Some(&roster()));
    assert_eq!(n.kind.event_type(), "lead.watch_matched");
    assert_eq!(n.recipients, vec![Arc::<str>::from("lars")]);
    assert_eq!(n.source_id, "0123456789abcdef0123456789abcdef");
    assert_eq!(
        n.headline(),
        "Watched lead active: Peter Gibbons at Initech (score 82) viewed https://initech.example/pricing"
    );
    assert_eq!(
        n.contact_line().as_deref(),
        Some("Peter Gibbons, VP Engineering at Initech")
    );
    assert_eq!(
        n.what.as_deref(),
        Some(
            "Your watch on domain initech.com (page_view with url matching */pricing*) \
             matched: “renewal talks in Q1”."
        )
    );
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let lines = n.activity_lines(&tz);
    assert_eq!(
        lines[0],
        "viewed https://initech.example/pricing (page view), Tue 2 Dec 11:23 CET"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(n.takes_feedback());
    let mut unhanded = watch_alert();
    unhanded.alert_id = None;
    unhanded.respond_by = None;
    unhanded.contact = Contact::default();
    let n = Notice::of(&Record::Watch(unhanded), None);
    assert!(!n.takes_feedback());
    assert_eq!(n.deadline, None);
    assert_eq!(
        n.headline(),
        "Watched lead active: initech.com (score 82) viewed https://initech.example/pricing"
    );
}

pub(crate) fn roster() -> Roster {
    Roster::from_toml(
        "r.toml",
        r#"
[[team]]
id = "emea"
lead = "ingrid"
slack_channel = "C0123ABCD"
[[team.rep]]
id = "lars"
name = "Lars Jensen"
email = "lars@example.com"
slack_user = "U024BE7LH"
time_zone = "Europe/Berlin"
[[team.rep]]
id = "ingrid"
name = "Ingrid Berg"
available = false
"#,
    )
    .unwrap()
}

#[test]
fn a_deadline_reads_in_the_reps_time_zone_and_says_when_it_passed() {
    let roster = roster();
    let lars = roster.rep("lars");
    let at = 1_764_673_600_000; // 2025-12-02T11:06:40Z
    let d = Deadline::new(NoticeKind::HotLead, at, at - 40 * 60_000, lars);
    assert_eq!(d.zone, "Europe/Berlin");
    assert_eq!(d.local, "Tue 2 Dec 12:06 CET");
    assert!(!d.passed);
    assert_eq!(d.text, "respond by Tue 2 Dec 12:06 CET (in 40 min)");
    let late = Deadline::new(NoticeKind::HotLead, at, at + 12 * 60_000, lars);
    assert!(late.passed);
    assert_eq!(
        late.text,
        "respond by Tue 2 Dec 12:06 CET has passed (12 min ago)"
    );
    let utc = Deadline::new(NoticeKind::HotLead, at, at, None);
    assert_eq!(utc.local, "Tue 2 Dec 11:06 UTC");
    assert!(utc.passed);
}

#[test]
fn a_notice_names_the_lead_its_reasons_and_its_latest_activities() {
    let n = Notice::of(&Record::Alert(alert()), Some(&roster()));
    assert_eq!(n.headline(), "Hot lead: initech.com (score 82, grade A)");
    assert_eq!(n.recipients, vec![Arc::<str>::from("lars")]);
    assert_eq!(
        n.reason_lines(),
        [
            "+25 Visited pricing (×3)",
            "+20 Title: CTO",
            "+30 Requested a demo"
        ]
    );
    let tz = jiff::tz::TimeZone::UTC;
    assert_eq!(
        n.activity_lines(&tz),
        [
            "Requested a demo, last Tue 2 Dec 10:06 UTC",
            "Visited pricing, last Tue 2 Dec 09:50 UTC"
        ]
    );
}

#[test]
fn a_breach_tells_the_next_rep_the_one_who_missed_it_and_the_team_lead() {
    let b = SlaBreach {
        breach_id: "a1-1".into(),
        lead_id: "lead-42".into(),
        alert_id: "a1".into(),
        team: "emea".into(),
        rep: "lars".into(),
        escalate_to: "ingrid".into(),
        respond_by: 1,
        breach_number: 1,
        reassigned_to: None,
        new_respond_by: None,
        contact: Contact::default(),
    };
    let n = Notice::of(&Record::Breach(b.clone()), Some(&roster()));
    assert_eq!(n.recipients, vec![Arc::from("lars"), Arc::from("ingrid")]);
    assert_eq!(
        n.what.as_deref(),
        Some("Lars Jensen missed the follow-up deadline (escalated to Ingrid Berg).")
    );
    assert_eq!(n.headline(), "Follow-up missed: lead-42");

    // With the lead's contact details, the escalation names the person.
    let named = SlaBreach {
        contact: Contact {
            name: Some("Ana Lima".into()),
            title: Some("CTO".into()),
            company: Some("Initech".into()),
        },
        ..b
    };
    let n = Notice::of(&Record::Breach(named), Some(&roster()));
    assert_eq!(n.headline(), "Follow-up missed: Ana Lima at Initech");
    assert_eq!(
        n.contact_line().as_deref(),
        Some("Ana Lima, CTO at Initech")
    );
}

#[test]
fn an_overdue_reminder_names_the_lead() {
    let o = FeedbackOverdue {
        lead_id: "lead-42".into(),
        alert_id: "a1".into(),
        team: "emea".into(),
        rep: "lars".into(),
        escalate_to: "ingrid".into(),
        handed_at: 1,
        feedback_by: 2,
        contact: Contact {
            name: Some("Ana Lima".into()),
            title: None,
            company: Some("Initech".into()),
        },
    };
    let n = Notice::of(&Record::Overdue(o), Some(&roster()));
    assert_eq!(n.headline(), "Feedback overdue: Ana Lima at Initech");
    assert_eq!(n.recipients, vec![Arc::from("lars"), Arc::from("ingrid")]);
}

#[test]
fn delivery_ids_are_stable_and_differ_per_channel_and_recipient() {
    let id = delivery_id("a1", "crm", "lars");
    assert_eq!(id, delivery_id("a1", "crm", "lars"));
    assert_eq!(id.len(), 36);
    assert!(id.starts_with("msg_"));
    assert_ne!(id, delivery_id("a1", "crm", "chloe"));
    assert_ne!(id, delivery_id("a1", "slack", "lars"));
    // Parts are length-prefixed, so shifting text between them changes the id.
    assert_ne!(delivery_id("a1c", "rm", "x"), delivery_id("a1", "crm", "x"));
}

#[test]
fn templates_are_filled_and_encoded() {
    assert_eq!(
        fill(
            "https://crm.example/leads/{lead_id}?a={alert_id}",
            "a b/c",
            "x"
        ),
        "https://crm.example/leads/a%20b%2Fc?a=x"
    );
    assert_eq!(clip("abcdef", 4), "abc…");
    assert_eq!(clip("abc", 4), "abc");
}

/// Three people of initech.com who together made the account cross its
/// score threshold, owned by Lars of EMEA.
pub(crate) fn account_alert() -> crate::core::AccountAlert {
    use crate::core::{AccountKey, AccountReason, AccountTrigger, PersonShare};
    let reason = |id: &str, label: &str, points: f64, at: Millis| AccountReason {
        rule_id: id.into(),
        label: label.into(),
        points,
        last_seen: at,
    };
    let person = |i: usize, name: Option<&str>, points: f64, at: Millis| PersonShare {
        lead_id: format!("lead-{i}"),
        contact: Contact {
            name: name.map(str::to_owned),
            title: name.map(|_| "VP Engineering".to_owned()),
            company: Some("Initech".into()),
        },
        engagement: points,
        engaged_at: Some(at),
        in_breadth: true,
        reasons: vec![
            reason("webinar", "Attended a webinar", points - 10.0, at),
            reason("pricing", "Visited pricing", 10.0, at - 3_600_000),
        ],
    };
    crate::core::AccountAlert {
        alert_id: "fedcba9876543210fedcba9876543210".into(),
        account: AccountKey::Domain("initech.com".into()),
        trigger: AccountTrigger::Score,
        score: 92.5,
        fit: 20.0,
        engagement: 72.5,
        breadth: 3,
        threshold: Some(80.0),
        breadth_threshold: Some(5),
        crossed_at: 1_764_670_000_000,
        lead_id: "lead-1".into(),
        fit_reasons: vec![reason("target", "Target industry", 20.0, 1_764_670_000_000)],
        people: vec![
            person(1, Some("Peter Gibbons"), 30.0, 1_764_670_000_000),
            person(2, Some("Ana Lima"), 25.0, 1_764_669_000_000),
            person(3, None, 17.5, 1_764_668_000_000),
        ],
        model_version: "v1".into(),
        owner_team: Some("emea".into()),
        owner_rep: Some("lars".into()),
    }
}

#[test]
fn an_account_alert_goes_to_the_owner_and_names_its_people_and_their_reasons() {
    let a = account_alert();
    let n = Notice::of(&Record::Account(a.clone()), Some(&roster()));
    assert_eq!(n.kind.event_type(), "account.surge");
    assert_eq!(n.source_id, a.alert_id);
    assert_eq!(n.recipients, vec![Arc::from("lars")]);
    assert_eq!(n.team.as_deref(), Some("emea"));
    assert!(!n.takes_feedback(), "feedback is about a lead's handoff");
    assert_eq!(
        n.headline(),
        "Account in market: Initech (score 92, 3 people engaged)"
    );
    assert_eq!(
        n.what.as_deref(),
        Some("3 people of Initech engaged within the breadth window: score 92 reached 80 (fit 20, engagement 72).")
    );
    assert_eq!(n.reason_lines(), ["+20 Target industry"]);
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    assert_eq!(n.activity_heading(), "Who engaged");
    assert_eq!(
        n.activity_lines(&tz),
        [
            "Peter Gibbons, VP Engineering (lead lead-1): 30 points (+20 Attended a webinar, +10 Visited pricing); last engaged Tue 2 Dec 11:06 CET",
            "Ana Lima, VP Engineering (lead lead-2): 25 points (+15 Attended a webinar, +10 Visited pricing); last engaged Tue 2 Dec 10:50 CET",
            "lead lead-3: 18 points (+7.5 Attended a webinar, +10 Visited pricing); last engaged Tue 2 Dec 10:33 CET",
        ]
    );

    // Without an owner, nobody is addressed by name; the webhook still
    // carries it. A breadth crossing says so; without a company name the
    // account reads as its domain.
    let mut b = a;
    b.owner_rep = None;
    b.owner_team = None;
    b.trigger = crate::core::AccountTrigger::Breadth;
    b.breadth = 5;
    b.people.iter_mut().for_each(|p| p.contact.company = None);
    let n = Notice::of(&Record::Account(b), None);
    assert!(n.recipients.is_empty());
    assert_eq!(
        n.headline(),
        "Account in market: initech.com (score 92, 5 people engaged)"
    );
    assert!(n.what.unwrap().contains("breadth 5 reached 5"));
}
