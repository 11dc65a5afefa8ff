"""Shared fixtures: the repository's golden scenarios and the `llmsim` binary to compare with."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = REPO / "tests" / "scenarios"


def scenario_dirs():
    return sorted(p for p in SCENARIOS.iterdir() if (p / "config.json").is_file())


@pytest.fixture(scope="session")
def llmsim_cli():
    """The `llmsim` binary: $LLMSIM_CLI, else target/release/llmsim. scripts/test.sh builds it
    and sets LLMSIM_CLI, which makes its absence a failure rather than a skip."""
    path = os.environ.get("LLMSIM_CLI") or str(REPO / "target" / "release" / "llmsim")
    if not Path(path).is_file():
        if os.environ.get("LLMSIM_CLI"):
            pytest.fail(f"LLMSIM_CLI={path} does not exist")
        pytest.skip(f"SKIPPED: no llmsim binary at {path} (cargo build --release -p llmsim-cli)")
    return str(Path(path).resolve())

