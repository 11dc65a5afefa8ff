"""Two simulations one after the other, in two processes and in two threads: wall time and
speed-up (BENCHMARKS.md, "Python and Ray"). The GIL is released while `llmsim.run` works
(crates/python/tests/test_gil.py checks that functionally), so on two free cores two threads
should approach what two processes achieve. Best of `--tries` tries each. Needs the package
installed (scripts/test.sh's target/py-venv):

    target/py-venv/bin/python crates/python/benches/threads.py
"""

import argparse
import multiprocessing
import os
import threading
import time

import llmsim

# About half a second natively (4,000 requests, ~280,000 events).
CONFIG = {
    "synthetic_request_generator_config_num_requests": 4000,
    "poisson_request_interval_generator_config_qps": 20.0,
    "cluster_config_num_replicas": 4,
}


def _run(config):
    llmsim.run(config)


def sequential() -> float:
    start = time.perf_counter()
    llmsim.run(CONFIG)
    llmsim.run(CONFIG)
    return time.perf_counter() - start


def threads() -> float:
    pair = [threading.Thread(target=llmsim.run, args=(CONFIG,)) for _ in range(2)]
    start = time.perf_counter()
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_run, [{"synthetic_request_generator_config_num_requests": 1}] * 2)  # started and warm

        def processes() -> float:
            start = time.perf_counter()
            pool.map(_run, [CONFIG, CONFIG])
            return time.perf_counter() - start

        tries = [(sequential(), processes(), threads()) for _ in range(args.tries)]
    one_after_the_other = min(t[0] for t in tries)
    in_processes = min(t[1] for t in tries)
    in_threads = min(t[2] for t in tries)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; best of {args.tries}")
    print("| two simulations | wall | speed-up |")
    print("|---|---:|---:|")
    print(f"| one after the other | {one_after_the_other:.3f} s | 1.00 |")
    print(f"| two processes | {in_processes:.3f} s | {one_after_the_other / in_processes:.2f} |")
    print(f"| two threads | {in_threads:.3f} s | {one_after_the_other / in_threads:.2f} |")


if __name__ == "__main__":
    main()
