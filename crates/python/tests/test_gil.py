"""The GIL is released while a simulation runs: other Python threads go on, and simulations in
two threads give the sequential results. How much faster two threads are is a wall-time figure,
printed by crates/python/benches/threads.py (BENCHMARKS.md, "Python and Ray"), not asserted
here: on CI's two shared cores it ranged below any fixed bound."""

import threading
import time

import llmsim

# About half a second natively (4,000 requests, ~280,000 events).
CONFIG = {
    "synthetic_request_generator_config_num_requests": 4000,
    "poisson_request_interval_generator_config_qps": 20.0,
    "cluster_config_num_replicas": 4,
}


def test_other_threads_run_during_a_simulation():
    """Had the simulation kept the GIL, the main thread could not run a single line between the
    worker's time stamps around the call."""
    window = {}

    def simulate():
        window["start"] = time.perf_counter()
        llmsim.run(CONFIG)
        window["end"] = time.perf_counter()

    worker = threading.Thread(target=simulate)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if window["start"] < t < window["end"]]
    span = window["end"] - window["start"]
    assert len(inside) > 1000, f"the main thread ran {len(inside)} times in the {span:.3f} s the simulation took"
    # And not only at the edges: the main thread ran throughout.
    assert inside[0] - window["start"] < span / 4 and window["end"] - inside[-1] < span / 4


def test_results_of_concurrent_runs_are_the_sequential_ones():
    expected = llmsim.run(CONFIG).summary_json
    results = [None, None]

    def simulate(i):
        results[i] = llmsim.run(CONFIG).summary_json

    threads = [threading.Thread(target=simulate, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected, expected]
