"""Type stubs of the native half of llmsim (``llmsim._llmsim``, built from crates/python/src)."""

from os import PathLike
from typing import List, Optional, Sequence, Tuple, Union

def run(config_json: str, files: Sequence[Tuple[str, Union[str, bytes]]]) -> Run:
    """Validates the configuration (a flat JSON object of flag names), reads the files it
    needs (file flag → path or bytes) and runs the simulation, with the GIL released."""

def flags_json() -> str:
    """The flag table as a JSON array."""

def models_json() -> str:
    """The model catalogue as a JSON array."""

def devices_json() -> str:
    """The device catalogue as a JSON array."""

def nodes_json() -> str:
    """The node catalogue as a JSON array."""

class Run:
    """A finished simulation."""

    @property
    def warnings(self) -> List[str]:
        """The run's warnings (also in summary.json)."""

    def summary_json(self) -> str:
        """summary.json's text."""

    def request_metrics_csv(self) -> str:
        """request_metrics.csv's text."""

    def config_json(self) -> str:
        """config.json's text."""

    def write(self, dir: Optional[Union[str, PathLike[str]]] = None) -> str:
        """Writes the run's files in the CLI's layout and returns the directory."""

class SearchPlan:
    """The capacity search's state machine (the engine's SearchPlan); jobs and outcomes are
    opaque bytes."""

    def __init__(self, spec_json: str) -> None:
        """Reads a search spec (llmsim search's SEARCH.json); errors raise ConfigError."""

    def input_files(self) -> List[Tuple[str, str]]:
        """(flag, path) of every input file any configuration reads."""

    def next_jobs(self, max: int) -> List[bytes]:
        """Up to max jobs to run now."""

    def on_result(self, job: bytes, outcome: bytes) -> None:
        """Takes the outcome of an issued job."""

    def job_label(self, job: bytes) -> str:
        """The job's identity, e.g. c3.s2."""

    def is_done(self) -> bool:
        """Whether every configuration is finished."""

    def progress(self) -> Tuple[int, int]:
        """Configurations finished, and in all."""

    def search_csv(self) -> str:
        """search.csv's text."""

    def pareto_csv(self) -> str:
        """pareto.csv's text."""

class JobRunner:
    """Runs search jobs over input files parsed once."""

    def __init__(self, files: Sequence[Tuple[str, str, bytes]], unreadable: Sequence[Tuple[str, str]]) -> None:
        """files: (flag, path, contents); unreadable: (path, reason). Raises TraceError."""

    def run(self, job: bytes) -> Tuple[bytes, float]:
        """Runs one job with the GIL released: its outcome and its wall time in seconds."""
