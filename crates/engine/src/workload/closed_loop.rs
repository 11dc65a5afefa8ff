//! `closed_loop`: N clients, each sending its next request when its previous one finishes
//! (after an optional think time), as serving benchmarks do. All clients start at t = 0.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::length::LengthGenerator;
use super::synthetic::parse_lengths;
use super::{NewRequest, RequestSource, WorkloadPlan};
use crate::config::{ConfigError, FlagDef, Params};
use crate::limits::MAX_REQUESTS;
use crate::rng::{SeedTree, StreamRng, splitmix64};
use crate::time::{HORIZON_SECS, HORIZON_TEXT, SimTime, describe_secs, secs_to_nanos};

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "closed_loop_request_generator_config_seed",
        "42",
        "Seed of the closed-loop workload's streams.",
    ),
    FlagDef::int(
        "closed_loop_request_generator_config_concurrency",
        "8",
        "Concurrent clients, each with one request outstanding.",
    ),
    FlagDef::int("closed_loop_request_generator_config_num_requests", "128", "Requests sent in total."),
    FlagDef::float(
        "closed_loop_request_generator_config_think_time",
        "0",
        "Seconds a client waits after a response before sending its next request (one client's think times must fit within the 10^9 s simulation horizon).",
    ),
];

pub(super) fn parse(p: &mut Params) -> Option<WorkloadPlan> {
    let seed = p.int("closed_loop_request_generator_config_seed") as u64;
    let concurrency = p.int_in("closed_loop_request_generator_config_concurrency", 1, 1 << 24) as u32;
    let num_requests =
        p.int_in("closed_loop_request_generator_config_num_requests", 1, MAX_REQUESTS as i64) as u64;
    let think_s = p.float_in("closed_loop_request_generator_config_think_time", 0.0, HORIZON_SECS as f64);
    let think_ns = secs_to_nanos(think_s);
    // A client sends its requests at least a think time apart: the last one cannot arrive
    // before ceil(num_requests / concurrency) - 1 think times.
    let rounds = num_requests.div_ceil(u64::from(concurrency)).saturating_sub(1);
    let thinking_s = rounds as f64 * think_s;
    if thinking_s > HORIZON_SECS as f64 {
        p.error(
            ConfigError::new(
                "closed_loop_request_generator_config_think_time",
                format!("{rounds} think times of {think_s} s per client add up to {}, beyond {HORIZON_TEXT}", describe_secs(thinking_s)),
            )
            .with_hint("shorten the think time, or raise --closed_loop_request_generator_config_concurrency, or lower --closed_loop_request_generator_config_num_requests"),
        );
        return None;
    }
    let lengths = parse_lengths(p)?;
    let (has_sessions, has_block_hashes) = (lengths.has_sessions, lengths.has_block_hashes);
    Some(WorkloadPlan {
        build: Arc::new(move |seeds: &SeedTree| {
            let mut rng = seeds.stream("workload/lengths", splitmix64(seed) ^ lengths.seed);
            let generator = (lengths.build)(&mut rng);
            let first = u64::from(concurrency).min(num_requests) as u32;
            Box::new(ClosedLoop {
                lengths: generator,
                rng,
                pending: (0..first).map(|c| Reverse((SimTime::ZERO, c))).collect(),
                issued: 0,
                num_requests,
                think_ns,
            })
        }),
        has_sessions,
        has_block_hashes,
        expected_requests: Some(num_requests),
        estimated_requests: num_requests,
        count_flag: "closed_loop_request_generator_config_num_requests",
    })
}

struct ClosedLoop {
    lengths: Box<dyn LengthGenerator>,
    rng: StreamRng,
    /// Clients' next send times, earliest first (ties by client id).
    pending: BinaryHeap<Reverse<(SimTime, u32)>>,
    issued: u64,
    num_requests: u64,
    think_ns: u64,
}

impl RequestSource for ClosedLoop {
    fn peek_time(&self) -> Option<SimTime> {
        self.pending.peek().map(|Reverse((t, _))| *t)
    }

    fn next(&mut self) -> Option<NewRequest> {
        let Reverse((arrived_at, client)) = self.pending.pop()?;
        self.issued += 1;
        let s = self.lengths.next(&mut self.rng);
        Some(NewRequest {
            arrived_at,
            num_prefill_tokens: s.num_prefill_tokens,
            num_decode_tokens: s.num_decode_tokens,
            session_id: s.session_id,
            block_hashes: s.block_hashes,
            client: Some(client),
        })
    }

    fn on_request_done(&mut self, client: Option<u32>, now: SimTime) {
        let Some(client) = client else { return };
        if self.issued + (self.pending.len() as u64) < self.num_requests {
            self.pending.push(Reverse((now + self.think_ns, client)));
        }
    }
}
