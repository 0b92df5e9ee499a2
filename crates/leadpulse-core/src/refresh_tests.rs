//! Decay refresh: quiet leads are re-published as their score decays, on
//! the partition's timer index, and stages follow when the model says so.

use std::collections::BTreeMap;

use super::tests::{event, scorer_with, view, MODEL};
use super::*;

const DAY: Millis = 86_400_000;

fn model(refresh: &str) -> String {
    MODEL.replace("half_life_days = 10", "half_life_days = 7") + refresh
}

fn desk(refresh: &str) -> Desk {
    Desk::new(scorer_with(&model(refresh)), None)
}

/// A senior US lead that requests a demo and views pricing at `t`: fit 30,
/// engagement 60 in the 7-day half-life group; it alerts.
fn hot_lead(p: &mut PartitionState, d: &Desk, t: Millis) -> LeadScore {
    let attributes: BTreeMap<String, String> = [
        ("email", "pat@initech.com"),
        ("job_title", "CTO"),
        ("country", "US"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.apply(
        d,
        &event(1, "L-1", t - 2, EventKind::ProfileUpdate { attributes }),
    )
    .unwrap();
    let demo = EventKind::FormSubmit {
        form_id: "demo-request".into(),
        fields: BTreeMap::new(),
    };
    let alert = p
        .apply(d, &event(2, "L-1", t - 1, demo))
        .unwrap()
        .outcome
        .alert;
    assert!(alert.is_some());
    let step = p.apply(d, &event(3, "L-1", t, view("/pricing"))).unwrap();
    d.scorer().score_of("L-1", step.lead)
}

/// Fires every timer due by `until`; the score records and stage changes
/// they publish.
fn fire_all(p: &mut PartitionState, d: &Desk, until: Millis) -> (Vec<LeadScore>, Vec<StageChange>) {
    let (mut scores, mut stages) = (Vec::new(), Vec::new());
    while let Some((id, step)) = p.fire_next(d, until) {
        if step.outcome.score_changed {
            scores.push(d.scorer().score_of(&id, step.lead));
        }
        stages.extend(step.outcome.stages);
        p.store_mut().commit();
    }
    (scores, stages)
}

#[test]
fn a_quiet_lead_is_re_published_each_time_decay_moves_its_score_by_a_step() {
    let d = desk("\n[refresh]\n");
    let t0 = 1_795_000_000_000;
    let mut p = PartitionState::default();
    let first = hot_lead(&mut p, &d, t0);
    assert_eq!((first.score, first.updated_at), (90.0, t0));
    assert_eq!(p.open_timers(), 1, "the lead's refresh is a timer");
    let (scores, stages) = fire_all(&mut p, &d, t0 + 70 * DAY);
    assert!(stages.is_empty(), "stages stay without `mql_to_lead`");
    // 60 decaying points in steps of one, plus the two levels (50, 30) the
    // steps land on anyway: one record per point until under one is left.
    assert!(scores.len() >= 59, "{}", scores.len());
    let mut published = first.clone();
    for s in &scores {
        assert!(s.updated_at > published.updated_at, "refreshed at its time");
        let moved = published.score - s.score;
        assert!(
            moved >= 0.99,
            "{} → {}: moved {moved}",
            published.score,
            s.score
        );
        // One second earlier it had not moved a step yet: the record comes
        // as soon as decay has moved the score.
        let before = d
            .scorer()
            .score_at(p.store().get("L-1").unwrap(), s.updated_at - 1000);
        assert!(
            published.score - before < 1.0 + 0.005,
            "{} was due before {}",
            s.score,
            s.updated_at
        );
        assert_eq!(s.fit, 30.0);
        let sum: f64 = s.reasons.iter().map(|r| r.points).sum();
        assert!((sum - s.score).abs() < 0.05, "reasons add up: {s:?}");
        published = s.clone();
    }
    assert!(
        published.score <= 31.0,
        "decayed to fit: {}",
        published.score
    );
    assert_eq!(p.open_timers(), 0, "no step is left to fall");
    // A 7-day half-life: half of the 60 points are gone after a week.
    let week = scores
        .iter()
        .find(|s| s.updated_at >= t0 + 7 * DAY)
        .unwrap();
    assert!((week.score - 60.0).abs() <= 1.0, "{week:?}");
}

#[test]
fn an_event_publishes_again_and_restarts_the_refresh_from_its_time() {
    let d = desk("\n[refresh]\nstep = 5\n");
    let t0 = 1_795_000_000_000;
    let mut p = PartitionState::default();
    hot_lead(&mut p, &d, t0);
    let (scores, _) = fire_all(&mut p, &d, t0 + DAY);
    let last = scores.last().unwrap().clone();
    assert!(last.score <= 85.0 && last.score > 80.0, "{last:?}");
    // A later event: the record is the event's, at its time.
    let step = p
        .apply(&d, &event(9, "L-1", t0 + 2 * DAY, view("/security")))
        .unwrap();
    let rec = d.scorer().score_of("L-1", step.lead);
    assert_eq!(rec.updated_at, t0 + 2 * DAY);
    assert!(step.lead.refreshed_at.is_none());
    let next = step.lead.next_refresh_at.unwrap();
    assert!(next > t0 + 2 * DAY);
    assert!(d.scorer().refresh_due(
        step.lead,
        d.scorer().model().refresh.as_ref().unwrap(),
        next
    ));
}

#[test]
fn with_mql_to_lead_a_lead_that_decays_out_of_qualification_goes_back_to_lead() {
    let d = desk("\n[refresh]\nstep = 100\nmql_to_lead = true\n");
    let t0 = 1_795_000_000_000;
    let mut p = PartitionState::default();
    hot_lead(&mut p, &d, t0);
    assert_eq!(p.store().get("L-1").unwrap().stage, Some(Stage::Mql));
    let (scores, stages) = fire_all(&mut p, &d, t0 + 60 * DAY);
    // A step of 100 never comes, and the score tends to its fit (30) but
    // never falls below `rearm_below` (30): crossing the threshold (50) is
    // the one refresh. Its record shows 50.0 rounded, and does not qualify.
    assert_eq!(scores.len(), 1, "{scores:?}");
    assert!(
        scores[0].score <= 50.0 && scores[0].score > 49.9,
        "{:?}",
        scores[0]
    );
    assert!(!scores[0].qualified);
    assert_eq!(stages.len(), 1, "{stages:?}");
    let s = &stages[0];
    assert_eq!(
        (s.from, s.to, s.cause, s.at),
        (
            Some(Stage::Mql),
            Stage::Lead,
            StageCause::Decayed,
            scores[0].updated_at
        )
    );
    assert_eq!(p.open_timers(), 0);
}

#[test]
fn without_refresh_no_timer_runs_and_the_score_stays_as_published() {
    let d = desk("");
    let t0 = 1_795_000_000_000;
    let mut p = PartitionState::default();
    hot_lead(&mut p, &d, t0);
    assert_eq!(p.open_timers(), 0);
    assert!(fire_all(&mut p, &d, t0 + 60 * DAY).0.is_empty());
}

#[test]
fn the_refresh_timer_is_rebuilt_from_the_lead_state() {
    let d = desk("\n[refresh]\n");
    let t0 = 1_795_000_000_000;
    let mut p = PartitionState::default();
    hot_lead(&mut p, &d, t0);
    fire_all(&mut p, &d, t0 + 3 * DAY);
    p.store_mut().commit();
    let store = p.into_store();
    let mut restored = PartitionState::new(store);
    assert_eq!(restored.open_timers(), 1);
    let lead = restored.store().get("L-1").unwrap().clone();
    assert_eq!(restored.earliest_deadline(), lead.next_refresh_at);
    let (scores, _) = fire_all(&mut restored, &d, t0 + 4 * DAY);
    assert!(!scores.is_empty());
}

#[test]
fn a_bad_refresh_step_is_refused_with_its_line() {
    let text = model("\n[refresh]\nstep = 0\n");
    let e = Model::from_toml("m.toml", &text).unwrap_err().to_string();
    assert!(e.contains("`step` must be"), "{e}");
    let text = model("\n[refresh]\nstepp = 1\n");
    let e = Model::from_toml("m.toml", &text).unwrap_err().to_string();
    assert!(e.contains("unknown field `stepp`"), "{e}");
    let m = Model::from_toml("m.toml", &model("\n[refresh]\n")).unwrap();
    assert_eq!(
        m.refresh,
        Some(Refresh {
            step: 1.0,
            mql_to_lead: false
        })
    );
}

#[test]
fn a_model_without_refresh_stops_the_timers_of_one_with_it() {
    let t0 = 1_795_000_000_000;
    let mut p = PartitionState::default();
    hot_lead(&mut p, &desk("\n[refresh]\n"), t0);
    p.store_mut().commit();
    assert_eq!(p.open_timers(), 1);
    let (scores, _) = fire_all(&mut p, &desk(""), t0 + 60 * DAY);
    assert!(scores.is_empty());
    assert_eq!(p.open_timers(), 0);
}
