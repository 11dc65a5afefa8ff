"""llmsim: simulate LLM inference clusters (Microsoft Vidur's model, in Rust) from Python.

>>> import llmsim
>>> result = llmsim.run({"synthetic_request_generator_config_num_requests": 64,
...                      "poisson_request_interval_generator_config_qps": 4.0})
>>> result.summary["ttft_s"]["p99"]            # summary.json as a dict
>>> result.request_metrics                      # request_metrics.csv as a DataFrame
>>> result.write("out/")                        # the files llmsim's command line writes

A configuration is a dict of Vidur's flag names (the schema of ``config.json``, the page's
share links and ``llmsim --config``), or the path of such a JSON file. ``flags()`` lists every
flag with its default, help and choices; ``models()`` and ``devices()`` the catalogues. Bad
input raises ``ConfigError`` (naming the flag, with a hint) or ``TraceError`` (naming the file,
row and column).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Union

from . import _llmsim
from ._errors import ConfigError, LlmsimError, TraceError
from ._result import Result

__all__ = [
    "run",
    "flags",
    "models",
    "devices",
    "nodes",
    "Result",
    "LlmsimError",
    "ConfigError",
    "TraceError",
]

PathLike = Union[str, "os.PathLike[str]"]
Config = Union[Mapping[str, Any], PathLike]
FileContents = Union[PathLike, bytes, bytearray, memoryview]


def run(config: Config, files: Optional[Mapping[str, FileContents]] = None) -> Result:
    """Runs one simulation to the end and returns its ``Result``.

    ``config``: a dict of Vidur flag names to values (``config.json``'s schema; flags left out
    keep their defaults), or the path of a JSON file holding one. ``files`` maps file flags
    (traces, a Hugging Face ``config.json``, profile tables) to a path, which sets the flag and
    is read from disk, or to the file's bytes, which the flag's value in ``config`` then names.
    Relative paths are read from the working directory, as the command line reads them.

    The GIL is released while files are read and the simulation runs, so simulations in
    several threads run in parallel. Ctrl-C interrupts a long run (``KeyboardInterrupt``).

    Raises ``ConfigError`` for an invalid configuration, ``TraceError`` for a malformed trace,
    ``OSError`` when the configuration file cannot be read.
    """
    file_args = [(flag, _file_arg(flag, value)) for flag, value in (files or {}).items()]
    return Result(_llmsim.run(_config_json(config), file_args))


def flags() -> List[Dict[str, Any]]:
    """Every flag: ``name``, ``kind``, ``default`` (``None`` for none), ``help``, ``choices``
    (for choice flags), ``group``, ``role`` (``setting``, ``seed``, ``input_file`` with its
    ``file_kind``, ``output_dir``) and ``applies_when`` (the selector flag and values that make
    it apply, or ``None``)."""
    return json.loads(_llmsim.flags_json())


def models() -> List[Dict[str, Any]]:
    """The model catalogue: Hugging Face id (``name``), ``aliases`` and shape."""
    return json.loads(_llmsim.models_json())


def devices() -> List[Dict[str, Any]]:
    """The device catalogue: id (``name``, as ``replica_config_device`` takes it) and
    datasheet figures (TFLOP/s, memory in GiB, bandwidth in GB/s)."""
    return json.loads(_llmsim.devices_json())


def nodes() -> List[Dict[str, Any]]:
    """The node catalogue (``replica_config_network_device``): GPUs per node and interconnect."""
    return json.loads(_llmsim.nodes_json())


def _config_json(config: Config) -> str:
    if isinstance(config, (str, os.PathLike)):
        with open(config, encoding="utf-8") as f:
            return f.read()
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of flag names or the path of a JSON file, not {type(config).__name__}")
    return json.dumps(dict(config), default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item"):  # numpy scalars, as a sweep over np.linspace hands them
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a flag value (use bool, int, float, str or a list)")


def _file_arg(flag: str, value: FileContents) -> Union[str, bytes]:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"files[{flag!r}] must be a path or bytes, not {type(value).__name__}")
