"""The result of one simulation."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from ._llmsim import Run


class Result:
    """A finished simulation: its summary, per-request metrics and warnings, and its files.

    ``summary`` is ``summary.json`` as a dict; ``request_metrics`` is ``request_metrics.csv``
    (Vidur's 25 columns, one row per completed request) as a pandas DataFrame when pandas is
    installed, else as a list of dicts; ``write(dir)`` writes every output file as the
    ``llmsim`` command line does.
    """

    def __init__(self, run: "Run") -> None:
        self._run = run

    @property
    def summary(self) -> Dict[str, Any]:
        """``summary.json`` as a dict (a fresh copy each time)."""
        return json.loads(self._run.summary_json())

    @property
    def summary_json(self) -> str:
        """``summary.json``'s text, byte for byte what ``llmsim`` writes."""
        return self._run.summary_json()

    @property
    def request_metrics(self) -> Any:
        """``request_metrics.csv``: a pandas DataFrame when pandas is installed, else a list of
        dicts (column name → int or float, or None for an empty field). Empty when
        ``metrics_config_store_request_metrics`` is off."""
        text = self._run.request_metrics_csv()
        try:
            import pandas
        except ImportError:
            return _rows(text)
        return pandas.read_csv(io.StringIO(text))

    @property
    def request_metrics_csv(self) -> str:
        """``request_metrics.csv``'s text."""
        return self._run.request_metrics_csv()

    @property
    def warnings(self) -> List[str]:
        """What the run changed or assumed (also in ``summary["warnings"]``)."""
        return self._run.warnings

    @property
    def config(self) -> Dict[str, Any]:
        """``config.json`` as a dict: every flag, as the run used it (``llmsim.run`` accepts it)."""
        return json.loads(self._run.config_json())

    def write(self, dir: Union[str, "os.PathLike[str]", None] = None) -> Path:
        """Writes the run's files as ``llmsim`` does and returns the directory.

        Into ``dir`` (created if missing), or without one into
        ``<metrics_config_output_dir>/<timestamp>/`` (the output directory itself with
        ``metrics_config_no_timestamp``): ``config.json``, ``summary.json``,
        ``request_metrics.csv``, ``request_errors.csv``, ``plots/`` ... as the configuration's
        ``metrics_config_*`` flags say. Files an earlier run left there under llmsim's own names
        are removed first; other files are left alone. Raises ``OSError`` when it cannot write.
        """
        written = self._run.write(None if dir is None else os.fspath(dir))
        return Path(written)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<llmsim.Result: {s['num_requests']} requests, {s['num_completed']} completed, "
            f"{s['simulated_time_s']:.3f} s simulated>"
        )


def _rows(text: str) -> List[Dict[str, Union[int, float, None]]]:
    return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _number(text: str) -> Union[int, float, None]:
    # Empty: a disaggregated run's hand-off columns of a request without a transfer.
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)
