"""Errors a user can act on: each names the file (and line, key or JSON path) that is wrong.

One hierarchy: the CLI catches ReproError, prints its message on one line and exits 2 (`--debug`
shows the traceback instead).
"""


class ReproError(Exception):
    """Base class; the CLI prints the message and exits 2 (unusable input)."""


class ConfigError(ReproError):
    pass


class DataError(ReproError):
    def __init__(self, path, message, line=None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


class LockedError(ReproError):
    pass


class VerifyInputError(ReproError):
    """A file needed for verification (expected table, results, schema) is missing or invalid."""


class CorruptArtifact(ReproError):
    """A finished stage's output no longer has the checksum its manifest recorded."""

    def __init__(self, stage_id: str, path, reason: str):
        super().__init__(f"{path}: {reason} (output of {stage_id})")
        self.stage_id, self.path, self.reason = stage_id, path, reason


class ScoringError(ReproError, ValueError):
    """Input that the XTREME scorer cannot score.

    ``path`` (and ``line``, 1-based, where it applies) locate the offending input; ``str(error)`` starts
    with them, so a one-line message always names the file. The metric functions raise it without a path;
    the folder scorer re-raises it with one through :meth:`in_file`. (A ValueError too, for callers of
    the scorer as a library.)
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def in_file(self, path: str, line: int | None = None) -> "ScoringError":
        """A copy of this error located in ``path`` (an already located error is returned unchanged)."""
        if self.path is not None:
            return self
        return ScoringError(self.message, path, line if line is not None else self.line)
