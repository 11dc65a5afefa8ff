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
