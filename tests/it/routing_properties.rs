//! Routing balance: with N reps and a skewed stream of leads, the spread
//! between reps stays within a stated bound, in count and in average grade.
//!
//! The bound (docs/routing.md): routing balance is kept per partition, and
//! within a partition each grade's counts of any two available reps differ
//! by at most 1. Over P partitions, per grade they differ by at most P, in
//! total by at most 4P, and average grades (A=1 … D=4) by at most
//! 12P / the smaller rep's lead count.

use std::collections::BTreeMap;

use leadpulse::core::{Grade, Roster, RoutingState};
use proptest::prelude::*;

fn roster(reps: usize, unavailable: usize) -> Roster {
    let mut text = String::from("[[team]]\nid = \"t\"\nlead = \"boss\"\n");
    for i in 0..reps {
        text.push_str(&format!("[[team.rep]]\nid = \"r{i}\"\n"));
    }
    for i in 0..unavailable {
        text.push_str(&format!(
            "[[team.rep]]\nid = \"off{i}\"\navailable = false\n"
        ));
    }
    Roster::from_toml("roster.toml", &text).unwrap()
}

/// A skewed grade stream: mostly A and B, some C and D.
fn grade() -> impl Strategy<Value = Grade> {
    prop_oneof![60 => Just(Grade::A), 25 => Just(Grade::B), 10 => Just(Grade::C), 5 => Just(Grade::D)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn spread_between_reps_stays_within_the_bound(
        reps in 2usize..7,
        unavailable in 0usize..3,
        partitions in 1usize..5,
        leads in prop::collection::vec((grade(), 0usize..1_000), 20..600),
    ) {
        let roster = roster(reps, unavailable);
        let mut states = vec![RoutingState::default(); partitions];
        let attrs = leadpulse::core::Attributes::default();
        let mut per_rep: BTreeMap<String, [u32; 4]> = BTreeMap::new();
        for (g, key) in &leads {
            let p = key % partitions;
            let owner = roster.route(&mut states[p], &attrs, None, *g, None, None);
            prop_assert!(owner.rep.starts_with('r'), "unavailable reps get no leads ({})", owner.rep);
            per_rep.entry(owner.rep.to_string()).or_default()[*g as usize] += 1;
        }
        let p = partitions as u32;
        let all: Vec<[u32; 4]> = (0..reps).map(|i| per_rep.get(&format!("r{i}")).copied().unwrap_or_default()).collect();
        for a in &all {
            for b in &all {
                for g in 0..4 {
                    prop_assert!(a[g].abs_diff(b[g]) <= p, "grade {}: {:?} vs {:?}", g, a, b);
                }
                let (ta, tb): (u32, u32) = (a.iter().sum(), b.iter().sum());
                prop_assert!(ta.abs_diff(tb) <= 4 * p, "totals {} vs {}", ta, tb);
                if ta > 0 && tb > 0 {
                    let avg = |c: &[u32; 4], t: u32| c.iter().enumerate().map(|(i, n)| (i as f64 + 1.0) * f64::from(*n)).sum::<f64>() / f64::from(t);
                    let bound = 12.0 * f64::from(p) / f64::from(ta.min(tb));
                    prop_assert!((avg(a, ta) - avg(b, tb)).abs() <= bound, "average grades {} vs {} (bound {})", avg(a, ta), avg(b, tb), bound);
                }
            }
        }
    }
}
