//! An MoE layer deployed over many GPUs (`docs/policies.md`, "MoE as deployed"): the exchange
//! that carries tokens to the GPUs holding their experts and back (expert parallelism's
//! all-to-all, or attention data parallelism's gather and scatter), the busiest expert-parallel
//! rank's load under a routing distribution (the slowest rank sets the step), and how one
//! replica's batch spreads over its attention-DP ranks.

use super::cost::{ACT_BYTES, AlphaBeta, Collective};
use super::{BatchItem, Op};
use crate::catalog::NodeSpec;
use crate::config::ParallelSpec;

/// How the tokens reach the experts and the results come back, as the engines run it at their
/// defaults (`docs/policies.md`, "Exchange").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeKind {
    /// Attention TP with EP (attention DP 1): after the attention all-reduce every GPU of the
    /// TP group holds every token, so nothing is dispatched; each GPU runs its own experts on
    /// them and one all-reduce over the group sums the results (SGLang's `--moe-a2a-backend`
    /// default `none`, vLLM's all-to-all managers only with DP > 1, TensorRT-LLM's
    /// `select_alltoall_method_type` `NotEnabled` at `dp_size == 1`).
    AllReduce,
    /// Attention DP without a one-sided all-to-all: every GPU all-gathers the other DP ranks'
    /// tokens before the experts and reduce-scatters the sums after (vLLM's `--all2all-backend`
    /// default `allgather_reducescatter`; TensorRT-LLM off multi-node NVLink; SGLang's DP
    /// attention gather/scatter with the `none` backend).
    GatherScatter,
    /// A token-level all-to-all that sends each token once to each rank its picks reach
    /// (TensorRT-LLM's MNNVL / NVLinkOneSided all-to-all under attention DP on a multi-node
    /// NVLink rack; DeepEP).
    AllToAll,
}

impl ExchangeKind {
    /// The exchange `parallel` runs on `node`; plain TP (EP 1, attention DP 1) is the TP
    /// group's all-reduce.
    pub fn of(parallel: ParallelSpec, node: &NodeSpec) -> ExchangeKind {
        let ep = parallel.expert_parallel_size.max(1);
        let dp = parallel.attention_dp_size.max(1);
        if dp == 1 {
            ExchangeKind::AllReduce
        } else if ep > 1
            && node.devices_per_node > MNNVL_DOMAIN_GPUS
            && parallel.expert_tensor_parallel_size() == 1
        {
            // TensorRT-LLM's one-sided all-to-all needs multi-node NVLink and no MoE TP
            // (`select_alltoall_method_type`); with expert TP it gathers and reduce-scatters.
            ExchangeKind::AllToAll
        } else {
            ExchangeKind::GatherScatter
        }
    }

    /// Kernels an eager step launches for this exchange in each MoE layer: the TP group's one
    /// all-reduce, the all-gather and the reduce-scatter, or the all-to-all's layout, dispatch
    /// and combine.
    pub fn launches(self) -> f64 {
        match self {
            ExchangeKind::AllReduce => 1.0,
            ExchangeKind::GatherScatter => 2.0,
            ExchangeKind::AllToAll => 3.0,
        }
    }

    /// The op this exchange's time is reported under, named for the collective it is (the op
    /// breakdown, the per-op CDFs and the Chrome trace show what was timed).
    pub fn op(self) -> Op {
        match self {
            ExchangeKind::AllReduce => Op::MoeAllReduce,
            ExchangeKind::GatherScatter => Op::MoeAllGatherReduceScatter,
            ExchangeKind::AllToAll => Op::MoeAllToAll,
        }
    }
}

/// What moves between GPUs around one MoE layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoeExchange {
    kind: ExchangeKind,
    /// Expert-parallel ranks.
    ep: f64,
    /// Attention-DP ranks.
    dp: f64,
    /// GPUs of one attention-DP rank (its tokens are split over them before the dispatch).
    attention_tp: f64,
    /// Experts per token.
    top_k: f64,
    /// Hidden size.
    hidden: f64,
    /// Of a GPU's remote peers (other EP ranks, or other DP ranks for the gather), the share
    /// inside its NVLink domain (a node, or an NVL72 rack); the rest cross the RDMA network.
    nvlink_share: f64,
    nvlink: AlphaBeta,
    rdma: AlphaBeta,
    /// The node's measured NCCL all-reduce over the DP ranks' GPUs, when they are all in one
    /// node and the calibration has that GPU count: the gather and reduce-scatter of the step's
    /// tokens take one all-reduce of them (a ring all-reduce is a reduce-scatter and an
    /// all-gather of the same buffer).
    gather_scatter: Option<Collective>,
}

/// GPUs of one NVLink domain beyond which it is a multi-node NVLink rack (NVL72), where
/// TensorRT-LLM's all-to-all is available (`MnnvlMemory.supports_mnnvl()`); an 8-GPU HGX/DGX
/// board is not one.
const MNNVL_DOMAIN_GPUS: u32 = 8;

impl MoeExchange {
    /// The exchange of `parallel` on `node` for a model of `hidden` size and `top_k` experts
    /// per token. The stage's GPUs are numbered consecutively, an attention-DP rank being
    /// `TP` consecutive GPUs and an EP rank `expert TP` of them, and fill NVLink domains of
    /// `devices_per_node` GPUs in order. `nccl_all_reduce` gives the node's calibrated NCCL
    /// all-reduce for a GPU count, if measured.
    pub fn new(
        parallel: ParallelSpec,
        node: &NodeSpec,
        hidden: f64,
        top_k: f64,
        nccl_all_reduce: impl Fn(u32) -> Option<Collective>,
    ) -> MoeExchange {
        let stage = parallel.stage_size().max(1);
        let ep = parallel.expert_parallel_size.max(1);
        let dp = parallel.attention_dp_size.max(1);
        let tp = parallel.tensor_parallel_size.max(1);
        let domain = stage.min(node.devices_per_node.max(1));
        let kind = ExchangeKind::of(parallel, node);
        // Peers of one GPU: the other EP ranks, or the same-TP-index GPU of each other DP rank.
        let (peers, peers_in_domain) = match kind {
            ExchangeKind::AllToAll => {
                let ranks_in_domain = (domain / parallel.expert_tensor_parallel_size()).max(1);
                (ep - 1, ranks_in_domain - 1)
            }
            ExchangeKind::GatherScatter => (dp - 1, (domain / tp).max(1) - 1),
            ExchangeKind::AllReduce => (0, 0),
        };
        let gather_scatter = (kind == ExchangeKind::GatherScatter && peers == peers_in_domain)
            .then(|| nccl_all_reduce(dp))
            .flatten();
        MoeExchange {
            kind,
            ep: f64::from(ep),
            dp: f64::from(dp),
            attention_tp: f64::from(tp),
            top_k,
            hidden,
            nvlink_share: if peers == 0 { 1.0 } else { f64::from(peers_in_domain) / f64::from(peers) },
            nvlink: AlphaBeta {
                alpha_us: node.intra_node_latency_us,
                beta_gbps: node.intra_node_bandwidth_gbps,
            },
            rdma: AlphaBeta {
                alpha_us: node.inter_node_latency_us,
                beta_gbps: node.inter_node_bandwidth_gbps,
            },
            gather_scatter,
        }
    }

    /// Which exchange this deployment runs.
    pub fn kind(&self) -> ExchangeKind {
        self.kind
    }

    /// Other EP ranks one token's `top_k` picks reach, in expectation under uniform routing:
    /// a token goes once to each rank holding one of its experts (DeepEP, TensorRT-LLM and
    /// vLLM's all-to-all kernels send one copy per destination rank), and it reaches
    /// `ep·(1 − (1 − 1/ep)^k)` ranks, its own with probability `1 − (1 − 1/ep)^k`.
    pub fn remote_ranks_per_token(&self) -> f64 {
        (self.ep - 1.0) * (1.0 - libm::pow(1.0 - 1.0 / self.ep, self.top_k))
    }

    /// Bytes one GPU receives in one direction (the dispatch or gather; the combine or
    /// reduce-scatter moves as many) when its attention-DP rank holds `rank_tokens` tokens of a
    /// step that holds `total_tokens`. All-to-all: a rank's tokens are split over its
    /// attention-TP GPUs and each sends its share to the other ranks its tokens' experts sit
    /// on. Gather/scatter: every GPU needs the other DP ranks' tokens. All-reduce: none (the
    /// all-reduce is timed by the engine's all-reduce kernel, [`MoeExchange::time_us`]).
    pub fn bytes_per_gpu(&self, rank_tokens: f64, total_tokens: f64) -> f64 {
        match self.kind {
            ExchangeKind::AllToAll => {
                rank_tokens / self.attention_tp * self.remote_ranks_per_token() * self.hidden * ACT_BYTES
            }
            ExchangeKind::GatherScatter => total_tokens * (self.dp - 1.0) / self.dp * self.hidden * ACT_BYTES,
            ExchangeKind::AllReduce => 0.0,
        }
    }

    /// µs of one MoE layer's exchange, both directions, for the busiest GPU: NVLink and RDMA
    /// carry their shares of the bytes at once, so each direction takes the slower of the two.
    /// Under [`ExchangeKind::AllReduce`] it is `all_reduce_us`, the TP group's all-reduce of
    /// the rank's tokens that a dense layer pays too; a gather and reduce-scatter inside one
    /// node with a calibrated NCCL all-reduce for its GPU count takes that all-reduce of the
    /// step's tokens (AIConfigurator's NCCL tables on 8 H200s: all-gather + reduce-scatter of
    /// 8-16k tokens of 7168 take 1.1-1.4× the all-reduce of them, the link model 0.5-0.8×;
    /// VALIDATION.md, "The MoE exchange as the engines run it").
    pub fn time_us(&self, rank_tokens: f64, total_tokens: f64, all_reduce_us: f64) -> f64 {
        if self.kind == ExchangeKind::AllReduce {
            return all_reduce_us;
        }
        if let Some(measured) = self.gather_scatter {
            return measured.time_us(total_tokens * self.hidden * ACT_BYTES);
        }
        let bytes = self.bytes_per_gpu(rank_tokens, total_tokens);
        let one_way = self
            .nvlink
            .time_us(bytes * self.nvlink_share)
            .max(self.rdma.time_us(bytes * (1.0 - self.nvlink_share)));
        2.0 * one_way
    }
}

/// The busiest expert-parallel rank's share of a step's expert work.
///
/// Experts are ranked by popularity, expert `i` drawing a share ∝ (i + 1)^−α of the picks
/// (α = 0: uniform), and placed on ranks round-robin by popularity (rank r holds popularity
/// ranks r, r + EP, ...), as an expert-placement balancer would: rank 0 is the busiest, with a
/// share `s` of the picks. Of a step's `P = tokens · top_k` picks, each rank's count is
/// random; the expected maximum over `EP` ranks is taken as `P·s + σ·m(EP)`, at most `P`: σ the
/// standard deviation of a rank's count (`√(P·s·(1 − s)·(E − k)/(E − 1))`: each token's k
/// distinct picks draw a rank's experts without replacement) and `m(EP)` the expected maximum
/// of EP standard normal draws (1.03 at EP 4, 1.42 at 8, 2.07 at 32; not the asymptotic bound
/// `√(2 ln EP)`, 1.67 / 2.04 / 2.63, which over-loads the busiest rank most at small EP).
/// Balanced routing gives every rank exactly `P / EP`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankLoad {
    top_k: f64,
    /// Routed experts on one rank.
    experts_per_rank: f64,
    /// The busiest rank's expected share of the picks.
    busiest_share: f64,
    /// σ² per pick (`s·(1 − s)·(E − k)/(E − 1)`) for random routing, 0 for balanced.
    variance: f64,
    /// Expected maximum of EP standard normal draws (0 for balanced routing).
    spread: f64,
}

impl RankLoad {
    /// The load of `experts` experts with `top_k` per token over `ep` ranks: `power_law_alpha`
    /// of random routing (`Some(0.0)` = uniform), or `None` for perfectly balanced picks.
    pub fn new(experts: f64, top_k: f64, ep: u32, power_law_alpha: Option<f64>) -> RankLoad {
        let ep = ep.max(1) as usize;
        let n = (experts.max(1.0) as usize).max(ep);
        let (busiest_share, variance, spread) = match power_law_alpha {
            None => (1.0 / ep as f64, 0.0, 0.0),
            Some(alpha) => {
                let weights: Vec<f64> = (0..n).map(|i| libm::pow(i as f64 + 1.0, -alpha)).collect();
                let total: f64 = weights.iter().sum();
                let s = weights.iter().step_by(ep).sum::<f64>() / total;
                let without_replacement =
                    if n > 1 { (n as f64 - top_k).max(0.0) / (n as f64 - 1.0) } else { 0.0 };
                (s, s * (1.0 - s) * without_replacement, expected_max_of_normals(ep))
            }
        };
        RankLoad { top_k, experts_per_rank: n as f64 / ep as f64, busiest_share, variance, spread }
    }

    /// The busiest rank's expected share of the picks.
    pub fn busiest_share(&self) -> f64 {
        self.busiest_share
    }

    /// Expected picks (token-expert pairs) on the busiest rank when the step routes `tokens`
    /// tokens.
    pub fn busiest_picks(&self, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        let picks = tokens * self.top_k;
        let mean = picks * self.busiest_share;
        (mean + libm::sqrt(picks * self.variance) * self.spread).min(picks)
    }

    /// Distinct experts `picks` picks reach among one rank's experts, spread uniformly over
    /// them: `m·(1 − (1 − 1/m)^picks)`; only these load their weights.
    pub fn experts_reached(&self, picks: f64) -> f64 {
        if picks <= 0.0 {
            return 0.0;
        }
        let m = self.experts_per_rank;
        if m <= 1.0 {
            return 1.0;
        }
        (m * (1.0 - libm::pow(1.0 - 1.0 / m, picks))).max(1.0)
    }
}

/// Expected maximum of `n` independent standard normal draws, `∫ x·n·φ(x)·Φ(x)^(n−1) dx`
/// (midpoint rule over ±8σ): 0 for one draw, 0.564 for two, 1.029 for four, 2.070 for 32.
fn expected_max_of_normals(n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let (steps, lo, hi) = (1600, -8.0, 8.0);
    let dx = (hi - lo) / steps as f64;
    let inv_sqrt_2pi = 1.0 / libm::sqrt(2.0 * core::f64::consts::PI);
    (0..steps)
        .map(|i| {
            let x = lo + (i as f64 + 0.5) * dx;
            let pdf = inv_sqrt_2pi * libm::exp(-0.5 * x * x);
            let cdf = 0.5 * libm::erfc(-x / core::f64::consts::SQRT_2);
            x * n as f64 * pdf * libm::pow(cdf, n as f64 - 1.0) * dx
        })
        .sum()
}

/// One attention-DP rank's part of a step: its requests' tokens, sequences and attention work.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RankBatch {
    /// The rank's items.
    pub items: Vec<BatchItem>,
    /// Their tokens.
    pub tokens: u64,
}

/// Spreads a replica's batch over `ranks` attention-DP ranks. An item whose scheduler gave it
/// a rank ([`BatchItem::dp_rank`]: SGLang's and TensorRT-LLM's attention-DP schedulers, one
/// scheduler per rank) runs on that rank, however loaded the dispatch left it (SGLang's
/// prefill server draws a request's rank from its bootstrap room at random,
/// `follow_bootstrap_room`); the others each go to the rank with the fewest tokens so far (the
/// first of equals), in batch order: a scheduler that forms one batch for the replica leaves
/// the ranks to serve its requests as evenly as their tokens allow. Reuses `out`.
pub fn spread_over_ranks(batch: &[BatchItem], ranks: usize, out: &mut Vec<RankBatch>) {
    out.resize_with(ranks.max(1), RankBatch::default);
    for rank in out.iter_mut() {
        rank.items.clear();
        rank.tokens = 0;
    }
    // Assigned items first, so the unassigned fill around them.
    let n = out.len();
    for item in batch.iter().filter(|item| usize::from(item.dp_rank) < n) {
        let rank = &mut out[usize::from(item.dp_rank)];
        rank.items.push(*item);
        rank.tokens += u64::from(item.num_tokens);
    }
    for item in batch.iter().filter(|item| usize::from(item.dp_rank) >= n) {
        let (index, _) =
            out.iter().enumerate().min_by_key(|(i, r)| (r.tokens, *i)).expect("at least one rank");
        out[index].items.push(*item);
        out[index].tokens += u64::from(item.num_tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn parallel(tp: u32, dp: u32, ep: u32) -> ParallelSpec {
        ParallelSpec {
            tensor_parallel_size: tp,
            num_pipeline_stages: 1,
            expert_parallel_size: ep,
            attention_dp_size: dp,
        }
    }

    #[test]
    fn deepseek_dispatch_over_eight_gpus_of_an_nvl72_rack_takes_its_hand_computed_time() {
        // DeepSeek-V3: hidden 7168, top-8. EP 8 × DP 8 in a gb200_nvl72 rack (900 GB/s, 8 µs):
        // a multi-node NVLink domain, where the all-to-all runs.
        let rack = catalog::find_node("gb200_nvl72").unwrap();
        let x = MoeExchange::new(parallel(1, 8, 8), rack, 7168.0, 8.0, |_| None);
        assert_eq!(x.kind(), ExchangeKind::AllToAll);
        // Remote ranks per token: 7 · (1 − (7/8)^8) = 7 · 0.656391 = 4.594738.
        let remote = 7.0 * (1.0 - 0.875f64.powi(8));
        assert!((x.remote_ranks_per_token() - remote).abs() < 1e-12);
        // 64 tokens on the rank: 64 · 4.594738 · 7168 · 2 B = 4,215,690 B per direction, all
        // over NVLink: 8 µs + 4,215,690 B / 900 GB/s = 12.684 µs; dispatch + combine 25.368 µs.
        let bytes = 64.0 * remote * 7168.0 * 2.0;
        assert!((x.bytes_per_gpu(64.0, 512.0) - bytes).abs() < 1e-6);
        assert!((bytes - 4_215_690.0).abs() < 1.0, "{bytes}");
        let expected = 2.0 * (8.0 + bytes / 900e3);
        assert!((x.time_us(64.0, 512.0, 0.0) - expected).abs() < 1e-9);
        assert!((expected - 25.368).abs() < 1e-3, "{expected}");
    }

    #[test]
    fn expert_tp_on_an_nvl72_rack_gathers_and_reduce_scatters_instead_of_the_all_to_all() {
        // TP 1 × DP 16 × EP 8 leaves expert TP 2 (16 GPUs, 8 EP ranks): TensorRT-LLM's
        // all-to-all needs no MoE TP, so the ranks gather and reduce-scatter even in a rack.
        let rack = catalog::find_node("gb200_nvl72").unwrap();
        let p = parallel(1, 16, 8);
        assert_eq!(p.expert_tensor_parallel_size(), 2);
        let x = MoeExchange::new(p, rack, 7168.0, 8.0, |_| None);
        assert_eq!(x.kind(), ExchangeKind::GatherScatter);
        // Without expert TP (EP 16) the same rack runs the all-to-all.
        let x = MoeExchange::new(parallel(1, 16, 16), rack, 7168.0, 8.0, |_| None);
        assert_eq!(x.kind(), ExchangeKind::AllToAll);
    }

    #[test]
    fn deepseek_attention_dp_on_an_eight_gpu_node_gathers_and_reduce_scatters() {
        // The same EP 8 × DP 8 on one h100_dgx (450 GB/s, 10 µs), no multi-node NVLink: every
        // GPU gathers the other 7 ranks' tokens. 512 tokens in the step: 448 · 7168 · 2 B =
        // 6,422,528 B each way; 10 µs + 6,422,528 B / 450 GB/s = 24.272 µs; both ways 48.545 µs.
        let node = catalog::find_node("h100_dgx").unwrap();
        let x = MoeExchange::new(parallel(1, 8, 8), node, 7168.0, 8.0, |_| None);
        assert_eq!(x.kind(), ExchangeKind::GatherScatter);
        assert!((x.bytes_per_gpu(64.0, 512.0) - 6_422_528.0).abs() < 1e-6);
        let expected = 2.0 * (10.0 + 6_422_528.0 / 450e3);
        assert!((x.time_us(64.0, 512.0, 0.0) - expected).abs() < 1e-9);
        assert!((expected - 48.545).abs() < 1e-3, "{expected}");
    }

    #[test]
    fn a_gather_inside_a_node_takes_its_calibrated_nccl_all_reduce() {
        // EP 8 × DP 8 on one h200_dgx with data/calibration.json's NCCL all-reduce for 8 GPUs
        // (AIC h200_sxm nccl_allreduce_fp16.csv: 17.475 µs + B / 125.23 GB/s, or 63.302 µs +
        // B / 267.59 GB/s, the faster). 512 tokens of 7168 × 2 B = 7,340,032 B: 17.475 + 58.612
        // = 76.087 µs against 63.302 + 27.430 = 90.732 µs: 76.087 µs. AIC's all-gather +
        // reduce-scatter of that buffer (nccl_allgather/reducescatter_fp16.csv, 8 GPUs,
        // between the 4 MiB and 8 MiB rows) is ≈ 85 µs, the link model 48.5 µs.
        let node = catalog::find_node("h200_dgx").unwrap();
        let cal = crate::exec::calibration::Calibration::embedded().node("h200_dgx").unwrap();
        let x = MoeExchange::new(parallel(1, 8, 8), node, 7168.0, 8.0, |g| cal.all_reduce(g));
        let t = x.time_us(64.0, 512.0, 0.0);
        assert!((t - 76.087).abs() < 0.01, "{t}");
        // Across nodes the DP ranks do not share one node's fit: the link model.
        let two = MoeExchange::new(parallel(1, 16, 16), node, 7168.0, 8.0, |g| cal.all_reduce(g));
        let bytes = two.bytes_per_gpu(32.0, 512.0);
        assert!((two.time_us(32.0, 512.0, 0.0) - 2.0 * (20.0 + bytes * 8.0 / 15.0 / 50e3)).abs() < 1e-9);
    }

    #[test]
    fn attention_tp_with_ep_all_reduces_the_expert_sums() {
        // TP 8 with EP 8 (attention DP 1): every GPU already holds every token; the exchange is
        // the TP group's all-reduce the caller times, and nothing is dispatched.
        let node = catalog::find_node("h200_dgx").unwrap();
        let x = MoeExchange::new(parallel(8, 1, 8), node, 7168.0, 8.0, |_| None);
        assert_eq!(x.kind(), ExchangeKind::AllReduce);
        assert_eq!(x.bytes_per_gpu(64.0, 64.0), 0.0);
        assert_eq!(x.time_us(64.0, 64.0, 17.5), 17.5);
        // Even in a rack: the engines dispatch only under attention DP.
        let rack = catalog::find_node("gb200_nvl72").unwrap();
        assert_eq!(
            MoeExchange::new(parallel(8, 1, 8), rack, 7168.0, 8.0, |_| None).kind(),
            ExchangeKind::AllReduce
        );
    }

    #[test]
    fn an_exchange_across_nodes_waits_for_the_rdma_share() {
        // EP 16 × DP 16 over two h100 nodes: of a GPU's 15 peer ranks 7 share its node, 8 are
        // across RDMA (50 GB/s, 20 µs), which is the slower side; it gathers 15/16 of the step.
        let node = catalog::find_node("h100_dgx").unwrap();
        let x = MoeExchange::new(parallel(1, 16, 16), node, 7168.0, 8.0, |_| None);
        let bytes = x.bytes_per_gpu(32.0, 512.0);
        assert!((bytes - 480.0 * 7168.0 * 2.0).abs() < 1e-6);
        let rdma = 20.0 + bytes * 8.0 / 15.0 / 50e3;
        assert!((x.time_us(32.0, 512.0, 0.0) - 2.0 * rdma).abs() < 1e-9);
        // The same EP inside one NVL72 rack stays on NVLink, as an all-to-all.
        let rack = catalog::find_node("gb200_nvl72").unwrap();
        let inside = MoeExchange::new(parallel(1, 16, 16), rack, 7168.0, 8.0, |_| None);
        let sent = inside.bytes_per_gpu(32.0, 512.0);
        assert!((inside.time_us(32.0, 512.0, 0.0) - 2.0 * (8.0 + sent / 900e3)).abs() < 1e-9);
        // TP 4 × DP 4 on 8-GPU nodes: a GPU gathers from the same-TP-index GPU of the 3 other
        // ranks, one of them in its node.
        let tp4 = MoeExchange::new(parallel(4, 4, 16), node, 7168.0, 8.0, |_| None);
        let gathered = tp4.bytes_per_gpu(16.0, 64.0);
        assert!((gathered - 48.0 * 7168.0 * 2.0).abs() < 1e-6);
        let slower = (10.0 + gathered / 3.0 / 450e3).max(20.0 + gathered * 2.0 / 3.0 / 50e3);
        assert!((tp4.time_us(16.0, 64.0, 0.0) - 2.0 * slower).abs() < 1e-9);
    }

    #[test]
    fn attention_dp_without_ep_gathers_every_rank_tokens() {
        let node = catalog::find_node("h100_dgx").unwrap();
        let x = MoeExchange::new(parallel(1, 4, 1), node, 2880.0, 4.0, |_| None);
        assert_eq!(x.kind(), ExchangeKind::GatherScatter);
        // 4 GPUs, 100 tokens in the step: each GPU receives 3/4 of them, 2880 × 2 B each.
        assert!((x.bytes_per_gpu(25.0, 100.0) - 75.0 * 2880.0 * 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_busiest_rank_carries_its_share_plus_the_spread_of_random_picks() {
        let balanced = RankLoad::new(256.0, 8.0, 8, None);
        assert_eq!(balanced.busiest_picks(64.0), 64.0);
        let uniform = RankLoad::new(256.0, 8.0, 8, Some(0.0));
        assert!((uniform.busiest_share() - 0.125).abs() < 1e-12);
        // 512 picks, 64 expected per rank; σ² = 512 · 1/8 · 7/8 · 248/255 = 54.46, and the
        // largest of 8 normal draws lies 1.4236 σ above the mean: 64 + 7.380 · 1.4236 = 74.51.
        let expected = 64.0 + libm::sqrt(512.0 * 0.125 * 0.875 * 248.0 / 255.0) * 1.4236;
        assert!((uniform.busiest_picks(64.0) - expected).abs() < 1e-2, "{}", uniform.busiest_picks(64.0));
        // A skewed router loads the rank of the most popular experts more.
        let skewed = RankLoad::new(256.0, 8.0, 8, Some(1.2));
        assert!(skewed.busiest_share() > 0.125 && skewed.busiest_picks(64.0) > expected);
        // Never more than every pick; one rank holds them all.
        assert_eq!(RankLoad::new(8.0, 2.0, 1, Some(0.0)).busiest_picks(10.0), 20.0);
        // 32 experts per rank reached by 8 picks: 32 · (1 − (31/32)^8) = 7.18.
        assert!((uniform.experts_reached(8.0) - 32.0 * (1.0 - (31.0f64 / 32.0).powi(8))).abs() < 1e-9);
    }

    #[test]
    fn the_busiest_of_few_ranks_is_the_expected_maximum_not_the_asymptotic_bound() {
        // Tabulated expected maxima of n standard normal draws.
        for (n, m) in
            [(1, 0.0), (2, 0.5642), (4, 1.0294), (8, 1.4236), (16, 1.7660), (32, 2.0697), (64, 2.3437)]
        {
            assert!((expected_max_of_normals(n) - m).abs() < 1e-3, "{n}: {}", expected_max_of_normals(n));
        }
        // Kimi-K2.5's shape at EP 4, 4 tokens (32 picks, 8 a rank on average): the busiest rank
        // carries 8 + 2.43 · 1.029 = 10.5 picks, not the 12.7 of √(P/EP)·√(2 ln EP).
        let load = RankLoad::new(384.0, 8.0, 4, Some(0.0));
        let busiest = load.busiest_picks(4.0);
        assert!(
            (busiest - 10.5).abs() < 0.1 && busiest < 8.0 + libm::sqrt(8.0 * 2.0 * libm::log(4.0)),
            "{busiest}"
        );
    }

    #[test]
    fn a_batch_spreads_over_ranks_by_tokens() {
        let item = |t: u32, prefill: bool| BatchItem::new(0, t, prefill);
        let batch = [item(1000, true), item(1, false), item(1, false), item(1, false), item(500, true)];
        let mut ranks = Vec::new();
        spread_over_ranks(&batch, 2, &mut ranks);
        assert_eq!(ranks[0].items, vec![item(1000, true)]);
        assert_eq!(ranks[1].items, vec![item(1, false), item(1, false), item(1, false), item(500, true)]);
        assert_eq!((ranks[0].tokens, ranks[1].tokens), (1000, 503));
    }

    #[test]
    fn items_the_scheduler_put_on_a_rank_stay_there_the_others_fill_around_them() {
        let item = |t: u32, rank: u16| BatchItem {
            num_processed_tokens: 0,
            num_tokens: t,
            is_prefill: true,
            dp_rank: rank,
        };
        // Both prompts drawn onto rank 0 (SGLang's random bootstrap rooms can): rank 0 runs
        // 1,000 + 500 = 1,500 tokens while rank 1 idles; spread by tokens they were 1,000 / 500.
        let batch = [item(1000, 0), item(500, 0)];
        let mut ranks = Vec::new();
        spread_over_ranks(&batch, 2, &mut ranks);
        assert_eq!(ranks[0].items, batch.to_vec());
        assert!(ranks[1].items.is_empty());
        assert_eq!((ranks[0].tokens, ranks[1].tokens), (1500, 0));
        // Unassigned items go to the fewest tokens after the assigned ones are placed: 1 → rank
        // 1 (0 < 1,500), 600 → rank 1 (1 < 1,500), 2,000 → rank 1 (601 < 1,500): 1,500 / 2,601.
        let mixed = [
            item(1000, 0),
            item(1, BatchItem::NO_RANK),
            item(500, 0),
            item(600, BatchItem::NO_RANK),
            item(2000, BatchItem::NO_RANK),
        ];
        spread_over_ranks(&mixed, 2, &mut ranks);
        assert_eq!((ranks[0].tokens, ranks[1].tokens), (1500, 2601));
        // A rank beyond the replica's (another replica's numbering) counts as unassigned.
        spread_over_ranks(&[item(7, 5)], 2, &mut ranks);
        assert_eq!((ranks[0].tokens, ranks[1].tokens), (7, 0));
    }
}
