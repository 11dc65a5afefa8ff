//! The per-GPU shape of one transformer layer: GEMM dimensions and bytes moved by each op.

use super::Op;
use super::cost::{ACT_BYTES, Curve, LatentShape, Peaks, elementwise_us, gemm_us};
use crate::catalog::ModelArch;

/// One layer's dimensions on one GPU of a tensor-parallel group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerShape {
    /// Hidden size E (not split by TP).
    pub embedding_dim: f64,
    /// Query heads per GPU.
    pub q_heads: f64,
    /// KV heads per GPU (replicated when TP exceeds the model's KV heads).
    pub kv_heads: f64,
    /// Per-head size.
    pub head_dim: f64,
    /// MLP hidden size per GPU.
    pub mlp_dim: f64,
    /// Gated MLP (gate and up projections fused).
    pub gated: bool,
    /// Vocabulary rows per GPU.
    pub vocab: f64,
    /// Multi-head latent attention's sizes, if the model uses it (`q_heads` are then its
    /// heads per GPU; the latent is not split).
    pub latent: Option<LatentShape>,
}

impl LayerShape {
    /// The shape of `model` split over `tp` GPUs.
    pub fn of(model: &ModelArch, tp: u32) -> LayerShape {
        let shape = LayerShape::from_dims(
            model.embedding_dim,
            model.num_q_heads,
            model.num_kv_heads,
            model.head_dim(),
            model.mlp_hidden_dim,
            model.use_gated_mlp,
            model.vocab_size,
            tp,
        );
        LayerShape {
            latent: model.mla.as_ref().map(|m| LatentShape {
                q_lora: f64::from(m.q_lora_rank),
                kv_lora: f64::from(m.kv_lora_rank),
                nope: f64::from(m.qk_nope_head_dim),
                rope: f64::from(m.qk_rope_head_dim),
                v: f64::from(m.v_head_dim),
            }),
            ..shape
        }
    }

    /// The shape from raw dimensions (as keyed in Vidur's `mlp.csv`).
    #[allow(clippy::too_many_arguments)] // Mirrors the table's key columns one to one.
    pub fn from_dims(
        e: u32,
        q_heads: u32,
        kv_heads: u32,
        head_dim: u32,
        mlp: u32,
        gated: bool,
        vocab: u32,
        tp: u32,
    ) -> LayerShape {
        let tp = tp.max(1);
        LayerShape {
            embedding_dim: e as f64,
            q_heads: (q_heads as f64 / tp as f64).max(1.0),
            kv_heads: kv_heads.div_ceil(tp).max(1) as f64,
            head_dim: head_dim as f64,
            mlp_dim: mlp as f64 / tp as f64,
            gated,
            vocab: vocab as f64 / tp as f64,
            latent: None,
        }
    }

    /// `(n, k)` of the op's GEMM (`m` is the token count), for the four layer GEMMs and the LM
    /// head. Latent attention's pre-projection is several GEMMs ([`LayerShape::latent_gemms`]):
    /// this is the first, the fused down-projection.
    pub fn gemm_nk(&self, op: Op) -> Option<(f64, f64)> {
        let e = self.embedding_dim;
        let d = self.head_dim;
        if let Some(l) = self.latent {
            match op {
                Op::AttnPreProj => return self.latent_gemms(&l).first().copied(),
                Op::AttnPostProj => return Some((e, self.q_heads * l.v)),
                _ => {}
            }
        }
        match op {
            Op::AttnPreProj => Some(((self.q_heads + 2.0 * self.kv_heads) * d, e)),
            Op::AttnPostProj => Some((e, self.q_heads * d)),
            Op::MlpUpProj => Some((if self.gated { 2.0 } else { 1.0 } * self.mlp_dim, e)),
            Op::MlpDownProj => Some((e, self.mlp_dim)),
            Op::LmHead => Some((self.vocab, e)),
            _ => None,
        }
    }

    /// Latent attention's pre-projection GEMMs, `(n, k)` each, in order: the fused
    /// down-projection of the hidden state into the query latent, the key/value latent and
    /// the rotary key (whole on every GPU: vLLM and SGLang replicate it); the query
    /// up-projection of this GPU's heads (or, without a query latent, the direct query
    /// projection); and the key/value up-projection of this GPU's heads, which decompresses
    /// new tokens' keys and values in prefill and is, with the same weights and FLOPs per
    /// token, the absorbed query and output projections of decode.
    pub fn latent_gemms(&self, l: &LatentShape) -> Vec<(f64, f64)> {
        let (e, h) = (self.embedding_dim, self.q_heads);
        let mut gemms = Vec::with_capacity(3);
        if l.q_lora > 0.0 {
            gemms.push((l.q_lora + l.kv_lora + l.rope, e));
            gemms.push((h * l.qk(), l.q_lora));
        } else {
            gemms.push((l.kv_lora + l.rope, e));
            gemms.push((h * l.qk(), e));
        }
        gemms.push((h * (l.nope + l.v), l.kv_lora));
        gemms
    }

    /// Bytes an element-wise op moves for `tokens` tokens; `kv_bytes` per KV-cache element.
    pub fn elementwise_bytes(&self, op: Op, tokens: f64, kv_bytes: f64) -> f64 {
        let e = self.embedding_dim;
        if let Some(l) = self.latent {
            match op {
                // Every head's rotary part of the query and the one shared rotary key.
                Op::AttnRope => return 2.0 * tokens * (self.q_heads + 1.0) * l.rope * ACT_BYTES,
                // The latent and the rotary key in, written to the cache.
                Op::AttnKvCacheSave => return tokens * l.cached() * (ACT_BYTES + kv_bytes),
                _ => {}
            }
        }
        match op {
            // Gather T rows of the table, write them.
            Op::Embedding => 2.0 * tokens * e * ACT_BYTES,
            // Read and write the hidden state.
            Op::InputLayernorm | Op::PostAttentionLayernorm => 2.0 * tokens * e * ACT_BYTES,
            // Rotate Q and K in place.
            Op::AttnRope => 2.0 * tokens * (self.q_heads + self.kv_heads) * self.head_dim * ACT_BYTES,
            // Gate and up in, product out (or one in, one out without a gate).
            Op::MlpAct => (if self.gated { 3.0 } else { 2.0 }) * tokens * self.mlp_dim * ACT_BYTES,
            // Residual: two in, one out.
            Op::Add => 3.0 * tokens * e * ACT_BYTES,
            // New K and V in, written to the paged cache.
            Op::AttnKvCacheSave => tokens * 2.0 * self.kv_heads * self.head_dim * (ACT_BYTES + kv_bytes),
            _ => 0.0,
        }
    }

    /// Elements of one token's row that an element-wise op's thread block walks through.
    pub fn row_elements(&self, op: Op) -> f64 {
        let e = self.embedding_dim;
        if let Some(l) = self.latent {
            match op {
                Op::AttnRope => return (self.q_heads + 1.0) * l.rope,
                Op::AttnKvCacheSave => return l.cached(),
                _ => {}
            }
        }
        match op {
            Op::AttnRope => (self.q_heads + self.kv_heads) * self.head_dim,
            Op::MlpAct => self.mlp_dim,
            Op::AttnKvCacheSave => 2.0 * self.kv_heads * self.head_dim,
            _ => e,
        }
    }

    /// Time of a token-count-driven op (a layer GEMM, the LM head or an element-wise kernel)
    /// over `tokens` rows, in µs, on `curve` at `peaks`; other ops take 0.
    pub fn op_us(
        &self,
        op: Op,
        curve: &Curve,
        peaks: Peaks,
        tokens: f64,
        weight_bytes: f64,
        kv_bytes: f64,
    ) -> f64 {
        if let (Some(l), Op::AttnPreProj) = (self.latent, op) {
            return self
                .latent_gemms(&l)
                .iter()
                .map(|&(n, k)| gemm_us(curve, peaks, tokens, n, k, ACT_BYTES, weight_bytes))
                .sum();
        }
        match self.gemm_nk(op) {
            Some((n, k)) => gemm_us(curve, peaks, tokens, n, k, ACT_BYTES, weight_bytes),
            None => elementwise_us(
                curve,
                peaks,
                self.elementwise_bytes(op, tokens, kv_bytes),
                self.row_elements(op),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_8b_at_tp8_replicates_kv_heads() {
        let s = LayerShape::from_dims(4096, 32, 8, 128, 14336, true, 128256, 8);
        assert_eq!((s.q_heads, s.kv_heads, s.mlp_dim), (4.0, 1.0, 1792.0));
        assert_eq!(s.gemm_nk(Op::AttnPreProj), Some((768.0, 4096.0)));
        assert_eq!(s.gemm_nk(Op::MlpUpProj), Some((3584.0, 4096.0)));
        assert_eq!(s.gemm_nk(Op::Add), None);
        assert_eq!(s.elementwise_bytes(Op::Add, 10.0, 2.0), 3.0 * 10.0 * 4096.0 * 2.0);
    }
}
