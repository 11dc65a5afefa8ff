//! The admission rule sarathi and vllm (v0) share: a request is admitted when its prompt's
//! blocks leave the watermark free, at most `cap` requests hold KV at once, and a micro-batch
//! holds at most `cap / PP` requests. [`Watermarked`] is that rule as a [`LegacyPolicy`]; each
//! scheduler supplies only how it forms batches ([`WatermarkBatcher`]).

use super::ReplicaContext;
use super::legacy::{LegacyCore, LegacyPolicy, micro_batch_size};
use crate::batch::BatchPlan;
use crate::request::{Request, RequestArena};

/// The limits a batch is formed within.
#[derive(Clone, Copy, Debug)]
pub struct WatermarkLimits {
    /// Most requests admitted (holding KV) at once.
    pub cap: usize,
    /// Most requests in one pipeline micro-batch.
    pub max_micro_batch_size: usize,
}

/// How a watermark-admission scheduler forms its batches.
pub trait WatermarkBatcher {
    /// Forms the next batch into `plan`, which is empty, within `limits`.
    fn next_batch(
        &mut self,
        limits: &WatermarkLimits,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    );
}

/// Watermark admission with batches formed by `B`.
#[derive(Clone, Debug)]
pub struct Watermarked<B> {
    limits: WatermarkLimits,
    batcher: B,
}

impl<B> Watermarked<B> {
    /// The rule with a batch-size cap of `cap` over `ctx`'s pipeline stages.
    pub fn new(ctx: &ReplicaContext, cap: u32, batcher: B) -> Watermarked<B> {
        let limits = WatermarkLimits { cap: cap as usize, max_micro_batch_size: micro_batch_size(cap, ctx) };
        Watermarked { limits, batcher }
    }
}

impl<B: WatermarkBatcher> LegacyPolicy for Watermarked<B> {
    fn check_admissible(&self, core: &LegacyCore, request: &Request) -> Result<(), String> {
        core.check_fits_with_watermark(request)
    }

    fn next_batch(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan) {
        self.batcher.next_batch(&self.limits, core, requests, plan);
    }

    fn admission_blocks(&self, core: &LegacyCore, request: &Request) -> u64 {
        core.blocks_with_watermark(request)
    }

    fn check_invariants(&self, core: &LegacyCore, requests: &RequestArena) -> Result<(), String> {
        core.check_within_cap(requests, self.limits.cap)
    }
}
