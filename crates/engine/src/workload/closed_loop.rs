//! `closed_loop`: N clients, each sending its next request when its previous one finishes
//! (after an optional think time), as serving benchmarks do (vLLM's `bench serve` and
//! `benchmark_serving.py` with `--max-concurrency`, SGLang's `bench_serving`, genai-perf and
//! AIPerf in concurrency mode). All clients start at t = 0.
//!
//! The client model (docs/policies.md, "Benchmark clients"): optional warm-up requests, sent
//! through the same clients and left out of the statistics, after which the measured requests
//! start together (the benchmark's first wave); prompt and output lengths drawn independently
//! from `[⌊r·L⌋, L]` around the length generator's `L` (the benchmarks' `--random-range-ratio`);
//! a client-side part of the time to first token (HTTP, tokenisation) that the request
//! spends before it reaches the scheduler; and an optional serial front end (one API-server
//! process handling requests one at a time), which hands a burst to the scheduler one request
//! after another instead of in one instant.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::length::{LengthGenerator, LengthSample};
use super::synthetic::parse_lengths;
use super::{NewRequest, RequestSource, WorkloadPlan};
use crate::config::{ConfigError, FlagDef, Params};
use crate::limits::MAX_REQUESTS;
use crate::rng::{SeedTree, StreamRng, splitmix64, unit_f64};
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
    FlagDef::int(
        "closed_loop_request_generator_config_num_requests",
        "128",
        "Requests sent in total, warm-up requests not counted.",
    ),
    FlagDef::float(
        "closed_loop_request_generator_config_think_time",
        "0",
        "Seconds a client waits after a response before sending its next request (one client's think times must fit within the 10^9 s simulation horizon).",
    ),
    FlagDef::int(
        "closed_loop_request_generator_config_warmup_requests",
        "0",
        "Warm-up requests sent first through the same clients and left out of the statistics.",
    ),
    FlagDef::float(
        "closed_loop_request_generator_config_length_range_ratio",
        "1",
        "Prompt and output lengths drawn uniformly from [floor(r·L), L] around the length generator's L (benchmarks' --random-range-ratio); 1 = exact.",
    ),
    FlagDef::float(
        "closed_loop_request_generator_config_client_ttft_overhead",
        "0",
        "Client-side seconds to first token per request (HTTP, API server), before the scheduler sees it.",
    ),
    FlagDef::float(
        "closed_loop_request_generator_config_client_ttft_overhead_per_input_token",
        "0",
        "Further client-side seconds per prompt token (tokenisation), spent before the request reaches the scheduler.",
    ),
    FlagDef::float(
        "closed_loop_request_generator_config_front_end_serial_time",
        "0",
        "Seconds of serial work per request in the server's one front-end process, after the client overheads: requests reach the scheduler one at a time, in send order, this far apart at least.",
    ),
];

/// The client model's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Clients {
    concurrency: u32,
    num_requests: u64,
    warmup_requests: u64,
    think_ns: u64,
    range_ratio: f64,
    overhead_s: f64,
    overhead_per_token_s: f64,
    serial_ns: u64,
}

pub(super) fn parse(p: &mut Params) -> Option<WorkloadPlan> {
    let seed = p.int("closed_loop_request_generator_config_seed") as u64;
    let concurrency = p.int_in("closed_loop_request_generator_config_concurrency", 1, 1 << 24) as u32;
    let num_requests =
        p.int_in("closed_loop_request_generator_config_num_requests", 1, MAX_REQUESTS as i64) as u64;
    let warmup_requests =
        p.int_in("closed_loop_request_generator_config_warmup_requests", 0, MAX_REQUESTS as i64) as u64;
    let think_s = p.float_in("closed_loop_request_generator_config_think_time", 0.0, HORIZON_SECS as f64);
    let range_ratio = p.float_in("closed_loop_request_generator_config_length_range_ratio", 0.0, 1.0);
    // An hour per request, and a second per prompt token, are far beyond any client; the
    // bounds keep one request's overhead well inside the simulation horizon.
    let overhead_s = p.float_in("closed_loop_request_generator_config_client_ttft_overhead", 0.0, 3600.0);
    let overhead_per_token_s =
        p.float_in("closed_loop_request_generator_config_client_ttft_overhead_per_input_token", 0.0, 1.0);
    let serial_s = p.float_in("closed_loop_request_generator_config_front_end_serial_time", 0.0, 1.0);
    // A client sends its requests at least a think time apart: the last one cannot arrive
    // before ceil(num_requests / concurrency) - 1 think times.
    let total = num_requests.saturating_add(warmup_requests);
    if total > MAX_REQUESTS {
        p.error(ConfigError::new(
            "closed_loop_request_generator_config_warmup_requests",
            format!("{warmup_requests} warm-up and {num_requests} measured requests are more than the {MAX_REQUESTS} one run simulates"),
        ));
        return None;
    }
    let rounds = total.div_ceil(u64::from(concurrency)).saturating_sub(1);
    // The front end's serial time can delay every request behind all earlier ones.
    let thinking_s = rounds as f64 * (think_s + overhead_s) + total as f64 * serial_s;
    if thinking_s > HORIZON_SECS as f64 {
        let overheads = match (overhead_s > 0.0, serial_s > 0.0) {
            (true, true) => format!(
                " (with client overheads of {overhead_s} s and {serial_s} s of front-end time per request)"
            ),
            (true, false) => format!(" (with client overheads of {overhead_s} s)"),
            (false, true) => format!(" (with {serial_s} s of front-end time per request)"),
            (false, false) => String::new(),
        };
        p.error(
            ConfigError::new(
                "closed_loop_request_generator_config_think_time",
                format!("{rounds} think times of {think_s} s{overheads} per client add up to {}, beyond {HORIZON_TEXT}", describe_secs(thinking_s)),
            )
            .with_hint("shorten the think time, or raise --closed_loop_request_generator_config_concurrency, or lower --closed_loop_request_generator_config_num_requests"),
        );
        return None;
    }
    let clients = Clients {
        concurrency,
        num_requests,
        warmup_requests,
        think_ns: secs_to_nanos(think_s),
        range_ratio,
        overhead_s,
        overhead_per_token_s,
        serial_ns: secs_to_nanos(serial_s),
    };
    let lengths = parse_lengths(p)?;
    let (has_sessions, has_block_hashes) = (lengths.has_sessions, lengths.has_block_hashes);
    Some(WorkloadPlan {
        build: Arc::new(move |seeds: &SeedTree| {
            let mut rng = seeds.stream("workload/lengths", splitmix64(seed) ^ lengths.seed);
            let generator = (lengths.build)(&mut rng);
            Box::new(ClosedLoop::new(clients, generator, rng, seeds.stream("workload/client", seed)))
        }),
        has_sessions,
        has_block_hashes,
        expected_requests: Some(total),
        estimated_requests: total,
        count_flag: "closed_loop_request_generator_config_num_requests",
    })
}

/// Which part of the benchmark the clients are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Sending warm-up requests; the measured ones start when all of them have finished.
    Warmup,
    /// Sending the measured requests.
    Measured,
}

/// A request a client has sent that has not reached the scheduler yet.
struct InTransit {
    sent_at: SimTime,
    sample: LengthSample,
    warmup: bool,
}

struct ClosedLoop {
    clients: Clients,
    lengths: Box<dyn LengthGenerator>,
    rng: StreamRng,
    /// The stream of the client's own draws (length ranges), apart from the lengths stream.
    client_rng: StreamRng,
    phase: Phase,
    /// The first measured request's lengths: the warm-up requests repeat them.
    first: Option<LengthSample>,
    /// Clients' next send times, earliest first (ties by client id).
    sends: BinaryHeap<Reverse<(SimTime, u32)>>,
    /// Sent requests by the instant they reach the scheduler (ties by client id).
    arrivals: BinaryHeap<Reverse<(SimTime, u32)>>,
    /// Per client, its request in transit.
    transit: Vec<Option<InTransit>>,
    /// Requests of the current phase sent (or about to be: in `sends`) and finished.
    scheduled: u64,
    warmups_done: u64,
    /// When the front end finishes the request it is working on (serial front end).
    front_end_free: SimTime,
}

impl ClosedLoop {
    fn new(
        clients: Clients,
        lengths: Box<dyn LengthGenerator>,
        rng: StreamRng,
        client_rng: StreamRng,
    ) -> Self {
        let mut source = ClosedLoop {
            clients,
            lengths,
            rng,
            client_rng,
            phase: if clients.warmup_requests > 0 { Phase::Warmup } else { Phase::Measured },
            first: None,
            sends: BinaryHeap::new(),
            arrivals: BinaryHeap::new(),
            transit: (0..clients.concurrency).map(|_| None).collect(),
            scheduled: 0,
            warmups_done: 0,
            front_end_free: SimTime::ZERO,
        };
        source.start_phase(SimTime::ZERO);
        source.settle();
        source
    }

    /// Requests the current phase sends in all.
    fn phase_total(&self) -> u64 {
        match self.phase {
            Phase::Warmup => self.clients.warmup_requests,
            Phase::Measured => self.clients.num_requests,
        }
    }

    /// The phase's first wave: as many clients as it has requests, all at `now`.
    fn start_phase(&mut self, now: SimTime) {
        self.scheduled = 0;
        let first_wave = u64::from(self.clients.concurrency).min(self.phase_total()) as u32;
        for client in 0..first_wave {
            self.sends.push(Reverse((now, client)));
            self.scheduled += 1;
        }
    }

    /// The next request's lengths: the length generator's, narrowed to the client's range.
    fn draw(&mut self) -> LengthSample {
        let mut s = self.lengths.next(&mut self.rng);
        if self.clients.range_ratio < 1.0 {
            s.num_prefill_tokens = self.in_range(s.num_prefill_tokens);
            s.num_decode_tokens = self.in_range(s.num_decode_tokens);
        }
        s
    }

    /// A length uniform in `[max(⌊r·n⌋, 1), n]`.
    fn in_range(&mut self, n: u32) -> u32 {
        let low = ((self.clients.range_ratio * f64::from(n)) as u32).clamp(1, n.max(1));
        let span = f64::from(n.max(1) - low + 1);
        low + ((unit_f64(&mut self.client_rng) * span) as u32).min(n.max(1) - low)
    }

    /// The first measured request's lengths, drawn once.
    fn first_sample(&mut self) -> LengthSample {
        if self.first.is_none() {
            self.first = Some(self.draw());
        }
        self.first.clone().expect("drawn above")
    }

    /// Sends every request whose send time comes before the earliest arrival at the
    /// scheduler, so that the earliest arrival is known; lengths are drawn in send order.
    fn settle(&mut self) {
        while let Some(&Reverse((sent_at, client))) = self.sends.peek() {
            if self.arrivals.peek().is_some_and(|Reverse((at, _))| *at < sent_at) {
                break;
            }
            self.sends.pop();
            let warmup = self.phase == Phase::Warmup;
            let sample = match self.phase {
                Phase::Warmup => self.first_sample(),
                // The first measured request is the one the warm-up copied.
                Phase::Measured => self.first.take().unwrap_or_else(|| self.draw()),
            };
            let overhead_s = self.clients.overhead_s
                + self.clients.overhead_per_token_s * f64::from(sample.num_prefill_tokens);
            let mut arrives_at = sent_at + secs_to_nanos(overhead_s);
            if self.clients.serial_ns > 0 {
                arrives_at = arrives_at.max(self.front_end_free) + self.clients.serial_ns;
                self.front_end_free = arrives_at;
            }
            self.arrivals.push(Reverse((arrives_at, client)));
            self.transit[client as usize] = Some(InTransit { sent_at, sample, warmup });
        }
    }
}

impl RequestSource for ClosedLoop {
    fn peek_time(&self) -> Option<SimTime> {
        self.arrivals.peek().map(|Reverse((t, _))| *t)
    }

    fn next(&mut self) -> Option<NewRequest> {
        let Reverse((_, client)) = self.arrivals.pop()?;
        let sent = self.transit[client as usize].take().expect("a client's request in transit");
        self.settle();
        let s = sent.sample;
        Some(NewRequest {
            arrived_at: sent.sent_at,
            num_prefill_tokens: s.num_prefill_tokens,
            num_decode_tokens: s.num_decode_tokens,
            session_id: s.session_id,
            block_hashes: s.block_hashes,
            client: Some(client),
            warmup: sent.warmup,
        })
    }

    fn on_request_done(&mut self, client: Option<u32>, now: SimTime) {
        let Some(client) = client else { return };
        if self.phase == Phase::Warmup {
            self.warmups_done += 1;
            if self.warmups_done == self.clients.warmup_requests {
                // benchmark_serving.py gathers every warm-up before the timed run, which then
                // opens with all its clients at once.
                self.phase = Phase::Measured;
                self.start_phase(now);
                self.settle();
                return;
            }
        }
        if self.scheduled < self.phase_total() {
            self.sends.push(Reverse((now + self.clients.think_ns, client)));
            self.scheduled += 1;
        }
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::inputs::Inputs;

    /// The closed loop of `flags` (fixed lengths 1000 → 100 unless set) as a source.
    fn source(flags: &[(&str, &str)]) -> Box<dyn RequestSource> {
        let mut pairs = vec![
            ("request_generator_config_type", "closed_loop"),
            ("length_generator_config_type", "fixed"),
            ("fixed_request_length_generator_config_prefill_tokens", "1000"),
            ("fixed_request_length_generator_config_decode_tokens", "100"),
        ];
        pairs.extend_from_slice(flags);
        let config = Config::from_pairs(pairs).unwrap();
        let inputs = Inputs::new();
        let mut p = Params::with_inputs(&config, &inputs);
        let plan = parse(&mut p).expect("valid closed loop");
        assert!(!p.has_errors());
        (plan.build)(&SeedTree::new(42))
    }

    /// Takes every request arriving by `until`: (arrival, sent at, prompt, output, client, warm-up).
    fn take(s: &mut dyn RequestSource, until: u64) -> Vec<(u64, u64, u32, u32, u32, bool)> {
        let mut out = Vec::new();
        while let Some(t) = s.peek_time().filter(|t| t.0 <= until) {
            let r = s.next().unwrap();
            out.push((
                t.0,
                r.arrived_at.0,
                r.num_prefill_tokens,
                r.num_decode_tokens,
                r.client.unwrap(),
                r.warmup,
            ));
        }
        out
    }

    #[test]
    fn warm_up_requests_go_first_and_the_measured_ones_start_together_after_them() {
        // 3 clients, 4 warm-ups: a wave of 3, then one more when the first is done.
        let mut s = source(&[
            ("closed_loop_request_generator_config_concurrency", "3"),
            ("closed_loop_request_generator_config_num_requests", "5"),
            ("closed_loop_request_generator_config_warmup_requests", "4"),
        ]);
        let first = take(&mut *s, 0);
        assert_eq!(first.iter().map(|r| (r.4, r.5)).collect::<Vec<_>>(), [(0, true), (1, true), (2, true)]);
        s.on_request_done(Some(1), SimTime(10));
        assert_eq!(take(&mut *s, 10).iter().map(|r| (r.0, r.4, r.5)).collect::<Vec<_>>(), [(10, 1, true)]);
        // Three of four done: nothing more is sent until the last warm-up finishes.
        s.on_request_done(Some(0), SimTime(20));
        s.on_request_done(Some(2), SimTime(30));
        assert_eq!(s.peek_time(), None);
        s.on_request_done(Some(1), SimTime(40));
        // The measured run opens with all three clients at once.
        let wave = take(&mut *s, 40);
        assert_eq!(
            wave.iter().map(|r| (r.0, r.4, r.5)).collect::<Vec<_>>(),
            [(40, 0, false), (40, 1, false), (40, 2, false)]
        );
        s.on_request_done(Some(2), SimTime(50));
        s.on_request_done(Some(0), SimTime(60));
        s.on_request_done(Some(1), SimTime(70));
        assert_eq!(take(&mut *s, 100).iter().map(|r| (r.0, r.4)).collect::<Vec<_>>(), [(50, 2), (60, 0)]);
        assert_eq!(s.peek_time(), None, "5 measured requests in all");
    }

    #[test]
    fn warm_up_and_measured_requests_together_stay_within_a_runs_request_limit() {
        let config = Config::from_pairs([
            ("request_generator_config_type", "closed_loop"),
            ("closed_loop_request_generator_config_num_requests", "60000000"),
            ("closed_loop_request_generator_config_warmup_requests", "60000000"),
        ])
        .unwrap();
        let inputs = Inputs::new();
        let mut p = Params::with_inputs(&config, &inputs);
        assert!(parse(&mut p).is_none());
        let errors = p.into_errors();
        assert_eq!(errors[0].flag, "closed_loop_request_generator_config_warmup_requests");
        assert!(errors[0].message.contains("more than the 100000000"), "{}", errors[0].message);
    }

    #[test]
    fn lengths_are_drawn_in_the_range_and_warm_ups_copy_the_first_measured_request() {
        let mut s = source(&[
            ("closed_loop_request_generator_config_concurrency", "3000"),
            ("closed_loop_request_generator_config_num_requests", "3000"),
            ("closed_loop_request_generator_config_warmup_requests", "2"),
            ("closed_loop_request_generator_config_length_range_ratio", "0.8"),
        ]);
        let warm = take(&mut *s, 0);
        assert_eq!(warm.len(), 2);
        assert_eq!((warm[0].2, warm[0].3), (warm[1].2, warm[1].3), "warm-ups repeat one request");
        s.on_request_done(Some(0), SimTime(5));
        s.on_request_done(Some(1), SimTime(6));
        let measured = take(&mut *s, 6);
        assert_eq!(measured.len(), 3000);
        assert_eq!(
            (measured[0].2, measured[0].3),
            (warm[0].2, warm[0].3),
            "the first measured request is the one copied"
        );
        let prompts: Vec<u32> = measured.iter().map(|r| r.2).collect();
        let outputs: Vec<u32> = measured.iter().map(|r| r.3).collect();
        // U{800..1000} and U{80..100}: every value in range, both ends reached, mean 900 / 90.
        assert_eq!((*prompts.iter().min().unwrap(), *prompts.iter().max().unwrap()), (800, 1000));
        assert_eq!((*outputs.iter().min().unwrap(), *outputs.iter().max().unwrap()), (80, 100));
        let mean = |v: &[u32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        assert!((mean(&prompts) - 900.0).abs() < 5.0 && (mean(&outputs) - 90.0).abs() < 0.5);
        // Prompt and output are drawn independently: not the same fraction of their range.
        assert!(measured.iter().any(|r| (r.2 - 800) / 10 != (r.3 - 80)));
    }

    #[test]
    fn the_client_overhead_delays_the_arrival_at_the_scheduler_but_not_the_send() {
        // 2 ms + 1 µs per prompt token: 3 ms for 1000 tokens.
        let mut s = source(&[
            ("closed_loop_request_generator_config_concurrency", "2"),
            ("closed_loop_request_generator_config_num_requests", "3"),
            ("closed_loop_request_generator_config_client_ttft_overhead", "0.002"),
            ("closed_loop_request_generator_config_client_ttft_overhead_per_input_token", "1e-6"),
            ("closed_loop_request_generator_config_think_time", "0.001"),
        ]);
        assert_eq!(s.peek_time(), Some(SimTime(3_000_000)));
        let first = take(&mut *s, 3_000_000);
        assert_eq!(first.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), [(3_000_000, 0), (3_000_000, 0)]);
        // Done at 10 ms: sent after the 1 ms think time, at the scheduler 3 ms later.
        s.on_request_done(Some(1), SimTime(10_000_000));
        assert_eq!(take(&mut *s, u64::MAX), [(14_000_000, 11_000_000, 1000, 100, 1, false)]);
    }

    #[test]
    fn a_serial_front_end_hands_a_burst_to_the_scheduler_one_request_at_a_time() {
        // 1 ms of front-end time per request, after a 2 ms client overhead.
        let mut s = source(&[
            ("closed_loop_request_generator_config_concurrency", "3"),
            ("closed_loop_request_generator_config_num_requests", "5"),
            ("closed_loop_request_generator_config_client_ttft_overhead", "0.002"),
            ("closed_loop_request_generator_config_front_end_serial_time", "0.001"),
        ]);
        // The first wave, sent together, reaches the scheduler 1 ms apart in client order;
        // every request's arrival still counts from its send.
        let wave = take(&mut *s, u64::MAX);
        assert_eq!(
            wave.iter().map(|r| (r.0, r.1, r.4)).collect::<Vec<_>>(),
            [(3_000_000, 0, 0), (4_000_000, 0, 1), (5_000_000, 0, 2)]
        );
        // Two requests sent 0.5 ms apart while the front end is idle: the second waits for
        // the first to be handed over.
        s.on_request_done(Some(2), SimTime(10_000_000));
        s.on_request_done(Some(0), SimTime(10_500_000));
        assert_eq!(
            take(&mut *s, u64::MAX).iter().map(|r| (r.0, r.1, r.4)).collect::<Vec<_>>(),
            [(13_000_000, 10_000_000, 2), (14_000_000, 10_500_000, 0)]
        );
        assert_eq!(s.peek_time(), None, "5 requests in all");
    }

    #[test]
    fn without_the_client_model_requests_are_exact_and_arrive_when_sent() {
        let mut s = source(&[
            ("closed_loop_request_generator_config_concurrency", "2"),
            ("closed_loop_request_generator_config_num_requests", "3"),
        ]);
        assert_eq!(take(&mut *s, 0), [(0, 0, 1000, 100, 0, false), (0, 0, 1000, 100, 1, false)]);
        s.on_request_done(Some(0), SimTime(7));
        assert_eq!(take(&mut *s, 7), [(7, 7, 1000, 100, 0, false)]);
        s.on_request_done(Some(1), SimTime(8));
        assert_eq!(s.peek_time(), None);
    }
}
