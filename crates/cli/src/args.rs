//! Command-line parsing: one clap argument per engine flag, generated from the engine's flag
//! table, so names, defaults and help are the engine's own.

use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches, Command, parser::ValueSource};
use llmsim_engine::config::UNSUPPORTED_FLAGS;
use llmsim_engine::limits::{DEFAULT_MEMORY_BUDGET_BYTES, MAX_CONFIG_BYTES};
use llmsim_engine::{Config, FlagDef, FlagGroup, FlagKind, all_flags, catalog};

/// What the command line asked for.
pub enum Parsed {
    /// Run this configuration, planning to use at most `memory_budget` bytes.
    Run {
        /// The configuration.
        config: Config,
        /// `--memory-budget-gib`, in bytes.
        memory_budget: u64,
    },
    /// An informational flag was handled (help, lists); nothing to run.
    Done,
}

fn heading(group: FlagGroup) -> &'static str {
    match group {
        FlagGroup::General => "General",
        FlagGroup::Cluster => "Cluster and replica",
        FlagGroup::Cache => "KV cache",
        FlagGroup::Disaggregation => "Disaggregated prefill and decode",
        FlagGroup::Workload => "Workload",
        FlagGroup::GlobalScheduler => "Global scheduler (routing)",
        FlagGroup::ReplicaScheduler => "Replica scheduler and SLOs",
        FlagGroup::Predictor => "Execution-time predictor",
        FlagGroup::Metrics => "Metrics and outputs",
    }
}

/// No-break space: clap wraps help at ASCII spaces only, so `[default: 0.5]` and `[with --x y]`
/// move to the next line whole instead of leaving `0.5]` alone on one.
const NBSP: char = '\u{a0}';

fn help_text(def: &FlagDef) -> String {
    let mut help = def.help.to_string();
    if let Some((selector, values)) = &def.shown_when {
        help.push_str(&format!(" [with{NBSP}--{selector}{NBSP}{}]", values.join("|")));
    }
    if let FlagKind::Choice(choices) = &def.kind {
        help.push_str(&format!(" [choices: {}]", choices.join(", ")));
    }
    help.push_str(&format!(" [default:{NBSP}{}]", def.default.replace(' ', &NBSP.to_string())));
    help
}

/// Flags whose `--name <VALUE>` is longer than this get their help on the lines below the name
/// (and with them their whole `-h` section: clap aligns a section's help in one column). clap
/// makes that switch by itself only while the column fits the terminal; the predictor's flags
/// (up to 97 characters) pushed their help to column 110 and printed it one word per line.
const NEXT_LINE_HELP_WIDTH: usize = 40;

fn command() -> Command {
    let mut cmd = Command::new("llmsim")
        // argparse takes the last of a repeated flag (`--seed 1 --seed 2` is seed 2); so do we.
        .args_override_self(true)
        .about("Simulates LLM inference clusters (Vidur's model). Flags use Vidur's names; `python -m vidur.main ...` command lines run with `llmsim` in its place.")
        .version(env!("CARGO_PKG_VERSION"))
        .after_help("Capacity planning (max QPS under SLOs, fewest replicas, cheapest configuration):\n  llmsim search --config SEARCH.json [--output_dir DIR] [--jobs N]    (see llmsim search -h)")
        .arg(Arg::new("config").long("config").value_name("FILE").help("Flat JSON of flag names to values (as written to config.json and by the web page); flags on the command line override it"))
        .arg(Arg::new("list-models").long("list-models").action(ArgAction::SetTrue).help("List the model catalogue and exit"))
        .arg(Arg::new("list-devices").long("list-devices").action(ArgAction::SetTrue).help("List the device catalogue and exit"))
        .arg(Arg::new("list-nodes").long("list-nodes").action(ArgAction::SetTrue).help("List the node (network device) catalogue and exit"))
        .arg(Arg::new("memory-budget-gib").long("memory-budget-gib").value_name("GIB").help(format!("Memory a run may plan to use, in GiB: a run whose estimate (requests kept, KV blocks, input files) is larger is refused before it starts, naming what to lower [default:{NBSP}{}]", DEFAULT_MEMORY_BUDGET_BYTES >> 30)));
    for def in all_flags() {
        let arg = Arg::new(def.name).long(def.name).help(help_text(def)).help_heading(heading(def.group));
        let arg = match def.kind {
            // Vidur's BooleanOptionalAction: `--flag` or `--no-flag`; `--flag false` is accepted too.
            FlagKind::Bool => arg.num_args(0..=1).default_missing_value("true").value_name("BOOL"),
            // Vidur's `nargs="+"`: `--flag 1 2 3`.
            FlagKind::IntList => arg.num_args(1..).value_name("N"),
            FlagKind::BoolList => arg.num_args(1..).value_name("BOOL"),
            _ => arg.num_args(1).value_name("VALUE").allow_hyphen_values(true),
        };
        let shown = format!("--{} <{}>", def.name, arg.get_value_names().map_or("", |v| v[0].as_str()));
        let arg = arg.next_line_help(shown.len() > NEXT_LINE_HELP_WIDTH);
        cmd = cmd.arg(arg);
        if def.kind == FlagKind::Bool {
            cmd = cmd.arg(
                Arg::new(format!("no-{}", def.name))
                    .long(format!("no-{}", def.name))
                    .action(ArgAction::SetTrue)
                    .hide(true),
            );
        }
    }
    // Vidur flags llmsim does not implement are known, hidden, so that `parse` refuses them
    // with the reason instead of clap calling them unknown.
    for flag in UNSUPPORTED_FLAGS {
        let arg = Arg::new(flag.name).long(flag.name).hide(true);
        if flag.is_bool {
            cmd = cmd.arg(arg.num_args(0..=1).default_missing_value("true"));
            cmd = cmd.arg(
                Arg::new(format!("no-{}", flag.name))
                    .long(format!("no-{}", flag.name))
                    .action(ArgAction::SetTrue)
                    .hide(true),
            );
        } else {
            cmd = cmd.arg(arg.num_args(1).allow_hyphen_values(true));
        }
    }
    cmd
}

/// Parses the process arguments into a configuration.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                crate::output::emit(&e.to_string());
                return Ok(Parsed::Done);
            }
            return Err(e.render().to_string());
        }
    };
    if list(&matches) {
        return Ok(Parsed::Done);
    }
    let memory_budget = match matches.get_one::<String>("memory-budget-gib") {
        Some(text) => parse_budget(text)?,
        None => DEFAULT_MEMORY_BUDGET_BYTES,
    };
    let mut config = match matches.get_one::<String>("config") {
        Some(path) => {
            let text = read_config(path).map_err(|e| format!("llmsim: cannot read --config {path}: {e}"))?;
            Config::from_json_str(&text).map_err(|e| format!("llmsim: --config {path}:\n{e}"))?
        }
        None => Config::new(),
    };
    let mut errors = Vec::new();
    for def in all_flags() {
        if let Err(e) = apply(&matches, def, &mut config) {
            errors.push(format!("  {e}"));
        }
    }
    for flag in UNSUPPORTED_FLAGS {
        // `Config::set` refuses these (a boolean set to false, Vidur's default, is a no-op).
        if let Some(value) = matches.get_one::<String>(flag.name)
            && let Err(e) = config.set(flag.name, value)
        {
            errors.push(format!("  {e}"));
        }
    }
    if errors.is_empty() {
        Ok(Parsed::Run { config, memory_budget })
    } else {
        Err(format!("llmsim: invalid arguments:\n{}", errors.join("\n")))
    }
}

/// `--memory-budget-gib`: a positive number of GiB, in bytes.
fn parse_budget(text: &str) -> Result<u64, String> {
    match text.trim().parse::<f64>() {
        Ok(gib) if gib.is_finite() && gib > 0.0 && gib <= 1e9 => Ok((gib * (1u64 << 30) as f64) as u64),
        _ => Err(format!("llmsim: --memory-budget-gib {text}: expected a positive number of GiB, such as 8")),
    }
}

/// The `--config` file's text: its size is checked before it is read, and a file that is not
/// UTF-8 is refused naming the byte where it stops being text.
fn read_config(path: &str) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_CONFIG_BYTES as u64 {
        return Err(format!(
            "it is {size} bytes, more than the {MAX_CONFIG_BYTES} a configuration may take (a config.json is about 10 kB)"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| {
        format!("byte {}: the file is not UTF-8 text (save it as UTF-8)", e.utf8_error().valid_up_to() + 1)
    })
}

fn apply(matches: &ArgMatches, def: &FlagDef, config: &mut Config) -> Result<(), llmsim_engine::ConfigError> {
    let given = matches.value_source(def.name) == Some(ValueSource::CommandLine);
    let negated_name = format!("no-{}", def.name);
    let negated = def.kind == FlagKind::Bool && matches.get_flag(&negated_name);
    match (given, negated) {
        (false, false) => Ok(()),
        (false, true) => config.set_bool(def.name, false),
        (true, _) => {
            // With both `--x` and `--no-x`, the later one wins.
            if negated && matches.index_of(&negated_name) > matches.index_of(def.name) {
                return config.set_bool(def.name, false);
            }
            let values: Vec<&str> =
                matches.get_raw(def.name).into_iter().flatten().filter_map(|v| v.to_str()).collect();
            config.set(def.name, &values.join(" "))
        }
    }
}

fn list(matches: &ArgMatches) -> bool {
    use std::fmt::Write as _;
    let mut listed = false;
    let mut out = String::new();
    if matches.get_flag("list-models") {
        for m in catalog::models() {
            let moe =
                m.moe.as_ref().map_or(String::new(), |x| format!(", MoE {}×top{}", x.num_experts, x.top_k));
            let _ = writeln!(
                out,
                "{:40} {:3} layers, {:3} q / {:2} kv heads, hidden {:5}, mlp {:5}, max len {}{moe}",
                m.name,
                m.num_layers,
                m.num_q_heads,
                m.num_kv_heads,
                m.embedding_dim,
                m.mlp_hidden_dim,
                m.max_model_len
            );
        }
        listed = true;
    }
    if matches.get_flag("list-devices") {
        for d in catalog::devices() {
            let rate = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{t}"));
            let _ = writeln!(
                out,
                "{:10} {:32} bf16 {:7} TFLOP/s, fp8 {:7} TFLOP/s, fp4 {:7} TFLOP/s, {:5} GiB, {:6} GB/s",
                d.name,
                d.display_name,
                d.fp16_tflops,
                rate(d.fp8_tflops),
                rate(d.fp4_tflops),
                d.memory_gb,
                d.memory_bandwidth_gbps
            );
        }
        listed = true;
    }
    if matches.get_flag("list-nodes") {
        for n in catalog::nodes() {
            let _ = writeln!(
                out,
                "{:22} {:2} × {:10} intra-node {:6} GB/s, inter-node {:6} GB/s",
                n.name,
                n.devices_per_node,
                n.device,
                n.intra_node_bandwidth_gbps,
                n.inter_node_bandwidth_gbps
            );
        }
        listed = true;
    }
    crate::output::emit(&out);
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Config {
        let argv = std::iter::once("llmsim").chain(args.iter().copied()).map(OsString::from);
        match parse(argv) {
            Ok(Parsed::Run { config, .. }) => config,
            Ok(Parsed::Done) => panic!("nothing to run"),
            Err(e) => panic!("{e}"),
        }
    }

    fn parse_err(args: &[&str]) -> String {
        let argv = std::iter::once("llmsim").chain(args.iter().copied()).map(OsString::from);
        match parse(argv) {
            Err(e) => e,
            Ok(_) => panic!("expected an error for {args:?}"),
        }
    }

    #[test]
    fn vidur_flags_parse() {
        let c = parse_ok(&[
            "--replica_config_model_name",
            "meta-llama/Meta-Llama-3-8B",
            "--cluster_config_num_replicas",
            "8",
            "--cache_config_enable_prefix_caching",
            "--no-metrics_config_enable_chrome_trace",
            "--poisson_request_interval_generator_config_qps=8.0",
        ]);
        assert_eq!(c.get("cluster_config_num_replicas").to_text(), "8");
        assert_eq!(c.get("cache_config_enable_prefix_caching").to_text(), "true");
        assert_eq!(c.get("metrics_config_enable_chrome_trace").to_text(), "false");
        assert_eq!(c.get("poisson_request_interval_generator_config_qps").to_text(), "8.0");
    }

    #[test]
    fn unknown_flags_and_values_suggest_the_closest() {
        let e = parse_err(&["--replica_config_modle_name", "x"]);
        assert!(e.contains("replica_config_model_name"), "{e}");
        let e = parse_err(&["--global_scheduler_config_type", "round_robbin"]);
        assert!(e.contains("did you mean 'round_robin'"), "{e}");
    }

    #[test]
    fn later_negation_wins() {
        let c =
            parse_ok(&["--cache_config_enable_prefix_caching", "--no-cache_config_enable_prefix_caching"]);
        assert_eq!(c.get("cache_config_enable_prefix_caching").to_text(), "false");
    }

    #[test]
    fn a_repeated_flag_takes_the_last_value_as_argparse_does() {
        let c = parse_ok(&["--seed", "1", "--seed", "2"]);
        assert_eq!(c.get("seed").to_text(), "2");
        let c = parse_ok(&[
            "--random_forest_execution_time_predictor_config_max_depth",
            "8",
            "16",
            "--random_forest_execution_time_predictor_config_max_depth",
            "4",
        ]);
        assert_eq!(c.get("random_forest_execution_time_predictor_config_max_depth").to_text(), "4");
        let c = parse_ok(&[
            "--cache_config_enable_prefix_caching",
            "--cache_config_enable_prefix_caching",
            "false",
        ]);
        assert_eq!(c.get("cache_config_enable_prefix_caching").to_text(), "false");
    }

    #[test]
    fn vidur_list_flags_take_several_values() {
        let c = parse_ok(&[
            "--linear_regression_execution_time_predictor_config_fit_intercept",
            "True",
            "False",
            "--linear_regression_execution_time_predictor_config_polynomial_include_bias",
            "false",
            "--linear_regression_execution_time_predictor_config_polynomial_interaction_only",
            "True",
            "False",
            "--linear_regression_execution_time_predictor_config_polynomial_degree",
            "1",
            "2",
            "3",
            "--seed",
            "7",
        ]);
        assert_eq!(
            c.get("linear_regression_execution_time_predictor_config_fit_intercept").to_text(),
            "True False"
        );
        assert_eq!(
            c.get("linear_regression_execution_time_predictor_config_polynomial_include_bias").to_text(),
            "False"
        );
        assert_eq!(
            c.get("linear_regression_execution_time_predictor_config_polynomial_interaction_only").to_text(),
            "True False"
        );
        assert_eq!(
            c.get("linear_regression_execution_time_predictor_config_polynomial_degree").to_text(),
            "1 2 3"
        );
        assert_eq!(c.get("seed").to_text(), "7", "the list ends at the next flag");
        let e = parse_err(&[
            "--linear_regression_execution_time_predictor_config_fit_intercept",
            "True",
            "maybe",
        ]);
        assert!(e.contains("fit_intercept") && e.contains("True/False"), "{e}");
    }

    #[test]
    fn the_disk_cache_is_refused_as_not_supported() {
        for args in [
            &["--replica_scheduler_config_type", "vllm_v1_disk"][..],
            &["--replica_scheduler_config_type=vllm_v1_disk"],
            &["--cache_config_enable_disk_caching"],
            &["--cache_config_disk_num_blocks", "1000"],
            &["--vllm_v1_disk_scheduler_config_chunk_size", "256"],
        ] {
            let e = parse_err(args);
            assert!(e.contains("not supported") && e.contains("disk KV cache"), "{args:?}: {e}");
            assert!(
                e.contains(args[0].trim_start_matches("--").split('=').next().unwrap()),
                "names the flag: {e}"
            );
        }
        // Vidur's default, spelt out, leaves the feature off: accepted.
        parse_ok(&["--no-cache_config_enable_disk_caching"]);
        parse_ok(&["--cache_config_enable_disk_caching", "false"]);
    }
}
