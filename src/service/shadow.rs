//! The challenger model in shadow (`[[shadow]]`, `core::shadow`) on the
//! broker: each lead event the champion scores is scored again under the
//! challenger, on the partition's shadow state. Its alerts go to
//! `shadow-alerts` and its state to the changelog (keys under
//! [`SHADOW_KEY_PREFIX`]), both in the event's transaction, so they commit
//! and abort with the champion's outputs and are restored with the
//! partition. Nothing the champion publishes depends on them.

use std::path::Path;
use std::sync::Arc;

use rdkafka::producer::BaseRecord;

use super::engine::Engine;
use super::outputs::Outputs;
use super::txn::TxnError;
use super::PipelineError;
use crate::codec;
use crate::config::Settings;
use crate::core::{shadow_key, Event, Model, Shadow};
use crate::telemetry;

#[cfg(doc)]
use crate::core::SHADOW_KEY_PREFIX;

/// The challenger of `[[shadow]]`, if the config names one.
pub(super) fn load(settings: &Settings) -> Result<Option<Shadow>, PipelineError> {
    let Some(entry) = settings.shadow.first() else {
        return Ok(None);
    };
    let model = read_model(&entry.model)?;
    tracing::info!(challenger = %model.version, path = %entry.model.display(), "scoring a challenger model in shadow");
    Ok(Some(Shadow::new(model)))
}

fn read_model(path: &Path) -> Result<Arc<Model>, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        PipelineError::Fatal(format!("cannot read shadow model {}: {e}", path.display()))
    })?;
    Model::from_toml(&path.display().to_string(), &text)
        .map(Arc::new)
        .map_err(|e| PipelineError::Fatal(format!("shadow model: {e}")))
}

impl Engine {
    /// Scores a lead event the champion has just applied under the
    /// challenger, and publishes the challenger's alert.
    pub(super) fn shadow_event(
        &mut self,
        partition: i32,
        event: &Event,
        champion_alerted: bool,
    ) -> Result<(), TxnError> {
        let Some(shadow) = &self.shadow else {
            return Ok(());
        };
        let store = self.shadows.entry(partition).or_default();
        let step = shadow.apply(store, event, champion_alerted);
        self.batch.shadow.observe(&step);
        let Some(alert) = &step.alert else {
            return Ok(());
        };
        let outputs = Outputs::new(
            &self.txn,
            &self.topics,
            self.format,
            &self.desk,
            &self.framing,
        )
        .for_model(&shadow.scorer().model().version);
        let payload = codec::encode_alert(alert, self.format);
        outputs.publish(&self.topics.shadow_alerts, &alert.lead_id, &payload)
    }

    /// Writes the shadow state the open transaction changed to its
    /// partition of the changelog.
    pub(super) fn publish_shadow(&self) -> Result<(), TxnError> {
        for (&partition, store) in &self.shadows {
            for (lead_id, staged) in store.staged() {
                self.txn.send(
                    BaseRecord::to(&self.topics.changelog)
                        .partition(partition)
                        .key(shadow_key(lead_id).as_bytes())
                        .payload(&codec::encode_state(lead_id, &staged.state)),
                )?;
            }
        }
        Ok(())
    }

    /// The transaction committed: so did the shadow state, and its alerts
    /// count.
    pub(super) fn shadow_committed(&mut self) {
        for store in self.shadows.values_mut() {
            store.commit();
        }
        if self.shadow.is_some() {
            telemetry::shadow_committed(&self.batch.shadow);
        }
    }

    /// True if the open transaction changed the shadow state of `partition`.
    pub(super) fn shadow_dirty(&self, partition: i32) -> bool {
        self.shadows.get(&partition).is_some_and(|s| s.is_dirty())
    }
}
