"""A real Ray cluster on this machine for tests and benchmarks: a head node and more nodes, each
a separate `ray start --block` process with its own CPU count, on the loopback address. Stopped
by ending each node's process group (by id), also when the code inside fails."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Sequence

STARTUP_TIMEOUT_S = 180
AUTH_ENV = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


class ClusterError(RuntimeError):
    pass


@contextlib.contextmanager
def ray_cluster(cpus: Sequence[int] = (1, 1)) -> Iterator[str]:
    """Starts one node per entry of `cpus` (the first is the head), connects this process
    (`ray.init`) once all are alive, and yields the cluster's address. Every process of the
    cluster has the cluster's temporary directory in its arguments (`leftovers`)."""
    import ray

    temp = Path(tempfile.mkdtemp(prefix="llmsim-ray-", dir="/tmp"))  # short: Ray's socket paths
    address = f"127.0.0.1:{free_port()}"
    nodes: List[subprocess.Popen] = []
    # Authentication off, said explicitly to the nodes, their workers and this driver alike:
    # left unset, Ray decides from whether ~/.ray/auth_token exists (a local `ray.init()` writes
    # one), and the driver reads the setting once, when Ray is imported, so a driver and nodes
    # can decide differently and then cannot talk. The nodes listen on this machine only.
    saved = {k: os.environ.get(k) for k in AUTH_ENV}
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        head = ["--head", f"--port={address.split(':')[1]}", f"--temp-dir={temp}", "--include-dashboard=false"]
        nodes.append(start_node(head, cpus[0], temp / "node0.log"))
        wait_for(lambda: can_connect(address), "the head node's GCS", nodes, temp)
        for i, n in enumerate(cpus[1:], start=1):
            nodes.append(start_node([f"--address={address}"], n, temp / f"node{i}.log"))
        ray.init(address=address, log_to_driver=False)
        wait_for(lambda: len([n for n in ray.nodes() if n["Alive"]]) == len(cpus), f"{len(cpus)} alive nodes", nodes, temp)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(nodes):
            stop_node(node)
        shutil.rmtree(temp, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def leftovers(temp_prefix: str = "/tmp/llmsim-ray-") -> List[str]:
    """The command lines of running processes that belong to a cluster started here."""
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if temp_prefix in line and "ps -eo" not in line]


def start_node(args: Sequence[str], cpus: int, log: Path) -> subprocess.Popen:
    """`ray start --block ...` in a session of its own, so that its whole process group can be
    ended by id."""
    ray_cli = Path(sys.executable).with_name("ray")
    return subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",  # loopback only
            f"--num-cpus={cpus}",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
            *args,
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )


def stop_node(process: subprocess.Popen) -> None:
    """SIGTERM to the node's process group, SIGKILL to what is left after 10 s (an orderly stop
    takes Ray about 35 s here; the cluster's state is thrown away anyway)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and group_alive(process.pid):
            process.poll()
            time.sleep(0.2)
        if not group_alive(process.pid):
            break
    process.poll()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(address: str) -> bool:
    host, port = address.split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


def wait_for(condition, what: str, nodes: Sequence[subprocess.Popen], temp: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not condition():
        dead = [n for n in nodes if n.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(temp.glob("*.log")))
            raise ClusterError(f"Ray cluster: no {what} within {STARTUP_TIMEOUT_S} s, or a node exited\n{logs}")
        time.sleep(0.5)
