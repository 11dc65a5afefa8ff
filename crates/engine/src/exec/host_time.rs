//! Host time an iteration pays in series with its GPU time because the engine's scheduler does
//! not overlap it: SGLang's `event_loop_normal` (its overlap scheduler off, as under speculative
//! decoding). The SGLang replica scheduler reads the same rule ([`sglang_overlap_schedule`]) for
//! its batch admission; it lives here, below the schedulers, because every predictor charges
//! the time ([`super::roofline`]'s CPU-overhead flags).

use crate::config::Params;

/// SGLang's overlap-scheduler flag.
pub(crate) const SGLANG_OVERLAP_FLAG: &str = "sglang_scheduler_config_overlap_schedule";

/// Whether SGLang's overlap scheduler runs: on unless turned off, and off when speculating
/// unless turned on explicitly (spec v2, `SGLANG_ENABLE_SPEC_V2`, is off by default in
/// 0.5.5-0.5.10.post1: `ServerArgs._handle_speculative_decoding`).
pub(crate) fn sglang_overlap_schedule(p: &mut Params) -> bool {
    let speculating =
        matches!(p.string("replica_config_speculative_method").as_str(), "mtp" | "eagle" | "draft_model");
    let overlap_set = p.config().is_set(SGLANG_OVERLAP_FLAG);
    p.bool(SGLANG_OVERLAP_FLAG) && (overlap_set || !speculating)
}

/// The host time an SGLang iteration pays in series when its overlap scheduler is off, as
/// (ms per iteration, ms per request in the batch): `Scheduler.event_loop_normal` runs
/// `get_next_batch_to_run`, the batch's preparation and `process_batch_result` (a speculative
/// step also the EAGLE worker's draft / verify / draft-extend preparation and its host syncs)
/// between the GPU's batches, where `event_loop_overlap` hides them under the previous
/// batch. (0, 0) with another scheduler or with the overlap on.
pub(crate) fn non_overlap_cpu_overhead(p: &mut Params) -> (f64, f64) {
    if p.string("replica_scheduler_config_type") != "sglang" {
        return (0.0, 0.0);
    }
    let ms = p.float_in("sglang_scheduler_config_non_overlap_cpu_overhead_ms", 0.0, 1e4);
    let per_request = p.float_in("sglang_scheduler_config_non_overlap_cpu_overhead_per_request_ms", 0.0, 1e3);
    if sglang_overlap_schedule(p) { (0.0, 0.0) } else { (ms, per_request) }
}
