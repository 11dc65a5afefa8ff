use llmsim_engine::search::{Job, JobOutcome, RunOutcome, SearchPlan, SearchSpec};
use serde_json::json;

use super::form::{Field, PlanForm, SloRow};
use super::run::{RunState, SearchRun};
use super::{curves, files, link, pareto, table};
use crate::presets;

fn quick_start() -> Vec<(String, String)> {
    presets::find("quick-start").unwrap().pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn form() -> PlanForm {
    PlanForm { nodes: vec!["h100_dgx".into(), "h200_dgx".into()], tp: "1, 2".into(), ..PlanForm::default() }
}

#[test]
fn the_form_builds_a_spec_the_engine_accepts_over_the_run_forms_workload() {
    let (spec, json) = form().build(&quick_start()).unwrap();
    assert_eq!(spec.num_configurations(), 2 * 2 * 1 * 1);
    let base = json["base"].as_object().unwrap();
    // The flags the search sets (rate, request count) and the space's are left out of the base.
    for flag in [
        "poisson_request_interval_generator_config_qps",
        "synthetic_request_generator_config_num_requests",
        "replica_config_device",
        "replica_config_tensor_parallel_size",
        "cluster_config_num_replicas",
    ] {
        assert!(!base.contains_key(flag), "{flag} in {base:?}");
    }
    let model = quick_start().into_iter().find(|(k, _)| k == "replica_config_model_name").unwrap().1;
    assert_eq!(base["replica_config_model_name"], model.as_str(), "the run form's model is the base's");
    assert_eq!(
        json["space"]["cluster"][1],
        json!({"replica_config_device": "h200", "replica_config_network_device": "h200_dgx"})
    );
    assert_eq!(spec.num_requests, 200);
    assert_eq!(spec.slos.len(), 2);
}

#[test]
fn schedulers_with_chunk_sizes_become_groups() {
    let f = PlanForm {
        schedulers: vec!["vllm_v1".into(), "orca".into()],
        chunk_sizes: "256, 512".into(),
        ..form()
    };
    let (spec, json) = f.build(&quick_start()).unwrap();
    let groups = json["space"]["scheduler"].as_array().unwrap();
    // vllm_v1 has chunks (two groups); orca has none (one).
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert_eq!(
        groups[1],
        json!({"replica_scheduler_config_type": "vllm_v1", "vllm_v1_scheduler_config_chunk_size": 512})
    );
    assert!(!json["base"].as_object().unwrap().contains_key("vllm_v1_scheduler_config_chunk_size"));
    assert_eq!(spec.num_configurations(), 2 * 2 * 3);
}

#[test]
fn batch_caps_multiply_the_scheduler_groups_as_in_vidur_searchs_space() {
    // Vidur-Search's example: vllm × caps {32, 64, 128} and sarathi × chunks {512, 1024} × the
    // same caps: 9 scheduler groups.
    let f = PlanForm {
        schedulers: vec!["vllm".into(), "sarathi".into()],
        chunk_sizes: "512, 1024".into(),
        batch_caps: "32, 64, 128".into(),
        ..form()
    };
    let mut base = quick_start();
    base.push(("vllm_scheduler_config_batch_size_cap".into(), "16".into()));
    let (spec, json) = f.build(&base).unwrap();
    let groups = json["space"]["scheduler"].as_array().unwrap();
    assert_eq!(groups.len(), 3 + 2 * 3, "{groups:?}");
    assert_eq!(
        groups[0],
        json!({"replica_scheduler_config_type": "vllm", "vllm_scheduler_config_batch_size_cap": 32})
    );
    assert_eq!(
        groups[4],
        json!({"replica_scheduler_config_type": "sarathi", "sarathi_scheduler_config_chunk_size": 512,
               "sarathi_scheduler_config_batch_size_cap": 64})
    );
    assert!(
        !json["base"].as_object().unwrap().contains_key("vllm_scheduler_config_batch_size_cap"),
        "the space's cap replaces the run form's"
    );
    assert_eq!(spec.num_configurations(), 2 * 2 * 9);
    let (back, base) = PlanForm::from_spec_json(&json).unwrap();
    assert_eq!(back.batch_caps, "32, 64, 128");
    assert_eq!(back.to_spec_json(&base), json, "a share link keeps the caps");
}

#[test]
fn engine_errors_land_at_their_fields() {
    let fields = |f: PlanForm| -> Vec<Field> {
        f.build(&quick_start()).unwrap_err().into_iter().map(|(field, _)| field).collect()
    };
    assert_eq!(fields(PlanForm { tp: "1, two".into(), ..form() }), vec![Field::Tp]);
    assert_eq!(fields(PlanForm { qps: "fast".into(), ..form() }), vec![Field::Qps]);
    let mut f = form();
    f.slos[1].max_s = String::new();
    assert_eq!(fields(f), vec![Field::Slo(1)]);
    let mut f = form();
    f.slos[1].metric = "latency".into();
    assert_eq!(fields(f), vec![Field::Slo(1)]);
    // min_replicas chooses the count: a listed count is refused at the replicas field.
    assert_eq!(fields(PlanForm { goal: "min_replicas".into(), ..form() }), vec![Field::Replicas]);
    assert!(form().build(&quick_start()).is_ok());
    // The run form's workload must be synthetic with a rate: a trace replay is refused at base.
    let trace = presets::find("scheduler-ab")
        .unwrap()
        .pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    let errors = form().build(&trace).unwrap_err();
    assert!(errors.iter().all(|(f, _)| *f == Field::Base), "{errors:?}");
}

#[test]
fn a_disaggregated_base_offers_the_decode_pools_axes_and_min_cost_scales_both_pools() {
    let mut base = quick_start();
    base.retain(|(k, _)| k != "cluster_config_num_replicas");
    base.push(("disaggregation_config_type".into(), "prefill_decode".into()));
    base.push(("cluster_config_num_replicas".into(), "1".into()));
    let f = PlanForm {
        nodes: vec!["h100_dgx".into()],
        tp: "1".into(),
        replicas: String::new(),
        decode_replicas: "1, 2, 3".into(),
        decode_tp: "1, 2".into(),
        goal: "min_cost".into(),
        ..PlanForm::default()
    };
    let (spec, json) = f.build(&base).unwrap();
    assert_eq!(spec.num_configurations(), 3 * 2, "ratios × decode TP");
    assert_eq!(json["space"]["disaggregation_config_decode_num_replicas"], json!([1, 2, 3]));
    // The base's prefill count stays: it is the prefill part of the unit min_cost scales.
    assert_eq!(json["base"]["cluster_config_num_replicas"], "1");
    let ratio_1_3 = (0..spec.num_configurations())
        .find(|&c| spec.column_values(c).contains(&"3") && spec.column_values(c).contains(&"2"))
        .unwrap();
    assert_eq!(spec.pool_sizes(ratio_1_3, Some(4)), (4, Some(12)));
    // Every point passes at one unit: the table's replicas read prefill+decode.
    let mut plan = SearchPlan::new(spec.clone());
    while !plan.is_done() {
        for job in plan.next_jobs(4) {
            let outcome =
                RunOutcome { passed: true, num_gpus: 1, usd_per_hour: Some(1.0), ..RunOutcome::default() };
            plan.on_result(job.id, JobOutcome::Ran(outcome)).unwrap();
        }
    }
    let row = table::rows(&plan).into_iter().find(|r| r.configuration as usize == ratio_1_3).unwrap();
    assert!(row.cells.iter().any(|c| c.text == "1+3" && c.key == Some(4.0)), "{:?}", row.cells);
    // The link brings the decode axes back.
    let (again, _) = PlanForm::from_spec_json(&json).unwrap();
    assert_eq!((again.decode_replicas.as_str(), again.decode_tp.as_str()), ("1, 2, 3", "1, 2"));
    // Back to an aggregated run form, the hidden decode axes are left out of the plan (they
    // multiplied identical configurations, 6 here).
    let (spec, json) = f.clone().build(&quick_start()).unwrap();
    assert_eq!(spec.num_configurations(), 1);
    assert!(json["space"].get("disaggregation_config_decode_num_replicas").is_none(), "{json}");
    // A wrong decode count is refused at the decode pool's fields.
    let errors = PlanForm { decode_replicas: "one".into(), ..f }.build(&base).unwrap_err();
    assert!(errors.iter().any(|(field, _)| *field == Field::DecodePool), "{errors:?}");
}

#[test]
fn the_decode_pools_attention_dp_and_expert_parallelism_are_axes_too() {
    // A MoE model served disaggregated: the decode pool's DP attention and EP are searched.
    let mut base = quick_start();
    // Fixed lengths: the points build here without the shipped trace's file.
    base.retain(|(k, _)| {
        !["replica_config_model_name", "length_generator_config_type"].contains(&k.as_str())
    });
    base.push(("replica_config_model_name".into(), "mistralai/Mixtral-8x7B-v0.1".into()));
    base.push(("length_generator_config_type".into(), "fixed".into()));
    base.push(("disaggregation_config_type".into(), "prefill_decode".into()));
    let f = PlanForm {
        tp: "2".into(),
        decode_tp: "2".into(),
        decode_dp: "1, 2".into(),
        decode_ep: "1, 2".into(),
        ..PlanForm::default()
    };
    let (spec, json) = f.build(&base).unwrap();
    assert_eq!(spec.num_configurations(), 2 * 2, "decode DP × decode EP");
    assert_eq!(json["space"]["disaggregation_config_decode_attention_dp_size"], json!([1, 2]));
    assert_eq!(json["space"]["disaggregation_config_decode_expert_parallel_size"], json!([1, 2]));
    let columns = spec.columns();
    for flag in [
        "disaggregation_config_decode_attention_dp_size",
        "disaggregation_config_decode_expert_parallel_size",
    ] {
        assert!(columns.contains(&flag), "{flag} in {columns:?}");
    }
    // Each point is a configuration the engine builds, with the decode pool's DP and EP.
    for c in 0..spec.num_configurations() {
        let config = spec.point_config(c);
        let sim = llmsim_engine::SimConfig::build(&config, &llmsim_engine::Inputs::new())
            .unwrap_or_else(|e| panic!("configuration {c}: {e:?}"));
        let decode = sim.disagg.expect("disaggregated").decode;
        let text = |flag: &str| config.get(flag).to_text();
        assert_eq!(
            decode.replica.parallel.world_size().to_string(),
            (2 * text("disaggregation_config_decode_attention_dp_size").parse::<u32>().unwrap()).to_string(),
            "TP 2 × the decode pool's DP ranks"
        );
    }
    // The link brings them back; a wrong value is refused at the decode pool's fields.
    let (again, _) = PlanForm::from_spec_json(&json).unwrap();
    assert_eq!((again.decode_dp.as_str(), again.decode_ep.as_str()), ("1, 2", "1, 2"));
    let errors = PlanForm { decode_ep: "four".into(), ..f.clone() }.build(&base).unwrap_err();
    assert!(errors.iter().any(|(field, _)| *field == Field::DecodePool), "{errors:?}");
    // An aggregated run form leaves the hidden decode axes out.
    let (spec, json) = f.build(&quick_start()).unwrap();
    assert_eq!(spec.num_configurations(), 1);
    assert!(json["space"].get("disaggregation_config_decode_expert_parallel_size").is_none(), "{json}");
}

#[test]
fn a_share_link_restores_the_spec() {
    let f = PlanForm {
        schedulers: vec!["sarathi".into()],
        chunk_sizes: "512".into(),
        goal: "min_cost".into(),
        replicas: String::new(),
        ..form()
    };
    let spec = f.to_spec_json(&quick_start());
    let query = link::to_query(&spec);
    let back = link::from_query(&format!("?x=1&{query}")).unwrap().unwrap();
    assert_eq!(back, spec);
    let (form_back, base) = PlanForm::from_spec_json(&back).unwrap();
    assert_eq!(form_back.to_spec_json(&base), spec);
    assert_eq!(form_back.nodes, f.nodes);
    // Numbers read back as typed (a link restores "200", not "200.0").
    assert_eq!(form_back.num_requests, "200");
    assert_eq!(form_back.qps, "4");
    assert!(link::from_query("a=1").is_none());
    assert!(link::from_query("_search=%7Bx").unwrap().is_err());
    // The run form's link reader ignores the plan's key.
    assert!(crate::share::SharedRun::from_query(&query).is_empty());
}

/// A toy model: configuration c sustains `capacity[c]` QPS, with a cost.
fn toy(job: &Job) -> JobOutcome {
    let capacity = [3.0, 7.5, 0.0, 12.0];
    let cap = capacity[job.id.configuration as usize];
    if cap == 0.0 {
        return JobOutcome::Invalid("does not fit".into());
    }
    // Far past capacity the run stops at its overload verdict: its quantiles fall on unfinished
    // requests and are unknown.
    let measured = |x: f64| (job.qps <= 1.5 * cap).then_some(x);
    JobOutcome::Ran(RunOutcome {
        passed: job.qps <= cap,
        overloaded: job.qps > cap,
        slo_observed_s: vec![measured(job.qps / cap), measured(0.04 * job.qps / cap)],
        ttft_p90_s: Some(job.qps / cap),
        tbt_p90_s: Some(0.01 * (job.qps / cap)),
        num_gpus: 1 + u64::from(job.id.configuration),
        usd_per_hour: Some(2.0 + f64::from(job.id.configuration)),
        usd_per_million_output_tokens: Some(10.0 / cap),
        ..RunOutcome::default()
    })
}

fn toy_spec() -> SearchSpec {
    let f = PlanForm { tp: "1, 2, 4, 8".into(), nodes: vec!["h100_dgx".into()], ..PlanForm::default() };
    f.build(&quick_start()).unwrap().0
}

/// Runs a search on `workers` simulated workers; `lifo` completes the newest job first.
fn run_pool(workers: usize, lifo: bool) -> (Vec<table::Row>, String) {
    let mut run = SearchRun::new(toy_spec(), workers, 0.0);
    let mut in_flight: Vec<(usize, Job)> = Vec::new();
    let mut t = 0.0;
    loop {
        in_flight.extend(run.dispatch());
        assert!(run.jobs_running() <= workers);
        if in_flight.is_empty() {
            break;
        }
        let (w, job) = if lifo { in_flight.pop().unwrap() } else { in_flight.remove(0) };
        t += 1.0;
        run.add_busy_ms(2.0);
        run.on_done(w, job.id, toy(&job), t).unwrap();
    }
    assert_eq!(run.state(), RunState::Finished);
    assert_eq!(run.busy_ms(), 2.0 * run.jobs_done() as f64);
    let busy = format!("on {workers} workers ({:.1} s of simulation in the workers)", run.busy_ms() / 1e3);
    assert!(run.status_line().contains(&busy), "{}", run.status_line());
    (table::rows(run.plan()), llmsim_engine::search::search_csv(run.plan()))
}

#[test]
fn the_pool_gives_the_same_table_whatever_the_workers_and_order() {
    let (rows, csv) = run_pool(1, false);
    assert_eq!(rows.len(), 4);
    for (workers, lifo) in [(2, false), (2, true), (4, true), (7, false)] {
        let (r, c) = run_pool(workers, lifo);
        assert_eq!(r, rows, "{workers} workers, lifo {lifo}");
        assert_eq!(c, csv);
    }
    // Max QPS within the granularity of the toy's capacity; the invalid one skipped.
    let qps = |i: usize| rows[i].chosen.unwrap().0;
    assert!(qps(0) <= 3.0 && qps(0) >= 3.0 * 0.95, "{}", qps(0));
    assert!(qps(3) <= 12.0 && qps(3) >= 12.0 * 0.95, "{}", qps(3));
    assert!(rows[2].chosen.is_none() && rows[2].cells.iter().any(|c| c.text == "skipped"));
}

#[test]
fn cancel_stops_dispatching_and_ignores_late_results() {
    let mut run = SearchRun::new(toy_spec(), 2, 0.0);
    let jobs = run.dispatch();
    assert_eq!(jobs.len(), 2);
    run.on_done(jobs[0].0, jobs[0].1.id, toy(&jobs[0].1), 1.0).unwrap();
    run.cancel(5.0);
    assert_eq!(run.state(), RunState::Cancelled);
    assert!(run.dispatch().is_empty());
    run.add_busy_ms(50.0);
    run.on_done(jobs[1].0, jobs[1].1.id, toy(&jobs[1].1), 6.0).unwrap();
    assert_eq!(run.busy_ms(), 0.0, "a cancelled search's late results count for nothing");
    assert_eq!(run.jobs_done(), 1);
    assert_eq!(run.elapsed_ms(), 5.0);
    assert!(run.status_line().contains("cancelled"), "{}", run.status_line());
}

#[test]
fn a_lost_worker_gives_up_its_configuration_and_the_search_goes_on() {
    let mut run = SearchRun::new(toy_spec(), 1, 0.0);
    let jobs = run.dispatch();
    run.on_worker_lost(jobs[0].0, "out of memory", 1.0).unwrap();
    let rows = table::rows(run.plan());
    assert!(rows[0].cells.last().unwrap().text.contains("out of memory"));
    assert_eq!(run.dispatch().len(), 1);
}

#[test]
fn a_worker_lost_above_replica_counts_that_ran_skips_the_configuration_not_bounds_it() {
    // A min_replicas search: 3 requests/s per replica at 20 requests/s. The worker dies at the
    // third count (4 replicas): a crash, not a capacity limit, so the configuration is skipped
    // with the reason instead of bisecting below 4 and reading "infeasible".
    let spec = SearchSpec::from_json_str(r#"{"goal": "min_replicas", "qps": 20}"#).unwrap();
    let mut run = SearchRun::new(spec, 1, 0.0);
    let mut tried = Vec::new();
    while run.state() == RunState::Running {
        for (w, job) in run.dispatch() {
            let n = job.num_replicas.unwrap();
            tried.push(n);
            if n == 4 {
                run.on_worker_lost(w, "RuntimeError: unreachable", 1.0).unwrap();
            } else {
                let passed = 3.0 * f64::from(n) >= job.qps;
                let outcome = RunOutcome { passed, overloaded: !passed, ..RunOutcome::default() };
                run.on_done(w, job.id, JobOutcome::Ran(outcome), 1.0).unwrap();
            }
        }
    }
    assert_eq!(tried, [1, 2, 4]);
    let rows = table::rows(run.plan());
    let verdict = &rows[0].cells.last().unwrap().text;
    assert!(verdict.contains("the worker stopped: RuntimeError: unreachable"), "{verdict}");
    assert!(!verdict.contains("refused"), "{verdict}");
}

#[test]
fn rows_sort_numerically_with_missing_last_and_open_as_runs() {
    let mut run = SearchRun::new(toy_spec(), 3, 0.0);
    while run.state() == RunState::Running {
        for (w, job) in run.dispatch() {
            run.on_done(w, job.id, toy(&job), 0.0).unwrap();
        }
    }
    let plan: &SearchPlan = run.plan();
    let columns = table::columns(plan);
    let qps_col = columns.iter().position(|c| *c == table::Column::Qps).unwrap();
    let mut rows = table::rows(plan);
    table::sort(&mut rows, qps_col, true);
    let order: Vec<u32> = rows.iter().map(|r| r.configuration).collect();
    assert_eq!(order, vec![3, 1, 0, 2]);
    table::sort(&mut rows, qps_col, false);
    assert_eq!(rows.iter().map(|r| r.configuration).collect::<Vec<_>>(), vec![0, 1, 3, 2]);
    let headers: Vec<String> = columns.iter().map(|c| table::header(plan, *c)).collect();
    assert_eq!(headers[..4], ["replicas (space)", "PP", "TP", "device"], "{headers:?}");
    // A row opens as a normal run: its TP, its rate, the run form's workload, files and charts on.
    let (qps, replicas) = rows[1].chosen.unwrap();
    let pairs = table::run_pairs(plan, 1, qps, replicas);
    let config =
        llmsim_engine::Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    assert_eq!(config.get("replica_config_tensor_parallel_size").to_text(), "2");
    assert_eq!(config.get("poisson_request_interval_generator_config_qps").to_text(), qps.to_string());
    assert!(!pairs.iter().any(|(k, _)| k == "metrics_config_enable_chrome_trace"));
    // Pareto: cost falls with capacity and TTFT p90 is qps/cap ≈ 1 for all: one frontier point
    // at the cheapest, unless another is both cheaper and faster.
    let points = pareto::points(plan);
    assert_eq!(points.len(), 3);
    let cheapest = points.iter().min_by(|a, b| a.cost.total_cmp(&b.cost)).unwrap();
    assert!(cheapest.on_frontier);
    let mut svg = String::new();
    {
        use plotters::prelude::*;
        let root = plotters_svg::SVGBackend::with_string(&mut svg, (600, 360)).into_drawing_area();
        pareto::draw(&root, 14, &points).unwrap();
    }
    assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
    assert!(svg.contains("#3") && svg.contains("TTFT p90"));
}

fn finished_toy_run(spec: SearchSpec) -> SearchRun {
    let mut run = SearchRun::new(spec, 3, 0.0);
    while run.state() == RunState::Running {
        for (w, job) in run.dispatch() {
            run.on_done(w, job.id, toy(&job), 0.0).unwrap();
        }
    }
    run
}

#[test]
fn the_table_shows_every_p90_and_the_objectives_bounds() {
    let run = finished_toy_run(toy_spec());
    let plan = run.plan();
    let headers: Vec<String> = table::columns(plan).into_iter().map(|c| table::header(plan, c)).collect();
    for h in [
        "TTFT p90 (s) ≤ 1",
        "TBT p90 (s)",
        "TBT p99 (s)",
        "TPOT p90 (s) ≤ 0.05",
        "E2E p90 (s)",
        "SLO attainment",
    ] {
        assert!(headers.iter().any(|x| x == h), "{h} in {headers:?}");
    }
    // The objectives are shown by the fixed columns: no column of their own.
    assert_eq!(headers.len(), plan.spec().columns().len() + table::FIXED.len() + 1, "{headers:?}");
    let rows = table::rows(plan);
    assert!(rows.iter().all(|r| r.cells.len() == headers.len()));
    let tbt = headers.iter().position(|h| h == "TBT p90 (s)").unwrap();
    let feasible = rows.iter().find(|r| r.feasible).unwrap();
    let ttft = feasible.cells[headers.iter().position(|h| h.starts_with("TTFT p90")).unwrap()].key.unwrap();
    assert_eq!(feasible.cells[tbt].key, Some(0.01 * ttft), "{:?}", feasible.cells);
    // An objective no fixed column shows gets one, with its bound.
    let mut form = PlanForm { tp: "1, 2, 4, 8".into(), ..PlanForm::default() };
    form.slos.push(SloRow {
        metric: "scheduling_delay".into(),
        quantile: "0.99".into(),
        max_s: "0.5".into(),
    });
    let run = finished_toy_run(form.build(&quick_start()).unwrap().0);
    let plan = run.plan();
    let headers: Vec<String> = table::columns(plan).into_iter().map(|c| table::header(plan, c)).collect();
    assert!(headers.iter().any(|h| h == "scheduling delay p99 (s) ≤ 0.5"), "{headers:?}");
    assert_eq!(table::percentile_label(0.995), "p99.5");
}

#[test]
fn latency_curves_hold_every_point_with_the_bound_drawn() {
    let mut run = SearchRun::new(toy_spec(), 2, 0.0);
    // Live: after the first results the curves already hold the configurations under way.
    for (w, job) in run.dispatch() {
        run.on_done(w, job.id, toy(&job), 0.0).unwrap();
    }
    let metrics = curves::metrics(run.plan());
    assert_eq!(metrics.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(), ["TTFT p90", "TPOT p90"]);
    assert_eq!(metrics[0].bound_s, Some(1.0));
    let live = curves::curves(run.plan(), metrics[0].source);
    assert!(run.plan().results().is_empty() && live.len() == 2, "{live:?}");
    let run = finished_toy_run(toy_spec());
    let plan = run.plan();
    let all = curves::curves(plan, metrics[0].source);
    // The skipped configuration ran no point.
    assert_eq!(all.iter().map(|c| c.configuration).collect::<Vec<_>>(), [0, 1, 3]);
    for (curve, result) in all.iter().zip(plan.results().into_iter().filter(|r| r.configuration != 2)) {
        assert_eq!(curve.points.len(), result.points.len());
        assert!(curve.points.windows(2).all(|w| w[0].x <= w[1].x), "by rate: {curve:?}");
        let cap = [3.0, 7.5, 0.0, 12.0][curve.configuration as usize];
        for p in &curve.points {
            assert_eq!(p.passed, p.x <= cap, "{p:?}");
            assert_eq!(p.latency_s.is_none(), p.x > 1.5 * cap, "{p:?}");
        }
    }
    let draw = |curves: &[curves::Curve]| {
        let mut svg = String::new();
        {
            use plotters::prelude::*;
            let root = plotters_svg::SVGBackend::with_string(&mut svg, (640, 360)).into_drawing_area();
            curves::draw(&root, 13, &metrics[0], curves::x_label(plan), curves).unwrap();
        }
        svg
    };
    let svg = draw(&all);
    let passed = all.iter().flat_map(|c| &c.points).filter(|p| p.passed).count();
    assert_eq!(svg.matches("<circle").count(), passed, "one dot per passing point");
    assert!(svg.contains("SLO: TTFT p90 ≤ 1 s") && svg.contains("#C80000"), "the bound, dashed red");
    assert!(svg.contains("#0") && svg.contains("#3") && svg.contains("arrival rate (QPS)"));
    assert!(draw(&[]).contains("no simulated point yet"));
    let labels: Vec<String> =
        [12.3, 1.53, 0.0351, 0.5].into_iter().map(curves::two_significant_digits).collect();
    assert_eq!(labels, ["12", "1.5", "0.035", "0.50"]);
    // Replica goals plot against replicas.
    let f = PlanForm { goal: "min_replicas".into(), replicas: String::new(), ..form() };
    let run = finished_toy_run(f.build(&quick_start()).unwrap().0);
    assert_eq!(curves::x_label(run.plan()), "replicas");
}

#[test]
fn an_uploaded_trace_is_read_by_the_search_and_missing_one_is_an_error_at_the_workload() {
    const LENGTHS: &str = "trace_request_length_generator_config_trace_file";
    let mut base = quick_start();
    let shipped = base.iter().find(|(k, _)| k == LENGTHS).map(|(_, v)| v.clone());
    assert_eq!(
        shipped.as_deref(),
        Some(presets::SHIPPED_TRACE),
        "the quick start takes the shipped trace's lengths"
    );
    let (spec, _) = form().build(&base).unwrap();
    assert!(files::uploaded_files(&spec).is_empty(), "the shipped trace is fetched, not uploaded");
    for (k, v) in &mut base {
        if k == LENGTHS {
            *v = "my_chats.csv".into();
        }
    }
    let (spec, json) = form().build(&base).unwrap();
    assert_eq!(json["base"][LENGTHS], "my_chats.csv");
    assert_eq!(
        files::uploaded_files(&spec),
        vec![(LENGTHS, "my_chats.csv".to_string())],
        "once for 4 configurations"
    );
    assert!(files::missing_uploads(&spec, &|p| p == "my_chats.csv").is_empty());
    let errors = files::missing_uploads(&spec, &|_| false);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, Field::Base);
    assert!(errors[0].1.contains("my_chats.csv") && errors[0].1.contains(LENGTHS), "{errors:?}");
}

#[test]
fn a_flat_batch_cap_axis_survives_the_share_link() {
    // The repository's 100-configuration spec lists its caps as a flat axis of the base's
    // scheduler, not in scheduler groups; its share link dropped them (20 configurations).
    let mut json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../docs/search-examples/llama31_70b_100_configurations.json"
    ))
    .unwrap();
    // The form's fields the file leaves to the engine's defaults.
    json["slo_combine"] = json!("and");
    json["qps_granularity"] = json!(0.02);
    let linked = link::from_query(&link::to_query(&json)).unwrap().unwrap();
    let (form, base) = PlanForm::from_spec_json(&linked).unwrap();
    assert_eq!(form.batch_caps, "64, 128, 256, 512, 1024");
    assert!(form.schedulers.is_empty(), "the caps are the base's scheduler's: {form:?}");
    let back = form.to_spec_json(&base);
    assert_eq!(back["space"], json["space"]);
    let (spec, _) = form.build(&base).unwrap();
    let original = SearchSpec::from_json_value(&json).unwrap();
    assert_eq!(spec.num_configurations(), 100);
    assert_eq!(spec.canonical_json(), original.canonical_json(), "the same search");
    // A cap in the run form's settings gives way to the axis, as with scheduler groups.
    let mut base = base;
    base.push(("vllm_v1_scheduler_config_batch_size_cap".into(), "16".into()));
    assert_eq!(form.to_spec_json(&base)["base"].get("vllm_v1_scheduler_config_batch_size_cap"), None);
}
