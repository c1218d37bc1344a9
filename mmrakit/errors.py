"""One exception type for problems the user can fix, so the CLI can print them without a traceback."""

from __future__ import annotations


class MmrakitError(Exception):
    """A user-facing error: says what is wrong (naming the file/line/field) and what to do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(MmrakitError):
    """mmrakit.toml (or a pipeline file) is invalid."""


class WorkspaceError(MmrakitError):
    """The workspace is missing, not initialised, or inconsistent."""


class InputError(MmrakitError):
    """An input file or source cannot be used."""


class OfflineError(MmrakitError):
    """Something needed the network (a hub download, a dump download) and none is reachable."""
