//! The scorer keeps the model's documented promises to the letter: windows
//! of exactly `w × 24 h`, derived attributes that follow their source,
//! reasons that add up.

use super::tests::{event, scorer_with, view, MODEL};
use super::*;

const D: Millis = DAY_MS;
const MINUTE: Millis = 60_000;

fn at(text: &str) -> Millis {
    // 2026-10-01T00:00:00Z plus an offset such as "23:59".
    let (h, m) = text.split_once(':').unwrap();
    20_362 * D + h.parse::<i64>().unwrap() * HOUR_MS + m.parse::<i64>().unwrap() * MINUTE
}

fn download() -> EventKind {
    EventKind::ContentDownload {
        asset_id: "wp-1".into(),
    }
}

fn with_window(days: &str) -> Scorer {
    scorer_with(&MODEL.replace("window_days = 7", &format!("window_days = {days}")))
}

fn apply(s: &Scorer, lead: &mut LeadState, n: u32, t: Millis, kind: EventKind) -> Scored {
    s.apply(lead, &event(n, "L-1", t, kind))
}

#[test]
fn a_window_counts_w_times_24_hours_from_each_match() {
    let s = with_window("1");
    assert_eq!(at("00:00"), 1_759_276_800_000, "2026-10-01T00:00:00Z");
    // Late in the day: still counts a minute after midnight, and until
    // 23:59 the next day.
    let mut lead = LeadState::default();
    apply(&s, &mut lead, 0, at("23:59"), download());
    apply(&s, &mut lead, 1, at("23:59") + 2 * MINUTE, view("/blog"));
    assert_eq!(s.engagement_at(&lead, lead.updated_at), 5.0);
    assert_eq!(s.engagement_at(&lead, at("23:59") + D - 1), 5.0);
    assert_eq!(s.engagement_at(&lead, at("23:59") + D), 0.0);
    // Early in the day: gone after 24 hours, not 23 h 59 min later.
    let mut lead = LeadState::default();
    apply(&s, &mut lead, 0, at("00:01"), download());
    assert_eq!(s.engagement_at(&lead, at("00:01") + D - 1), 5.0);
    assert_eq!(s.engagement_at(&lead, at("00:01") + D), 0.0);

    // The 7-day window of the unit model, across many matches and a late one.
    let s = with_window("7");
    let mut lead = LeadState::default();
    for (n, t) in [at("23:59"), at("12:00") + D, at("06:00")]
        .into_iter()
        .enumerate()
    {
        apply(&s, &mut lead, n as u32, t, download());
    }
    assert_eq!(s.engagement_at(&lead, at("23:59") + 7 * D - 1), 10.0);
    assert_eq!(
        s.engagement_at(&lead, at("12:00") + 8 * D - 1),
        5.0,
        "each match leaves the window 7 × 24 h after it"
    );
    assert_eq!(s.engagement_at(&lead, at("12:00") + 8 * D), 0.0);
}

#[test]
fn a_fractional_window_counts_its_hours() {
    for (days, hours) in [("0.5", 12), ("1.5", 36)] {
        let s = with_window(days);
        let mut lead = LeadState::default();
        apply(&s, &mut lead, 0, at("10:00"), download());
        assert_eq!(
            s.engagement_at(&lead, lead.updated_at),
            5.0,
            "window_days = {days} counts on its own event"
        );
        let end = at("10:00") + hours * HOUR_MS;
        assert_eq!(s.engagement_at(&lead, end - 1), 5.0, "{days}");
        assert_eq!(s.engagement_at(&lead, end), 0.0, "{days}");
    }
}

#[test]
fn a_window_keeps_at_most_its_bound_of_match_times() {
    let s = with_window("7");
    let mut lead = LeadState::default();
    for n in 0..(MAX_WINDOW_MATCHES as u32 + 50) {
        apply(&s, &mut lead, n, at("00:00") + i64::from(n), download());
    }
    let c = &lead.contributions[0];
    assert_eq!(c.window.len(), MAX_WINDOW_MATCHES);
    assert_eq!(
        s.engagement_at(&lead, lead.updated_at),
        5.0 * MAX_WINDOW_MATCHES as f64
    );
}

#[test]
fn a_window_reason_counts_only_the_matches_that_still_count() {
    let s = with_window("1");
    let mut lead = LeadState::default();
    apply(&s, &mut lead, 0, at("08:00"), download());
    apply(&s, &mut lead, 1, at("09:00") + D, download());
    let score = s.score_of("L-1", &lead);
    let reason = score
        .reasons
        .iter()
        .find(|r| &*r.rule_id == "whitepaper")
        .unwrap();
    assert_eq!((reason.points, reason.count), (5.0, 1), "{reason:?}");
}

#[test]
fn email_domain_follows_its_email() {
    let s = scorer_with(MODEL);
    let fields = |email: &str| EventKind::FormSubmit {
        form_id: "contact".into(),
        fields: [("email".to_owned(), email.to_owned())].into(),
    };
    let mut lead = LeadState::default();
    apply(&s, &mut lead, 0, 0, fields("d@gmail.com"));
    assert!(lead.disqualified.is_some(), "free mail");
    apply(&s, &mut lead, 1, 1, fields("someone at acme"));
    assert_eq!(lead.attributes.get("email"), Some("someone at acme"));
    assert_eq!(lead.attributes.get("email_domain"), None);
    assert!(
        lead.disqualified.is_none(),
        "the free-mail disqualification went with its email domain"
    );
    apply(&s, &mut lead, 2, 2, fields("ann@Acme.io"));
    assert_eq!(lead.attributes.get("email_domain"), Some("acme.io"));
}

fn desk_with(dedup: &str) -> Desk {
    let text = MODEL.replace("[handoff]", &format!("{dedup}\n[handoff]"));
    Desk::new(scorer_with(&text), None)
}

/// Applies `(event number, time)` pairs to one lead through a partition;
/// returns what each did.
fn through(desk: &Desk, items: &[(u32, Millis)]) -> (PartitionState, Vec<Outcome>) {
    let mut p = PartitionState::default();
    let outs = items
        .iter()
        .map(|&(n, t)| {
            let e = event(n, "L-1", t, download());
            p.apply(desk, &e).unwrap().outcome
        })
        .collect();
    (p, outs)
}

#[test]
fn a_re_sent_event_counts_once() {
    let desk = desk_with("");
    let (p, outs) = through(
        &desk,
        &[(1, HOUR_MS), (1, HOUR_MS), (2, 2 * HOUR_MS), (1, HOUR_MS)],
    );
    let dups: Vec<bool> = outs.iter().map(|o| o.duplicate).collect();
    assert_eq!(dups, [false, true, false, true]);
    assert!(outs[1..2]
        .iter()
        .all(|o| !o.score_changed && o.alert.is_none()));
    let lead = p.store().get("L-1").unwrap();
    assert_eq!(lead.contributions[0].count, 2, "two distinct downloads");
    assert_eq!(lead.seen.len(), 2);
    // Whatever the order: the re-sent copy of a late event is known too.
    let (p, outs) = through(
        &desk,
        &[
            (2, 2 * HOUR_MS),
            (1, HOUR_MS),
            (2, 2 * HOUR_MS),
            (1, HOUR_MS),
        ],
    );
    assert_eq!(outs.iter().filter(|o| o.duplicate).count(), 2);
    assert_eq!(p.store().get("L-1").unwrap().contributions[0].count, 2);
}

#[test]
fn re_sent_events_are_known_within_the_window_by_time_and_count() {
    let desk = desk_with("[dedup]\nwindow_hours = 2\nmax_ids = 3");
    assert_eq!(
        desk.scorer().model().dedup,
        model::Dedup {
            window: 2 * HOUR_MS,
            max_ids: 3
        }
    );
    // By time: forgotten once the lead's latest event is 2 hours past it.
    let (_, outs) = through(&desk, &[(1, 0), (2, 2 * HOUR_MS - 1), (1, 0)]);
    assert!(outs[2].duplicate, "still within 2 hours");
    let (_, outs) = through(&desk, &[(1, 0), (2, 2 * HOUR_MS), (1, 0)]);
    assert!(!outs[2].duplicate, "2 hours after it: counts again");
    // By count: the 3 latest ids by event time, whatever the arrival order.
    let (p, outs) = through(
        &desk,
        &[(4, 4), (1, 1), (3, 3), (2, 2), (1, 1), (2, 2), (4, 4)],
    );
    let dups: Vec<bool> = outs.iter().map(|o| o.duplicate).collect();
    assert_eq!(dups, [false, false, false, false, false, true, true]);
    let seen: Vec<Millis> = p
        .store()
        .get("L-1")
        .unwrap()
        .seen
        .iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(seen, [2, 3, 4]);
}

#[test]
fn dedup_can_be_turned_off_and_its_bounds_are_checked() {
    for off in ["[dedup]\nwindow_hours = 0", "[dedup]\nmax_ids = 0"] {
        let desk = desk_with(off);
        assert!(!desk.scorer().model().dedup.is_on());
        let (p, outs) = through(&desk, &[(1, 0), (1, 0)]);
        assert!(outs.iter().all(|o| !o.duplicate), "{off}");
        assert_eq!(p.store().get("L-1").unwrap().contributions[0].count, 2);
        assert!(p.store().get("L-1").unwrap().seen.is_empty());
    }
    for (bad, message) in [
        (
            "window_hours = -1",
            "`window_hours` must be a number of hours from 0 to 8760, not -1",
        ),
        (
            "window_hours = nan",
            "`window_hours` must be a number of hours from 0 to 8760, not NaN",
        ),
        (
            "max_ids = 1.5",
            "`max_ids` must be a whole number from 0 to 10000, not 1.5",
        ),
        (
            "max_ids = 20000",
            "`max_ids` must be a whole number from 0 to 10000, not 20000",
        ),
    ] {
        let text = MODEL.replace("[handoff]", &format!("[dedup]\n{bad}\n[handoff]"));
        let e = Model::from_toml("m.toml", &text).unwrap_err().to_string();
        assert!(e.ends_with(message), "{e}");
    }
    let s = Model::from_toml("m.toml", MODEL).unwrap().summary();
    assert!(
        s.contains("A re-sent event (same event_id) counts once, if it comes within 168 hours of the lead's latest event and its 256 latest ids."),
        "{s}"
    );
}
