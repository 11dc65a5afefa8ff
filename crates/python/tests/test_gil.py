"""The GIL is released while a simulation runs: other Python threads go on, and simulations in
two threads run at the same time."""

import os
import threading
import time

import pytest

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


def test_two_threads_run_faster_than_one_after_the_other():
    """The issue's check, on wall time: the best of three tries each way, with a wide margin (two
    free cores give about 0.55). Wall times say nothing on a machine without two free cores, so
    it is skipped, visibly, there (CI runs it on an otherwise idle machine)."""
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    if cores < 2 or load > cores - 1.5:
        pytest.skip(f"SKIPPED: {cores} cores with a load of {load:.1f}: no two free cores to time threads on")

    def sequential():
        start = time.perf_counter()
        llmsim.run(CONFIG)
        llmsim.run(CONFIG)
        return time.perf_counter() - start

    def concurrent():
        threads = [threading.Thread(target=llmsim.run, args=(CONFIG,)) for _ in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start

    one_after_the_other = min(sequential() for _ in range(3))
    at_once = min(concurrent() for _ in range(3))
    print(f"two simulations: {one_after_the_other:.3f} s one after the other, {at_once:.3f} s in two threads")
    assert at_once < 0.8 * one_after_the_other
