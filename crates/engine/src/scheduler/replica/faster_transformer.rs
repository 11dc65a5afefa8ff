//! `faster_transformer`: FasterTransformer's request-level static batching. A group of new
//! requests (each with a worst-case reservation) is formed only when no earlier group is ready
//! to run; a group is re-issued, minus its completed requests, every iteration until all its
//! requests are done, and its memory is released only then.
//!
//! Deliberate differences from Vidur (behaviour.md §5.5):
//! - the whole group's reservations are released when its last request completes (Vidur frees
//!   only the requests of the final iteration, leaking the blocks of those that finished
//!   earlier);
//! - the maximum sequence length is the model's `max_model_len` (Vidur: the workload's
//!   `max_tokens`, 4096), and a longer request reserves its own full length;
//! - the waiting queue is the configured request queue (FCFS or EDF).

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::legacy::{Legacy, LegacyCore, LegacyPolicy, Reservations, check_cap_covers_stages};
use super::{ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory};
use crate::batch::{Batch, BatchPlan};
use crate::config::{FlagDef, Params};
use crate::request::{Request, RequestArena, RequestId, RequestState};

pub(super) const FLAGS: &[FlagDef] = &[FlagDef::int(
    "faster_transformer_scheduler_config_batch_size_cap",
    "128",
    "Most requests in one static batch (also bounded by how many maximum-length sequences fit in a micro-batch's share of the KV cache).",
)];

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let cap = p.int_in("faster_transformer_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    check_cap_covers_stages(p, "faster_transformer_scheduler_config_batch_size_cap", cap);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        Box::new(FasterTransformerScheduler::new(ctx, cap)) as Box<dyn ReplicaScheduler>
    }))
}

/// The faster_transformer scheduler of one replica.
pub type FasterTransformerScheduler = Legacy<FasterTransformer>;

/// FasterTransformer's rules (see the module): static groups with worst-case reservations.
/// The core's admitted list holds every member of a live group, completed members included.
#[derive(Clone, Debug)]
pub struct FasterTransformer {
    reservations: Reservations,
    /// Live groups: their members in batch order.
    groups: FxHashMap<u64, Vec<RequestId>>,
    group_of: FxHashMap<RequestId, u64>,
    /// Groups not in flight, waiting for their next iteration, oldest first.
    ready: VecDeque<u64>,
    next_group: u64,
    /// Members of live groups not yet completed.
    num_incomplete: usize,
}

impl FasterTransformerScheduler {
    /// A scheduler with batch-size cap `cap`.
    pub fn new(ctx: &ReplicaContext, cap: u32) -> FasterTransformerScheduler {
        Legacy::with_policy(
            ctx,
            FasterTransformer {
                reservations: Reservations::new(ctx, cap),
                groups: FxHashMap::default(),
                group_of: FxHashMap::default(),
                ready: VecDeque::new(),
                next_group: 0,
                num_incomplete: 0,
            },
        )
    }
}

impl FasterTransformer {
    /// A new group from the queue head while reservations fit.
    fn new_group(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan) {
        self.reservations.admit_whole_prompts(core, requests, plan);
        if !plan.is_empty() {
            let group = self.next_group;
            self.next_group += 1;
            for &id in &plan.requests {
                self.group_of.insert(id, group);
            }
            self.num_incomplete += plan.len();
            self.groups.insert(group, plan.requests.clone());
        }
    }
}

impl LegacyPolicy for FasterTransformer {
    fn check_admissible(&self, core: &LegacyCore, request: &Request) -> Result<(), String> {
        core.check_fits(request)
    }

    fn next_batch(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan) {
        if let Some(group) = self.ready.pop_front() {
            for &id in &self.groups[&group] {
                let r = requests.get(id);
                if !r.is_completed() {
                    let n = r.next_num_tokens();
                    LegacyCore::schedule(plan, id, n, requests);
                }
            }
            debug_assert!(!plan.is_empty(), "a ready group has an unfinished request");
            return;
        }
        self.new_group(core, requests, plan);
    }

    fn admission_blocks(&self, _core: &LegacyCore, request: &Request) -> u64 {
        self.reservations.blocks_for(request)
    }

    fn on_batch_end(
        &mut self,
        core: &mut LegacyCore,
        batch: &Batch,
        _completed: &[RequestId],
        requests: &mut RequestArena,
    ) {
        let mut group = None;
        for &id in &batch.plan.requests {
            let r = requests.get(id);
            if r.is_completed() {
                self.num_incomplete -= 1;
            }
            group = self.group_of.get(&id).copied();
        }
        let Some(group) = group else { return };
        let members = &self.groups[&group];
        if !members.iter().all(|id| requests.get(*id).is_completed()) {
            self.ready.push_back(group);
            return;
        }
        // The whole group is done: release every member's reservation at once.
        let members = self.groups.remove(&group).unwrap_or_default();
        for id in members {
            core.ledger.free(id);
            self.group_of.remove(&id);
        }
        let group_of = &self.group_of;
        core.running.retain(|id| group_of.contains_key(id));
    }

    fn num_pending(&self, core: &LegacyCore) -> usize {
        core.waiting.len() + self.num_incomplete
    }

    fn evict_blocked(
        &mut self,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
    ) -> Option<(RequestId, String)> {
        // Unreachable (an idle replica holds no group, and add_request refused what cannot
        // fit an empty replica); kept as the engine's last line against a stall.
        let id = core.waiting.pop()?;
        let blocks = self.reservations.blocks_for(requests.get(id));
        Some((
            id,
            format!(
                "could not reserve {blocks} KV blocks with {} free of {} and nothing running",
                core.ledger.num_free(),
                core.ledger.num_blocks()
            ),
        ))
    }

    fn reads_ended_requests(&self) -> bool {
        // Groups keep their completed members until the whole group is done.
        true
    }

    fn check_invariants(&self, core: &LegacyCore, requests: &RequestArena) -> Result<(), String> {
        core.ledger.check()?;
        let members: usize = self.groups.values().map(Vec::len).sum();
        if members != core.ledger.num_requests() || members != core.running.len() {
            return Err(format!(
                "{members} group members but {} ledger entries and {} admitted requests",
                core.ledger.num_requests(),
                core.running.len()
            ));
        }
        let mut incomplete = 0;
        for group in self.groups.values() {
            for &id in group {
                let r = requests.get(id);
                let reserved = self.reservations.blocks_for(r);
                if core.ledger.blocks_of(id) != reserved {
                    return Err(format!(
                        "request {} holds {} blocks instead of its reservation of {reserved}",
                        id.0,
                        core.ledger.blocks_of(id)
                    ));
                }
                match r.state {
                    RequestState::Running => incomplete += 1,
                    RequestState::Completed => {}
                    other => return Err(format!("group member {} is {other:?}", id.0)),
                }
            }
        }
        if incomplete != self.num_incomplete {
            return Err(format!("{incomplete} unfinished group members but {} counted", self.num_incomplete));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    #[test]
    fn a_static_batch_reruns_until_all_its_requests_finish() {
        // 16-block reservations, 40 blocks: groups of at most 2.
        let mut h = Harness::new(Box::new(FasterTransformerScheduler::new(&ctx(40, 4, 1), 8)));
        let a = h.add(4, 3);
        let b = h.add(4, 1);
        let c = h.add(4, 2);
        assert_eq!(h.step(), [(a.0, 4), (b.0, 4)]);
        assert!(h.requests.get(b).is_completed());
        // B is done but the group goes on without it; C waits, and B's memory stays held.
        assert_eq!(h.step(), [(a.0, 1)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 32);
        assert_eq!(h.step(), [(a.0, 1)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0, "the whole group is released at once");
        assert_eq!(h.step(), [(c.0, 4)]);
        assert_eq!(h.step(), [(c.0, 1)]);
        assert_eq!(h.scheduler.num_pending(), 0);
    }

    #[test]
    fn pipeline_stages_run_separate_groups() {
        // 40 blocks hold 2 reservations; with 2 stages each group has at most 1 request.
        let mut h = Harness::new(Box::new(FasterTransformerScheduler::new(&ctx(40, 4, 2), 8)));
        let a = h.add(4, 2);
        let b = h.add(4, 3);
        let first = h.form();
        let second = h.form();
        assert_eq!(
            (first.plan.requests.as_slice(), second.plan.requests.as_slice()),
            ([a].as_slice(), [b].as_slice())
        );
        h.end(&first);
        h.end(&second);
        // Groups that are ready run in the order they became ready.
        assert_eq!(h.step(), [(a.0, 1)]);
        assert_eq!(h.step(), [(b.0, 1)]);
        assert_eq!(h.step(), [(b.0, 1)]);
        assert_eq!(h.scheduler.num_pending(), 0);
    }
}
