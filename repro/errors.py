"""Errors a user can act on: each names the file (and line or key) that is wrong."""


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
    """A file verification needs is missing or invalid (exit 2)."""
