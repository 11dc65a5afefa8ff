#!/usr/bin/env bash
# Every replica scheduler × router on one trace replay, each cell a run of the `llmsim` CLI:
# the first 2,000 requests of the Mooncake conversation trace on 4 replicas of Llama-3-8B
# (H100, TP1, prefix caching on). Prints a Markdown table of TTFT/TBT p50/p99, preemptions and
# completed/refused/unfinished requests (the table in docs/policies.md).
#
# Usage: scripts/policy_matrix.sh [extra llmsim flags...]
# Environment: TRACE (default ../shared/traces/mooncake_conversation_trace.csv),
#              NUM_REQUESTS (2000), OUT (target/policy_matrix), SCHEDULERS and ROUTERS
#              (space-separated; default all).
set -euo pipefail
cd "$(dirname "$0")/.."

TRACE=${TRACE:-../shared/traces/mooncake_conversation_trace.csv}
NUM_REQUESTS=${NUM_REQUESTS:-2000}
OUT=${OUT:-target/policy_matrix}
SCHEDULERS=${SCHEDULERS:-"vllm_v1 sarathi vllm orca faster_transformer lightllm"}
ROUTERS=${ROUTERS:-"round_robin random lor lop sticky lop_binary lop_batch_end lop_uncached sticky_round_robin sticky_lor ranked_sticky_lop_uncached tolerant_sticky_lop_uncached"}

cargo build --release -p llmsim-cli >&2
BIN=target/release/llmsim

for scheduler in $SCHEDULERS; do
  for router in $ROUTERS; do
    dir="$OUT/$scheduler/$router"
    mkdir -p "$dir"
    "$BIN" \
      --request_generator_config_type trace \
      --trace_request_generator_config_trace_file "$TRACE" \
      --trace_request_generator_config_num_requests "$NUM_REQUESTS" \
      --cluster_config_num_replicas 4 \
      --replica_config_model_name meta-llama/Meta-Llama-3-8B \
      --replica_config_device h100 --replica_config_network_device h100_dgx \
      --cache_config_enable_prefix_caching \
      --replica_scheduler_config_type "$scheduler" \
      --global_scheduler_config_type "$router" \
      --metrics_config_output_dir "$dir" --metrics_config_no_timestamp \
      --no-metrics_config_enable_chrome_trace --no-metrics_config_store_plots \
      "$@" >"$dir/stdout.txt" 2>"$dir/stderr.txt"
    echo "done: $scheduler × $router" >&2
  done
done

python3 - "$OUT" $SCHEDULERS -- $ROUTERS <<'PY'
import json, sys
out = sys.argv[1]
sep = sys.argv.index("--")
schedulers, routers = sys.argv[2:sep], sys.argv[sep + 1:]
print("| scheduler | router | TTFT p50 (s) | TTFT p99 (s) | TBT p50 (ms) | TBT p99 (ms) | TBT max (s) | preemptions | completed / refused / unfinished | prefix hit rate |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
for s in schedulers:
    for r in routers:
        m = json.load(open(f"{out}/{s}/{r}/summary.json"))
        print(f"| {s} | {r} | {m['ttft_s']['p50']:.2f} | {m['ttft_s']['p99']:.2f} | {m['tbt_s']['p50'] * 1e3:.1f} | {m['tbt_s']['p99'] * 1e3:.1f} | {m['tbt_s']['max']:.2f} "
              f"| {m['num_preemptions']} | {m['num_completed']} / {m['num_refused']} / {m['num_unfinished']} | {m['prefix_cache_hit_rate']:.1%} |")
PY
