//! llmsim's engine: a pure, deterministic discrete-event simulator of LLM inference clusters,
//! re-implementing Microsoft Vidur's model.
//!
//! Reading guide: [`sim`] (the event loop), [`event`] (the closed event set and its ordering
//! key), [`request`] (a request's life), [`scheduler`] (routers and replica schedulers), [`kv`]
//! (paged KV cache with prefix caching), [`exec`] (batch time prediction), [`workload`] (request
//! generators), [`metrics`] and [`report`] (outputs). Flags: [`config`] is the vocabulary every
//! policy speaks, [`flag_table`] assembles the one table of flags, and [`sim_config`] turns a
//! [`Config`] into a validated [`SimConfig`].
//!
//! Modules are layered (ARCHITECTURE.md, "Layering"; checked by `tests/layering.rs`), bottom up:
//! the vocabulary ([`time`], [`limits`], [`rng`], [`stats`], [`decimal`], [`request`], [`catalog`],
//! [`trace`], [`inputs`], [`config`], [`slo`]); models and policies ([`memory`], [`kv`], [`batch`], [`exec`],
//! [`hf_config`], [`custom_device`], [`scheduler`], [`serving_engine`], [`workload`]); the composition root
//! ([`flag_table`], [`sim_config`]); the simulation ([`event`], [`sim`], [`metrics`],
//! [`report`]); planning ([`search`]: capacity searches over many simulations). A module uses
//! only its own layer and those below.
//!
//! The engine does no IO, reads no clock and uses no ambient randomness: the caller passes
//! file contents in [`Inputs`], and every random draw comes from named streams of one seed.
//!
//! ```
//! use llmsim_engine::{Config, Inputs, SimConfig, Simulation};
//! let mut config = Config::new();
//! config.set("synthetic_request_generator_config_num_requests", "8").unwrap();
//! let sim_config = SimConfig::build(&config, &Inputs::new()).unwrap();
//! let report = Simulation::new(&sim_config).run_to_report();
//! assert_eq!(report.summary.num_completed, 8);
//! ```

#![warn(missing_docs)]

pub mod batch;
pub mod catalog;
pub mod config;
pub mod custom_device;
pub mod decimal;
pub mod disagg;
pub mod event;
pub mod exec;
pub mod flag_table;
pub mod hf_config;
pub mod inputs;
pub mod kv;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod report;
pub mod request;
pub mod rng;
pub mod scheduler;
pub mod search;
pub mod serving_engine;
pub mod sim;
pub mod sim_config;
pub mod slo;
pub mod stats;
pub mod time;
pub mod trace;
pub mod workload;

pub use config::{Config, ConfigError, ConfigErrors, FlagDef, FlagGroup, FlagKind, FlagValue};
pub use flag_table::{all_flags, find_flag};
pub use inputs::Inputs;
pub use report::{Report, Summary};
pub use sim::{Progress, Simulation};
pub use sim_config::SimConfig;
pub use time::SimTime;
pub use trace::{Trace, TraceError, parse_trace};

/// Validates `config` and runs it to the end.
pub fn run(config: &Config, inputs: &Inputs) -> Result<Report, ConfigErrors> {
    let sim_config = SimConfig::build(config, inputs)?;
    Ok(Simulation::new(&sim_config).run_to_report())
}
