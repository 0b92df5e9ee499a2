//! A model file: refused with errors that point at a line and column of
//! the file, or loaded as a model that scores every kind of event to a
//! finite score.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use leadpulse_core::{LeadState, Model, Scorer};
use leadpulse_fuzz::{check_file_error, EVENTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Model::from_toml("model.toml", text) {
        Err(e) => check_file_error(&e, "model.toml", text),
        Ok(model) => {
            let lines = text.split('\n').count();
            for w in model.warnings() {
                assert!((1..=lines).contains(&w.line) && w.column >= 1, "{w}");
            }
            let scorer = Scorer::new(Arc::new(model));
            let mut leads = BTreeMap::<&str, LeadState>::new();
            for event in EVENTS.iter() {
                let lead = leads.entry(&event.lead_id).or_default();
                scorer.apply(lead, event);
                let score = scorer.score_at(lead, event.occurred_at);
                assert!(score.is_finite(), "score {score} after {event:?}");
            }
            for (id, lead) in &leads {
                let _ = scorer.score_of(id, lead);
            }
        }
    }
});
