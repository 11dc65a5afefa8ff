#!/usr/bin/env python3
"""Errors of issue 18's model groups in a llmsim-validate points.csv, split by how the row is
deployed: TP only against EP and/or attention DP (recorded moe_ep_size or attention_dp_size
above 1, or experts over more GPUs than the attention TP, moe_tp_size x moe_ep_size > tp_size,
which the harness reads as vLLM data parallelism since stop 34). Prints a markdown table: simulated and skipped points, median
|err| and median signed err of TTFT and TPOT, in percent.

Usage: python3 scripts/issue18_groups.py POINTS_CSV [RERUN_CSV]
RERUN_CSV's rows replace POINTS_CSV's rows of the same id (a filtered re-run over a full run).
"""
import csv
import statistics
import sys

GROUPS = [
    ("DeepSeek-V3/R1", ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3",
                        "nvidia/DeepSeek-R1-NVFP4", "nvidia/DeepSeek-V3.1-NVFP4")),
    ("Kimi-K2.5", ("moonshotai/Kimi-K2.5",)),
    ("Qwen3-235B", ("Qwen/Qwen3-235B-A22B-FP8",)),
    ("gpt-oss-120b", ("openai/gpt-oss-120b",)),
    ("MiniMax-M2.5", ("MiniMaxAI/MiniMax-M2.5",)),
]


def degree(value):
    return int(value) if value.strip() else 1


def split(row):
    ep, dp = degree(row["moe_ep_size"]), degree(row["attention_dp_size"])
    wide = degree(row["moe_tp_size"]) * ep > degree(row["tp_size"])
    if ep > 1 or dp > 1 or wide:
        return "EP / attention DP"
    return "TP only"


def pct(values, signed):
    if not values:
        return "-"
    m = statistics.median(values if signed else [abs(v) for v in values])
    return f"{100 * m:+.1f} %" if signed else f"{100 * m:.1f} %"


def main(path, rerun=None):
    rows = [r for r in csv.DictReader(open(path, newline="")) if r["mode"] == "agg"]
    if rerun:
        again = {r["id"]: r for r in csv.DictReader(open(rerun, newline=""))}
        rows = [again.get(r["id"], r) for r in rows]
    print("| group | deployment | simulated | skipped | TTFT median \\|err\\| | TTFT median err "
          "| TPOT median \\|err\\| | TPOT median err |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, models in GROUPS:
        for kind in ("TP only", "EP / attention DP"):
            group = [r for r in rows if r["model_path"] in models and split(r) == kind]
            run = [r for r in group if not r["skipped"]]
            ttft = [float(r["ttft_err"]) for r in run]
            tpot = [float(r["tpot_err"]) for r in run]
            print(f"| {name} | {kind} | {len(run)} | {len(group) - len(run)} | {pct(ttft, False)} "
                  f"| {pct(ttft, True)} | {pct(tpot, False)} | {pct(tpot, True)} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
