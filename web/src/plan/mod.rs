//! The "Plan capacity" view's pure parts: the form that builds a search spec ([`form`]), a
//! search running on a pool of workers ([`run`]), its results as table rows ([`table`]), the
//! Pareto chart ([`pareto`]), the latency-vs-load curves ([`curves`]) and the share link
//! ([`link`]). The plan itself is the engine's
//! [`llmsim_engine::search::SearchPlan`]; here it is only driven. Tested natively; the
//! components and the Web Workers are `app::plan` (wasm only).

pub mod curves;
pub mod files;
pub mod form;
pub mod link;
pub mod pareto;
pub mod run;
pub mod table;

#[cfg(test)]
mod tests;

pub use form::{PlanForm, SloRow};
pub use run::SearchRun;
