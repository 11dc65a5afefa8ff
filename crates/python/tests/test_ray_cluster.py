"""llmsim.search on a real two-node Ray cluster: a head node and a second node started as
separate `ray start` processes on this machine (one CPU each; ray_cluster.py). Tasks must run
on both nodes and the result must equal the local executor's. The cluster is stopped at the
end, also when the test fails."""

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
        yield address
    # Stopped: no process of this cluster is left (an error here fails the run).
    assert leftovers() == before, "processes of the Ray cluster are still running"


def test_search_on_two_nodes_equals_the_local_executor(cluster):
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    on_ray = llmsim.search(SPEC, "ray")
    assert {t["worker"] for t in on_ray.tasks} == nodes, "tasks ran on both nodes"
    local = llmsim.search(SPEC, "local", workers=2)
    assert on_ray.search_csv == local.search_csv
    assert on_ray.pareto_csv == local.pareto_csv
    print(f"2-node Ray cluster: {len(on_ray.tasks)} simulations in {on_ray.wall_s:.2f} s; local, 2 processes: {local.wall_s:.2f} s")

