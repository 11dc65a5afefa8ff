"""The exceptions llmsim raises for bad input: each names what to fix."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple


class LlmsimError(Exception):
    """Base class of llmsim's own exceptions."""


class ConfigError(LlmsimError, ValueError):
    """An invalid configuration.

    ``flag`` is the Vidur flag the (first) error is about (``None`` for an error about the
    whole configuration), ``message`` what is wrong with the numbers involved, ``hint`` how to
    fix it when there is an obvious way. A configuration with several errors raises one
    ``ConfigError`` listing them all in ``errors`` (each a ``ConfigError`` of its own).
    """

    flag: Optional[str]
    message: str
    hint: Optional[str]
    errors: List["ConfigError"]

    def __init__(
        self,
        message: str,
        flag: Optional[str] = None,
        hint: Optional[str] = None,
        errors: Optional[Sequence["ConfigError"]] = None,
    ) -> None:
        self.flag = flag or None
        self.message = message
        self.hint = hint
        self.errors = list(errors) if errors else [self]
        super().__init__(message)

    def __str__(self) -> str:
        return "\n".join(_describe(e) for e in self.errors)

    def __reduce__(self):  # keeps the fields through pickling (process pools, Ray)
        others = self.errors if self.errors != [self] else None
        return (type(self), (self.message, self.flag, self.hint, others))

    @classmethod
    def _from_engine(cls, items: Sequence[Tuple[str, str, Optional[str]]]) -> "ConfigError":
        errors = [cls(message, flag, hint) for flag, message, hint in items]
        first = errors[0]
        return cls(first.message, first.flag, first.hint, errors)


def _describe(e: ConfigError) -> str:
    text = f"--{e.flag}: {e.message}" if e.flag else e.message
    return f"{text} (hint: {e.hint})" if e.hint else text


class TraceError(LlmsimError, ValueError):
    """A malformed trace file.

    ``file`` is the path (as the configuration names it), ``row`` the 1-based line of the
    file the error is about (``None`` for the whole file), ``column`` the CSV column or JSON
    field (``None`` when not about one), ``message`` what is wrong.
    """

    file: str
    row: Optional[int]
    column: Optional[str]
    message: str

    def __init__(self, file: str, row: Optional[int], column: Optional[str], message: str) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"

    def __reduce__(self):  # keeps the fields through pickling (process pools, Ray)
        return (type(self), (self.file, self.row, self.column, self.message))

    @classmethod
    def _from_engine(cls, file: str, row: Optional[int], column: Optional[str], message: str) -> "TraceError":
        return cls(file, row, column, message)
