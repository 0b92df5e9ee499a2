use super::super::notice::{Notice, Record};
use super::*;
use crate::core::{Reason, ReasonKind};

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Every limit of `slack_limits`, checked on a rendered message.
fn assert_within_limits(blocks: &[Value]) {
    use slack_limits::*;
    assert!(blocks.len() <= BLOCKS);
    for b in blocks {
        match b["type"].as_str().unwrap() {
            "header" => assert!(chars(&b["text"]["text"]) <= HEADER_TEXT, "{b}"),
            "section" => {
                assert!(chars(&b["text"]["text"]) <= SECTION_TEXT, "{b}");
                if let Some(f) = b["fields"].as_array() {
                    assert!(f.len() <= SECTION_FIELDS);
                    assert!(f.iter().all(|f| chars(&f["text"]) <= FIELD_TEXT));
                }
                assert!(b["text"].is_object() || b["fields"].is_array());
            }
            "actions" => {
                let e = b["elements"].as_array().unwrap();
                assert!(e.len() <= ACTIONS_ELEMENTS);
                for e in e {
                    assert!(chars(&e["action_id"]) <= ACTION_ID);
                    match e["type"].as_str().unwrap() {
                        "button" => {
                            assert!(chars(&e["text"]["text"]) <= BUTTON_TEXT);
                            assert!(chars(&e["value"]) <= BUTTON_VALUE);
                            assert!(chars(&e["url"]) <= URL);
                        }
                        "static_select" => {
                            let o = e["options"].as_array().unwrap();
                            assert!(o.len() <= SELECT_OPTIONS && !o.is_empty());
                            for o in o {
                                assert!(chars(&o["text"]["text"]) <= OPTION_TEXT, "{o}");
                                assert!(chars(&o["value"]) <= OPTION_VALUE, "{o}");
                            }
                        }
                        other => panic!("unexpected element {other}"),
                    }
                }
            }
            "context" => assert!(b["elements"].as_array().unwrap().len() <= 10),
            other => panic!("unexpected block {other}"),
        }
    }
}

#[test]
fn slack_blocks_stay_within_block_kit_limits_even_for_huge_input() {
    let roster = super::super::notice::tests::roster();
    let mut alert = super::super::notice::tests::alert();
    alert.company_domain = Some("x".repeat(5_000));
    alert.lead_id = "l".repeat(3_000);
    alert.alert_id = "a".repeat(3_000);
    alert.reasons = (0..40)
        .map(|i| Reason {
            rule_id: format!("r{i}").into(),
            label: "y".repeat(2_500).into(),
            kind: ReasonKind::Engagement,
            points: 1.0,
            count: 2,
            last_seen: i,
        })
        .collect();
    let notice = Notice::of(&Record::Alert(alert), Some(&roster));
    let links = Links {
        lead_url: Some("https://app.example/leads/{lead_id}"),
        crm_url: Some("https://crm.example/leads/{lead_id}"),
        ..Links::default()
    };
    let id = "msg_x";
    let view = View::new(&notice, roster.rep("lars"), Some(&roster), &links, 0, id);
    let blocks = view.slack_blocks(true);
    assert_within_limits(&blocks);
    // The lead URLs were too long for a button and are left out, the
    // feedback controls stay.
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    let ids: Vec<&str> = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["contacted", "accept", "reject"]);
}

#[test]
fn a_normal_slack_message_shows_the_lead_the_deadline_and_the_buttons() {
    let roster = super::super::notice::tests::roster();
    let alert = super::super::notice::tests::alert();
    let respond_by = alert.respond_by;
    let notice = Notice::of(&Record::Alert(alert), Some(&roster));
    let links = Links {
        crm_url: Some("https://crm.example/leads/{lead_id}"),
        ..Links::default()
    };
    let view = View::new(
        &notice,
        roster.rep("lars"),
        Some(&roster),
        &links,
        respond_by + 60_000,
        "msg_1",
    );
    let blocks = view.slack_blocks(true);
    assert_within_limits(&blocks);
    let all = serde_json::to_string(&blocks).unwrap();
    assert!(
        all.contains("Hot lead: initech.com (score 82, grade A)"),
        "{all}"
    );
    assert!(
        all.contains(":warning: *Overdue:* respond by Tue 2 Dec 12:06 CET has passed (1 min ago)"),
        "{all}"
    );
    assert!(all.contains("https://crm.example/leads/lead-42"), "{all}");
    assert!(
        all.contains("\"value\":\"no_budget|a1|lead-42|lars\""),
        "{all}"
    );
}

#[test]
fn the_email_text_has_the_content_and_signed_links() {
    let roster = super::super::notice::tests::roster();
    let alert = super::super::notice::tests::alert();
    let notice = Notice::of(&Record::Alert(alert), Some(&roster));
    let signer = LinkSigner::new(&[7; 32], "https://lp.example");
    let links = Links {
        lead_url: Some("https://app.example/leads/{lead_id}"),
        ..Links::default()
    };
    let view = View::new(
        &notice,
        roster.rep("lars"),
        Some(&roster),
        &links,
        0,
        "msg_1",
    );
    let text = view.text(Some(&signer), 99);
    for want in [
        "Hot lead: initech.com (score 82, grade A)",
        "Lead `lead-42` at initech.com",
        "respond by Tue 2 Dec 12:06 CET (in ",
        "+25 Visited pricing (×3)",
        "Latest activity:\n  Requested a demo, last Tue 2 Dec 11:06 CET",
        "Lead: https://app.example/leads/lead-42",
        "Contacted: https://lp.example/feedback?action=contacted&lead=lead-42&alert=a1&rep=lars&exp=99&sig=",
        "Reject (no_budget): https://lp.example/feedback?action=reject",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    assert!(!text.contains("OVERDUE"));
    let html = view.html(Some(&signer), 99);
    assert!(html.contains("<h2>Hot lead: initech.com (score 82, grade A)</h2>"));
}

/// Everything a rep needs to act, in every channel's payload.
#[test]
fn every_channel_carries_who_the_score_reasons_activities_deadline_and_links() {
    let roster = super::super::notice::tests::roster();
    let signer = LinkSigner::new(&[7; 32], "https://lp.example");
    let links = Links {
        lead_url: Some("https://app.example/leads/{lead_id}"),
        crm_url: Some("https://crm.example/leads/{lead_id}"),
        signer: Some(&signer),
        link_expires: 99,
    };
    let mut hot = super::super::notice::tests::alert();
    hot.contact = super::super::notice::tests::watch_alert().contact;
    for record in [
        Record::Alert(hot),
        Record::Watch(super::super::notice::tests::watch_alert()),
    ] {
        let notice = Notice::of(&record, Some(&roster));
        let now = 1_764_670_000_000;
        let view = View::new(
            &notice,
            roster.rep("lars"),
            Some(&roster),
            &links,
            now,
            "msg_1",
        );
        let wants = [
            "Peter Gibbons, VP Engineering at Initech",
            "lead-42",
            "score 82",
            "+25 Visited pricing (×3)",
            "Requested a demo, last Tue 2 Dec 11:06 CET",
            "respond by Tue 2 Dec 12:06 CET",
            "https://app.example/leads/lead-42",
            "https://crm.example/leads/lead-42",
        ];
        let text = view.text(Some(&signer), 99);
        let html = view.html(Some(&signer), 99);
        let slack = serde_json::to_string(&view.slack_blocks(true)).unwrap();
        let teams = serde_json::to_string(&view.teams_card()).unwrap();
        let body = view.webhook_body(now);
        let webhook = serde_json::to_string(&body).unwrap();
        for want in wants {
            for (channel, payload) in [
                ("text", &text),
                ("html", &html),
                ("slack", &slack),
                ("teams", &teams),
            ] {
                assert!(
                    payload.contains(want),
                    "{channel}: no {want:?} in\n{payload}"
                );
            }
            // The webhook carries the score and reasons as fields.
            if want != "score 82" && want != "+25 Visited pricing (×3)" {
                assert!(webhook.contains(want), "webhook: no {want:?} in\n{webhook}");
            }
        }
        assert_eq!(body["data"]["score"], 82.4);
        assert_eq!(body["data"]["contact"]["title"], "VP Engineering");
        assert_eq!(body["data"]["reasons"][0]["label"], "Visited pricing");
        assert_eq!(body["data"]["deadline"]["time_zone"], "Europe/Berlin");
        let clicks = body["data"]["feedback_links"].as_array().unwrap();
        assert_eq!(clicks[0]["label"], "Contacted");
        assert!(clicks[0]["url"].as_str().unwrap().starts_with(
            "https://lp.example/feedback?action=contacted&lead=lead-42&alert=a1&rep=lars"
        ));
        assert_within_limits(&view.slack_blocks(true));
        if let Some(w) = &notice.watch {
            assert_eq!(body["type"], "lead.watch_matched");
            assert_eq!(body["data"]["watch"]["watch_id"], "w-7");
            assert_eq!(
                body["data"]["watch"]["url"],
                "https://initech.example/pricing"
            );
            for payload in [&text, &html, &slack, &teams, &webhook] {
                assert!(payload.contains("renewal talks in Q1"), "{payload}");
                assert!(payload.contains(&w.did()), "{payload}");
            }
        }
    }
}

/// An account alert on every channel: the account, its score and breadth,
/// each person with their reasons and when, and no lead links or feedback.
#[test]
fn every_channel_explains_an_account_surge() {
    let roster = super::super::notice::tests::roster();
    let signer = LinkSigner::new(&[7; 32], "https://lp.example");
    let links = Links {
        lead_url: Some("https://app.example/leads/{lead_id}"),
        crm_url: Some("https://crm.example/leads/{lead_id}"),
        signer: Some(&signer),
        link_expires: 99,
    };
    let alert = super::super::notice::tests::account_alert();
    let notice = Notice::of(&Record::Account(alert.clone()), Some(&roster));
    let now = 1_764_670_000_000;
    let view = View::new(
        &notice,
        roster.rep("lars"),
        Some(&roster),
        &links,
        now,
        "msg_1",
    );
    let text = view.text(Some(&signer), 99);
    let html = view.html(Some(&signer), 99);
    let blocks = view.slack_blocks(true);
    assert_within_limits(&blocks);
    let slack = serde_json::to_string(&blocks).unwrap();
    let teams = serde_json::to_string(&view.teams_card()).unwrap();
    let body = view.webhook_body(now);
    let webhook = serde_json::to_string(&body).unwrap();
    for want in [
        "Account in market: Initech (score 92, 3 people engaged)",
        "domain:initech.com",
        "3 people of Initech engaged within the breadth window",
        "Who engaged",
        "Peter Gibbons, VP Engineering (lead lead-1): 30 points (+20 Attended a webinar, +10 Visited pricing); last engaged Tue 2 Dec 11:06 CET",
        "lead lead-3",
        "+20 Target industry",
    ] {
        for (channel, payload) in [
            ("text", &text),
            ("html", &html),
            ("slack", &slack),
            ("teams", &teams),
        ] {
            assert!(
                payload.contains(want),
                "{channel}: no {want:?} in\n{payload}"
            );
        }
    }
    for payload in [&text, &html, &slack, &teams, &webhook] {
        assert!(!payload.contains("app.example"), "a lead link: {payload}");
        assert!(!payload.contains("feedback?"), "a feedback link: {payload}");
        assert!(
            !payload.contains("\"accept\""),
            "a feedback button: {payload}"
        );
    }
    assert_eq!(body["type"], "account.surge");
    let d = &body["data"];
    assert_eq!(d["source_id"], alert.alert_id);
    assert_eq!(d["rep_id"], "lars");
    assert_eq!(d["team"], "emea");
    assert_eq!(d["score"], 92.5);
    assert_eq!(d["company_domain"], "initech.com");
    let a = &d["account"];
    assert_eq!(a["account_key"], "domain:initech.com");
    assert_eq!(a["name"], "Initech");
    assert_eq!(a["trigger"], "score");
    assert_eq!(a["breadth"], 3);
    assert_eq!(a["threshold"], 80.0);
    assert_eq!(a["crossed_at"], "2025-12-02T10:06:40Z");
    assert_eq!(a["fit_reasons"][0]["label"], "Target industry");
    assert_eq!(a["people"].as_array().unwrap().len(), 3);
    assert_eq!(a["people"][0]["lead_id"], "lead-1");
    assert_eq!(a["people"][0]["name"], "Peter Gibbons");
    assert_eq!(a["people"][0]["engaged_at"], "2025-12-02T10:06:40Z");
    assert_eq!(a["people"][0]["reasons"][0]["label"], "Attended a webinar");
    assert_eq!(a["people"][2]["name"], Value::Null);
}

#[test]
fn an_account_surge_stays_within_block_kit_limits_even_for_huge_input() {
    let roster = super::super::notice::tests::roster();
    let mut alert = super::super::notice::tests::account_alert();
    alert.account = crate::core::AccountKey::Id("k".repeat(5_000));
    alert.fit_reasons = (0..40)
        .map(|i| crate::core::AccountReason {
            rule_id: format!("f{i}"),
            label: "f".repeat(2_500),
            points: 1.0,
            last_seen: i,
        })
        .collect();
    let template = alert.people[0].clone();
    alert.people = (0..crate::core::account::MAX_SHOWN_PEOPLE)
        .map(|i| {
            let mut p = template.clone();
            p.lead_id = format!("{i}{}", "l".repeat(1_000));
            p.contact.name = Some("n".repeat(1_000));
            p.contact.company = Some("c".repeat(1_000));
            p.reasons
                .iter_mut()
                .for_each(|r| r.label = "r".repeat(1_000));
            p
        })
        .collect();
    let notice = Notice::of(&Record::Account(alert), Some(&roster));
    let view = View::new(
        &notice,
        roster.rep("lars"),
        Some(&roster),
        &Links::default(),
        0,
        "msg_x",
    );
    let blocks = view.slack_blocks(true);
    assert_within_limits(&blocks);
    assert!(blocks.iter().all(|b| b["type"] != "actions"), "no buttons");
}
