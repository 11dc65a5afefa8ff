"""llmsim.search on a real two-node Ray cluster: a head node and a second node started as
separate `ray start` processes on this machine (one CPU each; ray_cluster.py). Tasks must run
on both nodes and the result must equal the local executor's. The cluster is stopped at the
end, also when the test fails."""

import collections
import os

import pytest

import llmsim
from ray_cluster import leftovers, ray_cluster
from search_spec import SPEC

if os.environ.get("LLMSIM_REQUIRE_RAY"):
    import ray  # scripts/test.sh installs Ray: its absence is a failure there
else:
    ray = pytest.importorskip("ray", reason="SKIPPED: Ray is not installed (pip install ray)")


@pytest.fixture(scope="module")
def cluster():
    before = leftovers()
    with ray_cluster(cpus=(1, 1)) as address:
        warm_up_every_node()
        yield address
    # Stopped: no process of this cluster is left (an error here fails the run).
    assert leftovers() == before, "processes of the Ray cluster are still running"


def warm_up_every_node():
    """Starts a worker process on each node, with llmsim imported, as a cluster in use has. A
    fresh node's first worker takes seconds to start on a busy machine, and the driver keeps
    reusing the workers it already leased: a short search could otherwise finish on one node
    before the other's first worker is up, which says nothing about the executor."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=1)
    def ready():
        import llmsim  # noqa: F401

        return ray.get_runtime_context().get_node_id()

    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    pinned = [ready.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote() for node in nodes]
    assert sorted(ray.get(pinned, timeout=120)) == sorted(nodes)


def test_search_on_two_nodes_equals_the_local_executor(cluster):
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    # Points of 1,000 requests (a few tenths of a second each): on a busy machine the second
    # node's first worker takes seconds to start, and shorter tasks could all be done by then.
    spec = {**SPEC, "num_requests": 1000}
    on_ray = llmsim.search(spec, "ray")
    ran_on = collections.Counter(t["worker"][:8] for t in on_ray.tasks)
    assert {t["worker"] for t in on_ray.tasks} == nodes, f"tasks ran on both nodes, not {dict(ran_on)} of {[n[:8] for n in nodes]}"
    local = llmsim.search(spec, "local", workers=2)
    assert on_ray.search_csv == local.search_csv
    assert on_ray.pareto_csv == local.pareto_csv
    print(f"2-node Ray cluster: {len(on_ray.tasks)} simulations in {on_ray.wall_s:.2f} s; local, 2 processes: {local.wall_s:.2f} s")

