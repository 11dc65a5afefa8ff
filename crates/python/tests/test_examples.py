"""The README's examples run as a user runs them (small sizes)."""

import subprocess
import sys

import pytest

from conftest import REPO


def test_qps_sweep_example(tmp_path):
    pytest.importorskip("matplotlib", reason="SKIPPED: the example needs matplotlib")
    pytest.importorskip("pandas", reason="SKIPPED: the example needs pandas")
    figure = tmp_path / "sweep.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "qps_sweep.py"), "--requests", "200", "--points", "3", "--out", str(figure)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = done.stdout.splitlines()
    assert table[0].split()[:2] == ["configuration", "qps"] and len(table) == 1 + 2 * 3 + 1
