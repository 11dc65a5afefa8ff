//! The benchmark client a point was measured with, as llmsim's closed-loop client model
//! (VALIDATION.md, "Benchmark clients"). The file does not record its client; about 95 % of its
//! points are InferenceX runs, whose client is public (`benchmarks/benchmark_lib.sh` and
//! `utils/bench_serving/benchmark_serving.py` in SemiAnalysisAI/InferenceX, and the
//! `kimbochen/bench_serving` fork it cloned before 2026-01-21). What it did is decided by the
//! measurement date; [`concurrency_not_recorded`] also reads the engine, system and recorded
//! concurrency (a script's bug). Nothing here looks at a point's model, id or measured figures.

use crate::points::{Mode, ServingPoint};

/// The day InferenceX's client started sending `2·C` warm-up requests instead of one test
/// request (InferenceX commit `d053ae24e`, "upstream kimbochen/bench_serving, adding warmup").
pub const WARMUP_PER_CLIENT_SINCE: &str = "2026-01-21";

/// How a benchmark client drove one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Client {
    /// Measured requests per client (`--num-prompts` = this × concurrency).
    pub requests_per_client: u32,
    /// Warm-up requests, sent and finished before the measured run, excluded from its means.
    pub warmup: Warmup,
    /// Prompt and output lengths are uniform in `[⌊r·L⌋, L]` (`--random-range-ratio`).
    pub length_range_ratio: f64,
    /// Client-side time to first token per request, seconds (HTTP, API server).
    pub ttft_overhead_s: f64,
    /// Further client-side seconds per prompt token (tokenisation).
    pub ttft_overhead_per_input_token_s: f64,
}

/// A client's warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmup {
    /// A fixed number of requests.
    Requests(u32),
    /// This many per client (× concurrency).
    PerClient(u32),
}

impl Warmup {
    /// Warm-up requests at `concurrency`.
    pub fn requests(self, concurrency: u32) -> u64 {
        match self {
            Warmup::Requests(n) => u64::from(n),
            Warmup::PerClient(k) => u64::from(k) * u64::from(concurrency),
        }
    }
}

/// What a command line may change about each point's client and deployment; `None` keeps the
/// protocol's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Overrides {
    /// `--requests-per-client`.
    pub requests_per_client: Option<u32>,
    /// `--warmup-per-client`.
    pub warmup_per_client: Option<u32>,
    /// `--length-range-ratio`.
    pub length_range_ratio: Option<f64>,
    /// `--undated-length-range-ratio`: the length spread of the rows without a measurement date
    /// (that copy no dated row, [`crate::points::ServingPoint::run_date`]) only, instead of
    /// [`UNDATED_LENGTH_RANGE_RATIO`].
    pub undated_length_range_ratio: Option<f64>,
    /// `--client-ttft-overhead-ms`.
    pub ttft_overhead_ms: Option<f64>,
    /// `--client-ttft-overhead-per-input-token-us`.
    pub ttft_overhead_per_input_token_us: Option<f64>,
    /// `--model-recipes`: also apply InferenceX's per-model launch recipes
    /// (`deployment::model_recipe_flags`).
    pub model_recipes: bool,
}

/// InferenceX's client on the day `measured` (`YYYY-MM-DD`; blank = unknown, taken as the
/// current protocol, whose length spread `client_for` replaces by
/// [`UNDATED_LENGTH_RANGE_RATIO`] for such rows): `--num-prompts 10·C --max-concurrency C --random-range-ratio 0.8
/// --request-rate inf --ignore-eos`, one test request before 2026-01-21 and `--num-warmups
/// 2·C` from then on.
pub fn inferencex_client(measured: &str) -> Client {
    let warmup = if !measured.is_empty() && measured < WARMUP_PER_CLIENT_SINCE {
        Warmup::Requests(1)
    } else {
        Warmup::PerClient(2)
    };
    Client {
        requests_per_client: 10,
        warmup,
        length_range_ratio: 0.8,
        ttft_overhead_s: CLIENT_TTFT_OVERHEAD_S,
        ttft_overhead_per_input_token_s: CLIENT_TTFT_OVERHEAD_PER_INPUT_TOKEN_S,
    }
}

/// Client-side TTFT per request: a new HTTP connection per request, the API server's request
/// handling and the first streamed chunk (VALIDATION.md, "Client-side time to first token").
pub const CLIENT_TTFT_OVERHEAD_S: f64 = 0.0;

/// Client-side TTFT per prompt token: the API server tokenises the prompt before the engine
/// sees it.
pub const CLIENT_TTFT_OVERHEAD_PER_INPUT_TOKEN_S: f64 = 0.0;

/// The length spread of the rows without a measurement date (that copy no dated row's figures,
/// [`crate::points::ServingPoint::copy_of_date`]), every engine's: exact lengths. Those rows
/// carry an engine version but no date, so they are not InferenceX's dated runs but
/// AIConfigurator's own (Qwen3-235B-A22B-FP8 on all three engines), whose benchmark runs AIPerf
/// for every backend with `--isl-stddev 0 --osl-stddev 0` and `ignore_eos`
/// (`generator/config/backend_templates/benchmark/bench_run.sh.j2`), and they behave like
/// clients in lock-step: their TPOT does not move with the output length (TensorRT-LLM at
/// c = 4, VALIDATION.md "TensorRT-LLM's fixed part of TTFT"; SGLang from 100 to 2,000 output
/// tokens, VALIDATION.md branch `qw41`). Nothing in the clients' or engines' sources spreads
/// such clients, and the one serial mechanism they show (the API server handing a burst over
/// one request at a time, `closed_loop_request_generator_config_front_end_serial_time`) keeps
/// the cohorts and adds a lone step to each: the harness leaves it off (VALIDATION.md, "What
/// desynchronises the undated rows' clients").
pub const UNDATED_LENGTH_RANGE_RATIO: f64 = 1.0;

/// InferenceX's vLLM H100 runs whose client concurrency is not the run's: PR #273 (`25506e87c`,
/// 2025-12-05, "Upgrade vLLM to v0.11.2") made `benchmarks/gptoss_fp4_h100_docker.sh` pass
/// `--max-concurrency 512` to the client while the server kept `--max-num-seqs $CONC` and
/// `--num-prompts $((CONC * 10))`; PR #310 (`4e135fd3f`, 2025-12-08 22:20 UTC, "fix h100 docker
/// error") restored `"$CONC"`. `utils/process_result.py` records the client's
/// `max_concurrency` as the point's concurrency, so such a row says 512 while 10·CONC requests
/// (CONC 4-64 in that day's `nvidia-master.yaml`, not recorded) arrived at once and at most
/// CONC ran: its TTFT is ~4.5 decode times of queueing. The script's system, engine and days
/// (from, until: inclusive ISO dates).
const VLLM_H100_CLIENT_512_DAYS: (&str, &str) = ("2025-12-05", "2025-12-08");

/// The concurrency the buggy script hard-coded ([`VLLM_H100_CLIENT_512_DAYS`]).
const VLLM_H100_CLIENT_512: u32 = 512;

/// Why `point`'s recorded concurrency is not the one its server ran, if it is one of the rows
/// of [`VLLM_H100_CLIENT_512_DAYS`]; `None` otherwise.
pub fn concurrency_not_recorded(point: &ServingPoint) -> Option<String> {
    let Mode::Aggregated(instance) = point.mode else { return None };
    (point.backend == "vllm"
        && point.system == "h100_sxm"
        && (VLLM_H100_CLIENT_512_DAYS.0..=VLLM_H100_CLIENT_512_DAYS.1).contains(&point.run_date())
        && instance.concurrency == VLLM_H100_CLIENT_512)
        .then(|| {
            "concurrency 512 is the client's hard-coded --max-concurrency of InferenceX's vLLM H100 script on 2025-12-05..08 \
             (25506e87c, fixed by 4e135fd3f): the server ran --max-num-seqs CONC with 10·CONC requests at once, CONC not recorded"
                .to_string()
        })
}

/// The client of `point` with `overrides` applied.
pub fn client_for(point: &ServingPoint, overrides: &Overrides) -> Client {
    // A row that copies a dated run's figures was measured with that run's client.
    let date = point.run_date();
    let mut client = inferencex_client(date);
    if date.is_empty() {
        client.length_range_ratio = UNDATED_LENGTH_RANGE_RATIO;
    }
    if let Some(k) = overrides.requests_per_client {
        client.requests_per_client = k;
    }
    if let Some(k) = overrides.warmup_per_client {
        client.warmup = Warmup::PerClient(k);
    }
    if let Some(r) = overrides.length_range_ratio {
        client.length_range_ratio = r;
    }
    if let Some(r) = overrides.undated_length_range_ratio.filter(|_| date.is_empty()) {
        client.length_range_ratio = r;
    }
    if let Some(ms) = overrides.ttft_overhead_ms {
        client.ttft_overhead_s = ms / 1e3;
    }
    if let Some(us) = overrides.ttft_overhead_per_input_token_us {
        client.ttft_overhead_per_input_token_s = us / 1e6;
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::tests::point;

    #[test]
    fn the_warm_up_follows_the_measurement_date() {
        assert_eq!(inferencex_client("2025-10-12").warmup, Warmup::Requests(1));
        assert_eq!(inferencex_client("2026-01-20").warmup, Warmup::Requests(1));
        assert_eq!(inferencex_client("2026-01-21").warmup, Warmup::PerClient(2));
        assert_eq!(inferencex_client("").warmup, Warmup::PerClient(2));
        assert_eq!(Warmup::PerClient(2).requests(16), 32);
        assert_eq!(Warmup::Requests(1).requests(16), 1);
        let c = inferencex_client("2025-10-12");
        assert_eq!((c.requests_per_client, c.length_range_ratio), (10, 0.8));
    }

    #[test]
    fn the_h100_script_s_hard_coded_client_concurrency_is_not_the_run_s() {
        let row = |date: &str, c: &str, system: &str, backend: &str| {
            point(&[("measured", date), ("batch_size", c), ("system", system), ("backend", backend)])
        };
        assert!(concurrency_not_recorded(&row("2025-12-05", "512", "h100_sxm", "vllm")).is_some());
        assert!(concurrency_not_recorded(&row("2025-12-08", "512", "h100_sxm", "vllm")).is_some());
        // A day inside the range the script ran broken.
        assert!(concurrency_not_recorded(&row("2025-12-06", "512", "h100_sxm", "vllm")).is_some());
        assert!(concurrency_not_recorded(&row("2025-12-09", "512", "h100_sxm", "vllm")).is_none());
        assert!(concurrency_not_recorded(&row("2025-12-04", "512", "h100_sxm", "vllm")).is_none());
        // Before the script's change, after its fix, another concurrency, system or engine.
        assert!(concurrency_not_recorded(&row("2025-11-02", "512", "h100_sxm", "vllm")).is_none());
        assert!(concurrency_not_recorded(&row("2026-03-27", "512", "h100_sxm", "vllm")).is_none());
        assert!(concurrency_not_recorded(&row("2025-12-08", "64", "h100_sxm", "vllm")).is_none());
        assert!(concurrency_not_recorded(&row("2025-12-08", "512", "h200_sxm", "vllm")).is_none());
        assert!(concurrency_not_recorded(&row("2025-12-08", "512", "h100_sxm", "sglang")).is_none());
    }

    #[test]
    fn overrides_replace_the_protocols_values() {
        let p = point(&[("measured", "2025-10-12")]);
        let c = client_for(
            &p,
            &Overrides {
                requests_per_client: Some(3),
                warmup_per_client: Some(0),
                length_range_ratio: Some(1.0),
                undated_length_range_ratio: None,
                ttft_overhead_ms: Some(2.0),
                ttft_overhead_per_input_token_us: Some(1.5),
                model_recipes: false,
            },
        );
        assert_eq!(
            c,
            Client {
                requests_per_client: 3,
                warmup: Warmup::PerClient(0),
                length_range_ratio: 1.0,
                ttft_overhead_s: 0.002,
                ttft_overhead_per_input_token_s: 1.5e-6,
            }
        );
        assert_eq!(client_for(&p, &Overrides::default()), inferencex_client("2025-10-12"));
    }

    #[test]
    fn an_undated_copy_of_a_dated_run_gets_that_runs_client() {
        let rows = [
            crate::points::tests::row(&[("silicon_ttft_ms", "200.504"), ("measured", "2025-10-12")]),
            crate::points::tests::row(&[("silicon_ttft_ms", "200.50"), ("measured", "")]),
        ];
        let text = format!("{}\n{}\n", crate::points::tests::HEADER, rows.join("\n"));
        let file = crate::points::parse_points(&text, "t.csv").unwrap();
        let copy = client_for(&file.points[1], &Overrides::default());
        assert_eq!(copy, inferencex_client("2025-10-12"));
        assert_eq!((copy.length_range_ratio, copy.warmup), (0.8, Warmup::Requests(1)));
        // The undated rows' ratio is for rows the file cannot date.
        let spread = Overrides { undated_length_range_ratio: Some(1.0), ..Overrides::default() };
        assert_eq!(client_for(&file.points[1], &spread).length_range_ratio, 0.8);
    }

    #[test]
    fn rows_without_a_date_get_exact_lengths_unless_told_otherwise() {
        let dated = point(&[("measured", "2025-10-12")]);
        let blank = point(&[("measured", "")]);
        assert_eq!(client_for(&dated, &Overrides::default()).length_range_ratio, 0.8);
        assert_eq!(client_for(&blank, &Overrides::default()).length_range_ratio, 1.0);
        // Only the length spread differs: the warm-up and request count stay the protocol's.
        let c = client_for(&blank, &Overrides::default());
        assert_eq!((c.requests_per_client, c.warmup), (10, Warmup::PerClient(2)));
        let spread = Overrides { undated_length_range_ratio: Some(0.8), ..Overrides::default() };
        assert_eq!(client_for(&blank, &spread).length_range_ratio, 0.8);
        assert_eq!(client_for(&dated, &spread).length_range_ratio, 0.8);
        // The undated rows' own ratio wins over the global one there; dated rows take the global.
        let both = Overrides {
            length_range_ratio: Some(0.5),
            undated_length_range_ratio: Some(0.9),
            ..Overrides::default()
        };
        assert_eq!(client_for(&blank, &both).length_range_ratio, 0.9);
        assert_eq!(client_for(&dated, &both).length_range_ratio, 0.5);
        let global = Overrides { length_range_ratio: Some(0.5), ..Overrides::default() };
        assert_eq!(client_for(&blank, &global).length_range_ratio, 0.5);
    }

    #[test]
    fn every_engines_undated_rows_get_aiperfs_exact_lengths() {
        // AIConfigurator's own runs: AIPerf with exact lengths whatever the engine, SGLang too
        // (it had `sglang.bench_serving`'s default spread, lengths 1..L).
        for backend in ["sglang", "vllm", "trtllm"] {
            let blank = point(&[("measured", ""), ("backend", backend)]);
            let dated = point(&[("measured", "2025-10-12"), ("backend", backend)]);
            assert_eq!(client_for(&blank, &Overrides::default()).length_range_ratio, 1.0, "{backend}");
            assert_eq!(client_for(&dated, &Overrides::default()).length_range_ratio, 0.8, "{backend}");
        }
        // The command line still wins on the undated rows.
        let blank = point(&[("measured", ""), ("backend", "sglang")]);
        let spread = Overrides { undated_length_range_ratio: Some(0.0), ..Overrides::default() };
        assert_eq!(client_for(&blank, &spread).length_range_ratio, 0.0);
    }
}
