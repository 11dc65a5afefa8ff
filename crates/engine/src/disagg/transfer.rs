//! The KV transfer's time and the links it queues for.
//!
//! Bytes: each GPU of a pool holds `kv_bytes_per_token_per_gpu` per token (layers ÷ PP × KV
//! heads ÷ TP, replicated when TP exceeds the KV heads, × head dim × 2 for K and V × the KV
//! dtype's bytes: the memory plan's figure), so a transfer of `t` tokens moves `t ×` that from
//! every prefill GPU to the decode GPUs. All GPU pairs send at once, each over its own link, so
//! the busier side sets the time: `max(t × kv_p, t × kv_d) ÷ per-GPU bandwidth`, plus the link's
//! latency and the per-transfer overhead.
//!
//! Attention data parallelism: a replica of DP ranks holds each request's KV on one rank
//! (its TP GPUs), so a transfer goes from one prefill rank to one decode rank, and a replica's
//! ranks send or receive different transfers at once (each rank its own link, [`Links`]).
//!
//! Path: replicas are placed in order on the cluster's GPUs, the prefill pool first, packed
//! into nodes of the node catalogue's size (`devices_per_node`: 8 for a DGX board, 72 for an
//! NVL72 rack) without straddling a node: a replica that fits in a node but not in what is
//! left of the current one starts on the next node (as a deployment places an instance: its
//! TP group shares one NVLink domain), and one larger than a node starts on a node boundary
//! ([`KvTransferModel::first_gpu`]). Two replicas whose GPUs all lie in one node (one NVLink
//! domain) of the same node type transfer over NVLink (`intra_node_*` figures), any others
//! over RDMA between nodes (`inter_node_*`, per GPU: one NIC per GPU); sources in
//! `data/README.md`.

use crate::request::ReplicaId;
use crate::time::SimTime;

/// One pool's replicas as the transfer model sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolPlacement {
    /// Replicas in the pool.
    pub num_replicas: u32,
    /// GPUs per replica (TP × DP × PP).
    pub gpus_per_replica: u32,
    /// Attention-DP ranks per replica (1 without attention DP): each sends or receives its own
    /// requests' KV over its own GPUs' links.
    pub attention_dp_size: u32,
    /// The node type's name (NVLink joins only replicas in one node of the same type).
    pub node: String,
    /// GPUs per node (one NVLink domain).
    pub devices_per_node: u32,
    /// Per-GPU NVLink bandwidth, GB/s, and latency, µs.
    pub nvlink_gbps: f64,
    /// NVLink latency, µs.
    pub nvlink_latency_us: f64,
    /// Per-GPU RDMA bandwidth between nodes, GB/s.
    pub rdma_gbps: f64,
    /// RDMA latency, µs.
    pub rdma_latency_us: f64,
    /// KV bytes per token on each GPU (the full-attention layers, and an MLA latent's).
    pub kv_bytes_per_token_per_gpu: u64,
    /// KV bytes per token on each GPU in the sliding-window layers (0 without them); a
    /// transfer sends only the window's tokens of these ([`KvTransferModel::sliding_tokens`]).
    pub sliding_bytes_per_token_per_gpu: u64,
}

/// The link a transfer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// Within one node's NVLink domain.
    NvLink,
    /// Between nodes.
    Rdma,
}

/// Transfer times between a prefill and a decode pool.
#[derive(Clone, Debug, PartialEq)]
pub struct KvTransferModel {
    /// The prefill pool.
    pub prefill: PoolPlacement,
    /// The decode pool.
    pub decode: PoolPlacement,
    /// Fixed cost of one transfer, ns.
    pub overhead_ns: u64,
    /// Layers each prefill GPU sends (layer-wise transfer sends them one at a time).
    pub layers_per_stage: u32,
    /// Layer-wise transfer during the prefill.
    pub layerwise: bool,
    /// The sliding-window layers' window, tokens (0 without them).
    pub sliding_window: u32,
    /// Tokens per KV block (page): the window's first block is sent whole.
    pub block_size: u32,
}

impl KvTransferModel {
    /// The link between prefill replica `p` and decode replica `d` (indices within their pools).
    pub fn link(&self, p: u32, d: u32) -> LinkKind {
        if self.prefill.node != self.decode.node || self.prefill.devices_per_node == 0 {
            return LinkKind::Rdma;
        }
        let size = u64::from(self.prefill.devices_per_node);
        let gp = u64::from(self.prefill.gpus_per_replica.max(1));
        let gd = u64::from(self.decode.gpus_per_replica.max(1));
        let p_first = Self::first_gpu(0, gp, size, u64::from(p));
        // The decode pool starts after the prefill pool's last GPU (in that node if room is left).
        let prefill_end = match u64::from(self.prefill.num_replicas) {
            0 => 0,
            n => Self::first_gpu(0, gp, size, n - 1) + gp,
        };
        let d_first = Self::first_gpu(prefill_end, gd, size, u64::from(d));
        let nodes = [p_first / size, (p_first + gp - 1) / size, d_first / size, (d_first + gd - 1) / size];
        if nodes.iter().all(|n| *n == nodes[0]) { LinkKind::NvLink } else { LinkKind::Rdma }
    }

    /// The first GPU of the `index`-th of a pool's replicas of `gpus` GPUs each, placed in order
    /// from GPU `start` on nodes of `size` GPUs without straddling a node: a replica that fits in
    /// a node but not in the rest of the current one starts on the next node; one larger than a
    /// node starts on a node boundary. Closed form (a transfer asks it for two replicas; a pool
    /// may have thousands).
    pub fn first_gpu(start: u64, gpus: u64, size: u64, index: u64) -> u64 {
        let size = size.max(1);
        let gpus = gpus.max(1);
        let next_node = start.div_ceil(size) * size;
        if gpus > size {
            // Each replica takes whole nodes; the first starts on a node boundary.
            return next_node + index * gpus.div_ceil(size) * size;
        }
        let per_node = size / gpus;
        // Replicas that fit in what is left of `start`'s node (none when `start` is on a boundary).
        let in_first = if start.is_multiple_of(size) { 0 } else { (next_node - start) / gpus };
        if index < in_first {
            return start + index * gpus;
        }
        let rest = index - in_first;
        next_node + rest / per_node * size + rest % per_node * gpus
    }

    /// Tokens of a `tokens`-token prompt whose sliding-window KV is sent: the last
    /// `sliding_window`, from the start of the block that holds the first of them (SGLang's
    /// `send_kv_chunk`, `python/sglang/srt/disaggregation/prefill.py` @ v0.5.x: SWA layers send
    /// the pages from `max(0, seq_len − window)` floored to a page, to `seq_len`), so at most
    /// the window plus one block less one token; 0 without sliding-window layers. TensorRT-LLM
    /// sends the last `window ÷ tokens per block + 1` blocks of each window pool
    /// (`getBlockRangeForSending`, `cpp/tensorrt_llm/batch_manager/cacheFormatter.cpp` @ 1.x),
    /// the same within one block. vLLM's connectors are taken to do the same (not verified).
    pub fn sliding_tokens(&self, tokens: u32) -> u64 {
        if self.sliding_window == 0 {
            return 0;
        }
        let tokens = u64::from(tokens);
        let block = u64::from(self.block_size.max(1));
        let start = tokens.saturating_sub(u64::from(self.sliding_window)) / block * block;
        tokens - start
    }

    /// Nanoseconds the bytes of `tokens` tokens take on `link` (bandwidth only).
    pub fn byte_time_ns(&self, tokens: u32, link: LinkKind) -> u64 {
        let sliding = self.sliding_tokens(tokens);
        let side = |p: &PoolPlacement| {
            u64::from(tokens) * p.kv_bytes_per_token_per_gpu + sliding * p.sliding_bytes_per_token_per_gpu
        };
        let bytes = side(&self.prefill).max(side(&self.decode));
        let gbps = match link {
            LinkKind::NvLink => self.prefill.nvlink_gbps.min(self.decode.nvlink_gbps),
            LinkKind::Rdma => self.prefill.rdma_gbps.min(self.decode.rdma_gbps),
        };
        // GB/s is bytes per ns.
        (bytes as f64 / gbps).ceil() as u64
    }

    /// Transfers one attention-DP rank of each pool may run at once: a transfer's time is set by
    /// the side whose GPUs move more bytes per token, so a GPU of the other side uses only its
    /// share of its link — prefill TP 8 to decode TP 1 uses an eighth of each prefill GPU's
    /// link, and eight transfers from that rank run at once. (prefill, decode), each ≥ 1.
    pub fn slots_per_rank(&self) -> (u32, u32) {
        let (p, d) = (self.prefill.kv_bytes_per_token_per_gpu, self.decode.kv_bytes_per_token_per_gpu);
        let busier = p.max(d);
        // Bounded: the ratio is at most a TP ratio (≤ 72 GPUs in an NVL72 domain) for real models,
        // and a side with no KV bytes per token must not get a slot table of millions.
        const MAX_SLOTS_PER_RANK: u64 = 128;
        let slots = |own: u64| (busier / own.max(1)).clamp(1, MAX_SLOTS_PER_RANK) as u32;
        (slots(p), slots(d))
    }

    /// Idle links for `num_prefill` and `num_decode` replicas of these pools.
    pub fn links(&self, num_prefill: u32, num_decode: u32) -> Links {
        let (ps, ds) = self.slots_per_rank();
        Links::with_slots(
            (num_prefill, self.prefill.attention_dp_size, ps),
            (num_decode, self.decode.attention_dp_size, ds),
        )
    }

    /// The link's latency plus the per-transfer overhead, ns.
    pub fn fixed_ns(&self, link: LinkKind) -> u64 {
        let us = match link {
            LinkKind::NvLink => self.prefill.nvlink_latency_us.max(self.decode.nvlink_latency_us),
            LinkKind::Rdma => self.prefill.rdma_latency_us.max(self.decode.rdma_latency_us),
        };
        (us * 1000.0).round() as u64 + self.overhead_ns
    }

    /// How long the transfer of `tokens` tokens holds the link. With layer-wise transfer and
    /// room reserved on the decode side by the prefill's end (`overlapped_ns` = the part of the
    /// prefill's span the link was free for, else 0), the layers sent during it are hidden: what remains is the rest,
    /// at least the last layer's share.
    pub fn duration_ns(&self, tokens: u32, link: LinkKind, overlapped_ns: u64) -> u64 {
        let bytes_ns = self.byte_time_ns(tokens, link);
        let exposed = if self.layerwise {
            let last_layer = bytes_ns.div_ceil(u64::from(self.layers_per_stage.max(1)));
            bytes_ns.saturating_sub(overlapped_ns).max(last_layer)
        } else {
            bytes_ns
        };
        exposed + self.fixed_ns(link)
    }
}

/// When each replica's links are free: a prefill replica sends, a decode replica receives, on
/// each attention-DP rank as many transfers at once as it has slots
/// ([`KvTransferModel::slots_per_rank`], one with equal bytes per GPU on both sides), first
/// come, first served, so further transfers from or to one rank queue. A transfer takes, on
/// each side, the slot free first (ties: the lowest index), as the engines' DP routers spread
/// requests over ranks.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// Per prefill replica, per rank × slot.
    send_free_at: Vec<Vec<SimTime>>,
    /// Per decode replica, per rank × slot.
    receive_free_at: Vec<Vec<SimTime>>,
}

/// The slot of `slots` free first (ties: the lowest) and when.
fn first_free(slots: &[SimTime]) -> (usize, SimTime) {
    slots.iter().copied().enumerate().min_by_key(|&(i, t)| (t, i)).expect("a replica has at least one slot")
}

impl Links {
    /// Idle links for the two pools, each replica with its attention-DP ranks, one transfer at
    /// a time on each.
    pub fn new(num_prefill: u32, prefill_ranks: u32, num_decode: u32, decode_ranks: u32) -> Links {
        Links::with_slots((num_prefill, prefill_ranks, 1), (num_decode, decode_ranks, 1))
    }

    /// Idle links for the two pools, each `(replicas, ranks per replica, slots per rank)`.
    pub fn with_slots(prefill: (u32, u32, u32), decode: (u32, u32, u32)) -> Links {
        let side = |(replicas, ranks, slots): (u32, u32, u32)| {
            let per_replica = ranks.max(1) as usize * slots.max(1) as usize;
            vec![vec![SimTime::ZERO; per_replica]; replicas as usize]
        };
        Links { send_free_at: side(prefill), receive_free_at: side(decode) }
    }

    /// When both ends of a transfer from prefill replica `p` to decode replica `d` (indices
    /// within their pools) can be free: each side's first free slot.
    pub fn free_at(&self, p: ReplicaId, d: ReplicaId) -> SimTime {
        first_free(&self.send_free_at[p.0 as usize]).1.max(first_free(&self.receive_free_at[d.0 as usize]).1)
    }

    /// Books a transfer ready at `ready` from prefill replica `p` to decode replica `d`
    /// (indices within their pools) taking `duration_ns`, on each side's first free slot;
    /// returns (start, end).
    pub fn book(
        &mut self,
        p: ReplicaId,
        d: ReplicaId,
        ready: SimTime,
        duration_ns: u64,
    ) -> (SimTime, SimTime) {
        let (sr, send) = first_free(&self.send_free_at[p.0 as usize]);
        let (rr, receive) = first_free(&self.receive_free_at[d.0 as usize]);
        let start = ready.max(send).max(receive);
        let end = start + duration_ns;
        self.send_free_at[p.0 as usize][sr] = end;
        self.receive_free_at[d.0 as usize][rr] = end;
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Llama-2-7B (32 layers, 32 KV heads × 128, bf16: 512 KiB per token) on H100 DGX nodes.
    fn pool(num_replicas: u32, tp: u32) -> PoolPlacement {
        PoolPlacement {
            num_replicas,
            gpus_per_replica: tp,
            attention_dp_size: 1,
            node: "h100_dgx".into(),
            devices_per_node: 8,
            nvlink_gbps: 450.0,
            nvlink_latency_us: 10.0,
            rdma_gbps: 50.0,
            rdma_latency_us: 20.0,
            kv_bytes_per_token_per_gpu: 32 * 2 * 32 * 128 * 2 / u64::from(tp),
            sliding_bytes_per_token_per_gpu: 0,
        }
    }

    fn model(prefill: PoolPlacement, decode: PoolPlacement) -> KvTransferModel {
        KvTransferModel {
            prefill,
            decode,
            overhead_ns: 0,
            layers_per_stage: 32,
            layerwise: false,
            sliding_window: 0,
            block_size: 16,
        }
    }

    #[test]
    fn replicas_in_one_node_use_nvlink_and_others_rdma() {
        // Prefill TP2 × 2 on GPUs 0-3, decode TP2 × 3 on GPUs 4-9: node 0 holds 4-7, node 1 8-9.
        let m = model(pool(2, 2), pool(3, 2));
        assert_eq!(m.link(0, 0), LinkKind::NvLink);
        assert_eq!(m.link(1, 1), LinkKind::NvLink);
        assert_eq!(m.link(0, 2), LinkKind::Rdma);
        let mut other = pool(3, 2);
        other.node = "h200_dgx".into();
        assert_eq!(model(pool(2, 2), other).link(0, 0), LinkKind::Rdma, "different node types");
    }

    #[test]
    fn a_replica_never_straddles_two_nodes() {
        // Prefill TP2 × 3 on GPUs 0-5; the TP4 decode replica does not fit in GPUs 6-7, so it
        // takes 8-11 (node 1): RDMA. Before, it was placed on 6-9, across two nodes.
        let m = model(pool(3, 2), pool(1, 4));
        assert_eq!(m.link(0, 0), LinkKind::Rdma);
        // A TP2 decode replica fits in GPUs 6-7: NVLink with the prefill replicas of node 0.
        let m = model(pool(3, 2), pool(2, 2));
        assert_eq!(m.link(2, 0), LinkKind::NvLink);
        assert_eq!(m.link(2, 1), LinkKind::Rdma, "the second decode replica is on GPUs 8-9");
        // TP3 replicas: two per 8-GPU node (0-2, 3-5), the third on 8-10.
        assert_eq!(KvTransferModel::first_gpu(0, 3, 8, 1), 3);
        assert_eq!(KvTransferModel::first_gpu(0, 3, 8, 2), 8);
        assert_eq!(KvTransferModel::first_gpu(0, 3, 8, 5), 19);
        // From the middle of a node: GPUs 6-7 take one TP2 replica, then node 1.
        assert_eq!(KvTransferModel::first_gpu(6, 2, 8, 0), 6);
        assert_eq!(KvTransferModel::first_gpu(6, 2, 8, 1), 8);
        assert_eq!(KvTransferModel::first_gpu(6, 2, 8, 5), 16);
        // Larger than a node (TP 16 on 8-GPU nodes): two whole nodes each, from a boundary.
        assert_eq!(KvTransferModel::first_gpu(6, 16, 8, 0), 8);
        assert_eq!(KvTransferModel::first_gpu(6, 4, 8, 0), 8, "GPUs 6-7 are too few for TP4");
        assert_eq!(KvTransferModel::first_gpu(0, 16, 8, 1), 16);
        assert_eq!(KvTransferModel::first_gpu(6, 16, 8, 1), 24);
        // An NVL72 rack holds nine TP8 replicas; the tenth starts the next rack.
        assert_eq!(KvTransferModel::first_gpu(0, 8, 72, 9), 72);
        assert_eq!(KvTransferModel::first_gpu(0, 8, 72, 8), 64);
    }

    #[test]
    fn time_scales_with_tokens_and_link_and_the_busier_side_sets_it() {
        let m = model(pool(1, 1), pool(1, 1));
        // 1000 tokens × 512 KiB = 524,288,000 bytes: over 50 GB/s 10,485,760 ns, 450 GB/s 1,165,085.
        assert_eq!(m.byte_time_ns(1000, LinkKind::Rdma), 10_485_760);
        assert_eq!(m.byte_time_ns(2000, LinkKind::Rdma), 20_971_520);
        assert_eq!(m.byte_time_ns(1000, LinkKind::NvLink), 1_165_085);
        assert_eq!(m.duration_ns(1000, LinkKind::Rdma, 0), 10_485_760 + 20_000);
        // TP1 → TP4: the single prefill GPU sends all of it; TP4 → TP4 a quarter each.
        assert_eq!(model(pool(1, 1), pool(1, 4)).byte_time_ns(1000, LinkKind::Rdma), 10_485_760);
        assert_eq!(model(pool(1, 4), pool(1, 4)).byte_time_ns(1000, LinkKind::Rdma), 2_621_440);
    }

    #[test]
    fn layerwise_transfer_hides_what_the_prefill_span_covers() {
        let mut m = model(pool(1, 1), pool(1, 1));
        m.layerwise = true;
        assert_eq!(m.duration_ns(1000, LinkKind::Rdma, 4_000_000), 6_485_760 + 20_000);
        // A long prefill hides all but the last of 32 layers.
        assert_eq!(m.duration_ns(1000, LinkKind::Rdma, 1 << 40), 327_680 + 20_000);
    }

    #[test]
    fn transfers_from_or_to_one_replica_queue() {
        let mut links = Links::new(2, 1, 2, 1);
        let (a, b, c) = (ReplicaId(0), ReplicaId(1), ReplicaId(0));
        assert_eq!(links.book(a, c, SimTime(100), 50), (SimTime(100), SimTime(150)));
        // Same sender: waits for it.
        assert_eq!(links.book(a, b, SimTime(120), 10), (SimTime(150), SimTime(160)));
        // Same receiver as the first: waits for it; an idle pair starts at once.
        assert_eq!(links.book(b, c, SimTime(110), 10), (SimTime(150), SimTime(160)));
        assert_eq!(links.book(ReplicaId(1), ReplicaId(0), SimTime(500), 10), (SimTime(500), SimTime(510)));
    }

    #[test]
    fn attention_dp_ranks_transfer_rank_to_rank_at_once() {
        // Prefill replica of 2 ranks, decode replica of 2 ranks: two transfers run at once
        // (rank 0 → rank 0, rank 1 → rank 1); a third waits for the first rank to free.
        let mut links = Links::new(1, 2, 1, 2);
        let (p, d) = (ReplicaId(0), ReplicaId(0));
        assert_eq!(links.book(p, d, SimTime(100), 50), (SimTime(100), SimTime(150)));
        assert_eq!(links.free_at(p, d), SimTime(0));
        assert_eq!(links.book(p, d, SimTime(110), 30), (SimTime(110), SimTime(140)));
        assert_eq!(links.free_at(p, d), SimTime(140));
        assert_eq!(links.book(p, d, SimTime(120), 10), (SimTime(140), SimTime(150)));
        // A one-rank decode replica still takes one transfer at a time from a two-rank sender.
        let mut links = Links::new(1, 2, 1, 1);
        assert_eq!(links.book(p, d, SimTime(0), 10), (SimTime(0), SimTime(10)));
        assert_eq!(links.book(p, d, SimTime(0), 10), (SimTime(10), SimTime(20)));
    }

    #[test]
    fn a_tp_8_prefill_rank_sends_to_eight_tp_1_decode_ranks_at_once() {
        // Prefill TP 8 × DP 1 sends an eighth of each token's KV per GPU; decode TP 1 × DP 8
        // receives all of it on one GPU: the decode GPU's link sets the time, a prefill GPU's
        // is an eighth used, so eight transfers leave the prefill rank at once, a ninth waits.
        let p = pool(1, 8);
        let mut d = pool(1, 8);
        d.attention_dp_size = 8;
        d.kv_bytes_per_token_per_gpu = pool(1, 1).kv_bytes_per_token_per_gpu;
        let m = model(p, d);
        assert_eq!(m.slots_per_rank(), (8, 1));
        let mut links = m.links(1, 1);
        let (p, d) = (ReplicaId(0), ReplicaId(0));
        for i in 0..8 {
            assert_eq!(links.book(p, d, SimTime(i), 100), (SimTime(i), SimTime(i + 100)), "transfer {i}");
        }
        assert_eq!(links.book(p, d, SimTime(10), 100), (SimTime(100), SimTime(200)));
        // The other way round, the decode rank takes eight at once from eight prefill ranks.
        let mut p1 = pool(1, 8);
        p1.attention_dp_size = 8;
        p1.kv_bytes_per_token_per_gpu = pool(1, 1).kv_bytes_per_token_per_gpu;
        assert_eq!(model(p1, pool(1, 8)).slots_per_rank(), (1, 8));
        // Equal bytes per GPU: one at a time per rank.
        assert_eq!(model(pool(1, 4), pool(2, 4)).slots_per_rank(), (1, 1));
    }

    #[test]
    fn equal_bytes_per_gpu_take_the_same_time_whatever_the_tp_and_dp_layout() {
        // MLA-like: the latent is whole on every GPU of a rank (kv per GPU independent of TP).
        // Prefill TP 8 × DP 1 and decode TP 1 × DP 8 with the same per-GPU KV take the same time.
        let mut p = pool(1, 8);
        p.kv_bytes_per_token_per_gpu = 70_272;
        let mut d = pool(1, 8);
        d.attention_dp_size = 8;
        d.kv_bytes_per_token_per_gpu = 70_272;
        let m = model(p, d);
        // 1000 tokens × 70,272 B over 50 GB/s = 1,405,440 ns.
        assert_eq!(m.byte_time_ns(1000, LinkKind::Rdma), 1_405_440);
        // Every prefill GPU's link is busy with each transfer: one at a time leaves the prefill
        // rank, though the decode replica has eight ranks to receive on.
        assert_eq!(m.slots_per_rank(), (1, 1));
        let mut links = m.links(1, 1);
        assert_eq!(links.book(ReplicaId(0), ReplicaId(0), SimTime(0), 10), (SimTime(0), SimTime(10)));
        assert_eq!(links.book(ReplicaId(0), ReplicaId(0), SimTime(0), 10), (SimTime(10), SimTime(20)));
    }

    #[test]
    fn sliding_window_layers_send_only_the_windows_blocks() {
        // Full layers 36,864 B per token, sliding layers 36,864 B per token (gpt-oss-120b at
        // TP 1: 18 + 18 layers of 8 KV heads × 64 × 2 × bf16), a 128-token window, 16-token
        // blocks.
        let mut p = pool(1, 1);
        p.kv_bytes_per_token_per_gpu = 36_864;
        p.sliding_bytes_per_token_per_gpu = 36_864;
        let mut m = model(p.clone(), p);
        m.sliding_window = 128;
        // A prompt shorter than the window sends all of it.
        assert_eq!(m.sliding_tokens(100), 100);
        // 1000 tokens: the window starts at 872, in the block from 864: 136 tokens.
        assert_eq!(m.sliding_tokens(1000), 136);
        // On a block boundary: exactly the window.
        assert_eq!(m.sliding_tokens(1024), 128);
        assert_eq!(m.byte_time_ns(1000, LinkKind::Rdma), (1000 * 36_864 + 136 * 36_864u64).div_ceil(50));
        // Without sliding layers nothing is added.
        m.sliding_window = 0;
        assert_eq!(m.byte_time_ns(1000, LinkKind::Rdma), (1000 * 36_864u64).div_ceil(50));
    }
}
