"""Capacity search: the engine's search plan, driven from Python, its simulations run by an
executor — a process pool on this machine, or Ray tasks on a cluster.

The plan (Rust, ``llmsim_engine::search::SearchPlan``, the same one ``llmsim search`` runs)
decides every simulation; an executor only runs the jobs it hands out and gives the outcomes
back. Jobs and outcomes travel as opaque bytes (exact binary encodings), and the plan's answer
does not depend on the order outcomes arrive in, so the result is the same, byte for byte,
whatever the executor and the number of workers.
"""

from __future__ import annotations

import io
import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _llmsim

# Every input file any configuration of a search reads: (flag, path, contents), and
# (path, reason) for those that could not be read.
Files = Tuple[List[Tuple[str, str, bytes]], List[Tuple[str, str]]]


def search(
    spec: Union[Mapping[str, Any], str, "os.PathLike[str]"],
    executor: Union[str, "Executor", None] = None,
    *,
    workers: Optional[int] = None,
    address: Optional[str] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> "SearchResult":
    """Runs a capacity search and returns its ``SearchResult``.

    ``spec``: the search spec of ``llmsim search --config SEARCH.json`` (``base`` flags, the
    ``space`` of values per flag, ``slos``, ``goal``, ...), as a dict or the path of the JSON.
    ``executor``: ``"local"`` (the default; a process pool of ``workers`` processes, the
    machine's cores when not given), ``"ray"`` (each simulation a Ray task; ``ray.init(address)``
    unless Ray is already initialised: ``address=None`` starts Ray on this machine,
    ``"auto"`` joins the running cluster) or an ``Executor``. ``progress(done, total)`` is called
    as configurations finish.

    Input files (traces) are read once here; the local executor hands them to each process once,
    the Ray executor puts them in the object store once. Raises ``ConfigError`` for an invalid
    spec (``flag`` names the field, e.g. ``space.replica_config_tensor_parallel_size[2]``),
    ``TraceError`` for a malformed trace.
    """
    plan = _llmsim.SearchPlan(_spec_json(spec))
    files = _read_files(plan.input_files())
    # Parse them once here too: a malformed trace is reported now, with its row and column,
    # rather than as each configuration's skip reason.
    _llmsim.JobRunner(*files)
    runner = _make_executor(executor, workers, address)
    tasks: List[Dict[str, Any]] = []
    started = time.perf_counter()
    reported = None
    with runner.session(files) as session:
        in_flight: Dict[Any, bytes] = {}
        while not plan.is_done():
            for job in plan.next_jobs(max(0, session.capacity() - len(in_flight))):
                in_flight[session.submit(job)] = job
            if not in_flight:
                raise RuntimeError("the search plan is not done but issued no job")  # a plan defect
            for handle, (outcome, where, seconds) in session.wait_any(list(in_flight)):
                job = in_flight.pop(handle)
                plan.on_result(job, outcome)
                tasks.append({"job": plan.job_label(job), "worker": where, "seconds": seconds})
            if progress is not None and plan.progress() != reported:
                reported = plan.progress()
                progress(*reported)
    return SearchResult(plan, tasks, time.perf_counter() - started)


class SearchResult:
    """A finished search: ``search.csv`` (one row per configuration), ``pareto.csv``, and which
    worker ran each simulation (``tasks``)."""

    def __init__(self, plan: "_llmsim.SearchPlan", tasks: List[Dict[str, Any]], wall_s: float) -> None:
        self._plan = plan
        self.search_csv: str = plan.search_csv()
        """``search.csv``'s text: one row per configuration, as ``llmsim search`` writes it."""
        self.pareto_csv: str = plan.pareto_csv()
        """``pareto.csv``'s text."""
        self.tasks = tasks
        """One dict per simulation, in the order they finished: ``job`` (configuration and
        step, e.g. ``c3.s2``), ``worker`` (process id, or Ray node id) and ``seconds`` (its wall
        time in the worker)."""
        self.wall_s = wall_s
        """The search's wall time, seconds."""

    @property
    def configurations(self) -> Any:
        """``search.csv`` as a pandas DataFrame (a list of dicts without pandas)."""
        return _table(self.search_csv)

    @property
    def pareto(self) -> Any:
        """``pareto.csv`` as a pandas DataFrame (a list of dicts without pandas)."""
        return _table(self.pareto_csv)

    @property
    def best(self) -> Optional[Dict[str, Any]]:
        """The best configuration's row of ``search.csv`` (``best`` true), or ``None``."""
        import csv

        rows = list(csv.DictReader(io.StringIO(self.search_csv)))
        return next((row for row in rows if row.get("best") == "true"), None)

    def write(self, dir: Union[str, "os.PathLike[str]"]) -> Path:
        """Writes ``search.csv`` and ``pareto.csv`` into ``dir`` (created if missing)."""
        out = Path(dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "search.csv").write_text(self.search_csv, encoding="utf-8")
        (out / "pareto.csv").write_text(self.pareto_csv, encoding="utf-8")
        return out

    def __repr__(self) -> str:
        done, total = self._plan.progress()
        return f"<llmsim.SearchResult: {total} configurations, {len(self.tasks)} simulations, {self.wall_s:.1f} s>"


class Executor:
    """Runs a search's simulations. ``session(files)`` returns a context manager whose object
    has ``capacity()`` (jobs worth keeping in flight), ``submit(job) -> handle`` and
    ``wait_any(handles) -> [(handle, (outcome, worker, seconds))]`` (at least one)."""

    def session(self, files: Files) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class LocalExecutor(Executor):
    """A process pool on this machine (``workers`` processes; the machine's cores by default).
    Each process receives the input files once, when it starts."""

    def __init__(self, workers: Optional[int] = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers or _cores()

    def session(self, files: Files) -> "_LocalSession":
        return _LocalSession(self.workers, files)


class _LocalSession:
    def __init__(self, workers: int, files: Files) -> None:
        self._workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=_local_init, initargs=(files,))

    def __enter__(self) -> "_LocalSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def capacity(self) -> int:
        # One job queued behind each running one: a worker never waits for the driver.
        return 2 * self._workers

    def submit(self, job: bytes) -> Any:
        return self._pool.submit(_local_run, job)

    def wait_any(self, handles: Sequence[Any]) -> List[Tuple[Any, Tuple[bytes, str, float]]]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return [(f, f.result()) for f in done]


_LOCAL_RUNNER: Optional["_llmsim.JobRunner"] = None


def _local_init(files: Files) -> None:
    global _LOCAL_RUNNER
    _LOCAL_RUNNER = _llmsim.JobRunner(*files)


def _local_run(job: bytes) -> Tuple[bytes, str, float]:
    assert _LOCAL_RUNNER is not None, "the pool's initializer made the runner"
    outcome, seconds = _LOCAL_RUNNER.run(job)
    return outcome, f"pid {os.getpid()}", seconds


class RayExecutor(Executor):
    """Each simulation is a Ray task (one CPU, spread over the nodes). Joins Ray as it is when already initialised,
    else ``ray.init(address=address)``. The input files are put in the object store once; each
    worker process reads and parses them once, on its first task."""

    def __init__(self, address: Optional[str] = None) -> None:
        self.address = address

    def session(self, files: Files) -> "_RaySession":
        return _RaySession(self.address, files)


class _RaySession:
    def __init__(self, address: Optional[str], files: Files) -> None:
        import ray

        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
        self._files = ray.put(files)
        # SPREAD: simulations are CPU-bound, so they go to every node rather than filling the
        # driver's node first.
        self._remote = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_ray_run)
        self._capacity = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))

    def __enter__(self) -> "_RaySession":
        return self

    def __exit__(self, *exc: Any) -> None:
        # Ray itself stays up for the caller (who may run more); the files leave the store
        # once nothing refers to them.
        del self._files

    def capacity(self) -> int:
        # One task queued behind each CPU's running one.
        return self._capacity

    def submit(self, job: bytes) -> Any:
        # The reference travels inside a list, so Ray does not fetch the files for every task:
        # the worker fetches them once (_ray_runner).
        return self._remote.remote([self._files], job)

    def wait_any(self, handles: Sequence[Any]) -> List[Tuple[Any, Tuple[bytes, str, float]]]:
        ready, _ = self._ray.wait(list(handles), num_returns=1)
        return [(ref, self._ray.get(ref)) for ref in ready]


_RAY_RUNNERS: Dict[str, "_llmsim.JobRunner"] = {}


def _ray_run(files_box: List[Any], job: bytes) -> Tuple[bytes, str, float]:
    import ray

    runner = _ray_runner(files_box[0])
    outcome, seconds = runner.run(job)
    return outcome, ray.get_runtime_context().get_node_id(), seconds


def _ray_runner(files_ref: Any) -> "_llmsim.JobRunner":
    import ray

    key = files_ref.hex()
    if key not in _RAY_RUNNERS:
        _RAY_RUNNERS.clear()  # one search's files at a time per worker process
        _RAY_RUNNERS[key] = _llmsim.JobRunner(*ray.get(files_ref))
    return _RAY_RUNNERS[key]


def _make_executor(executor: Union[str, Executor, None], workers: Optional[int], address: Optional[str]) -> Executor:
    if executor is None or executor == "local":
        if address is not None:
            raise ValueError("address is for executor='ray'")
        return LocalExecutor(workers)
    if executor == "ray":
        if workers is not None:
            raise ValueError("workers is for executor='local': Ray runs as many tasks as the cluster has CPUs")
        return RayExecutor(address)
    if isinstance(executor, Executor):
        return executor
    raise ValueError(f"executor must be 'local', 'ray' or an llmsim.Executor, not {executor!r}")


def _spec_json(spec: Union[Mapping[str, Any], str, "os.PathLike[str]"]) -> str:
    if isinstance(spec, (str, os.PathLike)):
        with open(spec, encoding="utf-8") as f:
            return f.read()
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a dict or the path of a JSON file, not {type(spec).__name__}")
    return json.dumps(dict(spec))


def _read_files(wanted: Sequence[Tuple[str, str]]) -> Files:
    read: List[Tuple[str, str, bytes]] = []
    unreadable: List[Tuple[str, str]] = []
    for flag, path in wanted:
        try:
            with open(path, "rb") as f:
                read.append((flag, path, f.read()))
        except OSError as e:
            # The engine names the flag and this reason in each configuration it skips.
            unreadable.append((path, e.strerror or str(e)))
    return read, unreadable


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _table(text: str) -> Any:
    try:
        import pandas
    except ImportError:
        import csv

        return list(csv.DictReader(io.StringIO(text)))
    return pandas.read_csv(io.StringIO(text))
