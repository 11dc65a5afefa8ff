# %% [markdown]
# # A capacity search on a Ray cluster
#
# For each of eight configurations of Llama-3-8B on H100s (TP 1 or 2, two replica schedulers,
# two routers), the highest arrival rate whose TTFT p90 stays under half a second: Vidur-Search's
# question, answered by llmsim's search plan, with every simulation a Ray task.
#
# On a cluster: `ray start --head` on one machine, `ray start --address HEAD:6379` on the others
# (each with llmsim installed: `pip install "./crates/python[ray]"`), then on any of them
# `python examples/ray_search.py --address auto`. Without `--address`, Ray starts on this machine.
# `--executor local` runs the same search on a process pool instead: the result is identical.

# %%
import argparse
import collections
import sys

import llmsim

args = argparse.ArgumentParser(description=__doc__)
args.add_argument("--address", default=None, help="Ray cluster to join ('auto': the one running here); none starts Ray locally")
args.add_argument("--executor", choices=["ray", "local"], default="ray")
args.add_argument("--num-requests", type=int, default=2000, help="requests per simulated point")
args.add_argument("--out", default=None, help="a directory for search.csv and pareto.csv")
options = args.parse_args([] if "ipykernel" in sys.modules else None)

# %% The spec of `llmsim search --config SEARCH.json`: base flags, the space, objectives, goal.
SPEC = {
    "base": {
        "replica_config_model_name": "meta-llama/Meta-Llama-3-8B",
        "replica_config_device": "h100",
        "replica_config_network_device": "h100_dgx",
        "cluster_config_num_replicas": 2,
    },
    "space": {
        "replica_config_tensor_parallel_size": [1, 2],
        "replica_scheduler_config_type": ["vllm_v1", "sarathi"],
        "global_scheduler_config_type": ["round_robin", "lor"],
    },
    "slos": [{"metric": "ttft", "quantile": 0.9, "max_s": 0.5}],
    "goal": "max_qps",
    "qps": 8.0,
    "num_requests": options.num_requests,
}

# %% Each simulation is a Ray task; the search plan (in this process) decides which.
if options.executor == "ray":
    import ray

    ray.init(address=options.address)
    print(f"Ray: {len([n for n in ray.nodes() if n['Alive']])} nodes, {ray.cluster_resources().get('CPU', 0):.0f} CPUs")
result = llmsim.search(SPEC, executor=options.executor, progress=lambda done, total: print(f"  {done}/{total} configurations", end="\r"))
print()
print(result)

# %% One row per configuration: feasible, the highest QPS meeting the objective, its latencies.
columns = ["configuration", "replica_config_tensor_parallel_size", "replica_scheduler_config_type", "global_scheduler_config_type", "feasible", "max_qps", "ttft_p90_s", "runs", "best"]
table = result.configurations
print(table[columns].to_string(index=False) if hasattr(table, "to_string") else result.search_csv)
print("simulations per worker:", dict(collections.Counter(t["worker"][:12] for t in result.tasks)))
if options.out:
    print("wrote", result.write(options.out))
