//! `orca`: Orca's iteration-level batching without chunking. Each iteration decodes every idle
//! admitted request (one token each), then admits new requests with their whole prompt while a
//! worst-case reservation (a maximum-length sequence's blocks) can be made for each; nothing is
//! ever preempted.
//!
//! Deliberate differences from Vidur (behaviour.md §5.5):
//! - the maximum sequence length is the model's `max_model_len` (Vidur used the workload's
//!   `max_tokens`, 4096), and a longer request reserves its own full length, so no request ever
//!   outgrows its reservation;
//! - idle requests are decoded in arrival order (Vidur: batch-end order);
//! - the waiting queue is the configured request queue (FCFS or EDF).

use std::sync::Arc;

use super::legacy::{Legacy, LegacyCore, LegacyPolicy, Reservations, check_cap_covers_stages};
use super::{ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory};
use crate::batch::BatchPlan;
use crate::config::{FlagDef, Params};
use crate::request::{Request, RequestArena};

pub(super) const FLAGS: &[FlagDef] = &[FlagDef::int(
    "orca_scheduler_config_batch_size_cap",
    "128",
    "Most requests in one batch (also bounded by how many maximum-length sequences fit in a micro-batch's share of the KV cache).",
)];

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let cap = p.int_in("orca_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    check_cap_covers_stages(p, "orca_scheduler_config_batch_size_cap", cap);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        Box::new(OrcaScheduler::new(ctx, cap)) as Box<dyn ReplicaScheduler>
    }))
}

/// The orca scheduler of one replica.
pub type OrcaScheduler = Legacy<Orca>;

/// Orca's rules (see the module): decode everyone, admit whole prompts with worst-case
/// reservations.
#[derive(Clone, Debug)]
pub struct Orca {
    reservations: Reservations,
}

impl OrcaScheduler {
    /// A scheduler with batch-size cap `cap`.
    pub fn new(ctx: &ReplicaContext, cap: u32) -> OrcaScheduler {
        Legacy::with_policy(ctx, Orca { reservations: Reservations::new(ctx, cap) })
    }
}

impl LegacyPolicy for Orca {
    fn check_admissible(&self, core: &LegacyCore, request: &Request) -> Result<(), String> {
        core.check_fits(request)
    }

    fn next_batch(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan) {
        for id in core.idle_running(requests) {
            if plan.len() >= self.reservations.max_batch_size {
                break;
            }
            debug_assert!(
                requests.get(id).is_prefill_complete,
                "orca prefills whole prompts in one iteration"
            );
            LegacyCore::schedule(plan, id, 1, requests);
        }
        self.reservations.admit_whole_prompts(core, requests, plan);
    }

    fn admission_blocks(&self, _core: &LegacyCore, request: &Request) -> u64 {
        self.reservations.blocks_for(request)
    }

    fn check_invariants(&self, core: &LegacyCore, requests: &RequestArena) -> Result<(), String> {
        core.check(requests, |r| self.reservations.blocks_for(r))?;
        for &id in &core.running {
            let held = core.ledger.blocks_of(id);
            let reserved = self.reservations.blocks_for(requests.get(id));
            if held != reserved {
                return Err(format!(
                    "request {} holds {held} blocks instead of its reservation of {reserved}",
                    id.0
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    #[test]
    fn decodes_everyone_and_admits_while_worst_case_reservations_fit() {
        // max_model_len 64 at 4 tokens per block: 16 blocks per request; 40 blocks hold 2.
        let mut h = Harness::new(Box::new(OrcaScheduler::new(&ctx(40, 4, 1), 8)));
        let a = h.add(5, 3);
        let b = h.add(7, 2);
        let c = h.add(3, 2);
        assert_eq!(h.step(), [(a.0, 5), (b.0, 7)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 32);
        // The batch is full (2), and no 16-block reservation fits in the 8 free blocks.
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
        // B finished and released its reservation: C joins A's decode with its whole prompt.
        assert_eq!(h.step(), [(a.0, 1), (c.0, 3)]);
        assert_eq!(h.step(), [(c.0, 1)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0);
        assert_eq!(h.requests.iter().map(|r| r.num_restarts).sum::<u32>(), 0, "orca never preempts");
    }

    #[test]
    fn a_request_longer_than_max_model_len_reserves_its_own_length() {
        let mut h = Harness::new(Box::new(OrcaScheduler::new(&ctx(40, 4, 1), 8)));
        let long = h.add(70, 2); // 72 tokens: 18 blocks > 16
        assert_eq!(h.step(), [(long.0, 70)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 18);
        let (_, refused) = h.add_at(9, 150, 20); // 43 blocks > 40
        assert!(refused.is_err());
        h.drain(4);
    }
}
