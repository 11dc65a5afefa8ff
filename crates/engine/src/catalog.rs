//! Catalogues of models, devices, nodes and GPU prices, embedded from `data/*.json` at build
//! time: pure data and lookups. A user-described device is read by [`crate::custom_device`], a Hugging
//! Face `config.json` by [`crate::hf_config`].

use std::sync::OnceLock;

use serde::Deserialize;

fn default_true() -> bool {
    true
}
fn default_one() -> f64 {
    1.0
}

/// Mixture-of-experts layout of a decoder's MLP.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MoeSpec {
    /// Experts per layer.
    pub num_experts: u32,
    /// Experts each token is routed to.
    pub top_k: u32,
    /// Hidden size of one expert's MLP.
    pub expert_hidden_dim: u32,
    /// Hidden size of an always-active shared expert (0 = none).
    #[serde(default)]
    pub shared_expert_hidden_dim: u32,
    /// The first layers keep a dense MLP of `mlp_hidden_dim` (DeepSeek's
    /// `first_k_dense_replace`); the rest are MoE layers.
    #[serde(default)]
    pub first_k_dense_layers: u32,
}

/// Multi-head latent attention (DeepSeek-V2/V3 style): keys and values are compressed into one
/// latent of `kv_lora_rank` elements per token, shared by every head, plus one rotary key of
/// `qk_rope_head_dim`; that latent is what the KV cache holds.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MlaSpec {
    /// Rank of the query compression (0 = queries projected directly from the hidden state).
    #[serde(default)]
    pub q_lora_rank: u32,
    /// Rank of the key/value latent.
    pub kv_lora_rank: u32,
    /// Per-head query/key size without rotary embedding.
    pub qk_nope_head_dim: u32,
    /// Per-head (and shared key) rotary size.
    pub qk_rope_head_dim: u32,
    /// Per-head value size.
    pub v_head_dim: u32,
}

impl MlaSpec {
    /// KV-cache elements per token and layer: the latent and the rotary key, not split by TP.
    pub fn cached_elements(&self) -> u32 {
        self.kv_lora_rank + self.qk_rope_head_dim
    }

    /// Per-head query/key size (nope + rope).
    pub fn qk_head_dim(&self) -> u32 {
        self.qk_nope_head_dim + self.qk_rope_head_dim
    }
}

/// Sliding-window attention on some layers (gpt-oss alternates sliding and full layers): a
/// sliding layer's token attends to the last `window` tokens only (itself included), so its
/// attention work and the KV an engine must keep for it are bounded by the window.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SlidingWindowSpec {
    /// Tokens a sliding layer attends to (Hugging Face's `sliding_window`).
    pub window: u32,
    /// How many of the layers slide (`sliding_attention` in `layer_types`); the rest attend to
    /// the whole context. They are taken as spread evenly over the layers (gpt-oss alternates),
    /// so every pipeline stage holds its share.
    pub layers: u32,
}

/// Linear-attention layers (Gated DeltaNet, as Qwen3-Next and Qwen3.5 interleave them with
/// full-attention layers): each keeps a fixed-size recurrent state per sequence — a short
/// causal convolution's last `conv_kernel − 1` inputs and one `key_head_dim × value_head_dim`
/// matrix per value head — instead of a KV cache that grows with the context.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LinearAttentionSpec {
    /// How many of the layers are linear-attention layers (`linear_attention` in
    /// `layer_types`); the rest are full-attention layers. Taken as spread evenly (Qwen3.5: one
    /// full layer in every `full_attention_interval` of 4), so every pipeline stage holds its
    /// share.
    pub layers: u32,
    /// Query/key heads (`linear_num_key_heads`).
    pub num_key_heads: u32,
    /// Value heads (`linear_num_value_heads`): one recurrent state matrix each.
    pub num_value_heads: u32,
    /// Per-head query/key size (`linear_key_head_dim`).
    pub key_head_dim: u32,
    /// Per-head value size (`linear_value_head_dim`).
    pub value_head_dim: u32,
    /// Causal depthwise convolution width over q, k and v (`linear_conv_kernel_dim`).
    pub conv_kernel: u32,
    /// Bytes per element of the recurrent state (`mamba_ssm_dtype`: 4 for float32, the
    /// engines' default for these models).
    #[serde(default = "default_state_bytes")]
    pub state_bytes: u32,
}

fn default_state_bytes() -> u32 {
    4
}

impl LinearAttentionSpec {
    /// Channels the convolution runs over: q and k (`num_key_heads × key_head_dim` each) and v.
    pub fn conv_dim(&self) -> u64 {
        2 * u64::from(self.num_key_heads) * u64::from(self.key_head_dim)
            + u64::from(self.num_value_heads) * u64::from(self.value_head_dim)
    }

    /// Bytes of one layer's state of one sequence on one GPU of `tp`: the convolution state
    /// (`conv_dim / tp × (conv_kernel − 1)` elements of `act_bytes`, the activations' dtype)
    /// and the recurrent state (`num_value_heads / tp × key_head_dim × value_head_dim` of
    /// [`Self::state_bytes`]), as SGLang's `Mamba2StateShape` sizes them for Gated DeltaNet.
    pub fn state_bytes_per_layer(&self, tp: u32, act_bytes: u64) -> u64 {
        let tp = u64::from(tp.max(1));
        let conv = self.conv_dim() / tp * u64::from(self.conv_kernel.saturating_sub(1)) * act_bytes;
        let heads = u64::from(self.num_value_heads).div_ceil(tp);
        let ssm = heads
            * u64::from(self.key_head_dim)
            * u64::from(self.value_head_dim)
            * u64::from(self.state_bytes);
        conv + ssm
    }
}

/// DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): on top of multi-head latent attention, a
/// lightweight indexer scores every earlier token of each query with `index_heads` heads of
/// `index_head_dim` and the attention itself runs over the `index_topk` best only. The indexer
/// keeps its own key per token and layer in the cache (fp8 with a scale per 128 elements).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SparseAttentionSpec {
    /// Keys each query attends to (`index_topk`).
    pub index_topk: u32,
    /// Indexer heads (`index_n_heads`).
    pub index_heads: u32,
    /// Indexer head size (`index_head_dim`).
    pub index_head_dim: u32,
}

impl SparseAttentionSpec {
    /// Cache bytes of one token's indexer key in one layer: fp8 elements and an fp32 scale per
    /// 128 of them (SGLang's `NSATokenToKVPool`: `index_head_dim + index_head_dim / 128 × 4`).
    pub fn index_bytes_per_token_layer(&self) -> u64 {
        u64::from(self.index_head_dim) + u64::from(self.index_head_dim) / 128 * 4
    }
}

/// A decoder-only transformer's shape: everything the memory planner and predictors need.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ModelArch {
    /// Hugging Face id, e.g. `meta-llama/Meta-Llama-3-8B`.
    pub name: String,
    /// Other names that resolve to this entry.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Transformer blocks.
    pub num_layers: u32,
    /// Query heads.
    pub num_q_heads: u32,
    /// Key/value heads (GQA when fewer than query heads).
    pub num_kv_heads: u32,
    /// Hidden size E.
    pub embedding_dim: u32,
    /// Per-head size; 0 in the file means E / q heads.
    #[serde(default)]
    pub head_dim: u32,
    /// MLP hidden size (per expert for MoE models).
    pub mlp_hidden_dim: u32,
    /// Gated MLP (SwiGLU: gate + up projections).
    #[serde(default = "default_true")]
    pub use_gated_mlp: bool,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Longest context the model supports.
    pub max_model_len: u32,
    /// Linear layers carry biases.
    #[serde(default)]
    pub use_bias: bool,
    /// The QKV projection carries a bias.
    #[serde(default)]
    pub use_qkv_bias: bool,
    /// MLP activation (`silu`, `gelu`).
    #[serde(default = "default_activation")]
    pub activation: String,
    /// Normalisation (`rms_norm`, `layer_norm`).
    #[serde(default = "default_norm")]
    pub norm: String,
    /// A norm after attention as well as before it.
    #[serde(default = "default_true")]
    pub post_attn_norm: bool,
    /// Share of each head rotated by RoPE.
    #[serde(default = "default_one")]
    pub partial_rotary_factor: f64,
    /// The model cannot be split by tensor parallelism.
    #[serde(default)]
    pub no_tensor_parallel: bool,
    /// The LM head reuses the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Mixture-of-experts layout, if any.
    #[serde(default)]
    pub moe: Option<MoeSpec>,
    /// Multi-head latent attention, if the model uses it instead of per-head K and V.
    #[serde(default)]
    pub mla: Option<MlaSpec>,
    /// Sliding-window attention layers, if any.
    #[serde(default)]
    pub sliding_window: Option<SlidingWindowSpec>,
    /// Linear-attention (Gated DeltaNet) layers, if any; the other layers are the full
    /// attention `num_q_heads` / `num_kv_heads` / `head_dim` describe.
    #[serde(default)]
    pub linear_attention: Option<LinearAttentionSpec>,
    /// DeepSeek Sparse Attention over the latent attention, if any.
    #[serde(default)]
    pub sparse_attention: Option<SparseAttentionSpec>,
    /// The Hugging Face architecture class (`config.json`'s first `architectures` entry, e.g.
    /// `Qwen3MoeForCausalLM`): engines pick their model code by it, and a few of their
    /// per-architecture choices (TensorRT-LLM's all-reduce/norm fusion) follow it. None when
    /// the catalogue does not say.
    #[serde(default)]
    pub architecture: Option<String>,
    /// The weights this model's fp4 checkpoints leave unquantised (16-bit) beyond the
    /// embedding, LM head, router and norms every such checkpoint excludes: as NVIDIA's
    /// ModelOpt NVFP4 checkpoints list them in `hf_quant_config.json`
    /// `quantization.exclude_modules`, or an MXFP4 checkpoint in `config.json`
    /// `quantization_config.modules_to_not_convert` (gpt-oss). Read under `fp4` weights only
    /// (docs/policies.md, "NVFP4 checkpoints' unquantised modules").
    #[serde(default)]
    pub fp4_unquantised: Vec<WeightPart>,
    /// Its fp8 checkpoints scale weights per block (`quantization_config.weight_block_size`,
    /// 128 × 128), not per tensor: engines run block-scaled GEMM kernels for them, never the
    /// per-tensor cuBLASLt GEMM (docs/policies.md, "Per-tensor fp8 GEMMs on cuBLASLt").
    #[serde(default)]
    pub fp8_block_scaled: bool,
    /// Its q and k RMSNorms normalise each token's whole q (and k) projection, not each head
    /// (`use_qk_norm` with `qk_norm_type: "per_layer"`, MiniMax-M2): under TP every layer
    /// all-reduces the per-GPU partial variances (docs/policies.md, "Q/K norms across heads").
    #[serde(default)]
    pub qk_norm_across_heads: bool,
}

/// A part of a transformer layer's weights, as a checkpoint's quantisation config names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightPart {
    /// Every linear of the token mixers: `self_attn`'s query, key, value and output
    /// projections (under latent attention the `q_a`/`q_b`/`kv_a`/`kv_b`/`o` projections and
    /// a sparse-attention indexer), and a linear-attention layer's projections.
    Attention,
}

fn default_activation() -> String {
    "silu".to_string()
}
fn default_norm() -> String {
    "rms_norm".to_string()
}

impl ModelArch {
    /// Per-head size.
    pub fn head_dim(&self) -> u32 {
        if self.head_dim > 0 { self.head_dim } else { self.embedding_dim / self.num_q_heads.max(1) }
    }

    /// Of `layers` consecutive layers (a pipeline stage's), how many slide: their even share of
    /// the model's sliding layers, rounded down (0 without sliding-window attention).
    pub fn sliding_layers_of(&self, layers: u32) -> u32 {
        match &self.sliding_window {
            Some(w) if self.num_layers > 0 => {
                (u64::from(layers) * u64::from(w.layers.min(self.num_layers)) / u64::from(self.num_layers))
                    as u32
            }
            _ => 0,
        }
    }

    /// Of `layers` consecutive layers (a pipeline stage's), how many are linear-attention
    /// layers: their even share, rounded down (0 without linear attention).
    pub fn linear_layers_of(&self, layers: u32) -> u32 {
        match &self.linear_attention {
            Some(l) if self.num_layers > 0 => {
                (u64::from(layers) * u64::from(l.layers.min(self.num_layers)) / u64::from(self.num_layers))
                    as u32
            }
            _ => 0,
        }
    }

    fn normalise(mut self) -> ModelArch {
        if self.head_dim == 0 && self.num_q_heads > 0 {
            self.head_dim = self.embedding_dim / self.num_q_heads;
        }
        self
    }
}

/// A GPU SKU's datasheet figures.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DeviceSpec {
    /// Lower-case id, as Vidur spells it (`h100`).
    pub name: String,
    /// Marketing name.
    pub display_name: String,
    /// Dense BF16/FP16 tensor TFLOP/s.
    pub fp16_tflops: f64,
    /// Dense FP8 tensor TFLOP/s, if supported.
    pub fp8_tflops: Option<f64>,
    /// Dense FP4 (NVFP4) tensor TFLOP/s, if supported (Blackwell).
    #[serde(default)]
    pub fp4_tflops: Option<f64>,
    /// Device memory in GiB (2^30 bytes): what Vidur and datasheets call "80 GB" is 80 GiB.
    pub memory_gb: f64,
    /// Memory bandwidth in GB/s (10^9 bytes).
    pub memory_bandwidth_gbps: f64,
    /// The device whose fitted roofline efficiencies this one borrows, when it has no measured
    /// tables of its own (`None`: its own entry in `data/calibration.json`).
    #[serde(default)]
    pub calibration: Option<String>,
}

impl DeviceSpec {
    /// The device id whose calibration applies.
    pub fn calibration_source(&self) -> &str {
        self.calibration.as_deref().unwrap_or(&self.name)
    }
}

/// A node (network device): GPUs per node and interconnect speeds.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NodeSpec {
    /// Id, as Vidur spells it (`h100_dgx`).
    pub name: String,
    /// The device SKU the node holds.
    pub device: String,
    /// GPUs per node.
    pub devices_per_node: u32,
    /// Per-direction GPU-to-GPU bandwidth inside a node, GB/s.
    pub intra_node_bandwidth_gbps: f64,
    /// Latency of one intra-node transfer, µs.
    pub intra_node_latency_us: f64,
    /// Per-GPU bandwidth between nodes, GB/s.
    pub inter_node_bandwidth_gbps: f64,
    /// Latency of one inter-node transfer, µs.
    pub inter_node_latency_us: f64,
    /// Fixed set-up cost of one disaggregated KV transfer from or to this node, µs (connector
    /// handshake, block-descriptor exchange, completion notice), beyond the link's latency:
    /// `--disaggregation_config_transfer_overhead_ms` defaults from it (`data/README.md`).
    pub kv_transfer_overhead_us: f64,
    /// The node whose fitted collectives this one borrows when it has none of its own (an
    /// NVL72 rack's NVLink switches and GPUs are its 8-GPU board's), for TP degrees up to that
    /// node's size.
    #[serde(default)]
    pub calibration: Option<String>,
}

impl NodeSpec {
    /// The node id whose collective calibration applies.
    pub fn calibration_source(&self) -> &str {
        self.calibration.as_deref().unwrap_or(&self.name)
    }
}

/// A device's on-demand rental price per GPU-hour, with where and when it was read
/// (`data/prices.json`; provenance in `data/README.md`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct GpuPrice {
    /// The device id it prices (`h100`).
    pub device: String,
    /// US dollars per GPU per hour.
    pub usd_per_gpu_hour: f64,
    /// The offer priced, as the vendor lists it.
    pub offer: String,
    /// The vendor's public price page.
    pub source: String,
    /// When the price was read (ISO date).
    pub read_on: String,
}

impl GpuPrice {
    /// One line naming the price's origin: `CoreWeave ... (https://..., read 2026-09-20)`.
    pub fn provenance(&self) -> String {
        format!("{} ({}, read {})", self.offer, self.source, self.read_on)
    }
}

/// The embedded price list.
pub fn prices() -> &'static [GpuPrice] {
    static PRICES: OnceLock<Vec<GpuPrice>> = OnceLock::new();
    PRICES.get_or_init(|| {
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/prices.json")))
            .expect("data/prices.json is valid")
    })
}

/// The listed price of a device, by its lower-case id.
pub fn find_price(device: &str) -> Option<&'static GpuPrice> {
    prices().iter().find(|p| p.device == device)
}

/// The embedded model catalogue.
pub fn models() -> &'static [ModelArch] {
    static MODELS: OnceLock<Vec<ModelArch>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let list: Vec<ModelArch> =
            serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/models.json")))
                .expect("data/models.json is valid");
        list.into_iter().map(ModelArch::normalise).collect()
    })
}

/// The embedded device catalogue.
pub fn devices() -> &'static [DeviceSpec] {
    static DEVICES: OnceLock<Vec<DeviceSpec>> = OnceLock::new();
    DEVICES.get_or_init(|| {
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/devices.json")))
            .expect("data/devices.json is valid")
    })
}

/// The embedded node catalogue.
pub fn nodes() -> &'static [NodeSpec] {
    static NODES: OnceLock<Vec<NodeSpec>> = OnceLock::new();
    NODES.get_or_init(|| {
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/nodes.json")))
            .expect("data/nodes.json is valid")
    })
}

/// Finds a model by Hugging Face id or alias; an `-Instruct`/`-Chat` variant resolves to its
/// base architecture, and a name without its `org/` prefix (`Meta-Llama-3-8B`) or in other
/// letter case resolves when exactly one entry matches.
pub fn find_model(name: &str) -> Option<&'static ModelArch> {
    resolve_model(models(), name)
}

/// A catalogue entry's names: its id, then its aliases (the parsed entries and the index's
/// resolve through the same code, so the page and the simulation find the same entry).
trait Named {
    fn names(&self) -> impl Iterator<Item = &str>;
}

impl Named for ModelArch {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

impl Named for DeviceSpec {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str())
    }
}

impl Named for NodeSpec {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str())
    }
}

/// A name without its `org/` prefix.
fn bare(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// [`find_model`]'s rules over `models`.
fn resolve_model<M: Named>(models: &'static [M], name: &str) -> Option<&'static M> {
    let name = name.trim();
    // The one entry with a name `matches` accepts; none when several do.
    let unique = |matches: &dyn Fn(&str) -> bool| -> Option<&'static M> {
        let mut found = models.iter().filter(|m| m.names().any(matches));
        let first = found.next()?;
        found.next().is_none().then_some(first)
    };
    let resolve = |n: &str| -> Option<&'static M> {
        unique(&|c| c == n)
            .or_else(|| (!n.contains('/')).then(|| unique(&|c| bare(c) == n)).flatten())
            .or_else(|| unique(&|c| c.eq_ignore_ascii_case(n)))
            .or_else(|| (!n.contains('/')).then(|| unique(&|c| bare(c).eq_ignore_ascii_case(n))).flatten())
    };
    if let Some(m) = resolve(name) {
        return Some(m);
    }
    for suffix in ["-Instruct", "-instruct", "-Chat", "-chat", "-chat-hf", "-Instruct-hf", "-Base", "-base"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(m) = resolve(base).or_else(|| resolve(&format!("{base}-hf")))
        {
            return Some(m);
        }
    }
    None
}

/// The entry of `items` whose id is `name` in any letter case.
fn by_id<T: Named>(items: &'static [T], name: &str) -> Option<&'static T> {
    let name = name.trim();
    items.iter().find(|item| item.names().next().is_some_and(|id| id.eq_ignore_ascii_case(name)))
}

/// [`matching_node`]'s rule over `nodes`, for the device with id `device`: `of` gives a node's
/// device id and GPU count.
fn most_gpus<N>(nodes: &'static [N], device: &str, of: impl Fn(&N) -> (&str, u32)) -> Option<&'static N> {
    nodes.iter().filter(|n| of(n).0 == device).fold(None, |best: Option<&'static N>, n| match best {
        Some(b) if of(b).1 >= of(n).1 => Some(b),
        _ => Some(n),
    })
}

/// The catalogue name closest to an unknown model `name`, for "did you mean": first an entry
/// whose name (without `org/`) ends with the name asked for, then the nearest by spelling,
/// comparing with and without the organisation.
pub fn suggest_model(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let bare = |n: &str| n.rsplit('/').next().unwrap_or(n).to_ascii_lowercase();
    let wanted = bare(name);
    let candidates = || {
        models().iter().flat_map(|m| {
            std::iter::once(m.name.as_str()).chain(m.aliases.iter().map(String::as_str)).map(move |c| (c, m))
        })
    };
    let mut suffixed = candidates()
        .filter(|(c, _)| !wanted.is_empty() && bare(c).ends_with(&wanted))
        .map(|(_, m)| m.name.as_str());
    if let Some(first) = suffixed.next()
        && suffixed.all(|other| other == first)
    {
        return Some(first);
    }
    let lower = name.to_ascii_lowercase();
    candidates()
        .map(|(c, m)| {
            (
                strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
                    .max(strsim::jaro_winkler(&wanted, &bare(c))),
                m.name.as_str(),
            )
        })
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// Finds a device by its id, in any letter case (`h100`, `H100`), as models are found.
pub fn find_device(name: &str) -> Option<&'static DeviceSpec> {
    by_id(devices(), name)
}

/// Finds a node by its id, in any letter case.
pub fn find_node(name: &str) -> Option<&'static NodeSpec> {
    by_id(nodes(), name)
}

/// The node a replica of `device` GPUs is assumed to sit in when none was chosen for it: the
/// catalogued node of that device with the most GPUs (a DGX/HGX board before a pairwise
/// NVLink one), the first listed on a tie; `None` for a device no node holds.
pub fn matching_node(device: &str) -> Option<&'static NodeSpec> {
    let device = find_device(device)?;
    most_gpus(nodes(), &device.name, |n| (n.device.as_str(), n.devices_per_node))
}

/// What the configuration's front matter reads of the catalogues (`--serving_engine`'s bundles,
/// the input files' `{MODEL}` placeholder): from the parsed catalogues ([`Parsed`], the
/// simulation's) or from their compile-time index ([`index::Index`], the page's, which links no
/// catalogue JSON). Both find the same entries.
pub trait Lookup {
    /// The catalogue id of a model found by [`find_model`]'s rules.
    fn model_id(&self, name: &str) -> Option<&'static str>;
    /// A catalogued device's memory (GiB) and whether it has FP4 tensor cores.
    fn device(&self, name: &str) -> Option<(f64, bool)>;
    /// A catalogued model's latent attention, sparse indexer and linear-attention layers.
    fn model(&self, name: &str) -> Option<(bool, bool, bool)>;
    /// A catalogued model's Hugging Face architecture class (`architecture`), where given.
    fn architecture(&self, name: &str) -> Option<&'static str>;
}

/// The parsed catalogues ([`models`], [`devices`]) as a [`Lookup`].
pub struct Parsed;

impl Lookup for Parsed {
    fn model_id(&self, name: &str) -> Option<&'static str> {
        find_model(name).map(|m| m.name.as_str())
    }
    fn device(&self, name: &str) -> Option<(f64, bool)> {
        find_device(name).map(|d| (d.memory_gb, d.fp4_tflops.is_some()))
    }
    fn model(&self, name: &str) -> Option<(bool, bool, bool)> {
        find_model(name)
            .map(|m| (m.mla.is_some(), m.sparse_attention.is_some(), m.linear_attention.is_some()))
    }
    fn architecture(&self, name: &str) -> Option<&'static str> {
        find_model(name).and_then(|m| m.architecture.as_deref())
    }
}

/// The catalogues' names and the few facts the page reads, generated at compile time from the
/// same `data/*.json` (`build.rs`), entry for entry in the same order: static data, no JSON to
/// parse and no deserialiser to link. The page's choice lists, its device-to-node rule and its
/// serving-engine bundles read this; the simulation reads the parsed catalogues. Lookups follow
/// the same rules as [`super::find_model`], [`super::find_device`], [`super::find_node`] and
/// [`super::matching_node`] (the same code).
pub mod index {
    use super::{Lookup, Named};

    /// A model's names and what the serving engines' bundles read of it.
    #[derive(Debug, PartialEq)]
    pub struct Model {
        /// Hugging Face id.
        pub name: &'static str,
        /// Other names that resolve to this entry.
        pub aliases: &'static [&'static str],
        /// Multi-head latent attention (`mla` given).
        pub latent_attention: bool,
        /// DeepSeek Sparse Attention's indexer (`sparse_attention` given).
        pub sparse_indexer: bool,
        /// Gated DeltaNet linear-attention layers (`linear_attention` given: Qwen3.5's hybrid).
        pub linear_attention: bool,
        /// The Hugging Face architecture class (`architecture`), where given.
        pub architecture: Option<&'static str>,
    }

    /// A device's id, name and what the serving engines' bundles read of it.
    #[derive(Debug, PartialEq)]
    pub struct Device {
        /// Lower-case id (`h100`).
        pub name: &'static str,
        /// Marketing name.
        pub display_name: &'static str,
        /// Device memory in GiB.
        pub memory_gb: f64,
        /// FP4 tensor cores (`fp4_tflops` given).
        pub fp4_tensor_cores: bool,
    }

    /// A node's id, device and size.
    #[derive(Debug, PartialEq)]
    pub struct Node {
        /// Id (`h100_dgx`).
        pub name: &'static str,
        /// The device SKU the node holds.
        pub device: &'static str,
        /// GPUs per node.
        pub devices_per_node: u32,
    }

    impl Named for Model {
        fn names(&self) -> impl Iterator<Item = &str> {
            std::iter::once(self.name).chain(self.aliases.iter().copied())
        }
    }

    impl Named for Device {
        fn names(&self) -> impl Iterator<Item = &str> {
            std::iter::once(self.name)
        }
    }

    impl Named for Node {
        fn names(&self) -> impl Iterator<Item = &str> {
            std::iter::once(self.name)
        }
    }

    include!(concat!(env!("OUT_DIR"), "/catalog_index.rs"));

    /// [`super::find_model`] over the index.
    pub fn find_model(name: &str) -> Option<&'static Model> {
        super::resolve_model(MODELS, name)
    }

    /// [`super::find_device`] over the index.
    pub fn find_device(name: &str) -> Option<&'static Device> {
        super::by_id(DEVICES, name)
    }

    /// [`super::find_node`] over the index.
    pub fn find_node(name: &str) -> Option<&'static Node> {
        super::by_id(NODES, name)
    }

    /// [`super::matching_node`] over the index.
    pub fn matching_node(device: &str) -> Option<&'static Node> {
        let device = find_device(device)?;
        super::most_gpus(NODES, device.name, |n| (n.device, n.devices_per_node))
    }

    /// The index as a [`Lookup`].
    pub struct Index;

    impl Lookup for Index {
        fn model_id(&self, name: &str) -> Option<&'static str> {
            find_model(name).map(|m| m.name)
        }
        fn device(&self, name: &str) -> Option<(f64, bool)> {
            find_device(name).map(|d| (d.memory_gb, d.fp4_tensor_cores))
        }
        fn model(&self, name: &str) -> Option<(bool, bool, bool)> {
            find_model(name).map(|m| (m.latent_attention, m.sparse_indexer, m.linear_attention))
        }
        fn architecture(&self, name: &str) -> Option<&'static str> {
            find_model(name).and_then(|m| m.architecture)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_load_and_resolve_variants() {
        assert!(models().len() >= 20);
        let m = find_model("meta-llama/Llama-3.1-8B-Instruct").expect("instruct resolves to base");
        assert_eq!(m.name, "meta-llama/Llama-3.1-8B");
        assert_eq!(find_model("meta-llama/Llama-3.3-70B").unwrap().num_layers, 80);
        assert_eq!(find_model("Qwen/Qwen3-32B").unwrap().head_dim(), 128);
        assert_eq!(find_model("meta-llama/Meta-Llama-3-8B").unwrap().head_dim(), 128);
        assert!(find_device("h100").is_some() && find_node("h100_dgx").is_some());
        for node in nodes() {
            assert!(find_device(&node.device).is_some(), "node {} names a known device", node.name);
        }
    }

    #[test]
    fn devices_and_nodes_resolve_in_any_case_and_devices_match_a_node() {
        assert_eq!(find_device("H200").map(|d| d.name.as_str()), Some("h200"));
        assert_eq!(find_node(" H100_DGX").map(|n| n.name.as_str()), Some("h100_dgx"));
        let matching = |d: &str| matching_node(d).map(|n| n.name.as_str());
        assert_eq!(matching("h100"), Some("h100_dgx"), "the 8-GPU board before the pairwise node");
        assert_eq!(matching("H200"), Some("h200_dgx"));
        assert_eq!(matching("a100"), Some("a100_dgx"));
        assert_eq!(matching("a100_40gb"), Some("p4d_a100_40g_nvlink"));
        assert_eq!(matching("a40"), Some("a40_pairwise_nvlink"));
        assert_eq!(matching("mi300x"), None, "no catalogued node holds it");
        assert_eq!(matching("b300"), Some("b300_dgx"));
        assert_eq!(matching("gb200"), Some("gb200_nvl72"));
        assert_eq!(matching("gb300"), Some("gb300_nvl72"));
        // An NVL72 rack is one NVLink domain; it borrows its 8-GPU board's collectives.
        let rack = find_node("gb200_nvl72").unwrap();
        assert_eq!((rack.devices_per_node, rack.calibration_source()), (72, "b200_dgx"));
        assert_eq!(find_node("b200_dgx").unwrap().calibration_source(), "b200_dgx");
        for (device, fp4) in [("b200", 9000.0), ("b300", 13500.0), ("gb200", 10000.0), ("gb300", 15000.0)] {
            assert_eq!(find_device(device).unwrap().fp4_tflops, Some(fp4), "{device}");
        }
        assert_eq!(find_device("h100").unwrap().fp4_tflops, None);
        assert_eq!(matching("custom"), None);
        for device in devices() {
            if let Some(node) = matching_node(&device.name) {
                assert_eq!(node.device, device.name);
            }
        }
    }

    /// Devices without an on-demand list price we could read (data/README.md, prices.json):
    /// their runs leave the cost figures out with a warning.
    const UNPRICED: [&str; 3] = ["b300", "gb200", "gb300"];

    #[test]
    fn every_device_has_one_positive_price_with_its_source_and_date() {
        for device in devices() {
            if UNPRICED.contains(&device.name.as_str()) {
                assert!(
                    find_price(&device.name).is_none(),
                    "{} is priced: take it off UNPRICED",
                    device.name
                );
                continue;
            }
            let price = find_price(&device.name).unwrap_or_else(|| panic!("{} has no price", device.name));
            assert!(price.usd_per_gpu_hour > 0.0 && price.usd_per_gpu_hour.is_finite(), "{price:?}");
            assert!(price.source.starts_with("https://"), "{price:?}");
            let date = price.read_on.as_bytes();
            assert!(
                date.len() == 10 && date[4] == b'-' && date[7] == b'-',
                "read_on is an ISO date: {price:?}"
            );
        }
        for (i, price) in prices().iter().enumerate() {
            assert!(find_device(&price.device).is_some(), "{} prices no catalogued device", price.device);
            assert!(!prices()[..i].iter().any(|p| p.device == price.device), "{} twice", price.device);
        }
    }

    #[test]
    fn models_resolve_without_their_organisation_and_by_old_ids() {
        assert_eq!(find_model("Meta-Llama-3-8B").unwrap().name, "meta-llama/Meta-Llama-3-8B");
        assert_eq!(find_model("meta-llama-3-8b").unwrap().name, "meta-llama/Meta-Llama-3-8B");
        assert_eq!(find_model("Llama-3.1-8B-Instruct").unwrap().name, "meta-llama/Llama-3.1-8B");
        for size in ["8B", "70B", "405B"] {
            for variant in ["", "-Instruct"] {
                let old = format!("meta-llama/Meta-Llama-3.1-{size}{variant}");
                assert_eq!(
                    find_model(&old).map(|m| m.name.as_str()),
                    Some(format!("meta-llama/Llama-3.1-{size}").as_str()),
                    "{old}"
                );
            }
        }
        assert!(find_model("Llama").is_none());
        assert_eq!(
            suggest_model("Llama-3-8B"),
            Some("meta-llama/Meta-Llama-3-8B"),
            "an exact suffix comes first"
        );
        assert_eq!(suggest_model("meta-llama/Meta-Llama-3-8C"), Some("meta-llama/Meta-Llama-3-8B"));
    }

    /// The page reads the index (`build.rs`), the simulation the parsed catalogues: the same
    /// entries in the same order, the same facts, and every lookup finds the same entry.
    #[test]
    fn the_index_is_the_parsed_catalogues_entry_for_entry() {
        assert_eq!(index::MODELS.len(), models().len());
        for (i, m) in models().iter().enumerate() {
            let e = &index::MODELS[i];
            assert_eq!(e.name, m.name);
            assert_eq!(e.aliases, m.aliases.iter().map(String::as_str).collect::<Vec<_>>().as_slice());
            assert_eq!(
                (e.latent_attention, e.sparse_indexer, e.linear_attention),
                (m.mla.is_some(), m.sparse_attention.is_some(), m.linear_attention.is_some())
            );
            assert_eq!(e.architecture, m.architecture.as_deref(), "{}", m.name);
        }
        assert!(
            index::MODELS.iter().any(|m| m.latent_attention)
                && index::MODELS.iter().any(|m| m.sparse_indexer)
                && index::MODELS.iter().any(|m| m.linear_attention)
        );
        assert_eq!(index::DEVICES.len(), devices().len());
        for (e, d) in index::DEVICES.iter().zip(devices()) {
            assert_eq!((e.name, e.display_name), (d.name.as_str(), d.display_name.as_str()));
            assert_eq!(e.memory_gb.to_bits(), d.memory_gb.to_bits(), "{}", d.name);
            assert_eq!(e.fp4_tensor_cores, d.fp4_tflops.is_some(), "{}", d.name);
        }
        assert!(index::DEVICES.iter().any(|d| d.fp4_tensor_cores));
        assert_eq!(index::NODES.len(), nodes().len());
        for (e, n) in index::NODES.iter().zip(nodes()) {
            assert_eq!(
                (e.name, e.device, e.devices_per_node),
                (n.name.as_str(), n.device.as_str(), n.devices_per_node)
            );
        }
        let mut queries: Vec<String> =
            ["Llama", "", "  h100 ", "H200", "unknown", "Meta-Llama-3-8B", "Llama-3.1-8B-Instruct"]
                .into_iter()
                .map(String::from)
                .collect();
        for m in models() {
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                let bare = n.rsplit('/').next().unwrap_or(n);
                for q in [
                    n.clone(),
                    n.to_ascii_uppercase(),
                    bare.to_string(),
                    format!("{n}-Instruct"),
                    format!("{bare}-chat"),
                ] {
                    queries.push(q);
                }
            }
        }
        for d in devices() {
            queries.extend([d.name.clone(), d.name.to_ascii_uppercase()]);
        }
        for n in nodes() {
            queries.extend([n.name.clone(), format!(" {} ", n.name.to_ascii_uppercase())]);
        }
        for q in &queries {
            assert_eq!(index::find_model(q).map(|m| m.name), find_model(q).map(|m| m.name.as_str()), "{q:?}");
            assert_eq!(
                index::find_device(q).map(|d| d.name),
                find_device(q).map(|d| d.name.as_str()),
                "{q:?}"
            );
            assert_eq!(index::find_node(q).map(|n| n.name), find_node(q).map(|n| n.name.as_str()), "{q:?}");
            assert_eq!(
                index::matching_node(q).map(|n| n.name),
                matching_node(q).map(|n| n.name.as_str()),
                "{q:?}"
            );
            assert_eq!(index::Index.device(q), Parsed.device(q), "{q:?}");
            assert_eq!(index::Index.model(q), Parsed.model(q), "{q:?}");
            assert_eq!(index::Index.model_id(q), Parsed.model_id(q), "{q:?}");
        }
    }
}
