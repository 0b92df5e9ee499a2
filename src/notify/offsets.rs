//! Which offsets may be committed: per partition, records complete out of
//! order (a slow endpoint delays its own records only), and the committed
//! offset is the end of the contiguous completed prefix. Pure.

use std::collections::{BTreeMap, BTreeSet};

/// One partition's records in flight.
#[derive(Debug, Default)]
pub struct PartitionOffsets {
    in_flight: BTreeSet<i64>,
    /// The offset after the last record read.
    next: Option<i64>,
    committed: Option<i64>,
}

impl PartitionOffsets {
    /// A record was read and its deliveries started.
    pub fn started(&mut self, offset: i64) {
        self.in_flight.insert(offset);
        self.next = Some(self.next.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    /// A record is delivered or dead-lettered.
    pub fn finished(&mut self, offset: i64) {
        self.in_flight.remove(&offset);
    }

    /// Every record below the returned offset is finished: the oldest
    /// record still in flight, or the one after the last read.
    pub fn committable(&self) -> Option<i64> {
        self.in_flight.first().copied().or(self.next)
    }

    /// The offset to commit now, if it moved since the last commit.
    pub fn to_commit(&self) -> Option<i64> {
        self.committable().filter(|&c| Some(c) > self.committed)
    }

    pub fn mark_committed(&mut self, offset: i64) {
        self.committed = Some(offset);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// Every assigned partition of the notifier, keyed by (topic, partition).
/// A generation per partition drops completions of records read before a
/// partition was revoked and assigned again.
#[derive(Debug, Default)]
pub struct Offsets {
    pub partitions: BTreeMap<(String, i32), (u64, PartitionOffsets)>,
    generation: u64,
}

impl Offsets {
    /// The partition's current generation, starting to track it if new.
    pub fn generation(&mut self, topic: &str, partition: i32) -> u64 {
        let next = self.generation + 1;
        let entry = self
            .partitions
            .entry((topic.to_owned(), partition))
            .or_insert_with(|| (next, PartitionOffsets::default()));
        if entry.0 == next {
            self.generation = next;
        }
        entry.0
    }

    pub fn started(&mut self, topic: &str, partition: i32, offset: i64) -> u64 {
        let g = self.generation(topic, partition);
        self.partitions
            .get_mut(&(topic.to_owned(), partition))
            .expect("just added")
            .1
            .started(offset);
        g
    }

    /// A record finished; ignored when its partition moved meanwhile.
    pub fn finished(&mut self, topic: &str, partition: i32, offset: i64, generation: u64) {
        if let Some((g, p)) = self.partitions.get_mut(&(topic.to_owned(), partition)) {
            if *g == generation {
                p.finished(offset);
            }
        }
    }

    /// Stops tracking a revoked partition.
    pub fn revoke(&mut self, topic: &str, partition: i32) {
        self.partitions.remove(&(topic.to_owned(), partition));
    }

    /// (topic, partition, offset) of every partition whose commit moved.
    pub fn to_commit(&self) -> Vec<(String, i32, i64)> {
        self.partitions
            .iter()
            .filter_map(|((t, p), (_, o))| o.to_commit().map(|c| (t.clone(), *p, c)))
            .collect()
    }

    pub fn mark_committed(&mut self, commits: &[(String, i32, i64)]) {
        for (t, p, o) in commits {
            if let Some((_, po)) = self.partitions.get_mut(&(t.clone(), *p)) {
                po.mark_committed(*o);
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|(_, p)| p.in_flight()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_contiguous_finished_prefix_commits() {
        let mut p = PartitionOffsets::default();
        assert_eq!(p.to_commit(), None);
        for o in 10..15 {
            p.started(o);
        }
        assert_eq!(p.committable(), Some(10));
        p.finished(11);
        p.finished(13);
        assert_eq!(p.committable(), Some(10), "10 still in flight");
        p.finished(10);
        assert_eq!(p.committable(), Some(12));
        p.mark_committed(12);
        assert_eq!(p.to_commit(), None);
        p.finished(12);
        p.finished(14);
        assert_eq!(p.to_commit(), Some(15));
    }

    #[test]
    fn completions_from_before_a_revoke_are_ignored() {
        let mut o = Offsets::default();
        let g1 = o.started("t", 0, 5);
        o.revoke("t", 0);
        let g2 = o.started("t", 0, 5);
        assert_ne!(g1, g2);
        o.finished("t", 0, 5, g1);
        assert_eq!(o.to_commit(), vec![("t".to_owned(), 0, 5)]);
        o.finished("t", 0, 5, g2);
        assert_eq!(o.to_commit(), vec![("t".to_owned(), 0, 6)]);
        // Another partition is independent.
        o.started("t", 1, 0);
        assert_eq!(o.in_flight(), 1);
    }
}
