//! Schedulers: the global scheduler (router) picks a replica for each request; each replica's
//! scheduler forms batches from its queue.

pub mod global;
pub mod replica;
