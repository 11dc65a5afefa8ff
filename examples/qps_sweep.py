# %% [markdown]
# # Latency against load, for two configurations
#
# Sweeps the arrival rate for two ways of using the same four H100s for Llama-3-8B (four
# replicas at TP1, or two at TP2) and plots TTFT and end-to-end latency against QPS.
# Run it as a script (`python examples/qps_sweep.py`, writing `qps_sweep.png`) or cell by cell
# in Jupyter or VS Code. Needs `pip install ./crates/python pandas matplotlib`.

# %%
import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

import matplotlib

matplotlib.use("Agg")  # draws to a file; in a notebook, drop this line to see the figure inline
import matplotlib.pyplot as plt
import pandas as pd

import llmsim

args = argparse.ArgumentParser(description=__doc__)
args.add_argument("--requests", type=int, default=2000, help="requests per simulation")
args.add_argument("--points", type=int, default=8, help="arrival rates per configuration")
args.add_argument("--out", default="qps_sweep.png", help="the figure's file")
options = args.parse_args([] if "ipykernel" in sys.modules else None)

# %% The two configurations: Vidur's flag names, as in config.json or on llmsim's command line.
BASE = {
    "replica_config_model_name": "meta-llama/Meta-Llama-3-8B",
    "replica_config_device": "h100",
    "replica_config_network_device": "h100_dgx",
    "synthetic_request_generator_config_num_requests": options.requests,
    "length_generator_config_type": "zipf",
    "zipf_request_length_generator_config_min_tokens": 256,
    "zipf_request_length_generator_config_max_tokens": 4096,
    "interval_generator_config_type": "poisson",
    "global_scheduler_config_type": "lor",
    "replica_scheduler_config_type": "vllm_v1",
}
CONFIGURATIONS = {
    "4 replicas × TP1": {"cluster_config_num_replicas": 4, "replica_config_tensor_parallel_size": 1},
    "2 replicas × TP2": {"cluster_config_num_replicas": 2, "replica_config_tensor_parallel_size": 2},
}
RATES = [10.0 * (i + 1) for i in range(options.points)]  # requests per second, over the cluster


def simulate(name, qps):
    config = {**BASE, **CONFIGURATIONS[name], "poisson_request_interval_generator_config_qps": qps}
    s = llmsim.run(config).summary
    return {
        "configuration": name,
        "qps": qps,
        "ttft_p50_s": s["ttft_s"]["p50"],
        "ttft_p99_s": s["ttft_s"]["p99"],
        "e2e_p50_s": s["e2e_s"]["p50"],
        "e2e_p99_s": s["e2e_s"]["p99"],
        "throughput_rps": s["throughput"]["requests_per_s"],
    }


# %% Every point is an independent run. llmsim.run releases the GIL, so threads use every core.
points = [(name, qps) for name in CONFIGURATIONS for qps in RATES]
with ThreadPoolExecutor() as pool:
    sweep = pd.DataFrame(pool.map(lambda p: simulate(*p), points))
print(sweep.to_string(index=False))

# %% Latency against load.
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
for name, rows in sweep.groupby("configuration"):
    for ax, metric in zip(axes, ["ttft", "e2e"]):
        line = ax.plot(rows["qps"], rows[f"{metric}_p50_s"], marker="o", label=f"{name} p50")[0]
        ax.plot(rows["qps"], rows[f"{metric}_p99_s"], marker="x", linestyle="--", color=line.get_color(), label=f"{name} p99")
for ax, title in zip(axes, ["Time to first token", "End-to-end latency"]):
    ax.set(title=title, xlabel="arrival rate (requests/s)", ylabel="seconds", yscale="log")
    ax.grid(True, which="both", alpha=0.3)
axes[0].legend(fontsize="small")
fig.suptitle(f"Llama-3-8B on 4 × H100, {options.requests} requests per point")
fig.tight_layout()
fig.savefig(options.out, dpi=120)
print(f"wrote {options.out}")
