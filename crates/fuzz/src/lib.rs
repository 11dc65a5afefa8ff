//! llmsim's fuzz harness: a stable, in-process mutation driver over the engine's entry points
//! (the trace readers, the arrival-time reader, `Config::from_json_str`, the Hugging Face
//! `config.json` reader, `SimConfig::build` and a bounded run), deterministic given a seed.
//!
//! Every execution `i` of a campaign is a pure function of the campaign's seed and `i`
//! ([`generate`]): a seed input (the shipped traces, `../shared`'s traces read at run time, the
//! golden scenarios' configurations, hand-written model files) with a few stacked mutations (bit
//! flips, splices, numeric extremes, CSV cells and JSON values replaced, line endings and
//! byte-order marks, flags set to extreme or contradictory values). [`execute`] runs it and
//! checks, on every accepted input, request conservation and causality (INV-1, INV-5), that
//! the report has no NaN, infinite or negative figure and no throughput beyond the cluster
//! (INV-11), that the workload produced no more requests than it said, that simulated time
//! advances, that a run which ends for want of events has ended every request (a deadlock
//! otherwise), and, on every refused input, that the error says where (file, row) it is. A
//! campaign ([`campaign`]) runs executions in child processes, so that a panic, an abort (an
//! allocation failure) or a hang (a watchdog on the child's CPU time) is attributed to the
//! execution that caused it;
//! each unique finding's input is minimised where it can be and written to a directory.

pub mod campaign;
pub mod case;
pub mod execute;
pub mod mutate;
pub mod rng;
pub mod seeds;

pub use case::{Case, Target};
pub use execute::{ExecLimits, Finding, Verdict, execute};
pub use mutate::generate;
pub use seeds::Seeds;
