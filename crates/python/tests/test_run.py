"""llmsim.run against the engine's goldens and the `llmsim` binary: same summary, same
per-request metrics, same files, whatever way the configuration and the files are given."""

import json
import subprocess
from pathlib import Path

import pytest

import llmsim
from conftest import scenario_dirs

SMALL = {"synthetic_request_generator_config_num_requests": 16}


def run_scenario(directory: Path, monkeypatch, **extra):
    """Runs a golden scenario from its directory (its config names files relative to it)."""
    monkeypatch.chdir(directory)
    config = json.loads((directory / "config.json").read_text())
    config.update(extra)
    return llmsim.run(config)


@pytest.mark.parametrize("directory", scenario_dirs(), ids=lambda p: p.name)
def test_golden_scenarios(directory, monkeypatch):
    result = run_scenario(directory, monkeypatch)
    assert result.summary_json == (directory / "expected_summary.json").read_text()
    assert result.summary == json.loads((directory / "expected_summary.json").read_text())
    assert result.request_metrics_csv == (directory / "expected_request_metrics.csv").read_text()


@pytest.mark.parametrize("directory", scenario_dirs(), ids=lambda p: p.name)
def test_files_equal_the_command_lines(directory, monkeypatch, tmp_path, llmsim_cli):
    """Result.write lays out the same files, byte for byte, as `llmsim --config` does."""
    cli_dir, py_dir = tmp_path / "cli", tmp_path / "py"
    out_flags = {"metrics_config_output_dir": str(cli_dir), "metrics_config_no_timestamp": True}
    subprocess.run(
        [llmsim_cli, "--config", "config.json", "--metrics_config_output_dir", str(cli_dir), "--metrics_config_no_timestamp"],
        cwd=directory,
        check=True,
        capture_output=True,
    )
    result = run_scenario(directory, monkeypatch, **out_flags)
    assert result.write(py_dir) == py_dir
    cli_files = sorted(p.relative_to(cli_dir) for p in cli_dir.rglob("*") if p.is_file())
    py_files = sorted(p.relative_to(py_dir) for p in py_dir.rglob("*") if p.is_file())
    assert py_files == cli_files
    assert Path("summary.json") in py_files and Path("request_metrics.csv") in py_files
    for name in cli_files:
        assert (py_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name
    assert result.summary_json == (cli_dir / "summary.json").read_text()


def test_write_without_a_directory_uses_the_output_flags(tmp_path):
    out = tmp_path / "runs"
    result = llmsim.run({**SMALL, "metrics_config_output_dir": str(out)})
    written = result.write()
    assert written.parent == out and written.name[:2] == "20", "a timestamped directory"
    assert json.loads((written / "summary.json").read_text()) == result.summary
    flat = llmsim.run({**SMALL, "metrics_config_output_dir": str(out), "metrics_config_no_timestamp": True})
    assert flat.write() == out


def test_write_removes_an_earlier_runs_files_only(tmp_path):
    first = llmsim.run({**SMALL, "metrics_config_keep_individual_batch_metrics": True})
    first.write(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert (tmp_path / "batch_metrics.csv").exists()
    llmsim.run(SMALL).write(tmp_path)
    assert not (tmp_path / "batch_metrics.csv").exists(), "the earlier run's file is gone"
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_no_write_metrics_writes_only_the_config(tmp_path):
    llmsim.run({**SMALL, "metrics_config_write_metrics": False}).write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_config_from_a_path_and_from_result_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**SMALL, "seed": 3}))
    from_path = llmsim.run(path)
    from_str = llmsim.run(str(path))
    assert from_path.summary_json == from_str.summary_json
    assert from_path.config["seed"] == 3
    again = llmsim.run(from_path.config)
    assert again.summary_json == from_path.summary_json


def test_files_as_bytes_equal_files_as_paths(monkeypatch):
    directory = next(d for d in scenario_dirs() if d.name == "conversation_prefix_lop")
    trace = (directory / "../conversation.csv").resolve()
    config = json.loads((directory / "config.json").read_text())
    flag = "trace_request_generator_config_trace_file"
    by_path = llmsim.run(config, files={flag: trace})
    by_bytes = llmsim.run(config, files={flag: trace.read_bytes()})
    assert by_path.summary_json == by_bytes.summary_json == (directory / "expected_summary.json").read_text()
    assert by_path.config[flag] == str(trace), "a path sets the flag"
    assert by_bytes.config[flag] == "../conversation.csv", "bytes keep the flag's value as the name"


def test_unused_file_contents_are_warned_about():
    result = llmsim.run(SMALL, files={"trace_request_generator_config_trace_file": b"num_prefill_tokens,num_decode_tokens\n10,5\n"})
    assert any("trace_request_generator_config_trace_file" in w for w in result.warnings)
    assert result.warnings == result.summary["warnings"]


def test_request_metrics_frame():
    pandas = pytest.importorskip("pandas")
    result = llmsim.run(SMALL)
    frame = result.request_metrics
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == 16 and frame.shape[1] == 25
    assert list(frame["Request Id"]) == list(range(16))
    assert frame["request_e2e_time"].mean() == pytest.approx(result.summary["e2e_s"]["mean"], abs=1e-6)


def test_request_metrics_without_pandas(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    rows = llmsim.run(SMALL).request_metrics
    assert isinstance(rows, list) and len(rows) == 16
    assert rows[3]["Request Id"] == 3 and isinstance(rows[3]["request_num_prefill_tokens"], int)
    assert isinstance(rows[3]["request_e2e_time"], float)


def test_flags_models_devices():
    flags = {f["name"]: f for f in llmsim.flags()}
    assert flags["seed"]["default"] == 42 and flags["seed"]["role"] == "seed"
    scheduler = flags["replica_scheduler_config_type"]
    assert scheduler["default"] == "vllm_v1" and "sarathi" in scheduler["choices"]
    assert flags["trace_request_generator_config_trace_file"]["file_kind"] == "request_trace"
    assert flags["sarathi_scheduler_config_chunk_size"]["applies_when"] == {
        "flag": "replica_scheduler_config_type",
        "values": ["sarathi"],
    }
    assert all(f["help"] for f in flags.values())
    # Every default is accepted back as a configuration.
    defaults = {name: f["default"] for name, f in flags.items() if f["default"] is not None}
    assert llmsim.run({**defaults, **SMALL}).summary["num_completed"] == 16
    assert "meta-llama/Meta-Llama-3-8B" in {m["name"] for m in llmsim.models()}
    devices = {d["name"]: d for d in llmsim.devices()}
    assert devices["h100"]["memory_gb"] == 80.0
    assert {n["device"] for n in llmsim.nodes()} <= set(devices)
