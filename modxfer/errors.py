"""User-facing errors: each names the problem and the fix, and the CLI prints it without a traceback."""


class ModxferError(Exception):
    """An error caused by input the user can fix (task, language, data file, config, adapter)."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem}\n  fix: {fix}")

    def __str__(self) -> str:  # KeyError subclasses would otherwise print the message quoted and escaped
        return str(self.args[0])


class UnknownTaskError(ModxferError, KeyError):
    pass


class UnknownLanguageError(ModxferError, KeyError):
    pass


class DataError(ModxferError):
    """Missing or malformed data files."""


class ConfigError(ModxferError, ValueError):
    pass


class AdapterMismatchError(ModxferError):
    """An adapter or head that does not fit this backbone or task."""
