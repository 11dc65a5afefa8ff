"""llmsim.search on the local executor: the engine's plan decides, processes only run jobs, and
the result is the same, byte for byte, for any number of processes and as `llmsim search`'s."""

import copy
import json
import subprocess

import pytest

import llmsim
from search_spec import SPEC


@pytest.fixture(scope="module")
def one_process():
    return llmsim.search(SPEC, "local", workers=1)


def test_the_same_result_on_one_and_two_processes(one_process):
    two = llmsim.search(SPEC, "local", workers=2)
    assert two.search_csv == one_process.search_csv
    assert two.pareto_csv == one_process.pareto_csv
    assert len({t["worker"] for t in two.tasks}) == 2, "both processes ran simulations"
    assert len({t["worker"] for t in one_process.tasks}) == 1
    assert sorted(t["job"] for t in two.tasks) == sorted(t["job"] for t in one_process.tasks)


def test_result_tables(one_process):
    rows = one_process.configurations
    assert len(rows) == 4
    header = one_process.search_csv.splitlines()[0].split(",")
    assert header[:3] == ["configuration", "replica_config_tensor_parallel_size", "replica_scheduler_config_type"]
    assert "max_qps" in header and "feasible" in header
    assert one_process.best is not None and one_process.best["best"] == "true"
    assert all(t["seconds"] > 0 for t in one_process.tasks)


def test_equals_the_command_line(one_process, tmp_path, llmsim_cli):
    spec_path = tmp_path / "search.json"
    spec_path.write_text(json.dumps(SPEC))
    done = subprocess.run(
        [llmsim_cli, "search", "--config", str(spec_path), "--output_dir", str(tmp_path / "out"), "--jobs", "2"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "search.csv").read_text() == one_process.search_csv
    assert (tmp_path / "out" / "pareto.csv").read_text() == one_process.pareto_csv
    written = one_process.write(tmp_path / "py")
    assert (written / "search.csv").read_text() == one_process.search_csv


def test_spec_from_a_path(one_process, tmp_path):
    path = tmp_path / "search.json"
    path.write_text(json.dumps(SPEC))
    assert llmsim.search(path, workers=2).search_csv == one_process.search_csv


def test_spec_errors_name_the_field():
    spec = copy.deepcopy(SPEC)
    spec["space"]["replica_config_tensor_parallel_size"] = [1, "two"]
    with pytest.raises(llmsim.ConfigError) as caught:
        llmsim.search(spec)
    assert caught.value.flag == "space.replica_config_tensor_parallel_size[1]"
    spec = copy.deepcopy(SPEC)
    spec["goal"] = "fastest"
    with pytest.raises(llmsim.ConfigError) as caught:
        llmsim.search(spec)
    assert caught.value.flag == "goal"


def test_malformed_trace_is_a_trace_error(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("num_prefill_tokens,num_decode_tokens\n100,10\n100,ten\n")
    spec = copy.deepcopy(SPEC)
    spec["base"].update({"length_generator_config_type": "trace", "trace_request_length_generator_config_trace_file": str(trace)})
    with pytest.raises(llmsim.TraceError) as caught:
        llmsim.search(spec)
    assert (caught.value.file, caught.value.row, caught.value.column) == (str(trace), 3, "num_decode_tokens")


def test_executor_arguments():
    with pytest.raises(ValueError):
        llmsim.search(SPEC, "threads")
    with pytest.raises(ValueError):
        llmsim.search(SPEC, "local", workers=0)
    with pytest.raises(ValueError):
        llmsim.search(SPEC, "ray", workers=2)


def test_progress_is_reported_as_configurations_finish(one_process):
    seen = []
    llmsim.search(SPEC, workers=2, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4) and all(total == 4 for _, total in seen)
    assert all(a < b for (a, _), (b, _) in zip(seen, seen[1:])), "once per change"
