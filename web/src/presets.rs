//! Ready-made scenarios for the preset menu, as Vidur flag pairs, and the files the page ships.

use crate::form::FormState;

/// A second configuration a preset runs right after its own, on the same workload, and shows
/// against it in the A/B view (A = the preset, B = the variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// What B changes, for the run bar ("sarathi, 512-token chunks").
    pub name: &'static str,
    /// The flags B sets on top of A's; every other flag is A's.
    pub overrides: &'static [(&'static str, &'static str)],
}

/// A named scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// Stable id (the `<option>` value).
    pub id: &'static str,
    /// Menu label.
    pub name: &'static str,
    /// A few sentences under the menu: what is simulated (and, with a variant, what is compared).
    pub description: &'static str,
    /// The flags it sets; every other flag keeps its default.
    pub pairs: &'static [(&'static str, &'static str)],
    /// The B run Run also makes, for an A/B comparison; `None`: one run.
    pub compare_with: Option<Variant>,
}

/// The request trace served with the page: synthetic multi-turn chats with arrival times,
/// sessions and block hashes.
pub const SHIPPED_TRACE: &str = "data/traces/conversation_synth.csv";

/// Files served with the page (copied from `data/` into `dist/data/` by Trunk): the worker
/// fetches them when a configuration names them.
pub const SHIPPED_FILES: &[&str] = &[SHIPPED_TRACE];

/// Whether `path` is one of [`SHIPPED_FILES`].
pub fn is_shipped(path: &str) -> bool {
    SHIPPED_FILES.contains(&path)
}

/// The presets, the default first.
pub const PRESETS: &[Preset] = &[
    Preset {
        id: "quick-start",
        name: "Quick start: 8 × Llama-3.1-8B, H100, QPS 8",
        description: "Vidur's headline scenario: 128 conversation requests (lengths, sessions and shared prefixes from the page's synthetic multi-turn chat trace) arriving as a Poisson process at 8 req/s on 8 single-GPU H100 replicas; round-robin routing, vLLM v1 scheduling with 512-token chunks, prefix caching on. Llama-3.1-8B is Llama-3-8B's architecture with a 128k context, which the trace's long conversations need.",
        pairs: &[
            ("time_limit", "10800"),
            ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
            ("replica_config_tensor_parallel_size", "1"),
            ("replica_config_num_pipeline_stages", "1"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("cluster_config_num_replicas", "8"),
            ("request_generator_config_type", "synthetic"),
            ("synthetic_request_generator_config_num_requests", "128"),
            ("length_generator_config_type", "trace"),
            ("trace_request_length_generator_config_trace_file", "data/traces/conversation_synth.csv"),
            ("interval_generator_config_type", "poisson"),
            ("poisson_request_interval_generator_config_qps", "8"),
            ("global_scheduler_config_type", "round_robin"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_chunk_size", "512"),
            ("vllm_v1_scheduler_config_batch_size_cap", "512"),
            ("cache_config_enable_prefix_caching", "true"),
        ],
        compare_with: None,
    },
    Preset {
        id: "scheduler-ab",
        name: "Scheduler A/B: vllm_v1 vs sarathi on the conversation trace",
        description: "Compares two replica schedulers on one workload: Run makes run A with vLLM v1, then run B with Sarathi-Serve (both with 512-token chunks, everything else identical), and shows them compared (overlaid charts, summary diff). Workload: the shipped multi-turn chat trace (477 requests) replayed 4× faster (about 4.5 req/s, within what vLLM v1 and Sarathi both sustain) on 4 × Llama-3.1-8B on H100, lop routing, prefix caching on, 8,192 KV blocks (131k tokens, one full context) per replica so that admission matters. vLLM v1 reuses cached prefixes but admits greedily and preempts; Sarathi ignores prefix caching (with a warning), which is part of the difference, and admits a prompt only while the watermark stays free.",
        pairs: &[
            ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
            ("replica_config_tensor_parallel_size", "1"),
            ("replica_config_num_pipeline_stages", "1"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("cluster_config_num_replicas", "4"),
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "data/traces/conversation_synth.csv"),
            ("trace_request_generator_config_time_scale_factor", "0.25"),
            ("global_scheduler_config_type", "lop"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_chunk_size", "512"),
            ("cache_config_enable_prefix_caching", "true"),
            ("cache_config_num_blocks", "8192"),
        ],
        compare_with: Some(Variant {
            name: "sarathi, 512-token chunks",
            overrides: &[
                ("replica_scheduler_config_type", "sarathi"),
                ("sarathi_scheduler_config_chunk_size", "512"),
            ],
        }),
    },
    Preset {
        id: "llama3-70b-tp4",
        name: "Llama-3-70B at TP4, bursty Zipf load",
        description: "A 70B model split over 4 GPUs per replica (tensor parallel, NVLink all-reduce), 2 replicas behind least-outstanding-requests routing. 400 requests with Zipf-distributed lengths (256–8,192 tokens, 10 prompt tokens per output token) arrive in gamma-distributed bursts (2 req/s, CV 3). No file needed.",
        pairs: &[
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-70B"),
            ("replica_config_tensor_parallel_size", "4"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("cluster_config_num_replicas", "2"),
            ("request_generator_config_type", "synthetic"),
            ("synthetic_request_generator_config_num_requests", "400"),
            ("length_generator_config_type", "zipf"),
            ("zipf_request_length_generator_config_min_tokens", "256"),
            ("zipf_request_length_generator_config_max_tokens", "8192"),
            ("zipf_request_length_generator_config_prefill_to_decode_ratio", "10"),
            ("interval_generator_config_type", "gamma"),
            ("gamma_request_interval_generator_config_qps", "2"),
            ("gamma_request_interval_generator_config_cv", "3"),
            ("global_scheduler_config_type", "lor"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_chunk_size", "512"),
        ],
        compare_with: None,
    },
    Preset {
        id: "long-context-summarisation",
        name: "Long-context summarisation, Llama-3.1-8B",
        description: "Summarising long documents: prompts of 8k to 64k tokens (uniform total length, 40 prompt tokens per summary token) at 0.5 req/s on 3 H100 replicas, about 90% busy. Prefill-heavy: chunked prefill (2,048-token chunks) keeps decodes flowing while long prompts are processed; with 2 replicas the same load outruns the cluster and queues grow without bound.",
        pairs: &[
            ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("cluster_config_num_replicas", "3"),
            ("request_generator_config_type", "synthetic"),
            ("synthetic_request_generator_config_num_requests", "100"),
            ("length_generator_config_type", "uniform"),
            ("uniform_request_length_generator_config_min_tokens", "8192"),
            ("uniform_request_length_generator_config_max_tokens", "65536"),
            ("uniform_request_length_generator_config_prefill_to_decode_ratio", "40"),
            ("interval_generator_config_type", "poisson"),
            ("poisson_request_interval_generator_config_qps", "0.5"),
            ("global_scheduler_config_type", "lor"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_chunk_size", "2048"),
        ],
        compare_with: None,
    },
    Preset {
        id: "closed-loop-benchmark",
        name: "Closed-loop benchmark, 32 clients, A100",
        description: "What a serving benchmark measures: 32 concurrent clients, each sending its next request (1,024 prompt + 256 output tokens) as soon as the previous answer completes, 512 requests in all, against one A100 replica. Throughput here is the capacity of the replica at concurrency 32.",
        pairs: &[
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_device", "a100"),
            ("replica_config_network_device", "a100_pairwise_nvlink"),
            ("cluster_config_num_replicas", "1"),
            ("request_generator_config_type", "closed_loop"),
            ("closed_loop_request_generator_config_concurrency", "32"),
            ("closed_loop_request_generator_config_num_requests", "512"),
            ("length_generator_config_type", "fixed"),
            ("fixed_request_length_generator_config_prefill_tokens", "1024"),
            ("fixed_request_length_generator_config_decode_tokens", "256"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_chunk_size", "512"),
        ],
        compare_with: None,
    },
];

/// The preset with `id`.
pub fn find(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

/// The preset whose settings `form` holds, if any (a form edited away from every preset is
/// "custom").
pub fn matching(form: &FormState) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| FormState::from_pairs(p.pairs.iter().copied()).0 == *form)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use llmsim_engine::Report;
    use llmsim_worker::session::Session;

    use super::*;
    use crate::compare;

    fn repo_root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    #[test]
    fn shipped_files_exist_and_are_small() {
        for path in SHIPPED_FILES {
            let size =
                std::fs::metadata(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}")).len();
            assert!(size <= 2 << 20, "{path} is {size} bytes: keep shipped files small (first load)");
        }
    }

    /// Validates `form` as the page does, runs it natively to the end and checks that most
    /// requests complete.
    fn run_to_completion(what: &str, form: &FormState) -> Report {
        let errors = form.validate(&|p| is_shipped(p));
        assert!(errors.is_empty(), "{what}: {errors:?}");
        let mut session = Session::new();
        for (flag, path) in form.required_files() {
            let bytes =
                std::fs::read(repo_root().join(&path)).unwrap_or_else(|e| panic!("{what}: {path}: {e}"));
            session.load(flag, &path, bytes, &mut |_, _| {}).unwrap();
        }
        let mut sim = session.prepare(&form.to_json()).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        sim.run();
        let report = sim.finish();
        let s = &report.summary;
        println!(
            "{what}: {} requests, {} completed, {} refused, {:.1} s simulated, {} events",
            s.num_requests, s.num_completed, s.num_refused, s.simulated_time_s, s.num_events
        );
        assert!(s.num_completed * 10 >= s.num_requests * 9, "{what}: most requests complete");
        assert!(
            report.warnings.iter().all(|w| !w.contains("is ignored: it applies with")),
            "{what}: sets a flag that does not apply: {:?}",
            report.warnings
        );
        report
    }

    /// A preset's run makes its first impression: it has no warning (the A/B preset's B, which
    /// warns that sarathi ignores prefix caching as part of the comparison, is checked apart),
    /// and the cluster keeps up with its load.
    fn assert_clean(what: &str, report: &Report) {
        assert!(report.warnings.is_empty(), "{what} warns: {:?}", report.warnings);
        assert!(!report.summary.overload.overloaded, "{what} is overloaded: {:?}", report.summary.overload);
    }

    #[test]
    fn every_preset_and_variant_is_valid_and_runs_to_completion() {
        for preset in PRESETS {
            let (form, errors) = FormState::from_pairs(preset.pairs.iter().copied());
            assert!(errors.is_empty(), "{}: {errors:?}", preset.id);
            assert_eq!(
                form.active_pairs().len(),
                preset.pairs.len()
                    - preset
                        .pairs
                        .iter()
                        .filter(|(k, v)| {
                            llmsim_engine::find_flag(k)
                                .is_some_and(|d| d.parse_text(v).ok() == Some(d.default_value()))
                        })
                        .count(),
                "{}: every pair it sets applies",
                preset.id
            );
            let what = format!("preset {}", preset.id);
            assert_clean(&what, &run_to_completion(&what, &form));
            if let Some(variant) = &preset.compare_with {
                for (flag, text) in variant.overrides {
                    let def = llmsim_engine::find_flag(flag)
                        .unwrap_or_else(|| panic!("{}: unknown flag {flag}", preset.id));
                    def.parse_text(text).unwrap_or_else(|e| panic!("{}: {flag}={text}: {e}", preset.id));
                }
                run_to_completion(
                    &format!("preset {} variant B", preset.id),
                    &compare::variant_form(&form, variant),
                );
            }
        }
    }

    #[test]
    fn the_scheduler_ab_preset_compares_vllm_v1_with_sarathi_on_the_same_workload() {
        let preset = find("scheduler-ab").expect("the scheduler A/B preset exists");
        let variant = preset.compare_with.as_ref().expect("it runs a B variant");
        let (a, _) = FormState::from_pairs(preset.pairs.iter().copied());
        let b = compare::variant_form(&a, variant);
        let diff = compare::settings_diff(&a.active_pairs(), &b.active_pairs());
        for d in &diff {
            assert!(
                d.flag == "replica_scheduler_config_type"
                    || d.flag.starts_with("vllm_v1_")
                    || d.flag.starts_with("sarathi_"),
                "only the replica scheduler and its own flags differ: {d:?}"
            );
        }
        assert_eq!(compare::side_names(&diff), Some(("vllm_v1".to_string(), "sarathi".to_string())));
        for (side, form) in [("A", &a), ("B", &b)] {
            let chunk = if side == "A" {
                "vllm_v1_scheduler_config_chunk_size"
            } else {
                "sarathi_scheduler_config_chunk_size"
            };
            let def = llmsim_engine::find_flag(chunk).unwrap();
            assert_eq!(form.text(def), "512", "{side}: 512-token chunks");
        }
        assert!(preset.pairs.contains(&("cache_config_enable_prefix_caching", "true")));
        assert!(preset.pairs.contains(&("request_generator_config_type", "trace")));
        assert!(preset.pairs.iter().any(|(_, v)| is_shipped(v)), "it replays the shipped trace");
        assert!(
            preset.description.contains("ignores prefix caching"),
            "the description says sarathi ignores prefix caching"
        );

        let (report_a, report_b) = (run_to_completion("A/B: A", &a), run_to_completion("A/B: B", &b));
        let (sa, sb) = (&report_a.summary, &report_b.summary);
        assert_eq!(sa.num_requests, sb.num_requests, "the same workload");
        assert!(sa.prefix_cache_hit_rate > 0.0, "vllm_v1 reuses cached prefixes");
        assert_eq!(sb.prefix_cache_hit_rate, 0.0, "sarathi ignores prefix caching");
        assert!(
            report_b.warnings.iter().any(|w| w.contains("cache_config_enable_prefix_caching")),
            "{:?}",
            report_b.warnings
        );
        println!(
            "TTFT p50: A {:.3} s, B {:.3} s; preemptions: A {}, B {}",
            sa.ttft_s.p50, sb.ttft_s.p50, sa.num_preemptions, sb.num_preemptions
        );
        // 1.76× at the execution model of Fidelity II (2.1× before its faster GEMMs).
        assert!(sb.ttft_s.p50 > 1.5 * sa.ttft_s.p50, "the two schedulers differ visibly");
    }

    #[test]
    fn quick_start_uses_prefix_caching_on_the_shipped_conversations() {
        let quick = &PRESETS[0];
        assert!(quick.pairs.contains(&("cache_config_enable_prefix_caching", "true")));
        assert!(quick.pairs.iter().any(|(_, v)| is_shipped(v)));
    }
}
