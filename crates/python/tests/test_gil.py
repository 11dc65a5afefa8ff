"""The GIL is released while a simulation runs: other Python threads go on, and simulations in
two threads run at the same time."""

import multiprocessing
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


def _run(config):
    llmsim.run(config)


def test_two_threads_run_faster_than_one_after_the_other():
    """The issue's check, on wall time, against what two processes achieve at the same moment:
    on a machine whose cores are busy elsewhere neither can go faster, so the test is skipped
    (visibly) unless two processes run the pair at least 1.3 times as fast as one after the
    other; then two threads must too. The best of three tries."""

    def sequential():
        start = time.perf_counter()
        llmsim.run(CONFIG)
        llmsim.run(CONFIG)
        return time.perf_counter() - start

    def threads():
        pair = [threading.Thread(target=llmsim.run, args=(CONFIG,)) for _ in range(2)]
        start = time.perf_counter()
        for t in pair:
            t.start()
        for t in pair:
            t.join()
        return time.perf_counter() - start

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_run, [{"synthetic_request_generator_config_num_requests": 1}] * 2)  # started and warm

        def processes():
            start = time.perf_counter()
            pool.map(_run, [CONFIG, CONFIG])
            return time.perf_counter() - start

        tries = [(sequential(), processes(), threads()) for _ in range(3)]
    one_after_the_other = min(t[0] for t in tries)
    in_processes = min(t[1] for t in tries)
    in_threads = min(t[2] for t in tries)
    print(f"two simulations: {one_after_the_other:.3f} s one after the other, {in_processes:.3f} s in two processes, {in_threads:.3f} s in two threads")
    if one_after_the_other / in_processes < 1.3:
        pytest.skip(f"SKIPPED: no two free cores now (two processes: {one_after_the_other / in_processes:.2f} times as fast)")
    assert one_after_the_other / in_threads >= 1.3
