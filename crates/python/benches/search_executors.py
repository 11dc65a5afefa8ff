"""The same capacity search on the local executor (1 and 2 processes) and on a two-node Ray
cluster started on this machine (1 CPU per node): wall time and speed-up; and each executor's
per-task overhead, measured with one job in flight at a time (wall time minus the time the
workers spent simulating, per job), against a typical 10,000-request simulation
(BENCHMARKS.md, "Python and Ray"). Needs the package and Ray installed (scripts/test.sh's
target/py-venv):

    target/py-venv/bin/python crates/python/benches/search_executors.py
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # ray_cluster.py

import llmsim  # noqa: E402
from ray_cluster import ray_cluster  # noqa: E402

BASE = {
    "replica_config_model_name": "meta-llama/Meta-Llama-3-8B",
    "replica_config_device": "h100",
    "replica_config_network_device": "h100_dgx",
    "cluster_config_num_replicas": 2,
}
SPEC = {
    "base": BASE,
    "space": {
        "replica_config_tensor_parallel_size": [1, 2],
        "replica_scheduler_config_type": ["vllm_v1", "sarathi"],
        "global_scheduler_config_type": ["round_robin", "lor"],
    },
    "slos": [{"metric": "ttft", "quantile": 0.9, "max_s": 0.5}],
    "goal": "max_qps",
    "qps": 8.0,
    "qps_granularity": 0.05,
}


def typical_simulation_s(repeats: int) -> float:
    """A 10,000-request run of the search's base configuration at a load it serves."""
    config = {**BASE, "synthetic_request_generator_config_num_requests": 10_000, "poisson_request_interval_generator_config_qps": 16.0}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        llmsim.run(config)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class OneAtATime(llmsim.Executor):
    """An executor with one job in flight: the driver waits for each result before it submits
    the next, so wall time − simulating time is exactly the executor's cost (dispatch,
    transfer, result collection) plus the plan's own work."""

    def __init__(self, inner: llmsim.Executor) -> None:
        self.inner = inner

    def session(self, files):
        session = self.inner.session(files)
        session.capacity = lambda: 1
        return session


def overhead_per_task(result: "llmsim.SearchResult") -> float:
    return (result.wall_s - sum(t["seconds"] for t in result.tasks)) / len(result.tasks)


def throughput(name: str, result: "llmsim.SearchResult", baseline_s: float) -> None:
    n = len(result.tasks)
    simulated = sum(t["seconds"] for t in result.tasks)
    print(f"{name:<30} {result.wall_s:7.2f} s  speed-up {baseline_s / result.wall_s:4.2f}  ({n} simulations, mean {simulated / n * 1e3:.0f} ms each)")


def overhead(name: str, result: "llmsim.SearchResult", typical_s: float) -> None:
    o = overhead_per_task(result)
    print(f"{name:<30} overhead {o * 1e3:6.2f} ms per task = {o / typical_s * 100:5.2f} % of a 10k-request simulation")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--num-requests", type=int, default=2000, help="requests per simulated point")
    options.add_argument("--no-ray", action="store_true", help="local executor only")
    args = options.parse_args()
    spec = {**SPEC, "num_requests": args.num_requests}
    print(f"load average {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} cores")

    typical_s = typical_simulation_s(3)
    print(f"a typical 10,000-request simulation: {typical_s:.3f} s")
    one = llmsim.search(spec, "local", workers=1)
    throughput("local, 1 process", one, one.wall_s)
    two = llmsim.search(spec, "local", workers=2)
    throughput("local, 2 processes", two, one.wall_s)
    assert two.search_csv == one.search_csv
    overhead("local, 1 job in flight", llmsim.search(spec, OneAtATime(llmsim.LocalExecutor(1))), typical_s)
    if not args.no_ray:
        started = time.perf_counter()
        with ray_cluster(cpus=(1, 1)):
            print(f"(2-node Ray cluster up in {time.perf_counter() - started:.1f} s)")
            cold = llmsim.search(spec, "ray")
            throughput("Ray, 2 nodes × 1 CPU, cold", cold, one.wall_s)
            warm = llmsim.search(spec, "ray")
            throughput("Ray, 2 nodes × 1 CPU, warm", warm, one.wall_s)
            assert len({t["worker"] for t in warm.tasks}) == 2 and warm.search_csv == one.search_csv
            overhead("Ray, 1 job in flight, warm", llmsim.search(spec, OneAtATime(llmsim.RayExecutor())), typical_s)


if __name__ == "__main__":
    main()
